"""`dpc --help` is where a newcomer starts: every command gets one line with an example."""

import re

from typer.testing import CliRunner

from dpc.cli.app import app


def test_every_command_is_listed_with_a_one_line_example() -> None:
    # Given the registered commands
    import typer.main

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    # When a user asks for help
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    # Then each command appears with an example of its own use
    assert result.exit_code == 0
    for name in commands:
        line = next(line for line in result.output.splitlines() if re.search(rf"│ {name}\s", line))
        assert f"e.g. dpc {name}" in line, line


def test_every_command_has_its_own_help_with_an_example() -> None:
    import typer.main

    for name in typer.main.get_command(app).commands:  # type: ignore[attr-defined]
        result = CliRunner().invoke(app, [name, "--help"], terminal_width=200)
        assert result.exit_code == 0, name
        assert f"dpc {name}" in result.output, name
