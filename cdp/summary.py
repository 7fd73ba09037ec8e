"""The short run summary a person reads after ``cdp run`` / ``cdp demo``: counts, never row values."""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from cdp import lake
from cdp.config import Settings
from cdp.engines import EngineUnavailable, connect


@dataclass
class Summary:
    run_dates: list[str]
    landing: list[dict[str, Any]] = field(default_factory=list)
    quarantine_reasons: Counter = field(default_factory=Counter)
    warehouse: dict[str, int] = field(default_factory=dict)
    customers: int = 0
    rfm_segments: list[tuple[str, int]] = field(default_factory=list)
    exports: list[dict[str, Any]] = field(default_factory=list)
    rejected_segments: list[str] = field(default_factory=list)
    report: str | None = None
    # (gate, passed, checks, critical, warnings) of the last date, from the gates' JSON
    verdicts: list[tuple[str, bool | None, int, int, int]] = field(default_factory=list)
    as_of: str | None = None  # the date the customer and segment figures are as of
    # (status, fitted_on, note) of the night's match model (marts.identity_quality_history, D73)
    match_model: tuple[str, date | None, str | None] | None = None


def _warehouse_counts(settings: Settings, summary: Summary, as_of: date | None, all_tables: bool) -> None:
    """Rows per table (marts and restricted; every layer with ``all_tables``), one query on either
    engine, and the customers and RFM segments as of ``as_of`` from the history marts (what was true
    that night, not today's tables), falling back to the current tables for the latest night."""
    schemas = ("staging", "intermediate", "marts", "restricted") if all_tables else ("marts", "restricted")
    try:
        with connect(settings, read_only=True) as wh:
            tables = [f"{schema}.{name}" for schema in schemas for name in wh.tables(schema, views=False)]
            if tables:
                counts = wh.rows(
                    " union all ".join(
                        f"select {wh.dialect.literal(table)} as table_name, count(*) as n from {table}"
                        for table in tables
                    )
                )
                summary.warehouse = {table: int(n) for table, n in sorted(counts)}
            summary.customers = summary.warehouse.get("marts.dim_customers", 0)
            marts = set(wh.tables("marts"))
            day = wh.dialect.literal(as_of) if as_of else None
            if day and "identity_quality_history" in marts:
                rows = wh.rows(
                    f"select customers from marts.identity_quality_history where as_of_date = {day}"
                )
                if rows and rows[0][0] is not None:
                    summary.customers, summary.as_of = int(rows[0][0]), as_of.isoformat()
                if "match_model" in wh.columns("marts.identity_quality_history"):
                    model = wh.rows(
                        "select match_model, match_model_fitted_on, match_model_note "
                        f"from marts.identity_quality_history where as_of_date = {day}"
                    )
                    if model and model[0][0] is not None:
                        summary.match_model = model[0]
            if day and "customer_rfm_history" in marts:
                summary.rfm_segments = wh.rows(
                    "select rfm_segment, count(*) as n from marts.customer_rfm_history "
                    f"where as_of_date = {day} group by rfm_segment order by n desc, rfm_segment"
                )
            if not summary.rfm_segments and "customer_rfm" in marts:
                summary.rfm_segments = wh.rows(
                    "select rfm_segment, count(*) as n from marts.customer_rfm group by rfm_segment "
                    "order by n desc, rfm_segment"
                )
    except EngineUnavailable:  # nothing built yet
        return


def run_dates(settings: Settings) -> list[date]:
    """The dates a night ran for on this home (``<home>/logs/runs/<date>.json``, written when a run
    completed), oldest first."""
    folder = settings.logs / "runs"
    dates = []
    for path in folder.glob("*.json") if folder.exists() else ():
        try:
            dates.append(date.fromisoformat(path.stem))
        except ValueError:
            continue
    return sorted(dates)


def collect(settings: Settings, dates: list[date], all_tables: bool = False) -> Summary:
    """Gather landing counts for ``dates``, the gates' verdicts and exports of the last of them and
    the warehouse as of that date."""
    summary = Summary(run_dates=[d.isoformat() for d in dates])
    per_entity: dict[tuple[str, str], Counter] = {}
    for manifest in _manifests(settings, dates):
        for entity, stats in manifest["entities"].items():
            counts = per_entity.setdefault((manifest["source"], entity), Counter())
            for key in ("rows_read", "rows_landed", "rows_quarantined", "rows_erased"):
                counts[key] += stats.get(key, 0)
            for reason, n in stats.get("reasons", {}).items():
                summary.quarantine_reasons[f"{manifest['source']}.{entity}: {reason}"] += n
    summary.landing = [
        {"source": source, "entity": entity, **counts}
        for (source, entity), counts in sorted(per_entity.items())
    ]
    _warehouse_counts(settings, summary, dates[-1] if dates else None, all_tables)
    if dates:
        last = dates[-1].isoformat()
        for gate in ("landed", "marts"):
            path = settings.reports / last / f"dq_{gate}.json"
            if path.exists():
                result = json.loads(path.read_text(encoding="utf-8"))
                summary.verdicts.append((
                    gate, bool(result.get("passed")), int(result.get("evaluated") or 0),
                    len(result.get("critical") or []), len(result.get("warnings") or []),
                ))
            else:
                summary.verdicts.append((gate, None, 0, 0, 0))
        manifest_path = settings.exports / last / "manifest.json"
        if manifest_path.exists():
            manifest = json.loads(manifest_path.read_text())
            summary.rejected_segments = manifest.get("rejected_definitions", [])
            for segment, info in manifest["segments"].items():
                for destination, item in info["destinations"].items():
                    summary.exports.append({
                        **item, "segment": segment, "destination": destination, "members": info["members"],
                        "control": info["control"], "path": str(manifest_path.parent / item["file"]),
                        "no_consent": (item.get("left_out") or {}).get("no_consent"),
                    })
        report = settings.reports / last / "report.html"
        summary.report = str(report) if report.exists() else None
    return summary


