"""Data-quality gates: landed gate on hand-written partitions, mart gate on a hand-made DuckDB file."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import expectations
from cdp import lake
from cdp.config import Settings
from expectations.contracts import entity_specs

RUN_DATE = date(2026, 3, 10)
TS = datetime(2026, 3, 10, 9, 30)
SECRET = "zz-secret-value-zz"  # a "bad value" that must never appear in messages or results

_ARROW_TYPES = {
    "string": pa.string(),
    "integer": pa.int64(),
    "decimal": pa.decimal128(18, 2),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


def _clean_rows() -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Two valid rows per entity (only the checked fields; the rest land as null)."""
    return {
        ("pos", "transactions"): [
            {
                "receipt_id": "R1",
                "line_no": n,
                "store_id": "S01",
                "tx_time": TS,
                "sku": "SKU1",
                "quantity": 1 if n == 1 else -1,
                "unit_price": Decimal("9.99"),
                "discount": Decimal("0.00"),
                "currency": "EUR",
                "payment_method": "card",
                "loyalty_card_no": "L1",
            }
            for n in (1, 2)
        ],
        ("pos", "loyalty_members"): [
            {"loyalty_card_no": f"L{n}", "updated_at": TS, "email": f"m{n}@example.com"} for n in (1, 2)
        ],
        ("ecommerce", "customers"): [
            {"customer_id": f"C{n}", "updated_at": TS, "phone": "+31612345678" if n == 1 else None}
            for n in (1, 2)
        ],
        ("ecommerce", "orders"): [
            {"order_id": f"O{n}", "placed_at": TS, "status": "completed", "currency": "EUR"} for n in (1, 2)
        ],
        ("ecommerce", "order_lines"): [
            {"order_id": "O1", "line_no": n, "sku": "SKU1", "qty": 1, "unit_price": Decimal("5.00")}
            for n in (1, 2)
        ],
        ("social", "profiles"): [{"platform": "instagram", "user_handle": f"h{n}"} for n in (1, 2)],
        ("social", "interactions"): [
            {
                "interaction_id": f"I{n}",
                "platform": "x",
                "user_handle": "h1",
                "event_type": "like",
                "event_time": TS,
            }
            for n in (1, 2)
        ],
        ("messaging", "unsubscribes"): [
            {"channel": "email", "address": f"a{n}@example.com", "event_time": TS} for n in (1, 2)
        ],
    }


def _write_partition(settings: Settings, source: str, entity: str, rows: list[dict], day: date) -> None:
    spec = next(s for s in entity_specs() if (s.source, s.entity) == (source, entity))
    fields = [pa.field(c.name, _ARROW_TYPES[c.type]) for c in spec.columns]
    fields += [pa.field("_source_file", pa.string()), pa.field("_source_line", pa.int64())]
    fields += [pa.field("_flags", pa.string())]
    schema = pa.schema(fields)
    records = [
        {**{f.name: None for f in fields}, **row, "_source_file": "x", "_source_line": i + 1}
        for i, row in enumerate(rows)
    ]
    path = lake.partition_file(settings, lake.LANDING, source, entity, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(records, schema=schema), path)


