"""Value marts (lifecycle, behaviour, tiers, RFM/tier history, customer_360) on a tiny hand-made lake.

Reuses the landed-lake helpers of ``test_dbt_models``. The people (run date 2024-03-10), chosen so
that the base's median interval between purchase days is 10 days (intervals 10, 10, 5 and 276), hence
active up to 20 days since the last purchase, dormant up to 40, churned beyond:

* Ann (L10): store receipts every 10 days (shoes) and one big web order of bags on 2024-03-05 -> active,
  prefers the store by orders, bags by spend; silver tier (4 orders, 800.00); shares a post.
* Ned (L11): one receipt two days ago -> new.  Dora (L12): one receipt 25 days ago -> dormant.
* Chuck (L13): one receipt in December -> churned.  Rita (L14): back after 9 months -> reactivated.
* Pat (W20): a web account without orders, and Fan (social profile only) -> prospects.
* Ray (L15): only a return -> prospect, no preferred channel.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from test_dbt_models import customer_of, land, pos_line, query, ts, web_line, web_order

from cdp.config import Settings
from cdp.warehouse import build

pytestmark = pytest.mark.slow

RUN_DATE = date(2024, 3, 10)
NEXT_DATE = date(2024, 3, 11)
VALUE_MARTS = (
    "customer_lifecycle",
    "customer_behaviour",
    "customer_tiers",
    "customer_360",
    "lifecycle_funnel",
    "customer_rfm_transitions",
)
PEOPLE = {"ann": "L10", "ned": "L11", "dora": "L12", "chuck": "L13", "rita": "L14", "ray": "L15"}


def member(card: str, name: str) -> dict[str, Any]:
    return {
        "loyalty_card_no": card,
        "first_name": name,
        "email": f"{name.lower()}@example.com",
        "enrolled_at": ts("2023-01-01 09:00:00"),
        "updated_at": ts("2023-01-01 09:00:00"),
        "email_opt_in": True,
    }


def receipt(receipt_id: str, when: str, card: str, price: str, category: str = "shoes", qty: int = 1):
    return pos_line(receipt_id, 1, when, card, qty, price, category=category)


def interaction(interaction_id: str, handle: str, event_type: str, when: str, campaign: str | None):
    return {
        "interaction_id": interaction_id,
        "platform": "instagram",
        "user_handle": handle,
        "event_type": event_type,
        "event_time": ts(when),
        "campaign_id": campaign,
    }


def write_value_day_one(lake) -> None:
    day = RUN_DATE
    land(lake, day, "pos", "loyalty_members", [member(card, name.title()) for name, card in PEOPLE.items()])
    land(
        lake,
        day,
        "pos",
        "transactions",
        [
            receipt("A1", "2024-02-09 10:00:00", "L10", "100.00"),
            receipt("A2", "2024-02-19 10:00:00", "L10", "100.00"),
            receipt("A3", "2024-02-29 10:00:00", "L10", "100.00"),
            receipt("N1", "2024-03-08 15:00:00", "L11", "30.00"),
            receipt("D1", "2024-02-14 15:00:00", "L12", "30.00"),
            receipt("C1", "2023-12-01 15:00:00", "L13", "30.00"),
            receipt("R1", "2023-06-01 15:00:00", "L14", "30.00"),
            receipt("R2", "2024-03-03 15:00:00", "L14", "30.00"),
            receipt("X1", "2024-03-01 15:00:00", "L15", "20.00", qty=-1),
        ],
    )
    land(
        lake,
        day,
        "ecommerce",
        "customers",
        [
            {"customer_id": "W10", "email": "ann@example.com", "updated_at": ts("2023-01-01 09:00:00")},
            {"customer_id": "W20", "email": "pat@example.com", "updated_at": ts("2023-01-01 09:00:00")},
        ],
    )
    land(
        lake,
        day,
        "ecommerce",
        "orders",
        [{**web_order("AW1", "W10", "2024-03-05 20:00:00", "completed"), "_source_file": "orders.x"}],
    )
    land(lake, day, "ecommerce", "order_lines", [{**web_line("AW1", 1, 1, "500.00"), "category": "bags"}])
    land(
        lake,
        day,
        "social",
        "profiles",
        [
            {"platform": "instagram", "user_handle": "ann_shops", "email": "ann@example.com"},
            {"platform": "instagram", "user_handle": "fan", "followed_at": ts("2024-01-01 10:00:00")},
        ],
    )
    land(
        lake,
        day,
        "social",
        "interactions",
        [
            interaction("S1", "ann_shops", "like", "2024-03-01 10:00:00", "c1"),
            interaction("S2", "ann_shops", "share", "2024-03-09 10:00:00", "c2"),
            interaction("S3", "fan", "share", "2024-03-09 11:00:00", None),
        ],
    )
    for entity in ("unsubscribes", "campaigns", "email_activity", "sms_receipts", "campaign_holdouts"):
        land(lake, day, "messaging", entity, [])
    # The loyalty ledger, coupons and the service source (issue 23): empty, as ingest lands a drop without
    # them (customer_360 and the KPI marts read them), as test_dbt_models' lake has them.
    for source, entity in (("pos", "points_entries"), ("pos", "coupons"), ("service", "tickets"),
                           ("service", "satisfaction_responses")):
        land(lake, day, source, entity, [])


def write_value_day_two(lake) -> None:
    """Landed on NEXT_DATE: two purchases by Ned (now silver) and Pat's first order (unseen on RUN_DATE)."""
    day = NEXT_DATE
    land(lake, day, "pos", "loyalty_members", [])
    land(
        lake,
        day,
        "pos",
        "transactions",
        [
            receipt("N2", "2024-03-11 09:00:00", "L11", "900.00", "coats"),
            receipt("N3", "2024-03-11 10:00:00", "L11", "20.00", "coats"),
        ],
    )
    land(lake, day, "ecommerce", "customers", [])
    land(
        lake,
        day,
        "ecommerce",
        "orders",
        [{**web_order("PW1", "W20", "2024-03-11 08:00:00", "completed"), "_source_file": "orders.x"}],
    )
    land(lake, day, "ecommerce", "order_lines", [{**web_line("PW1", 1, 1, "40.00"), "category": "bags"}])
    land(lake, day, "social", "profiles", [])
    land(lake, day, "social", "interactions", [interaction("S4", "fan", "like", "2024-03-11 10:00:00", "c3")])
    land(lake, day, "messaging", "unsubscribes", [])


