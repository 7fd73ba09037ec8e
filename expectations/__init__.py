"""Data-quality gates (Great Expectations 1.x); the metrics are the dbt model marts.data_quality_history.

Public API::

    run_landed_gate(settings, run_date) -> GateResult   # landed Parquet partitions of run_date
    run_mart_gate(settings, run_date) -> GateResult     # marts.* tables (DuckDB or Spark warehouse)
    assert_passed(result)                                # raises GateFailed on a critical failure

Suites are defined in code (``expectations.suites``), derived from the source contracts for the landed
gate; thresholds live in ``expectations.settings``. Each gate writes, under
``<reports>/<run_date>/``: ``dq_<gate>.html`` (one-page summary), ``dq_<gate>.json`` (counts per
expectation, every result listed). ``<reports>/quality.html`` lists every night. Results keep counts,
never row values.

Great Expectations is imported only when a gate runs, so ``import expectations`` stays cheap.
"""

from __future__ import annotations

from expectations.landed import run_landed_gate
from expectations.marts import run_mart_gate
from expectations.result import GateFailed, GateResult, Issue, assert_passed

__all__ = [
    "GateFailed",
    "GateResult",
    "Issue",
    "assert_passed",
    "run_landed_gate",
    "run_mart_gate",
]
