"""Sample-data generator: deterministic, contract-shaped, and as messy as promised."""

from __future__ import annotations

import csv
import hashlib
import json
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
