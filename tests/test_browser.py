"""The pages people look at, opened in a real browser (headless Chromium from the system packages;
`.ci/run` installs it): the run report, the quality pages of every night and the dbt docs, from disk
with no network. Each must show what a person checks, load every resource it refers to, and not be
blank; screenshots are kept beside the pages (``<reports>/<date>/screenshots/``) for a person to look
at, by the function ``cdp demo`` calls (``cdp/screenshots.py``, which drives Chromium for these tests
too). Issue 22: GX Data Docs rendered empty offline and dbt docs never finished loading from file://."""

from __future__ import annotations

import logging
from datetime import date
from urllib.parse import unquote

import pytest
from conftest import copy_home
from typer.testing import CliRunner

from cdp import screenshots
from cdp.cli import app
from cdp.config import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _chromium() -> None:
    if screenshots.chromium() is None:
        pytest.fail("the browser tests need headless Chromium: apt-get install chromium (.ci/run does)")


@pytest.fixture(scope="module")
def night(first_night: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return copy_home(first_night, tmp_path_factory.mktemp("browser") / "home")


def test_run_report_and_quality_pages_in_a_browser(night: Settings, drop_dates) -> None:
    # What `cdp demo` does at its end: each page a person looks at after a night, opened and kept
    # as a screenshot under the home.
    folder = night.reports / drop_dates[0].isoformat()
    opened = screenshots.screenshot_night(night.reports, drop_dates[0])
    pages = {page.screenshot.name: page for page in opened}
    assert sorted(pages) == ["dq_landed.png", "dq_marts.png", "quality.png", "report.png"]
    for page in pages.values():
        assert page.failed == [], page.url
        assert page.screenshot.parent == folder / "screenshots"
        assert page.screenshot.stat().st_size > 20_000, page.url
        assert not screenshots.blank(page.screenshot), f"{page.screenshot} is (nearly) one colour"
    report = pages["report.png"].dom
    assert "Landed data gate" in report
    assert "PASSED" in report
    assert "<h2>Exports</h2>" in report
    assert report.count("data:image/svg+xml;base64,") >= 3  # the plots are inside the page
    # Issue 23's trend sections, each with its plot, on the night's own marts.
    trends = ("KPIs over the last 12 months", "Retention by first-purchase month", "Campaign scorecards",
              "Tiers over time")
    for heading in trends:
        section = report[report.index(f"<h2>{heading}</h2>"):]
        section = section[:section.index("<h2>", 4)]
        assert "data:image/svg+xml;base64," in section, heading
    assert " *</td>" in report  # the month so far is marked
    assert "expectations evaluated" in pages["dq_landed.png"].dom
    assert "expectations evaluated" in pages["dq_marts.png"].dom
    assert drop_dates[0].isoformat() in pages["quality.png"].dom


def test_dbt_docs_open_from_disk(night: Settings) -> None:
    result = CliRunner().invoke(app, ["docs", "--home", str(night.home)])
    assert result.exit_code == 0, result.output
    shot = night.reports / "screenshots" / "dbt_docs.png"
    # Rendered by the docs' own scripts from the manifest inside the file (the markdown of the
    # overview turned into headings exists only after they ran): not a page that never finishes loading.
    page = screenshots.open_page(
        (night.dbt_target_dir / "static_index.html").as_uri(), screenshot=shot,
        ready="document.getElementById('where-to-start') !== null",
    )
    # dbt's page itself asks for three URLs that are its own unrendered template text (two icons'
    # "{{ getIcon(...) }}" before Angular fills them in, the favicon's "${require(...)}" its build left
    # in): they point at nothing and show nothing. Any other failed load is one.
    template_text = ("{{ getIcon(item.type, 'on') }}", "{{ getIcon(item.type, 'off') }}",
                     "${require('./assets/favicons/favicon.ico')}")
    failed = [url for url in page.failed if not unquote(url.split(": ")[0]).endswith(template_text)]
    assert failed == []
    assert '<h2 id="layers">Layers</h2>' in page.dom
    assert '<h2 id="where-to-start">Where to start</h2>' in page.dom
    assert not screenshots.blank(shot), "the dbt docs' screenshot is (nearly) one colour"


def test_the_browser_sees_failed_loads_and_blank_pages(tmp_path) -> None:
    # What the checks above rely on: a resource that is missing or online is reported, and a page with
    # nothing on it is (nearly) one colour.
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><body><img src='missing.png'><script src='http://cdn.example.invalid/x.js'></script></body></html>",
        encoding="utf-8",
    )
    opened = screenshots.open_page(page.as_uri(), screenshot=tmp_path / "broken.png")
    assert sorted(opened.failed) == [  # in the order they failed, which varies
        f"{(tmp_path / 'missing.png').as_uri()}: net::ERR_FILE_NOT_FOUND",
        "http://cdn.example.invalid/x.js: net::ERR_NAME_NOT_RESOLVED",
    ]
    assert screenshots.blank(tmp_path / "broken.png")


def test_no_chromium_no_screenshots_one_log_line(
    tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A machine without Chromium (none on PATH): the demo's call takes no screenshots of a night's pages
    # and says so once.
    day = date(2026, 3, 10)
    (tmp_path / day.isoformat()).mkdir()
    (tmp_path / day.isoformat() / "report.html").write_text("<h1>Run report</h1>", encoding="utf-8")
    assert screenshots.night_pages(tmp_path, day) == [tmp_path / day.isoformat() / "report.html"]
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))
    with caplog.at_level(logging.INFO, logger="cdp.screenshots"):
        assert screenshots.screenshot_night(tmp_path, day) == []
    assert [record.getMessage() for record in caplog.records] == [
        "no Chromium on this machine: no screenshots of the pages (apt-get install chromium)"
    ]
    assert not (tmp_path / day.isoformat() / "screenshots").exists()
