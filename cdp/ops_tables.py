"""The pipeline's own history tables (schema ``ops``), written by the steps after the dbt build.

One row set per run date: a re-run replaces its date (``Warehouse.replace_date_slice``); on Spark
they are Parquet tables partitioned by ``run_date``. Their columns and types have one owner, the dbt
source that declares them (``dbt_project/models/staging/ops/_ops__sources.yml``): dbt creates them
from it at the start of every build (macro ``create_ops_tables``) because ``campaign_results`` reads
them back, and the steps create them from it too, so they also run against a warehouse that was not
built by dbt (tests, a restore).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import yaml

from cdp.config import DBT_PROJECT_DIR

if TYPE_CHECKING:
    from cdp.engines import Warehouse

OPS_SOURCES = DBT_PROJECT_DIR / "models" / "staging" / "ops" / "_ops__sources.yml"


@cache
def ops_tables() -> dict[str, list[tuple[str, str]]]:
    """``ops.<table>`` -> [(column, type)] as the source declares them (type names both engines accept)."""
    doc = yaml.safe_load(OPS_SOURCES.read_text(encoding="utf-8"))
    (source,) = [s for s in doc["sources"] if s["name"] == "ops"]
    return {
        f"ops.{table['name']}": [(column["name"], column["data_type"]) for column in table["columns"]]
        for table in source["tables"]
    }


def ensure_ops_tables(warehouse: Warehouse, *tables: str) -> None:
    """Create the named ops tables where missing (never altered or emptied here)."""
    for table in tables:
        warehouse.ensure_table(table, ops_tables()[table], partition="run_date")
