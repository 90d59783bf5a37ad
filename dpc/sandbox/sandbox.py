"""The sandbox as one object: embedded AWS + what moto does not do + a virtual clock.

with Sandbox() as sandbox:
    ...deploy with dpc's deploy code, credentials from sandbox.server...
    sandbox.run_until(datetime(2026, 11, 28, tzinfo=UTC))
    sandbox.timeline  # what happened
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dpc.constants import ENV_SLACK_BASE_URL as SLACK_BASE_URL_VARIABLE
from dpc.sandbox.clock import VirtualClock
from dpc.sandbox.custom_resources import CustomResources
from dpc.sandbox.gateway import Gateway, rest_apis
from dpc.sandbox.runtime import Runtime
from dpc.sandbox.server import CASE_STUDY_ACCOUNTS, DEFAULT_REGION, SandboxServer
from dpc.sandbox.template_fixups import DROPPED_METADATA
from dpc.sandbox.templates import DeployedStack
from dpc.sandbox.timeline import Alert, Timeline, iso

SLACK_TOKEN = "xoxb-dpc-sandbox"
"""The bot token the sandbox stores in the Slack secret, and its fake Slack accepts."""
DEFAULT_START = datetime(2026, 11, 27, tzinfo=UTC)
"""Midnight UTC of the story's day 1: fixed, so two runs of the demo tell the same story."""


class Sandbox:
    def __init__(
        self,
        *,
        accounts: Mapping[str, str] = CASE_STUDY_ACCOUNTS,
        start: datetime = DEFAULT_START,
        region: str = DEFAULT_REGION,
        work_dir: Path | None = None,
        organization_id: str | None = None,
    ) -> None:
        self.server = SandboxServer(accounts, region)
        self.clock = VirtualClock(start)
        self.timeline = Timeline()
        self._own_work_dir = work_dir is None
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="dpc-sandbox-"))
        self.runtime = Runtime(
            self.server, self.clock, self.timeline, self.work_dir, organization_id=organization_id
        )
        self.gateway = Gateway(
            account_of_key=self._account_of_key,
            invoke=self.runtime.lambdas.invoke,
            organization_of=lambda account: (
                organization_id if account in accounts.values() else None
            ),
            slack=self._slack_post,
        )
        self.custom_resources = CustomResources(
            self.server, self.runtime.lambdas.invoke, self.gateway
        )
        self._slack_messages = 0

    def __enter__(self) -> Sandbox:
        self.server.start()
        self.gateway.start()
        self.runtime.lambdas.extra_environment[SLACK_BASE_URL_VARIABLE] = self.gateway.slack_url
        self.runtime.install(self.server.api)
        cloudformation = self.server.cloudformation
        cloudformation.served_api_url = self.gateway.url_of
        cloudformation.deployed.append(self._deployed)
        cloudformation.deleting.append(self.custom_resources.before_delete)
        cloudformation.deleted.append(lambda account, _: self.runtime.stacks.forget(account))
        return self

    def __exit__(self, *exc: object) -> None:
        self.runtime.uninstall()
        self.gateway.stop()
        self.server.stop()
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    @property
    def now(self) -> datetime:
        return self.clock.now

    @property
    def landing_dir(self) -> Path:
        """Where the systems upstream of the pipelines drop raw input (steps see it as
        DPC_LANDING_DIR; on AWS, a landing bucket)."""
        return self.work_dir / "landing"

    def land(self, script: Path, *sources: str, day: datetime | None = None) -> None:
        """Run an org's upstream script now: it drops the input of the clock's day (or of
        ``day``: a corrected delivery; or of ``sources`` only) in the landing area, as the
        exporters before the pipelines would."""
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "DPC_LANDING_DIR": str(self.landing_dir),
            "DPC_RUN_TIME": iso(day or self.clock.now),
        }
        landed = subprocess.run(
            ["bash", str(script), *sources],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        if landed.returncode != 0:
            self.runtime.note(f"upstream {script.name} failed: {landed.stderr.strip()}", "error")

    def client(self, account: str, service: str) -> Any:
        return self.server.client(account, service)

    def run_until(self, moment: datetime) -> None:
        """Advance the virtual clock to ``moment``: schedules fire, events are delivered,
        handlers and state machines run, in time order."""
        self.runtime.schedules.arm(moment)
        self.clock.run_until(moment)

    def advance(self, duration: timedelta) -> None:
        self.run_until(self.clock.now + duration)

    def settle(self) -> None:
        """Deliver what a direct API call just caused, without moving the clock."""
        self.clock.settle()

    def _deployed(self, account: str, stack_name: str) -> None:
        """After any caller's CreateStack, UpdateStack or ExecuteChangeSet: what moto
        does not do. Custom resources get their requests (a FAILED answer fails the
        deploy), REST APIs are served from the template, and a Secrets Manager secret moto
        did not create holds the Slack token the fake Slack accepts."""
        self.runtime.stacks.forget(account)
        self.custom_resources.after_deploy(account, stack_name)
        stack = DeployedStack(
            self.client(account, "cloudformation"), stack_name, account, self.server.region
        )
        dropped = stack.template.get("Metadata", {}).get(DROPPED_METADATA, {})
        for api in rest_apis(stack, {**stack.resources, **dropped}):
            self.gateway.register(api)
        for secret in stack.of_type("AWS::SecretsManager::Secret"):
            name = str(secret.properties.get("Name", secret.logical_id))
            secrets = self.client(account, "secretsmanager")
            try:
                secrets.create_secret(Name=name, SecretString=SLACK_TOKEN)
            except secrets.exceptions.ResourceExistsException:
                secrets.put_secret_value(SecretId=name, SecretString=SLACK_TOKEN)

    def _account_of_key(self, access_key_id: str) -> str | None:
        for account in self.server.accounts.values():
            if self.server.credentials(account).access_key_id == access_key_id:
                return account
        return None

    def _slack_post(self, body: dict[str, Any], token: str) -> dict[str, Any]:
        """Slack's ``chat.postMessage``: the message goes to the outbox."""
        if token != SLACK_TOKEN:
            return {"ok": False, "error": "invalid_auth"}
        self._slack_messages += 1
        ts = f"{int(self.clock.now.timestamp())}.{self._slack_messages:06d}"
        channel = str(body.get("channel", ""))
        thread = str(body.get("thread_ts") or ts)
        self.timeline.add(
            Alert(self.clock.now, "SLACK", channel, str(body.get("text", "")), thread)
        )
        return {"ok": True, "channel": channel, "ts": ts}

    def inject_fault(self, account: str, pipeline: str, reason: str) -> None:
        """What-if fault injection (``dpc sandbox run --fail``): the next EMR step of
        ``pipeline`` is reported failed with ``reason`` instead of running. The demo never
        uses it: its day-2 failure is the real step meeting missing input."""
        self.runtime.states.faults[(self.server.account_id(account), pipeline)] = reason
