"""The nightly pipeline through its public entry points (``cdp.pipeline`` and the ``cdp`` CLI)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import copy_home
from typer.testing import CliRunner
from warehouse_rows import export_files as _exports
from warehouse_rows import mart_rows as _marts

from cdp import pipeline
from cdp.cli import app
from cdp.config import Settings
from exports.definitions import load_definitions


class Analyst:
    """A read-only DuckDB session on the published warehouse, open in another process (tests/analyst.py),
    as `duckdb -readonly` would hold it."""

    def __init__(self, path: Path) -> None:
        script = Path(__file__).with_name("analyst.py")
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._read() == "ready"

    def _read(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def ask(self, line: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.ask("quit")
        self.process.wait(timeout=30)


@pytest.mark.slow
def test_rerun_is_idempotent_and_point_in_time(
    second_night: Settings, tmp_path: Path, drop_dates: list[date]
) -> None:
    """Re-running a date after the next day has landed gives the same marts and the same export bytes;
    an analyst's session held open across a whole night neither blocks it nor sees half of it."""
    first, second, third = drop_dates[:3]
    settings = copy_home(second_night, tmp_path / "home")  # the first two dates' nights, run once per suite
    marts_before = _marts(settings, second)
    exports_before = _exports(settings, second)
    assert marts_before["dim_customers"], "no customers built"

    nights = "query select max(as_of_date)::varchar from marts.identity_quality_history"
    analyst = Analyst(settings.published_warehouse)
    try:
        assert analyst.ask(nights) == second.isoformat()
        pipeline.run(settings, third)  # lands and builds the next day, the analyst's session open
        assert analyst.ask(nights) == second.isoformat(), "the open session must keep its night"
        assert analyst.ask("reconnect") == "ready"
        assert analyst.ask(nights) == third.isoformat()
    finally:
        analyst.close()
    assert _marts(settings, third) != marts_before, "the next day changed nothing; the test proves nothing"
    pipeline.run(settings, second)  # re-run the earlier date

    assert _marts(settings, second) == marts_before
    assert _exports(settings, second) == exports_before
    _assert_deltas_and_control_groups(settings, first, second)
    _assert_every_segment_is_scored(settings, first)
    _assert_failed_gate_publishes_nothing(settings, second)


def _assert_every_segment_is_scored(settings: Settings, first: date) -> None:
    """The campaign scorecard (D56, D57): every shipped segment exported on the first night has its
    result the next night, compared with its control group."""
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        scored = dict(
            con.execute(
                "select segment_name, has_control_group from marts.campaign_results "
                "where audience_source = 'segment_export' and sent_date = ?",
                [first],
            ).fetchall()
        )
    assert scored == {segment.name: True for segment in load_definitions().segments}


def _assert_failed_gate_publishes_nothing(settings: Settings, day: date) -> None:
    """A night whose build the mart gate rejects leaves the published warehouse as it was, byte for
    byte, and the next attempt starts again from it (the rejected build is discarded)."""
    from cdp import publish
    from expectations import GateFailed

    published = settings.published_warehouse
    before = hashlib.sha256(published.read_bytes()).hexdigest()
    staged = publish.begin(settings)  # what the dbt step starts from; then a defect in the build:
    with duckdb.connect(str(staged.warehouse)) as con:
        con.execute("update restricted.customer_profiles set phone = '0612345678' where phone is not null")
    with pytest.raises(GateFailed):
        pipeline.gate_marts(settings, day)
    assert hashlib.sha256(published.read_bytes()).hexdigest() == before
    publish.begin(settings)
    with duckdb.connect(str(settings.build_warehouse), read_only=True) as con:
        plain = con.execute(
            "select count(*) from restricted.customer_profiles where phone = '0612345678'"
        ).fetchall()[0][0]
    assert plain == 0, "a new attempt must start from the published night, not the rejected build"


def _lines(path: Path) -> set[str]:
    return set(path.read_text().splitlines()[1:])


def _assert_deltas_and_control_groups(settings: Settings, first: date, second: date) -> None:
    """On generator data: added/removed/updated are exactly the difference of two days' full files (a
    member whose other columns changed is an update: its new row, and its old row is not 'removed'),
    and the control group is stable across days, recorded, and never in a file."""
    manifest = json.loads((settings.exports / second.isoformat() / "manifest.json").read_text())
    checked = 0
    for segment, info in manifest["segments"].items():
        for destination in info["destinations"]:
            today = settings.exports / second.isoformat() / segment
            before = settings.exports / first.isoformat() / segment / f"{destination}.csv"
            full, previous = _lines(today / f"{destination}.csv"), _lines(before)
            added, removed, updated = (
                _lines(today / f"{destination}.{kind}.csv") for kind in ("added", "removed", "updated")
            )
            assert not added & updated, (segment, destination)
            assert added | updated == full - previous, (segment, destination)
            assert removed <= previous - full, (segment, destination)
            assert len(removed) + len(updated) == len(previous - full), (segment, destination)
            checked += 1
    assert checked >= 6
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        flags = con.execute(
            "select segment, customer_id, list(distinct is_control) from ops.segment_membership "
            "where run_date in (?, ?) group by 1, 2",
            [first, second],
        ).fetchall()
        control = {
            row[0]
            for row in con.execute(
                "select customer_id from ops.segment_membership "
                "where run_date = ? and segment = 'vip_champions' and is_control",
                [second],
            ).fetchall()
        }
    assert all(len(values) == 1 for _, _, values in flags), "a member changed group between days"
    assert control, "vip_champions holds out 10%: the generator data should give a control group"
    meta = settings.exports / second.isoformat() / "vip_champions" / "meta_custom_audience.csv"
    exported = {line.rsplit(",", 1)[-1] for line in _lines(meta)}
    assert not exported & control


def test_missing_file_is_a_clear_error(tmp_path: Path, raw_drops: Path, drop_dates: list[date]) -> None:
    day = drop_dates[0].isoformat()
    raw = tmp_path / "raw"
    shutil.copytree(raw_drops / "pos" / day, raw / "pos" / day)
    (raw / "pos" / day / "transactions.csv").unlink()
    home = tmp_path / "home"

    result = CliRunner().invoke(app, ["run", "--date", day, "--raw", str(raw), "--home", str(home)])

    assert result.exit_code == 1
    assert "transactions.csv" in result.output
    assert day in result.output
    assert "Traceback" not in result.output
    assert not list((home / "lake" / "landing").glob(f"pos/*/load_date={day}"))


def test_backfill_rejects_reversed_range(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["backfill", "--start", "2026-01-02", "--end", "2026-01-01", "--home", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "before" in result.output
