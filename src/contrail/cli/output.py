"""Terminal output for CLI commands (rich tables)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    count = 0
    for row in rows:
        # markup=False via Text: trace content must never be interpreted as rich markup.
        table.add_row(*(_plain(cell) for cell in row))
        count += 1
    # Piped output (scripts, tests) gets wide lines rather than ids folded across rows.
    console = Console() if sys.stdout.isatty() else Console(width=220)
    if count:
        console.print(table)
    else:
        console.print(f"No {title.lower()}.")


def _plain(value: object) -> str:
    from rich.markup import escape

    return escape("" if value is None else str(value))
