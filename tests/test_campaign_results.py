"""Campaigns (issue #23): the messaging tools' campaign feeds at landing (bad rows quarantined with a
reason, optional files, erasure at landing), the generator's campaigns with a real effect, and the
scorecard (marts.campaign_results) recovering that effect within its confidence intervals on the
session's generated night (``first_night``: no night of its own)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

import ingest
from cdp.config import Settings
from exports.definitions import load_definitions
from ingest import land_source
from ingest.erasure import SALT_FILE, TOMBSTONE_SCHEMA, TOMBSTONES_FILE, digest

D1 = date(2026, 3, 8)
DAY = D1.isoformat()
HEADERS = {
    "unsubscribes.csv": "channel,address,event_time",
    "campaigns.csv": (
        "campaign_id,campaign_name,segment_name,channel,start_date,end_date,goal,budget,cost,currency,updated_at"
    ),
    "email_activity.csv": "campaign_id,email_address,action,bounce_type,event_time,url",
    "sms_receipts.csv": "message_sid,campaign_id,to_phone,message_status,error_code,event_time",
    "campaign_holdouts.csv": "campaign_id,channel,address,held_out_at",
}


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home", raw=tmp_path / "raw")


def drop(settings: Settings, files: dict[str, list[str]]) -> None:
    folder = settings.raw / "messaging" / DAY
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        (folder / name).write_text("\n".join([HEADERS[name], *lines]) + "\n", encoding="utf-8")


def rows(settings: Settings, zone: str, entity: str) -> list[dict]:
    path = ingest.partition(settings, zone, "messaging", entity, D1) / "part-0.parquet"
    return pq.read_table(path).to_pylist()


# ------------------------------------------------------------------------------------------ landing


def test_bad_campaign_rows_are_quarantined_with_a_reason(home: Settings) -> None:
    drop(home, {
        "unsubscribes.csv": [],
        "campaigns.csv": [
            "a1b2c3d4e5,Spring,vip_champions,email,2026-03-01,2026-03-15,sales,100.00,80.50,EUR,2026-03-01T09:00:00Z",
            "a1b2c3d4e6,Fax blast,vip_champions,fax,2026-03-01,2026-03-15,sales,,,EUR,2026-03-01T09:00:00Z",
            "a1b2c3d4e7,Bad segment,VIP Champions!,email,2026-03-01,2026-03-15,,,,,2026-03-01T09:00:00Z",
            "a1b2c3d4e8,Negative,,email,2026-03-01,2026-03-15,,,-1,,2026-03-01T09:00:00Z",
            "a1b2c3d4e9,Odd goal,,sms,2026-03-01,2026-03-15,fun,,,,2026-03-01T09:00:00Z",
        ],
        "email_activity.csv": [
            "a1b2c3d4e5,ann@example.com,open,,2026-03-02T10:00:00+01:00,",
            "a1b2c3d4e5,ann@example.com,opened,,2026-03-02T10:00:00+01:00,",   # Klaviyo's word, not ours
            ",ann@example.com,click,,2026-03-02T10:00:00+01:00,https://x",     # no campaign
            "a1b2c3d4e5,ann@example.com,bounce,permanent,2026-03-02T10:00:00Z,",  # flagged, lands
            "a1b2c3d4e5,ann@example.com,sent,,2026-03-02 10:00,",              # no offset
        ],
        "sms_receipts.csv": [
            "SM1,a1b2c3d4e9,+31612345678,delivered,,2026-03-02T10:00:00Z",
            "SM2,a1b2c3d4e9,+31612345679,DELIVRD,,2026-03-02T10:00:00Z",       # an SMPP word
            "SM3,a1b2c3d4e9,,failed,30007,2026-03-02T10:00:00Z",               # no number
        ],
        "campaign_holdouts.csv": [
            "a1b2c3d4e5,email,bob@example.com,2026-03-01T08:00:00Z",
            "a1b2c3d4e5,push,bob@example.com,2026-03-01T08:00:00Z",
        ],
    })
    report = land_source(home, "messaging", D1)
    reasons = {
        entity: {r["_source_line"]: r["_reason"] for r in rows(home, "quarantine", entity)}
        for entity in ("campaigns", "email_activity", "sms_receipts", "campaign_holdouts")
    }
    assert reasons == {
        "campaigns": {2: "channel: not an allowed value"},
        "email_activity": {
            2: "action: not an allowed value",
            3: "missing required field 'campaign_id'",
            5: "bad timestamp in 'event_time'",
        },
        "sms_receipts": {2: "message_status: not an allowed value", 3: "missing required field 'to_phone'"},
        "campaign_holdouts": {2: "channel: not an allowed value"},
    }
    # Optional fields that fail their check are nulled and flagged; the row lands.
    flagged = {r["campaign_id"]: r["_flags"] for r in rows(home, "landing", "campaigns")}
    assert flagged == {
        "a1b2c3d4e5": None, "a1b2c3d4e7": "segment_name", "a1b2c3d4e8": "cost", "a1b2c3d4e9": "goal",
    }
    assert [r["_flags"] for r in rows(home, "landing", "email_activity")] == [None, "bounce_type"]
    # The SMS number is landed with its E.164 form, as every phone field (staging reads that).
    assert [r["to_phone_e164"] for r in rows(home, "landing", "sms_receipts")] == ["+31612345678"]
    for entity in reasons:  # the reasons name fields, never the addresses in the rows
        assert "example.com" not in json.dumps(report.entities[entity].reasons)


def test_a_messaging_drop_without_the_campaign_files_lands_them_empty(home: Settings) -> None:
    drop(home, {"unsubscribes.csv": ["email,ann@example.com,2026-03-02T10:00:00Z"]})
    report = land_source(home, "messaging", D1)
    assert report.entities["unsubscribes"].rows_landed == 1
    for entity in ("campaigns", "email_activity", "sms_receipts", "campaign_holdouts"):
        assert not report.entities[entity].delivered
        assert rows(home, "landing", entity) == []


def test_forgotten_addresses_are_erased_from_the_activity_at_landing(home: Settings) -> None:
    home.ensure()
    salt = b"s" * 32
    home.privacy_dir.mkdir(parents=True, exist_ok=True)
    (home.privacy_dir / SALT_FILE).write_text(salt.hex() + "\n", encoding="ascii")
    hashes = [digest(salt, "email", "ann@example.com"), digest(salt, "phone", "+31612345678")]
    pq.write_table(
        TOMBSTONE_SCHEMA.empty_table().from_pylist(
            [{"kind": "email", "hash": h, "request_id": "r", "reason": "t", "erased_at": None}
             for h in hashes],
            schema=TOMBSTONE_SCHEMA,
        ),
        home.privacy_dir / TOMBSTONES_FILE,
    )
    drop(home, {
        "unsubscribes.csv": [],
        "email_activity.csv": [
            "a1b2c3d4e5, Ann@Example.com ,open,,2026-03-02T10:00:00Z,",
            "a1b2c3d4e5,cy@example.com,open,,2026-03-02T10:00:00Z,",
        ],
        "sms_receipts.csv": ["SM1,a1b2c3d4e9,06 1234 5678,delivered,,2026-03-02T10:00:00Z"],
        "campaign_holdouts.csv": [
            "a1b2c3d4e5,email,ann@example.com,2026-03-01T08:00:00Z",
            "a1b2c3d4e9,sms,+31 6 12345678,2026-03-01T08:00:00Z",
            "a1b2c3d4e9,sms,+31612345699,2026-03-01T08:00:00Z",
        ],
    })
    report = land_source(home, "messaging", D1)
    assert [r["email_address"] for r in rows(home, "landing", "email_activity")] == ["cy@example.com"]
    assert rows(home, "landing", "sms_receipts") == []
    assert [r["address"] for r in rows(home, "landing", "campaign_holdouts")] == ["+31612345699"]
    assert report.entities["campaign_holdouts"].rows_erased == 2


# ---------------------------------------------------------------------------------------- generator


def test_generated_campaigns_hold_out_a_control_group_that_gets_nothing(raw_drops: Path) -> None:
    truth = json.loads((raw_drops / "_truth" / "campaigns.json").read_text(encoding="utf-8"))
    assert len(truth) >= 4
    assert any(t["uplift_probability"] == 0 for t in truth)
    with duckdb.connect() as con:
        def csv(name: str) -> str:
            return (
                f"read_csv('{raw_drops}/messaging/*/{name}', all_varchar=true, header=true, "
                "union_by_name=true, ignore_errors=true)"
            )

        held = con.execute(f"select count(distinct campaign_id) from {csv('campaign_holdouts.csv')}")
        assert held.fetchone()[0] == len(truth)
        # No held-out address of a campaign appears in that campaign's activity.
        overlap = con.execute(
            f"select count(*) from {csv('campaign_holdouts.csv')} as held "
            f"inner join {csv('email_activity.csv')} as act "
            "on held.campaign_id = act.campaign_id and held.address = act.email_address"
        ).fetchone()[0]
        assert overlap == 0
        catalogue = con.execute(
            f"select distinct campaign_id, channel from {csv('campaigns.csv')}"
        ).fetchall()
    assert {c for c, _ in catalogue} >= {t["campaign_id"] for t in truth}
    assert {ch for _, ch in catalogue} == {"email", "sms"}
    for t in truth:
        assert t["treated"] > 50
        assert t["control"] > 20
        assert t["incremental_purchasers"] <= t["injected_purchasers"]
        if t["uplift_probability"] == 0:
            assert t["injected_purchasers"] == 0
            assert t["purchase_rate_lift"] == 0


# ---------------------------------------------------------------------------------------- scorecard


@pytest.mark.slow  # reads the session's generated night (first_night)
def test_the_scorecard_recovers_the_injected_effect(first_night: Settings, raw_drops: Path) -> None:
    """Every generated campaign (its tool held out a control group) is scored, and the true effect
    the generator injected - incremental purchasers and injected revenue per treated person - lies
    inside the 95% confidence interval of the treated-vs-control difference. Statistical, on a fixed
    seed: each interval misses with 5% chance, so a generator change may need a look at the seed
    before anything else. The effect is real: a campaign with an effect is told apart from zero, the
    placebo is not."""
    truth = json.loads((raw_drops / "_truth" / "campaigns.json").read_text(encoding="utf-8"))
    with duckdb.connect(str(first_night.warehouse), read_only=True) as con:
        cursor = con.execute(
            "select * from marts.campaign_results where audience_source = 'campaign_holdout'"
        )
        names = [d[0] for d in cursor.description]
        results = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    scored = {row["audience_id"].split(":", 1)[1]: row for row in results}
    assert set(scored) == {t["campaign_id"] for t in truth}
    detected = 0
    for t in truth:
        row = scored[t["campaign_id"]]
        assert row["is_window_complete"]
        assert row["has_control_group"]
        assert 0.9 * t["treated"] <= row["treated_customers"] <= t["treated"], t["campaign_id"]
        assert 0.9 * t["control"] <= row["control_customers"] <= t["control"], t["campaign_id"]
        low, high = row["purchase_rate_difference_ci_low"], row["purchase_rate_difference_ci_high"]
        assert low <= t["purchase_rate_lift"] <= high, (t["campaign_id"], t["purchase_rate_lift"], low, high)
        low = row["revenue_per_customer_difference_ci_low"]
        high = row["revenue_per_customer_difference_ci_high"]
        assert low <= t["revenue_per_customer_lift"] <= high, (t["campaign_id"], low, high)
        assert float(row["campaign_cost"]) == pytest.approx(t["cost"])
        assert row["messages_sent"] >= row["messages_delivered"] > 0.9 * t["delivered"]
        if t["uplift_probability"] == 0:
            assert row["purchase_rate_difference_ci_low"] < 0 < row["purchase_rate_difference_ci_high"]
        detected += row["purchase_rate_difference_ci_low"] > 0
        if t["channel"] == "email":
            assert 0 < row["open_rate"] < 1
            assert 0 < row["click_rate"] < row["open_rate"]
        else:
            assert row["open_rate"] is None
    assert detected >= 1


def test_every_shipped_segment_holds_out_a_control_group() -> None:
    """Two shipped segments had no control_share, so campaign_results had no result for them (D57);
    segments without one now get the before/after comparison (the model's unit tests)."""
    loaded = load_definitions()
    assert loaded.segments
    assert not loaded.errors
    assert {s.name: s.control_share for s in loaded.segments if s.control_share <= 0} == {}
