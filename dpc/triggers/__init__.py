"""Trigger-condition semantics (DESIGN §5): pure code, no I/O, no boto3."""
