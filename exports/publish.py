"""Export every segment to its destinations for one date and publish the date's folder atomically.

Layout: ``<exports>/<date>/<segment>/<destination>.csv`` (the full list), ``<destination>.added.csv``,
``<destination>.removed.csv`` and ``<destination>.updated.csv`` (against the last earlier export of that
segment and destination: a member, by the destination's key columns, whose other columns changed is
in the updates only), and ``<exports>/<date>/manifest.json`` (when it was generated, which export the
deltas compare with, definition hash, counts - members, control group, rows, members left out per
reason, rows without a first name, small audiences - checksums, rejected definitions). Nothing that
depends on the clock is in a CSV: a re-run of the date gives the same files.

The rules are dbt models (tag ``segment_export``), built here with one ``dbt build`` once the
definitions are checked: ``segment_memberships`` (who is in each segment, control group included, from
the checked filters passed as var ``segments``), ``audience_blocked_addresses`` and
``audience_reachability`` (who may get which channel), and one ``destination_<name>`` per file shape,
each with an enforced contract and data tests: a contract that breaks fails the export before a file
is written. This module only selects a destination model's rows for a segment, writes them as CSV
with an in-memory DuckDB (sorted, formula-injection guard, deltas against the previous file) and
publishes: one writer for both engines, so the same rows give the same bytes on either.

Everything is written into a temporary folder first and renamed into place; the history tables
(``ops.segment_membership``, ``ops.segment_runs``, ``ops.segment_exports``) are replaced for the date
just before the rename (on DuckDB in the same transaction): a failed run publishes nothing, and
re-running a date gives the same bytes. On Spark each table's date partition is overwritten on its
own, so a failure between them leaves the folder unpublished and a re-run of the date repairs all.
Control-group members (``segment_memberships.is_control``) are recorded in ``ops.segment_membership`` and
never written to a file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from cdp.config import Settings
from cdp.dbt_runner import build_step, model_columns
from cdp.dialect import Dialect
from cdp.engines import connect
from cdp.ops_tables import ensure_ops_tables
from exports.audience import exclusion_counts, left_out
from exports.definitions import (
    BASE_TABLE,
    SEGMENTS_DIR,
    SegmentDefinition,
    SegmentDefinitionError,
    load_definitions,
)
from exports.destinations import DESTINATIONS

if TYPE_CHECKING:
    from cdp.engines import Warehouse

log = logging.getLogger(__name__)

_FILES = Dialect("duckdb")  # the in-process DuckDB that writes the files
HISTORY_TABLES = ("ops.segment_membership", "ops.segment_runs", "ops.segment_exports")
# The dbt models of the export (segment membership, reachability, destination files), built here.
EXPORT_MODELS = "tag:segment_export"
MEMBERS_MODEL = "segment_memberships"
REACHABILITY_MODEL = "audience_reachability"
FIRST_NAME_COLUMN = "first_name"  # the destination model's column counted when empty
E164 = r"^\+[0-9]{8,15}$"
# Leftovers of an export that did not finish (killed, power loss): staging folders and retired copies
# of a replaced date folder. Both hold plain contact data and are removed before the next export.
STAGING_PREFIXES = (".tmp-", ".old-")
LOCK_FILE = ".export.lock"


@dataclass(frozen=True)
class ExportResult:
    segment: str
    destination: str
    path: Path
    rows: int
    added: int
    removed: int
    sha256: str
    updated: int = 0
    compared_with: str | None = None  # the date of the earlier export the deltas compare with
    left_out: dict[str, int] = field(default_factory=dict)  # members outside the control group, by reason
    rows_without_first_name: int | None = None  # None: the file has no first-name column

    @property
    def is_small(self) -> bool:
        return DESTINATIONS[self.destination].is_small(self.rows)


@dataclass
class ExportRun:
    run_date: date
    results: list[ExportResult] = field(default_factory=list)
    members: dict[str, int] = field(default_factory=dict)
    control: dict[str, int] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    # When the files were written (UTC): in the manifest only, never in a CSV.
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


def export_segments(
    settings: Settings, run_date: date, folder: Path = SEGMENTS_DIR, invalid_segments: str | None = None
) -> ExportRun:
    """Export every segment definition in ``folder`` for ``run_date``.

    A definition that does not build raises :class:`SegmentDefinitionError` before anything is
    written, unless ``invalid_segments`` (default: the home's ``exports.invalid_segments``) is
    ``"report"``: then it is logged, listed in the manifest and the others are exported.

    Exports of one home run one at a time (a lock file in the exports folder): the leftovers of an
    export that was killed are removed first, which must never hit the staging folder of a live one.
    """

    target = settings.exports / run_date.isoformat()
    settings.exports.mkdir(parents=True, exist_ok=True)
    with _export_lock(settings.exports):
        _remove_leftovers(settings.exports)
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-{run_date.isoformat()}-", dir=settings.exports))
        run = ExportRun(run_date)
        try:
            with connect(settings, read_only=False) as warehouse:
                loaded = load_definitions(folder, warehouse)
            policy = invalid_segments or settings.site.invalid_segments
            if loaded.errors and policy == "fail":
                raise SegmentDefinitionError([str(error) for error in loaded.errors])
            for error in loaded.errors:
                log.error("segment definition rejected: %s", error)
                run.rejected.append(str(error))
            build_export_models(settings, run_date, loaded.segments)
            with connect(settings, read_only=False) as warehouse, duckdb.connect() as files:
                ensure_ops_tables(warehouse, *HISTORY_TABLES)
                previous = _previous_exports(settings, run_date)
                members = model_columns(settings, MEMBERS_MODEL)[0]
                reachability = model_columns(settings, REACHABILITY_MODEL)[0]
                for segment in loaded.segments:
                    _export_segment(
                        settings, warehouse, files, segment, (members, reachability), run, staging, target,
                        previous,
                    )
                _write_manifest(staging, run, loaded.segments)
                with warehouse.transaction():
                    _record_history(warehouse, run, loaded.segments, members)
                    _swap_into_place(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    for result in run.results:
        _log_result(result)
    return run


def _log_result(result: ExportResult) -> None:
    """One line per file (counts only), and a warning when the audience is below the tool's minimum."""
    notes = [f"{n} left out: {reason}" for reason, n in sorted(result.left_out.items()) if n]
    if result.rows_without_first_name:
        notes.append(f"{result.rows_without_first_name} without a first name")
    log.info(
        "exported %s/%s: %d rows (+%d -%d ~%d since %s)%s",
        result.segment, result.destination, result.rows, result.added, result.removed, result.updated,
        result.compared_with or "nothing", f"; {', '.join(notes)}" if notes else "",
    )
    destination = DESTINATIONS[result.destination]
    if result.is_small:
        log.warning(
            "%s/%s: %d rows, below the %d people %s needs (%s)",
            result.segment, result.destination, result.rows, destination.min_audience, destination.name,
            destination.min_audience_source,
        )


def remove_staging(exports: Path) -> int:
    """Remove what killed exports left in ``exports`` (``.tmp-*`` staging, ``.old-*`` retired folders).

    Waits for a running export of the home. ``cdp forget`` calls this: those folders hold plain
    contact data that nothing publishes, and nothing would ever scrub. Returns the folders removed.
    """
    if not exports.exists():
        return 0
    with _export_lock(exports):
        return _remove_leftovers(exports)


def _remove_leftovers(exports: Path) -> int:
    removed = 0
    for path in sorted(exports.iterdir()):
        if path.name.startswith(STAGING_PREFIXES) and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
            removed += 1
    if removed:
        log.warning("removed %d staging folder(s) left by an export that did not finish", removed)
    return removed


@contextmanager
def _export_lock(exports: Path) -> Iterator[None]:
    """An exclusive lock on ``<exports>/.export.lock`` while an export or a clean-up runs."""
    import fcntl

    with (exports / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_export_models(settings: Settings, run_date: date, segments: list[SegmentDefinition]) -> None:
    """``dbt build`` of the export's models (tag ``segment_export``) as of ``run_date``, with the
    checked definitions as var ``segments``; their data tests and contracts run too. Raises
    :class:`cdp.dbt_runner.WarehouseBuildError` naming the failed models: nothing is written then.

    The var is read only when the models compile (:data:`cdp.dbt_runner.COMPILE_TIME_VARS`), so an
    edited definition costs no re-parse; the night's claims of what is current stand (these models
    read customer_360, which reads the CLV fit and is never claimed)."""
    variables = {"segments": [segment.dbt_segment(settings.engine) for segment in segments]}
    build_step(
        settings, run_date, [EXPORT_MODELS], [], unit_tests=False, data_tests=True, keep_claims=True,
        variables=variables,
    )


def _export_segment(
    settings: Settings,
    warehouse: Warehouse,
    files: duckdb.DuckDBPyConnection,
    segment: SegmentDefinition,
    models: tuple[str, str],
    run: ExportRun,
    staging: Path,
    target: Path,
    previous: dict[tuple[str, str], Path],
) -> None:
    members, reachability = models
    name = warehouse.dialect.literal(segment.name)
    count, control = warehouse.row(
        f"select count(*), coalesce(sum(case when is_control then 1 else 0 end), 0) from {members} "
        f"where segment = {name}"
    )
    run.members[segment.name], run.control[segment.name] = int(count), int(control)
    exclusions = exclusion_counts(
        warehouse,
        f"select customer_id from {members} where segment = {name} and not is_control",
        reachability,
    )
    folder = staging / segment.name
    folder.mkdir()
    for destination_name in segment.destinations:
        rows, kinds, keys, first_name = _destination_rows(settings, warehouse, segment, destination_name)
        full = folder / f"{destination_name}.csv"
        before = previous.get((segment.name, destination_name))
        written, added, removed, updated, without_first_name = _write_files(
            files, rows, before, folder, destination_name, kinds, keys, first_name
        )
        run.results.append(
            ExportResult(
                segment.name, destination_name, target / segment.name / full.name, written, added, removed,
                _sha256(full), updated=updated, compared_with=before.parent.parent.name if before else None,
                left_out=left_out(DESTINATIONS[destination_name], exclusions),
                rows_without_first_name=without_first_name,
            )
        )


def _destination_rows(
    settings: Settings, warehouse: Warehouse, segment: SegmentDefinition, destination_name: str
) -> tuple[pa.Table, dict[str, str], list[str], str | None]:
    """A segment's rows of the destination's dbt model: its ``export_column`` columns under their
    headers (the segment's customer_360 attributes appended where the destination takes them), which
    of them the tool needs verbatim (header -> ``export_check``), the headers of the ``export_key``
    columns that identify a member, and the header of the first name (None when the file has none)."""
    destination = DESTINATIONS[destination_name]
    dialect = warehouse.dialect
    relation, columns = model_columns(settings, destination.model)
    selects, kinds, keys, first_name = [], {}, [], None
    for column, meta in columns:
        header = meta.get("export_column")
        if header is None:
            continue
        selects.append(f"destination.{column} as {dialect.quote(str(header))}")
        if meta.get("export_check"):
            kinds[str(header)] = str(meta["export_check"])
        if meta.get("export_key"):
            keys.append(str(header))
        if column == FIRST_NAME_COLUMN:
            first_name = str(header)
    source = f"{relation} as destination"
    if destination.takes_attributes and segment.attributes:
        # Names checked against customer_360's declared and built columns (exports.definitions).
        selects += [f"base.{dialect.quote(attribute)}" for attribute in segment.attributes]
        source += f" inner join {BASE_TABLE} as base on destination.customer_id = base.customer_id"
    rows = warehouse.arrow(
        f"select distinct {', '.join(selects)} from {source} "
        f"where destination.segment = {dialect.literal(segment.name)}"
    )
    return rows, kinds, keys, first_name


def _full_match(dialect: Dialect, expr: str, pattern: str) -> str:
    """``expr`` matches the anchored ``pattern`` on either engine. A literal ``+`` is spelled ``[+]``:
    Spark's string literals would read a backslash as an escape."""
    portable = pattern.replace("\\+", "[+]")
    if dialect.spark:
        return f"({expr} rlike {dialect.literal(portable)})"
    return f"regexp_full_match({expr}, {dialect.literal(portable.removeprefix('^').removesuffix('$'))})"


def _write_files(
    files: duckdb.DuckDBPyConnection,
    rows: pa.Table,
    before: Path | None,
    folder: Path,
    name: str,
    kinds: Mapping[str, str],
    keys: Sequence[str] = (),
    first_name: str | None = None,
) -> tuple[int, int, int, int, int | None]:
    """Write the full list and the rows added, removed and updated since the previous export
    (everything is 'added' on a first export); returns (rows written, added, removed, updated, rows
    without a first name - None when the file has no ``first_name`` column).

    A row whose ``keys`` columns (the member's identifier in the file, none empty) match a row of the
    previous file but whose other columns differ is an update: written once to ``<name>.updated.csv``
    (as it is now), in neither the added nor the removed file.

    Every human-facing text cell that starts like a formula (=, +, -, @, tab, carriage return) gets a
    leading single quote (OWASP's CSV-injection rule), so a first name ``=cmd|'/C notepad'!A1`` opens
    as text. Columns the destination needs verbatim are not prefixed but checked, and a row failing
    the check is left out (counted in the log, no values): ``sha256`` (64 hex digits), ``e164``
    (exactly ``+`` and 8-15 digits) and ``email`` (cannot start like a formula). Numbers stay numbers.
    """
    files.register("export_raw_rows", rows)
    try:
        selects, checks = [], []
        for column_field in rows.schema:
            column = '"' + column_field.name.replace('"', '""') + '"'
            kind = kinds.get(column_field.name)
            if kind == "sha256":
                checks.append(f"({column} is null or regexp_full_match({column}, '[0-9a-f]{{64}}'))")
                selects.append(column)
            elif kind == "e164":
                checks.append(f"({column} is null or {_full_match(_FILES, column, E164)})")
                selects.append(column)
            elif kind == "email":
                checks.append(f"({column} is null or not {_starts_like_formula(column)})")
                selects.append(column)
            elif pa.types.is_string(column_field.type) or pa.types.is_large_string(column_field.type):
                quoted = "'''' || " + column
                selects.append(
                    f"case when {_starts_like_formula(column)} then {quoted} else {column} end as {column}"
                )
            else:
                selects.append(column)
        files.execute(
            f"create or replace temp table export_rows as select {', '.join(selects)} "
            f"from export_raw_rows where {' and '.join(checks) or 'true'}"
        )
    finally:
        files.unregister("export_raw_rows")
    try:
        written = files.execute("select count(*) from export_rows").fetchall()[0][0]
        if written != rows.num_rows:
            log.warning(
                "%s: %d row(s) left out (a value the destination needs verbatim is malformed)",
                name, rows.num_rows - written,
            )
        without_first_name = None
        if first_name is not None:
            empty = _quote_name(first_name)
            without_first_name = files.execute(
                f"select count(*) from export_rows where coalesce(trim({empty}), '') = ''"
            ).fetchall()[0][0]
        _copy_csv(files, "select * from export_rows order by all", folder / f"{name}.csv")
        if before is None:
            previous = "select * from export_rows limit 0"
        else:
            previous = f"select * from read_csv('{_quote(before)}', header = true, all_varchar = true)"
        # Compare as text, the form both files share.
        files.execute(
            "create or replace temp table export_new as "
            "(select columns(*)::varchar from export_rows) "
            f"except (select columns(*)::varchar from ({previous}))"
        )
        files.execute(
            "create or replace temp table export_gone as "
            f"(select columns(*)::varchar from ({previous})) "
            "except (select columns(*)::varchar from export_rows)"
        )
        # Same member (every key column present and equal) on both sides: an update.
        same = " and ".join(f"new.{_quote_name(k)} = gone.{_quote_name(k)}" for k in keys) or "false"
        updated_sql = (
            f"select * from export_new as new where exists (select 1 from export_gone as gone where {same}) "
            "order by all"
        )
        added_sql = (
            "select * from export_new as new "
            f"where not exists (select 1 from export_gone as gone where {same}) order by all"
        )
        removed_sql = (
            "select * from export_gone as gone "
            f"where not exists (select 1 from export_new as new where {same}) order by all"
        )
        counts = []
        for kind, sql in (("added", added_sql), ("removed", removed_sql), ("updated", updated_sql)):
            _copy_csv(files, sql, folder / f"{name}.{kind}.csv")
            counts.append(files.execute(f"select count(*) from ({sql})").fetchall()[0][0])
    finally:
        files.execute("drop table if exists export_rows")
        files.execute("drop table if exists export_new")
        files.execute("drop table if exists export_gone")
    added, removed, updated = counts
    return written, added, removed, updated, without_first_name


def _quote_name(name: str) -> str:
    """A column name for the in-memory DuckDB that writes the files."""
    return '"' + name.replace('"', '""') + '"'


def _starts_like_formula(column: str) -> str:
    return f"(left({column}, 1) in ('=', '+', '-', '@', chr(9), chr(13)))"


def _record_history(
    warehouse: Warehouse, run: ExportRun, segments: list[SegmentDefinition], members: str
) -> None:
    """Replace the date's rows of the three history tables (members from the dbt model, which holds
    exactly the checked segments of this run)."""
    warehouse.replace_date_slice(
        "ops.segment_membership", run.run_date,
        f"select segment, customer_id, is_control, definition_hash from {members}",
    )
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
    """The date's manifest: counts and checksums only, never a value of a row. ``generated_at`` is the
    one field that depends on the clock (the files' bytes do not)."""
    by_segment = {s.name: s for s in segments}
    manifest = {
        "run_date": run.run_date.isoformat(),
        "generated_at": run.generated_at,
        "rejected_definitions": run.rejected,
        "segments": {
            name: {
                "definition_hash": by_segment[name].definition_hash,
                "members": run.members[name],
                "control": run.control[name],
                "destinations": {
                    r.destination: _manifest_item(name, r) for r in run.results if r.segment == name
                },
            }
            for name in sorted(run.members)
        },
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _manifest_item(segment: str, result: ExportResult) -> dict[str, object]:
    destination = DESTINATIONS[result.destination]
    item: dict[str, object] = {
        "file": f"{segment}/{result.path.name}", "rows": result.rows, "added": result.added,
        "removed": result.removed, "updated": result.updated, "sha256": result.sha256,
        "compared_with": result.compared_with, "left_out": result.left_out,
    }
    if result.rows_without_first_name is not None:
        item["rows_without_first_name"] = result.rows_without_first_name
    if destination.min_audience is not None:
        item["min_audience"] = destination.min_audience
        item["below_min_audience"] = result.is_small
    return item


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
