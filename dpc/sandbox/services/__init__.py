"""The AWS services moto emulates only in part, one module each, completed from what was
deployed: moto keeps buses, rules, targets, functions and state machines but delivers no
event to a Lambda or Step Functions target, runs no handler and no state machine, and
never checks a bus policy.

Each service registers interceptions at the sandbox's endpoint (``dpc.sandbox.endpoint``),
keyed on the API operation, so every caller meets them; ``dpc.sandbox.runtime`` builds the
services and wires each to the few others it calls.
"""
