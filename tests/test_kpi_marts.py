"""The KPI marts (issue #23, D66) on the session's generated night (``first_night``, read only: no night
is built here), against a second implementation of their definitions in pandas, written from the
model YAML, over ``marts.fct_orders``:

* active, new, returning and repeat customers, purchases, anonymous purchases and net revenue of every
  month, channel and store; churn base and churned customers with customer_lifecycle's threshold;
* channel rows add up to the whole business where a sum is meaningful (revenue, orders), store rows to POS;
* the retention matrix's cohorts are the months' new customers, month 0 retains the whole cohort;
* the points liability's balance equals the customers' balances in customer_360 (D61's owner);
* CLV without a configured margin stays on revenue (D67).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from cdp.config import Settings
from cdp.engines import connect

pytestmark = pytest.mark.slow  # reads the session's generated night: not for make test-fast


@pytest.fixture(scope="module")
def marts(first_night: Settings) -> dict[str, pd.DataFrame]:
    with connect(first_night, read_only=True) as wh:

        def frame(sql: str) -> pd.DataFrame:  # dates as datetime.date, amounts as Decimal
            return wh.arrow(sql).to_pandas(date_as_object=True)

        return {
            "orders": frame(
                "select order_id, customer_id, order_date, channel, store_id, net_amount "
                "from marts.fct_orders"
            ),
            "kpis": frame("select * from marts.monthly_kpis"),
            "cohorts": frame("select * from marts.retention_cohorts"),
            "threshold": frame("select max(churn_threshold_days) as days from marts.customer_lifecycle"),
            "balances": frame("select coalesce(sum(points_balance), 0) as points from marts.customer_360"),
            "clv": frame("select clv_basis, margin_rate, clv_12m, clv_12m_value from marts.customer_clv"),
        }


def _month(day: date) -> date:
    return day.replace(day=1)


def _month_end(start: date) -> date:
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _slices(channel: str, store: str | None) -> list[tuple[str, str]]:
    return [("all", "all"), (channel, "all"), *([(channel, store)] if store else [])]


def _expected(orders: pd.DataFrame, threshold: int, run_date: date) -> dict[tuple, dict[str, object]]:
    """Every row of monthly_kpis, recomputed from the orders with the YAML's definitions."""
    rows: dict[tuple, dict[str, object]] = defaultdict(lambda: defaultdict(int))
    days: dict[tuple, set] = defaultdict(set)  # (month, slice, customer) -> purchase days
    purchases = orders[orders.net_amount > 0]
    first = purchases.dropna(subset=["customer_id"]).groupby("customer_id").order_date.min()
    for order in orders.itertuples():
        month = _month(order.order_date)
        store = order.store_id if isinstance(order.store_id, str) else None
        for channel, store_id in _slices(order.channel, store):
            row = rows[(month, channel, store_id)]
            row["net_revenue"] += order.net_amount
            if order.net_amount > 0:
                row["order_count"] += 1
                if isinstance(order.customer_id, str):
                    days[(month, channel, store_id, order.customer_id)].add(order.order_date)
                else:
                    row["anonymous_order_count"] += 1
    for (month, channel, store_id, customer), bought in days.items():
        row = rows[(month, channel, store_id)]
        row["active_customer_count"] += 1
        row["new_customer_count"] += int(_month(first[customer]) == month)
        row["repeat_customer_count"] += int(len(bought) >= 2)

    # Churn: a customer not churned at the end of the previous month (last purchase day at most
    # `threshold` days before it) churns in the month when threshold + 1 days pass without a purchase.
    slices_of_day: dict[tuple, set] = defaultdict(set)
    for order in purchases.dropna(subset=["customer_id"]).itertuples():
        store = order.store_id if isinstance(order.store_id, str) else None
        slices_of_day[(order.customer_id, order.order_date)].update(_slices(order.channel, store))
    months = sorted({month for month, _, _ in rows})
    for customer, group in purchases.dropna(subset=["customer_id"]).groupby("customer_id"):
        bought = sorted(set(group.order_date))
        churn_days = [
            day + timedelta(days=threshold + 1)
            for day, after in zip(bought, [*bought[1:], None], strict=True)
            if after is None or after > day + timedelta(days=threshold + 1)
        ]
        for month in months:
            before = [day for day in bought if day < month]
            if not before or (month - timedelta(days=1) - before[-1]).days > threshold:
                continue
            end = min(_month_end(month), run_date)
            churned = any(month <= day <= end for day in churn_days)
            for key in slices_of_day[(customer, before[-1])]:
                rows[(month, *key)]["churn_base_customer_count"] += 1
                rows[(month, *key)]["churned_customer_count"] += int(churned)
    return {key: dict(value) for key, value in rows.items()}


