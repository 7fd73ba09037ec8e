"""Loyalty, birthdays and service in customer_360 and the segments (issue #23), on the session's
generated night (``first_night``, read only: no night is built here) and on definitions alone.

* points balances equal the generator's ledger truth, summed per customer through the identity map;
* the service columns are filled from the generated helpdesk drop;
* promotional segments hold back customers with an open complaint by default (D64), on the night's
  exported memberships; ``promotional: false`` or ``hold_back: []`` turn it off;
* the shipped ``birthday_this_month`` segment holds only customers whose birthday is this month;
* ``cdp forget`` erases the ledger, coupons, tickets and answers (on a copy of the night).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import copy_home

from cdp.config import Settings
from cdp.engines import connect
from cdp.privacy import forget
from exports.definitions import HOLD_BACK_RULES, SEGMENTS_DIR, _parse, load_definitions, segment_size


def _definition(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "s.yml"
    path.write_text(
        "name: s\ndescription: d\nowner: o\nfilter: tier = 'gold'\ndestinations: [generic_csv]\n" + extra,
        encoding="utf-8",
    )
    return path


def test_promotional_segments_hold_back_open_complaints_by_default(tmp_path: Path) -> None:
    default = _parse(_definition(tmp_path, ""))
    assert (default.promotional, default.hold_back) == (True, ("open_complaint",))
    assert default.where("duckdb") == "(tier = 'gold') AND NOT has_open_complaint"
    service = _parse(_definition(tmp_path, "promotional: false\n"))
    assert (service.hold_back, service.where("duckdb")) == ((), "tier = 'gold'")
    opted_out = _parse(_definition(tmp_path, "hold_back: []\n"))
    assert opted_out.where("spark") == "tier = 'gold'"
    # The hold-back is part of what decides membership: a definition that changes it changes its hash.
    assert len({default.definition_hash, service.definition_hash}) == 2
    assert service.definition_hash == opted_out.definition_hash
    with pytest.raises(ValueError, match="hold_back must be a list"):
        _parse(_definition(tmp_path, "hold_back: [vip_only]\n"))
    with pytest.raises(ValueError, match="promotional must be true or false"):
        _parse(_definition(tmp_path, "promotional: sometimes\n"))
    assert set(HOLD_BACK_RULES) == {"open_complaint"}


def test_every_shipped_segment_is_promotional_and_birthday_is_shipped() -> None:
    loaded = load_definitions(SEGMENTS_DIR)
    assert loaded.errors == []
    by_name = {s.name: s for s in loaded.segments}
    assert "birthday_this_month" in by_name
    # docs/exports.md lists them: every shipped segment sells something, so all hold back.
    assert {name for name, s in by_name.items() if s.promotional} == set(by_name)
    assert all(s.hold_back == ("open_complaint",) for s in by_name.values())


def _truth_balances(raw: Path, day: date) -> dict[str, int]:
    """Points per card from the generator's clean ledger, entries of local days up to ``day``."""
    truth = pq.read_table(raw / "_truth" / "points_entries.parquet")
    local_day = pc.cast(truth.column("entry_time_local"), "date32").to_pylist()
    balances: dict[str, int] = {}
    for card, kind, points, booked in zip(
        truth.column("loyalty_card_no").to_pylist(), truth.column("entry_type").to_pylist(),
        truth.column("points").to_pylist(), local_day, strict=True,
    ):
        if booked <= day:
            balances[card] = balances.get(card, 0) + (points if kind == "earn" else -points)
    return balances


@pytest.mark.slow  # reads the session's generated night (first_night)
def test_points_balances_match_the_generated_ledger(
    first_night: Settings, raw_drops: Path, drop_dates: list[date]
) -> None:
    cards = _truth_balances(raw_drops, drop_dates[0])
    with connect(first_night, read_only=True) as warehouse:
        owners = dict(warehouse.rows(
            "select source_record_id, customer_id from marts.customer_identity_map "
            "where source = 'pos' and entity = 'loyalty_members'"
        ))
        got = dict(warehouse.rows(
            "select customer_id, points_balance from marts.customer_360 where points_balance is not null"
        ))
        expiring = warehouse.row(
            "select count(*), min(next_points_expiry_date), "
            "count(*) filter (where next_expiring_points > points_balance) "
            "from marts.customer_360 where next_points_expiry_date is not null"
        )
    expected: dict[str, int] = {}
    for card, points in cards.items():
        expected[owners[card]] = expected.get(owners[card], 0) + points
    assert got == expected
    assert expiring[0] > 0
    assert expiring[1] >= drop_dates[0]
    assert expiring[2] == 0  # what lapses next is part of what is held


