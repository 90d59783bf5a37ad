"""`dpc graph`: the case study and a generated org of 200 pipelines, in every format, and the
HTML opened in a real browser (headless Chromium) to check that every pipeline is drawn."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dpc.cli.app import app
from dpc.lineage.graph import Lineage, build
from dpc.lineage.render import BOX_HEIGHT, BOX_WIDTH, STRIPE_WIDTH, layout, to_html
from dpc.spec.loader import load_org
from dpc.triggers.model import ParentRef

CASE_STUDY = Path(__file__).parents[2] / "samples" / "case-study"
ACCOUNTS = [f"1000000000{i:02d}" for i in range(8)]


def write_generated_org(root: Path, size: int = 200, seed: int = 7) -> dict[str, list[str]]:
    """A cycle-free org: pipeline i waits only for pipelines with a smaller index.

    Returns each pipeline's parents, so tests can compare the drawing with what was written.
    """
    rng = random.Random(seed)
    parents_of: dict[str, list[str]] = {}
    for i in range(size):
        name, account = f"p{i:03d}", ACCOUNTS[i % len(ACCOUNTS)]
        project = root / name
        (project / "scripts").mkdir(parents=True)
        (project / "scripts" / "run.sh").write_text("echo run\n")
        lines = [f"name: {name}", f'account: "{account}"', "trigger:"]
        parents = sorted(rng.sample(range(max(0, i - 30), i), min(i, rng.randint(1, 3))))
        if i < 12 or rng.random() < 0.1:
            lines.append(f"  schedule: {{hour: {i % 24}}}")
        if parents and i >= 12:
            block = "anyOf" if rng.random() < 0.25 else "allOf"
            lines += ["  executions:", f"    {block}:"]
            for p in parents:
                status = "[SUCCESS, FAILED]" if block == "anyOf" else "[SUCCESS]"
                lines.append(
                    f'      - {{name: p{p:03d}, account: "{ACCOUNTS[p % len(ACCOUNTS)]}", '
                    f"status: {status}}}"
                )
            parents_of[name] = [f"p{p:03d}" for p in parents]
        else:
            parents_of[name] = []
        lines += ["steps:", "  - {name: run, type: shell, script: scripts/run.sh}"]
        (project / "pipeline.yaml").write_text("\n".join(lines) + "\n")
    return parents_of


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    root = tmp_path_factory.mktemp("org200")
    return root, write_generated_org(root)


@pytest.fixture(scope="module")
def generated_lineage(generated: tuple[Path, dict[str, list[str]]]) -> Lineage:
    return build(load_org([generated[0]]).pipelines)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


# --- the case study ---------------------------------------------------------------------


def test_case_study_mermaid_groups_by_account_and_labels_edges() -> None:
    code, stdout, _ = run("graph", str(CASE_STUDY))

    assert code == 0
    assert stdout.startswith("flowchart LR\n")
    for account in ("111111111111", "222222222222", "333333333333"):
        assert f'subgraph account_{account}["account {account}"]' in stdout
    ids = dict(re.findall(r'(n\d+)\["([a-z-]+)<br/>', stdout))
    by_name = {name: node_id for node_id, name in ids.items()}
    assert set(by_name) == {"listings", "searches", "pipeline-x"}
    assert f'{by_name["listings"]} -->|"allOf: SUCCEEDED"| {by_name["pipeline-x"]}' in stdout
    assert f'{by_name["searches"]} -->|"allOf: SUCCEEDED"| {by_name["pipeline-x"]}' in stdout
    assert "listings<br/>schedule cron(0 3 * * ? *)" in stdout
    assert "searches<br/>schedule cron(0 5 * * ? *)" in stdout
    assert "allOf · per day" in stdout  # correlate: period, one run per day


def test_case_study_dot_has_a_cluster_per_account_and_labelled_edges() -> None:
    code, stdout, _ = run("graph", str(CASE_STUDY), "--format", "dot")

    assert code == 0
    assert stdout.count('subgraph "cluster_') == 3
    assert (
        '"listings@111111111111" -> "pipeline-x@333333333333" [label="allOf: SUCCEEDED"];' in stdout
    )
    if shutil.which("dot"):  # Graphviz itself, when installed, must accept the file
        rendered = subprocess.run(
            ["dot", "-Tsvg"], input=stdout, capture_output=True, text=True, check=True
        )
        assert rendered.stdout.count('class="node"') == 3


def test_case_study_json_lists_nodes_and_edges(tmp_path: Path) -> None:
    target = tmp_path / "graph.json"
    code, _, stderr = run("graph", str(CASE_STUDY), "--format", "json", "-o", str(target))

    assert code == 0
    assert "3 pipelines, 2 dependencies" in stderr
    data = json.loads(target.read_text())
    assert {n["pipeline"] for n in data["nodes"]} == {"listings", "searches", "pipeline-x"}
    assert {(e["parent"]["pipeline"], e["child"]["pipeline"]) for e in data["edges"]} == {
        ("listings", "pipeline-x"),
        ("searches", "pipeline-x"),
    }


def test_html_format_follows_the_output_suffix_and_references_nothing_outside(
    tmp_path: Path,
) -> None:
    target = tmp_path / "org.html"
    code, stdout, _ = run("graph", str(CASE_STUDY), "-o", str(target))

    assert code == 0 and stdout == ""
    html = target.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=|url\((?!#)|@import|https?://""", html)
    assert len(re.findall(r'<g class="node" data-pipeline=', html)) == 3


