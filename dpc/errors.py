"""Domain errors. The CLI maps them to exit codes in one place (dpc.cli.app.DpcGroup)."""

from __future__ import annotations


class DpcError(Exception):
    """An error the user can fix: printed without a traceback, exit code 1."""

    exit_code = 1


class UsageError(DpcError):
    """Bad command-line use: exit code 2."""

    exit_code = 2
