"""Ingest against hostile input: stray quotes, runaway fields, broken unicode, drifting headers,
encodings, values the warehouse cannot hold, and sources as a retailer configures them.

Every test goes through the real ``ingest.land_source`` on a home under ``tmp_path``, and checks
reconciliation against counts taken from the file itself (``count(b"\\n")``), not against the
reader's own counters, so a reader that merges or drops lines cannot hide it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

import ingest
import ingest.land
import ingest.readers
from cdp.config import DBT_PROJECT_DIR, Settings
from ingest import IngestError, land_source, load_contract

D1 = date(2024, 3, 31)
DAY = D1.isoformat()

TX_FIELDS = [
    "receipt_id", "line_no", "store_id", "tx_time", "loyalty_card_no", "sku", "category", "quantity",
    "unit_price", "discount", "currency", "payment_method",
]
TX_HEADER = ",".join(TX_FIELDS)
LM_FIELDS = [
    "loyalty_card_no", "first_name", "last_name", "gender", "birth_date", "phone", "email", "postcode",
    "city", "address", "home_store_id", "enrolled_at", "updated_at", "email_opt_in", "sms_opt_in",
]
LM_HEADER = ",".join(LM_FIELDS)


def tx(
    receipt: str,
    line_no: int | str = 1,
    sku: str = "SKU1",
    quantity: str = "1",
    tx_time: str = "2024-01-15 14:30:00",
    price: str = "1.00",
    category: str = "food",
) -> str:
    return f"{receipt},{line_no},S01,{tx_time},,{sku},{category},{quantity},{price},,EUR,card"


def lm(card: str, first: str = "Jan", last: str = "Jansen", birth: str = "1980-05-01") -> str:
    return f"{card},{first},{last},M,{birth},,,,,,,,2024-03-30 10:00:00,,"


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home")


def site(settings: Settings, text: str) -> None:
    path = settings.home / "config" / "cdp.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def drop(settings: Settings, source: str, files: dict[str, bytes | str]) -> Path:
    folder = settings.raw / source / DAY
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return folder


def pos(settings: Settings, tx_body: bytes | str = b"", lm_body: bytes | str = b"") -> Path:
    """A POS drop; bodies are the data lines (header added)."""
    def enc(b):
        return b.encode("utf-8") if isinstance(b, str) else b

    return drop(
        settings,
        "pos",
        {
            "transactions.csv": TX_HEADER.encode() + b"\n" + enc(tx_body),
            "loyalty_members.csv": LM_HEADER.encode() + b"\n" + enc(lm_body),
        },
    )


def landed(settings: Settings, source: str, entity: str) -> list[dict]:
    path = ingest.partition(settings, "landing", source, entity, D1) / "part-0.parquet"
    return pq.read_table(path).to_pylist()


def quarantined(settings: Settings, source: str, entity: str) -> list[dict]:
    return pq.read_table(
        ingest.partition(settings, "quarantine", source, entity, D1) / "part-0.parquet"
    ).to_pylist()


def manifest(settings: Settings, source: str) -> dict:
    return json.loads(ingest.manifest_path(settings, source, D1).read_text())


def physical_data_lines(path: Path, header: bool) -> int:
    """Lines in the file counted from its bytes (the reader's counters are not trusted here)."""
    data = path.read_bytes()
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return max(lines - (1 if header else 0), 0)


def assert_reconciles(settings: Settings, source: str, entity: str, path: Path, header: bool) -> dict:
    """Manifest, landed and quarantined files agree with each other and with the file's own line count."""
    stats = manifest(settings, source)["entities"][entity]
    assert stats["lines_read"] == physical_data_lines(path, header)
    assert stats["lines_read"] == (
        stats["lines_landed"] + stats["lines_quarantined"] + stats["lines_erased"] + stats["lines_blank"]
    )
    assert stats["rows_read"] == stats["rows_landed"] + stats["rows_quarantined"] + stats["rows_erased"]
    rows = landed(settings, source, entity)
    q = quarantined(settings, source, entity)
    assert len(rows) == stats["rows_landed"]
    assert len(q) == stats["rows_quarantined"]
    assert sum(r["_source_line_end"] - r["_source_line"] + 1 for r in q) == stats["lines_quarantined"]
    assert sum(stats["reasons"].values()) == stats["rows_quarantined"]
    starts = [r["_source_line"] for r in rows] + [r["_source_line"] for r in q]
    assert len(starts) == len(set(starts)), "two rows claim the same line"
    return stats


# ------------------------------------------------------------------------------ 1. quotes and chunks


def test_unbalanced_quote_does_not_swallow_the_lines_after_it(home):
    """A stray opening quote on line 50 and another 900 lines later used to merge 900 receipt lines into
    one record (exit 0, manifest reconciled on records). Now the line with the runaway quote is
    quarantined with its line numbers and the lines after it land."""
    lines = [tx(f"R{i}") for i in range(1, 1001)]
    lines[49] = tx("R50", category='"food')  # opens a quoted field that never closes properly
    lines[949] = tx("R950", category='"toys')
    folder = pos(home, "\n".join(lines) + "\n")
    report = land_source(home, "pos", D1)
    stats = assert_reconciles(home, "pos", "transactions", folder / "transactions.csv", header=True)
    q = quarantined(home, "pos", "transactions")
    assert [(r["_source_line"], r["_source_line_end"]) for r in q] == [(50, 50), (950, 950)]
    assert {r["_reason"] for r in q} == {"quoted field runs over more than 20 lines (unbalanced quote)"}
    assert report.entities["transactions"].rows_landed == 998
    assert stats["lines_read"] == 1000
    got = {r["_source_line"]: r["receipt_id"] for r in landed(home, "pos", "transactions")}
    assert got[51] == "R51"
    assert got[949] == "R949"
    assert got[1000] == "R1000"


def test_quoted_newlines_within_the_limit_are_one_record_spanning_lines(home):
    folder = pos(home, tx("R1", sku='"two\nlines"') + "\n" + tx("R2") + "\n")
    land_source(home, "pos", D1)
    stats = assert_reconciles(home, "pos", "transactions", folder / "transactions.csv", header=True)
    assert (stats["rows_read"], stats["lines_read"], stats["lines_landed"]) == (2, 3, 3)
    assert [r["_source_line"] for r in landed(home, "pos", "transactions")] == [1, 3]


def test_chunks_never_cut_a_record(home, monkeypatch):
    """The old chunker counted quote characters to find record ends; a literal inch mark (12") in an
    unquoted field flipped its count, so it cut inside the next quoted multi-line field and two valid
    lines were quarantined as fragments."""
    monkeypatch.setattr(ingest.readers, "CSV_CHUNK_BYTES", 300)
    rows = []
    for i in range(1, 41):
        if i % 10 == 3:
            rows.append(tx(f"R{i}", sku='TV 12" stand'))
        elif i % 10 == 5:
            rows.append(tx(f"R{i}", sku='"multi\nline\nsku"'))
        else:
            rows.append(tx(f"R{i}"))
    folder = pos(home, "\n".join(rows) + "\n")
    report = land_source(home, "pos", D1)
    assert_reconciles(home, "pos", "transactions", folder / "transactions.csv", header=True)
    assert report.entities["transactions"].rows_quarantined == 0
    got = landed(home, "pos", "transactions")
    assert len(got) == 40
    assert got[2]["sku"] == 'TV 12" stand'
    assert got[4]["sku"] == "multi\nline\nsku"


def test_csv_pieces_are_read_at_record_boundaries_whatever_the_chunk_size(home, monkeypatch):
    body = "".join(tx(f"R{i}", sku=f'"a,""b""\n{i}"') + "\n" for i in range(1, 60)).encode()
    folder = pos(home, body)
    monkeypatch.setattr(ingest.readers, "CSV_CHUNK_BYTES", 1 << 20)
    land_source(home, "pos", D1)
    whole = landed(home, "pos", "transactions")
    for size in (7, 64, 333):
        monkeypatch.setattr(ingest.readers, "CSV_CHUNK_BYTES", size)
        land_source(home, "pos", D1)
        assert landed(home, "pos", "transactions") == whole
        assert_reconciles(home, "pos", "transactions", folder / "transactions.csv", header=True)
    assert len(whole) == 59
    assert whole[0]["sku"] == 'a,"b"\n1'


# -------------------------------------------------------------------------- 2. one line stops the night


def test_nine_megabyte_field_is_quarantined_not_the_source(home):
    big = "x" * (9 << 20)
    folder = pos(home, "\n".join([tx("R1"), tx("R2", sku=big), tx("R3")]) + "\n")
    land_source(home, "pos", D1)
    assert_reconciles(home, "pos", "transactions", folder / "transactions.csv", header=True)
    q = quarantined(home, "pos", "transactions")
    assert [(r["_source_line"], r["_reason"]) for r in q] == [(2, "field longer than 1048576 bytes")]
    assert q[0]["_raw"] == tx("R2", sku=big)[: 1 << 20]
    assert [r["receipt_id"] for r in landed(home, "pos", "transactions")] == ["R1", "R3"]


def test_long_field_in_a_malformed_row_is_quarantined(home):
    """200,000 characters in a row with the wrong column count hit the csv module's field limit
    (``field larger than field limit``) in the old exact-line-number path."""
    folder = pos(home, "\n".join([tx("R1"), tx("R2", sku="y" * 200_000) + ",EXTRA", tx("R3")]) + "\n")
    land_source(home, "pos", D1)
    assert_reconciles(home, "pos", "transactions", folder / "transactions.csv", header=True)
    q = quarantined(home, "pos", "transactions")
    assert [(r["_source_line"], r["_reason"]) for r in q] == [(2, "unparseable line")]
    assert [r["receipt_id"] for r in landed(home, "pos", "transactions")] == ["R1", "R3"]


ORDER = {
    "order_id": "O1",
    "placed_at": "2024-03-30T10:00:00Z",
    "status": "completed",
    "currency": "EUR",
    "lines": [{"sku": "A", "qty": 1, "unit_price": 5}],
}


def ecommerce(settings: Settings, orders: list[str]) -> Path:
    return drop(settings, "ecommerce", {"customers.jsonl": "\n", "orders.jsonl": "\n".join(orders) + "\n"})


@pytest.mark.parametrize(
    ("hostile", "reason"),
    [
        (
            '{"order_id": "O2", "billing_first_name": "Ann\\ud83d", "lines": []}',
            "invalid unicode (lone surrogate)",
        ),
        ("[" * 100_000 + "]" * 100_000, "unparseable line (nested too deep)"),
        ('{"order_id": ' + "[" * 100_000 + "]" * 100_000 + "}", "unparseable line (nested too deep)"),
    ],
    ids=["lone-surrogate", "deep-array", "deep-in-object"],
)
def test_one_jsonl_line_does_not_stop_the_night(home, hostile, reason):
    folder = ecommerce(home, [json.dumps(ORDER), hostile, json.dumps(ORDER | {"order_id": "O3"})])
    report = land_source(home, "ecommerce", D1)
    assert_reconciles(home, "ecommerce", "orders", folder / "orders.jsonl", header=False)
    q = quarantined(home, "ecommerce", "orders")
    assert [(r["_source_line"], r["_reason"]) for r in q] == [(2, reason)]
    assert report.entities["orders"].rows_landed == 2
    assert [r["order_id"] for r in landed(home, "ecommerce", "order_lines")] == ["O1", "O3"]


# -------------------------------------------------------------- 3. values the warehouse cannot hold


def test_values_outside_warehouse_types_are_quarantined(home):
    folder = pos(
        home,
        "\n".join(
            [
                tx("R1"),
                tx("R2", quantity="8712345678906"),  # a barcode scanned into the quantity field
                tx("R3", tx_time="0001-01-01 00:00:00"),
                tx("R4", price="9999999999999999.995"),  # rounds to 17 integer digits: no decimal(18,2)
                tx("R5", line_no="3000000000"),
                tx("R6", tx_time="2999-01-01 00:00:00"),
            ]
        )
        + "\n",
        lm_body=lm("L1", birth="0001-01-01") + "\n",
    )
    report = land_source(home, "pos", D1)
    assert_reconciles(home, "pos", "transactions", folder / "transactions.csv", header=True)
    q = {r["_source_line"]: r["_reason"] for r in quarantined(home, "pos", "transactions")}
    assert q == {
        2: "quantity: above max 100000",
        3: "tx_time: below min 1900-01-01",
        4: "bad decimal in 'unit_price'",
        5: "line_no: above max 100000",
        6: "tx_time: above max 2100-12-31",
    }
    assert report.entities["transactions"].rows_landed == 1
    member = landed(home, "pos", "loyalty_members")[0]
    assert member["birth_date"] is None
    assert member["_flags"] == "birth_date"


#: What each dbt type the staging models cast to can hold (DuckDB; dbt.type_int() is INT32 there).
#: Dates and timestamps must also survive pandas (datetime64[ns]), which the Great Expectations gates use.
WAREHOUSE_RANGES = {
    "{{ dbt.type_int() }}": (Decimal(-(2**31)), Decimal(2**31 - 1)),
    "{{ dbt.type_bigint() }}": (Decimal(-(2**63)), Decimal(2**63 - 1)),
    "{{ dbt.type_timestamp() }}": (datetime(1677, 9, 22), datetime(2262, 4, 11)),
    "date": (date(1677, 9, 22), date(2262, 4, 11)),
}
_CAST = re.compile(
    r"cast\((?:coalesce\()?(\w+)[^\n]*? as (\{\{ dbt\.type_\w+\(\) \}\}|decimal\(\d+, *\d+\)|date|boolean)\)"
)


def _type_range(sql_type: str):
    if m := re.fullmatch(r"decimal\((\d+), *(\d+)\)", sql_type):
        p, s = int(m[1]), int(m[2])
        top = Decimal(10) ** (p - s) - Decimal(1).scaleb(-s)
        return -top, top
    return WAREHOUSE_RANGES[sql_type]


def _staging_model(source: str, table: str) -> Path:
    """The staging model that reads ``source(source, table)`` (its name may be plural or say what the
    rows are, e.g. ``stg_messaging__email_events`` for ``email_activity``)."""
    folder = DBT_PROJECT_DIR / "models" / "staging" / source
    reads = re.compile(rf"source\(\s*'{source}'\s*,\s*'{table}'\s*\)")
    found = [path for path in sorted(folder.glob("stg_*.sql")) if reads.search(path.read_text())]
    assert len(found) == 1, f"{source}.{table}: staging models reading it: {[p.name for p in found]}"
    return found[0]


def test_every_contract_bound_fits_the_type_staging_casts_to():
    checked = 0
    for source in ingest.list_sources():
        contract = load_contract(source)
        for entity in contract.entities:
            groups = [(entity.name, entity.scalar_fields)] + [(c.name, c.fields) for c in entity.children]
            for name, fields in groups:
                sql_path = _staging_model(source, name)
                casts = dict(_CAST.findall(sql_path.read_text()))
                for f in fields:
                    if f.type not in ("integer", "decimal", "date", "timestamp"):
                        continue
                    assert f.name in casts, f"{sql_path.name} does not cast {f.name}; add it to this test"
                    low, high = _type_range(casts[f.name])
                    lo, hi = (f.min, f.max) if f.type in ("integer", "decimal") else (f.earliest, f.latest)
                    where = f"{source}.{name}.{f.name} ({casts[f.name]})"
                    assert lo is not None, f"{where}: no lower bound in the contract"
                    assert hi is not None, f"{where}: no upper bound in the contract"
                    assert low <= lo <= hi <= high, f"{where}: [{lo}, {hi}] does not fit [{low}, {high}]"
                    checked += 1
    assert checked >= 15


# ------------------------------------------------------------------------ 4. drift and encodings


def test_missing_optional_and_extra_columns_land_and_are_reported(home, caplog):
    header = [f for f in LM_FIELDS if f not in ("gender", "sms_opt_in")] + ["shoe_size"]
    row = {"loyalty_card_no": "L1", "first_name": "Jan", "updated_at": "2024-03-30 10:00:00"}
    row["shoe_size"] = "44"
    text = ",".join(header) + "\n" + ",".join(row.get(h, "") for h in header) + "\n"
    folder = drop(home, "pos", {"transactions.csv": TX_HEADER + "\n", "loyalty_members.csv": text})
    with caplog.at_level(logging.WARNING, logger="ingest"):
        land_source(home, "pos", D1)
    stats = assert_reconciles(home, "pos", "loyalty_members", folder / "loyalty_members.csv", header=True)
    assert stats["missing_optional_columns"] == ["gender", "sms_opt_in"]
    assert stats["extra_columns"] == ["shoe_size"]
    member = landed(home, "pos", "loyalty_members")[0]
    assert (member["first_name"], member["gender"], member["sms_opt_in"]) == ("Jan", None, None)
    assert "shoe_size" not in member
    warning = next(r for r in caplog.records if "shoe_size" in r.getMessage())
    assert warning.levelno == logging.WARNING
    assert "loyalty_members.csv" in warning.getMessage()
    assert "44" not in caplog.text


def test_missing_required_column_refuses_the_file_in_one_line(home):
    header = [f for f in LM_FIELDS if f != "updated_at"]
    files = {"transactions.csv": TX_HEADER + "\n", "loyalty_members.csv": ",".join(header) + "\n"}
    folder = drop(home, "pos", files)
    with pytest.raises(IngestError) as err:
        land_source(home, "pos", D1)
    message = str(err.value)
    assert "\n" not in message
    assert str(folder / "loyalty_members.csv") in message
    assert "'updated_at'" in message
    assert "required" in message


@pytest.mark.parametrize("encoding", ["gb18030", "gbk"])
def test_chinese_csv_in_the_declared_encoding(home, encoding):
    site(home, f"sources:\n  pos:\n    encoding: {encoding}\n")
    rows = [
        lm("L1", first="张", last="伟"),
        lm("L2", first="王芳", last="李"),
        lm("L3", first="欧阳", last="娜娜"),
    ]
    folder = drop(
        home,
        "pos",
        {
            "transactions.csv": (TX_HEADER + "\n").encode(encoding),
            "loyalty_members.csv": (LM_HEADER + "\n" + "\n".join(rows) + "\n").encode(encoding),
        },
    )
    land_source(home, "pos", D1)
    assert_reconciles(home, "pos", "loyalty_members", folder / "loyalty_members.csv", header=True)
    got = [(r["first_name"], r["last_name"]) for r in landed(home, "pos", "loyalty_members")]
    assert got == [("张", "伟"), ("王芳", "李"), ("欧阳", "娜娜")]
    assert manifest(home, "pos")["entities"]["loyalty_members"]["encoding"] == encoding


def test_latin1_csv_and_jsonl(home):
    site(home, "sources:\n  pos: {encoding: latin-1}\n  ecommerce: {encoding: latin-1}\n")
    pos(home, lm_body=(lm("L1", first="Jérôme", last="Müller") + "\n").encode("latin-1"))
    ecommerce(home, [json.dumps(ORDER | {"billing_first_name": "Zoë"}, ensure_ascii=False)])
    (home.raw / "ecommerce" / DAY / "orders.jsonl").write_bytes(
        (json.dumps(ORDER | {"billing_first_name": "Zoë"}, ensure_ascii=False) + "\n").encode("latin-1")
    )
    land_source(home, "pos", D1)
    land_source(home, "ecommerce", D1)
    assert landed(home, "pos", "loyalty_members")[0]["first_name"] == "Jérôme"
    assert landed(home, "ecommerce", "orders")[0]["billing_first_name"] == "Zoë"


def test_file_not_in_its_declared_encoding_is_refused_naming_file_and_line(home):
    lines = [lm(f"L{i}") for i in range(1, 6)]
    body = ("\n".join(lines[:3]) + "\n").encode() + lm("L4", first="\udc00").encode("utf-8", "surrogatepass")
    folder = pos(home, lm_body=body + b"\n")
    with pytest.raises(IngestError) as err:
        land_source(home, "pos", D1)
    message = str(err.value)
    assert str(folder / "loyalty_members.csv") in message
    assert "not valid utf-8" in message.lower()
    assert "line 5" in message
    assert not (home.lake / "landing").exists()


# ------------------------------------------------------------------------------ 5. configured sources


def test_only_configured_entities_are_expected(home):
    site(home, "sources:\n  pos:\n    entities: [transactions]\n")
    folder = drop(home, "pos", {"transactions.csv": TX_HEADER + "\n" + tx("R1") + "\n"})
    report = land_source(home, "pos", D1)
    assert report.entities["transactions"].rows_landed == 1
    stats = manifest(home, "pos")["entities"]
    assert stats["loyalty_members"]["configured"] is False
    assert stats["loyalty_members"]["rows_read"] == 0
    assert stats["transactions"]["configured"] is True
    # downstream globs still match: an empty partition with the contract's schema
    assert landed(home, "pos", "loyalty_members") == []
    (folder / "transactions.csv").unlink()
    with pytest.raises(IngestError, match=f"pos/{DAY}/transactions.csv is missing"):
        land_source(home, "pos", D1)


def test_unconfigured_source_and_unknown_entity_are_refused(home):
    site(home, "sources:\n  pos:\n    entities: [transactions, members]\n")
    pos(home)
    with pytest.raises(IngestError, match="members"):
        land_source(home, "pos", D1)
    site(home, "sources:\n  pos: {}\n")
    ecommerce(home, [json.dumps(ORDER)])
    with pytest.raises(IngestError, match=r"ecommerce.*not configured"):
        land_source(home, "ecommerce", D1)


# ------------------------------------------------------------------------------------ 6. the matrix

CSV_CASES = {
    "unbalanced-quote": tx("R2", category='"food'),
    "quote-closed-late": tx("R2", category='"food') + "\n" + "\n".join(tx(f"X{i}") for i in range(3)) + '"',
    "embedded-newline": tx("R2", sku='"a\nb\r\nc"'),
    "crlf": tx("R2") + "\r",
    "stray-inch-mark": tx("R2", sku='12" pizza'),
    "junk-after-quote": tx("R2", sku='"ab"cd'),
    "very-long-field": tx("R2", sku="z" * 1_200_000),
    "nul-byte": tx("R2", sku="a\x00b"),
    "lone-cr": tx("R2", sku="a\rb"),
    "extreme-numbers": tx("R2", quantity="1" * 40, price="-0.00000001"),
    "blank-lines": "\n\n\r",
    "whitespace-line": "   ",
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_csv_matrix(home, case):
    body = "\n".join([tx("R1"), CSV_CASES[case], tx("R3")]) + "\n"
    folder = pos(home, body)
    report = land_source(home, "pos", D1)
    path = folder / "transactions.csv"
    stats = assert_reconciles(home, "pos", "transactions", path, header=True)
    got = {r["receipt_id"]: r["_source_line"] for r in landed(home, "pos", "transactions")}
    assert got["R1"] == 1
    assert got["R3"] == physical_data_lines(path, header=True)
    assert report.entities["transactions"].reconciles
    assert stats["lines_blank"] == (3 if case == "blank-lines" else 0)


@pytest.mark.parametrize(
    "content",
    [b"", TX_HEADER.encode(), TX_HEADER.encode() + b"\r\n", b"\xef\xbb\xbf" + TX_HEADER.encode() + b"\n"],
    ids=["empty", "header-no-newline", "header-crlf", "bom"],
)
def test_empty_and_header_only_files(home, content):
    folder = drop(home, "pos", {"transactions.csv": content, "loyalty_members.csv": LM_HEADER + "\n"})
    if not content:
        with pytest.raises(IngestError, match=r"transactions\.csv.*empty"):
            land_source(home, "pos", D1)
        return
    land_source(home, "pos", D1)
    stats = assert_reconciles(home, "pos", "transactions", folder / "transactions.csv", header=True)
    assert stats["rows_read"] == stats["lines_read"] == 0


JSONL_CASES = {
    "good": (json.dumps(ORDER | {"order_id": "G"}), None),
    "lone-surrogate": ('{"order_id": "S", "guest_email": "\\udc00x"}', "invalid unicode (lone surrogate)"),
    "deep": ("[" * 5000 + "]" * 5000, "unparseable line (nested too deep)"),
    "nul": ('{"order_id": "N\x00"}', "unparseable line"),
    "not-object": ("[1, 2]", "unparseable line"),
    "huge-int": (
        json.dumps(ORDER | {"order_id": "H", "lines": [{"sku": "A", "qty": 10**30, "unit_price": 1}]}),
        "bad integer in 'lines[1].qty'",
    ),
    "huge-float": (
        json.dumps(ORDER | {"order_id": "F", "lines": [{"sku": "A", "qty": 1, "unit_price": 1e308}]}),
        "bad decimal in 'lines[1].unit_price'",
    ),
    "long-field": (json.dumps(ORDER | {"order_id": "L", "billing_city": "c" * 1_100_000}),
                   "field longer than 1048576 bytes"),
    "old-date": (json.dumps(ORDER | {"order_id": "D", "placed_at": "0001-01-01T00:00:00Z"}),
                 "placed_at: below min 1900-01-01"),
    "blank": ("", None),
}


@hsettings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(kinds=st.lists(st.sampled_from(sorted(JSONL_CASES)), min_size=0, max_size=12), crlf=st.booleans())
def test_jsonl_matrix(tmp_path_factory, kinds, crlf):
    settings = Settings.load(home=tmp_path_factory.mktemp("home"))
    end = "\r\n" if crlf else "\n"
    text = "".join(JSONL_CASES[k][0] + end for k in kinds)
    folder = drop(settings, "ecommerce", {"customers.jsonl": "\n", "orders.jsonl": text or "\n"})
    land_source(settings, "ecommerce", D1)
    assert_reconciles(settings, "ecommerce", "orders", folder / "orders.jsonl", header=False)
    expected = {i: JSONL_CASES[k][1] for i, k in enumerate(kinds, start=1) if k not in ("good", "blank")}
    got = {r["_source_line"]: r["_reason"] for r in quarantined(settings, "ecommerce", "orders")}
    assert got == expected
    good = [i for i, k in enumerate(kinds, start=1) if k == "good"]
    assert [r["_source_line"] for r in landed(settings, "ecommerce", "orders")] == good


CSV_ROW_KINDS = (
    *("good", "good", "good"),
    *("quoted-comma", "multiline", "inch", "open-quote", "crlf", "blank", "extra"),
)


def _csv_row(kind: str, i: int) -> str:
    return {
        "good": tx(f"R{i}"),
        "quoted-comma": tx(f"R{i}", category='"home, kitchen"'),
        "multiline": tx(f"R{i}", sku='"a\nb"'),
        "inch": tx(f"R{i}", sku='12" tv'),
        "open-quote": tx(f"R{i}", category='"food'),
        "crlf": tx(f"R{i}") + "\r",
        "blank": "",
        "extra": tx(f"R{i}") + ",x",
    }[kind]


@hsettings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    kinds=st.lists(st.sampled_from(CSV_ROW_KINDS), min_size=0, max_size=60),
    chunk=st.sampled_from([64, 256, 4096, 32 << 20]),
    final_newline=st.booleans(),
)
def test_csv_matrix_property(tmp_path_factory, kinds, chunk, final_newline):
    """Random mixtures of good and hostile rows, read in pieces of any size: reconciliation holds against
    the file's own newline count, and every good row that no open quote could reach lands at its line."""
    settings = Settings.load(home=tmp_path_factory.mktemp("home"))
    ingest.readers.CSV_CHUNK_BYTES, saved = chunk, ingest.readers.CSV_CHUNK_BYTES
    try:
        rows, line, where = [], 1, {}
        for i, kind in enumerate(kinds, start=1):
            rows.append(_csv_row(kind, i))
            where[i] = (line, kind)
            line += rows[-1].count("\n") + 1
        body = "\n".join(rows) + ("\n" if final_newline and rows else "")
        folder = pos(settings, body)
        land_source(settings, "pos", D1)
        assert_reconciles(settings, "pos", "transactions", folder / "transactions.csv", header=True)
        got = {r["_source_line"]: r["receipt_id"] for r in landed(settings, "pos", "transactions")}
        open_lines = [ln for ln, k in where.values() if k == "open-quote"]
        for i, (ln, kind) in where.items():
            reachable = any(o < ln <= o + 21 for o in open_lines)
            if kind in ("good", "quoted-comma", "multiline", "inch", "crlf") and not reachable:
                assert got.get(ln) == f"R{i}", (kind, ln)
    finally:
        ingest.readers.CSV_CHUNK_BYTES = saved


def test_contract_limits_are_configurable(home, monkeypatch):
    contract = load_contract("pos")
    tight = dataclasses.replace(
        contract, limits=dataclasses.replace(contract.limits, max_record_lines=2, max_field_bytes=25)
    )
    monkeypatch.setattr(ingest.land, "load_contract", lambda source: tight)
    folder = pos(home, "\n".join([tx("R1", sku='"a\nb\nc\nd"'), tx("R2", sku="s" * 26), tx("R3")]) + "\n")
    land_source(home, "pos", D1)
    assert_reconciles(home, "pos", "transactions", folder / "transactions.csv", header=True)
    q = [(r["_source_line"], r["_reason"]) for r in quarantined(home, "pos", "transactions")]
    assert (1, "quoted field runs over more than 2 lines (unbalanced quote)") in q
    assert (5, "field longer than 25 bytes") in q


def _three_column_entity():
    from ingest.contract import Entity, Field

    return Entity(
        name="t", file="t.csv", key=(), event_time=None,
        fields=(Field("a", "string"), Field("b", "string"), Field("c", "string")),
    )


@hsettings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.text(alphabet='a",\n', max_size=80),
    chunk=st.sampled_from([1, 3, 16, 1 << 20]),
)
def test_record_splitting_agrees_with_the_csv_module(tmp_path_factory, body, chunk):
    """The scanner's records (fast parity path and the quote walk alike, any piece size) are the ones
    Python's csv module reads, when no limit is hit: same fields, same start lines."""
    import csv
    import io

    from ingest.contract import Limits

    try:
        expected = []
        reader = csv.reader(io.StringIO(body, newline=""))
        prev = 0
        for record in reader:
            if record:
                expected.append((prev + 1, record))
            prev = reader.line_num
    except csv.Error:
        return  # end of file inside quotes: the csv module gives up, ingest quarantines (tested above)
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_bytes(b"a,b,c\n" + body.encode())
    limits = Limits(max_record_lines=10**6, max_field_bytes=10**6)
    saved, ingest.readers.CSV_CHUNK_BYTES = ingest.readers.CSV_CHUNK_BYTES, chunk
    try:
        got = []
        for batch in ingest.readers.read_csv(path, _three_column_entity(), ("a", "b", "c"), limits):
            for i, line in enumerate(batch.lines.tolist()):
                got.append((line, [batch.columns[n][i].as_py() or "" for n in "abc"]))
            for u in batch.unparseable:
                got.append((u.line, u.reason))
    finally:
        ingest.readers.CSV_CHUNK_BYTES = saved
    got.sort(key=lambda item: item[0])
    runaway = [line for line, why in got if why == ingest.readers.runaway_reason(limits)]
    if runaway:  # a quote still open at the end of the file: the csv module takes the rest as one field
        assert runaway == [expected[-1][0]]
        got = [item for item in got if item[0] < runaway[0]]
        expected = expected[:-1]
    got = [(line, None if isinstance(fields, str) else fields) for line, fields in got]
    want = [(line, fields if len(fields) == 3 else None) for line, fields in expected]
    assert got == want