def test_graph_needs_exactly_one_source() -> None:
    code, _, stderr = run("graph")
    assert code == 2
    assert "either ORG_DIR or --central" in stderr


def test_graph_of_a_broken_org_reports_the_file_and_exits_1(tmp_path: Path) -> None:
    write_generated_org(tmp_path, size=14)
    broken = tmp_path / "p013" / "pipeline.yaml"
    broken.write_text(broken.read_text().replace("name: p013", "name: P013"))

    code, stdout, stderr = run("graph", str(tmp_path))

    assert code == 1 and stdout == ""
    assert "p013/pipeline.yaml:1:" in stderr


# --- 200 pipelines ----------------------------------------------------------------------


def test_generated_org_every_dependency_is_drawn_once(
    generated: tuple[Path, dict[str, list[str]]], generated_lineage: Lineage
) -> None:
    _, parents_of = generated
    drawn = {(e.parent.name, e.child.name) for e in generated_lineage.edges}
    written = {(p, child) for child, parents in parents_of.items() for p in parents}

    assert len(generated_lineage.nodes) == 200
    assert drawn == written
    assert len(generated_lineage.edges) == len(written)


def test_generated_org_layout_flows_left_to_right_without_overlaps(
    generated_lineage: Lineage,
) -> None:
    plan = layout(generated_lineage)
    boxes = list(plan.boxes.values())

    assert len(boxes) == 200
    for edge in generated_lineage.edges:  # a child is always right of each parent
        assert plan.boxes[edge.child].x > plan.boxes[edge.parent].x
    corners = {(b.x, b.y) for b in boxes}
    assert len(corners) == 200  # same grid, distinct cells: no two boxes overlap
    for box in boxes:
        assert box.x >= 0 and box.x + BOX_WIDTH <= plan.width
        assert box.y >= 0 and box.y + BOX_HEIGHT <= plan.height
        lane = next(lane for lane in plan.lanes if lane.account == box.node.ref.account)
        assert lane.y <= box.y and box.y + BOX_HEIGHT <= lane.y + lane.height


def test_generated_org_mermaid_names_every_pipeline(
    generated: tuple[Path, dict[str, list[str]]],
) -> None:
    code, stdout, _ = run("graph", str(generated[0]))

    assert code == 0
    assert len(re.findall(r'^    n\d+\["p\d{3}', stdout, flags=re.MULTILINE)) == 200
    assert stdout.count("subgraph account_") == len(ACCOUNTS)
    assert "-.->" in stdout and "-->" in stdout  # anyOf dashed, allOf solid


# --- a real browser ---------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
browser = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="headless Chromium not installed (apt-get install chromium); CI installs it",
)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]


