"""Data-quality metrics per source and run date, kept in the warehouse table ``ops.dq_metrics``.

One row per (run_date, source, metric); re-running a date replaces that date's rows. Trends over weeks
are read from that table (the run report shows the current date's values).

Metrics (all shares in [0, 1]):
- ``quarantine_rate``: rows quarantined / rows read in the run date's manifest (parent entities).
- ``contact_completeness``: of the identity records landed up to the run date (entities with an
  email or phone column, latest version per key), the share with an email or a phone.
- ``duplicate_rate``: share of rows landed up to the run date whose key occurs more than once (re-sent
  records — status changes, profile updates — count as duplicates; dbt staging dedupes them).
- ``match_rate``: share of ``marts.customer_identity_map`` records whose customer has more than one
  source record (i.e. was matched to another record).
A metric with an empty denominator is not written (no row rather than a made-up zero).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from cdp.config import SOURCES
from expectations.contracts import EntitySpec, entity_specs
from expectations.landed import quarantine_rate, read_manifest

if TYPE_CHECKING:
    import duckdb

    from cdp.config import Settings

Metric = tuple[str, str, float]  # (source, metric, value)

_DDL = (
    "create schema if not exists ops",
    "create table if not exists ops.dq_metrics (run_date date, source varchar, metric varchar, value double)",
)
CONTACT_COLUMNS = ("email", "phone")


def record_dq_metrics(settings: Settings, run_date: date) -> list[Metric]:
    """Compute the run date's metrics and replace its rows in ``ops.dq_metrics``; returns them."""
    import duckdb

    with duckdb.connect(str(settings.warehouse)) as con:
        metrics = sorted(
            [
                *_quarantine_rates(settings, run_date),
                *_landed_metrics(con, settings, run_date),
                *_match_rates(con),
            ]
        )
        for statement in _DDL:
            con.execute(statement)
        con.execute("begin transaction")
        try:
            con.execute("delete from ops.dq_metrics where run_date = ?", [run_date])
            if metrics:
                con.executemany(
                    "insert into ops.dq_metrics values (?, ?, ?, ?)",
                    [(run_date, source, metric, value) for source, metric, value in metrics],
                )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    return metrics


def _quarantine_rates(settings: Settings, run_date: date) -> list[Metric]:
    out = []
    for source in SOURCES:
        manifest = read_manifest(settings, source, run_date)
        if not manifest:
            continue
        # Child entities (order_lines) re-count their parent's rows: parents only, as ingest totals do.
        entities = [s for s in manifest.get("entities", {}).values() if not s.get("derived_from")]
        total = {
            "rows_read": sum(s.get("rows_read") or 0 for s in entities),
            "rows_quarantined": sum(s.get("rows_quarantined") or 0 for s in entities),
            "rows_erased": sum(s.get("rows_erased") or 0 for s in entities),
        }
        if total["rows_read"]:
            out.append((source, "quarantine_rate", quarantine_rate(total)))
    return out


def _partitions(settings: Settings, spec: EntitySpec, run_date: date) -> list[str]:
    """Landed partition files of ``spec`` with load_date ≤ run_date."""
    root = settings.lake / "landing" / spec.source / spec.entity
    files = []
    for path in sorted(root.glob("load_date=*/part-0.parquet")):
        try:
            load_date = date.fromisoformat(path.parent.name.removeprefix("load_date="))
        except ValueError:
            continue
        if load_date <= run_date:
            files.append(str(path))
    return files


def _scan(files: list[str]) -> str:
    quoted = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    return f"read_parquet([{quoted}], hive_partitioning = true, union_by_name = true)"


def _landed_metrics(con: duckdb.DuckDBPyConnection, settings: Settings, run_date: date) -> list[Metric]:
    dup: dict[str, list[int]] = {}
    contact: dict[str, list[int]] = {}
    for spec in entity_specs():
        files = _partitions(settings, spec, run_date)
        if not files:
            continue
        key = ", ".join(f'"{k}"' for k in spec.key)
        rows, duplicated = con.execute(
            f"select coalesce(sum(n), 0), coalesce(sum(n) filter (where n > 1), 0) "
            f"from (select count(*) as n from {_scan(files)} group by {key})"
        ).fetchone()
        totals = dup.setdefault(spec.source, [0, 0])
        totals[0] += int(rows)
        totals[1] += int(duplicated)
        contact_cols = [c for c in CONTACT_COLUMNS if c in {col.name for col in spec.columns}]
        if contact_cols:
            has_contact = " or ".join(f'"{c}" is not null' for c in contact_cols)
            records, reachable = con.execute(
                f"select count(*), count(*) filter (where has_contact) from ("
                f"select {has_contact} as has_contact from {_scan(files)} "
                f"qualify row_number() over (partition by {key} "
                f"order by load_date desc, _source_line desc) = 1)"
            ).fetchone()
            totals = contact.setdefault(spec.source, [0, 0])
            totals[0] += int(records)
            totals[1] += int(reachable)
    out = [(s, "duplicate_rate", d / n) for s, (n, d) in dup.items() if n]
    out += [(s, "contact_completeness", r / n) for s, (n, r) in contact.items() if n]
    return out


def _match_rates(con: duckdb.DuckDBPyConnection) -> list[Metric]:
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'customer_identity_map'"
    ).fetchone()[0]
    if not exists:
        return []
    rows = con.execute(
        "with sizes as (select customer_id, count(*) as records from marts.customer_identity_map "
        "group by customer_id) "
        "select identity_map.source, avg(case when sizes.records > 1 then 1.0 else 0.0 end) "
        "from marts.customer_identity_map as identity_map "
        "left join sizes on sizes.customer_id = identity_map.customer_id "
        "group by identity_map.source order by 1"
    ).fetchall()
    return [(source, "match_rate", float(rate)) for source, rate in rows]
