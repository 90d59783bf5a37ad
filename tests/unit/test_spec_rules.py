"""One test per validation rule: the message a user reads, and the line and column it points at."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dpc.spec.errors import Finding
from dpc.spec.loader import check_file

VALID = """\
name: child
account: "333333333333"
trigger:
  schedule:
    hour: 3
steps:
  - {name: run, type: shell, script: scripts/run.sh}
"""


def findings_for(
    tmp_path: Path, text: str, scripts: tuple[str, ...] = ("scripts/run.sh",)
) -> list[Finding]:
    for script in scripts:
        (tmp_path / script).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / script).write_text("#!/usr/bin/env bash\necho ok\n")
    source = tmp_path / "pipeline.yaml"
    source.write_text(textwrap.dedent(text))
    return list(check_file(source).findings)


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, "\n".join(map(str, findings))
    return findings[0]


def test_the_valid_base_has_no_findings(tmp_path: Path) -> None:
    assert findings_for(tmp_path, VALID) == []


def test_finding_reads_file_line_column_field_message(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, VALID.replace("hour: 3", "hour: 25")))
    assert str(finding) == (
        f"{tmp_path / 'pipeline.yaml'}:5:11: trigger.schedule.hour: "
        "hour field: 25 is out of range (allowed 0-23)"
    )


def test_unknown_field_points_at_the_key_and_suggests_the_right_one(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, VALID + "clustr: {}\n"))
    assert (finding.line, finding.column, finding.field) == (8, 1, "clustr")
    assert finding.message.startswith("unknown field; did you mean 'cluster'?")
    assert "allowed here: account, cluster, dependents, description" in finding.message


def test_missing_required_field_points_at_its_mapping(tmp_path: Path) -> None:
    text = VALID.replace("{name: run, type: shell,", "{type: shell,")
    finding = only(findings_for(tmp_path, text))
    assert (finding.line, finding.column, finding.field) == (7, 5, "steps[0].name")
    assert finding.message == "missing (required)"


def test_pipeline_name_must_follow_the_naming_rule(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, VALID.replace("name: child", "name: Child_1")))
    assert (finding.line, finding.field) == (1, "name")
    assert finding.message == (
        "'Child_1' is not valid (allowed: a lowercase letter, then lowercase letters, "
        "digits or '-', at most 63 characters)"
    )


def test_unquoted_account_is_told_to_quote_it(tmp_path: Path) -> None:
    text = VALID.replace('account: "333333333333"', "account: 333333333333")
    finding = only(findings_for(tmp_path, text))
    assert (finding.line, finding.column, finding.field) == (2, 10, "account")
    assert finding.message == (
        'expected text, got the number 333333333333; put it in quotes: "333333333333"'
    )


def test_account_must_have_12_digits(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, VALID.replace("333333333333", "3333")))
    assert (finding.line, finding.field) == (2, "account")
    assert finding.message == "'3333' is not valid (allowed: exactly 12 digits, quoted)"


def test_status_typo_lists_allowed_statuses_and_suggests(tmp_path: Path) -> None:
    text = """\
    name: child
    trigger:
      executions:
        allOf:
          - name: parent
            status: [SUCESS]
    steps:
      - {name: run, type: shell, script: scripts/run.sh}
    """
    finding = only(findings_for(tmp_path, text))
    assert (finding.line, finding.column) == (6, 18)
    assert finding.field == "trigger.executions.allOf[0].status[0]"
    assert finding.message == (
        "'SUCESS' is not allowed; did you mean 'SUCCESS'? "
        "(allowed: SUCCESS, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, RUNNING)"
    )


def test_cron_expression_with_five_fields_is_refused_at_its_line(tmp_path: Path) -> None:
    text = VALID.replace("hour: 3", 'cron: "0 3 * * ?"')
    finding = only(findings_for(tmp_path, text))
    assert (finding.line, finding.field) == (5, "trigger.schedule.cron")
    assert finding.message.startswith("cron needs 6 fields")


def test_cron_field_form_reports_the_field_that_is_out_of_range(tmp_path: Path) -> None:
    text = VALID.replace("hour: 3", "hour: 3\n    minute: 60")
    finding = only(findings_for(tmp_path, text))
    assert (finding.line, finding.column, finding.field) == (6, 13, "trigger.schedule.minute")
    assert finding.message == "minute field: 60 is out of range (allowed 0-59)"


def test_every_bad_cron_field_is_reported_at_its_own_line(tmp_path: Path) -> None:
    # Given a schedule with three wrong fields and one right one
    text = VALID.replace("hour: 3", "hour: 25\n    minute: 61\n    month: 1\n    weekDay: 2#9")
    # When it is validated
    findings = findings_for(tmp_path, text)
    # Then each wrong field is reported, at its own value, in line order
    assert [(f.line, f.column, f.field, f.message) for f in findings] == [
        (5, 11, "trigger.schedule.hour", "hour field: 25 is out of range (allowed 0-23)"),
        (6, 13, "trigger.schedule.minute", "minute field: 61 is out of range (allowed 0-59)"),
        (
            8,
            14,
            "trigger.schedule.weekDay",
            "day-of-week field: '#9' must be 1-5 (the n-th weekday)",
        ),
    ]


def test_a_wildcard_the_docs_do_not_list_for_a_field_is_reported_there(tmp_path: Path) -> None:
    # Given a step in day-of-week and an 'L' in the hour: EventBridge lists neither there
    text = VALID.replace("hour: 3", "hour: 3L\n    weekDay: '*/2'")
    # Then each is reported at its own value, saying where it is allowed
    assert [(f.line, f.field, f.message) for f in findings_for(tmp_path, text)] == [
        (
            5,
            "trigger.schedule.hour",
            "hour field: '3L': 'L' is only allowed in day-of-month or day-of-week",
        ),
        (
            6,
            "trigger.schedule.weekDay",
            "day-of-week field: '/' is not allowed (day-of-week takes , - * ? L #)",
        ),
    ]


def test_question_mark_in_a_field_that_cannot_take_it_is_reported_there(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, VALID.replace("hour: 3", "hour: 3\n    month: '?'")))
    assert (finding.line, finding.field) == (6, "trigger.schedule.month")
    assert finding.message == "month field: '?' is only allowed in day-of-month or day-of-week"


def test_month_name_outside_the_calendar_is_refused(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, VALID.replace("hour: 3", "hour: 3\n    month: FOO")))
    assert finding.field == "trigger.schedule.month"
    assert finding.message == "month field: 'FOO' is not a number (allowed 1-12 or JAN-DEC)"


def test_a_cron_field_is_one_word(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, VALID.replace("hour: 3", "hour: '3 4'")))
    assert (finding.line, finding.column, finding.field) == (5, 11, "trigger.schedule.hour")
    assert finding.message == "'3 4' is one cron field: no spaces (e.g. '8-18' or '1,15')"


def test_rate_needs_eventbridge_units(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, VALID.replace("hour: 3", "rate: 1 hours")))
    assert (finding.line, finding.field) == (5, "trigger.schedule.rate")
    assert finding.message == "rate: write '1 hour' (EventBridge wants singular units for 1)"


def test_rate_longer_than_a_year_is_refused_at_its_line(tmp_path: Path) -> None:
    text = VALID.replace("hour: 3", "rate: 99999999999999999999999 days")
    finding = only(findings_for(tmp_path, text))
    assert (finding.line, finding.column, finding.field) == (5, 11, "trigger.schedule.rate")
    assert finding.message == (
        "rate: '99999999999999999999999 days' is out of range (allowed 1-365 days, at most a year)"
    )


def test_cron_step_beyond_eventbridge_is_refused_at_its_field(tmp_path: Path) -> None:
    text = VALID.replace("hour: 3", "hour: 3\n    minute: 1/99999999999999999999")
    finding = only(findings_for(tmp_path, text))
    assert (finding.line, finding.column, finding.field) == (6, 13, "trigger.schedule.minute")
    assert finding.message == (
        "minute field: step '/99999999999999999999' must be a positive number, at most 59"
    )


def test_schedule_forms_exclude_each_other(tmp_path: Path) -> None:
    text = VALID.replace("hour: 3", 'hour: 3\n    cron: "0 3 * * ? *"')
    finding = only(findings_for(tmp_path, text))
    assert (finding.line, finding.field) == (4, "trigger.schedule")
    assert finding.message == (
        "give one of: cron fields (minute, hour, ...), `cron` or `rate`; got cron, hour"
    )


def test_day_and_week_day_together_are_refused(tmp_path: Path) -> None:
    text = VALID.replace("hour: 3", "hour: 3\n    day: 1\n    weekDay: MON")
    finding = only(findings_for(tmp_path, text))
    assert (finding.line, finding.column, finding.field) == (7, 5, "trigger.schedule.weekDay")
    assert "give day or weekDay, not both" in finding.message


def test_empty_schedule_is_refused(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, VALID.replace("\n    hour: 3", " {}")))
    assert (finding.line, finding.field) == (4, "trigger.schedule")
    assert finding.message.startswith("must not be empty (give at least one of: cron, day, hour")


EXECUTIONS = """\
name: child
account: "333333333333"
trigger:
  executions:
    allOf:
      - {name: parent, account: "111111111111", status: [SUCCESS]}
    within: 24h
    reset: {cron: "0 0 * * ? *"}
