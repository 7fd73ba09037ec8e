"""The home under hostile conditions: a full disk, a read-only home, other local users."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cdp.cli import app
from cdp.config import Settings


@contextlib.contextmanager
def _mounted(kind: str, target: Path, options: str, source: str = "tmpfs"):
    """A real mount (root: a tmpfs of a given size, a read-only bind); skipped where not allowed."""
    target.mkdir(parents=True, exist_ok=True)
    args = ["mount", "-t", kind, "-o", options, source, str(target)] if kind else [
        "mount", "--bind", source, str(target)
    ]
    if os.geteuid() != 0 or subprocess.run(args, capture_output=True, check=False).returncode != 0:
        pytest.skip("needs root to mount a small or read-only filesystem")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


def test_full_disk_is_one_clear_line_and_publishes_nothing(
    tmp_path: Path, raw_drops: Path, drop_dates: list[date]
) -> None:
    """The lake fills up mid-landing: one line naming the step and the cause, no traceback, and
    nothing of the half-written landing visible in the lake."""
    day = drop_dates[0].isoformat()
    with _mounted("tmpfs", tmp_path / "small", "size=2m") as disk:
        home = disk / "home"
        result = CliRunner().invoke(app, ["run", "--date", day, "--raw", str(raw_drops), "--home", str(home)])
        assert result.exit_code == 1, result.output
        error = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert len(error) == 1, result.output
        assert "no space left on device" in error[0]
        assert "nothing of this step was published" in error[0]
        assert "Traceback" not in result.output
        landed = list((home / "lake" / "landing").rglob("*.parquet")) if (home / "lake").exists() else []
        manifests = list((home / "lake" / "manifests").rglob("*.json")) if (home / "lake").exists() else []
        # Whatever landed was landed whole: a partition is published only with its source's manifest.
        sources_landed = {p.relative_to(home / "lake" / "landing").parts[0] for p in landed}
        sources_with_manifest = {p.relative_to(home / "lake" / "manifests").parts[0] for p in manifests}
        assert sources_landed <= sources_with_manifest


def test_read_only_commands_work_on_a_read_only_home(tmp_path: Path) -> None:
    """An analyst's read-only copy (or mount) of a home: query, segments and suppression list answer;
    nothing tries to open logs/cdp.log for writing first."""
    home = tmp_path / "home"
    settings = Settings.load(home=home).ensure()
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.customer_rfm as select 'C1' as customer_id, 'Champions' as rfm_segment"
        )
    shutil.rmtree(settings.logs)
    with _mounted("", tmp_path / "ro", "", source=str(home)) as view:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True)
        runner = CliRunner()
        result = runner.invoke(
            app, ["query", "select rfm_segment from marts.customer_rfm", "--home", str(view)]
        )
        assert result.exit_code == 0, result.output
        assert "Champions" in result.output
        result = runner.invoke(app, ["suppression", "list", "--home", str(view)])
        assert result.exit_code == 0, result.output
        assert not (view / "logs").exists()


def test_files_holding_personal_data_are_owner_only(tmp_path: Path, raw_drops: Path, drop_dates) -> None:
    """What a night writes (lake, quarantine, manifests) is readable by its owner only; the home
    folder is closed to other users, which also covers files created before this rule."""
    from cdp import pipeline

    home = tmp_path / "home"
    settings = Settings.load(home=home, raw=raw_drops).ensure()
    pipeline.ingest_source(settings, drop_dates[0], "pos")
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700
    written = [p for p in (home / "lake").rglob("*") if p.is_file()]
    assert written
    for path in written:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode & 0o077 == 0, f"{path.relative_to(home)} is readable by others ({oct(mode)})"


def test_a_configured_group_may_read_the_home(tmp_path: Path, raw_drops: Path, drop_dates) -> None:
    """files.group: the home is setgid to that group and files are group-readable, never world-readable."""
    import grp

    from cdp import pipeline

    group = "users"
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        pytest.skip("no 'users' group on this machine")
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "cdp.yml").write_text(f"files:\n  group: {group}\n", encoding="utf-8")
    settings = Settings.load(home=home, raw=raw_drops).ensure()
    pipeline.ingest_source(settings, drop_dates[0], "messaging")
    info = os.stat(home)
    assert stat.S_IMODE(info.st_mode) == 0o2750
    assert info.st_gid == gid
    for path in (home / "lake").rglob("*"):
        if path.is_file():
            mode = stat.S_IMODE(os.stat(path).st_mode)
            assert mode & 0o007 == 0, f"{path.relative_to(home)} is readable by others ({oct(mode)})"
            assert os.stat(path).st_gid == gid