def _write_manifest(settings: Settings, source: str, day: date, counts: dict[str, tuple[int, int]]) -> None:
    path = lake.manifest_path(settings, source, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    entities = {
        entity: {"rows_read": landed + quarantined, "rows_landed": landed, "rows_quarantined": quarantined}
        for entity, (landed, quarantined) in counts.items()
    }
    path.write_text(json.dumps({"source": source, "entities": entities}))


def land_day(
    settings: Settings,
    day: date = RUN_DATE,
    overrides: dict[tuple[str, str], list[dict]] | None = None,
    quarantined: dict[tuple[str, str], int] | None = None,
) -> None:
    rows = {**_clean_rows(), **(overrides or {})}
    # Every other entity of the contracts (the optional ones a drop may lack) lands empty, as ingest
    # lands an optional file the drop did not carry.
    rows.update({(s.source, s.entity): [] for s in entity_specs() if (s.source, s.entity) not in rows})
    per_source: dict[str, dict[str, tuple[int, int]]] = {}
    for (source, entity), entity_rows in rows.items():
        _write_partition(settings, source, entity, entity_rows, day)
        q = (quarantined or {}).get((source, entity), 0)
        per_source.setdefault(source, {})[entity] = (len(entity_rows), q)
    for source, counts in per_source.items():
        _write_manifest(settings, source, day, counts)


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home", raw=tmp_path / "raw").ensure()


# --------------------------------------------------------------------------------------- landed gate


def test_clean_landed_partition_passes(home: Settings) -> None:
    land_day(home)
    result = expectations.run_landed_gate(home, RUN_DATE)
    assert result.passed, result.critical
    assert result.critical == []
    assert result.warnings == []
    assert result.evaluated > 40
    assert expectations.assert_passed(result) is result
    assert result.html_path == home.reports / "2026-03-10" / "dq_landed.html"
    assert "PASSED" in result.html_path.read_text()
    assert json.loads(result.json_path.read_text())["passed"] is True
    # Our pages only: GX Data Docs need a CDN and render empty offline (issue 22). Nothing external.
    assert result.data_docs_path is None
    assert "http" not in result.html_path.read_text()
    json.dumps(result.to_dict())  # JSON-able for XComs and run logs


def test_null_keys_and_disallowed_values_fail_critical(home: Settings) -> None:
    bad_tx = _clean_rows()[("pos", "transactions")]
    bad_tx[0]["receipt_id"] = None
    bad_tx[1]["payment_method"] = SECRET
    land_day(home, overrides={("pos", "transactions"): bad_tx})

    result = expectations.run_landed_gate(home, RUN_DATE)

    assert not result.passed
    found = {(i.suite, i.expectation, i.column) for i in result.critical}
    assert ("landed.pos.transactions", "expect_column_values_to_not_be_null", "receipt_id") in found
    assert ("landed.pos.transactions", "expect_column_values_to_be_in_set", "payment_method") in found
    with pytest.raises(expectations.GateFailed) as raised:
        expectations.assert_passed(result)
    message = str(raised.value)
    assert "landed.pos.transactions [receipt_id]" in message
    assert "landed.pos.transactions [payment_method]" in message
    assert "1 of 2 rows" in message
    assert "2026-03-10" in message
    assert "critical" in message
    # The bad value itself never leaves the data: not in the message, the JSON, the HTML or Data Docs.
    assert SECRET not in message
    assert SECRET not in result.json_path.read_text()
    assert SECRET not in result.html_path.read_text()
    for page in result.html_path.parent.rglob("*.html"):
        assert SECRET not in page.read_text(), page


def test_min_nonzero_pattern_and_missing_partition(home: Settings) -> None:
    lines = _clean_rows()[("ecommerce", "order_lines")]
    lines[0]["qty"] = 0
    tx = _clean_rows()[("pos", "transactions")]
    tx[0]["quantity"] = 0
    tx[1]["currency"] = "euro"
    land_day(home, overrides={("ecommerce", "order_lines"): lines, ("pos", "transactions"): tx})
    lake.partition_file(home, lake.LANDING, "social", "profiles", RUN_DATE).unlink()

    result = expectations.run_landed_gate(home, RUN_DATE)

    found = {(i.suite, i.column) for i in result.critical}
    assert ("landed.ecommerce.order_lines", "qty") in found
    assert ("landed.pos.transactions", "quantity") in found
    assert ("landed.pos.transactions", "currency") in found
    assert ("landed.social.profiles", None) in found  # partition missing though the manifest has rows


def test_duplicate_key_is_only_a_warning(home: Settings) -> None:
    members = _clean_rows()[("pos", "loyalty_members")]
    members[1]["loyalty_card_no"] = members[0]["loyalty_card_no"]
    land_day(home, overrides={("pos", "loyalty_members"): members})

    result = expectations.run_landed_gate(home, RUN_DATE)

    assert result.passed
    assert [(i.suite, i.column) for i in result.warnings] == [
        ("landed.pos.loyalty_members", "loyalty_card_no")
    ]
    assert "2 of 2 rows" in result.warnings[0].description
    expectations.assert_passed(result)


@pytest.mark.parametrize(
    ("quarantined", "severity"),
    [(0, None), (1, "warning"), (3, "critical")],  # of ~50 rows read: 0 %, 2 %, 5.7 %
)
def test_quarantine_rate_thresholds(home: Settings, quarantined: int, severity: str | None) -> None:
    rows = {("pos", "transactions"): _clean_rows()[("pos", "transactions")] * 25}
    for i, row in enumerate(rows[("pos", "transactions")]):
        rows[("pos", "transactions")][i] = {**row, "receipt_id": f"R{i}"}
    land_day(home, overrides=rows, quarantined={("pos", "transactions"): quarantined})

    result = expectations.run_landed_gate(home, RUN_DATE)

    def hits(issues: list[expectations.Issue]) -> list[expectations.Issue]:
        return [i for i in issues if i.suite == "landed.quarantine" and i.column == "pos.transactions"]

    assert len(hits(result.critical)) == (severity == "critical")
    assert len(hits(result.warnings)) == (severity == "warning")
    assert result.passed == (severity != "critical")


def test_one_bad_line_of_a_small_file_warns_and_does_not_stop_the_night(home: Settings) -> None:
    """A file of ten rows (a campaign catalogue, a small member file) with one bad line is 9 %
    quarantined: counted and warned about, but fewer than QUARANTINE_CRITICAL_MIN_ROWS rows are no
    reason to stop the night (make demo's first night stopped on this). Three bad lines still stop it."""
    entity = ("pos", "loyalty_members")
    members = [{**row, "loyalty_card_no": f"L{n}"} for n, row in enumerate(_clean_rows()[entity] * 5)]
    for bad, critical in ((1, False), (3, True)):
        land_day(home, overrides={entity: members}, quarantined={entity: bad})
        result = expectations.run_landed_gate(home, RUN_DATE)
        hits = [i for i in result.critical if i.suite == "landed.quarantine"]
        warned = [i for i in result.warnings if i.suite == "landed.quarantine"]
        assert [i.column for i in hits] == (["pos.loyalty_members"] if critical else []), bad
        # the warning is reported when its critical twin is not (runner.finish)
        assert [i.column for i in warned] == ([] if critical else ["pos.loyalty_members"]), bad
        assert result.passed == (not critical), (bad, result.critical)


def test_missing_manifest_is_critical(home: Settings) -> None:
    land_day(home)
    lake.manifest_path(home, "messaging", RUN_DATE).unlink()
    result = expectations.run_landed_gate(home, RUN_DATE)
    assert [(i.expectation, i.column) for i in result.critical] == [("manifest_exists", "messaging")]


def test_empty_partition_passes_and_missing_column_is_reported_once(home: Settings) -> None:
    land_day(home, overrides={("messaging", "unsubscribes"): []})  # a header-only drop
    path = lake.partition_file(home, lake.LANDING, "ecommerce", "orders", RUN_DATE)
    pq.write_table(pq.read_table(path).drop_columns(["currency"]), path)

    result = expectations.run_landed_gate(home, RUN_DATE)

    assert [(i.suite, i.expectation, i.column) for i in result.critical] == [
        ("landed.ecommerce.orders", "expect_column_to_exist", "currency")
    ]
    assert result.warnings == []


# ----------------------------------------------------------------------------------------- mart gate


def make_warehouse(path: Path, *, non_contactable_member: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create schema restricted")
        con.execute(
            """
            create table marts.dim_customers as select * from (values
                ('c1', 'f', 1980, 'Utrecht', true, true, 'a***@example.com', 'e3b0c442', '+31******78',
                 true, true, false, false, true, true, timestamp '2025-01-01', timestamp '2026-03-01',
                 'pos,ecommerce', true, true, false, 2, timestamp '2025-02-01', timestamp '2026-03-01'),
                ('c2', 'm', null, 'Delft', false, false, null, null, null,
                 false, false, false, false, false, false,
                 timestamp '2025-05-01', timestamp '2026-02-01', 'pos', true, false, false, 1,
                 timestamp '2025-05-01', timestamp '2026-02-01')
            ) as t(customer_id, gender, birth_year, city, has_email, has_phone, email_masked, email_sha256,
                   phone_masked, email_opt_in, sms_opt_in, is_email_unsubscribed, is_sms_unsubscribed,
                   is_email_contactable, is_sms_contactable, first_seen_at, last_seen_at, channels,
                   has_pos, has_ecommerce, has_social, source_record_count, first_order_at, last_order_at)
            """
        )
        con.execute(
            """
            create table restricted.customer_profiles as select * from (values
                ('c1', 'Ann', 'A', date '1980-01-01', 'ann@example.com', '+31612345678', '3511'),
                ('c2', 'Bob', 'B', null, null, null, null)
            ) as t(customer_id, first_name, last_name, birth_date, email, phone, postcode)
            """
        )
        con.execute(
            """
            create table marts.fct_orders as select * from (values
                ('o1', 'pos', 'R1', 'c1', timestamp '2026-03-10 23:59:59', date '2026-03-10', 'S01', 'EUR',
                 'completed', 2, 20.00::decimal(18,2), 0.00::decimal(18,2), 0.00::decimal(18,2),
                 20.00::decimal(18,2), false, false),
                ('o2', 'ecommerce', 'O1', 'c2', timestamp '2026-02-01 10:00:00', date '2026-02-01', null,
                 'EUR', 'completed', 1, 5.00::decimal(18,2), 1.00::decimal(18,2), 0.00::decimal(18,2),
                 4.00::decimal(18,2), false, true)
            ) as t(order_id, channel, source_order_id, customer_id, ordered_at, order_date, store_id,
                   currency, status, item_count, gross_amount, discount_amount, return_amount, net_amount,
                   is_return, has_discount)
            """
        )
        con.execute(
            """
            create table marts.customer_rfm as select * from (values
                ('c1', date '2026-03-10', date '2026-03-01', 9, 2, 20.0, 5, 4, 3, '543', 'champions'),
                ('c2', date '2026-03-10', date '2026-02-01', 37, 1, 4.0, 1, 1, 1, '111', 'lost')
            ) as t(customer_id, as_of_date, last_order_date, rfm_recency_days, rfm_frequency, rfm_monetary,
                   r_score, f_score, m_score, rfm_score, rfm_segment)
            """
        )
        con.execute(
            """
            create table marts.customer_identity_map as select * from (values
                ('pos', 'loyalty_members', 'L1', 'c1'), ('ecommerce', 'customers', 'C1', 'c1'),
                ('pos', 'loyalty_members', 'L2', 'c2')
            ) as t(source, entity, source_record_id, customer_id)
            """
        )
        # c2 may not be emailed; a wrong can_email on c2 is what the consent check must catch.
        can_email_c2 = "true" if non_contactable_member else "false"
        con.execute(
            f"""
            create table restricted.audience_contacts as select * from (values
                ('c1', 'ann@example.com', '+31612345678', 'Ann', 'A', true, true),
                ('c2', null, null, 'Bob', 'B', {can_email_c2}, false)
            ) as t(customer_id, email, phone, first_name, last_name, can_email, can_sms)
            """
        )


def test_mart_gate_passes_on_clean_marts(home: Settings) -> None:
    make_warehouse(home.warehouse)
    result = expectations.run_mart_gate(home, RUN_DATE)
    assert result.passed, result.critical
    assert result.warnings == []
    assert result.html_path.exists()
    assert result.data_docs_path is None


def test_mart_gate_fails_when_contacts_allow_a_non_contactable_customer(home: Settings) -> None:
    make_warehouse(home.warehouse, non_contactable_member=True)
    result = expectations.run_mart_gate(home, RUN_DATE)
    assert not result.passed
    assert [(i.suite, i.column) for i in result.critical] == [
        ("restricted.audience_contacts", "is_email_consent_violation")
    ]
    with pytest.raises(expectations.GateFailed, match=r"restricted\.audience_contacts"):
        expectations.assert_passed(result)


def test_mart_gate_accepts_zone_aware_timestamps(home: Settings) -> None:
    make_warehouse(home.warehouse)
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("alter table marts.fct_orders alter ordered_at type timestamptz")
    result = expectations.run_mart_gate(home, RUN_DATE)
    assert result.passed, result.critical


def test_mart_gate_passes_a_night_without_orders(home: Settings) -> None:
    """Nothing delivered for the orders mart and fct_orders empty: the future-order check (a maximum
    where orders came, D72) must not fail on the null maximum of an empty column."""
    make_warehouse(home.warehouse)
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("delete from marts.fct_orders")
        con.execute("create schema staging")
        con.execute("create table staging.stg_pos__transactions (receipt_id varchar)")
        con.execute("create table staging.stg_ecommerce__orders (order_id varchar)")
    result = expectations.run_mart_gate(home, RUN_DATE)
    assert ("marts.fct_orders", "ordered_at") not in {(i.suite, i.column) for i in result.critical}
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("insert into staging.stg_pos__transactions values ('r1')")
    result = expectations.run_mart_gate(home, RUN_DATE)
    critical = {(i.suite, i.column or i.expectation) for i in result.critical}
    assert ("marts.fct_orders", "expect_table_row_count_to_be_between") in critical, critical


def test_mart_gate_flags_bad_phone_future_order_and_missing_table(home: Settings) -> None:
    make_warehouse(home.warehouse)
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute(f"update restricted.customer_profiles set phone = '{SECRET}', email = 'not-an-email'")
        con.execute(f"update marts.dim_customers set phone_masked = '{SECRET}' where customer_id = 'c1'")
        con.execute("update marts.fct_orders set ordered_at = timestamp '2026-03-11 00:00:00'")
        con.execute("drop table marts.customer_rfm")
    result = expectations.run_mart_gate(home, RUN_DATE)
    critical = {(i.suite, i.column or i.expectation) for i in result.critical}
    assert ("restricted.customer_profiles", "phone") in critical
    assert ("marts.dim_customers", "phone_masked") in critical  # a plain phone in the shared mart
    assert ("marts.fct_orders", "ordered_at") in critical
    assert ("marts.customer_rfm", "table_readable") in critical
    assert [(i.suite, i.column) for i in result.warnings] == [("restricted.customer_profiles", "email")]
    assert SECRET not in str(result.to_dict()) + result.html_path.read_text()
