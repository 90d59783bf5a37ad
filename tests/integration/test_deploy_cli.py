"""`dpc setup-*`, `deploy`, `destroy` end to end against the sandbox's endpoint, through the
CLI and the same deploy service real AWS gets: nothing tells the CLI it is not AWS."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from dpc.cli.app import app
from dpc.sandbox.deployer import DEPENDENCY_API_NAME, SLACK_API_NAME
from dpc.sandbox.sandbox import Sandbox

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")]

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "case-study"
REGION = "eu-west-1"
CENTRAL, ACCOUNT_C = "999999999999", "333333333333"
API_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/"
SETUP_USER = ("setup-user-account", "--central-account", CENTRAL, "--api-url", API_URL, "--yes")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    """The sandbox's endpoint, and AWS_* variables pointing there, as a user pastes them."""
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    with Sandbox(work_dir=tmp_path / "sandbox") as sandbox:
        for name, value in sandbox.server.environment(CENTRAL).items():
            monkeypatch.setenv(name, value)
        yield sandbox


def api_url(sandbox: Sandbox, name: str) -> str:
    """A central API's URL, as the sandbox serves it once the central stack is up."""
    (url,) = [sandbox.gateway.url(api) for api in sandbox.gateway.apis.values() if api.name == name]
    return url


def setup_user(sandbox: Sandbox) -> Any:
    dependency_api, slack_api = (
        api_url(sandbox, name) for name in (DEPENDENCY_API_NAME, SLACK_API_NAME)
    )
    return dpc(*SETUP_USER[:-2], dependency_api, "--slack-api-url", slack_api, "--yes")


def setup_central() -> Any:
    return dpc("setup-central-account", "--accounts", ACCOUNT_C, "--yes")


