"""Whole nights on drops the generator never makes: no data shape crashes a night.

Each night runs the real pipeline (ingest, both gates, dbt, export, publish, report) on one home,
one date after another, with drops written from rows (tests/drops.py): zero rows, members only (the
member base loaded before the tills go live), anonymous receipts and returns only, one customer with
CJK in every text field, no contact details, identical timestamps and the contract's extreme values;
then nights drawn by hypothesis from the same strategies. After every night: nothing crashed, every
file's physical lines and records reconcile with the manifest, and the contact files hold only
addresses someone gave with consent and did not unsubscribe.

Each night is a dbt build (about 30 s here): CI runs the named shapes and ``CDP_PROPERTY_NIGHTS``
(default 2) drawn ones; set it higher to search longer.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from drops import Drop, physical_lines
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from cdp import pipeline
from cdp.config import Settings
from cdp.identifiers import normalize_email, normalize_phone
from ingest import load_contract

FIRST_NIGHT = date(2026, 3, 1)
QUANTITY = load_contract("pos").entities[0].field("quantity")
PRICE = load_contract("pos").entities[0].field("unit_price")
CJK = (
    "张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
    "彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金"
    "石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严覃武戴莫孔向汤"
)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A retailer without a social channel (its settings file lists three sources): nobody writes
    social files for it, and the night still builds every model."""
    root = tmp_path_factory.mktemp("shapes")
    (root / "home" / "config").mkdir(parents=True)
    (root / "home" / "config" / "cdp.yml").write_text(
        "sources:\n  pos: {}\n  ecommerce: {}\n  messaging: {}\n", encoding="utf-8"
    )
    return Settings.load(home=root / "home", raw=root / "raw").ensure()


class Nights:
    """Consecutive dates on one home (each night builds on the last, as in production)."""

    day = FIRST_NIGHT

    @classmethod
    def next(cls) -> date:
        cls.day += timedelta(days=1)
        return cls.day


def _run_night(settings: Settings, drop: Drop) -> date:
    day = Nights.next()
    files = drop.write(settings.raw, day, sources=settings.sources)
    pipeline.run(settings, day)
    _assert_reconciles(settings, day, files)
    _assert_only_consented_contacts(settings, day)
    return day


def _assert_reconciles(settings: Settings, day: date, files: dict[str, Path]) -> None:
    """Records and physical lines of every file, counted here without the reader, = the manifest's."""
    for source in settings.sources:
        manifest = json.loads((settings.lake / "manifests" / source / f"load_date={day}.json").read_text())
        for name, stats in manifest["entities"].items():
            if stats.get("derived_from"):
                continue
            if stats.get("delivered") is False:  # an optional file the drop did not carry: lands empty
                assert stats["rows_read"] == stats["rows_landed"] == 0, (source, name)
                continue
            accounted = stats["rows_landed"] + stats["rows_quarantined"] + stats.get("rows_erased", 0)
            assert stats["rows_read"] == accounted, (source, name)
            path = files[stats["file"]]
            header = 1 if path.suffix == ".csv" else 0
            assert stats["lines_read"] == physical_lines(path) - header, (source, name)


def _assert_only_consented_contacts(settings: Settings, day: date) -> None:
    """Every email and phone in a contact file was given with consent in some raw record and never
    unsubscribed (checked against the raw drops, not the marts)."""
    emails, phones, unsubscribed = set(), set(), set()
    for night in sorted({FIRST_NIGHT + timedelta(days=i) for i in range((day - FIRST_NIGHT).days + 1)}):
        folder = night.isoformat()
        for row in _read_csv(settings.raw / "pos" / folder / "loyalty_members.csv"):
            if row["email_opt_in"] == "true" and row["email"]:
                emails.add(normalize_email(row["email"]))
            if row["sms_opt_in"] == "true" and row["phone"]:
                phones.add(normalize_phone(row["phone"], "NL"))
        for row in _read_jsonl(settings.raw / "ecommerce" / folder / "customers.jsonl"):
            consent = row.get("consent") or {}
            if consent.get("email") and row.get("email"):
                emails.add(normalize_email(row["email"]))
            if consent.get("sms") and row.get("phone"):
                phones.add(normalize_phone(row["phone"], "NL"))
        for row in _read_csv(settings.raw / "messaging" / folder / "unsubscribes.csv"):
            unsubscribed.add(normalize_email(row["address"]) or normalize_phone(row["address"], "NL"))
    for path in sorted((settings.exports / day.isoformat()).rglob("*.csv")):
        for row in _read_csv(path):
            for column in ("Email Address", "Email"):
                if row.get(column):
                    address = normalize_email(row[column].lstrip("'"))
                    assert address in emails, f"{path.name}: an address nobody consented with"
                    assert address not in unsubscribed, f"{path.name}: an unsubscribed address"
            if row.get("phone_number"):
                assert row["phone_number"] in phones, f"{path.name}: a phone nobody consented with"
                assert row["phone_number"] not in unsubscribed


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _member(card: str, **fields: object) -> dict:
    row = {"loyalty_card_no": card, "updated_at": "2026-03-01 09:00:00"}
    row.update(fields)
    return row