@pytest.mark.slow  # reads the session's generated night (first_night)
def test_service_and_birthday_columns_are_filled_from_the_night(
    first_night: Settings, drop_dates: list[date]
) -> None:
    with connect(first_night, read_only=True) as warehouse:
        open_complaints, with_csat, with_recommend, birthday, wrong_month = warehouse.row(
            "select count(*) filter (where has_open_complaint), count(last_csat_score), "
            "count(last_recommend_score), count(*) filter (where is_birthday_this_month), "
            f"count(*) filter (where is_birthday_this_month and birth_month <> {drop_dates[0].month}) "
            "from marts.customer_360"
        )
    assert open_complaints > 0
    assert with_csat > 0
    assert with_recommend > 0
    assert birthday > 0
    assert wrong_month == 0


@pytest.mark.slow  # reads the session's generated night (first_night)
def test_the_exported_promotional_segments_hold_no_open_complaint(first_night: Settings) -> None:
    with connect(first_night, read_only=True) as warehouse:
        held = warehouse.rows(
            "select m.segment, count(*) from ops.segment_membership as m "
            "inner join marts.customer_360 as c on c.customer_id = m.customer_id "
            "where c.has_open_complaint group by m.segment"
        )
        members = dict(warehouse.rows(
            "select segment, count(*) from ops.segment_membership group by segment"
        ))
        wrong_birthdays = warehouse.row(
            "select count(*) from ops.segment_membership as m "
            "inner join marts.customer_360 as c on c.customer_id = m.customer_id "
            "where m.segment = 'birthday_this_month' and not c.is_birthday_this_month"
        )[0]
        definitions = {s.name: s for s in load_definitions(SEGMENTS_DIR).segments}
        # Without the hold-back the same filter would take in customers with an open complaint.
        would_hold = sum(
            warehouse.row(
                f"select count(*) from marts.customer_360 where ({d.filter}) and has_open_complaint"
            )[0]
            for d in definitions.values()
        )
        sizes = {name: segment_size(warehouse, d) for name, d in definitions.items()}
    assert held == []
    assert members.get("birthday_this_month", 0) > 0
    assert wrong_birthdays == 0
    assert would_hold > 0
    assert {name: members.get(name, 0) for name in sizes} == sizes


@pytest.mark.slow  # reads the session's generated night (first_night)
def test_forget_erases_the_ledger_coupons_tickets_and_answers(
    first_night: Settings, tmp_path: Path
) -> None:
    """``cdp forget`` reaches the new personal data: a member with points, a coupon, a ticket and a
    survey answer leaves no row of them in the lake or the warehouse (by card, record key, email)."""
    with connect(first_night, read_only=True) as warehouse:
        customer_id, card = warehouse.row(
            "select map.customer_id, map.source_record_id from marts.customer_identity_map as map "
            "inner join intermediate.int_service_tickets_deduplicated as t "
            "on t.requester_record_key = map.record_key "
            "inner join intermediate.int_service_satisfaction_responses_deduplicated as r "
            "on r.respondent_record_key = map.record_key "
            "inner join intermediate.int_pos_coupons_deduplicated as c on c.record_key = map.record_key "
            "inner join intermediate.int_customer_points_summarised as p on p.customer_id = map.customer_id "
            "where map.source = 'pos' order by 1 limit 1"
        )
    home = copy_home(first_night, tmp_path / "home")
    result = forget(home, customer_id=customer_id)
    for name in ("landing/pos/points_entries", "landing/pos/coupons", "landing/service/tickets",
                 "landing/service/satisfaction_responses"):
        assert result.lake_rows_erased.get(name, 0) > 0, name
    tables = (
        "intermediate.int_pos_points_entries_deduplicated", "intermediate.int_pos_coupons_deduplicated",
        "intermediate.int_service_tickets_deduplicated",
        "intermediate.int_service_satisfaction_responses_deduplicated",
    )
    with connect(home, read_only=True) as warehouse:
        left = {
            table: warehouse.row(
                f"select count(*) from {table} where {column} = 'pos:loyalty_members:{card}'"
            )[0]
            for table, column in zip(tables, ("record_key", "record_key", "requester_record_key",
                                              "respondent_record_key"), strict=True)
        }
        left["customer_360"] = warehouse.row(
            f"select count(*) from marts.customer_360 where customer_id = '{customer_id}'"
        )[0]
        for table in ("int_customer_points_summarised", "int_customer_service_summarised",
                      "int_customer_birthdays_computed"):
            left[table] = warehouse.row(
                f"select count(*) from intermediate.{table} where customer_id = '{customer_id}'"
            )[0]
    assert set(left.values()) == {0}, left
