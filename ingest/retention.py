"""Quarantine retention: the raw text of a quarantined row is kept for a while, then dropped.

A quarantined row keeps the raw line (``_raw``) so that someone can see what was wrong and fix the
source; but it is personal data held outside every mart, and a forgotten partition would hold it
forever. After ``quarantine.retention_days`` (the home's ``config/cdp.yml``, default 90) counted from
the partition's load date, each night rewrites such partitions with ``_raw`` emptied: the file, line
numbers and reason stay, so counts and reconciliation still hold (the manifests are not changed).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

from cdp import lake
from cdp.config import Settings

log = logging.getLogger("ingest")

def expire_quarantine(settings: Settings, run_date: date) -> int:
    """Empty the raw text of quarantined rows loaded more than the retention period before
    ``run_date``; returns how many rows lost their raw text tonight."""
    keep_from = run_date - timedelta(days=settings.site.quarantine_retention_days)
    root = settings.lake / lake.QUARANTINE
    if not root.exists():
        return 0
    expired = 0
    for path in sorted(root.glob("*/*/load_date=*/*.parquet")):
        loaded = _load_date(path)
        if loaded is None or loaded >= keep_from:
            continue
        table = lake.read_table(path)
        if "_raw" not in table.column_names or table.num_rows == 0:
            continue
        holding = table.num_rows - table.column("_raw").null_count
        if holding == 0:
            continue
        index = table.column_names.index("_raw")
        emptied = pa.nulls(table.num_rows, pa.string())
        emptied_table = table.set_column(index, table.schema.field(index), emptied)
        lake.write_table(path, emptied_table, **lake.PARQUET_OPTIONS)
        expired += holding
    if expired:
        log.info("quarantine: raw text of %d row(s) loaded before %s dropped (retention)", expired, keep_from)
    return expired


def _load_date(path: Path) -> date | None:
    name = path.parent.name
    try:
        return date.fromisoformat(name.removeprefix("load_date="))
    except ValueError:
        return None

