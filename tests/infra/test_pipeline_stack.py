"""The pipeline stack of the case study: state machine, triggers, registration, alerts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from infra_helpers import (
    ACCOUNT,
    as_list,
    only,
    policy_statements,
    render,
    resources,
    rule_named,
    state_machine_definition,
)

from dpc.constants import PIPELINE_BUS_NAME
from dpc.lambdas.publisher import EventBridgePublisher
from dpc.sandbox.patterns import matches
from dpc.triggers.engine import TriggerEngine
from dpc.triggers.events import RunEvent
from dpc.triggers.memory import CollectingPublisher, MemoryStore

pytestmark = pytest.mark.slow

TERMINATE = "elasticmapreduce:terminateCluster"


def test_state_machine_runs_cluster_then_steps_in_order_then_terminates(
    pipeline_templates: dict[str, Any],
) -> None:
    # Given pipeline-x with steps metric-x then publish (both shell)
    definition = state_machine_definition(pipeline_templates["pipeline-x"])
    states = definition["States"]

    # Then the happy path (a run with its period) is prepare → create → metric-x → publish
    # → terminate → Done
    path, name = [], definition["StartAt"]
    while name in states and states[name]["Type"] != "Succeed":
        path.append(name)
        state = states[name]
        name = state["Choices"][0]["Next"] if state["Type"] == "Choice" else state["Next"]
    assert path == [
        "HasPeriod",
        "PrepareSteps",
        "CreateCluster",
        "Step metric-x",
        "Step publish",
        "TerminateCluster",
    ]
    # and a run started by hand without the dpc input still runs, with an empty period
    assert states["HasPeriod"]["Choices"][0]["Variable"] == "$.dpc.period"
    assert states[states["HasPeriod"]["Default"]]["Next"] == "PrepareSteps"
    assert states["CreateCluster"]["Resource"].endswith("elasticmapreduce:createCluster.sync")
    assert states["TerminateCluster"]["Resource"].endswith(f"{TERMINATE}.sync")


def test_every_step_failure_terminates_the_cluster_then_fails(
    pipeline_templates: dict[str, Any],
) -> None:
    states = state_machine_definition(pipeline_templates["pipeline-x"])["States"]
    steps = {n: s for n, s in states.items() if s.get("Resource", "").endswith("addStep.sync")}
    assert len(steps) == 2
    for name, state in steps.items():
        catchers = state["Catch"]
        assert [c["ErrorEquals"] for c in catchers] == [["States.ALL"]], name
        cleanup = states[catchers[0]["Next"]]
        assert cleanup["Resource"].endswith(f"{TERMINATE}.sync"), name
        assert cleanup["Parameters"]["ClusterId.$"] == "$.cluster.ClusterId"
        assert states[cleanup["Next"]]["Type"] == "Fail"
        # even a failing termination ends in Fail, never in Succeed
        assert states[cleanup["Catch"][0]["Next"]]["Type"] == "Fail"
        # the step's caught error and cause (which names the step) are the run's own, so
        # the status event the central run log keeps says which step failed and why
        assert catchers[0]["ResultPath"] == "$.error"
        failed = states[cleanup["Next"]]
        assert (failed["ErrorPath"], failed["CausePath"]) == ("$.error.Error", "$.error.Cause")


def step_args(states: dict[str, Any], step: str) -> str:
    """The States.Array that PrepareSteps builds for a step's EMR arguments."""
    jar_step = states[f"Step {step}"]["Parameters"]["Step"]["HadoopJarStep"]
    assert jar_step["Jar"] == "command-runner.jar"
    key = jar_step["Args.$"].removeprefix("$.dpcStepArgs.")
    return str(states["PrepareSteps"]["Parameters"][f"{key}.$"])


def test_shell_steps_run_their_script_from_the_assets_bucket_with_the_period(
    pipeline_templates: dict[str, Any],
) -> None:
    states = state_machine_definition(pipeline_templates["pipeline-x"])["States"]
    args = step_args(states, "metric-x")
    # bash -c <fetch and run with DPC_PERIOD=$0> <period> <script>
    assert args.startswith("States.Array('bash', '-c', 'set -e; script=")
    assert 'DPC_PERIOD="$0" exec bash ./dpc-step.sh' in args
    assert f", $.dpc.period, 's3://dpc-assets-{ACCOUNT}-eu-west-1/assets/" in args
    assert args.endswith(".sh')")


