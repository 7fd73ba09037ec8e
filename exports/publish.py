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

import csv
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from cdp.config import DBT_PROJECT_DIR, Settings
from cdp.dialect import Dialect
from cdp.engines import connect
from cdp.ops_tables import ensure_ops_tables
from cdp.project import dbt_vars
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

JUNK_SEED = DBT_PROJECT_DIR / "seeds" / "identity_junk_identifiers.csv"
_FILES = Dialect("duckdb")  # the in-process DuckDB that writes the files
HISTORY_TABLES = ("ops.segment_membership", "ops.segment_runs", "ops.segment_exports")

# Members: only who matches the segment's checked filter (exports.filters) over the audience mart, and
# whether they are in the control group. No contact data and no consent here: whatever a filter could
# do, it only ever chooses customer ids.
_MEMBERS_SQL = """
select
    base.customer_id,
    {control_draw} < {control_share} as is_control
    {attributes}
from {base} as base
where ({filter})
"""

# The rows a destination may receive. Consent, suppression and contactability are applied here, after
# and outside the segment's filter, on every destination query: contact fields come only from
# restricted.audience_contacts (a dbt model with an enforced contract, in the schema analysts are not
# granted), whose can_* fold opt-in, the latest consent across channels, unsubscribes and the
# suppression list; the suppression flags are checked again on their own, and an address that
# identity resolution treats as junk or shared (the blocked-address table) is never reachable.
_REACHABLE_SQL = """
select
    members.customer_id,
    contacts.email,
    contacts.phone,
    contacts.first_name,
    contacts.last_name,
    coalesce(
        contacts.can_email and not contacts.is_email_suppressed and contacts.email is not null
        and substr(trim(contacts.email), 1, 1) not in ({formula_starts}) and blocked_email.address is null,
        false
    ) as email_ok,
    coalesce(
        contacts.can_sms and not contacts.is_sms_suppressed and {phone_is_e164}
        and blocked_phone.address is null,
        false
    ) as sms_ok
    {attributes}
from {members} as members
inner join restricted.audience_contacts as contacts
    on members.customer_id = contacts.customer_id
left join {blocked} as blocked_email
    on blocked_email.channel = 'email' and blocked_email.address = lower(trim(contacts.email))
left join {blocked} as blocked_phone
    on blocked_phone.channel = 'sms' and blocked_phone.address = trim(contacts.phone)
where not members.is_control
"""
BLOCKED_TABLE = "_cdp_export_blocked_addresses"
# Cell starts a spreadsheet reads as a formula (OWASP CSV injection): =, +, -, @, tab, carriage return.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
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


@dataclass
class ExportRun:
    run_date: date
    results: list[ExportResult] = field(default_factory=list)
    members: dict[str, int] = field(default_factory=dict)
    control: dict[str, int] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)


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
            with connect(settings, read_only=False) as warehouse, duckdb.connect() as files:
                loaded = load_definitions(folder, warehouse)
                policy = invalid_segments or settings.site.invalid_segments
                if loaded.errors and policy == "fail":
                    raise SegmentDefinitionError([str(error) for error in loaded.errors])
                for error in loaded.errors:
                    log.error("segment definition rejected: %s", error)
                    run.rejected.append(str(error))
                ensure_ops_tables(warehouse, *HISTORY_TABLES)
                previous = _previous_exports(settings, run_date)
                views = [f"_cdp_segment_members_{number}" for number in range(len(loaded.segments))]
                try:
                    warehouse.temp_table(BLOCKED_TABLE, _blocked_addresses_sql(warehouse))
                    for segment, view in zip(loaded.segments, views, strict=True):
                        _export_segment(warehouse, files, segment, view, run, staging, target, previous)
                    _write_manifest(staging, run, loaded.segments)
                    with warehouse.transaction():
                        _record_history(warehouse, run, loaded.segments, views)
                        _swap_into_place(staging, target)
                finally:
                    for view in (*views, BLOCKED_TABLE):
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


