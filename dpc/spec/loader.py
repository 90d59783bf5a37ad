"""pipeline.yaml files → frozen models, or every finding at once.

``load_pipeline`` and ``load_org`` raise ``SpecError``; ``validate_paths`` never raises
for bad input and returns the findings as data (``dpc validate --json``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from dpc.spec.checks import (
    parse_duration,
    parse_signed_duration,
    schedule_expression,
    semantic_findings,
)
from dpc.spec.errors import Finding, SpecError
from dpc.spec.model import (
    Channel,
    Cluster,
    ClusterNetwork,
    InstanceGroup,
    Notifications,
    NotificationTarget,
    NotificationType,
    Pipeline,
    Schedule,
    Step,
    StepType,
    Trigger,
)
from dpc.spec.org import Org, org_findings
from dpc.spec.schema import schema_findings
from dpc.spec.source import Document, read_document
from dpc.triggers.cron import parse_cron
from dpc.triggers.deadlines import parse_expect
from dpc.triggers.model import Condition, Correlate, Item, Operator, ParentRef, Rerun, Status
from dpc.triggers.periods import DEFAULT_KEEP, PeriodSpec, Unit

PIPELINE_FILE = "pipeline.yaml"
_SKIPPED_FOLDERS = frozenset({"node_modules", "cdk.out", "__pycache__", "site-packages"})


@dataclass(frozen=True)
class CheckedFile:
    """One pipeline.yaml: its model when valid, and its findings (empty when valid)."""

    source: Path
    pipeline: Pipeline | None
    findings: tuple[Finding, ...]
    document: Document | None


@dataclass(frozen=True)
class Validation:
    """Everything ``dpc validate`` reports: the files checked, valid models, all findings."""

    files: tuple[CheckedFile, ...]
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def pipelines(self) -> tuple[Pipeline, ...]:
        return tuple(file.pipeline for file in self.files if file.pipeline is not None)


def check_file(source: Path) -> CheckedFile:
    """Every finding of one pipeline.yaml (schema and beyond), and its model if there are none."""
    document, findings = read_document(source)
    if document is None:
        return CheckedFile(source, None, tuple(findings), None)
    findings.extend(schema_findings(document))
    findings.extend(semantic_findings(document, source.parent))
    if findings:
        return CheckedFile(source, None, tuple(sorted(set(findings))), document)
    return CheckedFile(source, _build(document.data, source), (), document)


def load_pipeline(path: Path) -> Pipeline:
    """The pipeline of a project folder or a pipeline.yaml; raises SpecError with all findings."""
    source = path / PIPELINE_FILE if path.is_dir() else path
    if not source.exists():
        raise SpecError([Finding(source, 0, 0, "", "not found; a project needs a pipeline.yaml")])
    checked = check_file(source)
    if checked.pipeline is None:
        raise SpecError(checked.findings)
    return checked.pipeline


def find_pipeline_files(path: Path) -> list[Path]:
    """``path`` itself when it is a file, else every pipeline.yaml below it (hidden folders,
    virtual environments and build output skipped), in a stable order."""
    if not path.is_dir():
        return [path]
    found: list[Path] = []
    for folder, subfolders, files in os.walk(path):
        subfolders[:] = sorted(
            name for name in subfolders if not name.startswith(".") and name not in _SKIPPED_FOLDERS
        )
        if PIPELINE_FILE in files:
            found.append(Path(folder) / PIPELINE_FILE)
    return found


def validate_paths(paths: Sequence[Path], *, org: bool | None = None) -> Validation:
    """Check files, project folders or org folders. Pipelines are also checked against each
    other (unknown parents, cycles, duplicates) when ``org`` is true, or, by default, when
    more than one pipeline was found: one project alone may well depend on other teams'."""
    checked: list[CheckedFile] = []
    findings: list[Finding] = []
    seen: set[Path] = set()
    for path in paths:
        if not path.exists():
            findings.append(Finding(path, 0, 0, "", "no such file or folder"))
            continue
        sources = find_pipeline_files(path)
        if not sources:
            findings.append(Finding(path, 0, 0, "", f"no {PIPELINE_FILE} found in this folder"))
        for source in sources:
            if source.resolve() not in seen:
                seen.add(source.resolve())
                checked.append(check_file(source))
    for file in checked:
        findings.extend(file.findings)
    if org or (org is None and len(checked) > 1):
        findings.extend(
            org_findings(
                [
                    (file.pipeline, file.document)
                    for file in checked
                    if file.pipeline and file.document
                ]
            )
        )
    return Validation(tuple(checked), tuple(findings))