def test_timeout_and_name_of_the_state_machine(pipeline_templates: dict[str, Any]) -> None:
    template = pipeline_templates["pipeline-x"]
    definition = state_machine_definition(template)
    assert definition["TimeoutSeconds"] == 6 * 3600
    machine = only(template, "AWS::StepFunctions::StateMachine")["Properties"]
    assert machine["StateMachineName"] == "dpc-pipeline-x"
    assert machine["LoggingConfiguration"]["Level"] == "ALL"


def test_spark_steps_go_through_spark_submit(tmp_path: Any) -> None:
    from dpc.infra.app import synth_pipelines
    from dpc.spec.model import Pipeline, Schedule, Step, Trigger

    # Given a pipeline with one Spark step taking arguments
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "aggregate.py").write_text("print('x')\n")
    pipeline = Pipeline(
        name="sparky",
        account=ACCOUNT,
        steps=(Step("aggregate", "spark", "jobs/aggregate.py", ("--day", "yesterday")),),
        trigger=Trigger(schedule=Schedule("rate(1 hour)")),
        project_dir=tmp_path,
    )
    # When it is synthesized
    synthesis = synth_pipelines([pipeline], tmp_path / "out")
    template = json.loads(synthesis.stacks[0].template_file.read_text())
    # Then the step runs spark-submit on the script with the arguments, in order
    args = step_args(state_machine_definition(template)["States"], "aggregate")
    assert args.startswith("States.Array('spark-submit', '--deploy-mode', 'cluster', ")
    # the driver and the executors see the run's period as DPC_PERIOD
    assert (
        "'--conf', States.Format('spark.yarn.appMasterEnv.DPC_PERIOD={}', $.dpc.period), "
        "'--conf', States.Format('spark.executorEnv.DPC_PERIOD={}', $.dpc.period), "
        "'s3://dpc-assets-"
    ) in args
    assert args.endswith(".py', '--day', 'yesterday')")


