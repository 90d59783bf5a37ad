"""`dpc graph`, `dpc runs`, `dpc why`: seeing the org, its runs, and why a pipeline ran or not.

Thin: reading lives in dpc.observe (boto3, imported lazily) and drawing in dpc.lineage.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from dpc.cli.console import err, out
from dpc.errors import UsageError


class GraphFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"
    html = "html"
    json = "json"


_SUFFIX_FORMATS = {".html": "html", ".htm": "html", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid"}

Profile = Annotated[
    str | None, typer.Option("--profile", help="AWS named profile (central account).")
]
Region = Annotated[
    str | None,
    typer.Option("--region", help="AWS region (default: AWS_REGION / the profile's)."),
]
EndpointUrl = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        envvar="AWS_ENDPOINT_URL",
        show_envvar=False,
        help="Send AWS calls here instead (e.g. the sandbox). Default: $AWS_ENDPOINT_URL.",
    ),
]

GRAPH_HELP = (
    "Draw the dependency graph: pipelines grouped by account, edges labelled with the "
    "statuses they wait for (allOf solid, anyOf dashed), schedules shown."
)
GRAPH_EPILOG = """Examples:

  dpc graph samples/case-study                  # Mermaid, for Markdown

  dpc graph samples/case-study -o org.html      # one offline page

  dpc graph samples/case-study -f dot | dot -Tsvg > org.svg

  dpc graph --central --profile central -o org.html
"""


def graph(
    org_dir: Annotated[
        Path | None,
        typer.Argument(help="Folder of projects (an org) to draw.", show_default=False),
    ] = None,
    output_format: Annotated[
        GraphFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="mermaid (default), dot (Graphviz), html (one offline file) or json.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to FILE (format from its suffix)."),
    ] = None,
    central: Annotated[
        bool,
        typer.Option("--central", help="Draw the deployed registry, coloured by last status."),
    ] = False,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    from dpc.lineage import render
    from dpc.lineage.graph import build

    if central == (org_dir is not None):
        raise UsageError("give either ORG_DIR or --central (see dpc graph --help)")
    chosen = output_format.value if output_format else None
    if chosen is None and output is not None:
        chosen = _SUFFIX_FORMATS.get(output.suffix.lower())
    chosen = chosen or "mermaid"

    if org_dir is not None:
        from dpc.spec.loader import load_org

        lineage = build(load_org([org_dir]).pipelines)
        title = f"dpc dependency graph — {org_dir.resolve().name}"
    else:
        from dpc.observe.aws import AwsOptions
        from dpc.observe.registry import read_registry

        with err.status("Reading the registry and the last runs…"):
            pipelines, statuses = read_registry(AwsOptions(profile, region, endpoint_url))
        lineage = build(pipelines, statuses)
        title = "dpc dependency graph — deployed registry"

    renderers = {
        "mermaid": render.to_mermaid,
        "dot": render.to_dot,
        "html": lambda lin: render.to_html(lin, title),
        "json": render.to_json,
    }
    text = renderers[chosen](lineage)
    if output is None:
        out.out(text, end="", highlight=False)
        return
    output.write_text(text, encoding="utf-8")
    drawn = sum(1 for node in lineage.nodes if node.declared)
    err.print(f"wrote {output} ({chosen}, {drawn} pipelines, {len(lineage.edges)} dependencies)")


def register(app: typer.Typer) -> None:
    app.command("graph", help=GRAPH_HELP, epilog=GRAPH_EPILOG)(graph)
