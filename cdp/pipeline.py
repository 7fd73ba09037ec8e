"""The nightly pipeline as plain functions: the CLI and the Airflow DAG call exactly these.

Each step reads and writes one logical date's partition and replaces what a previous attempt wrote,
so a step (or the whole run) can be retried or re-run for a date without doubling anything. Steps
return small JSON-able dicts (counts, paths): Airflow passes them as XComs, the CLI prints them.
No step returns or logs personal data.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from cdp.config import Settings

log = logging.getLogger(__name__)


def ingest_source(settings: Settings, run_date: date, source: str) -> dict[str, Any]:
    """Land one source's drop for ``run_date`` as Parquet (quarantining bad rows)."""
    import ingest

    report = ingest.land_source(settings.ensure(), source, run_date)
    return report.to_dict()


def gate_landed(settings: Settings, run_date: date) -> dict[str, Any]:
    """Great Expectations on today's landed partitions; raises ``GateFailed`` on a critical failure."""
    import expectations

    result = expectations.run_landed_gate(settings, run_date)
    expectations.assert_passed(result)
    return result.to_dict()


def build_warehouse(settings: Settings, run_date: date) -> dict[str, Any]:
    """``dbt build`` of every model as of ``run_date`` (seeds, models, dbt tests)."""
    from cdp import warehouse

    return warehouse.build(settings, run_date).to_dict()  # creates the ops history tables if missing


def gate_marts(settings: Settings, run_date: date) -> dict[str, Any]:
    """Great Expectations on the marts, then record the run's data-quality metrics."""
    import expectations

    result = expectations.run_mart_gate(settings, run_date)
    expectations.assert_passed(result)
    expectations.record_dq_metrics(settings, run_date)
    return result.to_dict()


def export(settings: Settings, run_date: date) -> dict[str, Any]:
    """Write every segment's destination files for ``run_date`` and publish them atomically."""
    import exports

    run = exports.export_segments(settings, run_date)
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


def write_report(settings: Settings, run_date: date) -> dict[str, Any]:
    """Render the HTML run report (RFM grid, segment sizes, data quality) from the warehouse."""
    from cdp import report

    return {"report": str(report.render(settings, run_date))}


def run(
    settings: Settings,
    run_date: date,
    on_step: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """Run the whole nightly pipeline for one logical date, in the DAG's order."""
    settings.ensure()
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        *[
            (f"ingest:{source}", lambda source=source: ingest_source(settings, run_date, source))
            for source in settings.sources
        ],
        ("gate:landed", lambda: gate_landed(settings, run_date)),
        ("dbt:build", lambda: build_warehouse(settings, run_date)),
        ("gate:marts", lambda: gate_marts(settings, run_date)),
        ("export", lambda: export(settings, run_date)),
        ("report", lambda: write_report(settings, run_date)),
    ]
    record: dict[str, Any] = {"run_date": run_date.isoformat(), "steps": {}}
    for name, step in steps:
        started = time.perf_counter()
        output = step()
        seconds = time.perf_counter() - started
        record["steps"][name] = {"seconds": round(seconds, 3), "output": output}
        log.info("%s %s done in %.1fs", run_date, name, seconds)
        if on_step:
            on_step(name, seconds)
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
