"""
### CDP nightly

Lands each channel's drop for the run's logical date, gates it with Great Expectations, builds the
customer view and scores with dbt (DuckDB), gates the marts and exports the segment files.

Every task calls a function of `cdp.pipeline`, the same functions `cdp run` calls, and every task
replaces its own date's partition: clearing a task, re-running a day or backfilling a range is safe.

* State: `$CDP_HOME` (lake, warehouse, exports, reports, logs); raw drops: `$CDP_RAW`.
* Run date: `params.run_date` when given (manual runs), else the run's logical date
  (the day whose data the run processes; a daily run for day D starts after D ends).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, Param, dag, task

SOURCES = ["pos", "ecommerce", "social", "messaging"]  # kept in step with cdp.config.SOURCES (tested)
LANDED = Asset("cdp_landed")
MARTS = Asset("cdp_marts")
EXPORTS = Asset("cdp_exports")


def _run_date(context) -> object:
    """The logical date this run processes, as a ``datetime.date``."""
    from datetime import date

    override = (context.get("params") or {}).get("run_date")
    if override:
        return date.fromisoformat(override)
    logical = context.get("logical_date")
    if logical is not None:
        return logical.date()
    return context["dag_run"].run_after.date() - timedelta(days=1)


def _settings():
    from cdp.config import Settings
    from cdp.logs import configure

    settings = Settings.load().ensure()
    configure(settings)
    return settings


@dag(
    dag_id="cdp_nightly",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["cdp", "nightly"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={"run_date": Param(None, type=["null", "string"], description="YYYY-MM-DD override")},
    doc_md=__doc__,
)
def cdp_nightly():
    @task(outlets=[LANDED])
    def ingest_source(source: str, **context) -> dict:
        from cdp import pipeline

        return pipeline.ingest_source(_settings(), _run_date(context), source)

    @task
    def gate_landed(**context) -> dict:
        from cdp import pipeline

        return pipeline.gate_landed(_settings(), _run_date(context))

    @task(outlets=[MARTS])
    def dbt_build(**context) -> dict:
        from cdp import pipeline

        return pipeline.build_warehouse(_settings(), _run_date(context))

    @task
    def gate_marts(**context) -> dict:
        from cdp import pipeline

        return pipeline.gate_marts(_settings(), _run_date(context))

    @task(outlets=[EXPORTS])
    def export(**context) -> dict:
        from cdp import pipeline

        return pipeline.export(_settings(), _run_date(context))

    @task
    def report(**context) -> dict:
        from cdp import pipeline

        return pipeline.write_report(_settings(), _run_date(context))

    landed = ingest_source.expand(source=SOURCES)
    landed >> gate_landed() >> dbt_build() >> gate_marts() >> export() >> report()


cdp_nightly()
