"""Schedule rules, which moto keeps but never fires: every tick of every enabled schedule
rule on an account's default bus is queued on the virtual clock, and a tick delivers the
``Scheduled Event`` to the rule's targets as EventBridge would (``buses``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dpc.sandbox.bus import BusEvent
from dpc.sandbox.clock import VirtualClock
from dpc.sandbox.server import SandboxServer
from dpc.sandbox.services.buses import Buses, rules


@dataclass
class Schedules:
    server: SandboxServer
    clock: VirtualClock
    buses: Buses

    def arm(self, until: datetime) -> None:
        """Queue every tick of every deployed schedule rule in (now, until]."""
        from dpc.triggers.cron import parse_schedule

        start = self.clock.now
        for account in self.server.accounts.values():
            events_api = self.server.client(account, "events")
            for rule in rules(events_api, "default"):
                expression = rule.get("ScheduleExpression")
                if not expression or rule.get("State") != "ENABLED":
                    continue
                schedule = parse_schedule(expression)
                if hasattr(schedule, "ticks_between"):
                    ticks = list(schedule.ticks_between(start, until))
                else:
                    count = int((until - start) / schedule.interval)
                    ticks = [start + schedule.interval * (i + 1) for i in range(count)]
                for tick in ticks:
                    self.clock.at(tick, self._fire(account, rule, tick))

    def _fire(self, account: str, rule: dict[str, Any], tick: datetime) -> Callable[[], None]:
        def fire() -> None:
            envelope = self.buses.envelope(
                source="aws.events",
                detail_type="Scheduled Event",
                detail={},
                account=account,
                region=self.server.region,
                resources=[rule["Arn"]],
                time=tick,
            )
            event = BusEvent(account, self.server.region, "default", envelope)
            events_api = self.server.client(account, "events")
            targets = events_api.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            for target in targets:
                self.buses.deliver_to(event, rule, target)

        return fire
