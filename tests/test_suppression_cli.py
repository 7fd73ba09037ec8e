"""The suppression list as an operator uses it (issue 22): `cdp suppression list` newest first with the
source of each row, `cdp suppression check ADDRESS` (is it suppressed, by any spelling?) and
`cdp suppression add` (checked before it is written). Before: oldest first, titled with the file while
most rows came from the unsubscribe feed, and no lookup or add command."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdp.cli import app
from cdp.config import Settings
from cdp.suppression import add_suppression

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    settings = Settings.load(home=tmp_path / "home").ensure()
    add_suppression(settings, "email", "Anna.Visser+news@Gmail.com", "complaint", "2026-01-05")
    add_suppression(settings, "sms", "06 12345678", "asked by phone", "2026-03-01")
    add_suppression(settings, "all", "not an address", "typo", "2026-02-01")
    return settings


def _cli(home: Settings, *args: str):
    return runner.invoke(app, ["suppression", *args, "--home", str(home.home)])


def test_list_is_newest_first_with_the_source_of_each_row(home: Settings) -> None:
    result = _cli(home, "list")
    assert result.exit_code == 0, result.output
    assert "Suppressed: the suppression file (config/suppression.csv)" in result.output
    text = result.output
    # Newest first: 2026-03-01 (the phone), 2026-02-01 (an address that matches nobody), 2026-01-05.
    assert text.index("+31******78") < text.index("unreadable") < text.index("a***@gmail.com")
    assert "3 suppressed: 3 from suppression file" in text
    assert "anna.visser" not in result.output.lower()
    assert "12345678" not in result.output


@pytest.mark.parametrize(
    "spelling", ["annavisser@gmail.com", " ANNA.VISSER@googlemail.com", "anna.visser+x@gmail.com"]
)
def test_check_finds_an_address_by_any_spelling(home: Settings, spelling: str) -> None:
    result = _cli(home, "check", spelling)
    assert result.exit_code == 0, result.output
    assert "suppressed on email" in result.output
    assert "complaint" in result.output
    assert "visser" not in result.output.lower()  # masked


def test_check_a_phone_and_an_unknown_address(home: Settings) -> None:
    assert _cli(home, "check", "+31 6 1234 5678").exit_code == 0
    unknown = _cli(home, "check", "someone@example.org")
    assert unknown.exit_code == 1
    assert "not suppressed" in unknown.output
    assert _cli(home, "check", "hello").exit_code == 2


def test_add_checks_the_address_before_writing(home: Settings) -> None:
    before = home.suppression_file.read_text(encoding="utf-8")
    refused = runner.invoke(
        app, ["suppression", "add", "not-an-email", "--channel", "email", "--home", str(home.home)]
    )
    assert refused.exit_code == 2
    assert "nothing was added" in refused.output
    assert home.suppression_file.read_text(encoding="utf-8") == before

    added = runner.invoke(
        app, ["suppression", "add", "Piet@Example.org", "--channel", "email", "--reason", "gdpr objection",
              "--home", str(home.home)],
    )
    assert added.exit_code == 0, added.output
    assert "p***@example.org suppressed on email" in added.output
    assert _cli(home, "check", "piet@example.org").exit_code == 0
