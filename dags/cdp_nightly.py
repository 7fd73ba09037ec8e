"""
### CDP nightly

Lands each configured channel's drop for the run's **data date**, gates it with Great Expectations,
builds the customer view and scores with dbt (into the night's build file), gates the marts, exports
the segment files and publishes the warehouse (one rename: readers see the whole night or the last one).

One task per stage of `cdp.stages.STAGES` (the list `cdp run` iterates too), in its order; each calls
the `cdp.pipeline` function of its name, and replaces its own date's partition: clearing a task,
re-running a day or backfilling a range is safe. The CLV fit is its own task between the two halves
of the dbt build. Assets are emitted after the gate that guards them (`cdp_landed` by `gate_landed`,
`cdp_exports` by `export`, `cdp_marts` by `publish_warehouse`).

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
from cdp.stages import STAGES

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


def _call(stage_name: str, context, *args) -> dict:
    from cdp import pipeline
    from cdp.dbt_runner import release

    try:
        return getattr(pipeline, stage_name)(_settings(), _run_date(context), *args)
    finally:
        # The task runner ends with os._exit: dbt's locks are released here, or their tracker logs
        # "leaked semaphore objects" at ERROR in the task log (cdp.dbt_runner.release).
        release()


def _task(stage):
    """One task for one stage of ``cdp.stages.STAGES``, calling the ``cdp.pipeline`` function of its
    name (what ``cdp run`` calls). ``prepare`` returns the configured sources the per-source stage is
    mapped over."""
    outlets = [Asset(stage.asset)] if stage.asset else []
    if stage.per_source:

        def per_source(source: str, **context) -> dict:
            _label(source)
            return _call(stage.name, context, source)

        return task(task_id=stage.name, outlets=outlets, map_index_template=LABEL)(per_source)
    if stage.name == "prepare":

        def prepare(**context) -> list[str]:
            """The sources this retailer has (``<home>/config/cdp.yml``, read when the run starts) and
            the night's housekeeping (:func:`cdp.pipeline.prepare`)."""
            return _call("prepare", context)["sources"]

        return task(task_id=stage.name, outlets=outlets)(prepare)

    def run_stage(**context) -> dict:
        return _call(stage.name, context)

    return task(task_id=stage.name, outlets=outlets)(run_stage)


@task.sensor(mode="reschedule", poke_interval=POKE_SECONDS, map_index_template=LABEL)
def wait_for_drop(source: str, **context):
    """Waits for the source's drop for the run's data date (before its ``ingest_source`` task)."""
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
    previous = None
    for stage in STAGES:
        if stage.per_source:
            sources = previous  # the sources prepare returned: one mapped task per source
            waited = wait_for_drop.expand(source=sources)
            current = _task(stage).expand(source=sources)
            waited >> current
        else:
            current = _task(stage)()
            if previous is not None:
                previous >> current
        previous = current


cdp_nightly()
