"""The nightly schedule as Airflow sees it: one data interval per day, each run named after its day.

``NightlyTimetable`` is Airflow's ``CronDataIntervalTimetable`` (midnight to midnight, so the run for
day D is created when D has ended and its ``data_interval_start`` is D) with one change: its run ids
carry the day the run processes (``scheduled__2026-12-05``), not the time it was allowed to start
(Airflow 3 names runs after ``run_after``, the next midnight), so the UI's run list reads as the days
of data it holds. A custom timetable must be registered with Airflow to be serialized; the ``cdp``
package registers it through the ``airflow.plugins`` entry point (pyproject.toml), so every Airflow
process that has the package installed knows it, with no plugins folder to configure.

Only Airflow imports this module (the DAG and the plugin loader); nothing else in ``cdp`` does.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin
from airflow.timetables.interval import CronDataIntervalTimetable


class NightlyTimetable(CronDataIntervalTimetable):
    """Midnight-to-midnight data intervals; run ids name the day processed."""

    def generate_run_id(self, *, run_type: Any, run_after: Any, data_interval: Any, **extra: Any) -> str:
        if data_interval is None:
            return super().generate_run_id(
                run_type=run_type, run_after=run_after, data_interval=data_interval, **extra
            )
        day = data_interval.start.in_timezone(self._timezone).date().isoformat()
        return run_type.generate_run_id(suffix=day)

    @property
    def summary(self) -> str:
        return "nightly: the day that ended"


class CdpPlugin(AirflowPlugin):
    """Registers :class:`NightlyTimetable` with Airflow (entry point ``airflow.plugins``)."""

    name = "cdp"
    timetables = [NightlyTimetable]  # noqa: RUF012 - Airflow reads a class attribute list
