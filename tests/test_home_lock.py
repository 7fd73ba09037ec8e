"""One writer per home: a second state-changing command refuses in one line while another runs, and a
killed holder leaves no stale lock behind (cdp.lock)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdp import pipeline
from cdp.cli import app
from cdp.config import Settings
from cdp.lock import HomeBusy, holder, home_lock

HOLD = """
import sys, time
from pathlib import Path
from cdp.lock import home_lock
with home_lock(Path(sys.argv[1]), "cdp run for 2026-03-10"):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def running(tmp_path: Path):
    """A `cdp run` holding the home, in another process (as a second terminal or Airflow would)."""
    home = tmp_path / "home"
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(home)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    yield home, process
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


def test_second_command_refuses_naming_the_running_one(running, raw_drops: Path) -> None:
    home, process = running
    info = holder(home)
    assert info is not None
    assert info["command"] == "cdp run for 2026-03-10"
    assert info["pid"] == process.pid

    runner = CliRunner()
    for args in (
        ["run", "--date", "2026-03-08", "--raw", str(raw_drops), "--home", str(home)],
        ["forget", "--email", "someone@example.org", "--home", str(home)],
        ["identity", "train", "--date", "2026-03-08", "--home", str(home)],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert "cdp run for 2026-03-10 is in progress since" in result.output, result.output
        assert "Traceback" not in result.output
        assert "someone@example.org" not in result.output
    # An Airflow task calls the pipeline step directly: the same refusal.
    with pytest.raises(HomeBusy, match="in progress since"):
        pipeline.ingest_source(Settings.load(home=home, raw=raw_drops), date(2026, 3, 8), "pos")
    assert not (home / "lake" / "landing").exists(), "a refused command must not have started"


def test_a_killed_holder_leaves_no_stale_lock(running) -> None:
    home, process = running
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert holder(home) is None
    with home_lock(home, "cdp forget"):
        assert holder(home)["command"] == "cdp forget"


def test_the_lock_is_reentrant_in_a_process_and_waits_when_asked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with home_lock(home, "cdp run"), home_lock(home, "ingest"):  # a run's steps take it again
        assert holder(home)["command"] == "cdp run"
    assert holder(home) is None
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD.replace("time.sleep(600)", "time.sleep(1)"), str(home)],
        stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    with home_lock(home, "cdp forget", wait_seconds=60):  # waits for the run, then goes
        assert holder(home)["command"] == "cdp forget"
    process.wait(timeout=30)
