"""The loyalty ledger, coupons (POS) and the service source at landing (issue #23): bad rows are
quarantined with a reason, optional entities (D60) land empty when a drop lacks them unless the
settings file names them, and the new identifiers are erased at landing. Every test lands through the
real ``ingest.land_source`` on a home under ``tmp_path``; no dbt, no generated night."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import ingest
from cdp import pipeline
from cdp.config import SOURCES, Settings
from cdp.site import DEFAULT_SOURCES
from ingest import IngestError, land_source
from ingest.erasure import SALT_FILE, TOMBSTONE_SCHEMA, TOMBSTONES_FILE, Eraser, digest

D1 = date(2026, 3, 8)
DAY = D1.isoformat()
POINTS_HEADER = "entry_id,loyalty_card_no,entry_type,points,entry_time,receipt_id,store_id,expires_on"
COUPONS_HEADER = (
    "coupon_code,campaign_id,loyalty_card_no,coupon_value,issued_at,valid_until,redeemed_at,"
    "redeemed_receipt_id,redeemed_store_id,updated_at"
)
TX_HEADER = (
    "receipt_id,line_no,store_id,tx_time,loyalty_card_no,sku,category,quantity,unit_price,discount,"
    "currency,payment_method"
)
MEMBERS_HEADER = (
    "loyalty_card_no,first_name,last_name,gender,birth_date,phone,email,postcode,city,address,home_store_id,"
    "enrolled_at,updated_at,email_opt_in,sms_opt_in"
)
TICKET = {
    "ticket_id": "T1", "ticket_type": "complaint", "channel": "email", "category": "delivery",
    "status": "open", "opened_at": "2026-03-08T10:00:00Z", "updated_at": "2026-03-08T10:00:00Z",
    "loyalty_card_no": "2600000000001", "email": "a@example.com", "subject": "Parcel late",
}
RESPONSE = {"response_id": "R1", "ticket_id": "T1", "csat_score": 4, "recommend_score": 8,
            "responded_at": "2026-03-08T12:00:00Z", "web_customer_id": "C1"}


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home", raw=tmp_path / "raw")


def site(settings: Settings, text: str) -> None:
    path = settings.home / "config" / "cdp.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def drop(settings: Settings, source: str, files: dict[str, str]) -> Path:
    folder = settings.raw / source / DAY
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def pos_base() -> dict[str, str]:
    return {"transactions.csv": TX_HEADER + "\n", "loyalty_members.csv": MEMBERS_HEADER + "\n"}


def rows(settings: Settings, zone: str, source: str, entity: str) -> list[dict]:
    return pq.read_table(ingest.partition(settings, zone, source, entity, D1) / "part-0.parquet").to_pylist()


def manifest(settings: Settings, source: str) -> dict:
    return json.loads((settings.lake / "manifests" / source / f"load_date={DAY}.json").read_text())


def test_service_is_a_shipped_default_source() -> None:
    """One list of shipped sources (cdp.site owns it, cdp.config re-exports it), one per contract file:
    a contract nobody lands, or a source without a contract, fails here."""
    from cdp.config import CONTRACTS_DIR

    assert "service" in DEFAULT_SOURCES
    assert SOURCES is DEFAULT_SOURCES
    assert sorted(SOURCES) == sorted(path.stem for path in CONTRACTS_DIR.glob("*.yml"))


def test_bad_ledger_and_coupon_rows_are_quarantined_with_a_reason(home: Settings) -> None:
    drop(home, "pos", pos_base() | {
        "points_entries.csv": "\n".join([
            POINTS_HEADER,
            "PE1,2600000000001,earn,120,2026-03-08 10:00:00,S001-20260308-0001,S001,2027-03-31",
            "PE2,2600000000001,bonus,10,2026-03-08 10:00:00,,,",     # not an allowed entry type
            "PE3,2600000000001,redeem,0,2026-03-08 10:00:00,,,",     # zero points
            ",2600000000001,earn,5,2026-03-08 10:00:00,,,",          # no entry id
            "PE5,,earn,5,2026-03-08 10:00:00,,,",                    # no card
            "PE6,2600000000001,expire,5,2026-03-08 10:00:00,,,2027-02-30",  # bad optional date: flagged
        ]) + "\n",
        "coupons.csv": "\n".join([
            COUPONS_HEADER,
            "CPN1,cmp-3,2600000000001,5.00,2026-03-01 09:00:00,2026-03-30,,,,2026-03-01 09:00:00",
            "CPN2,any campaign text,,-5.00,2026-03-01 09:00:00,,,,,2026-03-01 09:00:00",  # negative value
            "CPN3,cmp-3,2600000000001,5.00,yesterday,,,,,2026-03-01 09:00:00",         # bad issued_at
        ]) + "\n",
    })
    report = land_source(home, "pos", D1)
    assert report.entities["points_entries"].rows_landed == 2
    reasons = {r["_source_line"]: r["_reason"] for r in rows(home, "quarantine", "pos", "points_entries")}
    assert reasons == {
        2: "entry_type: not an allowed value",
        3: "points: below min 1",
        4: "missing required field 'entry_id'",
        5: "missing required field 'loyalty_card_no'",
    }
    flagged = {r["entry_id"]: r["_flags"] for r in rows(home, "landing", "pos", "points_entries")}
    assert flagged == {"PE1": None, "PE6": "expires_on"}
    coupons = {r["_source_line"]: r["_reason"] for r in rows(home, "quarantine", "pos", "coupons")}
    assert coupons == {2: "coupon_value: below min 0", 3: "bad timestamp in 'issued_at'"}
    # A coupon's campaign id is free text: any campaign the POS names lands.
    assert [r["campaign_id"] for r in rows(home, "landing", "pos", "coupons")] == ["cmp-3"]


def test_bad_service_rows_are_quarantined_and_bad_scores_flagged(home: Settings) -> None:
    lines = [
        json.dumps(TICKET),
        json.dumps(TICKET | {"ticket_id": "T2", "status": "OPEN"}),
        json.dumps(TICKET | {"ticket_id": "T3", "channel": "pigeon"}),
        json.dumps({k: v for k, v in TICKET.items() if k != "opened_at"} | {"ticket_id": "T4"}),
        '{"ticket_id": "T5", "ticket_type": "compl',
    ]
    answers = [
        json.dumps(RESPONSE),
        json.dumps(RESPONSE | {"response_id": "R2", "csat_score": 7, "recommend_score": 11}),
        json.dumps(RESPONSE | {"response_id": None}),
    ]
    drop(home, "service", {"tickets.jsonl": "\n".join(lines) + "\n",
                           "satisfaction_responses.jsonl": "\n".join(answers) + "\n"})
    report = land_source(home, "service", D1)
    assert report.entities["tickets"].rows_landed == 1
    reasons = {r["_source_line"]: r["_reason"] for r in rows(home, "quarantine", "service", "tickets")}
    assert reasons == {
        2: "status: not an allowed value",
        3: "channel: not an allowed value",
        4: "missing required field 'opened_at'",
        5: "unparseable line",
    }
    landed = {r["response_id"]: r for r in rows(home, "landing", "service", "satisfaction_responses")}
    # An out-of-range score is nulled and flagged (an optional field), the answer lands.
    assert (landed["R2"]["csat_score"], landed["R2"]["recommend_score"]) == (None, None)
    assert landed["R2"]["_flags"] == "csat_score,recommend_score"
    assert landed["R1"]["csat_score"] == 4
    assert [r["_reason"] for r in rows(home, "quarantine", "service", "satisfaction_responses")] == [
        "missing required field 'response_id'"
    ]


def test_an_optional_entity_missing_from_the_drop_lands_empty(home: Settings) -> None:
    """Tills that do not export the ledger yet keep running (D60): empty partitions, delivered false.
    The night does not wait for an optional file either."""
    drop(home, "pos", pos_base())
    land_source(home, "pos", D1)
    stats = manifest(home, "pos")["entities"]
    assert (stats["points_entries"]["configured"], stats["points_entries"]["delivered"]) == (True, False)
    assert stats["transactions"]["delivered"] is True
    assert rows(home, "landing", "pos", "coupons") == []
    assert pipeline.missing_drop_files(home, D1, "pos") == []
    assert "points_entries.csv" not in pipeline.expected_drop_files(home, "pos")
    # A home without any service drop: every service entity lands empty, nothing fails.
    report = land_source(home, "service", D1)
    assert {e.rows_read for e in report.entities.values()} == {0}
    assert rows(home, "landing", "service", "tickets") == []


def test_an_optional_entity_the_settings_file_names_is_required(home: Settings) -> None:
    site(home, "sources:\n  pos:\n    entities: [transactions, loyalty_members, points_entries]\n"
               "  service:\n    entities: [tickets]\n")
    drop(home, "pos", pos_base())
    assert pipeline.missing_drop_files(home, D1, "pos") == ["points_entries.csv"]
    with pytest.raises(IngestError, match=f"pos/{DAY}/points_entries.csv is missing"):
        land_source(home, "pos", D1)
    with pytest.raises(IngestError, match=f"service/{DAY}/tickets.jsonl is missing"):
        land_source(home, "service", D1)


def test_a_home_without_the_service_source_gets_empty_partitions(home: Settings) -> None:
    site(home, "sources:\n  pos: {}\n")
    drop(home, "pos", pos_base())
    out = pipeline.prepare(home.ensure(), D1)
    assert "service" in out["absent_sources"]
    assert manifest(home, "service")["configured"] is False
    assert rows(home, "landing", "service", "satisfaction_responses") == []


def test_forgotten_people_are_erased_from_the_new_entities_at_landing(home: Settings) -> None:
    home.ensure()
    salt = b"s" * 32
    (home.privacy_dir).mkdir(parents=True, exist_ok=True)
    (home.privacy_dir / SALT_FILE).write_text(salt.hex() + "\n", encoding="ascii")
    hashes = [digest(salt, "record", "pos:loyalty_members:2600000000001"),
              digest(salt, "email", "b@example.com"),
              digest(salt, "record", "ecommerce:customers:C1")]
    pq.write_table(
        TOMBSTONE_SCHEMA.empty_table().from_pylist(
            [{"kind": "record", "hash": h, "request_id": "r", "reason": "t", "erased_at": None}
             for h in hashes],
            schema=TOMBSTONE_SCHEMA,
        ),
        home.privacy_dir / TOMBSTONES_FILE,
    )
    assert Eraser.load(home) is not None
    drop(home, "pos", pos_base() | {
        "points_entries.csv": POINTS_HEADER + "\n"
        + "PE1,2600000000001,earn,120,2026-03-08 10:00:00,,,\n"
        + "PE2,2600000000002,earn,1,2026-03-08 10:00:00,,,\n",
        "coupons.csv": COUPONS_HEADER + "\n"
        + "CPN1,cmp-3, 2600000000001 ,5.00,2026-03-01 09:00:00,,,,,2026-03-01 09:00:00\n",
    })
    land_source(home, "pos", D1)
    assert [r["entry_id"] for r in rows(home, "landing", "pos", "points_entries")] == ["PE2"]
    assert rows(home, "landing", "pos", "coupons") == []
    tickets = [
        json.dumps(TICKET),  # the forgotten card
        json.dumps(TICKET | {"ticket_id": "T2", "loyalty_card_no": None, "email": " B@Example.com"}),
        json.dumps(TICKET | {"ticket_id": "T3", "loyalty_card_no": "2600000000002"}),
    ]
    drop(home, "service", {"tickets.jsonl": "\n".join(tickets) + "\n",
                           "satisfaction_responses.jsonl": json.dumps(RESPONSE) + "\n"})
    report = land_source(home, "service", D1)
    assert [r["ticket_id"] for r in rows(home, "landing", "service", "tickets")] == ["T3"]
    assert report.entities["tickets"].rows_erased == 2
    assert report.entities["satisfaction_responses"].rows_erased == 1  # by the web shop account
