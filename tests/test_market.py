"""Market profiles: a mainland-China retailer's data read as China's (phones, gender words, local time),
the Dutch market unchanged, and ``cdp generate --market cn`` landing cleanly.

One generated cn world (a few hundred people) with a handful of hand-made records appended, landed
through ingest and built once for the module (one dbt build).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

import ingest
from cdp import identifiers
from cdp.config import SOURCES, Settings
from cdp.generator import generate
from cdp.generator.noise import PHONE_FORMATS, e164, phones
from cdp.market import configure_home, load_market
from cdp.site import load_site
from cdp.warehouse import build

END = date(2026, 11, 15)
DAYS = 3
# One person typed into three systems, sharing nothing but the mobile, each spelled differently.
PERSON_PHONES = {"ecommerce": "13812345678", "social": "+86 138-1234-5678", "pos": "0086 138 1234 5678"}
PERSON_E164 = "+8613812345678"
CARD = "26999000000001"


def _append_person(raw: Path, first_drop: str) -> None:
    """The hand-made person: a web account, a WeChat lead and a loyalty card with a 10:00 store visit."""
    folder = {source: raw / source / first_drop for source in SOURCES}
    with (folder["ecommerce"] / "customers.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({
            "customer_id": "CTEST00001", "email": None, "first_name": "伟", "last_name": "王",
            "phone": PERSON_PHONES["ecommerce"], "birthday": None, "gender": "男", "address": None,
            "created_at": f"{first_drop}T01:00:00Z", "updated_at": f"{first_drop}T01:00:00Z",
            "consent": {"email": False, "sms": True},
        }, ensure_ascii=False) + "\n")
    with (folder["social"] / "profiles.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({
            "platform": "wechat", "user_handle": "wangwei_test_0001", "display_name": "王伟", "email": None,
            "phone": PERSON_PHONES["social"], "city": "上海", "followed_at": f"{first_drop}T01:30:00Z",
        }, ensure_ascii=False) + "\n")
    encoding = "gb18030"
    members = folder["pos"] / "loyalty_members.csv"
    members.write_bytes(members.read_bytes() + (
        f"{CARD},伟,王,先生,,{PERSON_PHONES['pos']},,200001,上海,人民路1号,S001,"
        f"{first_drop} 09:00:00,{first_drop} 09:00:00,false,true\n"
    ).encode(encoding))
    transactions = folder["pos"] / "transactions.csv"
    transactions.write_bytes(transactions.read_bytes() + (
        f"T-SHANGHAI-1,1,S001,{first_drop} 10:00:00,{CARD},APP00001,apparel,1,99.00,,CNY,mobile\n"
    ).encode(encoding))


def _land_all(settings: Settings, days: list[str]) -> dict[str, Any]:
    """Land every source of every drop; POS in the declared GB18030 if ingest honours the setting,
    else (noted in the result) re-encoded to UTF-8 first so the rest of the module can run."""
    pos_encoding_honoured = True
    reports: dict[str, dict[str, Any]] = {}
    for day in days:
        for source in SOURCES:
            try:
                report = ingest.land_source(settings, source, date.fromisoformat(day))
            except ingest.IngestError as exc:
                if source != "pos" or "utf" not in str(exc).lower():
                    raise
                pos_encoding_honoured = False
                for path in (settings.raw / "pos").rglob("*.csv"):
                    path.write_bytes(path.read_bytes().decode("gb18030").encode("utf-8"))
                report = ingest.land_source(settings, source, date.fromisoformat(day))
            reports[f"{source}/{day}"] = report.to_dict()
    return {"reports": reports, "pos_encoding_honoured": pos_encoding_honoured}


@pytest.fixture(scope="module")
def cn_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("market_cn")
    raw = root / "raw"
    result = generate(raw, people=300, days=DAYS, end_date=END, seed=8, market="cn")
    settings = Settings.load(home=root / "home", raw=raw).ensure()
    configure_home(settings.home, "cn", {"pos": "gb18030"})
    # Injected noise as the generator counted it, before the hand-made person is appended.
    injected = {name: dict(stats["broken"]) for name, stats in result.summary["files"].items()}
    resent = {name: stats.get("dup_resent_file") for name, stats in result.summary["files"].items()}
    _append_person(raw, result.drop_dates[0])
    landed = _land_all(settings, result.drop_dates)
    build(settings, END)
    return {
        "settings": settings, "days": result.drop_dates, "injected": injected, "resent": resent, **landed,
    }


def _con(settings: Settings) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(settings.warehouse), read_only=True)


# ------------------------------------------------------------------------------------------------ phones


def test_mainland_mobiles_in_every_spelling_normalise_to_e164() -> None:
    region = load_market("cn").phone_region
    assert identifiers.normalize_phone("13812345678", region) == "+8613812345678"
    assert identifiers.normalize_phone("+86 138-0013-8000", region) == "+8613800138000"
    assert identifiers.normalize_phone("0086 138 0013 8000", region) == "+8613800138000"
    assert identifiers.normalize_phone("１３８１２３４５６７８", region) == "+8613812345678"  # full-width
    assert identifiers.normalize_phone("138", region) is None


def test_dutch_numbers_are_read_as_before_under_nl() -> None:
    """Every spelling the Dutch generator writes, and the hand cases the old SQL rules covered."""
    region = load_market("nl").phone_region
    numbers = np.arange(10_000_000, 99_999_999, 7_777_777, dtype=np.int64)
    rng = np.random.default_rng(1)
    for fmt in range(len(PHONE_FORMATS)):
        typed = phones(rng, numbers, np.full(len(numbers), fmt))
        assert [identifiers.normalize_phone(t, region) for t in typed] == e164(numbers).tolist()
    cases = {
        "+31 (0)6 1234 5678": "+31612345678", "06-12345678": "+31612345678", "0031612345678": "+31612345678",
        "31612345678": "+31612345678", "612345678": "+31612345678", "020-1234567": "+31201234567",
        "+32 470 12 34 56": "+32470123456", "0600000000": "+31600000000", "12345": None, "": None,
    }
    assert {t: identifiers.normalize_phone(t, region) for t in cases} == cases


@pytest.mark.slow
def test_landing_adds_e164_columns_that_link_the_person(cn_world: dict[str, Any]) -> None:
    settings, first = cn_world["settings"], cn_world["days"][0]
    customers = ingest.partition(settings, "landing", "ecommerce", "customers", date.fromisoformat(first))
    landed = pq.read_table(customers / "part-0.parquet", columns=["customer_id", "phone", "phone_e164"])
    row = next(r for r in landed.to_pylist() if r["customer_id"] == "CTEST00001")
    assert row["phone_e164"] == PERSON_E164
    with _con(settings) as con:
        staged = con.execute(
            "select phone, phone_e164 from read_parquet(?) where phone is not null",
            [str(customers / "*.parquet")],
        ).fetchall()
        assert staged
        assert all(e == identifiers.normalize_phone(p, "CN") for p, e in staged)
        ids = con.execute(
            "select distinct map.customer_id from marts.customer_identity_map as map "
            "where (map.source, map.entity, map.source_record_id) in "
            "(('ecommerce', 'customers', 'CTEST00001'), ('social', 'profiles', 'wechat:wangwei_test_0001'), "
            f"('pos', 'loyalty_members', '{CARD}'))"
        ).fetchall()
        records = con.execute(
            "select count(*) from marts.customer_identity_map where customer_id = ?", [ids[0][0]]
        ).fetchone()
    assert len(ids) == 1, "the three spellings of one mobile did not link"
    assert records == (3,)


# ------------------------------------------------------------------------------------------------ gender


@pytest.mark.slow
def test_chinese_gender_words_map_to_the_gender_values(cn_world: dict[str, Any]) -> None:
    settings, market = cn_world["settings"], load_market("cn")
    with _con(settings) as con:
        rows = con.execute(
            "select landed.gender, stg.gender from staging.stg_pos__loyalty_members as stg "
            "inner join read_parquet(?, hive_partitioning = true) as landed "
            "on landed._source_file = stg._source_file and landed._source_line = stg._source_line "
            "and cast(landed.load_date as date) = stg.load_date",
            [str(settings.lake / "landing" / "pos" / "loyalty_members" / "*" / "*.parquet")],
        ).fetchall()
    seen = dict(rows)
    assert {"男", "女", "先生", "女士"} <= set(seen)
    assert {w: seen[w] for w in ("男", "女", "先生", "女士")} == {
        "男": "male", "女": "female", "先生": "male", "女士": "female"
    }
    assert all(value == market.gender_of(raw) for raw, value in rows)


# ------------------------------------------------------------------------------------------------ local time


@pytest.mark.slow
def test_a_10_oclock_store_visit_in_shanghai_is_a_morning_visit(cn_world: dict[str, Any]) -> None:
    settings, first = cn_world["settings"], cn_world["days"][0]
    local = datetime.fromisoformat(f"{first} 10:00:00")
    with _con(settings) as con:
        landed = con.execute(
            "select tx_time from read_parquet(?) where receipt_id = 'T-SHANGHAI-1'",
            [str(ingest.partition(settings, "landing", "pos", "transactions", local.date()) / "*.parquet")],
        ).fetchone()
        behaviour = con.execute(
            "select behaviour.preferred_time_of_day, behaviour.preferred_weekday "
            "from marts.customer_behaviour as behaviour inner join marts.customer_identity_map as map "
            "on map.customer_id = behaviour.customer_id "
            "where map.source = 'pos' and map.source_record_id = ?",
            [CARD],
        ).fetchone()
    assert landed is not None
    assert landed[0].replace(tzinfo=None) == local - timedelta(hours=8)
    assert behaviour == ("morning", local.strftime("%A").lower())


# ------------------------------------------------------------------------------------------------ generator


@pytest.mark.slow
def test_cn_drops_land_with_only_the_injected_noise_quarantined(cn_world: dict[str, Any]) -> None:
    """Every quarantined row is one the generator broke on purpose (or a re-sent copy of one): the
    mobiles, names, 6-digit postcodes, platforms and CNY of a Chinese retailer all pass the contracts."""
    reports, days = cn_world["reports"], cn_world["days"]
    quarantined: dict[str, dict[str, int]] = {}
    for key, report in reports.items():
        source, day = key.split("/")
        for entity, stats in report["entities"].items():
            if stats.get("derived_from") is None:
                quarantined.setdefault(f"{source}/{entity}", {})[day] = stats["rows_quarantined"]
    for name, per_day in quarantined.items():
        injected = sum(n for kind, n in cn_world["injected"][name].items() if not kind.endswith("_flagged"))
        resent = cn_world["resent"][name]
        again = per_day[resent["copied_from"]] if resent else 0  # yesterday's broken rows, sent again
        assert sum(per_day.values()) == injected + again, name
    assert sum(len(p) for p in quarantined.values()) == len(quarantined) * len(days)
    if not cn_world["pos_encoding_honoured"]:
        pytest.xfail("ingest does not read sources.pos.encoding (gb18030) from cdp.yml yet")


def test_demo_home_declares_the_market_and_the_pos_encoding(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "cdp.yml").write_text("quarantine:\n  retention_days: 30\n", encoding="utf-8")
    configure_home(home, "cn", {"pos": "gb18030"})
    site = load_site(home)
    assert site.market == "cn"
    assert site.sources["pos"].encoding == "gb18030"
    assert set(site.source_names) == set(SOURCES)
    assert site.quarantine_retention_days == 30
