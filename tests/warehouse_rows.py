"""What two runs are compared by: every mart's rows and every export file's bytes (DuckDB warehouse)."""

from __future__ import annotations

from datetime import date

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
    """Every file of the day's published exports, by path inside the day's folder."""
    folder = settings.exports / day.isoformat()
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*.*"))}
