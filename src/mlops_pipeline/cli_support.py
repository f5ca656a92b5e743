"""What every command shares: user errors as one line and exit 1, tables on the terminal."""

from __future__ import annotations

from typing import Iterable, Sequence

import click

from mlops_pipeline.errors import PipelineError


class _UserErrors:
    """Turn a PipelineError into click's one-line ``Error: ...`` and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except PipelineError as error:
            raise click.ClickException(error.headline) from None


class UserErrorCommand(_UserErrors, click.Command):
    pass


class UserErrorGroup(_UserErrors, click.Group):
    pass


def echo_table(headers: Sequence[str], rows: Iterable[Sequence[object]], title: str | None = None) -> None:
    """A readable table on a terminal; aligned plain columns, never truncated, when piped."""
    from rich.console import Console
    from rich.table import Table

    rows = [[str(cell) for cell in row] for row in rows]
    console = Console(soft_wrap=False)
    if not console.is_terminal:
        widths = [max(len(str(h)), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        if title:
            click.echo(title)
        for line in [list(headers)] + rows:
            click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
        return
    table = Table(*headers, title=title, show_lines=False)
    for row in rows:
        table.add_row(*row)
    console.print(table)