COUNTS = (
    "active_customer_count", "new_customer_count", "repeat_customer_count", "order_count",
    "anonymous_order_count", "churn_base_customer_count", "churned_customer_count",
)


def test_monthly_kpis_match_their_definitions(marts: dict[str, pd.DataFrame], drop_dates: list[date]) -> None:
    kpis, orders = marts["kpis"], marts["orders"]
    run_date = drop_dates[0]
    threshold = int(marts["threshold"].days[0])
    expected = _expected(orders, threshold, run_date)
    got = {(row.month_start_date, row.channel, row.store_id): row for row in kpis.itertuples()}
    assert set(got) == set(expected)
    assert len(got) > 12 * 3  # a year of months, both channels and some stores
    wrong = []
    for key, want in expected.items():
        row = got[key]
        for column in COUNTS:
            if getattr(row, column) != want.get(column, 0):
                wrong.append((key, column, getattr(row, column), want.get(column, 0)))
        if row.net_revenue != want.get("net_revenue", Decimal(0)):
            wrong.append((key, "net_revenue", row.net_revenue, want.get("net_revenue")))
        assert row.returning_customer_count == row.active_customer_count - row.new_customer_count
    assert wrong == []
    # The night has what the definitions are about: repeat buyers, churn, new customers every month.
    whole = kpis[kpis.channel == "all"].sort_values("month_start_date")
    assert whole.churned_customer_count.sum() > 0
    assert whole.repeat_customer_count.sum() > 0
    assert (whole.new_customer_count > 0).all()
    assert whole.is_month_complete.tolist() == [True] * (len(whole) - 1) + [False]
    assert whole.as_of_date.eq(run_date).all()


def test_channel_and_store_rows_add_up(marts: dict[str, pd.DataFrame]) -> None:
    kpis = marts["kpis"]
    channels = kpis[(kpis.channel != "all") & (kpis.store_id == "all")].groupby("month_start_date")
    whole = kpis[kpis.channel == "all"].set_index("month_start_date")
    stores = kpis[(kpis.channel == "pos") & (kpis.store_id != "all")].groupby("month_start_date")
    pos = kpis[(kpis.channel == "pos") & (kpis.store_id == "all")].set_index("month_start_date")
    for column in ("net_revenue", "order_count", "anonymous_order_count"):
        assert channels[column].sum().to_dict() == whole[column].to_dict()
        assert stores[column].sum().to_dict() == pos[column].to_dict()
    # Customers are distinct per row: a customer of both channels counts once in the whole.
    summed = channels.active_customer_count.sum()
    assert all(summed[month] >= n for month, n in whole.active_customer_count.items())
    assert kpis[kpis.channel != "all"].outstanding_points.isna().all()


def test_cohorts_are_the_new_customers_and_month_zero_keeps_them_all(marts: dict[str, pd.DataFrame]) -> None:
    cohorts, kpis = marts["cohorts"], marts["kpis"]
    whole = kpis[kpis.channel == "all"].set_index("month_start_date").new_customer_count
    zero = cohorts[cohorts.months_since_first_purchase == 0].set_index("cohort_month_start_date")
    assert zero.cohort_customer_count.to_dict() == whole.to_dict()
    assert (zero.retained_customer_count == zero.cohort_customer_count).all()
    assert (zero.retention_rate == 1).all()
    later = cohorts[cohorts.months_since_first_purchase > 0]
    assert len(later) > 0
    assert (later.retention_rate < 1).all()
    assert (later.retained_customer_count > 0).any()
    # One row per month from each cohort's own up to the run's month.
    last = cohorts.period_month_start_date.max()
    sizes = cohorts.groupby("cohort_month_start_date").size()
    for cohort, size in sizes.items():
        assert size == (last.year - cohort.year) * 12 + last.month - cohort.month + 1


def test_points_liability_is_the_ledger_balance_valued(marts: dict[str, pd.DataFrame]) -> None:
    kpis = marts["kpis"]
    latest = kpis[kpis.channel == "all"].sort_values("month_start_date").iloc[-1]
    assert latest.outstanding_points == int(marts["balances"].points[0]) > 0
    assert latest.points_liability_amount == Decimal(latest.outstanding_points) * Decimal("0.01")
    assert kpis[kpis.channel == "all"].points_earned.sum() > 0


def test_clv_without_margins_is_revenue(marts: dict[str, pd.DataFrame]) -> None:
    clv = marts["clv"]
    assert set(clv.clv_basis) == {"revenue"}
    assert clv.margin_rate.isna().all()
    assert (clv.clv_12m_value == clv.clv_12m).all()
