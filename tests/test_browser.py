"""The pages people look at, opened in a real browser (headless Chromium from the system packages;
`.ci/run` installs it): the run report, the quality pages of every night and the dbt docs, from disk
with no network. Each must show what a person checks, load every resource it refers to, and not be
blank; screenshots are kept beside the pages (``<reports>/<date>/screenshots/``) for a person to look
at. Issue 22: GX Data Docs rendered empty offline and dbt docs never finished loading from file://."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import copy_home
from typer.testing import CliRunner

from cdp.cli import app
from cdp.config import Settings

pytestmark = pytest.mark.slow


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("the browser tests need headless Chromium: apt-get install chromium (.ci/run does)")
    return path


def _open(page: Path, screenshot: Path) -> tuple[str, str]:
    """The page's DOM after its scripts ran, and the browser's log (failed loads are logged there)."""
    base = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
            "--virtual-time-budget=8000", "--allow-file-access-from-files"]
    dom = subprocess.run([*base, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120,
                         check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    shot = subprocess.run([*base, f"--screenshot={screenshot}", "--window-size=1400,2400", page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert screenshot.stat().st_size > 20_000, "the screenshot is (nearly) blank"
    return dom.stdout, dom.stderr + shot.stderr


def _no_failed_loads(log: str) -> None:
    failed = [line for line in log.splitlines() if "net::ERR_" in line or "Failed to load resource" in line]
    assert failed == []


@pytest.fixture(scope="module")
def night(first_night: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return copy_home(first_night, tmp_path_factory.mktemp("browser") / "home")


def test_run_report_and_quality_pages_in_a_browser(night: Settings, drop_dates) -> None:
    folder = night.reports / drop_dates[0].isoformat()
    shots = folder / "screenshots"
    dom, log = _open(folder / "report.html", shots / "report.png")
    _no_failed_loads(log)
    assert "Landed data gate" in dom
    assert "PASSED" in dom
    assert "<h2>Exports</h2>" in dom
    assert dom.count("data:image/png;base64,") >= 3  # the plots are inside the page
    dom, log = _open(folder / "dq_landed.html", shots / "dq_landed.png")
    _no_failed_loads(log)
    assert "expectations evaluated" in dom
    dom, log = _open(night.reports / "quality.html", shots / "quality.png")
    _no_failed_loads(log)
    assert drop_dates[0].isoformat() in dom


def test_dbt_docs_open_from_disk(night: Settings) -> None:
    result = CliRunner().invoke(app, ["docs", "--home", str(night.home)])
    assert result.exit_code == 0, result.output
    page = night.dbt_target_dir / "static_index.html"
    dom, log = _open(page, night.reports / "screenshots" / "dbt_docs.png")
    _no_failed_loads(log)
    # Rendered by the docs' own scripts from the manifest inside the file (the markdown of the
    # overview turned into headings exists only after they ran): not a page that never finishes loading.
    assert '<h2 id="layers">Layers</h2>' in dom
    assert '<h2 id="where-to-start">Where to start</h2>' in dom