def _blocked_addresses_sql(warehouse: Warehouse) -> str:
    """(channel, address) pairs no export may carry: identity resolution's rules, applied to contacts.

    - junk: an address matching a pattern of the seed ``identity_junk_identifiers`` (placeholders such
      as +31600000000, test@, noreply@), read from the seed file dbt loads;
    - shared: the contact address of more customers than identity's
      ``identity_max_records_per_identifier``: it reaches other people too, so it is exported for none;
    - identity's own verdict (``intermediate.int_identity_identifiers_screened`` 'junk' or 'shared',
      which also covers a store phone typed for a few members who conflict), when the warehouse has it.
    """

    limit = int(dbt_vars().get("identity_max_records_per_identifier", 20))
    literal = warehouse.dialect.literal
    contacts = "restricted.audience_contacts"
    parts = []
    for channel, kind, value in (("email", "email", "lower(trim(email))"), ("sms", "phone", "trim(phone)")):
        patterns = [pattern for pattern_kind, pattern in _junk_patterns() if pattern_kind == kind]
        if patterns:
            junk = " or ".join(f"{value} like {literal(pattern)}" for pattern in patterns)
            parts.append(
                f"select {literal(channel)} as channel, {value} as address from {contacts} "
                f"where {kind} is not null and ({junk})"
            )
        parts.append(
            f"select {literal(channel)} as channel, {value} as address from {contacts} "
            f"where {kind} is not null group by {value} having count(distinct customer_id) > {limit}"
        )
    if {"int_identity_identifiers_screened", "int_identity_records_unioned"} <= set(
        warehouse.tables("intermediate")
    ):
        verdicts = (
            "from intermediate.int_identity_identifiers_screened as screened "
            "inner join intermediate.int_identity_records_unioned as records "
            "on screened.record_key = records.record_key "
            "where screened.identifier_status in ('junk', 'shared') "
        )
        parts.append(
            f"select 'email' as channel, lower(trim(records.email_normalized)) as address {verdicts}"
            "and screened.identifier_type = 'email' and records.email_normalized is not null"
        )
        parts.append(
            f"select 'sms' as channel, trim(records.phone_e164) as address {verdicts}"
            "and screened.identifier_type = 'phone' and records.phone_e164 is not null"
        )
    return "select distinct channel, address from (" + " union all ".join(parts) + ") as blocked"


@cache
def _junk_patterns() -> tuple[tuple[str, str], ...]:
    """(identifier_type, LIKE pattern) rows of the seed identity resolution uses."""
    with JUNK_SEED.open(newline="", encoding="utf-8") as handle:
        return tuple((row["identifier_type"], row["pattern"]) for row in csv.DictReader(handle))


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
            filter=segment.where(dialect.engine),
        ),
    )
    members, control = warehouse.row(
        f"select count(*), coalesce(sum(case when is_control then 1 else 0 end), 0) from {view}"
    )
    run.members[segment.name], run.control[segment.name] = int(members), int(control)
    reachable = _REACHABLE_SQL.format(
        formula_starts=", ".join(_sql_char(dialect, char) for char in FORMULA_STARTS),
        phone_is_e164=_full_match(dialect, "trim(contacts.phone)", E164),
        attributes="".join(f", members.{name}" for name in segment.attributes),
        members=view,
        blocked=BLOCKED_TABLE,
    )
    folder = staging / segment.name
    folder.mkdir()
    for name in segment.destinations:
        destination = DESTINATIONS[name]
        rows = warehouse.arrow(
            f"select distinct {destination.select(dialect, segment.attributes)} "
            f"from ({reachable}) as reachable where ({destination.where})"
        )
        full = folder / f"{name}.csv"
        written, added, removed = _write_files(
            files, rows, previous.get((segment.name, name)), folder, name, destination.kinds
        )
        run.results.append(
            ExportResult(
                segment.name, name, target / segment.name / full.name, written, added, removed, _sha256(full)
            )
        )


def _sql_char(dialect: Dialect, char: str) -> str:
    return dialect.literal(char) if char.isprintable() else f"chr({ord(char)})"


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
) -> tuple[int, int, int]:
    """Write the full list and the rows added and removed since the previous export (everything is
    'added' on a first export); returns (rows written, added, removed).

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
        files.execute("drop table if exists export_rows")
    return written, added, removed


def _starts_like_formula(column: str) -> str:
    return f"(left({column}, 1) in ('=', '+', '-', '@', chr(9), chr(13)))"


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
