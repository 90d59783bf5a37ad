"""Whatever is in pipeline.yaml, `dpc validate` answers with exit 0 or 1 and no traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dpc.cli.app import app

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "case-study" / "pipeline-x"
YAML_SIGNIFICANT = ":-[]{}&*!|>'\"#%@`,?\n\t 0123456789abcSUCE"
runner = CliRunner()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the sample (its scripts exist); each example rewrites its pipeline.yaml."""
    folder = tmp_path_factory.mktemp("fuzz") / "p"
    shutil.copytree(SAMPLE, folder)
    return folder


def validate_text(project: Path, content: str | bytes) -> None:
    source = project / "pipeline.yaml"
    if isinstance(content, bytes):
        source.write_bytes(content)
    else:
        source.write_text(content, encoding="utf-8", errors="surrogatepass")
    result = runner.invoke(app, ["validate", "--json", str(project)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output


@st.composite
def mutated_sample(draw: st.DrawFn) -> str:
    text = (SAMPLE / "pipeline.yaml").read_text()
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "duplicate-line", "swap"]))
        if action == "insert":
            text = text[:position] + draw(st.text(YAML_SIGNIFICANT, max_size=8)) + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 20)) :]
        else:
            lines = text.splitlines(keepends=True)
            index = draw(st.integers(0, len(lines) - 1))
            if action == "duplicate-line":
                lines.insert(index, lines[index])
            else:
                other = draw(st.integers(0, len(lines) - 1))
                lines[index], lines[other] = lines[other], lines[index]
            text = "".join(lines)
    return text


FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(mutated_sample())
def test_mutated_sample_never_crashes(project: Path, text: str) -> None:
    validate_text(project, text)


@FUZZ
@given(st.text(max_size=300))
def test_random_text_never_crashes(project: Path, text: str) -> None:
    validate_text(project, text)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(project: Path, content: bytes) -> None:
    validate_text(project, content)


@FUZZ
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["name", "trigger", "schedule", "executions", "allOf", "steps", "x"]
                ),
                children,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_random_structures_never_crash(project: Path, data: object) -> None:
    import json

    validate_text(project, json.dumps(data, allow_nan=True))


HUGE_NUMBERS = st.one_of(
    st.integers(0, 10**40).map(str),
    st.integers(1, 6000).map(lambda digits: "9" * digits),  # past int()'s 4300-digit limit
)
"""Numbers far beyond any clock or calendar, where int() and timedelta() give up."""
DURATION_SHAPES = ("{}d", "{}h", "{}m", "1d{}h", "{}d{}h{}m")


@FUZZ
@given(st.data())
def test_huge_durations_never_crash(project: Path, data: st.DataObject) -> None:
    import yaml

    document = yaml.safe_load((SAMPLE / "pipeline.yaml").read_text())
    for place in data.draw(st.lists(st.sampled_from(["timeout", "within"]), min_size=1)):
        shape = data.draw(st.sampled_from(DURATION_SHAPES))
        value = shape.format(*(data.draw(HUGE_NUMBERS) for _ in range(shape.count("{}"))))
        if place == "timeout":
            document["timeout"] = value
        else:
            document["trigger"]["executions"]["within"] = value
    validate_text(project, yaml.safe_dump(document, width=10**9))


SCHEDULE_SHAPES = (
    {"hour": "{}"},
    {"minute": "{}/{}"},
    {"hour": "3", "minute": "{}-{}"},
    {"weekDay": "{}#{}"},
    {"day": "{}W"},
    {"cron": "{} {} * * ? *"},
    {"cron": "0/{} 3 ? * {}L *"},
    {"rate": "{} days"},
    {"rate": "{} minutes"},
)


@FUZZ
@given(st.sampled_from(SCHEDULE_SHAPES), st.data())
def test_huge_numbers_in_schedules_never_crash(
    project: Path, shape: dict[str, str], data: st.DataObject
) -> None:
    import yaml

    document = yaml.safe_load((SAMPLE / "pipeline.yaml").read_text())
    document["trigger"]["schedule"] = {
        key: text.format(*(data.draw(HUGE_NUMBERS) for _ in range(text.count("{}"))))
        for key, text in shape.items()
    }
    executions = document["trigger"]["executions"]
    for option in ("correlate", "rerun", "keep"):  # reset goes with correlate: latest only
        executions.pop(option, None)
    executions["reset"] = {"cron": f"0 {data.draw(HUGE_NUMBERS)} * * ? *"}
    validate_text(project, yaml.safe_dump(document, width=10**9))


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
JUNK = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=6), SCALARS, max_size=3),
    st.sampled_from(["", "\0", "x" * 5000, "../x", "/etc/passwd", "SUCCESS", [], {}]),
)


def _paths(value: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


@FUZZ
@given(st.data())
def test_sample_with_any_value_replaced_never_crashes(project: Path, data: st.DataObject) -> None:
    import yaml

    for sample in ("pipeline-x", "listings"):
        document = yaml.safe_load((SAMPLE.parent / sample / "pipeline.yaml").read_text())
        for path in data.draw(st.lists(st.sampled_from(_paths(document)[1:]), max_size=3)):
            parent = document
            try:
                for part in path[:-1]:
                    parent = parent[part]
                parent[path[-1]] = data.draw(JUNK)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier replacement removed this path
        validate_text(project, yaml.safe_dump(document))