def value_snapshot(settings: Settings) -> dict[str, list[tuple]]:
    marts = {name: query(settings, f"select * from marts.{name} order by all") for name in VALUE_MARTS}
    for name in ("customer_rfm_history", "customer_tier_history"):
        marts[name] = query(
            settings, f"select * from marts.{name} where as_of_date = '{RUN_DATE}' order by all"
        )
    return marts


@pytest.fixture(scope="module")
def lake_built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings.load(home=tmp_path_factory.mktemp("value_home")).ensure()
    write_value_day_one(settings.lake)
    build(settings, RUN_DATE)  # the dbt unit tests run once, in test_dbt_unit_tests
    return settings


@pytest.fixture(scope="module")
def ids(lake_built: Settings) -> dict[str, str]:
    found = {name: customer_of(lake_built, "pos", "loyalty_members", card) for name, card in PEOPLE.items()}
    found["pat"] = customer_of(lake_built, "ecommerce", "customers", "W20")
    found["fan"] = customer_of(lake_built, "social", "profiles", "instagram:fan")
    return found


def by_customer(settings: Settings, sql: str) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in query(settings, sql)}


def test_lifecycle_stages_follow_the_base_rhythm(lake_built: Settings, ids: dict[str, str]) -> None:
    rows = by_customer(
        lake_built,
        "select customer_id, lifecycle_stage, base_interval_days, active_threshold_days, "
        "churn_threshold_days from marts.customer_lifecycle",
    )
    stages = {name: rows[customer][0] for name, customer in ids.items()}
    assert stages == {
        "ann": "active",
        "ned": "new",
        "dora": "dormant",
        "chuck": "churned",
        "rita": "reactivated",
        "ray": "prospect",
        "pat": "prospect",
        "fan": "prospect",
    }
    assert {row[1:] for row in rows.values()} == {(10.0, 20, 40)}
    funnel = query(
        lake_built, "select step, step_customer_count, funnel_customer_count from marts.lifecycle_funnel"
    )
    assert sorted(funnel) == sorted(
        [("acquired", 8, 8), ("activated", 5, 5), ("retained", 2, 2), ("revenue", 5, 2), ("referral", 2, 1)]
    )


