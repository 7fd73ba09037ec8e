"""
### CDP nightly

Lands each configured channel's drop for the run's **data date**, gates it with Great Expectations,
builds the customer view and scores with dbt (into the night's build file), gates the marts, exports
the segment files and publishes the warehouse (one rename: readers see the whole night or the last one).

Every task calls a function of `cdp.pipeline`, the same functions `cdp run` calls, and every task
replaces its own date's partition: clearing a task, re-running a day or backfilling a range is safe.

* **Which day a run processes.** The schedule is a data-interval timetable (midnight to midnight in
  `CDP_SCHEDULE_TIMEZONE`, default UTC): the run for day D is created when D has ended and processes D,
  its `data_interval_start`; the run is labelled with D (`scheduled__D`, `cdp.scheduling`). A manual
  run processes the last complete day before it was triggered, or `params.run_date` when given.
* **Drops that are late.** `wait_for_drop` pokes (reschedule mode, every `CDP_DROP_POKE_SECONDS`) until
  the source's files for D are there, and fails that source with a clear message once
  `drop_wait.timeout_minutes` (the home's `config/cdp.yml`) have passed since D ended.
* State: `$CDP_HOME` (lake, warehouse, exports, reports, logs); raw drops: `$CDP_RAW`.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Asset, Param, dag, task

from cdp.scheduling import NightlyTimetable

LANDED = Asset("cdp_landed")
MARTS = Asset("cdp_marts")
EXPORTS = Asset("cdp_exports")
SCHEDULE_TIMEZONE = os.environ.get("CDP_SCHEDULE_TIMEZONE", "UTC")
POKE_SECONDS = int(os.environ.get("CDP_DROP_POKE_SECONDS", "300"))
# A label that cannot be rendered must not fail the task: default to nothing.
LABEL = "{{ source_name | default('') }}"


def _run_date(context) -> object:
    """The data date this run processes, as a ``datetime.date`` (see the DAG's doc)."""
    from datetime import date

    override = (context.get("params") or {}).get("run_date")
    if override:
        return date.fromisoformat(override)
    start = context.get("data_interval_start")
    if start is None:  # a run without a data interval: the day before it was allowed to run
        start = context["dag_run"].run_after - timedelta(days=1)
    return pendulum.instance(start).in_timezone(SCHEDULE_TIMEZONE).date()


def _settings():
    from cdp.config import Settings
    from cdp.logs import configure

    settings = Settings.load().ensure()
    configure(settings)
    return settings


def _label(source: str) -> None:
    """Mapped tasks show the source's name in the UI (``map_index_template``): the template is rendered
    from the task's current context, which is not the ``**context`` dict a callable receives."""
    from airflow.sdk import get_current_context

    get_current_context()["source_name"] = source


@dag(
    dag_id="cdp_nightly",
    schedule=NightlyTimetable("0 0 * * *", timezone=SCHEDULE_TIMEZONE),
    start_date=pendulum.datetime(2026, 1, 1, tz=SCHEDULE_TIMEZONE),
    catchup=False,
    max_active_runs=1,
    tags=["cdp", "nightly"],
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={"run_date": Param(None, type=["null", "string"], description="YYYY-MM-DD override")},
    doc_md=__doc__,
)
def cdp_nightly():
    @task
    def prepare(**context) -> list[str]:
        """The sources this retailer has (``<home>/config/cdp.yml``, read when the run starts) and the
        night's housekeeping (:func:`cdp.pipeline.prepare`)."""
        from cdp import pipeline

        return pipeline.prepare(_settings(), _run_date(context))["sources"]

    @task.sensor(mode="reschedule", poke_interval=POKE_SECONDS, map_index_template=LABEL)
    def wait_for_drop(source: str, **context):
        from airflow.sdk import PokeReturnValue

        from cdp import pipeline

        _label(source)
        settings = _settings()
        day = _run_date(context)
        missing = pipeline.missing_drop_files(settings, day, source)
        if not missing:
            return PokeReturnValue(is_done=True)
        ended = context.get("data_interval_end") or context["dag_run"].run_after
        waited = pendulum.now("UTC") - pendulum.instance(ended)
        if waited >= timedelta(minutes=settings.site.drop_wait_timeout_minutes):
            from airflow.exceptions import AirflowFailException

            raise AirflowFailException(pipeline.missing_drop_message(settings, day, source, missing))
        return PokeReturnValue(is_done=False)

    @task(outlets=[LANDED], map_index_template=LABEL)
    def ingest_source(source: str, **context) -> dict:
        from cdp import pipeline

        _label(source)
        return pipeline.ingest_source(_settings(), _run_date(context), source)

    @task
    def gate_landed(**context) -> dict:
        from cdp import pipeline

        return pipeline.gate_landed(_settings(), _run_date(context))

    @task
    def dbt_build(**context) -> dict:
        from cdp import pipeline

        return pipeline.build_warehouse(_settings(), _run_date(context))

    @task(outlets=[MARTS])
    def gate_marts(**context) -> dict:
        from cdp import pipeline

        return pipeline.gate_marts(_settings(), _run_date(context))

    @task(outlets=[EXPORTS])
    def export(**context) -> dict:
        from cdp import pipeline

        return pipeline.export(_settings(), _run_date(context))

    @task
    def publish(**context) -> dict:
        from cdp import pipeline

        return pipeline.publish_warehouse(_settings(), _run_date(context))

    @task
    def report(**context) -> dict:
        from cdp import pipeline

        return pipeline.write_report(_settings(), _run_date(context))

    sources = prepare()
    waited = wait_for_drop.expand(source=sources)
    landed = ingest_source.expand(source=sources)
    waited >> landed
    landed >> gate_landed() >> dbt_build() >> gate_marts() >> export() >> publish() >> report()


cdp_nightly()
