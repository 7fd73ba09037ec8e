"""The landed layout as ingest leaves it, for tests that write landed partitions themselves.

Ingest writes a quarantine partition for every parent entity it lands (``ingest/land.py``; empty when
no row failed its contract), and the quarantine staging models read them like the landed sources
(``dbt_project/models/staging/quarantine/_quarantine__sources.yml``). A hand-made lake must hold them
too, or its build fails on a source that matches no file.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

import ingest
from cdp import lake as lake_layout
from ingest.contract import QUARANTINE_SCHEMA


def quarantine_partition(lake: Path, source: str, entity: str, load_date: date) -> None:
    """The empty quarantine partition of ``entity`` (a parent entity; children have none) and
    ``load_date``, unless one is there."""
    if entity not in {e.name for e in ingest.load_contract(source).entities}:
        return
    folder = Path(lake) / lake_layout.QUARANTINE / source / entity / f"load_date={load_date.isoformat()}"
    if not (folder / lake_layout.PART).exists():
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(QUARANTINE_SCHEMA.empty_table(), folder / lake_layout.PART)
