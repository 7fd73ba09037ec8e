"""marts.data_quality_history: the night's data-quality metrics, computed in dbt from the models that
own each rule (issue 20: they were re-computed in Python, where "latest version wins" had another
tie-break than the dbt dedupe models, and a till that numbers receipts per day counted as duplicates).

Two nights of hand-written drops go through ingest and a dbt build; every value is worked out by hand.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from drops import Drop

from cdp import pipeline
from cdp.config import Settings
from cdp.warehouse import build

pytestmark = pytest.mark.slow

D1, D2 = date(2026, 3, 9), date(2026, 3, 10)
SELECT = "+data_quality_history"


def _line(receipt: str, line_no: int, when: str, card: str | None = None, store: str = "S01") -> dict:
    return {
        "receipt_id": receipt, "line_no": line_no, "store_id": store, "tx_time": when,
        "loyalty_card_no": card, "sku": "SKU1", "quantity": 1, "unit_price": "5.00", "currency": "EUR",
    }


def _member(card: str, updated_at: str, **fields: object) -> dict:
    return {"loyalty_card_no": card, "first_name": "Anna", "last_name": "Visser", "updated_at": updated_at,
            **fields}


def _metrics(settings: Settings, day: date) -> dict[tuple[str, str], float]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute(
            "select source, metric, metric_value from marts.data_quality_history where as_of_date = ?",
            [day],
        ).fetchall()
    return {(source, metric): value for source, metric, value in rows}


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("dq")
    settings = Settings.load(home=root / "home", raw=root / "raw").ensure()
    (settings.home / "config" / "cdp.yml").write_text("sources: [pos, ecommerce]\n", encoding="utf-8")
    # Night 1: two members (one with an email), two receipts of one store; receipt 0001 again at another
    # store (receipt numbers are per store and day: not a duplicate).
    Drop(
        members=[
            _member("L1", "2026-03-09 08:00:00", email="anna@example.org"),
            _member("L2", "2026-03-09 08:00:00"),
        ],
        transactions=[
            _line("0001", 1, "2026-03-09 10:00:00", "L1"), _line("0002", 1, "2026-03-09 11:00:00"),
            _line("0001", 1, "2026-03-09 10:05:00", store="S02"),
        ],
        web_customers=[{"customer_id": "W1", "email": "anna@example.org", "first_name": "Anna",
                        "last_name": "Visser", "created_at": "2026-03-01T08:00:00Z",
                        "updated_at": "2026-03-01T08:00:00Z"}],
    ).write(settings.raw, D1, sources=("pos", "ecommerce"))
    # Night 2: L2 re-sent with a phone (a newer version), a till that starts again at 0001 (another
    # day: not a duplicate), one line re-sent as is (a duplicate), and two lines that fail the contract.
    Drop(
        members=[_member("L2", "2026-03-10 08:00:00", phone="+31612345678")],
        transactions=[
            _line("0001", 1, "2026-03-10 10:00:00", "L1"), _line("0002", 1, "2026-03-09 11:00:00"),
            {**_line("0003", 1, "2026-03-10 12:00:00"), "quantity": "many"},
            {**_line("0004", 1, "2026-03-10 12:30:00"), "currency": ""},
        ],
    ).write(settings.raw, D2, sources=("pos", "ecommerce"))
    for day in (D1, D2):
        pipeline.prepare(settings, day)
        for source in settings.sources:
            pipeline.ingest_source(settings, day, source)
        build(settings, day, select=SELECT, data_tests=["data_quality_history"])
    return settings


def test_metrics_are_worked_out_from_the_models_that_own_each_rule(nights: Settings) -> None:
    metrics = _metrics(nights, D2)
    # Night 2 read 1 member + 4 receipt lines; 2 lines quarantined: 2 / (3 landed + 2).
    assert metrics[("pos", "quarantine_rate")] == pytest.approx(2 / 5)
    # Landed up to D2: 2 + 1 members, 3 + 2 lines = 8 rows; kept: 2 members, 4 lines (0001@S01 on two
    # days and 0001@S02 are three receipts; 0002 sent twice is one) = 6: 2 of 8 not kept.
    assert metrics[("pos", "duplicate_rate")] == pytest.approx(2 / 8)
    # Latest versions: L1 with an email, L2 with the phone of its newer version: both reachable.
    assert metrics[("pos", "contact_completeness")] == 1.0
    # L1 and W1 share an email: one of the two members is matched; the web customer is.
    assert metrics[("pos", "match_rate")] == pytest.approx(1 / 2)
    assert metrics[("ecommerce", "match_rate")] == 1.0
    # No social or messaging source here: no metric rather than a made-up zero.
    assert not {source for source, _ in metrics} - {"pos", "ecommerce"}


def test_each_night_keeps_its_own_values_and_a_rerun_replaces_them(nights: Settings) -> None:
    first = _metrics(nights, D1)
    assert first[("pos", "quarantine_rate")] == 0.0
    assert first[("pos", "contact_completeness")] == pytest.approx(1 / 2)  # L2 had no contact then
    before = _metrics(nights, D2)
    build(nights, D2, select=SELECT, data_tests=["data_quality_history"])
    with duckdb.connect(str(nights.warehouse), read_only=True) as con:
        per_night = con.execute(
            "select as_of_date, count(*) from marts.data_quality_history group by 1 order by 1"
        ).fetchall()
    assert _metrics(nights, D2) == before
    assert [day for day, _ in per_night] == [D1, D2]
    assert per_night[1][1] == len(before)
