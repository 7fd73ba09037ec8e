"""Sample-data generator: deterministic, contract-shaped, and as messy as promised."""

from __future__ import annotations

import csv
import hashlib
import json
import unicodedata
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from cdp.config import CONTRACTS_DIR
from cdp.generator import generate

END = date(2026, 11, 20)
DAYS = 4


def _contracts() -> dict[str, dict]:
    return {
        p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(CONTRACTS_DIR.glob("*.yml"))
    }


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("gen")
    return out, generate(out, people=1500, days=DAYS, end_date=END, seed=11)


def test_same_seed_gives_identical_files(drops, tmp_path):
    out, _ = drops
    generate(tmp_path, people=1500, days=DAYS, end_date=END, seed=11)
    assert _hashes(tmp_path) == _hashes(out)


def test_other_seed_differs(drops, tmp_path):
    out, _ = drops
    generate(tmp_path, people=1500, days=DAYS, end_date=END, seed=12)
    a, b = _hashes(tmp_path), _hashes(out)
    assert a.keys() == b.keys()
    assert a != b


def test_every_entity_file_in_every_drop_with_contract_fields(drops):
    out, result = drops
    assert result.drop_dates[0] == "2026-11-16"
    assert result.drop_dates[-1] == END.isoformat()
    assert len(result.drop_dates) == DAYS + 1
    for source, contract in _contracts().items():
        for _entity, spec in contract["entities"].items():
            names = [f["name"] for f in spec["fields"]]
            for day in result.drop_dates:
                path = out / source / day / spec["file"]
                assert path.is_file(), path
                text = path.read_text(encoding="utf-8")
                if contract["format"] == "csv":
                    assert next(csv.reader([text.splitlines()[0]])) == names, path
                    continue
                first = json.loads(text.splitlines()[0])  # at least one line, the first one is clean
                flat = set()
                for key, value in first.items():
                    flat |= {f"{key}.{k}" for k in value} if isinstance(value, dict) else {key}
                expected = {f.get("path", f["name"]) for f in spec["fields"]}
                nested_parents = {e.split(".")[0] for e in expected if "." in e}
                # A missing nested object is written as null, so only compare the top-level keys then.
                assert {k.split(".")[0] for k in flat} == {e.split(".")[0] for e in expected}, path
                assert flat <= expected | nested_parents, path


def test_truth_covers_identity_records(drops):
    out, result = drops
    rec = pq.read_table(out / "_truth" / "records.parquet").to_pylist()
    people = pq.read_table(out / "_truth" / "people.parquet")
    assert people.num_rows == 1500
    assert {(r["source"], r["entity"]) for r in rec} == {
        ("pos", "loyalty_members"),
        ("ecommerce", "customers"),
        ("ecommerce", "orders"),
        ("social", "profiles"),
    }
    ids = {(r["source"], r["entity"], r["source_record_id"]) for r in rec}
    assert len(ids) == len(rec), "record ids are unique"
    seen: set[tuple[str, str, str]] = set()
    for day in result.drop_dates:
        with (out / "pos" / day / "loyalty_members.csv").open(encoding="utf-8") as fh:
            seen |= {
                ("pos", "loyalty_members", r["loyalty_card_no"])
                for r in csv.DictReader(fh)
                if r.get("loyalty_card_no")
            }
        for line in (out / "ecommerce" / day / "customers.jsonl").read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row.get("customer_id"):
                seen.add(("ecommerce", "customers", row["customer_id"]))
        for line in (out / "social" / day / "profiles.jsonl").read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row.get("user_handle") and row.get("platform") in {"instagram", "facebook", "tiktok", "x"}:
                seen.add(("social", "profiles", f"{row['platform']}:{row['user_handle']}"))
    truth_ids = {i for i in ids if i[1] != "orders"}
    assert seen == truth_ids
    assert all(i == (*i[:2], i[2].strip()) for i in ids), "keys carry no whitespace noise"