steps:
  - {name: run, type: shell, script: scripts/run.sh}
"""


def test_reset_cron_is_checked(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, EXECUTIONS.replace("0 0 * * ? *", "0 24 * * ? *")))
    assert (finding.line, finding.field) == (8, "trigger.executions.reset.cron")
    assert finding.message == "hour field: 24 is out of range (allowed 0-23)"


@pytest.mark.parametrize("within", ["1 day", "24", "h", "-1h"])
def test_within_must_be_a_duration(tmp_path: Path, within: str) -> None:
    finding = only(findings_for(tmp_path, EXECUTIONS.replace("within: 24h", f"within: '{within}'")))
    assert (finding.line, finding.field) == (7, "trigger.executions.within")
    assert finding.message == (
        f"'{within}' is not valid (allowed: a number of days, hours and/or minutes "
        "such as 90m, 24h, 2d or 1d12h)"
    )


def test_within_zero_is_refused(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, EXECUTIONS.replace("within: 24h", "within: 0h")))
    assert (finding.line, finding.field) == (7, "trigger.executions.within")
    assert finding.message == "'0h' is zero; give a positive duration such as 24h"


@pytest.mark.parametrize("within", ["366d", "9999999999d", "99999999999999999999m"])
def test_within_longer_than_a_year_is_refused_with_the_allowed_range(
    tmp_path: Path, within: str
) -> None:
    finding = only(findings_for(tmp_path, EXECUTIONS.replace("within: 24h", f"within: {within}")))
    assert (finding.line, finding.column, finding.field) == (7, 13, "trigger.executions.within")
    assert finding.message == f"'{within}' is too long; within allows 1m to 365d"


@pytest.mark.parametrize("timeout", ["366d", "8761h", "9999999999d", "9" * 5000 + "d"])
def test_timeout_longer_than_step_functions_allows_is_refused(tmp_path: Path, timeout: str) -> None:
    finding = only(findings_for(tmp_path, VALID + f"timeout: {timeout}\n"))
    assert (finding.line, finding.column, finding.field) == (8, 10, "timeout")
    assert finding.message == (
        f"'{timeout}' is too long; timeout allows 1m to 365d "
        "(a Step Functions run lasts at most a year)"
    )


def test_a_timeout_of_exactly_a_year_is_accepted(tmp_path: Path) -> None:
    assert findings_for(tmp_path, VALID + "timeout: 364d23h60m\n") == []


def test_a_pipeline_cannot_depend_on_itself(tmp_path: Path) -> None:
    # Given an item naming the pipeline itself, account left to default to its own
    text = EXECUTIONS.replace('{name: parent, account: "111111111111",', "{name: child,")
    finding = only(findings_for(tmp_path, text))
    assert (finding.line, finding.field) == (6, "trigger.executions.allOf[0].name")
    assert finding.message == "pipeline 'child' cannot depend on itself"


def test_a_parent_listed_twice_in_a_block_is_refused(tmp_path: Path) -> None:
    item = '      - {name: parent, account: "111111111111", status: [SUCCESS]}\n'
    finding = only(findings_for(tmp_path, EXECUTIONS.replace(item, item + item)))
    assert (finding.line, finding.field) == (7, "trigger.executions.allOf[1]")
    assert finding.message == "parent 'parent' is already listed at allOf[0]"


def test_executions_need_at_least_one_parent(tmp_path: Path) -> None:
    item = '      - {name: parent, account: "111111111111", status: [SUCCESS]}\n'
    text = EXECUTIONS.replace("    allOf:\n" + item, "    allOf: []\n    anyOf: []\n")
    finding = only(findings_for(tmp_path, text))
    assert (finding.line, finding.field) == (4, "trigger.executions")
    assert finding.message == "needs at least one parent in allOf or anyOf"


def test_operator_must_be_and_or_or(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, EXECUTIONS.replace("within: 24h", "operator: XOR")))
    assert (finding.line, finding.field) == (7, "trigger.executions.operator")
    assert finding.message == "'XOR' is not allowed; did you mean 'OR'? (allowed: AND, OR)"


def test_step_script_must_exist(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, VALID, scripts=()))
    assert (finding.line, finding.column, finding.field) == (7, 38, "steps[0].script")
    assert finding.message == f"file not found: {tmp_path / 'scripts/run.sh'}"


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("../elsewhere.sh", "'../elsewhere.sh' points outside the project folder"),
        ("/etc/passwd", "'/etc/passwd' must be a path relative to the project folder"),
        ("scripts", "'scripts' is a folder; expected a script file"),
    ],
)
def test_step_script_must_be_a_file_inside_the_project(
    tmp_path: Path, script: str, message: str
) -> None:
    finding = only(findings_for(tmp_path, VALID.replace("scripts/run.sh}", f"{script}}}")))
    assert (finding.line, finding.field, finding.message) == (7, "steps[0].script", message)


def test_duplicate_step_names_point_at_the_second_and_name_the_first_line(tmp_path: Path) -> None:
    text = VALID + "  - {name: run, type: shell, script: scripts/run.sh}\n"
    finding = only(findings_for(tmp_path, text))
    assert (finding.line, finding.column, finding.field) == (8, 12, "steps[1].name")
    assert finding.message == "duplicate step name 'run' (first used at line 7)"


def test_at_least_one_step(tmp_path: Path) -> None:
    text = VALID.replace("  - {name: run, type: shell, script: scripts/run.sh}\n", "").replace(
        "steps:", "steps: []"
    )
    finding = only(findings_for(tmp_path, text))
    assert (finding.line, finding.field, finding.message) == (6, "steps", "must not be empty")


def test_step_type_is_spark_or_shell(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, VALID.replace("type: shell", "type: bash")))
    assert (finding.line, finding.field) == (7, "steps[0].type")
    assert finding.message == "'bash' is not allowed (allowed: spark, shell)"


@pytest.mark.parametrize(
    ("channel", "address", "message"),
    [
        ("EMAIL", "team-at-example", "'team-at-example' is not an e-mail address"),
        ("OPSGENIE", "http://x", "'http://x' must be an https:// URL for OPSGENIE"),
        ("SLACK", "#bad channel", "'#bad channel' is not a Slack channel name"),
    ],
)
def test_notification_addresses_fit_their_channel(
    tmp_path: Path, channel: str, address: str, message: str
) -> None:
    text = (
        VALID
        + f"notifications:\n  targets:\n    - channel: {channel}\n      addresses: ['{address}']\n"
    )
    finding = only(findings_for(tmp_path, text))
    assert (finding.line, finding.field) == (11, "notifications.targets[0].addresses[0]")
    assert finding.message.startswith(message)


def test_duplicate_yaml_keys_are_reported(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, VALID + "name: other\n"))
    assert (finding.line, finding.column, finding.field) == (8, 1, "name")
    assert finding.message == "duplicate key (first written at line 1)"


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    finding = only(findings_for(tmp_path, VALID.replace("hour: 3", "hour: [3")))
    assert finding.line in (5, 6)
    assert finding.message.startswith("invalid YAML:")


def test_every_problem_in_the_file_is_reported_at_once_in_line_order(tmp_path: Path) -> None:
    text = VALID.replace("name: child", "name: Child").replace("hour: 3", "hour: 99")
    text = text.replace("type: shell", "type: bash") + "extra: 1\n"
    found = findings_for(tmp_path, text)
    assert [(finding.line, finding.field) for finding in found] == [
        (1, "name"),
        (5, "trigger.schedule.hour"),
        (7, "steps[0].type"),
        (8, "extra"),
    ]
