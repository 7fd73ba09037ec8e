"""Query results printed for a person: ``cdp query`` and ``cdp shell`` share this one display.

Every value is printed whole (an id can be copied into ``cdp explain``), numbers are right-aligned,
and a result wider than the terminal comes as one block per record instead of a table of
box-drawing characters. Values are printed as text, never as console markup: a value such as
``[bold]`` is data.
"""

from __future__ import annotations

import sys
from enum import StrEnum

import pyarrow as pa
from rich.console import Console
from rich.markup import escape
from rich.table import Table


class OutputFormat(StrEnum):
    auto = "auto"
    table = "table"
    vertical = "vertical"
    csv = "csv"


def print_result(result: pa.Table, output: OutputFormat, out: Console | None = None) -> None:
    """Print ``result`` as a table, one block per record (``vertical``, or ``auto`` when too wide) or
    CSV on standard output."""
    if output is OutputFormat.csv:
        import pyarrow.csv as pa_csv

        if result.num_columns:
            pa_csv.write_csv(result, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        return
    out = out or Console()
    names = result.column_names
    rows = [["" if value is None else str(value) for value in row.values()] for row in result.to_pylist()]
    numeric = [
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
        for t in result.schema.types
    ]
    widths = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(names)]
    too_wide = sum(widths) + 3 * len(widths) > out.width
    if output is OutputFormat.vertical or (output is OutputFormat.auto and too_wide):
        label = max((len(name) for name in names), default=0)
        for number, row in enumerate(rows, start=1):
            out.print(f"-[ record {number} ]" + "-" * max(0, min(out.width, 60) - 14), highlight=False)
            for i, name in enumerate(names):
                value = row[i].rjust(widths[i]) if numeric[i] else row[i]
                out.print(escape(f"{name.ljust(label)} | {value}"), soft_wrap=True, highlight=False)
        out.print(_count(rows), highlight=False)
        return
    table = Table(show_edge=False)
    for i, name in enumerate(names):
        justify = "right" if numeric[i] else "left"
        table.add_column(escape(name), justify=justify, no_wrap=True, overflow="fold")
    for row in rows:
        table.add_row(*(escape(value) for value in row))
    out.print(table, soft_wrap=True)
    out.print(_count(rows), highlight=False)


def _count(rows: list[list[str]]) -> str:
    return f"({len(rows)} row{'s' if len(rows) != 1 else ''})"
