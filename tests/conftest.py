"""Shared fixtures: small generated drops, made once per test session."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from cdp.config import Settings

END_DATE = date(2026, 3, 10)
DAYS = 2  # nightly drops after the history drop
PEOPLE = 1_500


@pytest.fixture(scope="session")
def raw_drops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Raw drops for ``DAYS + 1`` dates ending ``END_DATE`` (first one carries a year of history)."""
    from cdp.generator import generate

    out = tmp_path_factory.mktemp("raw")
    generate(out, people=PEOPLE, days=DAYS, end_date=END_DATE, seed=7)
    return out


@pytest.fixture(scope="session")
def drop_dates() -> list[date]:
    return [END_DATE - timedelta(days=DAYS - i) for i in range(DAYS + 1)]


@pytest.fixture
def settings(tmp_path: Path, raw_drops: Path) -> Settings:
    return Settings.load(home=tmp_path / "home", raw=raw_drops).ensure()
