"""Shared fixtures: small generated drops, made once per test session."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from cdp.config import Settings

END_DATE = date(2026, 3, 10)
DAYS = 2  # nightly drops after the history drop
PEOPLE = 1_500


def pytest_configure(config: pytest.Config) -> None:
    """pytest-xdist's workers (``make test`` runs two) have a ``__main__`` without ``__spec__`` or
    ``__file__``; pyspark.sql.connect, which Great Expectations imports, takes such a process for a
    doctest run and calls ``sys.exit(0)`` in the middle of a test. Give the worker's ``__main__`` a
    file name so that check sees an ordinary program."""
    import __main__

    if getattr(__main__, "__spec__", None) is None and not hasattr(__main__, "__file__"):
        __main__.__file__ = "<pytest-xdist worker>"


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
