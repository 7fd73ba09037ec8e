"""Export every segment to its destinations for one date and publish the date's folder atomically.

Layout: ``<exports>/<date>/<segment>/<destination>.csv`` (the full list), ``<destination>.added.csv`` and
``<destination>.removed.csv`` (against the last earlier export of that segment and destination), and
``<exports>/<date>/manifest.json`` (definition hash, counts, checksums, rejected definitions).

Members and destination rows are computed in the warehouse engine (DuckDB or Spark: set-based SQL,
one query per destination); only a destination's final rows come to this process, where an in-memory
DuckDB writes them as CSV, sorted, and diffs them against the previous file. One writer for both
engines, so the same rows give the same bytes on either.

Everything is written into a temporary folder first and renamed into place; the history tables
(``ops.segment_membership``, ``ops.segment_runs``, ``ops.segment_exports``) are replaced for the date
just before the rename (on DuckDB in the same transaction): a failed run publishes nothing, and
re-running a date gives the same bytes. On Spark each table's date partition is overwritten on its
own, so a failure between them leaves the folder unpublished and a re-run of the date repairs all.
Control-group members are chosen by a hash of segment and customer (stable across runs and engines),
recorded in ``ops.segment_membership`` with ``is_control`` and never written to a file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from cdp.config import Settings
from cdp.ops_tables import ensure_ops_tables
from exports.definitions import BASE_TABLE, SEGMENTS_DIR, SegmentDefinition, load_definitions
from exports.destinations import DESTINATIONS

if TYPE_CHECKING:
    import pyarrow as pa

    from cdp.engines import Warehouse

log = logging.getLogger(__name__)

HISTORY_TABLES = ("ops.segment_membership", "ops.segment_runs", "ops.segment_exports")

# Members with the contact data they may be reached on: restricted.audience_contacts (a dbt model with
# an enforced contract, in the schema analysts are not granted) folds opt-in, latest consent across
# channels and unsubscribes into can_*.
_MEMBERS_SQL = """
select
    base.customer_id,
    contacts.email,
    contacts.phone,
    contacts.first_name,
    contacts.last_name,
    contacts.can_email as email_ok,
    contacts.can_sms as sms_ok,
    {control_draw} < {control_share} as is_control
    {attributes}
from {base} as base
inner join restricted.audience_contacts as contacts
    on base.customer_id = contacts.customer_id
