"""dbt models end to end on a tiny hand-made landed lake.

The lake is written here with pyarrow in the landed layout (``ingest/contracts/README.md``): the
contract's fields (types from the contract YAML) plus ``_source_file``, ``_source_line``, ``_flags``,
one ``load_date=YYYY-MM-DD`` partition per load. The people in it:

* Jane: a POS loyalty member (``JANE``/``DE VRIES``, phone ``06-1234 5678``), a web account whose
  email is typed in full-width characters and a social lead form with her phone as ``0031 6 ...``;
  her member record is resent unchanged the next day. She buys in store (one receipt with a returned
  line, one return-only receipt) and online (one order later refunded).
* Bob: a web account plus a guest checkout with his email in other case; he unsubscribes from email.
* Carol and Dave: one old order each; an anonymous receipt without a loyalty card.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import copy_home
from landed import quarantine_partition

from cdp.config import CONTRACTS_DIR, DBT_PROJECT_DIR, Settings
from cdp.dbt_runner import WarehouseBuildError, docs_generate
from cdp.warehouse import build
from ingest.derive import derive_table

pytestmark = pytest.mark.slow

RUN_DATE = date(2024, 3, 10)
NEXT_DATE = date(2024, 3, 11)

_TYPES = {
    "string": pa.string(),
    "integer": pa.int64(),
    "decimal": pa.decimal128(18, 2),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


def _schemas() -> dict[tuple[str, str], pa.Schema]:
    """Landed Arrow schema per (source, entity), read from the contracts."""
    lineage = [("_source_file", pa.string()), ("_source_line", pa.int64()), ("_flags", pa.string())]
    schemas = {}
    for path in sorted(CONTRACTS_DIR.glob("*.yml")):
        contract = yaml.safe_load(path.read_text())
        for entity, spec in contract["entities"].items():
            fields = [(f["name"], _TYPES[f["type"]]) for f in spec["fields"] if f["type"] != "list"]
            schemas[(contract["source"], entity)] = pa.schema(fields + lineage)
            for child, child_spec in (spec.get("children") or {}).items():
                parent_key = [(name, dict(fields)[name]) for name in spec["key"]]
                child_fields = [(f["name"], _TYPES[f["type"]]) for f in child_spec["fields"]]
                schemas[(contract["source"], child)] = pa.schema(
                    [*parent_key, ("line_no", pa.int64()), *child_fields, *lineage]
                )
    return schemas


SCHEMAS = _schemas()


def land(lake: Path, load_date: date, source: str, entity: str, rows: list[dict[str, Any]]) -> None:
    """Write one landed partition; rows give contract fields, lineage columns are filled in."""
    schema = SCHEMAS[(source, entity)]
    full = []
    for line, row in enumerate(rows, start=1):
        record = dict.fromkeys(schema.names)
        record.update({"_source_file": f"{entity}.x", "_source_line": line})
        record.update(row)
        full.append(record)
    folder = lake / "landing" / source / entity / f"load_date={load_date.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    table = derive_table(source, entity, pa.Table.from_pylist(full, schema=schema), "NL")  # as ingest lands
    pq.write_table(table, folder / "part-0.parquet")
    quarantine_partition(lake, source, entity, load_date)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def money(text: str) -> Decimal:
    return Decimal(text)


JANE_MEMBER = {
    "loyalty_card_no": "L001",
    "first_name": "  JANE ",
    "last_name": "DE   VRIES",
    "gender": "F",
    "birth_date": date(1990, 5, 17),
    "phone": "06-1234 5678",
    "email": " Jane.Doe@Example.COM ",
    "postcode": "1011 ab",
    "city": "AMSTERDAM",
    "enrolled_at": ts("2023-06-01 09:00:00"),
    "updated_at": ts("2024-03-01 10:00:00"),
    "email_opt_in": True,
    "sms_opt_in": True,
}


def pos_line(receipt: str, line_no: int, when: str, card: str | None, qty: int, price: str, **extra: Any):
    return {
        "receipt_id": receipt,
        "line_no": line_no,
        "store_id": "S01",
        "tx_time": ts(when),
        "loyalty_card_no": card,
        "sku": f"SKU{line_no}",
        "quantity": qty,
        "unit_price": money(price),
        "discount": money(extra.pop("discount", "0")),
        "currency": "EUR",
        **extra,
    }


def web_order(order_id: str, customer: str | None, placed: str, status: str, **extra: Any):
    return {
        "order_id": order_id,
        "customer_id": customer,
        "placed_at": ts(placed),
        "updated_at": ts(extra.pop("updated", placed)),
        "status": status,
        "currency": "EUR",
        **extra,
    }


def web_line(order_id: str, line_no: int, qty: int, price: str, discount: str = "0", source_line: int = 1):
    return {
        "order_id": order_id,
        "line_no": line_no,
        "sku": f"W{line_no}",
        "qty": qty,
        "unit_price": money(price),
        "discount": money(discount),
        "_source_file": "orders.x",
        "_source_line": source_line,
    }


def write_day_one(lake: Path) -> None:
    day = date(2024, 3, 9)
    land(
        lake,
        day,
        "pos",
        "loyalty_members",
        [
            JANE_MEMBER,
            {
                "loyalty_card_no": "L002",
                "first_name": "carol",
                "last_name": "o'brien",
                "gender": "vrouw",
                "phone": "612345679",
                "email": "carol@example.net",
                "updated_at": ts("2023-12-01 10:00:00"),
                "email_opt_in": True,
            },
        ],
    )
    land(
        lake,
        day,
        "pos",
        "transactions",
        [
            pos_line("R1", 1, "2024-03-08 10:00:00", "L001", 2, "50.00"),
            pos_line("R3", 1, "2024-03-09 11:00:00", "L001", 1, "50.00"),
            pos_line("R3", 2, "2024-03-09 11:00:00", "L001", -1, "20.00"),
            pos_line("R4", 1, "2024-03-09 12:00:00", "L001", -1, "20.00"),
            pos_line("R5", 1, "2024-01-15 12:00:00", "L002", 1, "20.00"),
            pos_line("R6", 1, "2024-03-09 13:00:00", None, 3, "5.00", discount="1.50"),
            # A till that numbers its receipts from 0001 every day (unique per store and day only).
            pos_line("0001", 1, "2024-03-08 15:00:00", None, 1, "10.00"),
            pos_line("0001", 1, "2024-03-09 15:00:00", None, 1, "12.00"),
        ],
    )
    land(
        lake,
        day,
        "ecommerce",
        "customers",
        [
            {
                "customer_id": "W001",
                "email": "ｊａｎｅ．ｄｏｅ＠ｅｘａｍｐｌｅ．ｃｏｍ",
                "first_name": "jane",
                "phone": "+31 (0)6 12345678",
                "gender": "female",
                "address_city": "Utrecht",
                "updated_at": ts("2024-03-05 08:00:00"),
                "consent_email": True,
            },
            {
                "customer_id": "W002",
                "email": "bob@example.org",
                "first_name": "Bob",
                "last_name": "Smith",
                "gender": "M",
                "updated_at": ts("2024-02-01 08:00:00"),
                "consent_email": True,
            },
            {
                "customer_id": "W003",
                "email": "dave@example.com",
                "first_name": "DAVE",
                "updated_at": ts("2023-11-01 08:00:00"),
                "consent_email": False,
            },
        ],
    )
    orders = [
        web_order("O1", "W001", "2024-03-02 09:00:00", "completed"),
        web_order("O2", "W001", "2024-03-03 09:00:00", "completed", discount_code="SPRING"),
        web_order("G1", None, "2024-03-09 09:00:00", "completed", guest_email="Bob@Example.org "),
        web_order("O4", "W003", "2023-12-01 09:00:00", "completed"),
    ]
    land(lake, day, "ecommerce", "orders", [{**o, "_source_file": "orders.x"} for o in orders])
    land(
        lake,
        day,
        "ecommerce",
        "order_lines",
        [
            web_line("O1", 1, 1, "80.00", source_line=1),
            web_line("O2", 1, 2, "30.00", "5.00", source_line=2),
            web_line("G1", 1, 1, "150.00", source_line=3),
            web_line("O4", 1, 1, "40.00", source_line=4),
        ],
    )
    land(
        lake,
        day,
        "social",
        "profiles",
        [
            {
                "platform": "instagram",
                "user_handle": "@JaneD",
                "display_name": "jane d",
                "phone": "0031 6 1234 5678",
                "followed_at": ts("2024-02-20 18:00:00"),
            }
        ],
    )
    land(
        lake,
        day,
        "social",
        "interactions",
        [
            {
                "interaction_id": "I1",
                "platform": "instagram",
                "user_handle": "janed",
                "event_type": "like",
                "event_time": ts("2024-03-09 20:00:00"),
            }
        ],
    )
    for source, entity in SCHEMAS:  # the messaging tools' feeds: empty partitions, as ingest lands them
        if source == "messaging":
            land(lake, day, source, entity, [])
    # The loyalty ledger, coupons and the service source (issue 23): empty here, as ingest lands a drop
    # without them; their rules are pinned by dbt unit tests.
    for source, entity in (("pos", "points_entries"), ("pos", "coupons"), ("service", "tickets"),
                           ("service", "satisfaction_responses")):
        land(lake, day, source, entity, [])


def write_day_two(lake: Path) -> None:
    day = date(2024, 3, 10)
    # Jane's member record resent unchanged (must not create a second record).
    land(lake, day, "pos", "loyalty_members", [JANE_MEMBER])
    land(lake, day, "pos", "transactions", [pos_line("R1", 1, "2024-03-08 10:00:00", "L001", 2, "50.00")])
    land(lake, day, "ecommerce", "customers", [])
    orders = [
        web_order("O2", "W001", "2024-03-03 09:00:00", "refunded", updated="2024-03-10 08:00:00"),
        web_order("O3", "W002", "2024-03-10 09:00:00", "completed"),
        # Placed after the run date's end (UTC): not an order as of 2024-03-10.
        web_order("O9", "W002", "2024-03-11 00:30:00", "completed"),
    ]
    land(lake, day, "ecommerce", "orders", [{**o, "_source_file": "orders.x"} for o in orders])
    land(
        lake,
        day,
        "ecommerce",
        "order_lines",
        [
            web_line("O2", 1, 2, "30.00", "5.00", source_line=1),
            web_line("O3", 1, 1, "200.00", source_line=2),
            web_line("O9", 1, 1, "999.00", source_line=3),
        ],
    )
    land(lake, day, "social", "profiles", [])
    land(lake, day, "social", "interactions", [])
    land(
        lake,
        day,
        "messaging",
        "unsubscribes",
        [{"channel": "email", "address": "BOB@example.org", "event_time": ts("2024-03-10 07:00:00")}],
    )


def write_day_three(lake: Path) -> None:
    """The next day's landing: must not change the marts as of RUN_DATE."""
    day = NEXT_DATE
    land(
        lake,
        day,
        "pos",
        "loyalty_members",
        [{**JANE_MEMBER, "first_name": "Janet", "updated_at": ts("2024-03-11 10:00:00")}],
    )
    land(lake, day, "pos", "transactions", [pos_line("R7", 1, "2024-03-11 09:00:00", "L001", 1, "500.00")])
    land(lake, day, "ecommerce", "customers", [])
    land(lake, day, "ecommerce", "orders", [])
    land(lake, day, "ecommerce", "order_lines", [])
    land(lake, day, "social", "profiles", [])
    land(lake, day, "social", "interactions", [])
    land(
        lake,
        day,
        "messaging",
        "unsubscribes",
        [{"channel": "email", "address": "jane.doe@example.com", "event_time": ts("2024-03-11 07:00:00")}],
    )


