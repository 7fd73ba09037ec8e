"""Ingest: contract rules at landing, quarantine, manifest reconciliation, atomic and idempotent writes."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ingest
import ingest.land
import ingest.readers
from cdp.config import Settings
from ingest import IngestError, land_source, load_contract

D1 = date(2024, 3, 31)
D2 = date(2024, 4, 1)

TX_HEADER = (
    "receipt_id,line_no,store_id,tx_time,loyalty_card_no,sku,category,quantity,unit_price,discount,"
    "currency,payment_method"
)
LM_HEADER = (
    "loyalty_card_no,first_name,last_name,gender,birth_date,phone,email,postcode,city,address,"
    "home_store_id,enrolled_at,updated_at,email_opt_in,sms_opt_in"
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home")


def write_drop(settings: Settings, source: str, day: date, files: dict[str, str]) -> Path:
    folder = settings.raw / source / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def pos_drop(settings: Settings, day: date = D1, tx_rows: list[str] = (), lm_rows: list[str] = ()) -> Path:
    return write_drop(
        settings,
        "pos",
        day,
        {
            "transactions.csv": "\n".join([TX_HEADER, *tx_rows]) + "\n",
            "loyalty_members.csv": "\n".join([LM_HEADER, *lm_rows]) + "\n",
        },
    )


def landed(settings: Settings, source: str, entity: str, day: date = D1) -> list[dict]:
    return pq.read_table(
        ingest.partition(settings, "landing", source, entity, day) / "part-0.parquet"
    ).to_pylist()


def quarantined(settings: Settings, source: str, entity: str, day: date = D1) -> list[dict]:
    path = ingest.partition(settings, "quarantine", source, entity, day) / "part-0.parquet"
    return pq.read_table(path).to_pylist()


def lake_files(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.lake.rglob("*") if p.is_file()) if settings.lake.exists() else []


GOOD_TX = [
    "R1,1,S01,2024-01-15 14:30:00,L100,SKU1,food,2,1.99,0.50,EUR,card",
    "R1,2,S01,2024-07-15 14:30:00,,SKU2,,-1,10,,EUR,cash",
]


# ------------------------------------------------------------------------------------------- contracts


def test_contracts_parse_for_every_source():
    assert ingest.list_sources() == ["ecommerce", "messaging", "pos", "service", "social"]
    pos = load_contract("pos")
    tx = pos.entity("transactions")
    assert pos.local_timezone == "Europe/Amsterdam"
    assert tx.key == ("receipt_id", "line_no")
    assert tx.field("tx_time").local_time
    orders = load_contract("ecommerce").entity("orders")
    assert [c.name for c in orders.children] == ["order_lines"]
    assert load_contract("ecommerce").entity("customers").field("address_city").path == ("address", "city")
    with pytest.raises(IngestError, match="no contract"):
        load_contract("nope")


# ------------------------------------------------------------------------------------------- good drop


def test_good_csv_drop_lands_typed_and_in_utc(settings):
    pos_drop(
        settings,
        tx_rows=GOOD_TX,
        lm_rows=[
            "L100,Jan,Jansen,M,1980-05-01,0612345678,j@x.nl,1000AA,Amsterdam,Dam 1,S01,"
            "2020-01-01 09:00:00,2024-03-30 10:00:00,Yes,0"
        ],
    )
    report = land_source(settings, "pos", D1)
    tx = report.entities["transactions"]
    assert (tx.rows_read, tx.rows_landed, tx.rows_quarantined) == (2, 2, 0)
    rows = landed(settings, "pos", "transactions")
    assert rows[0]["tx_time"] == datetime(2024, 1, 15, 13, 30)  # CET = UTC+1
    assert rows[1]["tx_time"] == datetime(2024, 7, 15, 12, 30)  # CEST = UTC+2
    assert rows[0]["unit_price"] == Decimal("1.99")
    assert rows[1]["discount"] == Decimal("0.00")  # contract default for an absent optional value
    assert rows[1]["loyalty_card_no"] is None  # empty string → null
    assert rows[1]["quantity"] == -1
    assert [r["_source_line"] for r in rows] == [1, 2]
    assert rows[0]["_source_file"] == "transactions.csv"
    assert rows[0]["_flags"] is None
    schema = pq.read_schema(
        ingest.partition(settings, "landing", "pos", "transactions", D1) / "part-0.parquet"
    )
    assert schema.field("unit_price").type == pa.decimal128(18, 2)
    assert schema.field("tx_time").type == pa.timestamp("us")
    assert schema.field("line_no").type == pa.int64()
    member = landed(settings, "pos", "loyalty_members")[0]
    assert member["birth_date"] == date(1980, 5, 1)
    assert (member["email_opt_in"], member["sms_opt_in"]) == (True, False)
    assert member["updated_at"] == datetime(2024, 3, 30, 9, 0)
    # quarantine partitions exist even when empty, so downstream globs always match
    assert quarantined(settings, "pos", "transactions") == []


def test_dst_edges_are_resolved_not_rejected(settings):
    pos_drop(
        settings,
        tx_rows=[
            "R1,1,S01,2024-03-31 02:30:00,,SKU1,,1,1,,EUR,",  # does not exist (clocks jump 02:00 → 03:00)
            "R1,2,S01,2024-10-27 02:30:00,,SKU1,,1,1,,EUR,",  # happens twice (03:00 → 02:00)
        ],
    )
    land_source(settings, "pos", D1)
    rows = landed(settings, "pos", "transactions")
    assert rows[0]["tx_time"] == datetime(2024, 3, 31, 1, 30)  # read with the pre-gap offset (+01:00)
    assert rows[1]["tx_time"] == datetime(2024, 10, 27, 0, 30)  # first occurrence (+02:00)


def test_good_jsonl_drop_with_nested_paths_and_offsets(settings):
    customer = {
        "customer_id": "C1",
        "email": "a@example.com",
        "birthday": "1990-02-01",
        "address": {"line1": "Dam 1", "city": "Utrecht", "postcode": "3511AA", "country": "NL"},
        "created_at": "2023-01-01T10:00:00Z",
        "updated_at": "2024-03-30T10:00:00+02:00",
        "consent": {"email": True, "sms": False},
    }
    order = {
        "order_id": "O1",
        "customer_id": "C1",
        "placed_at": "2024-03-30T10:00:00+01:00",
        "status": "completed",
        "currency": "EUR",
        "lines": [
            {"sku": "A", "category": "toys", "qty": 1, "unit_price": 9.99},
            {"sku": "B", "qty": 2, "unit_price": "1.50", "discount": 0.5},
        ],
    }
    write_drop(
        settings,
        "ecommerce",
        D1,
        {"customers.jsonl": json.dumps(customer) + "\n", "orders.jsonl": json.dumps(order) + "\n"},
    )
    report = land_source(settings, "ecommerce", D1)
    c = landed(settings, "ecommerce", "customers")[0]
    assert c["address_city"] == "Utrecht"
    assert c["updated_at"] == datetime(2024, 3, 30, 8, 0)
    assert c["created_at"] == datetime(2023, 1, 1, 10, 0)
    assert (c["consent_email"], c["consent_sms"]) == (True, False)
    assert c["birthday"] == date(1990, 2, 1)
    o = landed(settings, "ecommerce", "orders")[0]
    assert o["placed_at"] == datetime(2024, 3, 30, 9, 0)
    assert "lines" not in o  # lists land as their child entity
    lines = landed(settings, "ecommerce", "order_lines")
    assert [(r["order_id"], r["line_no"], r["sku"]) for r in lines] == [("O1", 1, "A"), ("O1", 2, "B")]
    assert lines[0]["discount"] == Decimal("0.00")
    assert lines[1]["unit_price"] == Decimal("1.50")
    assert lines[1]["_source_line"] == 1
    assert report.entities["order_lines"].rows_landed == 2
    assert report.entities["order_lines"].derived_from == "orders"


# ----------------------------------------------------------------------------------------- bad rows


def test_bad_csv_rows_are_quarantined_with_reasons(settings):
    pos_drop(
        settings,
        tx_rows=[
            GOOD_TX[0],
            "R2,1,S01,2024-01-15 14:30:00,,SKU1,,1,1.00,,EUR,card,EXTRA",  # wrong column count
            "R3,1,S01,2024-01-15 14:30:00,,SKU1,,one,1.00,,EUR,card",  # bad integer (required)
            "R4,1,S01,2024-01-15 14:30:00,,SKU1,,1,-1.00,,EUR,card",  # negative price
            ",1,S01,2024-01-15 14:30:00,,SKU1,,1,1.00,,EUR,card",  # missing key
            "R6,1,S01,2024-01-15 14:30:00,,SKU1,,1,1.00,-2,EUR,bitcoin",  # two bad optionals: kept
            "R7,1,S01,15/01/2024 14:30,,SKU1,,1,1.00,,EUR,card",  # bad timestamp
            'R8,1,S01,2024-01-15 14:30:00,,"SKU ""9"", big",,0,1.00,,EUR,card',  # zero quantity, quoted
            "R9,1,S01,2024-01-15 14:30:00,,SKU1,,1,1.00,,eur,card",  # pattern
        ],
    )
    report = land_source(settings, "pos", D1)
    tx = report.entities["transactions"]
    assert (tx.rows_read, tx.rows_landed, tx.rows_quarantined) == (9, 2, 7)
    assert tx.reasons == {
        "unparseable line": 1,
        "bad integer in 'quantity'": 1,
        "unit_price: below min 0": 1,
        "missing required field 'receipt_id'": 1,
        "bad timestamp in 'tx_time'": 1,
        "quantity: zero not allowed": 1,
        "currency: does not match pattern": 1,
    }
    q = quarantined(settings, "pos", "transactions")
    assert [r["_source_line"] for r in q] == [2, 3, 4, 5, 7, 8, 9]
    assert q[0]["_raw"] == "R2,1,S01,2024-01-15 14:30:00,,SKU1,,1,1.00,,EUR,card,EXTRA"
    assert q[5]["_raw"] == 'R8,1,S01,2024-01-15 14:30:00,,"SKU ""9"", big",,0,1.00,,EUR,card'
    kept = landed(settings, "pos", "transactions")[1]
    assert kept["receipt_id"] == "R6"
    assert kept["discount"] is None
    assert kept["payment_method"] is None
    assert kept["_flags"] == "discount,payment_method"
    assert tx.flagged == {"discount": 1, "payment_method": 1}


def test_csv_line_numbers_survive_quoted_newlines_and_blank_lines(settings):
    pos_drop(
        settings,
        tx_rows=[
            'R1,1,S01,2024-01-15 14:30:00,,"two\nlines",,1,1,,EUR,',
            "",
            "R2,1,S01,2024-01-15 14:30:00,,S,,1,1,,EUR,",
        ],
    )
    land_source(settings, "pos", D1)
    rows = landed(settings, "pos", "transactions")
    assert [r["_source_line"] for r in rows] == [1, 4]
    assert rows[0]["sku"] == "two\nlines"


def test_bad_optional_field_is_nulled_and_flagged(settings):
    pos_drop(
        settings,
        lm_rows=["L1,Jan,,,1980-02-30,,,,,,,not a time,2024-03-30 10:00:00,perhaps,"],
    )
    report = land_source(settings, "pos", D1)
    member = landed(settings, "pos", "loyalty_members")[0]
    assert member["birth_date"] is None
    assert member["enrolled_at"] is None
    assert member["email_opt_in"] is None
    assert member["_flags"] == "birth_date,enrolled_at,email_opt_in"
    assert report.entities["loyalty_members"].flagged == {
        "birth_date": 1,
        "email_opt_in": 1,
        "enrolled_at": 1,
    }


def test_bad_jsonl_lines_and_orders(settings):
    ok = {
        "order_id": "O1",
        "placed_at": "2024-03-30T10:00:00Z",
        "status": "completed",
        "currency": "EUR",
        "lines": [{"sku": "A", "qty": 1, "unit_price": 5}],
    }
    bad_line = ok | {
        "order_id": "O2",
        "lines": [{"sku": "A", "qty": 1, "unit_price": 5}, {"sku": "B", "qty": 1, "unit_price": -1}],
    }
    no_lines = ok | {"order_id": "O3", "lines": []}
    local_time = ok | {"order_id": "O4", "placed_at": "2024-03-30 10:00:00"}  # no offset: not allowed here
    flagged_line = ok | {
        "order_id": "O5",
        "lines": [{"sku": "A", "qty": 1, "unit_price": 5, "discount": "x"}],
    }
    status = ok | {"order_id": "O6", "status": "lost"}
    text = "\n".join(
        [
            json.dumps(ok),
            "{not json",
            json.dumps(bad_line),
            json.dumps(no_lines),
            "[1, 2]",
            json.dumps(local_time),
            json.dumps(flagged_line),
            json.dumps(status),
        ]
    )
    write_drop(settings, "ecommerce", D1, {"customers.jsonl": "\n", "orders.jsonl": text})
    report = land_source(settings, "ecommerce", D1)
    orders = report.entities["orders"]
    assert (orders.rows_read, orders.rows_landed, orders.rows_quarantined) == (8, 2, 6)
    assert orders.reasons == {
        "unparseable line": 2,
        "lines[2].unit_price: below min 0": 1,
        "lines: fewer than 1 items": 1,
        "bad timestamp in 'placed_at'": 1,
        "status: not an allowed value": 1,
    }
    q = quarantined(settings, "ecommerce", "orders")
    assert [r["_source_line"] for r in q] == [2, 3, 4, 5, 6, 8]
    assert q[0]["_raw"] == "{not json"
    # the whole order went to quarantine, so none of its lines landed
    lines = landed(settings, "ecommerce", "order_lines")
    assert sorted({r["order_id"] for r in lines}) == ["O1", "O5"]
    flagged = next(r for r in lines if r["order_id"] == "O5")
    assert flagged["discount"] is None
    assert flagged["_flags"] == "discount"
    assert report.entities["order_lines"].flagged == {"discount": 1}
    assert report.entities["customers"].rows_read == 0  # blank lines are not rows


# ----------------------------------------------------------------------------------- unusable files


@pytest.mark.parametrize("problem", ["missing", "empty", "header", "not utf-8"])
def test_unusable_file_raises_and_writes_nothing(settings, problem):
    folder = pos_drop(settings, tx_rows=GOOD_TX)
    lm = folder / "loyalty_members.csv"
    if problem == "missing":
        lm.unlink()
        expected = "pos/2024-03-31/loyalty_members.csv is missing"
    elif problem == "empty":
        lm.write_bytes(b"")
        expected = "empty"
    elif problem == "header":  # a missing optional column or an extra one is tolerated (test_ingest_hostile)
        lm.write_text(LM_HEADER.replace("updated_at", "changed_at") + ",extra\n")
        expected = r"lacks required column\(s\) 'updated_at'"
    else:
        lm.write_bytes(LM_HEADER.encode() + b"\nL1,J\xe9r\xf4me" + b"," * 14 + b"\n")
        expected = "not valid UTF-8"
    with pytest.raises(IngestError, match=expected) as err:
        land_source(settings, "pos", D1)
    message = str(err.value)
    assert "pos/loyalty_members" in message
    assert str(lm) in message
    assert "2024-03-31" in message
    assert lake_files(settings) == []  # transactions.csv was fine, but nothing of the source landed


def test_failure_midway_leaves_previous_partition_intact(settings, monkeypatch):
    pos_drop(settings, tx_rows=GOOD_TX)
    land_source(settings, "pos", D1)
    before = {p: p.read_bytes() for p in lake_files(settings)}

    pos_drop(settings, tx_rows=GOOD_TX * 50)
    monkeypatch.setattr(ingest.readers, "CSV_CHUNK_BYTES", 256)  # many batches

    real = ingest.land.pq.ParquetWriter

    class FailingWriter(real):
        calls = 0

        def write_table(self, table, *args, **kwargs):
            super().write_table(table, *args, **kwargs)
            FailingWriter.calls += 1
            if FailingWriter.calls > 1:
                raise OSError("disk full")

    monkeypatch.setattr(ingest.land.pq, "ParquetWriter", FailingWriter)
    with pytest.raises(OSError, match="disk full"):
        land_source(settings, "pos", D1)
    assert {p: p.read_bytes() for p in lake_files(settings)} == before
    assert not (settings.lake / ".tmp").exists()


# ----------------------------------------------------------------------------- idempotence, manifest


def test_rerun_replaces_partition_with_identical_bytes(settings, monkeypatch):
    monkeypatch.setattr(ingest.readers, "CSV_CHUNK_BYTES", 128)
    pos_drop(settings, tx_rows=GOOD_TX * 10 + ["bad"])
    first = land_source(settings, "pos", D1)
    files = {p: p.read_bytes() for p in lake_files(settings)}
    second = land_source(settings, "pos", D1)
    assert {p: p.read_bytes() for p in lake_files(settings)} == files
    assert len(landed(settings, "pos", "transactions")) == 20
    assert first.entities["transactions"] == second.entities["transactions"]


def test_manifest_reconciles_and_resent_file_lands_again(settings):
    folder = pos_drop(settings, tx_rows=[*GOOD_TX, "junk", ",1,S01,2024-01-15 14:30:00,,S,,1,1,,EUR,"])
    land_source(settings, "pos", D1)
    (settings.raw / "pos" / D2.isoformat()).mkdir(parents=True)
    for f in folder.iterdir():  # the till resends yesterday's file: dedup is dbt's job, not ingest's
        (settings.raw / "pos" / D2.isoformat() / f.name).write_bytes(f.read_bytes())
    report = land_source(settings, "pos", D2)
    assert len(landed(settings, "pos", "transactions", D2)) == 2
    for day in (D1, D2):
        doc = json.loads(ingest.manifest_path(settings, "pos", day).read_text())
        assert doc["load_date"] == day.isoformat()
        tx = doc["entities"]["transactions"]
        assert (tx["rows_read"], tx["rows_landed"], tx["rows_quarantined"]) == (4, 2, 2)
        assert tx["rows_read"] == tx["rows_landed"] + tx["rows_quarantined"]
        assert tx["reasons"] == {"missing required field 'receipt_id'": 1, "unparseable line": 1}
        assert tx["schema_version"] == 1
        assert tx["file"] == "transactions.csv"
        assert tx["bytes"] == (folder / "transactions.csv").stat().st_size
        assert len(tx["sha256"]) == 64
        assert tx["landed"] == f"landing/pos/transactions/load_date={day.isoformat()}/part-0.parquet"
        lm = doc["entities"]["loyalty_members"]
        assert (lm["rows_read"], lm["rows_landed"]) == (0, 0)
    assert report.manifest_path == ingest.manifest_path(settings, "pos", D2)
    summary = json.loads(json.dumps(report.to_dict()))
    assert summary["rows_read"] == 4
    assert summary["entities"]["transactions"]["rows_landed"] == 2
    # zero-row entities still get a partition with the contract's schema
    schema = pq.read_schema(
        ingest.partition(settings, "landing", "pos", "loyalty_members", D2) / "part-0.parquet"
    )
    assert schema.names[:2] == ["loyalty_card_no", "first_name"]
    assert schema.names[-1] == "_flags"


def test_messages_carry_no_row_values(settings, caplog):
    pos_drop(
        settings, lm_rows=["L1,Geheim,Persoon,,1980-13-01,,secret@example.com,,,,,,2024-03-30 10:00:00,,"]
    )
    with caplog.at_level("INFO", logger="ingest"):
        report = land_source(settings, "pos", D1)
    text = caplog.text + json.dumps([r.__dict__ for r in report.entities.values()], default=str)
    text += report.manifest_path.read_text()
    assert "secret@example.com" not in text
    assert "Geheim" not in text