def test_noise_broken_rows_and_duplicates_exist(drops):
    out, result = drops
    s = json.loads((out / "_truth" / "summary.json").read_text(encoding="utf-8"))
    assert s == result.summary
    assert s["broken_rows_total"] > 0
    for kind in ("bad_date", "negative_price", "missing_key", "wrong_column_count", "truncated_json"):
        assert s["broken_rows_by_kind"][kind] > 0, kind
    assert s["duplicates_injected"]["in_file"] > 0
    assert s["duplicates_injected"]["next_day"] > 0
    assert s["duplicates_injected"]["resent_file_rows"] > 0
    assert s["anonymous_receipts"] > 0
    assert s["return_receipts"] > 0
    assert s["late_receipts"] > 0
    assert s["refunded_versions"] > 0
    assert s["guest_orders"] > 0
    d1, d2 = result.drop_dates[1], result.drop_dates[2]
    prev = (out / "pos" / d1 / "transactions.csv").read_text(encoding="utf-8").splitlines()[1:]
    resent = (out / "pos" / d2 / "transactions.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert resent[: len(prev)] == prev, "whole previous day re-sent at the top of the file"
    history = (out / "pos" / result.drop_dates[0] / "transactions.csv").read_text(encoding="utf-8")
    assert ",-" in history  # returns: negative quantities
    rows = list(csv.reader(history.splitlines()))
    assert any(len(r) != 12 for r in rows)
    assert len(rows) != len({tuple(r) for r in rows}), "exact duplicate lines"


def test_multi_channel_people(drops):
    out, result = drops
    rec = pq.read_table(out / "_truth" / "records.parquet").to_pandas()
    sources = rec.groupby("person_id")["source"].nunique()
    assert (sources >= 2).sum() > 100
    assert (sources == 3).sum() > 5
    cards = rec[rec.entity == "loyalty_members"].groupby("person_id").size()
    assert (cards == 2).sum() > 0
    assert result.summary["prospects"] > 0


# ---------------------------------------------------------------------------- noise levels, over-merge cases

LEVEL_PEOPLE = 4000


@pytest.fixture(scope="module")
def levels(tmp_path_factory) -> dict[str, Path]:
    """The same small world at every noise level (short history keeps it quick)."""
    out = {}
    for level in ("clean", "typical", "dirty"):
        out[level] = tmp_path_factory.mktemp(level)
        generate(out[level], people=LEVEL_PEOPLE, days=1, end_date=END, seed=5, history_days=90, noise=level)
    return out


def _norm(value: str | None) -> str:
    return unicodedata.normalize("NFKC", value or "").strip().casefold()


def _identity_rows(out: Path) -> list[dict]:
    """Every parseable identity row of every drop: record key, first name, email, phone, home store."""
    rows: list[dict] = []
    for pos in sorted(out.glob("pos/*/loyalty_members.csv")):
        with pos.open(encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                if r.get("loyalty_card_no") and r.get("sms_opt_in") is not None:
                    rows.append({"key": ("pos", "loyalty_members", r["loyalty_card_no"]), **r})
    for path, entity in [
        ("ecommerce/*/customers.jsonl", "customers"),
        ("social/*/profiles.jsonl", "profiles"),
    ]:
        for file in sorted(out.glob(path)):
            for line in file.read_text(encoding="utf-8").splitlines():
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                rid = r.get("customer_id") or (r.get("user_handle") and f"{r['platform']}:{r['user_handle']}")
                if rid:
                    rows.append({"key": (file.parts[-3], entity, rid), **r})
    return rows


def _truth(out: Path) -> tuple[dict, dict]:
    """record key -> person_id, and person_id -> truth row."""
    rec = pq.read_table(out / "_truth" / "records.parquet").to_pylist()
    people = pq.read_table(out / "_truth" / "people.parquet").to_pylist()
    return (
        {(r["source"], r["entity"], r["source_record_id"]): r["person_id"] for r in rec},
        {p["person_id"]: p for p in people},
    )


def _digits8(phone: str | None) -> str:
    """Last eight digits of a Dutch mobile as typed ('+31 6 1234 5678' -> '12345678')."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", phone or "") if ch.isdigit())
    return digits[-8:] if len(digits) >= 9 else ""


def _name_noise_share(out: Path) -> float:
    """Share of till and web shop records whose first name, normalised, is not the person's own."""
    owner, people = _truth(out)
    differ = total = 0
    for r in _identity_rows(out):
        if r["key"][1] == "profiles" or not _norm(r.get("first_name")) or r["key"] not in owner:
            continue
        p = people[owner[r["key"]]]
        total += 1
        differ += _norm(r["first_name"]) not in {_norm(p["first_name"]), _norm(p["first_name_han"])}
    return differ / total


def test_noise_levels_scale_identity_noise(levels):
    share = {level: _name_noise_share(out) for level, out in levels.items()}
    assert share["clean"] < share["typical"] < share["dirty"], share
    assert share["clean"] < 0.5 * share["typical"], share
    assert share["dirty"] > 1.5 * share["typical"], share

    def email_share(out: Path) -> float:
        rows = [r for r in _identity_rows(out) if r["key"][1] == "loyalty_members"]
        return sum(bool(r["email"]) for r in rows) / len(rows)

    assert email_share(levels["dirty"]) < 0.9 * email_share(levels["typical"])
    cases = {
        level: json.loads((out / "_truth" / "summary.json").read_text(encoding="utf-8"))["over_merge_cases"]
        for level, out in levels.items()
    }
    for kind in ("household_pairs", "store_phone_records", "junk_email_records"):
        assert cases["clean"][kind] < cases["typical"][kind] < cases["dirty"][kind], (kind, cases)


def test_unknown_noise_level_is_refused(tmp_path):
    (tmp_path / "pos").mkdir()
    with pytest.raises(ValueError, match="clean, typical, dirty"):
        generate(tmp_path, people=10, days=1, end_date=END, seed=1, noise="filthy")
    assert (tmp_path / "pos").is_dir(), "nothing removed or written before the check"


def test_households_share_name_address_and_sometimes_email(levels):
    out = levels["typical"]
    summary = json.loads((out / "_truth" / "summary.json").read_text(encoding="utf-8"))
    assert summary["noise"] == "typical"
    cases = summary["over_merge_cases"]
    assert set(cases) == {
        "household_pairs",
        "family_email_records",
        "store_phone_records",
        "junk_email_records",
        "junk_phone_records",
    }
    assert all(v > 0 for v in cases.values()), cases
    owner, people = _truth(out)
    movers = {pid: p for pid, p in people.items() if p["household_of"]}
    assert len(movers) == cases["household_pairs"]
    assert 0.015 * LEVEL_PEOPLE < len(movers) < 0.045 * LEVEL_PEOPLE
    for p in movers.values():
        head = people[p["household_of"]]
        assert (p["last_name"], p["address"], p["postcode"], p["city"]) == (
            head["last_name"],
            head["address"],
            head["postcode"],
            head["city"],
        )
        assert p["email"] != head["email"], "the truth keeps each person's own email"
    family = {pid for pid, p in movers.items() if p["family_email"]}
    assert 0.25 * len(movers) < len(family) < 0.55 * len(movers)
    shows_head = shows_own = 0
    for r in _identity_rows(out):
        pid = owner.get(r["key"])
        if pid in family and r.get("email"):
            shows_head += _norm(r["email"]) == _norm(people[people[pid]["household_of"]]["email"])
            shows_own += _norm(r["email"]) == _norm(people[pid]["email"])
    assert shows_head > 0, "the family email shows on the second person's records"
    assert shows_own == 0, "instead of their own address"


def test_store_phones_and_junk_contacts_are_injected_and_counted(levels, tmp_path):
    import ingest
    from cdp.config import Settings
    from cdp.generator import pools
    from cdp.generator.population import STORE_IDS, STORE_PHONE_NUM

    out = levels["typical"]
    cases = json.loads((out / "_truth" / "summary.json").read_text(encoding="utf-8"))["over_merge_cases"]
    store_of = {f"{n:08d}": str(s) for n, s in zip(STORE_PHONE_NUM, STORE_IDS, strict=True)}
    junk_emails = {_norm(e) for e in pools.JUNK_EMAILS}
    store_cards, junk_email, junk_phone = set(), set(), set()
    for r in _identity_rows(out):
        number = _digits8(r.get("phone"))
        if number in store_of:
            assert r["key"][1] == "loyalty_members"
            assert r["home_store_id"] in ("", store_of[number]), "one fixed number per store"
            store_cards.add(r["key"])
        if _norm(r.get("email")) in junk_emails:
            junk_email.add(r["key"])
        if r.get("phone") in pools.JUNK_PHONES:
            junk_phone.add(r["key"])
    assert len(store_cards) == cases["store_phone_records"]
    assert len(junk_email) == cases["junk_email_records"]
    assert len(junk_phone) == cases["junk_phone_records"]
    assert {k[1] for k in junk_email} >= {"loyalty_members", "customers"}

    # The contracts take these values as they are: the rows land, none is quarantined for them.
    settings = Settings.load(home=tmp_path / "home", raw=out)
    day = date.fromisoformat(sorted(p.name for p in (out / "pos").iterdir())[0])
    ingest.land_source(settings, "pos", day)
    part = ingest.partition(settings, "landing", "pos", "loyalty_members", day) / "part-0.parquet"
    landed = pq.read_table(part, columns=["loyalty_card_no", "phone", "email"]).to_pylist()
    landed_phones = {r["phone"] for r in landed}
    assert landed_phones & set(pools.JUNK_PHONES)
    assert {_digits8(p) for p in landed_phones if p} & set(store_of)
    assert {_norm(r["email"]) for r in landed if r["email"]} & junk_emails
