"""The `dpc` command line: one thin module per command group, registered here.

Command modules import nothing heavy at module level (aws_cdk, boto3, moto are imported
inside the commands), so `dpc --help` and `dpc validate` start fast.
"""

from __future__ import annotations

import importlib
from typing import Any

import click
import typer
from typer.core import TyperGroup

from dpc import __version__
from dpc.errors import DpcError

# Each module defines `register(app: typer.Typer) -> None`.
COMMAND_MODULES: tuple[str, ...] = (
    "project",
    "validate",
    "infra_cmds",
    "observe",
    "simulate",
    "run_cmds",
    "recovery_cmds",
    "sandbox_cmds",
)


class DpcGroup(TyperGroup):
    """Maps domain errors to exit codes in one place, for real runs and CliRunner alike."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DpcError as error:
            from rich.markup import escape

            from dpc.cli.console import err

            err.print(f"[bold red]error:[/] {escape(str(error))}")
            raise typer.Exit(error.exit_code) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        # Keep the order in which commands are registered (a user's workflow), not alphabetical.
        return list(self.commands)


app = typer.Typer(
    name="dpc",
    cls=DpcGroup,
    help="Data pipelines in every team's AWS account, triggered across accounts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dpc {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Data pipelines in every team's AWS account, triggered across accounts."""


for _module in COMMAND_MODULES:
    importlib.import_module(f"dpc.cli.{_module}").register(app)


def main() -> None:
    app()
