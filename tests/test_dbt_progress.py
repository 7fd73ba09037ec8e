"""dbt's progress reaches the logs a person reads (issue 22: Airflow's dbt_build task log held no dbt
progress, only one huge return dict at the end): one INFO line per finished node on logger cdp.dbt,
which the Airflow task log and cdp.log carry."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cdp import dbt_runner
from cdp.config import Settings


def test_every_finished_node_is_logged_as_it_finishes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings.load(home=tmp_path / "home").ensure()
    caplog.set_level(logging.INFO, logger="cdp.dbt")
    result = dbt_runner.invoke(settings, dbt_runner.dbt_args(settings, ["seed"]))
    assert result.success, result.exception
    lines = [r.getMessage() for r in caplog.records if r.name == "cdp.dbt"]
    seeds = [line for line in lines if line.startswith("seed ")]
    assert len(seeds) >= 3
    assert any(line.startswith("seed rfm_segment_map success in ") for line in seeds)