def chromium(page: Path, profile: Path, *extra: str) -> str:
    assert CHROMIUM, "CI must install chromium (see .ci/run)"
    result = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def painted(html_file: Path, tmp_path: Path) -> dict[str, tuple[bool, tuple[int, ...]]]:
    """Open the page in Chromium, screenshot it, and return, per pipeline box, whether the
    middle of its account stripe has the account's colour (the box was really painted) and
    the colour of its lower right corner (its fill)."""
    from PIL import Image

    dom = chromium(html_file, tmp_path / "profile-dom", "--dump-dom")
    nodes = re.findall(
        r'<g class="node" data-pipeline="([^"]+)" data-account="(\d+)" data-status="[^"]*" '
        r'data-colour="(#[0-9a-f]{6})" transform="translate\((\d+),(\d+)\)">',
        dom,
    )
    width, height = (
        int(v) for v in re.search(r'<svg id="lineage" width="(\d+)" height="(\d+)"', dom).groups()
    )  # type: ignore[union-attr]
    shot = tmp_path / "shot.png"
    chromium(
        html_file,
        tmp_path / "profile-shot",
        f"--window-size={width},{height}",
        f"--screenshot={shot}",
    )
    image = Image.open(shot).convert("RGB")
    found: dict[str, tuple[bool, tuple[int, ...]]] = {}
    for name, account, colour, x, y in nodes:
        stripe = image.getpixel((int(x) + STRIPE_WIDTH // 2, int(y) + BOX_HEIGHT // 2))
        fill = image.getpixel((int(x) + BOX_WIDTH - 6, int(y) + BOX_HEIGHT - 6))
        found[f"{name}@{account}"] = (close(stripe, rgb(colour)), fill)  # type: ignore[arg-type]
    return found


def rgb(colour: str) -> tuple[int, ...]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def close(pixel: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    return all(abs(a - b) <= 8 for a, b in zip(pixel, expected, strict=True))


def drawn_pipelines(html_file: Path, tmp_path: Path) -> set[str]:
    return {name for name, (stripe, _) in painted(html_file, tmp_path).items() if stripe}


@browser
def test_browser_draws_every_case_study_pipeline(tmp_path: Path) -> None:
    page = tmp_path / "case-study.html"
    assert run("graph", str(CASE_STUDY), "-o", str(page))[0] == 0

    assert drawn_pipelines(page, tmp_path) == {
        "listings@111111111111",
        "searches@222222222222",
        "pipeline-x@333333333333",
    }


@browser
def test_browser_draws_all_200_generated_pipelines(
    generated_lineage: Lineage, tmp_path: Path
) -> None:
    page = tmp_path / "org200.html"
    page.write_text(to_html(generated_lineage))

    assert drawn_pipelines(page, tmp_path) == {n.key for n in generated_lineage.nodes}


def test_graph_of_a_folder_needs_no_aws_libraries() -> None:
    # `dpc graph ORG_DIR` works offline and starts fast: boto3 and CDK stay unimported
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from dpc.cli.app import app\n"
        f"result = CliRunner().invoke(app, ['graph', {str(CASE_STUDY)!r}])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'aws_cdk', 'moto'}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


@browser
def test_browser_paints_each_pipeline_in_the_colour_of_its_state_for_a_period(
    tmp_path: Path,
) -> None:
    # Given day two of the case study as dpc status sees it (dpc graph --central --period)
    from dpc.lineage.render import STATUS_FILLS
    from dpc.triggers.model import ParentRef

    states = {
        ParentRef("listings", "111111111111"): "done",
        ParentRef("searches", "222222222222"): "failed",
        ParentRef("pipeline-x", "333333333333"): "late",
    }
    page = tmp_path / "day.html"
    page.write_text(to_html(build(load_org([CASE_STUDY]).pipelines, states), "the 2026-11-28"))
    # When Chromium draws it, Then every box is filled with its state's colour
    expected = {str(ref): rgb(STATUS_FILLS[state]) for ref, state in states.items()}
    fills = {name: fill for name, (_, fill) in painted(page, tmp_path).items()}
    assert fills.keys() == expected.keys()
    assert all(close(fills[name], expected[name]) for name in expected), fills
    # and the legend names only the states shown
    dom = page.read_text()
    assert ">late</text>" in dom and ">waiting</text>" not in dom


# --- large orgs: one box per account (issue 14 item 4) -----------------------------------


def _big_org(size: int = 2000) -> tuple[Lineage, dict[ParentRef, str]]:
    from dpc.spec.model import Pipeline, Trigger
    from dpc.triggers.model import Condition, Item

    rng = random.Random(11)
    accounts = [f"2000000000{i:02d}" for i in range(25)]
    refs = [ParentRef(f"p{i:04d}", accounts[i % len(accounts)]) for i in range(size)]
    pipelines = []
    for i, ref in enumerate(refs):
        parents = rng.sample(refs[max(0, i - 200) : i], min(i, 2))
        condition = (
            Condition(all_of=tuple(Item(p, frozenset({"SUCCEEDED"})) for p in parents))
            if parents
            else None
        )
        pipelines.append(
            Pipeline(
                name=ref.name, account=ref.account, steps=(), trigger=Trigger(executions=condition)
            )
        )
    states = {ref: rng.choice(["done", "done", "done", "running", "waiting"]) for ref in refs}
    states[refs[1234]] = "failed"
    return build(pipelines, states), states


def test_a_2000_pipeline_org_collapses_to_one_box_per_account_counting_states() -> None:
    from dpc.lineage.graph import collapse

    lineage, states = _big_org()
    collapsed = collapse(lineage)
    assert len(collapsed.nodes) == 25
    totals = sum(int(n.ref.name.split()[0]) for n in collapsed.nodes)
    assert totals == 2000
    failing = [n for n in collapsed.nodes if n.status == "failed"]
    assert [n.ref.account for n in failing] == [list(states)[1234].account]
    assert failing[0].condition is not None and failing[0].condition.startswith("1 failed · ")
    # an edge per pair of accounts, standing for every dependency between them
    across = sum(1 for e in lineage.edges if e.parent.account != e.child.account)
    assert sum(int(e.statuses[0].split()[0]) for e in collapsed.edges) == across
    assert layout(collapsed).width < 1200  # a page wide, where one box each is 20 screens


def test_graph_collapses_on_request_and_beyond_200_pipelines(
    generated: tuple[Path, dict[str, list[str]]],
) -> None:
    code, stdout, _ = run("graph", str(CASE_STUDY), "--collapse", "always", "-f", "json")
    assert code == 0
    assert {n["pipeline"] for n in json.loads(stdout)["nodes"]} == {"1 pipeline"}
    # 200 pipelines are drawn one box each unless asked
    code, stdout, _ = run("graph", str(generated[0]), "-f", "json")
    assert len(json.loads(stdout)["nodes"]) == 200


@browser
def test_browser_draws_every_account_box_of_a_collapsed_2000_pipeline_org(
    tmp_path: Path,
) -> None:
    from dpc.lineage.graph import collapse

    page = tmp_path / "org2000.html"
    page.write_text(to_html(collapse(_big_org()[0]), "2,000 pipelines"))
    assert len(drawn_pipelines(page, tmp_path)) == 25
