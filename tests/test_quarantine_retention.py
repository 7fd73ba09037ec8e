"""Quarantined raw text is dropped after the configured retention; reasons and counts stay."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from cdp import pipeline
from cdp.config import Settings


def _quarantine(settings: Settings) -> dict[Path, list[dict]]:
    return {
        path: pq.read_table(path).to_pylist()
        for path in sorted((settings.lake / "quarantine").rglob("*.parquet"))
    }


def test_raw_text_expires_after_the_retention_period(tmp_path: Path, raw_drops: Path, drop_dates) -> None:
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "cdp.yml").write_text("quarantine:\n  retention_days: 30\n", encoding="utf-8")
    settings = Settings.load(home=home, raw=raw_drops).ensure()
    day = drop_dates[0]
    for source in settings.sources:
        pipeline.ingest_source(settings, day, source)
    before = _quarantine(settings)
    held = sum(1 for rows in before.values() for row in rows if row["_raw"] is not None)
    assert held > 0, "the generator's drop should quarantine some rows: the test proves nothing"

    kept = pipeline.prepare(settings, day + timedelta(days=30))  # the 30th day: still kept
    assert kept["quarantine_raw_expired"] == 0
    assert _quarantine(settings) == before

    expired = pipeline.prepare(settings, day + timedelta(days=31))
    assert expired["quarantine_raw_expired"] == held
    after = _quarantine(settings)
    assert after.keys() == before.keys()
    for path, rows in after.items():
        assert all(row["_raw"] is None for row in rows)
        without_raw = [{k: v for k, v in row.items() if k != "_raw"} for row in rows]
        assert without_raw == [{k: v for k, v in row.items() if k != "_raw"} for row in before[path]]
    assert pipeline.prepare(settings, date(2030, 1, 1))["quarantine_raw_expired"] == 0  # once only
