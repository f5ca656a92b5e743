"""How commands print: a console for live output, and tables that stay whole when piped."""

from __future__ import annotations

import os
import sys
from typing import Iterable, Sequence

import click


def console():
    """The terminal console of a command (rich is imported only by commands that print through it)."""
    from rich.console import Console

    class CommandConsole(Console):
        def on_broken_pipe(self) -> None:
            """The reader went away (``| head``): what is printed from now on is dropped, and the command goes
            on to its end. rich would raise SystemExit in the printing thread, which, in a job's thread, ended
            the thread and left its execution running for ever."""
            self.quiet = True
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    return CommandConsole(highlight=False, soft_wrap=True)


def echo_table(headers: Sequence[str], rows: Iterable[Sequence[object]], title: str | None = None) -> None:
    """A readable table on a terminal; aligned plain columns, never truncated, when piped."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    rows = [[str(cell) for cell in row] for row in rows]
    terminal = Console(soft_wrap=False)
    if not terminal.is_terminal:
        widths = [max(len(str(h)), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        if title:
            click.echo(title)
        for line in [list(headers)] + rows:
            click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        return
    table = Table(*headers, title=title, show_lines=False)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # printed literally, never as markup
    terminal.print(table)
