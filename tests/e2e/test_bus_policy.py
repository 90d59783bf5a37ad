"""The central bus admits only the accounts the platform team listed.

Account D (444444444444) is not listed. It sets itself up like a user account (export
rule to the central bus) and runs a state machine named like listings, as an impostor
would; its status changes are refused by the central bus policy and change nothing. The
listed accounts' real runs, in the same sandbox, still trigger pipeline-x.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from dpc import constants
from dpc.sandbox import deployer
from dpc.sandbox.org import DeployedOrg, Timings, deploy_org, load_projects
from dpc.sandbox.sandbox import Sandbox
from dpc.sandbox.server import CASE_STUDY_ACCOUNTS
from dpc.sandbox.story import CASE_STUDY, DAY, UPSTREAM
from dpc.sandbox.timeline import Note, StatusChange, TriggerPublished

pytestmark = pytest.mark.slow

A, STRANGER = CASE_STUDY_ACCOUNTS["A"], "444444444444"


@pytest.fixture(scope="module")
def deployed() -> Iterator[tuple[Sandbox, DeployedOrg]]:
    accounts = {**CASE_STUDY_ACCOUNTS, "D": STRANGER}
    with Sandbox(accounts=accounts) as sandbox:
        org = deploy_org(sandbox, load_projects(CASE_STUDY), timings=Timings())
        # D runs `dpc setup-user-account --central-account 999999999999` although the
        # central account never listed it.
        deployer.setup_user(sandbox, STRANGER, org.central_account, org.api_urls, Timings())
        yield sandbox, org


def _impostor_run(sandbox: Sandbox) -> str:
    """A state machine in D named as listings' is, run once."""
    iam = sandbox.client(STRANGER, "iam")
    trust = {"Version": "2012-10-17", "Statement": []}
    role = iam.create_role(RoleName="impostor", AssumeRolePolicyDocument=json.dumps(trust))
    states = sandbox.client(STRANGER, "stepfunctions")
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    machine = states.create_state_machine(
        name=f"{constants.STATE_MACHINE_PREFIX}listings",
        definition=json.dumps(definition),
        roleArn=role["Role"]["Arn"],
    )["stateMachineArn"]
    return str(states.start_execution(stateMachineArn=machine, input="{}")["executionArn"])


def _run_log_accounts(sandbox: Sandbox, central: str) -> set[str]:
    """Accounts of every run the trigger manager logged (read from its own table)."""
    functions = sandbox.client(central, "lambda").list_functions()["Functions"]
    tables = {
        f["Environment"]["Variables"][constants.ENV_RUN_LOG_TABLE]
        for f in functions
        if constants.ENV_RUN_LOG_TABLE in f.get("Environment", {}).get("Variables", {})
    }
    dynamodb = sandbox.client(central, "dynamodb")
    items: list[dict[str, Any]] = []
    for table in tables:
        items.extend(dynamodb.scan(TableName=table)["Items"])
    text = json.dumps(items)
    return {account for account in (A, STRANGER) if account in text}


def test_status_changes_from_an_unlisted_account_are_refused_and_change_nothing(deployed):
    sandbox, org = deployed
    # When D's impostor run goes through its export rule to the central bus
    _impostor_run(sandbox)
    sandbox.advance(timedelta(hours=1))

    # Then it ran in D, but the central bus refused its events: no run logged, no trigger
    runs = [s for s in sandbox.timeline.of(StatusChange) if s.account == STRANGER]
    assert [r.status for r in runs] == ["RUNNING", "SUCCEEDED"]
    refused = [n for n in sandbox.timeline.of(Note) if n.level == "refused"]
    by_export_rule = [n for n in refused if constants.EXPORT_RULE_NAME in n.text]
    assert len(by_export_rule) == 2  # RUNNING and SUCCEEDED
    # and D's status sweeper, re-sending them directly, is refused as well
    assert len(refused) > len(by_export_rule)
    assert all(STRANGER in n.text and constants.CENTRAL_BUS_NAME in n.text for n in refused)
    assert STRANGER not in _run_log_accounts(sandbox, org.central_account)
    assert sandbox.timeline.of(TriggerPublished) == []


def test_a_direct_put_from_an_unlisted_account_is_denied(deployed):
    sandbox, org = deployed
    central_bus = (
        f"arn:aws:events:{sandbox.server.region}:{org.central_account}:event-bus/"
        f"{constants.CENTRAL_BUS_NAME}"
    )
    entry = {
        "Source": "dpc.impostor",
        "DetailType": constants.SFN_STATUS_DETAIL_TYPE,
        "Detail": json.dumps({"status": "SUCCEEDED"}),
        "EventBusName": central_bus,
    }
    denied = sandbox.client(STRANGER, "events").put_events(Entries=[entry])
    admitted = sandbox.client(A, "events").put_events(Entries=[entry])

    assert denied["FailedEntryCount"] == 1
    assert denied["Entries"][0]["ErrorCode"] == "AccessDeniedException"
    assert admitted["FailedEntryCount"] == 0


def test_a_forged_trigger_from_a_listed_account_starts_nothing(deployed):
    sandbox, org = deployed
    forged = {
        "Source": constants.TRIGGER_EVENT_SOURCE,
        "DetailType": constants.TRIGGER_DETAIL_TYPE,
        "Detail": json.dumps(
            {"pipeline": "pipeline-x", "account": CASE_STUDY_ACCOUNTS["C"], "causes": []}
        ),
        "EventBusName": (
            f"arn:aws:events:{sandbox.server.region}:{org.central_account}:event-bus/"
            f"{constants.CENTRAL_BUS_NAME}"
        ),
    }
    before = len(sandbox.timeline.of(StatusChange))
    sandbox.client(A, "events").put_events(Entries=[forged])
    sandbox.advance(timedelta(minutes=30))

    started = [s for s in sandbox.timeline.of(StatusChange)[before:] if s.pipeline == "pipeline-x"]
    assert started == []


def test_the_listed_accounts_still_trigger_pipeline_x(deployed):
    sandbox, org = deployed
    day_start = sandbox.now.replace(hour=0, minute=0)
    sandbox.land(CASE_STUDY / UPSTREAM)  # the day's input, which the parents' steps read
    sandbox.run_until(day_start + DAY)

    (trigger,) = sandbox.timeline.of(TriggerPublished)
    assert trigger.pipeline == "pipeline-x"
    assert {c["account"] for c in trigger.causes} == {A, CASE_STUDY_ACCOUNTS["B"]}
    assert A in _run_log_accounts(sandbox, org.central_account)
    assert STRANGER not in _run_log_accounts(sandbox, org.central_account)
