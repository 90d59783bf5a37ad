"""The `dpc` command line: one thin module per command group, registered here.

Command modules import nothing heavy at module level (aws_cdk, boto3, moto are imported
inside the commands), so `dpc --help` and `dpc validate` start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    # typer 0.28 vendors click: its commands are invoked with typer._click.Context, a class of
    # its own, not click.Context (there is no public name for it).
    from typer import _click

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
    """Maps domain errors to exit codes in one place, for real runs and CliRunner alike.

    An error that comes back from an AWS endpoint (botocore's client, parser and connection
    errors) is a fact about that endpoint, not a bug of dpc: one line, exit code 1, never
    a traceback, wherever in a command it surfaces."""

    def invoke(self, ctx: _click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DpcError as error:
            _fail(str(error), error.exit_code)
        except Exception as error:
            if not type(error).__module__.startswith("botocore."):
                raise
            _fail(f"AWS: {_one_line(error)}", 1)

    def list_commands(self, ctx: _click.Context) -> list[str]:
        # Keep the order in which commands are registered (a user's workflow), not alphabetical.
        return list(self.commands)


def _one_line(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        operation = getattr(error, "operation_name", "the call")
        details = response["Error"]
        return f"{operation} failed: {details.get('Code', '')}: {details.get('Message', '')}"
    return " ".join(str(error).split())


def _fail(message: str, exit_code: int) -> Any:
    from rich.markup import escape

    from dpc.cli.console import err

    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(exit_code) from None


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
