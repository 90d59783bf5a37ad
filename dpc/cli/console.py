"""Consoles: data on stdout, everything for humans (progress, errors) on stderr.

Rich only colours a terminal, so piped output stays plain.
"""

from __future__ import annotations

from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
