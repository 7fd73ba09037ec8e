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
