"""Mart gate: the warehouse's marts (either engine, read-only) against the mart suites."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from cdp.engines import EngineUnavailable, WarehouseError, connect
from expectations.result import GateResult, Issue
from expectations.runner import GxRun
from expectations.settings import CRITICAL
from expectations.suites import DELIVERED, mart_suites

if TYPE_CHECKING:
    from cdp.config import Settings


def run_mart_gate(settings: Settings, run_date: date) -> GateResult:
    """Validate marts.dim_customers, fct_orders, customer_rfm, customer_identity_map and
    restricted.customer_profiles, restricted.audience_contacts.

    On Spark the suites run on Spark DataFrames through GX's Spark data source (the metrics are
    computed by the cluster); on DuckDB on pandas frames of the same queries.
    """

    try:
        # The engine's session first: GX's Spark data source would otherwise start a bare one.
        with connect(settings, read_only=True) as warehouse:
            run = GxRun("marts", settings, run_date, spark=warehouse.spark)
            delivered = _delivered(warehouse)
            for query, suite in mart_suites(run_date, delivered).values():
                try:
                    frame = warehouse.frame(query)
                except WarehouseError as exc:  # missing table or column: the message names it
                    run.add_issue(CRITICAL, Issue(suite.name, "table_readable", None, str(exc)[:200]))
                    continue
                run.validate(suite, frame)
                del frame
    except EngineUnavailable as exc:  # no warehouse yet (DuckDB file missing)
        run = GxRun("marts", settings, run_date)
        run.add_issue(CRITICAL, Issue("marts", "warehouse_exists", None, str(exc)))
    return run.finish(settings)


def _delivered(warehouse) -> dict[str, int]:
    """Rows delivered for each mart whose minimum depends on it (:data:`expectations.suites.DELIVERED`);
    a count that cannot be read is left out (the mart is then held to at least one row)."""

    counts = {}
    for table, query in DELIVERED.items():
        try:
            counts[table] = int(warehouse.row(query)[0] or 0)
        except WarehouseError:
            continue
    return counts
