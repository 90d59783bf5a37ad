"""`dpc validate` and `dpc schema`: no AWS, no CDK — they must answer in a blink."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from dpc.spec.loader import Validation

VALIDATE_HELP = (
    "Check pipeline.yaml files: one project, a pipeline.yaml, or a folder of projects.\n\n"
    "Every problem is reported at once as FILE:LINE:COL: field.path: message. When more than "
    "one pipeline is found they are also checked against each other: parents that no pipeline "
    "defines (same name and account), dependency cycles, a name and account used twice.\n\n"
    "Exit code 0 when everything is valid, 1 when not, 2 on bad command-line use."
)

VALIDATE_EPILOG = """Examples:

  dpc validate                          # the project in the current folder

  dpc validate samples/case-study       # every project below a folder

  dpc validate --json pipeline.yaml     # findings as data, for tools
"""


def validate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Project folders, pipeline.yaml files or folders of projects [default: .]",
            exists=True,
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON on stdout.")
    ] = False,
) -> None:
    from dpc.cli.console import err, out
    from dpc.spec.loader import validate_paths
    from dpc.spec.org import ref_of, show

    validation = validate_paths(paths or [Path(".")])
    if as_json:
        typer.echo(json.dumps(_as_data(validation), indent=2))
    elif validation.ok:
        for pipeline in validation.pipelines:
            out.print(f"ok  {pipeline.source}  {show(ref_of(pipeline))}", markup=False)
        count = len(validation.pipelines)
        err.print(f"[green]{count} pipeline{'s' if count != 1 else ''} valid[/]")
    else:
        for finding in validation.findings:
            out.print(str(finding), markup=False)
        bad_files = len({finding.file for finding in validation.findings})
        count = len(validation.findings)
        err.print(
            f"[red]{count} problem{'s' if count != 1 else ''} in {bad_files} "
            f"file{'s' if bad_files != 1 else ''}[/]"
        )
    raise typer.Exit(0 if validation.ok else 1)


def _as_data(validation: Validation) -> dict[str, Any]:
    from dpc.spec.org import ref_of, show

    return {
        "valid": validation.ok,
        "files": [str(file.source) for file in validation.files],
        "pipelines": [
            {
                "name": pipeline.name,
                "account": pipeline.account,
                "file": str(pipeline.source),
                "schedule": pipeline.trigger.schedule.expression
                if pipeline.trigger.schedule
                else None,
                "parents": [
                    {"name": parent.name, "account": parent.account}
                    for parent in (
                        pipeline.trigger.executions.parents if pipeline.trigger.executions else ()
                    )
                ],
                "ref": show(ref_of(pipeline)),
            }
            for pipeline in validation.pipelines
        ],
        "findings": [finding.to_dict() for finding in validation.findings],
    }


SCHEMA_EPILOG = """Examples:

  dpc schema > pipeline.schema.json

  dpc schema --path      # for the '# yaml-language-server: $schema=...' line
"""


def schema(
    path: Annotated[
        bool, typer.Option("--path", help="Print where the installed schema file is instead.")
    ] = False,
) -> None:
    """Print the JSON Schema of pipeline.yaml (for editors, CI and code generators)."""
    from dpc.spec.schema import schema_path, schema_text

    typer.echo(str(schema_path()) if path else schema_text(), nl=path)


def register(app: typer.Typer) -> None:
    app.command(
        name="validate",
        help=VALIDATE_HELP,
        short_help="Check pipeline.yaml files, e.g. dpc validate samples/case-study",
        epilog=VALIDATE_EPILOG,
    )(validate)
    app.command(
        name="schema",
        short_help="Print the JSON Schema of pipeline.yaml, e.g. dpc schema > schema.json",
        epilog=SCHEMA_EPILOG,
    )(schema)
