"""The embedded multi-account AWS behind `dpc demo`, `dpc sandbox run` and the e2e tests.

- ``server``: moto in server mode, one IAM user (access key) per account;
- ``services``: one module per AWS service moto emulates only in part: event delivery by
  the deployed rules (``patterns``, ``policies``), handlers in-process, SNS and log
  subscriptions, schedules, executions; ``runtime`` composes them; ``statemachine`` runs
  deployed ASL;
- ``clock``: the virtual clock; ``timeline``: what happened, as text or JSON lines;
- ``templates``, ``gateway``, ``custom_resources``: what moto keeps only as a template
  (REST APIs, custom resources, subscriptions, bus policies), served from GetTemplate;
- ``deployer``, ``org``: the deploy commands with dpc's own synth and deploy code;
  ``template_fixups`` lists every change made to a template before moto sees it;
- ``story``: the demo's two days and `sandbox run`'s N days.
"""
