"""Stable customer ids over a nightly backfill of generated data.

Each night lands one drop and rebuilds identity resolution. Asserts what the issue promises: a record
changes customer_id only through a recorded merge, split or move; an id is minted once and never comes
back once merged away; and the incremental nights give the same customers (the same partition of
records) as one run over the same lake on a fresh warehouse.

The generator writes 30 days of drops; the first 12 nights are run (the history drop and 11 nightly
drops). Every id change of the whole 30-day backfill happens in them: run to the end, the 30 nights
recorded 3 merges, all by the 11th night, and after that only records added to customers and new
customers (measured 2026-12-06, session 10). The 18 nights after those cost two thirds of the module's
time and exercised no id change the first 12 do not.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from cdp import pipeline, warehouse
from cdp.config import SOURCES, Settings

pytestmark = pytest.mark.slow

END = date(2026, 4, 30)  # the last day the generator writes
DAYS = 30  # drops generated after the history drop
NIGHTS = 12  # nights run: the history drop and the next 11 (see the module's docstring)
LAST = END - timedelta(days=DAYS - NIGHTS + 1)  # the last night run
IDENTITY = "+customer_id_history +int_identity_records_resolved"


def _partition(settings: Settings) -> set[frozenset[str]]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute(
            "select list(record_key) from intermediate.int_identity_records_resolved group by customer_id"
        ).fetchall()
    return {frozenset(keys) for (keys,) in rows}


@pytest.fixture(scope="module")
def nightly(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from cdp.generator import generate

    raw = tmp_path_factory.mktemp("raw30")
    generate(raw, people=800, days=DAYS, end_date=END, seed=23)
    settings = Settings.load(home=tmp_path_factory.mktemp("home30"), raw=raw).ensure()
    for offset in range(DAYS, DAYS - NIGHTS, -1):
        day = END - timedelta(days=offset)
        for source in SOURCES:
            pipeline.ingest_source(settings, day, source)
        # Data tests run once at the end (the night loop checks the id invariants itself).
        warehouse.build(settings, day, select=IDENTITY, data_tests=day == LAST)
    return settings


def test_every_id_change_is_a_recorded_merge_split_or_move(nightly: Settings) -> None:
    with duckdb.connect(str(nightly.warehouse), read_only=True) as con:
        changes, explained = con.execute(
            "with changes as ("
            "  select new.valid_from as day, new.customer_id as new_id, old.customer_id as old_id "
            "  from intermediate.int_identity_customer_ids_versioned as new "
            "  inner join intermediate.int_identity_customer_ids_versioned as old "
            "    on new.record_key = old.record_key and old.valid_to = new.valid_from"
            ") "
            "select count(*), count(history.event_type) from changes "
            "left join marts.customer_id_history as history on history.as_of_date = changes.day "
            "and history.customer_id = changes.new_id and history.previous_customer_id = changes.old_id "
            "and history.event_type in ('merged', 'split', 'moved')"
        ).fetchone()
        assert changes > 0, f"{NIGHTS} nights of new records should merge some customers"
        assert explained == changes
        # Open rows: exactly one per record, none left open by a record that changed.
        (doubly_open,) = con.execute(
            "select count(*) from (select record_key from intermediate.int_identity_customer_ids_versioned "
            "where valid_to is null group by record_key having count(*) > 1)"
        ).fetchone()
        assert doubly_open == 0
        events = con.execute(
            "select event_type, count(*) from marts.customer_id_history group by 1 order by 1"
        ).fetchall()
        print(f"customer_id_history over {NIGHTS} nights:", events)


def test_ids_are_minted_once_and_never_reused(nightly: Settings) -> None:
    with duckdb.connect(str(nightly.warehouse), read_only=True) as con:
        (minted_twice,) = con.execute(
            "select count(*) from (select customer_id from intermediate.int_identity_customer_ids_versioned "
            "group by customer_id having count(distinct id_minted_on) > 1)"
        ).fetchone()
        assert minted_twice == 0
        (created_twice,) = con.execute(
            "select count(*) from (select customer_id from marts.customer_id_history "
            "where event_type in ('created', 'split') group by customer_id having count(*) > 1)"
        ).fetchone()
        assert created_twice == 0
        # An id merged away on day D carries no record from D on.
        (revived,) = con.execute(
            "select count(*) from marts.customer_id_history as merged "
            "inner join intermediate.int_identity_customer_ids_versioned as versions "
            "on versions.customer_id = merged.previous_customer_id "
            "and (versions.valid_to is null or versions.valid_to > merged.as_of_date) "
            "and versions.valid_from >= merged.as_of_date "
            "where merged.event_type = 'merged'"
        ).fetchone()
        assert revived == 0


_GROUPS = (
    "select record_key, pass1_label, review_reason from intermediate.int_identity_records_grouped "
    "order by record_key"
)


def test_incremental_nights_equal_one_full_run(nightly: Settings, tmp_path: Path) -> None:
    fresh = Settings.load(home=tmp_path / "fresh", raw=nightly.raw).ensure()
    shutil.copytree(nightly.lake, fresh.lake, dirs_exist_ok=True)
    warehouse.build(fresh, LAST, select=IDENTITY)
    incremental, full = _partition(nightly), _partition(fresh)
    assert len(full) > 500
    assert incremental == full
    with (
        duckdb.connect(str(nightly.warehouse), read_only=True) as nightly_con,
        duckdb.connect(str(fresh.warehouse), read_only=True) as fresh_con,
    ):
        # Pass-1 groups (labels and review reasons) equal the full rebuild's, row for row...
        assert nightly_con.execute(_GROUPS).fetchall() == fresh_con.execute(_GROUPS).fetchall()
        # ... although the last night recomputed only the groups its new or changed records touch.
        recomputed, carried = nightly_con.execute(
            "select count(*) filter (where grouped_on = as_of_date), "
        "count(*) filter (where grouped_on < as_of_date) "
            "from intermediate.int_identity_records_grouped"
        ).fetchone()
        (everything,) = fresh_con.execute(
            "select count(*) from intermediate.int_identity_records_grouped where grouped_on = as_of_date"
        ).fetchone()
    assert 0 < recomputed < carried
    assert everything == recomputed + carried


def test_households_and_shared_contacts_are_not_merged(nightly: Settings) -> None:
    """The generator's over-merge cases (households at one address, family emails, store phones, junk
    addresses): no customer holds records of two people that conflict by the guard's rule (different
    birth dates and first names, or first names far apart without equal birth dates), whatever chained
    them; and no
    household is merged unless the data cannot tell the two people apart (same first name and no birth
    dates, or one side only nameless records carrying the family email)."""
    truth = nightly.raw / "_truth"
    with duckdb.connect(str(nightly.warehouse), read_only=True) as con:
        con.execute(
            "create temp view truth as select "
            "source || ':' || entity || ':' || source_record_id as record_key, "
            f"person_id from read_parquet('{truth / 'records.parquet'}')"
        )
        con.execute(f"create temp view people as select * from read_parquet('{truth / 'people.parquet'}')")
        con.execute(
            "create temp view records as select resolved.customer_id, resolved.record_key, truth.person_id, "
            "std.first_name_key, std.last_name_key, std.birth_date_key "
            "from intermediate.int_identity_records_resolved as resolved "
            "inner join truth on resolved.record_key = truth.record_key "
            "left join intermediate.int_identity_records_standardised as std "
            "on resolved.record_key = std.record_key"
        )
        (households, family_emails) = con.execute(
            "select count(*), count(*) filter (where family_email) from people where household_of is not null"
        ).fetchone()
        assert households > 0
        assert family_emails > 0
        (conflicting,) = con.execute(
            "select count(*) from records as a inner join records as b "
            "on a.customer_id = b.customer_id and a.record_key < b.record_key "
            # Two people's records; one person's typo'd birth date or swapped names may conflict
            # by this rule and still be rightly merged (the guard reads them as typos).
            "and a.person_id <> b.person_id "
            "where (a.birth_date_key <> b.birth_date_key "
            "and not coalesce(a.first_name_key = b.first_name_key, false)) "
            "or (regexp_matches(a.first_name_key, '^[a-z]+$') "
            "and regexp_matches(b.first_name_key, '^[a-z]+$') "
            "and levenshtein(a.first_name_key, b.first_name_key) > 2 "
            "and not coalesce(levenshtein(a.first_name_key, b.last_name_key) <= 2 "
            "and levenshtein(a.last_name_key, b.first_name_key) <= 2, false) "
            "and not coalesce(a.birth_date_key = b.birth_date_key, false))"
        ).fetchone()
        assert conflicting == 0
        merged = con.execute(
            "select people.person_id from people "
            "inner join records as mover on mover.person_id = people.person_id "
            "inner join records as head on head.person_id = people.household_of "
            "and head.customer_id = mover.customer_id "
            "where people.household_of is not null group by all"
        ).fetchall()
        print(f"households: {households}, merged: {len(merged)} (indistinguishable in the data)")
        assert len(merged) <= max(2, households // 20)
    from cdp.evaluate import score_identity

    score = score_identity(nightly.warehouse, truth, table="intermediate.int_identity_records_resolved")
    print(f"identity after {NIGHTS} nights:", score)
    assert score.precision >= 0.97  # the family-email guest orders above are most of the rest
