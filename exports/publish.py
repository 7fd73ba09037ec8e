"""Write each segment's members to ``<exports>/<date>/<segment>.csv`` and publish the folder atomically.

The members come from the dbt model ``marts.segment_members`` (its contract is enforced), so the
segment logic lives in SQL; this module only selects the contactable rows, writes files and a manifest.
A run writes into a temporary folder and renames it into place: readers see the old export or the new
one, never half of one, and re-running a date replaces that date's folder with identical bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.csv as pacsv

from cdp.config import Settings

log = logging.getLogger(__name__)

# Columns an email tool imports; only these leave the warehouse.
EXPORT_COLUMNS = ("customer_id", "email", "first_name", "last_name")

# Segments that always get a file, even a header-only one when nobody qualifies, so that a tool
# importing it sees "empty today" rather than "missing".
DECLARED_SEGMENTS = ("champions_email",)

# Defence in depth: even if the segment model were wrong, a customer who is not contactable by
# email in dim_customers never reaches a file.
_MEMBERS_SQL = """
select {columns}
from marts.segment_members as members
inner join marts.dim_customers as customers
    on members.customer_id = customers.customer_id
where members.segment_name = ?
    and customers.is_email_contactable
order by members.customer_id
"""


@dataclass(frozen=True)
class ExportResult:
    segment: str
    path: Path
    rows: int
    sha256: str


def export_segments(settings: Settings, run_date: date) -> list[ExportResult]:
    """Export every segment in ``marts.segment_members`` for ``run_date``; returns one result per file."""
    target = settings.exports / run_date.isoformat()
    settings.exports.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".tmp-{run_date.isoformat()}-", dir=settings.exports))
    try:
        results = _write_files(settings, run_date, staging, target)
        _write_manifest(staging, run_date, results)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for result in results:
        log.info("exported segment %s: %d rows -> %s", result.segment, result.rows, result.path)
    return results


def _write_files(settings: Settings, run_date: date, staging: Path, target: Path) -> list[ExportResult]:
    columns = ", ".join(f"members.{name}" for name in EXPORT_COLUMNS)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        found = con.sql("select distinct segment_name from marts.segment_members").fetchall()
        segments = sorted({row[0] for row in found} | set(DECLARED_SEGMENTS))
        results = []
        for segment in segments:
            table = con.sql(_MEMBERS_SQL.format(columns=columns), params=[segment]).to_arrow_table()
            staged = staging / f"{segment}.csv"
            pacsv.write_csv(table, staged)
            results.append(
                ExportResult(
                    segment=segment,
                    path=target / staged.name,
                    rows=table.num_rows,
                    sha256=_sha256(staged),
                )
            )
    return results


def _write_manifest(staging: Path, run_date: date, results: list[ExportResult]) -> None:
    manifest = {
        "run_date": run_date.isoformat(),
        "files": [
            {"segment": r.segment, "file": r.path.name, "rows": r.rows, "sha256": r.sha256}
            for r in results
        ],
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _swap_into_place(staging: Path, target: Path) -> None:
    """Replace ``target`` with ``staging`` so that a reader never sees a partial folder."""
    if target.exists():
        retired = target.with_name(f".old-{target.name}-{os.getpid()}")
        target.rename(retired)
        staging.rename(target)
        shutil.rmtree(retired)
    else:
        staging.rename(target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
