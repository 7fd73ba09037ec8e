"""The nightly pipeline as plain functions: the CLI and the Airflow DAG call exactly these.

Each step reads and writes one logical date's partition and replaces what a previous attempt wrote,
so a step (or the whole run) can be retried or re-run for a date without doubling anything. Steps
return small JSON-able dicts (counts, paths): Airflow passes them as XComs, the CLI prints them.
No step returns or logs personal data.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import expectations
import exports
import ingest
from cdp import publish, report, warehouse
from cdp.config import SOURCES, Settings
from cdp.dbt_runner import WarehouseBuildError
from cdp.identity.nightly import fit_for_date as identity_fit
from cdp.lock import home_lock
from cdp.stages import STAGES
from ingest import load_contract
from ingest.retention import expire_quarantine

log = logging.getLogger(__name__)


class StorageFull(OSError):
    """A step ran out of disk space (or met a read-only disk); nothing of it was published."""

    def __str__(self) -> str:
        return str(self.strerror)


def _locked(command: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Run a step under the home's write lock (:mod:`cdp.lock`): a second command refuses, naming this
    one; ``cdp run`` holds the lock across its steps (the lock is re-entrant in a process). A full or
    read-only disk becomes one line (:class:`StorageFull`): every step stages its output and publishes
    it whole, so what it had written is not visible."""

    def wrap(step: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        @functools.wraps(step)
        def locked(settings: Settings, run_date: date, *args: Any) -> dict[str, Any]:
            with home_lock(settings.home, f"{command} for {run_date.isoformat()}"):
                try:
                    return step(settings, run_date, *args)
                except OSError as exc:
                    if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
                        raise
                    raise _storage_full(settings, command, run_date, exc.errno) from None
                except WarehouseBuildError as exc:
                    # The engine ran out of space inside dbt: its message says so, not an OSError.
                    if "no space left on device" not in str(exc).lower():
                        raise
                    raise _storage_full(settings, command, run_date, errno.ENOSPC) from None

        return locked

    return wrap


def _storage_full(settings: Settings, command: str, run_date: date, number: int) -> StorageFull:
    return StorageFull(
        number,
        f"{command} for {run_date.isoformat()} stopped: {os.strerror(number).lower()} "
        f"under {settings.home}; nothing of this step was published (free space and re-run)",
    )


def expected_drop_files(settings: Settings, source: str) -> list[str]:
    """The files a configured source delivers each night (its configured entities' files)."""

    wanted = settings.site.sources[source].entities if source in settings.site.sources else None
    # An optional entity (a feed added later, D60) is waited for only when the settings file names it.
    return [
        e.file for e in load_contract(source).entities
        if (e.name in wanted if wanted is not None else not e.optional)
    ]


def missing_drop_files(settings: Settings, run_date: date, source: str) -> list[str]:
    """The files of ``source``'s drop for ``run_date`` that are not there yet (empty: it has arrived)."""
    folder = settings.raw / source / run_date.isoformat()
    return [name for name in expected_drop_files(settings, source) if not (folder / name).is_file()]


def missing_drop_message(settings: Settings, run_date: date, source: str, missing: list[str]) -> str:
    """One line for a drop that did not arrive in time (names the source, the day and the files)."""
    folder = settings.raw / source / run_date.isoformat()
    minutes = settings.site.drop_wait_timeout_minutes
    return (
        f"{source}: the drop for {run_date.isoformat()} did not arrive within {minutes} minutes after the "
        f"day ended: {folder} is missing {', '.join(missing)}"
    )


@_locked("preparing the night")
def prepare(settings: Settings, run_date: date) -> dict[str, Any]:
    """Before the sources land: the configured sources (what the night maps over), empty partitions
    for the shipped sources this retailer does not have (the settings file's ``sources``: nobody
    fabricates files for a channel they lack), and housekeeping that must not wait for a source
    (quarantined raw text past its retention is dropped)."""

    settings.ensure()
    absent = [source for source in SOURCES if source not in settings.sources]
    for source in absent:  # empty partitions with the contract's schema: the models see no rows
        ingest.land_source(settings, source, run_date, absent=True)
    return {
        "sources": list(settings.sources),
        "absent_sources": absent,
        "quarantine_raw_expired": expire_quarantine(settings, run_date),
    }


@_locked("ingest")
def ingest_source(settings: Settings, run_date: date, source: str) -> dict[str, Any]:
    """Land one source's drop for ``run_date`` as Parquet (quarantining bad rows)."""

    return ingest.land_source(settings.ensure(), source, run_date).to_dict()


@_locked("the landed gate")
def gate_landed(settings: Settings, run_date: date) -> dict[str, Any]:
    """Great Expectations on today's landed partitions; raises ``GateFailed`` on a critical failure."""

    result = expectations.run_landed_gate(settings, run_date)
    expectations.assert_passed(result)
    return result.to_dict()


@_locked("the dbt build of the identity inputs")
def build_identity_inputs(settings: Settings, run_date: date) -> dict[str, Any]:
    """``dbt build`` of what the identity fit reads (identity records, candidate and sampled pairs), as
    of ``run_date``, into the night's build file (:mod:`cdp.publish`): a copy of the published
    warehouse, so readers of the published one neither block nor see it. Starts the night's build file."""
    return warehouse.build_identity_inputs(publish.begin(settings), run_date).to_dict()


@_locked("the identity fit")
def fit_identity(settings: Settings, run_date: date) -> dict[str, Any]:
    """The match model re-estimated on tonight's records when due, or the reason it was not
    (:mod:`cdp.identity.nightly`); recorded in the build file."""
    return identity_fit(publish.current(settings), run_date)


@_locked("the dbt build")
def build_models(settings: Settings, run_date: date) -> dict[str, Any]:
    """``dbt build`` of every other model that does not read the CLV fit (scoring with the night's match
    model, clustering, orders, customers ...) in the build file."""
    return warehouse.build_models(publish.current(settings), run_date).to_dict()


@_locked("the CLV fit")
def fit_clv(settings: Settings, run_date: date) -> dict[str, Any]:
    """BG/NBD and Gamma-Gamma fitted on the statistics :func:`build_models` aggregated (schema clv_fit)."""
    return warehouse.fit_clv(publish.current(settings), run_date)


@_locked("the dbt build of the value marts")
def build_value_models(settings: Settings, run_date: date) -> dict[str, Any]:
    """``dbt build`` of what reads the CLV fit (CLV, value marts, campaign results) in the build file."""
    return warehouse.build_value_models(publish.current(settings), run_date).to_dict()


@_locked("the mart gate")
def gate_marts(settings: Settings, run_date: date) -> dict[str, Any]:
    """Great Expectations on the night's marts (the build file); raises ``GateFailed`` on a critical
    failure. The night's data-quality metrics are a dbt model (``marts.data_quality_history``)."""
    result = expectations.run_mart_gate(publish.current(settings), run_date)
    expectations.assert_passed(result)
    return result.to_dict()


@_locked("the export")
def export(settings: Settings, run_date: date) -> dict[str, Any]:
    """Write every segment's destination files for ``run_date`` and publish them atomically (their
    history goes into the night's build, published with it)."""

    run = exports.export_segments(publish.current(settings), run_date)
    return {
        "files": [
            {
                "segment": r.segment, "destination": r.destination, "path": str(r.path), "rows": r.rows,
                "added": r.added, "removed": r.removed, "sha256": r.sha256,
            }
            for r in run.results
        ],
        "members": run.members,
        "control": run.control,
        "rejected_definitions": run.rejected,
    }


@_locked("publishing")
def publish_warehouse(settings: Settings, run_date: date) -> dict[str, Any]:
    """Replace the published warehouse with the night's build (one rename; :mod:`cdp.publish`)."""
    return publish.publish(settings)


def write_report(settings: Settings, run_date: date) -> dict[str, Any]:
    """Render the HTML run report (RFM grid, segment sizes, data quality) from the published warehouse."""

    return {"report": str(report.render(settings, run_date))}


def run(
    settings: Settings,
    run_date: date,
    on_step: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """Run every stage of :data:`cdp.stages.STAGES` for one logical date, in order (the DAG's tasks are
    the same list), holding the home's lock."""
    with home_lock(settings.home, f"cdp run for {run_date.isoformat()}"):
        return _run(settings, run_date, on_step)


def _run(
    settings: Settings,
    run_date: date,
    on_step: Callable[[str, float], None] | None,
) -> dict[str, Any]:
    settings.ensure()
    record: dict[str, Any] = {"run_date": run_date.isoformat(), "steps": {}}
    for stage in STAGES:
        step = globals()[stage.name]
        calls = (
            [(stage.label.format(source=source), (source,)) for source in settings.sources]
            if stage.per_source
            else [(stage.label, ())]
        )
        for label, extra in calls:
            started = time.perf_counter()
            output = step(settings, run_date, *extra)
            seconds = time.perf_counter() - started
            record["steps"][label] = {"seconds": round(seconds, 3), "output": output}
            log.info("%s %s done in %.1fs", run_date, label, seconds)
            if on_step:
                on_step(label, seconds)
    _write_run_log(settings, run_date, record)
    return record


def backfill(
    settings: Settings,
    start: date,
    end: date,
    on_step: Callable[[str, float], None] | None = None,
    on_date: Callable[[date], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every date from ``start`` to ``end`` (inclusive) in order; stops at the first failure."""
    if end < start:
        raise ValueError(f"backfill end {end} is before start {start}")
    records = []
    day = start
    with home_lock(settings.home, f"cdp backfill {start.isoformat()}..{end.isoformat()}"):
        while day <= end:
            if on_date:
                on_date(day)
            records.append(run(settings, day, on_step=on_step))
            day += timedelta(days=1)
    return records


def _write_run_log(settings: Settings, run_date: date, record: dict[str, Any]) -> None:
    runs = settings.logs / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    path = runs / f"{run_date.isoformat()}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)
