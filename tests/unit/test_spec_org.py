"""A folder of projects as one organisation: unknown parents, cycles, duplicates, children."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from dpc.spec.errors import SpecError
from dpc.spec.loader import load_org, validate_paths
from dpc.triggers.model import ParentRef

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def project(root: Path, name: str, account: str, parents: Sequence[tuple[str, str]] = ()) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "run.sh").write_text("echo ok\n")
    lines = [f"name: {name}", f'account: "{account}"']
    if parents:
        lines += ["trigger:", "  executions:", "    allOf:"]
        lines += [f'      - {{name: {p}, account: "{a}", status: [SUCCESS]}}' for p, a in parents]
    else:
        lines += ["trigger:", "  schedule: {hour: 3}"]
    lines += ["steps:", "  - {name: s, type: shell, script: run.sh}"]
    (folder / "pipeline.yaml").write_text("\n".join(lines) + "\n")
    return folder / "pipeline.yaml"


A, B, C = "111111111111", "222222222222", "333333333333"


def test_case_study_org_links_children_to_parents() -> None:
    org = load_org([SAMPLES / "case-study"])
    assert sorted(pipeline.name for pipeline in org.pipelines) == [
        "listings",
        "pipeline-x",
        "searches",
    ]
    assert org.by_ref[ParentRef("listings", A)].trigger.schedule is not None
    for parent in (ParentRef("listings", A), ParentRef("searches", B)):
        assert [child.name for child in org.children_of(parent)] == ["pipeline-x"]
    assert org.children_of(ParentRef("pipeline-x", C)) == ()


def test_fallback_samples_validate_as_an_org() -> None:
    org = load_org([SAMPLES / "fallback"])
    load = ParentRef("nightly-load", "444444444444")
    assert sorted(child.name for child in org.children_of(load)) == [
        "daily-report",
        "load-recovery",
    ]


def test_unknown_parent_is_reported_at_the_item_with_a_hint(tmp_path: Path) -> None:
    project(tmp_path, "listings", A)
    child = project(tmp_path, "x", C, [("listings", B)])
    validation = validate_paths([tmp_path])
    (finding,) = validation.findings
    assert (finding.file, finding.line, finding.field) == (
        child,
        6,
        "trigger.executions.allOf[0]",
    )
    assert finding.message == (
        f"unknown parent 'listings@{B}': no pipeline here has this name and account; "
        f"defined as listings@{A}"
    )


def test_cycle_is_named_and_reported_in_every_file_of_it(tmp_path: Path) -> None:
    # Given a → b → c → a (child → parent)
    files = [
        project(tmp_path, "a", A, [("b", A)]),
        project(tmp_path, "b", A, [("c", A)]),
        project(tmp_path, "c", A, [("a", A)]),
        project(tmp_path, "d", A, [("a", A)]),
    ]
    validation = validate_paths([tmp_path])
    assert {finding.file for finding in validation.findings} == set(files[:3])
    messages = {finding.message for finding in validation.findings}
    assert messages == {f"dependency cycle: a@{A} → b@{A} → c@{A} → a@{A}"}


def test_two_pipelines_with_the_same_name_and_account(tmp_path: Path) -> None:
    first = project(tmp_path / "one", "dup", A)
    second = project(tmp_path / "two", "dup", A)
    (finding,) = validate_paths([tmp_path]).findings
    assert (finding.file, finding.line, finding.field) == (second, 1, "name")
    assert finding.message == f"pipeline 'dup@{A}' is also defined in {first}"


def test_same_name_in_different_accounts_is_fine(tmp_path: Path) -> None:
    project(tmp_path / "one", "dup", A)
    project(tmp_path / "two", "dup", B)
    assert validate_paths([tmp_path]).ok


def test_a_single_project_may_depend_on_other_teams(tmp_path: Path) -> None:
    # Given one project whose parents live in other teams' repositories
    project(tmp_path, "x", C, [("listings", A)])
    assert validate_paths([tmp_path / "x"]).ok
    # When it is loaded as an org, the parent must be there
    with pytest.raises(SpecError, match="unknown parent 'listings@111111111111'"):
        load_org([tmp_path / "x"])


def test_folder_without_pipelines(tmp_path: Path) -> None:
    (finding,) = validate_paths([tmp_path]).findings
    assert str(finding) == f"{tmp_path}: no pipeline.yaml found in this folder"


def test_hidden_and_build_folders_are_not_searched(tmp_path: Path) -> None:
    project(tmp_path, "real", A)
    project(tmp_path / ".git", "hidden", A)
    project(tmp_path / "node_modules", "vendored", A)
    assert [pipeline.name for pipeline in validate_paths([tmp_path]).pipelines] == ["real"]


def test_long_chain_does_not_hit_recursion_limits(tmp_path: Path) -> None:
    project(tmp_path, "p0", A)
    for index in range(1, 1100):
        project(tmp_path, f"p{index}", A, [(f"p{index - 1}", A)])
    project(tmp_path, "loop-a", A, [("loop-b", A)])
    project(tmp_path, "loop-b", A, [("loop-a", A)])
    validation = validate_paths([tmp_path])
    assert len(validation.pipelines) == 1102
    assert {finding.message for finding in validation.findings} == {
        f"dependency cycle: loop-a@{A} → loop-b@{A} → loop-a@{A}"
    }


def test_a_child_from_an_account_its_parent_does_not_list_is_reported_at_the_item(
    tmp_path: Path,
) -> None:
    # Given listings accepting dependents from searches' account only
    listings = project(tmp_path, "listings", A)
    with listings.open("a") as text:
        text.write(f'dependents: {{accounts: ["{B}"]}}\n')
    project(tmp_path, "searches", B, [("listings", A)])
    project(tmp_path, "same-account", A, [("listings", A)])
    child = project(tmp_path, "x", C, [("listings", A)])
    # Then validate reports pipeline-x, at its item, as the registry would refuse it
    (finding,) = validate_paths([tmp_path]).findings
    assert (finding.file, finding.line, finding.field) == (child, 6, "trigger.executions.allOf[0]")
    assert finding.message == (
        f"parent 'listings@{A}' does not accept dependents from account {C} "
        f"(its dependents.accounts: {B}); its owners can add it"
    )
