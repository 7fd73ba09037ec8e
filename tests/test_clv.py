"""Predictive CLV: likelihoods and fits (cdp.clv), fallbacks, and the dbt models end to end.

Unit part (fast): the BG/NBD and Gamma-Gamma log-likelihoods against their closed forms, grouped
(weighted) fits equal to per-customer fits, parameter recovery from data drawn from the models,
predictions against ``lifetimes`` (the reference implementation, dev dependency), and the fallback
outcomes (too little data, one-off buyers only, no convergence, q <= 1).

dbt part (slow): landed POS partitions written with pyarrow in the landed layout; ``dbt build`` of
the CLV marts (and their parents) as of a run date. Fallback runs do not fail and say so in the marts;
clv_model_runs is idempotent on re-run; a run for a date ignores later landings.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import metadata
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from landed import quarantine_partition
from scipy.special import beta as beta_fn
from scipy.special import gamma as gamma_fn

import ingest
from cdp import clv
from cdp.clv import bgnbd, fitting, gamma_gamma
from cdp.config import SOURCES, Settings
from cdp.warehouse import build
from ingest.derive import derive_table

CDNOW_BGNBD = (0.243, 4.414, 0.793, 2.426)
CDNOW_GAMMA_GAMMA = (6.25, 3.74, 15.44)


# --------------------------------------------------------------------------------------- likelihoods


def bgnbd_likelihood_closed_form(params, x, t_x, big_t) -> float:
    """FHL (2005a) eq. 6, written out without logs (fine for small x)."""
    r, alpha, a, b = params
    head = gamma_fn(r + x) * alpha**r / gamma_fn(r)
    term = beta_fn(a, b + x) / beta_fn(a, b) / (alpha + big_t) ** (r + x)
    if x > 0:
        term += beta_fn(a + 1, b + x - 1) / beta_fn(a, b) / (alpha + t_x) ** (r + x)
    return head * term


@pytest.mark.parametrize(("x", "t_x", "big_t"), [(0, 0.0, 38.86), (1, 1.71, 38.86), (7, 29.4, 35.0)])
def test_bgnbd_log_likelihood_matches_closed_form(x: int, t_x: float, big_t: float) -> None:
    got = bgnbd.log_likelihood(CDNOW_BGNBD, [x], [t_x], [big_t])
    assert got == pytest.approx(math.log(bgnbd_likelihood_closed_form(CDNOW_BGNBD, x, t_x, big_t)), rel=1e-10)


def test_gamma_gamma_log_likelihood_matches_closed_form() -> None:
    p, q, v = CDNOW_GAMMA_GAMMA
    x, m_x = 3.0, 22.35
    density = (
        gamma_fn(p * x + q) / (gamma_fn(p * x) * gamma_fn(q))
        * v**q * m_x ** (p * x - 1) * x ** (p * x) / (v + x * m_x) ** (p * x + q)
    )
    assert gamma_gamma.log_likelihood(CDNOW_GAMMA_GAMMA, [x], [m_x]) == pytest.approx(math.log(density))


def test_grouped_fit_equals_per_customer_fit() -> None:
    rng = np.random.default_rng(11)
    big_t = rng.integers(0, 365, size=3000) / 7
    x, t_x, big_t = bgnbd.simulate(3000, CDNOW_BGNBD, big_t, rng, day_resolution=1 / 7)
    frame = pd.DataFrame({"x": x, "t_x": t_x, "T": big_t})
    groups = frame.groupby(["x", "t_x", "T"]).size().reset_index(name="n")
    assert len(groups) < len(frame)
    ungrouped = fitting.fit_bgnbd(frame.x, frame.t_x, frame["T"])
    grouped = fitting.fit_bgnbd(groups.x, groups.t_x, groups["T"], groups.n)
    assert grouped.customer_count == 3000
    assert grouped.group_count == len(groups)
    assert grouped.log_likelihood == pytest.approx(ungrouped.log_likelihood, rel=1e-9)
    for name, value in ungrouped.params.items():
        assert grouped.params[name] == pytest.approx(value, rel=1e-3)


def test_fits_recover_the_generating_parameters() -> None:
    rng = np.random.default_rng(5)
    n = 40_000
    x, t_x, big_t = bgnbd.simulate(n, CDNOW_BGNBD, rng.uniform(0, 104, size=n), rng)
    bg = fitting.fit_bgnbd(x, t_x, big_t)
    assert bg.is_used
    for got, true in zip(bg.params.values(), CDNOW_BGNBD, strict=True):
        assert got == pytest.approx(true, rel=0.1)
    repeat_x = rng.integers(1, 12, size=20_000).astype(float)
    m_x = gamma_gamma.simulate(repeat_x, CDNOW_GAMMA_GAMMA, rng)
    gg = fitting.fit_gamma_gamma(repeat_x, m_x)
    assert gg.is_used
    for got, true in zip(gg.params.values(), CDNOW_GAMMA_GAMMA, strict=True):
        assert got == pytest.approx(true, rel=0.1)


def test_predictions_match_lifetimes_reference() -> None:
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    summary = pd.read_csv(
        Path(str(metadata.distribution("lifetimes").locate_file(
            "lifetimes/datasets/cdnow_customers_summary_with_transactions.csv"
        )))
    )
    bgf = BetaGeoFitter()
    bgf.params_ = pd.Series(dict(zip(["r", "alpha", "a", "b"], CDNOW_BGNBD, strict=True)))
    x, t_x, big_t = summary.x.to_numpy(float), summary.t_x.to_numpy(float), summary["T"].to_numpy(float)
    np.testing.assert_allclose(
        bgnbd.probability_alive(CDNOW_BGNBD, x, t_x, big_t),
        bgf.conditional_probability_alive(x, t_x, big_t),
        rtol=1e-8,
    )
    np.testing.assert_allclose(
        bgnbd.expected_purchases(CDNOW_BGNBD, 39.0, x, t_x, big_t),
        bgf.conditional_expected_number_of_purchases_up_to_time(39.0, x, t_x, big_t),
        rtol=1e-6,
    )
    ggf = GammaGammaFitter()
    ggf.params_ = pd.Series(dict(zip(["p", "q", "v"], CDNOW_GAMMA_GAMMA, strict=True)))
    repeat = summary[summary.x > 0]
    np.testing.assert_allclose(
        gamma_gamma.expected_average_value(CDNOW_GAMMA_GAMMA, repeat.x, repeat.zbar),
        ggf.conditional_expected_average_profit(repeat.x, repeat.zbar),
        rtol=1e-10,
    )


def test_expected_purchases_grow_with_the_horizon_and_discounting_lowers_them() -> None:
    x, t_x, big_t = np.array([0.0, 2, 10]), np.array([0.0, 30.43, 38.0]), np.array([0.0, 38.86, 38.86])
    e0 = bgnbd.expected_purchases(CDNOW_BGNBD, 0.0, x, t_x, big_t)
    e90 = bgnbd.expected_purchases(CDNOW_BGNBD, 90 / 7, x, t_x, big_t)
    e365 = bgnbd.expected_purchases(CDNOW_BGNBD, 365 / 7, x, t_x, big_t)
    assert (e0 == 0).all()
    assert (e90 > 0).all()
    assert (e365 > e90).all()
    undiscounted = clv.discounted_expected_purchases(
        CDNOW_BGNBD, x, t_x, big_t, time_unit_days=7, annual_discount_rate=0.0
    )
    np.testing.assert_allclose(undiscounted, e365, rtol=1e-9)
    discounted = clv.discounted_expected_purchases(
        CDNOW_BGNBD, x, t_x, big_t, time_unit_days=7, annual_discount_rate=0.1
    )
    assert (discounted < undiscounted).all()
    assert (discounted > undiscounted / 1.1).all()


# ------------------------------------------------------------------------------------------ fallbacks


def test_fallback_too_few_customers() -> None:
    result = fitting.fit_bgnbd([1, 0, 2], [3.0, 0.0, 5.0], [10.0, 8.0, 9.0])
    assert (result.is_used, result.fallback_reason) == (False, fitting.TOO_FEW_CUSTOMERS)
    assert result.params == {}


def test_fallback_one_off_buyers_only() -> None:
    big_t = np.linspace(0, 50, 1000)
    bg = fitting.fit_bgnbd(np.zeros(1000), np.zeros(1000), big_t)
    gg = fitting.fit_gamma_gamma(np.zeros(1000), np.full(1000, np.nan))
    assert (bg.is_used, bg.fallback_reason) == (False, fitting.TOO_FEW_REPEAT_CUSTOMERS)
    assert (gg.is_used, gg.fallback_reason) == (False, fitting.TOO_FEW_REPEAT_CUSTOMERS)


def test_fallback_not_identified_fit_is_not_converged() -> None:
    # Everyone keeps buying right up to today: no dropout is ever seen, the parameters run off.
    rng = np.random.default_rng(3)
    big_t = rng.uniform(30, 40, 500)
    result = fitting.fit_bgnbd(np.full(500, 30.0), big_t - rng.uniform(0, 0.5, 500), big_t)
    assert (result.is_used, result.is_converged, result.fallback_reason) == (
        False,
        False,
        fitting.NOT_CONVERGED,
    )


def test_fallback_optimiser_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    from scipy.optimize import OptimizeResult

    def failing(fun, x0, **_kwargs):
        return OptimizeResult(x=np.asarray(x0), fun=float("nan"), success=False, nit=0, message="boom")

    monkeypatch.setattr(fitting, "minimize", failing)
    x = np.r_[np.zeros(300), np.ones(300)]
    result = fitting.fit_bgnbd(x, x * 5, np.full(600, 20.0))
    assert (result.is_used, result.fallback_reason) == (False, fitting.NOT_CONVERGED)


def test_fallback_gamma_gamma_without_finite_mean() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(1, 10, 2000).astype(float)
    result = fitting.fit_gamma_gamma(x, gamma_gamma.simulate(x, (6.0, 0.8, 15.0), rng))
    assert (result.is_used, result.fallback_reason) == (False, fitting.INVALID_PARAMETERS)


def test_no_predictions_when_model_not_used() -> None:
    groups = pd.DataFrame(
        {"frequency": [0], "recency_days": [0], "tenure_days": [3], "recency": [0.0], "tenure": [3 / 7],
         "customer_count": [1]}
    )
    results = clv.fit_models(groups, groups.assign(repeat_monetary_mean=1.0))
    records = clv.fit_records(results, "2024-01-01", 7)
    assert list(records.model_name) == ["bgnbd", "gamma_gamma"]
    assert not records.is_used.any()
    assert clv.predict_groups(groups, records, time_unit_days=7, annual_discount_rate=0.1).empty


# ------------------------------------------------------------------------------------- dbt end to end

D1 = date(2024, 6, 30)
D2 = date(2024, 7, 31)
SELECT = "+customer_clv +clv_model_runs +dim_customers"


def land(settings: Settings, source: str, entity: str, load_date: date, rows: list[dict]) -> None:
    """One landed partition in the landed layout (contract fields + lineage columns)."""
    contract = ingest.load_contract(source)
    schemas = {e.name: e.schema() for e in contract.entities}
    schemas |= {c.name: c.schema() for e in contract.entities for c in e.children}
    schema = schemas[entity]
    full = []
    for line, row in enumerate(rows, start=1):
        record = dict.fromkeys(schema.names)
        record |= {"_source_file": f"{entity}.csv", "_source_line": line, **row}
        full.append(record)
    folder = ingest.partition(settings, "landing", source, entity, load_date)
    folder.mkdir(parents=True, exist_ok=True)
    table = derive_table(source, entity, pa.Table.from_pylist(full, schema=schema), "NL")  # as ingest lands
    pq.write_table(table, folder / "part-0.parquet")
    quarantine_partition(settings.lake, source, entity, load_date)


def land_day(settings: Settings, load_date: date, receipts: list[tuple[str, datetime, str]]) -> None:
    """POS receipts (card, local time, amount) and their members; empty partitions for the rest."""
    members = sorted({card for card, _, _ in receipts})
    land(
        settings,
        "pos",
        "loyalty_members",
        load_date,
        [{"loyalty_card_no": card, "updated_at": datetime(2023, 1, 1, 9)} for card in members],
    )
    land(
        settings,
        "pos",
        "transactions",
        load_date,
        [
            {
                "receipt_id": f"{load_date:%Y%m%d}-{number}",
                "line_no": 1,
                "store_id": "S1",
                "tx_time": when,
                "loyalty_card_no": card,
                "sku": "SKU",
                "quantity": 1,
                "unit_price": Decimal(amount),
                "discount": Decimal("0"),
                "currency": "EUR",
            }
            for number, (card, when, amount) in enumerate(receipts, start=1)
        ],
    )
    for source in SOURCES:
        if source == "pos":
            continue
        contract = ingest.load_contract(source)
        for entity in contract.entities:
            for child in (entity, *entity.children):
                land(settings, source, child.name, load_date, [])


def synthetic_receipts(customers: int, end: date, seed: int) -> list[tuple[str, datetime, str]]:
    """Receipts drawn from BG/NBD + Gamma-Gamma (per day), first purchases over the year before end."""
    rng = np.random.default_rng(seed)
    start = end - timedelta(days=364)
    receipts = []
    for number in range(customers):
        card = f"L{number:05d}"
        lam = rng.gamma(0.5, 1 / 10.0)  # purchases per day while alive
        drop = rng.beta(1.0, 4.0)
        scale = 1 / rng.gamma(4.0, 1 / 60.0)
        day = start + timedelta(days=int(rng.integers(0, 330)))
        while day <= end + timedelta(days=40):
            receipts.append((card, datetime(day.year, day.month, day.day, 12), f"{rng.gamma(5, scale):.2f}"))
            if receipts[-1][1].date() != start and rng.random() < drop and len(receipts) > 1:
                break
            day += timedelta(days=max(1, int(rng.exponential(1 / lam))))
    return receipts


def query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture
def cautious(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build only the CLV marts' lineage: skip tests of unselected models (dbt's DBT_INDIRECT_SELECTION)."""
    monkeypatch.setenv("DBT_INDIRECT_SELECTION", "cautious")