def test_lines_too_long_to_be_records_are_given_up_as_they_stream(home, monkeypatch):
    """Memory stays bounded: a line longer than any record can be (columns x max field bytes) is
    quarantined from its first bytes and skipped to its end, and so is the first line of an unfinished
    quoted record that grows that long; reading goes on after them."""
    contract = load_contract("pos")
    tight = dataclasses.replace(contract, limits=dataclasses.replace(contract.limits, max_field_bytes=100))
    monkeypatch.setattr(ingest.land, "load_contract", lambda source: tight)
    monkeypatch.setattr(ingest.readers, "CSV_CHUNK_BYTES", 4096)
    giant = "g" * 300_000  # no newline for 300 kB, far over 12 columns x 100 bytes (cap 64 kB)
    growing = tx("R3", sku='"open') + "\n" + ("w" * 50_000 + "\n") * 3  # quote open, 150 kB follow
    body = "\n".join([tx("R1"), giant, tx("R2")]) + "\n" + growing + "\n".join([tx("R4"), tx("R5")]) + "\n"
    folder = pos(home, body)
    land_source(home, "pos", D1)
    assert_reconciles(home, "pos", "transactions", folder / "transactions.csv", header=True)
    q = [(r["_source_line"], r["_reason"]) for r in quarantined(home, "pos", "transactions")]
    assert q[:2] == [(2, "field longer than 100 bytes"), (4, "field longer than 100 bytes")]
    assert max(len(r["_raw"]) for r in quarantined(home, "pos", "transactions")) <= 100  # kept: the start
    got = [r["receipt_id"] for r in landed(home, "pos", "transactions")]
    assert got == ["R1", "R2", "R4", "R5"]


def test_erased_rows_move_their_lines_too(home):
    """A forgotten person's rows are erased, not quarantined; their physical lines (a quoted newline
    makes one record two lines) are counted as erased, so the line reconciliation still holds."""
    from cdp import privacy
    from ingest import erasure

    settings = home.ensure()
    salt = erasure.load_salt(settings, create=True)
    person = privacy._Person(record_keys={"pos:loyalty_members:L1"})
    privacy._write_tombstones(settings, salt, person, "r1", "test")
    rows = [tx("R1"), tx("R2", sku='"two\nlines"').replace(",,", ",L1,", 1), tx("R3")]
    folder = pos(settings, "\n".join(rows) + "\n")
    report = land_source(settings, "pos", D1)
    stats = assert_reconciles(settings, "pos", "transactions", folder / "transactions.csv", header=True)
    assert report.entities["transactions"].rows_erased == 1
    assert (stats["lines_erased"], stats["lines_landed"], stats["lines_read"]) == (2, 2, 4)