def test_tiers(lake_built: Settings, ids: dict[str, str]) -> None:
    rows = by_customer(
        lake_built, "select customer_id, tier, spend_12m, orders_12m from marts.customer_tiers"
    )
    assert rows[ids["ann"]] == ("silver", Decimal("800.00"), 4)
    assert rows[ids["ray"]] == ("bronze", Decimal("-20.00"), 0)
    assert rows[ids["pat"]] == ("bronze", Decimal("0.00"), 0)
    assert {rows[customer][0] for customer in ids.values()} == {"bronze", "silver"}


def test_behaviour_preferences(lake_built: Settings, ids: dict[str, str]) -> None:
    rows = by_customer(
        lake_built,
        "select customer_id, preferred_channel, pos_order_share, ecommerce_revenue_share, "
        "preferred_category, preferred_weekday, preferred_time_of_day, median_days_between_purchases, "
        "referral_event_count, "
        "last_campaign_id, social_engagement_score > 0 from marts.customer_behaviour",
    )
    ann = rows[ids["ann"]]
    # 3 of 4 purchases in store; 500 of 800 spent online; bags (500) beat shoes (300).
    assert ann[:4] == ("pos", 0.75, 0.625, "bags")
    assert ann[5:] == ("morning", 10.0, 1, "c2", True)
    assert rows[ids["ned"]][:1] == ("pos",)
    assert rows[ids["ned"]][4] == "friday"  # 2024-03-08
    assert rows[ids["ray"]][:5] == (None, None, None, None, None)  # only a return: no purchases
    assert rows[ids["fan"]][7:] == (1, None, True)
    profile = query(
        lake_built,
        f"select has_email, lifecycle_stage, tier, preferred_channel from marts.customer_360 "
        f"where customer_id = '{ids['ann']}'",
    )
    assert profile == [(True, "active", "silver", "pos")]
    columns = {row[0] for row in query(lake_built, "describe marts.customer_360")}
    assert not columns & {"email", "phone", "first_name", "last_name", "birth_date", "postcode"}
    assert query(lake_built, "select count(*) from marts.customer_360")[0][0] == len(ids)


def test_rerun_is_idempotent_and_point_in_time(lake_built: Settings) -> None:
    before = value_snapshot(lake_built)
    counts = query(lake_built, "select count(*) from marts.customer_rfm_history")[0][0]
    write_value_day_two(lake_built.lake)
    build(lake_built, RUN_DATE)  # same date again, with a later partition landed
    assert value_snapshot(lake_built) == before
    assert query(lake_built, "select count(*) from marts.customer_rfm_history")[0][0] == counts
    assert query(lake_built, "select count(*) from marts.customer_tier_history")[0][0] == 8


def test_next_date_appends_history_with_changes(lake_built: Settings, ids: dict[str, str]) -> None:
    build(lake_built, NEXT_DATE)
    history = query(
        lake_built, "select as_of_date, count(*) from marts.customer_tier_history group by all order by all"
    )
    assert history == [(RUN_DATE, 8), (NEXT_DATE, 8)]
    ned = query(
        lake_built,
        "select previous_tier, tier, is_tier_changed, tier_change from marts.customer_tier_history "
        f"where customer_id = '{ids['ned']}' and as_of_date = '{NEXT_DATE}'",
    )
    assert ned == [("bronze", "silver", True, "upgrade")]
    moves = query(
        lake_built,
        "select from_date, to_date, sum(customer_count), sum(case when from_rfm_segment = 'none' then "
        "customer_count else 0 end) from marts.customer_rfm_transitions group by all",
    )
    # Pat enters the scored base with her first order; the other six were scored the day before.
    assert moves == [(RUN_DATE, NEXT_DATE, 7, 1)]
    stages = by_customer(lake_built, "select customer_id, lifecycle_stage from marts.customer_lifecycle")
    assert stages[ids["pat"]] == ("new",)
    # Re-running the earlier date keeps the later date's rows and does not double its own.
    build(lake_built, RUN_DATE)
    assert query(
        lake_built, "select as_of_date, count(*) from marts.customer_rfm_history group by all order by all"
    ) == [(RUN_DATE, 6), (NEXT_DATE, 7)]