def load_org(paths: Sequence[Path]) -> Org:
    """Every pipeline below ``paths``, checked one by one and against each other."""
    validation = validate_paths(paths, org=True)
    if not validation.ok:
        raise SpecError(validation.findings)
    return Org.of(validation.pipelines)


def _build(data: dict[str, Any], source: Path) -> Pipeline:
    """The model of a document that passed every check: no validation happens here."""
    account: str | None = data.get("account")
    trigger = data.get("trigger", {})
    cluster = data.get("cluster", {})
    period = PeriodSpec(
        unit=cast(Unit, data.get("period", {}).get("unit", "day")),
        offset=parse_signed_duration(data.get("period", {}).get("offset", "0h")) or timedelta(0),
    )
    notifications = data.get("notifications")
    default_cluster = Cluster()
    return Pipeline(
        name=data["name"],
        description=data.get("description", ""),
        account=account,
        trigger=Trigger(
            schedule=Schedule(schedule_expression(trigger["schedule"]))
            if "schedule" in trigger
            else None,
            executions=_condition(trigger["executions"], account or "", period)
            if "executions" in trigger
            else None,
        ),
        cluster=Cluster(
            release=cluster.get("release", default_cluster.release),
            master=_group(cluster.get("master"), default_cluster.master),
            core=_group(cluster.get("core"), default_cluster.core),
            network=cast(ClusterNetwork, cluster.get("network", default_cluster.network)),
        ),
        steps=tuple(
            Step(
                name=step["name"],
                type=cast(StepType, step["type"]),
                script=step["script"],
                args=tuple(step.get("args", ())),
            )
            for step in data["steps"]
        ),
        notifications=Notifications(
            type=cast(NotificationType, notifications.get("type", "ON_FAILURE")),
            targets=tuple(
                NotificationTarget(cast(Channel, target["channel"]), tuple(target["addresses"]))
                for target in notifications["targets"]
            ),
        )
        if notifications is not None
        else None,
        timeout=_duration(data.get("timeout")),
        period=period,
        dependents=frozenset(data["dependents"]["accounts"]) if "dependents" in data else None,
        expect=parse_expect(data["expect"]["by"]) if "expect" in data else None,
        tags=MappingProxyType(dict(data.get("tags", {}))),
        project_dir=source.parent,
        source=source,
    )


def _group(data: dict[str, Any] | None, default: InstanceGroup) -> InstanceGroup:
    if data is None:
        return default
    return InstanceGroup(instance_type=data["instanceType"], count=data.get("count", default.count))


def _duration(text: str | None) -> timedelta | None:
    return None if text is None else parse_duration(text)


def _condition(data: dict[str, Any], account: str, period: PeriodSpec) -> Condition:
    """``account`` is the pipeline's ("" when it has none yet: Pipeline.with_account fills it)."""
    reset = data.get("reset")
    return Condition(
        all_of=_items(data.get("allOf", ()), account),
        any_of=_items(data.get("anyOf", ()), account),
        operator=cast(Operator, data.get("operator", "AND")),
        within=_duration(data.get("within")),
        reset_cron=parse_cron(reset["cron"]).expression if reset else None,
        correlate=cast(Correlate, data.get("correlate", "latest")),
        rerun=cast(Rerun, data.get("rerun", "retrigger")),
        keep=_duration(data.get("keep")) or DEFAULT_KEEP,
        period=period,
    )


def _items(items: Iterable[dict[str, Any]], account: str) -> tuple[Item, ...]:
    return tuple(
        Item(
            parent=ParentRef(item["name"], item.get("account", account)),
            statuses=frozenset(
                cast(Status, "SUCCEEDED" if status == "SUCCESS" else status)
                for status in item.get("status", ["SUCCESS"])
            ),
            every=bool(item.get("every", False)),
        )
        for item in items
    )
