"""`dpc create-project`: a new project that passes `dpc validate` as created."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from dpc.errors import DpcError, UsageError

_TEMPLATES = {
    "pipeline.yaml": "pipeline.yaml.tmpl",
    "jobs/aggregate.py": "aggregate.py.tmpl",
    "scripts/export.sh": "export.sh.tmpl",
    "README.md": "README.md.tmpl",
    ".gitignore": "gitignore.tmpl",
}
_EXECUTABLE = ("scripts/export.sh",)

EPILOG = """Examples:

  dpc create-project -n listings --account 111111111111

  dpc create-project -n pipeline-x --dir teams/rent-journey
"""


def create_project(
    name: Annotated[str, typer.Option("--name", "-n", help="The pipeline's name.")],
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to create the project folder NAME.")
    ] = Path("."),
    account: Annotated[
        str | None,
        typer.Option(help="12-digit AWS account id; default: the deploy credentials' account."),
    ] = None,
) -> None:
    """Scaffold a project: pipeline.yaml, a Spark job, a shell step, a README and .gitignore."""
    from dpc.cli.console import err, out

    target = scaffold(name, directory, account)
    out.print(str(target), markup=False)
    err.print(f"created [bold]{name}[/]; next: dpc validate {target}", highlight=False)


def scaffold(name: str, directory: Path, account: str | None) -> Path:
    """Write the project folder ``directory/name``; refuses bad names and existing folders."""
    from importlib import resources

    from dpc.spec.schema import pipeline_schema, schema_path

    name_schema = pipeline_schema()["properties"]["name"]
    if not re.fullmatch(name_schema["pattern"], name):
        raise UsageError(f"invalid name '{name}': use {name_schema['x-rule']}")
    if account is not None and not re.fullmatch(r"[0-9]{12}", account):
        raise UsageError(f"invalid account '{account}': an AWS account id is exactly 12 digits")
    target = directory / name
    if target.exists():
        raise DpcError(f"{target} already exists; choose another name or --dir (nothing written)")
    account_line = (
        f'account: "{account}"'
        if account
        else '# account: "123456789012" # default: the account of the deploy credentials'
    )
    values = {"name": name, "account": account_line, "schema": str(schema_path())}
    templates = resources.files("dpc.cli").joinpath("templates", "project")
    for relative, template in _TEMPLATES.items():
        text = templates.joinpath(template).read_text("utf-8")
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
        if relative in _EXECUTABLE:
            path.chmod(0o755)
    return target


def register(app: typer.Typer) -> None:
    app.command(
        name="create-project",
        short_help="Scaffold a project, e.g. dpc create-project -n listings",
        epilog=EPILOG,
    )(create_project)
