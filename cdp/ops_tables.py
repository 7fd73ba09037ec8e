"""The pipeline's own history tables (schema ``ops``), written by the steps after the dbt build.

One row set per run date: a re-run replaces its date (``Warehouse.replace_date_slice``); on Spark
they are Parquet tables partitioned by ``run_date``. dbt creates the same tables at the start of every
build (dbt_project/macros/ops_tables.sql) because ``campaign_results`` reads them back; the steps
create them too, so they also run against a warehouse that was not built by dbt (tests, a restore).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cdp.engines import Warehouse

# Types in the spelling both engines accept.
OPS_TABLES: dict[str, list[tuple[str, str]]] = {
    "ops.segment_membership": [
        ("run_date", "date"), ("segment", "string"), ("customer_id", "string"), ("is_control", "boolean"),
        ("definition_hash", "string"),
    ],
    "ops.segment_runs": [
        ("run_date", "date"), ("segment", "string"), ("definition_hash", "string"), ("members", "bigint"),
        ("control", "bigint"), ("control_share", "double"), ("measurement_window_days", "integer"),
    ],
    "ops.segment_exports": [
        ("run_date", "date"), ("segment", "string"), ("destination", "string"), ("file", "string"),
        ("rows", "bigint"), ("added", "bigint"), ("removed", "bigint"), ("sha256", "string"),
        ("definition_hash", "string"),
    ],
}


def ensure_ops_tables(warehouse: Warehouse, *tables: str) -> None:
    """Create the named ops tables where missing (never altered or emptied here)."""
    for table in tables:
        warehouse.ensure_table(table, OPS_TABLES[table], partition="run_date")
