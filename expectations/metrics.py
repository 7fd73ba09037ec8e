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

from cdp import lake
from cdp.config import SOURCES
from cdp.engines import connect
from cdp.ops_tables import ensure_ops_tables
from expectations.contracts import EntitySpec, entity_specs
from expectations.landed import quarantine_rate, read_manifest

if TYPE_CHECKING:
    from pathlib import Path

    from cdp.config import Settings
    from cdp.engines import Warehouse

Metric = tuple[str, str, float]  # (source, metric, value)

CONTACT_COLUMNS = ("email", "phone")


def record_dq_metrics(settings: Settings, run_date: date) -> list[Metric]:
    """Compute the run date's metrics and replace its rows in ``ops.dq_metrics``; returns them.

    The counts run in the warehouse engine (DuckDB, or Spark over the landed Parquet), so the driver
    never reads a landed file itself.
    """
    import pyarrow as pa


    with connect(settings, read_only=False) as warehouse:
        metrics = sorted(
            [
                *_quarantine_rates(settings, run_date),
                *_landed_metrics(warehouse, settings, run_date),
                *_match_rates(warehouse),
            ]
        )
        ensure_ops_tables(warehouse, "ops.dq_metrics")
        rows = pa.table(
            {
                "source": pa.array([m[0] for m in metrics], pa.string()),
                "metric": pa.array([m[1] for m in metrics], pa.string()),
                "value": pa.array([m[2] for m in metrics], pa.float64()),
            }
        )
        with warehouse.transaction():
            warehouse.replace_date_rows("ops.dq_metrics", run_date, rows)
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


def _partitions(settings: Settings, spec: EntitySpec, run_date: date) -> list[Path]:
    """Landed partition files of ``spec`` with load_date ≤ run_date."""
    root = lake.entity_root(settings, lake.LANDING, spec.source, spec.entity)
    files = []
    for path in sorted(root.glob(f"load_date=*/{lake.PART}")):
        try:
            load_date = date.fromisoformat(path.parent.name.removeprefix("load_date="))
        except ValueError:
            continue
        if load_date <= run_date:
            files.append(path)
    return files


def _landed_metrics(warehouse: Warehouse, settings: Settings, run_date: date) -> list[Metric]:
    dup: dict[str, list[int]] = {}
    contact: dict[str, list[int]] = {}
    for spec in entity_specs():
        files = _partitions(settings, spec, run_date)
        if not files:
            continue
        view = f"_cdp_landed_{spec.source}_{spec.entity}"
        root = lake.entity_root(settings, lake.LANDING, spec.source, spec.entity)
        warehouse.parquet_view(view, files, base=root)
        key = ", ".join(warehouse.dialect.quote(k) for k in spec.key)
        rows, duplicated = warehouse.row(
            "select coalesce(sum(n), 0), coalesce(sum(case when n > 1 then n else 0 end), 0) "
            f"from (select count(*) as n from {view} group by {key}) as per_key"
        )
        totals = dup.setdefault(spec.source, [0, 0])
        totals[0] += int(rows)
        totals[1] += int(duplicated)
        contact_cols = [c for c in CONTACT_COLUMNS if c in {col.name for col in spec.columns}]
        if contact_cols:
            has_contact = " or ".join(f"{warehouse.dialect.quote(c)} is not null" for c in contact_cols)
            records, reachable = warehouse.row(
                "select count(*), coalesce(sum(case when has_contact then 1 else 0 end), 0) from ("
                f"select {has_contact} as has_contact, row_number() over (partition by {key} "
                f"order by load_date desc, _source_line desc) as version from {view}) as latest "
                "where version = 1"
            )
            totals = contact.setdefault(spec.source, [0, 0])
            totals[0] += int(records)
            totals[1] += int(reachable)
    out = [(s, "duplicate_rate", d / n) for s, (n, d) in dup.items() if n]
    out += [(s, "contact_completeness", r / n) for s, (n, r) in contact.items() if n]
    return out


def _match_rates(warehouse: Warehouse) -> list[Metric]:
    if "customer_identity_map" not in warehouse.tables("marts"):
        return []
    rates = warehouse.arrow(
        "with sizes as (select customer_id, count(*) as records from marts.customer_identity_map "
        "group by customer_id) "
        "select identity_map.source, "
        "avg(case when sizes.records > 1 then cast(1 as double) else cast(0 as double) end) as rate "
        "from marts.customer_identity_map as identity_map "
        "left join sizes on sizes.customer_id = identity_map.customer_id "
        "group by identity_map.source order by 1"
    ).to_pylist()
    return [(row["source"], "match_rate", float(row["rate"])) for row in rates]
