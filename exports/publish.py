"""Export every segment to its destinations for one date and publish the date's folder atomically.

Layout: ``<exports>/<date>/<segment>/<destination>.csv`` (the full list), ``<destination>.added.csv`` and
``<destination>.removed.csv`` (against the last earlier export of that segment and destination), and
``<exports>/<date>/manifest.json`` (definition hash, counts, checksums, rejected definitions).

Everything is written into a temporary folder first and renamed into place, and the history tables
(``ops.segment_membership``, ``ops.segment_exports``) are replaced for the date in the same
transaction: a failed run publishes nothing, and re-running a date gives the same bytes.
Control-group members are chosen by a hash of segment and customer (stable across runs), recorded in
``ops.segment_membership`` with ``is_control`` and never written to a file.
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

import duckdb

from cdp.config import Settings
from exports.definitions import BASE_TABLE, SEGMENTS_DIR, SegmentDefinition, load_definitions
from exports.destinations import DESTINATIONS

log = logging.getLogger(__name__)

# Members with the contact data they may be reached on: restricted.audience_contacts (a dbt model with
# an enforced contract, in the schema analysts are not granted) folds opt-in, latest consent across
# channels and unsubscribes into can_*.
_MEMBERS_SQL = """
create or replace temp table members as
select
    base.customer_id,
    contacts.email,
    contacts.phone,
    contacts.first_name,
    contacts.last_name,
    contacts.can_email as email_ok,
    contacts.can_sms as sms_ok,
    ('0x' || substr(sha256(? || ':' || base.customer_id), 1, 8))::ubigint / 4294967296.0 < ? as is_control
    {attributes}
from {base} as base
inner join restricted.audience_contacts as contacts
    on base.customer_id = contacts.customer_id
where ({filter})
"""

# Also created (empty) at the start of every dbt build: dbt_project/macros/ops_tables.sql.
_HISTORY_DDL = """
create schema if not exists ops;
create table if not exists ops.segment_membership (
    run_date date, segment varchar, customer_id varchar, is_control boolean, definition_hash varchar
);
create table if not exists ops.segment_runs (
    run_date date, segment varchar, definition_hash varchar, members bigint, control bigint,
    control_share double, measurement_window_days integer
);
create table if not exists ops.segment_exports (
    run_date date, segment varchar, destination varchar, file varchar, rows bigint, added bigint,
    removed bigint, sha256 varchar, definition_hash varchar
);
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
    target = settings.exports / run_date.isoformat()
    settings.exports.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{run_date.isoformat()}-", dir=settings.exports))
    run = ExportRun(run_date)
    try:
        with duckdb.connect(str(settings.warehouse)) as con:
            loaded = load_definitions(folder, con)
            for error in loaded.errors:
                log.error("segment definition rejected: %s", error)
                run.rejected.append(str(error))
            con.execute("begin transaction")
            con.execute(_HISTORY_DDL)
            for table in ("segment_membership", "segment_runs", "segment_exports"):
                con.execute(f"delete from ops.{table} where run_date = ?", [run_date])
            previous = _previous_exports(settings, run_date)
            for segment in loaded.segments:
                _export_segment(con, segment, run, staging, target, previous)
            _write_manifest(staging, run, loaded.segments)
            _swap_into_place(staging, target)
            con.execute("commit")
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
    con: duckdb.DuckDBPyConnection,
    segment: SegmentDefinition,
    run: ExportRun,
    staging: Path,
    target: Path,
    previous: dict[tuple[str, str], Path],
) -> None:
    attributes = "".join(f", base.{name}" for name in segment.attributes)
    con.execute(
        _MEMBERS_SQL.format(attributes=attributes, base=BASE_TABLE, filter=segment.filter),
        [segment.name, segment.control_share],
    )
    con.execute(
        "insert into ops.segment_membership "
        "select ?, ?, customer_id, is_control, ? from members order by customer_id",
        [run.run_date, segment.name, segment.definition_hash],
    )
    run.members[segment.name], run.control[segment.name] = con.execute(
        "select count(*), count(*) filter (where is_control) from members"
    ).fetchone()
    con.execute(
        "insert into ops.segment_runs values (?, ?, ?, ?, ?, ?, ?)",
        [run.run_date, segment.name, segment.definition_hash, run.members[segment.name],
         run.control[segment.name], segment.control_share, segment.measurement_window_days],
    )
    folder = staging / segment.name
    folder.mkdir()
    for name in segment.destinations:
        destination = DESTINATIONS[name]
        select = destination.select.format(attributes="".join(f", {a}" for a in segment.attributes))
        full = folder / f"{name}.csv"
        query = f"select distinct {select} from members where not is_control and ({destination.where})"
        _copy_csv(con, f"select * from ({query}) order by all", full)
        rows = con.execute(f"select count(*) from ({query})").fetchone()[0]
        before = previous.get((segment.name, name))
        added, removed = _write_deltas(con, query, before, folder, name)
        digest = _sha256(full)
        run.results.append(
            ExportResult(segment.name, name, target / segment.name / full.name, rows, added, removed, digest)
        )
        con.execute(
            "insert into ops.segment_exports values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run.run_date, segment.name, name, f"{segment.name}/{full.name}", rows, added, removed, digest,
             segment.definition_hash],
        )


def _write_deltas(
    con: duckdb.DuckDBPyConnection, query: str, before: Path | None, folder: Path, name: str
) -> tuple[int, int]:
    """Rows added and removed since the previous export (everything is 'added' on a first export)."""
    if before is None:
        previous = f"select * from ({query}) limit 0"
    else:
        previous = f"select * from read_csv('{_quote(before)}', header = true, all_varchar = true)"
    current = f"select * from ({query})"
    # Compare as text, the form both files share.
    as_text = f"select columns(*)::varchar from ({current})"
    previous_text = f"select columns(*)::varchar from ({previous})"
    added_sql = f"select * from (({as_text}) except ({previous_text})) order by all"
    removed_sql = f"select * from (({previous_text}) except ({as_text})) order by all"
    _copy_csv(con, added_sql, folder / f"{name}.added.csv")
    _copy_csv(con, removed_sql, folder / f"{name}.removed.csv")
    added = con.execute(f"select count(*) from ({added_sql})").fetchone()[0]
    removed = con.execute(f"select count(*) from ({removed_sql})").fetchone()[0]
    return added, removed


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
    con.execute(f"copy ({query}) to '{_quote(path)}' (format csv, header true)")


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