where ({filter})
"""


@dataclass(frozen=True)
class ExportResult:
    segment: str
    destination: str
    path: Path
    rows: int
    added: int
    removed: int
    sha256: str


@dataclass
class ExportRun:
    run_date: date
    results: list[ExportResult] = field(default_factory=list)
    members: dict[str, int] = field(default_factory=dict)
    control: dict[str, int] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)


def export_segments(settings: Settings, run_date: date, folder: Path = SEGMENTS_DIR) -> ExportRun:
    """Export every valid segment definition in ``folder`` for ``run_date``."""
    from cdp.engines import connect

    target = settings.exports / run_date.isoformat()
    settings.exports.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{run_date.isoformat()}-", dir=settings.exports))
    run = ExportRun(run_date)
    try:
        with connect(settings, read_only=False) as warehouse, duckdb.connect() as files:
            loaded = load_definitions(folder, warehouse)
            for error in loaded.errors:
                log.error("segment definition rejected: %s", error)
                run.rejected.append(str(error))
            ensure_ops_tables(warehouse, *HISTORY_TABLES)
            previous = _previous_exports(settings, run_date)
            views = [f"_cdp_segment_members_{number}" for number in range(len(loaded.segments))]
            try:
                for segment, view in zip(loaded.segments, views, strict=True):
                    _export_segment(warehouse, files, segment, view, run, staging, target, previous)
                _write_manifest(staging, run, loaded.segments)
                with warehouse.transaction():
                    _record_history(warehouse, run, loaded.segments, views)
                    _swap_into_place(staging, target)
            finally:
                for view in views:
                    warehouse.drop_temp_table(view)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for result in run.results:
        log.info(
            "exported %s/%s: %d rows (+%d -%d)",
            result.segment, result.destination, result.rows, result.added, result.removed,
        )
    return run


def _export_segment(
    warehouse: Warehouse,
    files: duckdb.DuckDBPyConnection,
    segment: SegmentDefinition,
    view: str,
    run: ExportRun,
    staging: Path,
    target: Path,
    previous: dict[tuple[str, str], Path],
) -> None:
    dialect = warehouse.dialect
    warehouse.temp_table(
        view,
        _MEMBERS_SQL.format(
            control_draw=dialect.unit_hash(f"{dialect.literal(segment.name)} || ':' || base.customer_id"),
            control_share=dialect.literal(segment.control_share),
            attributes="".join(f", base.{name}" for name in segment.attributes),
            base=BASE_TABLE,
            filter=segment.filter,
        ),
    )
    members, control = warehouse.row(
        f"select count(*), coalesce(sum(case when is_control then 1 else 0 end), 0) from {view}"
    )
    run.members[segment.name], run.control[segment.name] = int(members), int(control)
    folder = staging / segment.name
    folder.mkdir()
    for name in segment.destinations:
        destination = DESTINATIONS[name]
        rows = warehouse.arrow(
            f"select distinct {destination.select(dialect, segment.attributes)} from {view} "
            f"where not is_control and ({destination.where})"
        )
        full = folder / f"{name}.csv"
        added, removed = _write_files(files, rows, previous.get((segment.name, name)), folder, name)
        run.results.append(
            ExportResult(
                segment.name, name, target / segment.name / full.name, rows.num_rows, added, removed,
                _sha256(full),
            )
        )


def _write_files(
    files: duckdb.DuckDBPyConnection, rows: pa.Table, before: Path | None, folder: Path, name: str
) -> tuple[int, int]:
    """Write the full list and the rows added and removed since the previous export (everything is
    'added' on a first export); returns (added, removed)."""
    files.register("export_rows", rows)
    try:
        _copy_csv(files, "select * from export_rows order by all", folder / f"{name}.csv")
        if before is None:
            previous = "select * from export_rows limit 0"
        else:
            previous = f"select * from read_csv('{_quote(before)}', header = true, all_varchar = true)"
        # Compare as text, the form both files share.
        as_text = "select columns(*)::varchar from export_rows"
        previous_text = f"select columns(*)::varchar from ({previous})"
        added_sql = f"select * from (({as_text}) except ({previous_text})) order by all"
        removed_sql = f"select * from (({previous_text}) except ({as_text})) order by all"
        _copy_csv(files, added_sql, folder / f"{name}.added.csv")
        _copy_csv(files, removed_sql, folder / f"{name}.removed.csv")
        added = files.execute(f"select count(*) from ({added_sql})").fetchall()[0][0]
        removed = files.execute(f"select count(*) from ({removed_sql})").fetchall()[0][0]
    finally:
        files.unregister("export_rows")
    return added, removed


def _record_history(
    warehouse: Warehouse, run: ExportRun, segments: list[SegmentDefinition], views: list[str]
) -> None:
    """Replace the date's rows of the three history tables (members from the engine's own views)."""
    import pyarrow as pa

    literal = warehouse.dialect.literal
    membership = [
        f"select {literal(s.name)} as segment, customer_id, is_control, "
        f"{literal(s.definition_hash)} as definition_hash from {view}"
        for s, view in zip(segments, views, strict=True)
    ] or [
        "select cast(null as string) as segment, cast(null as string) as customer_id, "
        "cast(null as boolean) as is_control, cast(null as string) as definition_hash "
        "from (select 1 as one) as nothing where 1 = 0"
    ]
    warehouse.replace_date_slice("ops.segment_membership", run.run_date, " union all ".join(membership))
    segment_runs = pa.table(
        {
            "segment": pa.array([s.name for s in segments], pa.string()),
            "definition_hash": pa.array([s.definition_hash for s in segments], pa.string()),
            "members": pa.array([run.members[s.name] for s in segments], pa.int64()),
            "control": pa.array([run.control[s.name] for s in segments], pa.int64()),
            "control_share": pa.array([s.control_share for s in segments], pa.float64()),
            "measurement_window_days": pa.array([s.measurement_window_days for s in segments], pa.int32()),
        }
    )
    hashes = {s.name: s.definition_hash for s in segments}
    segment_exports = pa.table(
        {
            "segment": pa.array([r.segment for r in run.results], pa.string()),
            "destination": pa.array([r.destination for r in run.results], pa.string()),
            "file": pa.array([f"{r.segment}/{r.path.name}" for r in run.results], pa.string()),
            "rows": pa.array([r.rows for r in run.results], pa.int64()),
            "added": pa.array([r.added for r in run.results], pa.int64()),
            "removed": pa.array([r.removed for r in run.results], pa.int64()),
            "sha256": pa.array([r.sha256 for r in run.results], pa.string()),
            "definition_hash": pa.array([hashes[r.segment] for r in run.results], pa.string()),
        }
    )
    warehouse.replace_date_rows("ops.segment_runs", run.run_date, segment_runs)
    warehouse.replace_date_rows("ops.segment_exports", run.run_date, segment_exports)


def _previous_exports(settings: Settings, run_date: date) -> dict[tuple[str, str], Path]:
    """The latest earlier published file for each (segment, destination)."""
    found: dict[tuple[str, str], Path] = {}
    dated = sorted(
        (p for p in settings.exports.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )
    for folder in dated:
        if folder.name >= run_date.isoformat() or not (folder / "manifest.json").exists():
            continue
        manifest = json.loads((folder / "manifest.json").read_text())
        for segment, info in manifest.get("segments", {}).items():
            for destination, item in info.get("destinations", {}).items():
                found[(segment, destination)] = folder / item["file"]
    return found


def _write_manifest(staging: Path, run: ExportRun, segments: list[SegmentDefinition]) -> None:
    by_segment = {s.name: s for s in segments}
    manifest = {
        "run_date": run.run_date.isoformat(),
        "rejected_definitions": run.rejected,
        "segments": {
            name: {
                "definition_hash": by_segment[name].definition_hash,
                "members": run.members[name],
                "control": run.control[name],
                "destinations": {
                    r.destination: {
                        "file": f"{name}/{r.path.name}", "rows": r.rows, "added": r.added,
                        "removed": r.removed, "sha256": r.sha256,
                    }
                    for r in run.results
                    if r.segment == name
                },
            }
            for name in sorted(run.members)
        },
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _copy_csv(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
    con.execute(f"copy ({query}) to '{_quote(path)}' (format csv, header true)").fetchall()


def _swap_into_place(staging: Path, target: Path) -> None:
    """Replace ``target`` with ``staging`` so that a reader never sees a partial folder."""
    if target.exists():
        retired = target.with_name(f".old-{target.name}-{os.getpid()}")
        target.rename(retired)
        staging.rename(target)
        shutil.rmtree(retired)
    else:
        staging.rename(target)


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