@pytest.mark.slow
@pytest.mark.usefixtures("cautious")
def test_dbt_one_off_buyers_only_falls_back_to_historical_value(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home").ensure()
    receipts = [
        (f"L{n:04d}", datetime(2024, 1, 1, 12) + timedelta(days=n % 150), f"{10 + n % 7}.50")
        for n in range(150)
    ]
    # A customer whose only receipt is a return: no purchase at all.
    land_day(settings, D1, receipts)
    land(
        settings,
        "pos",
        "transactions",
        D1 - timedelta(days=1),
        [
            {
                "receipt_id": "RET",
                "line_no": 1,
                "store_id": "S1",
                "tx_time": datetime(2024, 3, 1, 12),
                "loyalty_card_no": "L0000",
                "sku": "SKU",
                "quantity": -1,
                "unit_price": Decimal("10.50"),
                "discount": Decimal("0"),
                "currency": "EUR",
            }
        ],
    )
    build(settings, D1, select=SELECT)  # does not raise
    runs = query(settings, "select model_name, is_used, fallback_reason from marts.clv_model_runs order by 1")
    assert runs == [
        ("bgnbd", False, "too_few_repeat_customers"),
        ("gamma_gamma", False, "too_few_repeat_customers"),
    ]
    rows = query(
        settings,
        "select count(*), count(*) filter (where is_clv_model_used), "
        "count(*) filter (where clv_fallback_reason = 'bgnbd:too_few_repeat_customers'), "
        "count(*) filter (where clv_12m = historical_value), count(p_alive) from marts.customer_clv",
    )
    assert rows == [(150, 0, 150, 150, 0)]
    # L0000: bought 10.50 on 2024-01-01, returned it on 2024-03-01.
    assert query(
        settings, "select historical_value, clv_12m, order_count from marts.customer_clv where frequency = 0 "
        "and historical_value = 0"
    ) == [(Decimal("0.00"), Decimal("0.00"), 2)]


@pytest.mark.slow
@pytest.mark.usefixtures("cautious")
def test_dbt_clv_fit_idempotent_and_point_in_time(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home").ensure()
    receipts = synthetic_receipts(400, D2, seed=1)
    land_day(settings, D1, [r for r in receipts if r[1].date() <= D1])
    build(settings, D1, select=SELECT)

    def state() -> tuple[list[tuple], list[tuple]]:
        return (
            query(settings, "select * from marts.clv_model_runs order by all"),
            query(settings, "select * from marts.customer_clv order by all"),
        )

    runs_1, clv_1 = state()
    assert [(r[2], r[6]) for r in runs_1] == [("bgnbd", True), ("gamma_gamma", True)]
    summary = query(
        settings,
        "select count(*), count(*) filter (where is_clv_model_used), min(p_alive), max(p_alive), "
        "count(*) filter (where expected_purchases_365d < expected_purchases_90d), min(clv_12m) "
        "from marts.customer_clv",
    )[0]
    assert summary[0] == summary[1]
    assert 0 < summary[2] <= summary[3] <= 1
    assert summary[4] == 0
    assert summary[5] >= 0
    # Predictions joined back per group equal the Python predictions for each customer's (x, t_x, T).
    fitted = query(settings, "select param_r, param_alpha, param_a, param_b from marts.clv_model_runs "
                   "where model_name = 'bgnbd'")[0]
    customers = pd.DataFrame(
        query(settings, "select frequency, recency_days, tenure_days, p_alive, expected_purchases_90d "
              "from marts.customer_clv"),
        columns=["x", "t_x", "T", "p_alive", "e90"],
    )
    np.testing.assert_allclose(
        customers.p_alive, bgnbd.probability_alive(fitted, customers.x, customers.t_x / 7, customers["T"] / 7)
    )
    np.testing.assert_allclose(
        customers.e90,
        bgnbd.expected_purchases(fitted, 90 / 7, customers.x, customers.t_x / 7, customers["T"] / 7),
    )

    # Re-running the date replaces its fit records: same rows, no doubles.
    build(settings, D1, select=SELECT)
    assert state() == (runs_1, clv_1)

    # The next date: receipts up to D2 land; clv_model_runs keeps both dates.
    land_day(settings, D2, [r for r in receipts if r[1].date() > D1])
    build(settings, D2, select=SELECT)
    assert query(settings, "select run_date, count(*) from marts.clv_model_runs group by 1 order by 1") == [
        (D1, 2),
        (D2, 2),
    ]
    later = query(
        settings, "select count(*) from marts.customer_clv where last_completed_order_date > ?", [D1]
    )
    assert later[0][0] > 0

    # Re-running D1 after D2 landed: identical to the first D1 run (point in time), D2's fit kept.
    build(settings, D1, select=SELECT)
    runs_again, clv_again = state()
    assert clv_again == clv_1
    assert [r for r in runs_again if r[1] == D1] == runs_1
    assert len(runs_again) == 4
