"""Mart gate: the warehouse's marts (read-only DuckDB connection) against the mart suites."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from expectations.result import GateResult, Issue
from expectations.settings import CRITICAL

if TYPE_CHECKING:
    from cdp.config import Settings


def run_mart_gate(settings: Settings, run_date: date) -> GateResult:
    """Validate marts.dim_customers, fct_orders, customer_rfm, customer_identity_map and
    restricted.customer_profiles, restricted.audience_contacts."""
    import duckdb

    from expectations.runner import GxRun
    from expectations.suites import mart_suites

    run = GxRun("marts", settings, run_date)
    if not settings.warehouse.exists():
        run.add_issue(CRITICAL, Issue("marts", "warehouse_exists", None, "no warehouse file"))
        return run.finish(settings)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        for query, suite in mart_suites(run_date).values():
            try:
                df = con.sql(query).df()
            except duckdb.Error as exc:  # missing table or column: message names it, holds no values
                message = str(exc).splitlines()[0][:200]
                run.add_issue(CRITICAL, Issue(suite.name, "table_readable", None, message))
                continue
            run.validate(suite, df)
            del df
    return run.finish(settings)