def starter_of(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return next(
        (logical_id, f["Properties"])
        for logical_id, f in resources(template, "AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == "dpc.lambdas.starter.handler"
    )


def test_schedule_rule_fires_at_three_through_the_starter_with_the_tick_time(
    pipeline_templates: dict[str, Any],
) -> None:
    template = pipeline_templates["listings"]
    rule = rule_named(template, "dpc-listings-schedule")
    assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert "EventBusName" not in rule  # the default bus
    (target,) = rule["Targets"]
    starter_id, starter = starter_of(template)
    assert target["Arn"] == {"Fn::GetAtt": [starter_id, "Arn"]}
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {"time": "$.time"}
    assert json.loads(render(transformer["InputTemplate"]).replace("<time>", '"T"')) == {
        "kind": "schedule",
        "time": "T",
    }
    # retried for a day, then kept in the pipeline's dead-letter queue
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    assert "DeadLetterConfig" in target
    env = starter["Environment"]["Variables"]
    assert (env["DPC_PERIOD_UNIT"], env["DPC_PERIOD_OFFSET_SECONDS"]) == ("day", "0")
    # listings has no execution trigger: no trigger rule, only its late alerts' rule
    names = [
        r["Properties"]["Name"]
        for r in resources(pipeline_templates["listings"], "AWS::Events::Rule").values()
    ]
    assert sorted(names) == ["dpc-listings-late", "dpc-listings-schedule"]


def _published_trigger_event(pipelines: dict[str, Any]) -> dict[str, Any]:
    """The event the trigger manager puts on the central bus after both parents succeeded,
    computed by the trigger engine and the EventBridge publisher themselves."""
    child = pipelines["pipeline-x"]
    condition = child.trigger.executions
    collected = CollectingPublisher()
    engine = TriggerEngine(MemoryStore(), collected)
    for parent, minute in (("listings", 10), ("searches", 20)):
        ref = next(p.parent for p in condition.items if p.parent.name == parent)
        when = datetime(2026, 11, 27, 5, minute, tzinfo=UTC)
        engine.process(
            RunEvent(when, ref, "SUCCEEDED", f"{parent}-2026-11-27"),
            [(child.ref, condition)],
            now=when,
        )
    (trigger,) = collected.published
    entry = EventBridgePublisher(bus_name="dpc-central-bus", client=None).entry(trigger)
    return {
        "version": "0",
        "id": "d2a3f1c4-0000-4000-8000-000000000001",
        "source": entry["Source"],
        "detail-type": entry["DetailType"],
        "account": "999999999999",
        "region": "eu-west-1",
        "time": "2026-11-27T05:20:01Z",
        "resources": [],
        "detail": json.loads(entry["Detail"]),
    }


def test_trigger_rule_matches_the_event_the_trigger_manager_publishes(
    pipeline_templates: dict[str, Any], case_study_pipelines: dict[str, Any]
) -> None:
    # Given the Pipeline Trigger event the engine publishes for pipeline-x
    event = _published_trigger_event(case_study_pipelines)
    rule = rule_named(pipeline_templates["pipeline-x"], "dpc-pipeline-x-trigger")
    pattern = render(rule["EventPattern"])
    # (the central account comes from the user-account stack's export)
    assert pattern["account"] == ["<import:dpc-central-account>"]
    pattern = {**pattern, "account": ["999999999999"]}
    # Then pipeline-x's rule, on the pipeline bus, matches it and passes the detail on
    assert rule["EventBusName"] == PIPELINE_BUS_NAME
    assert matches(pattern, event)
    (target,) = rule["Targets"]
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {"detail": "$.detail"}
    assert render(transformer["InputTemplate"]) == '{"kind":"trigger","detail":<detail>}'
    assert target["Arn"] == {"Fn::GetAtt": [starter_of(pipeline_templates["pipeline-x"])[0], "Arn"]}
    # and the same event for another pipeline or another account does not match
    other = {**event, "detail": {**event["detail"], "pipeline": "listings"}}
    assert not matches(pattern, other)
    elsewhere = {**event, "detail": {**event["detail"], "account": "111111111111"}}
    assert not matches(pattern, elsewhere)
    # and the same trigger put on a bus by any account but the central one does not either
    assert not matches(pattern, {**event, "account": "111111111111"})


def test_registration_carries_condition_and_state_machine(
    pipeline_templates: dict[str, Any],
) -> None:
    template = pipeline_templates["pipeline-x"]
    registration = only(template, "Custom::DpcPipelineRegistration")["Properties"]
    assert render(registration["ServiceToken"]) == "<import:dpc-registration-provider-arn>"
    assert registration["Pipeline"] == "pipeline-x"
    assert registration["Account"] == ACCOUNT
    condition = json.loads(render(registration["Condition"]))
    assert [(i["name"], i["account"], i["status"]) for i in condition["allOf"]] == [
        ("listings", "111111111111", ["SUCCEEDED"]),
        ("searches", "222222222222", ["SUCCEEDED"]),
    ]
    assert (condition["correlate"], condition["rerun"]) == ("period", "retrigger")
    # and the pipeline's period spec, which the central registry keeps (§5b)
    assert json.loads(registration["Period"]) == {"unit": "day", "offsetSeconds": 0}
    # and no dependents list: every account of the organization may depend on it
    assert registration["Dependents"] == ""


def test_registration_carries_the_dependents_list(
    tmp_path_factory: pytest.TempPathFactory, case_study_pipelines: dict[str, Any]
) -> None:
    from dataclasses import replace

    from dpc.infra.app import synth_pipelines

    # Given listings accepting dependents from pipeline-x's account only
    listings = replace(case_study_pipelines["listings"], dependents=frozenset({"333333333333"}))
    (stack,) = synth_pipelines([listings], tmp_path_factory.mktemp("dependents")).stacks
    template = json.loads(stack.template_file.read_text())
    # Then the registration sends the list to the central registry, which enforces it
    registration = only(template, "Custom::DpcPipelineRegistration")["Properties"]
    assert json.loads(registration["Dependents"]) == {"accounts": ["333333333333"]}
    assert registration["Expect"] == ""  # no deadline in the case study


def test_registration_carries_the_deadline(
    tmp_path_factory: pytest.TempPathFactory, case_study_pipelines: dict[str, Any]
) -> None:
    from dataclasses import replace

    from dpc.infra.app import synth_pipelines
    from dpc.triggers.deadlines import parse_expect

    searches = replace(case_study_pipelines["searches"], expect=parse_expect("06:00"))
    (stack,) = synth_pipelines([searches], tmp_path_factory.mktemp("expect")).stacks
    template = json.loads(stack.template_file.read_text())
    registration = only(template, "Custom::DpcPipelineRegistration")["Properties"]
    assert registration["Expect"] == "06:00"


def test_notifications_reach_email_and_slack_through_the_tracker(
    pipeline_templates: dict[str, Any],
) -> None:
    template = pipeline_templates["pipeline-x"]
    subscription = only(template, "AWS::SNS::Subscription")["Properties"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == (
        "email",
        "rent-journey@example.com",
    )
    channels = only(template, "Custom::DpcSlackChannels")["Properties"]
    assert channels["Channels"] == ["data-pipeline-alerts"]
    only(template, "AWS::Logs::SubscriptionFilter")
    tracker = next(
        f["Properties"]
        for f in resources(template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "dpc.lambdas.execution_tracker.handler"
    )
    env = tracker["Environment"]["Variables"]
    assert json.loads(env["DPC_PIPELINE_STEPS"]) == {
        "Step metric-x": "metric-x",
        "Step publish": "publish",
    }
    assert env["DPC_NOTIFICATION_TYPE"] == "FULL_EXECUTION"
    assert tracker["Runtime"] == "python3.12"


WILDCARD_ONLY_ACTIONS = {
    "elasticmapreduce:RunJobFlow",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


@pytest.mark.parametrize("name", ["listings", "searches", "pipeline-x"])
def test_no_wildcard_action_and_star_resources_only_where_aws_allows_nothing_else(
    pipeline_templates: dict[str, Any], name: str
) -> None:
    for logical_id, statement in policy_statements(pipeline_templates[name]):
        actions = as_list(statement["Action"])
        assert not any(a == "*" or a.endswith(":*") for a in actions), (logical_id, actions)
        if "*" in as_list(statement.get("Resource", [])):
            assert set(actions) <= WILDCARD_ONLY_ACTIONS, (logical_id, actions)


def test_the_starter_may_start_its_own_state_machine_only_and_never_drops_a_failure(
    pipeline_templates: dict[str, Any],
) -> None:
    template = pipeline_templates["listings"]
    statements = [
        statement
        for logical_id, statement in policy_statements(template)
        if "states:StartExecution" in as_list(statement["Action"])
    ]
    machine_id = next(iter(resources(template, "AWS::StepFunctions::StateMachine")))
    assert [s["Resource"] for s in statements] == [{"Ref": machine_id}]
    # and the starter's role may do nothing else with Step Functions than start that
    # machine and describe its executions (to tell a repeated start from a new one)
    _, starter = starter_of(template)
    role_id = starter["Role"]["Fn::GetAtt"][0]
    starter_policies = {
        logical_id
        for logical_id, policy in resources(template, "AWS::IAM::Policy").items()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
    }
    states_grants = sorted(
        (action, resource)
        for logical_id, statement in policy_statements(template)
        if logical_id in starter_policies
        for action in as_list(statement["Action"])
        if action.startswith("states:")
        for resource in as_list(render(statement["Resource"]))
    )
    assert states_grants == [
        (
            "states:DescribeExecution",
            f"arn:aws:states:eu-west-1:{ACCOUNT}:execution:dpc-listings:*",
        ),
        ("states:StartExecution", f"<{machine_id}>"),
    ]
    starter_id, _ = starter_of(template)
    (invoke_config,) = [
        config["Properties"]
        for config in resources(template, "AWS::Lambda::EventInvokeConfig").values()
        if config["Properties"]["FunctionName"] == {"Ref": starter_id}
    ]
    assert invoke_config["MaximumRetryAttempts"] == 2
    (queue_id,) = [
        logical_id
        for logical_id, queue in resources(template, "AWS::SQS::Queue").items()
        if queue["Properties"]["QueueName"] == "dpc-listings-starts-dlq"
    ]
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": [queue_id, "Arn"]
    }
    queue = template["Resources"][queue_id]
    assert queue["DeletionPolicy"] == "Retain"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
