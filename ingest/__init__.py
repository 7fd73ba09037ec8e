"""Ingest: land raw source drops into the lake as typed, contract-checked Parquet.

Contract rules, landed layout, quarantine and manifest are specified in ``ingest/contracts/README.md``.
"""

from __future__ import annotations

from cdp.lake import manifest_path, partition

from .contract import Contract, Entity, Field, list_sources, load_contract
from .errors import IngestError
from .land import EntityReport, LoadReport, land_source

__all__ = [
    "Contract",
    "Entity",
    "EntityReport",
    "Field",
    "IngestError",
    "LoadReport",
    "land_source",
    "list_sources",
    "load_contract",
    "manifest_path",
    "partition",
]