def _manifests(settings: Settings, dates: list[date]) -> list[dict[str, Any]]:
    found = []
    for run_date in dates:
        for path in lake.manifests_of(settings, run_date):
            found.append(json.loads(path.read_text(encoding="utf-8")))
    return found


def match_model_line(status: str, fitted_on: date | None, note: str | None) -> str:
    """What scored the night's identity pairs, in words (``marts.identity_quality_history``)."""
    text = {
        "fitted": "fitted tonight on this retailer's records",
        "kept": f"the fit of {fitted_on} (not due for a refresh)",
        "fallback": (
            "[yellow]tonight's fit not used[/yellow], scoring with "
            + (f"the fit of {fitted_on}" if fitted_on else "the shipped model")
        ),
        "pinned": "pinned in the home's config",
        "shipped": "the shipped model",
    }.get(status, status)
    return f"{text} ({note})" if note else text


def render(summary: Summary) -> None:
    """Print the summary as rich tables."""
    from rich.console import Console
    from rich.table import Table

    # A terminal decides its own width; piped into a log, 120 columns keep the tables readable.
    console = Console(width=None if sys.stdout.isatty() else 120)
    span = summary.run_dates[0] if len(summary.run_dates) == 1 else (
        f"{summary.run_dates[0]} .. {summary.run_dates[-1]}" if summary.run_dates else "-"
    )
    if summary.match_model:
        console.print(f"Match model: {match_model_line(*summary.match_model)}")
    for gate, passed, checks, critical, warnings in summary.verdicts:
        name = {"landed": "Landed data gate", "marts": "Marts gate"}[gate]
        if passed is None:
            console.print(f"{name}: not run")
            continue
        verdict = "[green]PASSED[/green]" if passed else "[bold red]FAILED[/bold red]"
        console.print(f"{name}: {verdict} · {checks:,} checks · {critical} critical · {warnings} warning(s)")
    if summary.exports:
        exported = Table(title="Exports")
        columns = (
            "segment", "destination", "members", "control", "rows", "added", "removed", "updated",
            "no consent", "no first name",
        )
        for column in columns:
            text = column in ("segment", "destination")
            exported.add_column(column, justify="left" if text else "right")
        for item in summary.exports:
            exported.add_row(
                item["segment"], item["destination"], f"{item['members']:,}", f"{item['control']:,}",
                f"{item['rows']:,}", f"{item['added']:,}", f"{item['removed']:,}",
                *(_count(item.get(key)) for key in ("updated", "no_consent", "rows_without_first_name")),
            )
        console.print(exported)
        folder = Path(summary.exports[0]["path"]).parent.parent
        console.print(
            f"Export files: {folder}/<segment>/<destination>.csv (+ .added.csv, .removed.csv, .updated.csv)"
        )
        for item in summary.exports:
            if item.get("below_min_audience"):
                console.print(
                    f"[yellow]small audience:[/yellow] {item['segment']}/{item['destination']}: "
                    f"{item['rows']:,} rows, below the {item['min_audience']:,} people the tool needs"
                )
    for problem in summary.rejected_segments:
        console.print(f"[yellow]segment definition rejected:[/yellow] {problem}")
    when = f" as of {summary.as_of}" if summary.as_of else ""
    console.print(f"Customers in the single customer view{when}: [bold]{summary.customers:,}[/bold]")
    segments = Table(title=f"RFM segments{when}")
    segments.add_column("segment")
    segments.add_column("customers", justify="right")
    for name, n in summary.rfm_segments:
        segments.add_row(name, f"{n:,}")
    console.print(segments)
    landing = Table(title=f"Landing ({span})")
    erased = any(row.get("rows_erased") for row in summary.landing)  # forgotten people (cdp forget)
    columns = ("source", "entity", "read", "landed", "quarantined", *(("erased",) if erased else ()))
    for column in columns:
        landing.add_column(column, justify="right" if column not in ("source", "entity") else "left")
    for row in summary.landing:
        landing.add_row(
            row["source"], row["entity"], f"{row['rows_read']:,}", f"{row['rows_landed']:,}",
            f"{row['rows_quarantined']:,}", *((f"{row.get('rows_erased', 0):,}",) if erased else ()),
        )
    console.print(landing)
    if summary.quarantine_reasons:
        reasons = Table(title="Quarantined rows by reason")
        reasons.add_column("entity: reason")
        reasons.add_column("rows", justify="right")
        for reason, n in summary.quarantine_reasons.most_common():
            reasons.add_row(reason, f"{n:,}")
        console.print(reasons)
    layers = Table(title="Warehouse: rows per table (marts and restricted; --all-tables for every layer)")
    layers.add_column("table")
    layers.add_column("rows", justify="right")
    for table, n in summary.warehouse.items():
        layers.add_row(table, f"{n:,}")
    console.print(layers)
    if summary.report:
        console.print(f"Report: {summary.report}")


def _count(value: object) -> str:
    """A count of the export manifest; '-' where the file has none (older manifests, no such column)."""
    return "-" if value is None else f"{value:,}"