def use_account(monkeypatch: pytest.MonkeyPatch, account: str) -> boto3.Session:
    """Credentials of ``account``, as an assumed role gives them (moto maps them back)."""
    sts = boto3.client("sts", region_name=REGION)
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/deployer", RoleSessionName="dpc-tests"
    )["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    return boto3.Session(region_name=REGION)


def dpc(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    return result


def stack_names(session: boto3.Session) -> set[str]:
    cloudformation = session.client("cloudformation")
    return {
        s["StackName"]
        for s in cloudformation.list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    }


def test_setup_deploy_update_destroy_on_the_embedded_aws(
    aws: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given the central account set up for three user accounts
    central = use_account(monkeypatch, CENTRAL)
    result = dpc(
        "setup-central-account",
        "--accounts",
        "111111111111,222222222222,333333333333",
        "--operator-email",
        "ops@example.com",
        "--yes",
    )
    assert result.exit_code == 0, result.output
    assert "dpc-central" in stack_names(central)
    rules = central.client("events").list_rules(EventBusName="dpc-central-bus")["Rules"]
    assert {r["Name"] for r in rules} >= {"trigger-events-manager", "dpc-route-to-333333333333"}
    # with its operator topic (moto 5.2.5's CloudFormation creates neither alarms nor
    # subscriptions: the templates' tests check those)
    topics = [t["TopicArn"] for t in central.client("sns").list_topics()["Topics"]]
    assert [t for t in topics if t.endswith(":dpc-operator")], topics

    # And account C set up against it, with the very command setup-central-account printed
    # (its API URLs are those the embedded AWS serves the central APIs at)
    printed = re.search(r"dpc (setup-user-account --central-account .*)", result.output)
    assert printed is not None, result.output
    command = printed[1].split()
    assert command[command.index("--api-url") + 1] == api_url(aws, DEPENDENCY_API_NAME)
    team = use_account(monkeypatch, ACCOUNT_C)
    result = dpc(*command, "--yes")
    assert result.exit_code == 0, result.output
    export_rule = team.client("events").describe_rule(Name="export-events-to-central-bus")
    assert "dpc-" in export_rule["EventPattern"]
    # with the PEM bundle of EMR's in-transit encryption, created once and then kept
    assets = f"dpc-assets-{ACCOUNT_C}-{REGION}"
    bundle = team.client("s3").get_object(Bucket=assets, Key="emr/tls-certificates.zip")
    assert bundle["ServerSideEncryption"] == "AES256"
    names = zipfile.ZipFile(io.BytesIO(bundle["Body"].read())).namelist()
    assert sorted(names) == ["certificateChain.pem", "privateKey.pem", "trustedCertificates.pem"]
    assert setup_user(aws).exit_code == 0
    again = team.client("s3").head_object(Bucket=assets, Key="emr/tls-certificates.zip")
    assert again["ETag"] == bundle["ETag"]

    # When pipeline-x is deployed
    project = tmp_path / "pipeline-x"
    shutil.copytree(SAMPLES / "pipeline-x", project)
    result = dpc("deploy", str(project), "--yes")

    # Then its stack, state machine and trigger rule exist in account C
    assert result.exit_code == 0, result.output
    assert "CREATE_COMPLETE" in result.output
    machines = team.client("stepfunctions").list_state_machines()["stateMachines"]
    (machine,) = [m for m in machines if m["name"] == "dpc-pipeline-x"]
    rules = team.client("events").list_rules(EventBusName="dpc-pipeline-bus")["Rules"]
    assert sorted(r["Name"] for r in rules) == ["dpc-pipeline-x-late", "dpc-pipeline-x-trigger"]
    definition = json.loads(
        team.client("stepfunctions").describe_state_machine(
            stateMachineArn=machine["stateMachineArn"]
        )["definition"]
    )
    assert definition["TimeoutSeconds"] == 6 * 3600

    # And its step scripts were published, byte for byte, where the steps read them
    # (PrepareSteps builds each step's arguments; the script URL is the one s3:// literal)
    args = next(iter(definition["States"]["PrepareSteps"]["Parameters"].values()))
    (script,) = re.findall(r"'(s3://[^']+)'", args)
    bucket, key = script.removeprefix("s3://").split("/", 1)
    assert bucket == f"dpc-assets-{ACCOUNT_C}-{REGION}"
    body = team.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert body == (project / "scripts" / "metric_x.sh").read_bytes()

    # When the timeout changes and it is deployed again, the stack is updated
    yaml_file = project / "pipeline.yaml"
    yaml_file.write_text(yaml_file.read_text().replace("timeout: 6h", "timeout: 2h"))
    result = dpc("deploy", str(project), "--yes")
    assert result.exit_code == 0, result.output
    assert "UPDATE_COMPLETE" in result.output
    definition = json.loads(
        team.client("stepfunctions").describe_state_machine(
            stateMachineArn=machine["stateMachineArn"]
        )["definition"]
    )
    assert definition["TimeoutSeconds"] == 2 * 3600

    # When it is destroyed, the stack and the state machine are gone
    result = dpc("destroy", str(project), "--yes")
    assert result.exit_code == 0, result.output
    assert "dpc-pipeline-pipeline-x" not in stack_names(team)
    assert not team.client("stepfunctions").list_state_machines()["stateMachines"]


def test_lambda_asset_holds_the_handlers_and_nothing_of_the_cli(
    aws: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = use_account(monkeypatch, ACCOUNT_C)
    assert dpc(*SETUP_USER).exit_code == 0
    s3 = team.client("s3")
    bucket = f"dpc-assets-{ACCOUNT_C}-{REGION}"
    zips = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix="assets/")["Contents"]
        if o["Key"].endswith(".zip")
    ]
    (key,) = zips
    names = zipfile.ZipFile(
        io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    ).namelist()
    assert "dpc/lambdas/registration_provider.py" in names
    assert "dpc/triggers/engine.py" in names
    assert not [n for n in names if n.startswith(("dpc/cli/", "dpc/infra/", "dpc/sandbox/"))]
    # and the assets bucket is private and encrypted
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_an_invalid_pipeline_never_reaches_cloudformation(
    aws: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    team = use_account(monkeypatch, ACCOUNT_C)
    project = tmp_path / "broken"
    shutil.copytree(SAMPLES / "pipeline-x", project)
    yaml_file = project / "pipeline.yaml"
    yaml_file.write_text(yaml_file.read_text().replace("type: shell", "type: hive", 1))

    result = dpc("deploy", str(project), "--yes")

    assert result.exit_code == 1
    assert "pipeline.yaml:" in result.output and "hive" in result.output
    assert "Traceback" not in result.output
    assert stack_names(team) == set()
    assert team.client("s3").list_buckets()["Buckets"] == []


def test_a_pipeline_of_another_account_is_refused(
    aws: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = use_account(monkeypatch, "111111111111")
    result = dpc("deploy", str(SAMPLES / "pipeline-x"), "--yes")
    assert result.exit_code == 1
    assert "belongs to account 333333333333" in result.output
    assert stack_names(team) == set()


def test_deploying_before_setup_explains_what_is_missing(
    aws: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_account(monkeypatch, ACCOUNT_C)
    result = dpc("deploy", str(SAMPLES / "pipeline-x"), "--yes")
    assert result.exit_code == 1
    assert "dpc setup-user-account" in result.output
    assert "Traceback" not in result.output


def test_dry_run_makes_no_aws_call(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given no credentials at all and an endpoint nobody listens on
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))

    result = dpc("deploy", "--dry-run", str(SAMPLES / "listings"), "-o", str(tmp_path / "out"))

    assert result.exit_code == 0, result.output
    assert "AWS::StepFunctions::StateMachine" in result.output
    assert "AWS::Events::Rule" in result.output
    template = json.loads((tmp_path / "out" / "dpc-pipeline-listings.template.json").read_text())
    assert any(
        r["Type"] == "Custom::DpcPipelineRegistration" for r in template["Resources"].values()
    )


def test_setup_commands_reject_bad_ids(aws: Sandbox) -> None:
    assert dpc("setup-central-account", "--accounts", "1234").exit_code == 2
    assert dpc("setup-central-account").exit_code == 2
    assert dpc("setup-user-account", "--central-account", "abc").exit_code == 2
    bad_email = ("--accounts", "111111111111", "--operator-email", "ops", "--dry-run")
    assert dpc("setup-central-account", *bad_email).exit_code == 2


def test_setup_central_account_with_an_org_but_no_accounts_is_refused(
    aws: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the central account's credentials
    central = use_account(monkeypatch, CENTRAL)
    monkeypatch.setenv("COLUMNS", "200")

    # When the org is admitted without listing the accounts to route triggers to
    result = dpc("setup-central-account", "--org-id", "o-a1b2c3d4e5", "--yes")

    # Then it is refused, saying why, rather than deploying a bus that routes nothing
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "--org-id needs --accounts" in message and "route" in message
    assert stack_names(central) == set()


def test_setup_user_account_without_the_api_url_is_refused_before_any_aws_call(
    aws: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given account C's credentials
    team = use_account(monkeypatch, ACCOUNT_C)

    # When the team forgets --api-url (the central dependency API)
    result = dpc("setup-user-account", "--central-account", CENTRAL, "--yes")

    # Then it is a usage error pointing at the command that prints the filled-in line,
    # and nothing is deployed (rather than failing at the team's first `dpc deploy`)
    assert result.exit_code == 2, result.output
    assert "--api-url" in result.output and "dpc setup-central-account" in result.output
    assert "Traceback" not in result.output
    assert stack_names(team) == set()


def test_a_teams_own_emr_certificates_replace_the_self_signed_bundle(tmp_path: Path) -> None:
    own = "s3://team-pki-333333333333/emr/bundle.zip"
    options = ("setup-user-account", "--central-account", CENTRAL, "--dry-run", "-o", str(tmp_path))
    assert dpc(*options, "--emr-tls-certificates", "team-pki/bundle.zip").exit_code == 2
    result = dpc(*options, "--emr-tls-certificates", own)
    assert result.exit_code == 0, result.output
    template = json.loads((tmp_path / "dpc-user-account.template.json").read_text())
    (configuration,) = [
        r["Properties"]["SecurityConfiguration"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::EMR::SecurityConfiguration"
    ]
    tls = configuration["EncryptionConfiguration"]["InTransitEncryptionConfiguration"]
    assert tls["TLSCertificateConfiguration"]["S3Object"] == own


def _lifecycle_rules(tmp_path: Path, *options: str) -> dict[str, dict[str, Any]]:
    result = dpc(
        "setup-user-account",
        "--central-account",
        CENTRAL,
        "--dry-run",
        "-o",
        str(tmp_path),
        *options,
    )
    assert result.exit_code == 0, result.output
    template = json.loads((tmp_path / "dpc-user-account.template.json").read_text())
    (bucket,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::S3::Bucket" and "BucketName" in r["Properties"]
    ]
    return {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}


def test_the_artifacts_buckets_lifecycle_is_the_teams_choice(tmp_path: Path) -> None:
    # By default logs go after 90 days and step outputs stay
    rules = _lifecycle_rules(tmp_path / "default")
    assert rules["ExpireLogs"]["ExpirationInDays"] == 90
    assert "ExpireOutputs" not in rules
    assert rules["ExpireOldVersions"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 7
    }
    # A team keeps logs a year and outputs 30 days
    options = ("--log-retention-days", "365", "--output-retention-days", "30")
    rules = _lifecycle_rules(tmp_path / "chosen", *options)
    assert rules["ExpireLogs"]["ExpirationInDays"] == 365
    assert rules["ExpireOutputs"] == {
        "Id": "ExpireOutputs",
        "Prefix": "pipelines/",
        "ExpirationInDays": 30,
        "Status": "Enabled",
    }
    assert (
        dpc(
            "setup-user-account", "--central-account", CENTRAL, "--log-retention-days", "0"
        ).exit_code
        == 2
    )


def test_setup_user_account_dry_run_needs_no_api_url(tmp_path: Path) -> None:
    result = dpc(
        "setup-user-account", "--central-account", CENTRAL, "--dry-run", "-o", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "dpc-user-account.template.json").is_file()


def test_setup_user_account_help_says_slack_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    result = dpc("setup-user-account", "--help")
    assert result.exit_code == 0
    assert "Slack is not configured" in " ".join(result.output.split())


def _without_account(tmp_path: Path) -> Path:
    project = tmp_path / "pipeline-x"
    shutil.copytree(SAMPLES / "pipeline-x", project)
    yaml_file = project / "pipeline.yaml"
    yaml_file.write_text(yaml_file.read_text().replace('account: "333333333333"\n', "", 1))
    return project


def test_a_pipeline_without_account_belongs_to_the_deploying_account(
    aws: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given account C set up, and pipeline-x's YAML without `account:`
    assert setup_central().exit_code == 0
    team = use_account(monkeypatch, ACCOUNT_C)
    assert setup_user(aws).exit_code == 0
    project = _without_account(tmp_path)

    # When it is deployed with account C's credentials
    result = dpc("deploy", str(project), "--yes")

    # Then its trigger rule admits only trigger events for pipeline-x in account C
    assert result.exit_code == 0, result.output
    rule = team.client("events").describe_rule(
        Name="dpc-pipeline-x-trigger", EventBusName="dpc-pipeline-bus"
    )
    assert json.loads(rule["EventPattern"])["detail"] == {
        "pipeline": ["pipeline-x"],
        "account": [ACCOUNT_C],
    }


def test_synth_of_a_pipeline_without_account_targets_the_deploying_account(
    tmp_path: Path,
) -> None:
    result = dpc("synth", str(_without_account(tmp_path)), "-o", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.output
    template = json.loads((tmp_path / "out" / "dpc-pipeline-pipeline-x.template.json").read_text())
    (rule,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule" and r["Properties"]["Name"] == "dpc-pipeline-x-trigger"
    ]
    assert rule["Properties"]["EventPattern"]["detail"]["account"] == [{"Ref": "AWS::AccountId"}]


def test_setup_central_account_reserves_slack_channels_for_accounts(tmp_path: Path) -> None:
    # When the data-platform team reserves a channel for two accounts
    result = dpc(
        "setup-central-account",
        "--accounts",
        "111111111111,222222222222",
        "--slack-channel",
        "#shared-alerts=111111111111,222222222222",
        "--slack-channel",
        "platform=111111111111",
        "--dry-run",
        "-o",
        str(tmp_path),
    )
    # Then the central Slack functions know it
    assert result.exit_code == 0, result.output
    template = json.loads((tmp_path / "dpc-central.template.json").read_text())
    reserved = {
        f["Properties"]["Handler"]: f["Properties"]["Environment"]["Variables"].get(
            "DPC_SLACK_CHANNEL_OWNERS"
        )
        for f in template["Resources"].values()
        if f["Type"] == "AWS::Lambda::Function" and "slack" in f["Properties"].get("Handler", "")
    }
    expected = '{"platform":["111111111111"],"shared-alerts":["111111111111","222222222222"]}'
    assert reserved == {
        "dpc.lambdas.slack_poster.handler": expected,
        "dpc.lambdas.slack_channel_publisher.handler": expected,
    }


@pytest.mark.parametrize(
    ("option", "reason"),
    [
        ("shared-alerts", "is not CHANNEL=ACCOUNT[,ACCOUNT]"),
        ("=111111111111", "is not CHANNEL=ACCOUNT[,ACCOUNT]"),
        ("shared-alerts=1234", "1234 is not a 12-digit AWS account id"),
        ("C0123ABCD=111111111111", "C0123ABCD is not a channel name"),
    ],
)
def test_a_malformed_slack_channel_reservation_is_a_usage_error(
    option: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    result = dpc("setup-central-account", "--accounts", "111111111111", "--slack-channel", option)
    assert result.exit_code == 2
    assert reason in " ".join(result.output.split())