def _line(receipt: str, line_no: int, when: str, card: str | None, quantity: int, price: str) -> dict:
    return {
        "receipt_id": receipt, "line_no": line_no, "store_id": "S01", "tx_time": when,
        "loyalty_card_no": card, "sku": f"SKU{line_no}", "quantity": quantity, "unit_price": price,
        "currency": "EUR",
    }


@pytest.mark.slow
def test_named_shapes_run_whole_nights(home: Settings) -> None:
    # 1. Zero rows: every file header-only or empty (nothing happened that day).
    _run_night(home, Drop())

    # 2. Members only: the member base loaded before the tills go live (no receipt, no order).
    members = Drop(
        members=[
            _member("L1", first_name="Anna", last_name="de Vries", email="anna@example.org",
                    phone="0612345678", email_opt_in="true", sms_opt_in="true"),
            _member("L2", first_name="伟", last_name="张", gender="男"),  # no contact details at all
            _member("L3", birth_date="1900-01-01", email="old@example.org", email_opt_in="false"),
        ]
    )
    _run_night(home, members)

    # 3. Anonymous receipts only, one of them only returns, all printed at the same second.
    same_time = "2026-03-03 12:00:00"
    _run_night(
        home,
        Drop(
            transactions=[
                _line("0001", 1, same_time, None, 2, "3.50"),
                _line("0002", 1, same_time, None, -1, "3.50"),
                _line("0002", 2, same_time, None, -2, "1.25"),
            ]
        ),
    )

    # 4. One customer everywhere in CJK, no contact details, extreme but valid values.
    name = CJK[:4]
    _run_night(
        home,
        Drop(
            members=[_member("L9", first_name=name[:2], last_name=name[2:], city="北京", address="长安街1号",
                             gender="女士", updated_at="2026-03-04 08:00:00")],
            transactions=[
                _line("收据1", 1, "2026-03-04 10:00:00", "L9", QUANTITY.max, str(PRICE.max)),
                _line("收据1", 2, "2026-03-04 10:00:00", "L9", QUANTITY.min, "0.00"),
            ],
            web_customers=[{"customer_id": "网1", "first_name": name[:2], "last_name": name[2:],
                            "updated_at": "2026-03-04T10:00:00+08:00", "address": {"city": "上海"}}],
            web_orders=[{"order_id": "订单1", "customer_id": "网1", "placed_at": "2026-03-04T10:00:00+08:00",
                         "status": "completed", "currency": "CNY",
                         "lines": [{"sku": "商品", "qty": 1, "unit_price": 0}]}],
        ),
    )


TEXT = st.one_of(
    st.text(alphabet=CJK, min_size=1, max_size=6),
    st.sampled_from(
        ["Anna", "de Vries", "O'Brien", "Ünal", "=cmd|'/C calc'!A1", "@SUM(1+1)", "a,b", 'say "hi"']
    ),
)
EMAIL = st.one_of(
    st.none(), st.sampled_from(["a@example.org", "A.B+news@Example.org", "张@例子.中国", "junk@"])
)
PHONE = st.one_of(st.none(), st.sampled_from(["0612345678", "+31 6 1234 5679", "06-00000000", "13812345678"]))
FLAG = st.sampled_from(["true", "false", ""])


@st.composite
def drops(draw: st.DrawFn) -> Drop:
    cards = [f"C{i}" for i in range(draw(st.integers(0, 3)))]
    members = [
        _member(card, first_name=draw(TEXT), last_name=draw(TEXT), email=draw(EMAIL), phone=draw(PHONE),
                email_opt_in=draw(FLAG), sms_opt_in=draw(FLAG))
        for card in cards
    ]
    lines = []
    for receipt in range(draw(st.integers(0, 3))):
        card = draw(st.sampled_from([None, *cards]))
        for line_no in range(1, draw(st.integers(1, 2)) + 1):
            quantity = draw(st.sampled_from([1, -1, 3, QUANTITY.max, QUANTITY.min]))
            price = draw(st.sampled_from(["0.00", "9.99", str(Decimal(PRICE.max))]))
            lines.append(_line(f"{receipt:04d}", line_no, "2026-03-05 23:59:59", card, quantity, price))
    unsubscribes = [
        {"channel": "email", "address": address, "event_time": "2026-03-05T12:00:00+01:00"}
        for address in draw(st.lists(st.sampled_from(["a@example.org", "ab@example.org"]), max_size=1))
    ]
    return Drop(members=members, transactions=lines, unsubscribes=unsubscribes)


@pytest.mark.slow
@hsettings(
    max_examples=int(os.environ.get("CDP_PROPERTY_NIGHTS", "2")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drop=drops())
def test_drawn_drops_run_whole_nights(home: Settings, drop: Drop) -> None:
    _run_night(home, drop)
