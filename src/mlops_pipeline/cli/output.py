"""How commands print: a console for live output, and tables that stay whole when piped."""

from __future__ import annotations

from typing import Iterable, Sequence

import click


def console():
    """The terminal console of a command (rich is imported only by commands that print through it)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


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
