"""What two runs are compared by: every mart's rows and every export file's bytes (DuckDB warehouse)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb

from cdp.config import Settings


def mart_rows(settings: Settings, as_of: date) -> dict[str, list[tuple]]:
    """Every mart's rows (marts and restricted); history marts only up to ``as_of`` (they keep every
    run date by design)."""
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        tables = {
            row[1]: row[0]
            for row in con.sql(
                "select table_schema, table_name from information_schema.tables "
                "where table_schema in ('marts', 'restricted') order by 1, 2"
            ).fetchall()
        }
        return {
            table: con.execute(
                f"select * from {schema}.{table} " + _history_filter(table, as_of) + "order by all"
            ).fetchall()
            for table, schema in tables.items()
        }


def _history_filter(table: str, as_of: date) -> str:
    if table.endswith("_history"):
        return f"where as_of_date <= '{as_of}' "
    if table == "clv_model_runs":
        return f"where run_date <= '{as_of}' "
    return ""


def export_files(settings: Settings, day: date) -> dict[str, bytes]:
    """Every file of the day's published exports, by path inside the day's folder; the manifest without
    ``generated_at`` (the one value that depends on the clock: when the files were written)."""
    folder = settings.exports / day.isoformat()
    return {str(path.relative_to(folder)): without_clock(path) for path in sorted(folder.rglob("*.*"))}


def without_clock(path: Path) -> bytes:
    """A file's bytes; for an export manifest, its JSON without ``generated_at``."""
    if path.name != "manifest.json":
        return path.read_bytes()
    manifest = json.loads(path.read_text(encoding="utf-8"))
    assert manifest.pop("generated_at", None), f"{path}: no generated_at"
    return json.dumps(manifest, indent=2, sort_keys=True).encode()