MARTS = (
    "marts.customer_identity_map",
    "marts.dim_customers",
    "marts.fct_orders",
    "marts.customer_rfm",
    "restricted.customer_profiles",
    "restricted.audience_contacts",
)


def query(settings: Settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.sql(sql).fetchall()


def snapshot(settings: Settings) -> dict[str, list[tuple]]:
    return {name: query(settings, f"select * from {name} order by all") for name in MARTS}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Days one and two landed and built as of RUN_DATE (models and data tests; the dbt unit tests run
    once, in test_dbt_unit_tests). Never changed: tests that build further work on a copy."""
    settings = Settings.load(home=tmp_path_factory.mktemp("pristine")).ensure()
    write_day_one(settings.lake)
    write_day_two(settings.lake)
    build(settings, RUN_DATE)
    return settings


@pytest.fixture(scope="module")
def built(pristine: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The module's working home: a copy of ``pristine`` that later tests land and build on."""
    return copy_home(pristine, tmp_path_factory.mktemp("built") / "home")


def customer_of(settings: Settings, source: str, entity: str, record_id: str) -> str:
    rows = query(
        settings,
        "select customer_id from marts.customer_identity_map "
        f"where source = '{source}' and entity = '{entity}' and source_record_id = '{record_id}'",
    )
    assert len(rows) == 1
    return rows[0][0]


def test_identity_map_merges_records_sharing_email_or_phone(built: Settings) -> None:
    jane = customer_of(built, "pos", "loyalty_members", "L001")
    assert customer_of(built, "ecommerce", "customers", "W001") == jane
    assert customer_of(built, "social", "profiles", "instagram:janed") == jane
    bob = customer_of(built, "ecommerce", "customers", "W002")
    assert customer_of(built, "ecommerce", "orders", "G1") == bob
    others = {
        customer_of(built, "pos", "loyalty_members", "L002"),
        customer_of(built, "ecommerce", "customers", "W003"),
    }
    assert len({jane, bob, *others}) == 4
    assert jane.startswith("C")
    assert len(jane) == 17
    # Resent member row and non-guest orders are not records of their own.
    assert query(built, "select count(*) from marts.customer_identity_map")[0][0] == 7


def test_dim_customers_best_values_and_contactability(built: Settings) -> None:
    jane = customer_of(built, "pos", "loyalty_members", "L001")
    row = query(
        built,
        "select first_name, last_name, birth_date, email, phone, postcode "
        f"from restricted.customer_profiles where customer_id = '{jane}'",
    )[0]
    assert row == (
        "Jane",  # web account (newest) says 'jane' -> proper-cased
        "De Vries",
        date(1990, 5, 17),
        "jane.doe@example.com",
        "+31612345678",
        "1011 AB",
    )
    row = query(
        built,
        "select gender, birth_year, city, has_email, has_phone, email_masked, email_sha256, phone_masked, "
        "email_opt_in, is_email_unsubscribed, is_email_contactable, channels, has_pos, has_ecommerce, "
        f"has_social, source_record_count from marts.dim_customers where customer_id = '{jane}'",
    )[0]
    assert row == (
        "female",
        1990,
        "Utrecht",
        True,
        True,
        "j***@example.com",
        hashlib.sha256(b"jane.doe@example.com").hexdigest(),
        "+31******78",
        True,
        False,
        True,
        "ecommerce,pos,social",
        True,
        True,
        True,
        3,
    )
    bob = customer_of(built, "ecommerce", "customers", "W002")
    bob_row = query(
        built,
        "select is_email_unsubscribed, is_email_contactable, gender, channels "
        f"from marts.dim_customers where customer_id = '{bob}'",
    )[0]
    assert bob_row == (True, False, "male", "ecommerce")
    carol = query(
        built,
        "select first_name, last_name, phone from restricted.customer_profiles "
        f"where customer_id = '{customer_of(built, 'pos', 'loyalty_members', 'L002')}'",
    )[0]
    assert carol == ("Carol", "O'Brien", "+31612345679")


PLAIN_EMAIL = "{col} like '%@%.%' and {col} not like '%***@%'"
PLAIN_PHONE = r"regexp_matches({col}, '^\+[0-9]{{8,15}}$')"


def _text_columns(settings: Settings, schema: str) -> list[tuple[str, str]]:
    return query(
        settings,
        "select c.table_name, c.column_name from information_schema.columns as c "
        "inner join information_schema.tables as t "
        "on c.table_schema = t.table_schema and c.table_name = t.table_name "
        f"where c.table_schema = '{schema}' and t.table_type = 'BASE TABLE' "
        "and c.data_type = 'VARCHAR' order by 1, 2",
    )


def test_marts_hold_no_plain_email_or_phone(built: Settings) -> None:
    """Analysts get schema marts (and the profile history in schema snapshots): no column of any of
    their tables holds a plain email or E.164 phone; the plain values are in the restricted schema."""
    columns = [("marts", t, c) for t, c in _text_columns(built, "marts")]
    assert len({table for _, table, _ in columns}) > 5
    snapshot_columns = [("snapshots", t, c) for t, c in _text_columns(built, "snapshots")]
    assert {table for _, table, _ in snapshot_columns} == {"dim_customers_snapshot"}
    for schema, table, column in columns + snapshot_columns:
        col = f'"{column}"'
        leaked = query(
            built,
            f'select count(*) from {schema}."{table}" '
            f"where {PLAIN_EMAIL.format(col=col)} or {PLAIN_PHONE.format(col=col)}",
        )[0][0]
        assert leaked == 0, f"{schema}.{table}.{column} holds plain emails or phones"
    emails, phones = query(
        built,
        f"select count(*) filter (where {PLAIN_EMAIL.format(col='email')}), "
        f"count(*) filter (where {PLAIN_PHONE.format(col='phone')}) from restricted.customer_profiles",
    )[0]
    assert emails >= 4
    assert phones >= 2
    masked = query(built, "select count(email_masked), count(phone_masked) from marts.dim_customers")[0]
    assert masked == (emails, phones)


def test_golden_record_provenance_and_identifiers(built: Settings) -> None:
    """Each surviving attribute names its rule, source and record; customer_identifiers has every
    record of customer_identity_map (its source id, plus its email / phone masked and hashed) and
    dim_customers counts them."""
    carol = customer_of(built, "pos", "loyalty_members", "L002")
    provenance = query(
        built,
        "select attribute_name, survivorship_rule, source, record_key "
        f"from marts.customer_attribute_provenance where customer_id = '{carol}' order by attribute_name",
    )
    assert [row[0] for row in provenance] == [
        "email", "email_opt_in", "first_name", "gender", "last_name", "phone"
    ]
    rules = {row[0]: row[1] for row in provenance}
    assert rules["first_name"] == "most_frequent"
    assert rules["email"] == "most_recent"
    assert {row[2:] for row in provenance} == {("pos", "pos:loyalty_members:L002")}
    assert query(
        built,
        "select first_name_source, first_name_record_key, birth_date_source, email_count, phone_count, "
        "loyalty_card_count, ecommerce_account_count, social_handle_count, guest_order_count "
        f"from marts.dim_customers where customer_id = '{carol}'",
    ) == [("pos", "pos:loyalty_members:L002", None, 1, 1, 1, 0, 0, 0)]

    missing = query(
        built,
        "select count(*) from marts.customer_identity_map as map "
        "left join marts.customer_identifiers as ids "
        "on ids.record_key = map.source || ':' || map.entity || ':' || map.source_record_id "
        "and ids.customer_id = map.customer_id "
        "and ids.identifier_type in ('loyalty_card', 'ecommerce_account', 'guest_order', 'social_handle') "
        "where ids.record_key is null",
    )[0][0]
    assert missing == 0, "a record of customer_identity_map has no identifier"
    records = query(built, "select count(*) from marts.customer_identity_map")[0][0]
    by_type = dict(
        query(built, "select identifier_type, count(*) from marts.customer_identifiers group by all")
    )
    source_ids = ("loyalty_card", "ecommerce_account", "guest_order", "social_handle")
    assert sum(by_type.get(kind, 0) for kind in source_ids) == records
    with_email = query(
        built,
        "select count(*) from intermediate.int_identity_records_unioned where email_normalized is not null",
    )[0][0]
    assert by_type["email"] == with_email
    bob = customer_of(built, "ecommerce", "customers", "W002")
    assert query(
        built,
        "select identifier_masked, identifier_sha256, record_key from marts.customer_identifiers "
        f"where customer_id = '{bob}' and identifier_type = 'email' order by record_key",
    ) == [
        ("b***@example.org", hashlib.sha256(b"bob@example.org").hexdigest(), "ecommerce:customers:W002"),
        ("b***@example.org", hashlib.sha256(b"bob@example.org").hexdigest(), "ecommerce:orders:G1"),
    ]
    assert query(
        built,
        "select email_count, guest_order_count, source_record_count from marts.dim_customers "
        f"where customer_id = '{bob}'",
    ) == [(1, 1, 2)]


SNAPSHOT = "snapshots.dim_customers_snapshot"


def _snapshot_rows(settings: Settings) -> list[tuple]:
    return query(settings, f"select * exclude (dbt_updated_at) from {SNAPSHOT} order by all")


def _assert_snapshot_current_is_dim_customers(settings: Settings) -> None:
    """The current versions are exactly dim_customers' tracked columns, one per customer."""
    columns = [
        row[0]
        for row in query(
            settings,
            "select column_name from information_schema.columns where table_schema = 'snapshots' "
            "and table_name = 'dim_customers_snapshot' "
            "and column_name not in ('dbt_scd_id', 'dbt_updated_at', 'dbt_valid_from', 'dbt_valid_to') "
            "order by ordinal_position",
        )
    ]
    assert "customer_id" in columns
    assert "email_sha256" in columns
    select = ", ".join(columns)
    current = query(settings, f"select {select} from {SNAPSHOT} where dbt_valid_to is null order by all")
    assert current == query(settings, f"select {select} from marts.dim_customers order by all")
    zero_length = query(settings, f"select count(*) from {SNAPSHOT} where dbt_valid_from >= dbt_valid_to")
    assert zero_length == [(0,)]


def test_snapshot_keeps_profile_history_by_run_date(pristine: Settings, tmp_path: Path) -> None:
    """dim_customers_snapshot (SCD type 2): versions are stamped with the run date; re-running a date
    adds nothing (and replaces the date's versions when its data changed); the next date closes the
    changed profiles' versions and opens new ones; re-running an older date leaves the history."""
    settings = copy_home(pristine, tmp_path / "home")  # days one and two built; then only the snapshot
    run_at, next_at = datetime(2024, 3, 10), datetime(2024, 3, 11)
    first = _snapshot_rows(settings)
    assert len(first) == query(settings, "select count(*) from marts.dim_customers")[0][0]
    stamps = query(settings, f"select distinct dbt_valid_from, dbt_valid_to, dbt_updated_at from {SNAPSHOT}")
    assert stamps == [(run_at, None, run_at)]  # the run date, not the wall clock
    _assert_snapshot_current_is_dim_customers(settings)

    _build_snapshot(settings, RUN_DATE)  # the same date again: no new version
    assert _snapshot_rows(settings) == first

    write_day_three(settings.lake)  # Jane unsubscribes on NEXT_DATE
    _build_snapshot(settings, NEXT_DATE)
    jane = customer_of(settings, "pos", "loyalty_members", "L001")
    versions = query(
        settings,
        f"select dbt_valid_from, dbt_valid_to, is_email_unsubscribed from {SNAPSHOT} "
        f"where customer_id = '{jane}' order by dbt_valid_from",
    )
    assert versions == [(run_at, next_at, False), (next_at, None, True)]
    after_next = _snapshot_rows(settings)
    closed = {row[0] for row in after_next if row[-1] == next_at}
    opened = {row[0] for row in after_next if row[-2] == next_at}
    assert jane in closed
    assert closed == opened  # every changed profile: old version closed, new one opened
    assert _history_before(after_next, next_at) == _history_before(first, next_at)
    _assert_snapshot_current_is_dim_customers(settings)

    _build_snapshot(settings, NEXT_DATE)  # the same date again
    assert _snapshot_rows(settings) == after_next
    _build_snapshot(settings, RUN_DATE)  # an older date: the history stays as it is
    assert _snapshot_rows(settings) == after_next

    # NEXT_DATE's data is corrected (the unsubscribe was a mistake) and the date re-run: its versions
    # are replaced, not stacked on the first run's (no zero-length version; current = corrected).
    land(settings.lake, NEXT_DATE, "messaging", "unsubscribes", [])
    _build_snapshot(settings, NEXT_DATE)
    _assert_snapshot_current_is_dim_customers(settings)
    corrected = _snapshot_rows(settings)
    assert _history_before(corrected, next_at) == _history_before(first, next_at)
    assert query(
        settings,
        f"select is_email_unsubscribed from {SNAPSHOT} where customer_id = '{jane}' and dbt_valid_to is null",
    ) == [(False,)]


def _build_snapshot(settings: Settings, day: date) -> None:
    """dbt build of the snapshot and its parents only (tests whose parents are all built, so other
    marts left as of an earlier date are not tested against the new dim_customers)."""
    from cdp import dbt_runner

    command = ["build", "--select", "+dim_customers_snapshot", "--indirect-selection", "cautious"]
    command += ["--exclude-resource-type", "unit_test"]
    result = dbt_runner.invoke(settings, dbt_runner.dbt_args(settings, command, day))
    assert result.success, result.exception


def _history_before(rows: list[tuple], day: datetime) -> list[tuple]:
    """Versions opened before ``day``, without dbt_valid_to (closing a version only sets that)."""
    return sorted(row[:-1] for row in rows if row[-2] < day)


def test_fct_orders_nets_returns_refunds_and_cutoff(built: Settings) -> None:
    rows = {
        r[0]: r[1:]
        for r in query(
            built,
            "select order_id, status, customer_id is null, item_count, gross_amount, discount_amount, "
            "return_amount, net_amount, is_return, has_discount from marts.fct_orders",
        )
    }
    # status, anonymous, item_count, gross, discount, returns, net, is_return, has_discount
    expected = {
        "pos:S01:2024-03-08:R1": ("completed", False, 2, "100.00", "0.00", "0.00", "100.00", False, False),
        "pos:S01:2024-03-09:R3": ("completed", False, 2, "50.00", "0.00", "20.00", "30.00", True, False),
        "pos:S01:2024-03-09:R4": ("returned", False, 1, "0.00", "0.00", "20.00", "-20.00", True, False),
        "pos:S01:2024-03-09:R6": ("completed", True, 3, "15.00", "1.50", "0.00", "13.50", False, True),
        # Receipt 0001 of two days: two orders (the key used to drop one of them, with every gate green).
        "pos:S01:2024-03-08:0001": ("completed", True, 1, "10.00", "0.00", "0.00", "10.00", False, False),
        "pos:S01:2024-03-09:0001": ("completed", True, 1, "12.00", "0.00", "0.00", "12.00", False, False),
        "ecommerce:O2": ("refunded", False, 2, "60.00", "5.00", "0.00", "0.00", False, True),
    }
    for order_id, (*head, gross, discount, returns, net, is_return, has_discount) in expected.items():
        amounts = [Decimal(gross), Decimal(discount), Decimal(returns), Decimal(net)]
        assert rows[order_id] == (*head, *amounts, is_return, has_discount), order_id
    assert rows["ecommerce:G1"][1] is False  # guest checkout belongs to Bob's customer
    assert "ecommerce:O9" not in rows  # placed after run_date + 1 day (UTC)
    assert len(rows) == 12


def test_customer_rfm_scores_and_segments(built: Settings) -> None:
    ids = {
        "jane": customer_of(built, "pos", "loyalty_members", "L001"),
        "bob": customer_of(built, "ecommerce", "customers", "W002"),
        "carol": customer_of(built, "pos", "loyalty_members", "L002"),
        "dave": customer_of(built, "ecommerce", "customers", "W003"),
    }
    rows = {
        r[0]: r[1:]
        for r in query(
            built,
            "select customer_id, as_of_date, rfm_recency_days, rfm_frequency, rfm_monetary, "
            "r_score, f_score, m_score, rfm_score, rfm_segment from marts.customer_rfm",
        )
    }
    assert rows[ids["jane"]] == (RUN_DATE, 1, 3, Decimal("190.00"), 4, 5, 4, "454", "Champions")
    assert rows[ids["bob"]] == (RUN_DATE, 0, 2, Decimal("350.00"), 5, 4, 5, "545", "Champions")
    # Carol and Dave tie on frequency (1 order each): equal values, equal f_score.
    assert rows[ids["carol"]][2:] == (1, Decimal("20.00"), 2, 1, 1, "211", "Hibernating")
    assert rows[ids["dave"]][2:] == (1, Decimal("40.00"), 1, 1, 2, "112", "Hibernating")


def test_audience_contacts_follow_consent(built: Settings) -> None:
    jane = customer_of(built, "pos", "loyalty_members", "L001")
    contacts = "select email, first_name, can_email from restricted.audience_contacts where customer_id = "
    assert query(built, f"{contacts}'{jane}'") == [("jane.doe@example.com", "Jane", True)]


def test_point_in_time_rerun_is_identical_after_next_landing(built: Settings) -> None:
    before = snapshot(built)
    write_day_three(built.lake)
    build(built, RUN_DATE)
    assert snapshot(built) == before
    # The next day sees the new data: Jane's new receipt and her unsubscribe.
    build(built, NEXT_DATE)
    jane = customer_of(built, "pos", "loyalty_members", "L001")
    assert query(
        built,
        "select profile.first_name, dim.is_email_unsubscribed from marts.dim_customers as dim "
        "inner join restricted.customer_profiles as profile using (customer_id) "
        f"where customer_id = '{jane}'",
    ) == [("Janet", True)]
    assert query(
        built, f"select can_email from restricted.audience_contacts where customer_id = '{jane}'"
    ) == [(False,)]
    build(built, RUN_DATE)
    assert snapshot(built) == before


def test_dbt_writes_nothing_into_the_repository(built: Settings) -> None:
    docs = docs_generate(built, RUN_DATE)
    assert (docs / "index.html").exists()
    assert (docs / "catalog.json").exists()
    for name in ("target", "logs", "dbt_packages"):
        assert not (DBT_PROJECT_DIR / name).exists()
    assert (built.logs / "dbt" / "dbt.log").exists()


def test_missing_run_date_fails_clearly(built: Settings) -> None:
    from cdp import dbt_runner

    args = dbt_runner.dbt_args(built, ["compile", "--select", "stg_pos__transactions"])
    result = dbt_runner.invoke(built, args)
    assert not result.success
    assert "run_date" in str(result.exception)


def test_failures_raise_with_node_names(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path).ensure()
    write_day_one(settings.lake)
    # No landed partition at all for an entity: its source glob matches nothing and dbt fails.
    (settings.lake / "landing" / "social" / "profiles").rename(tmp_path / "moved")
    with pytest.raises(WarehouseBuildError) as raised:
        build(settings, RUN_DATE, select="stg_social__profiles")
    assert "stg_social__profiles" in str(raised.value)
    assert "jane" not in str(raised.value).lower()


def test_a_null_in_a_required_column_fails_naming_the_column(tmp_path: Path) -> None:
    """A model's required columns are checked by one ``not_null_columns`` test (D71: one scan, one
    node instead of one per column); when it fails, the error names each column holding nulls and
    how many rows, never a value."""
    settings = Settings.load(home=tmp_path).ensure()
    write_day_one(settings.lake)
    # A member without updated_at (ingest's contract would quarantine it; landed past it here).
    land(settings.lake, RUN_DATE, "pos", "loyalty_members", [{**JANE_MEMBER, "loyalty_card_no": "L009",
                                                              "updated_at": None}])
    with pytest.raises(WarehouseBuildError) as raised:
        build(settings, RUN_DATE, select="stg_pos__loyalty_members")
    message = str(raised.value)
    assert "not_null_columns_stg_pos__loyalty_members" in message
    assert "null in: updated_at (1 rows)" in message
    assert "loyalty_card_no" not in message.split("null in:")[1], "a column without nulls named"
    assert "jane" not in message.lower()


def test_explain_shows_records_links_and_rules_masked(built: Settings) -> None:
    from cdp.explain import explain

    jane = customer_of(built, "pos", "loyalty_members", "L001")
    result = explain(built, jane)
    keys = {record_key for record_key, *_ in result.records}
    assert "pos:loyalty_members:L001" in keys
    assert len(keys) >= 2
    accepted = [link for link in result.links if link.accepted]
    linked = {key for link in accepted for key in (link.left, link.right)}
    assert linked == keys  # every record is held by at least one accepted link
    assert {link.rule for link in accepted} <= {"email", "phone", "email+phone", "probabilistic"}
    assert [event for _, event, *_ in result.history] == ["created"]
    text = repr(result)
    assert "jane.doe@example.com" not in text
    assert "Jane" not in text
    assert "JANE" not in text
    assert "***@" in text
