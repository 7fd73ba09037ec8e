"""`cdp summary`: the latest run by default; a date that never ran is refused, not an empty table."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from cdp.cli import app
from cdp.config import Settings


def _home(tmp_path: Path, ran: list[str]) -> Settings:
    settings = Settings.load(home=tmp_path / "home").ensure()
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.dim_customers as select 'C1' as customer_id")
    runs = settings.logs / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    for day in ran:  # what pipeline.run writes when a night completes
        (runs / f"{day}.json").write_text(json.dumps({"run_date": day, "steps": {}}), encoding="utf-8")
    return settings


def test_summary_refuses_a_date_that_never_ran(tmp_path: Path) -> None:
    settings = _home(tmp_path, ["2026-03-09", "2026-03-10"])
    result = CliRunner().invoke(app, ["summary", "--date", "2026-01-01", "--home", str(settings.home)])
    assert result.exit_code == 1
    assert "no run for 2026-01-01" in result.output
    assert "2026-03-09 .. 2026-03-10" in result.output


def test_summary_defaults_to_the_latest_run(tmp_path: Path) -> None:
    settings = _home(tmp_path, ["2026-03-09", "2026-03-10"])
    result = CliRunner().invoke(app, ["summary", "--home", str(settings.home)])
    assert result.exit_code == 0, result.output
    assert "2026-03-10" in result.output


def test_summary_on_a_home_that_never_ran(tmp_path: Path) -> None:
    settings = _home(tmp_path, [])
    result = CliRunner().invoke(app, ["summary", "--home", str(settings.home)])
    assert result.exit_code == 1
    assert "no night has run" in result.output


def test_summary_leads_with_verdicts_and_exports_and_shows_that_dates_figures(tmp_path: Path) -> None:
    """Issue 22: an earlier date showed today's warehouse and RFM figures under that date, no gate
    verdict, and a 53-row table of intermediate tables dominated it."""
    settings = _home(tmp_path, ["2026-03-09", "2026-03-10"])
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create table marts.identity_quality_history as select * from (values "
                    "(date '2026-03-09', 40), (date '2026-03-10', 55)) as t(as_of_date, customers)")
        con.execute("create table marts.customer_rfm_history as select * from (values "
                    "(date '2026-03-09', 'C1', 'Champions'), (date '2026-03-10', 'C1', 'Loyal')) "
                    "as t(as_of_date, customer_id, rfm_segment)")
        con.execute("create schema intermediate")
        con.execute("create table intermediate.int_identity_pairs_compared as select 1 as x")
    night = settings.reports / "2026-03-09"
    night.mkdir(parents=True)
    (night / "dq_landed.json").write_text(json.dumps({"passed": True, "evaluated": 80, "critical": [],
                                                      "warnings": []}))
    exports = settings.exports / "2026-03-09"
    exports.mkdir(parents=True)
    (exports / "manifest.json").write_text(json.dumps({"segments": {"vip": {"members": 5, "control": 1,
        "destinations": {"mailchimp": {"rows": 4, "added": 4, "removed": 0, "file": "vip/mailchimp.csv"}}}}}))

    text = CliRunner().invoke(app, ["summary", "--date", "2026-03-09", "--home", str(settings.home)]).output

    assert text.index("Landed data gate: PASSED") < text.index("Exports") < text.index("Landing (")
    assert "Marts gate: not run" in text
    assert "Customers in the single customer view as of 2026-03-09: 40" in text
    assert "Champions" in text
    assert "Loyal" not in text
    assert "int_identity_pairs_compared" not in text
    every = CliRunner().invoke(
        app, ["summary", "--date", "2026-03-09", "--all-tables", "--home", str(settings.home)]
    ).output
    assert "intermediate.int_identity_pairs_compared" in every
