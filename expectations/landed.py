"""Landed gate: the day's Parquet partitions against their contracts, and the quarantine rates."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdp import lake
from expectations import suites
from expectations.contracts import EntitySpec, entity_specs
from expectations.result import GateResult, Issue
from expectations.runner import GxRun
from expectations.settings import CRITICAL, MISSING_DATA_SEVERITY, QUARANTINE_CRITICAL_MIN_ROWS

if TYPE_CHECKING:
    import pandas as pd

    from cdp.config import Settings


def read_manifest(settings: Settings, source: str, run_date: date) -> dict[str, Any] | None:
    path = lake.manifest_path(settings, source, run_date)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def quarantine_rate(stats: dict[str, Any]) -> float:
    """Quarantined share of the rows read; rows erased for forgotten people (cdp forget) do not count."""
    read = (stats.get("rows_read") or 0) - (stats.get("rows_erased") or 0)
    return (stats.get("rows_quarantined") or 0) / read if read else 0.0


def read_partition(path: Path, spec: EntitySpec) -> tuple[pd.DataFrame, list[str]]:
    """The checked columns only (decimals as float64); also the contract columns the file lacks."""
    import pyarrow as pa


    present = set(lake.read_schema(path).names)
    missing = [c for c in spec.column_names if c not in present]
    columns = [c for c in spec.checked_columns if c in present]
    table = lake.read_table(path, columns=columns)
    for name in spec.decimal_columns:
        if name in table.column_names and pa.types.is_decimal(table.schema.field(name).type):
            index = table.column_names.index(name)
            table = table.set_column(index, name, table.column(name).cast(pa.float64()))
    return table.to_pandas(), missing


def run_landed_gate(settings: Settings, run_date: date) -> GateResult:
    """Validate every landed entity's ``load_date=run_date`` partition; see ``expectations`` docs."""
    import pandas as pd


    run = GxRun("landed", settings, run_date)
    manifests: dict[str, dict[str, Any] | None] = {}
    rates: dict[str, float] = {}
    few: set[str] = set()  # entities with too few quarantined rows for a critical rate
    for spec in entity_specs():
        if spec.source not in manifests:
            manifests[spec.source] = read_manifest(settings, spec.source, run_date)
            if manifests[spec.source] is None:
                run.add_issue(
                    MISSING_DATA_SEVERITY,
                    Issue(
                        "landed.manifests",
                        "manifest_exists",
                        spec.source,
                        f"no manifest for {spec.source} on {run_date.isoformat()} (source not landed)",
                    ),
                )
        manifest = manifests[spec.source]
        stats = (manifest or {}).get("entities", {}).get(spec.entity)
        if stats is not None:
            rates[spec.name] = quarantine_rate(stats)
            if (stats.get("rows_quarantined") or 0) < QUARANTINE_CRITICAL_MIN_ROWS:
                few.add(spec.name)
        path = lake.partition_file(settings, lake.LANDING, spec.source, spec.entity, run_date)
        if not path.exists():
            if manifest is not None and (stats is None or stats.get("rows_landed", 0) > 0):
                run.add_issue(
                    MISSING_DATA_SEVERITY,
                    Issue(
                        f"landed.{spec.name}",
                        "partition_exists",
                        None,
                        f"no landed partition for {run_date.isoformat()} "
                        f"(manifest: {(stats or {}).get('rows_landed', 'no entry')} rows landed)",
                    ),
                )
            continue
        df, missing = read_partition(path, spec)
        for column in missing:
            run.add_issue(
                CRITICAL,
                Issue(
                    f"landed.{spec.name}",
                    "expect_column_to_exist",
                    column,
                    "column of the contract is missing from the landed partition",
                ),
            )
        rows_landed = stats.get("rows_landed") if stats else None
        run.validate(suites.landed_suite(spec, rows_landed), df)
        del df
    if rates:
        frame = pd.DataFrame({name: [rate] for name, rate in rates.items()})
        run.validate(suites.quarantine_suite(list(rates), frozenset(few)), frame)
    return run.finish(settings)
