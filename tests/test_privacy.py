"""Privacy on real data: the global suppression list and the right to be forgotten (``cdp.privacy``).

One home for the module (a copy of the suite's ``first_night``), three pipeline runs in all: the
first drop date, a re-run of it after a person was forgotten (re-ingesting raw files that still
contain them), and the next date.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import copy_home
from typer.testing import CliRunner

from cdp import identifiers, pipeline, privacy, suppression, warehouse
from cdp.cli import app
from cdp.config import Settings
from ingest import erasure

TX_HEADER = (
    "receipt_id,line_no,store_id,tx_time,loyalty_card_no,sku,category,quantity,unit_price,discount,"
    "currency,payment_method"
)
LM_HEADER = (
    "loyalty_card_no,first_name,last_name,gender,birth_date,phone,email,postcode,city,address,"
    "home_store_id,enrolled_at,updated_at,email_opt_in,sms_opt_in"
)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, first_night: Settings, raw_drops: Path, drop_dates: list[date]
) -> dict[str, Any]:
    """A home with the first drop date run (a copy of the suite's ``first_night``); chosen people are
    added by the tests."""
    settings = copy_home(first_night, tmp_path_factory.mktemp("privacy") / "home")
    assert settings.suppression_file.read_text() == "channel,address,reason,added_at\n"
    return {"settings": settings, "raw": raw_drops, "dates": drop_dates}


# ------------------------------------------------------------------------------------------- helpers


def _con(settings: Settings) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(settings.warehouse), read_only=True)


def _export_text(settings: Settings, day: date) -> str:
    folder = settings.exports / day.isoformat()
    assert (folder / "manifest.json").exists(), f"no export for {day}"
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*.csv")))


def _export_forms(emails: set[str], phones: set[str], customer_ids: set[str]) -> set[str]:
    """Every form a person can take in an export file: plain, Meta/Google SHA-256, customer_id."""
    forms = set(customer_ids) | emails | phones
    forms |= {hashlib.sha256(e.encode()).hexdigest() for e in emails}
    forms |= {hashlib.sha256(p.encode()).hexdigest() for p in phones}
    forms |= {hashlib.sha256(p.lstrip("+").encode()).hexdigest() for p in phones}
    return forms


def _person_records(settings: Settings, customer_id: str) -> list[tuple]:
    with _con(settings) as con:
        return con.execute(
            "select map.source, map.entity, map.source_record_id, rec.email_normalized, rec.phone_e164 "
            "from marts.customer_identity_map as map inner join intermediate.int_identity_records_unioned "
            "as rec using (source, entity, source_record_id) where map.customer_id = ? order by all",
            [customer_id],
        ).fetchall()


def _reconciles(settings: Settings, day: date) -> dict[str, int]:
    """Every manifest entity of ``day``: read = landed + quarantined + erased; returns erased per entity."""
    erased = {}
    for path in sorted((settings.lake / "manifests").glob(f"*/load_date={day.isoformat()}.json")):
        doc = json.loads(path.read_text())
        for entity, stats in doc["entities"].items():
            assert stats["rows_read"] == (
                stats["rows_landed"] + stats["rows_quarantined"] + stats["rows_erased"]
            ), (doc["source"], entity, day)
            erased[f"{doc['source']}/{entity}"] = stats["rows_erased"]
    return erased


def _landed_counts(settings: Settings, day: date) -> dict[str, tuple[int, int]]:
    out = {}
    for path in sorted((settings.lake / "manifests").glob(f"*/load_date={day.isoformat()}.json")):
        doc = json.loads(path.read_text())
        for entity, stats in doc["entities"].items():
            out[f"{doc['source']}/{entity}"] = (stats["rows_landed"], stats["rows_quarantined"])
    return out


# -------------------------------------------------------------------------------- normalisation


@pytest.mark.slow
def test_python_normalisation_matches_dbt_staging(world: dict[str, Any]) -> None:
    """Tombstones hash what ingest reads; they must equal what dbt makes of the same raw values."""
    settings, day = world["settings"], world["dates"][0]
    checks = [
        ("pos", "loyalty_members", "stg_pos__loyalty_members", [("email", "email_normalized", "e"),
                                                                ("phone", "phone_e164", "p")]),
        ("ecommerce", "customers", "stg_ecommerce__customers", [("email", "email_normalized", "e"),
                                                               ("phone", "phone_e164", "p")]),
        ("social", "profiles", "stg_social__profiles", [("email", "email_normalized", "e"),
                                                       ("phone", "phone_e164", "p")]),
    ]
    compared = 0
    with _con(settings) as con:
        for source, entity, view, pairs in checks:
            part = settings.lake / "landing" / source / entity / f"load_date={day}" / "part-0.parquet"
            for raw_col, stg_col, kind in pairs:
                rows = con.execute(
                    f"select landed.{raw_col}, stg.{stg_col} from read_parquet('{part}') as landed "
                    f"inner join staging.{view} as stg on stg.load_date = '{day}' "
                    "and stg._source_file = landed._source_file and stg._source_line = landed._source_line "
                    f"where landed.{raw_col} is not null"
                ).fetchall()
                normalise = identifiers.normalize_email if kind == "e" else identifiers.normalize_phone
                mismatches = [i for i, (raw, expected) in enumerate(rows) if normalise(raw) != expected]
                assert not mismatches, f"{view}.{stg_col}: {len(mismatches)} of {len(rows)} differ"
                compared += len(rows)
    assert compared > 1000


def test_eraser_matches_quarantined_raw_text(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home", raw=tmp_path / "raw").ensure()
    salt = erasure.load_salt(settings, create=True)
    assert salt is not None
    assert (settings.privacy_dir / "salt").exists()
    hashes = {
        erasure.digest(salt, "email", "jan@example.com"),
        erasure.digest(salt, "record", "pos:loyalty_members:L123"),
        erasure.digest(salt, "record", "social:profiles:instagram:jan_d"),
    }
    eraser = erasure.Eraser(salt, frozenset(hashes))
    quarantine = pa.table({"_raw": [
        'R1,1,S01,2024-01-15 14:30:00, L123 ,SKU,,1,x,,EUR,',  # card, CSV
        '{"order_id": "O1", "guest_email": " JAN@Example.com", "lines": "bad"}',  # email, JSON
        '{"platform": "Instagram", "user_handle": "@Jan_D", "display_name": ',  # unparseable JSON
        "R2,1,S01,2024-01-15 14:30:00,L1234,SKU,,1,x,,EUR,",  # another card
    ]})
    assert eraser.quarantine_mask("pos", quarantine.slice(0, 1)).tolist() == [True]
    assert eraser.quarantine_mask("ecommerce", quarantine.slice(1, 1)).tolist() == [True]
    assert eraser.quarantine_mask("social", quarantine.slice(2, 1)).tolist() == [True]
    assert eraser.quarantine_mask("pos", quarantine.slice(3, 1)).tolist() == [False]


def test_ingest_erases_tombstoned_rows_at_landing(tmp_path: Path) -> None:
    """Rows of a forgotten person are dropped and counted as erased, also when they would be quarantined."""
    from ingest import land_source

    day = date(2024, 3, 31)
    settings = Settings.load(home=tmp_path / "home", raw=tmp_path / "raw").ensure()
    folder = settings.raw / "pos" / day.isoformat()
    folder.mkdir(parents=True)
    (folder / "transactions.csv").write_text("\n".join([
        TX_HEADER,
        "R1,1,S01,2024-01-15 14:30:00,L100,SKU1,food,2,1.99,0.50,EUR,card",  # forgotten card
        "R2,1,S01,2024-01-15 14:30:00,L200,SKU1,food,2,1.99,0.50,EUR,card",
        ",1,S01,2024-01-15 14:30:00, L100,SKU1,food,2,1.99,0.50,EUR,card",  # bad row, forgotten card
        ",2,S01,2024-01-15 14:30:00,L200,SKU1,food,2,1.99,0.50,EUR,card",  # bad row, someone else
    ]) + "\n")
    (folder / "loyalty_members.csv").write_text("\n".join([
        LM_HEADER,
        "L300,Jan,Jansen,,,06-1234 5678,,,,,,,2024-03-30 10:00:00,,",  # forgotten phone, other card
        "L200,Piet,Pieters,,,,piet@example.com,,,,,,2024-03-30 10:00:00,,",
    ]) + "\n")
    salt = erasure.load_salt(settings, create=True)
    person = privacy._Person(record_keys={"pos:loyalty_members:L100"}, phones={"+31612345678"})
    privacy._write_tombstones(settings, salt, privacy._Person(emails={"a@b.nl"}), "r0", "first request")
    privacy._write_tombstones(settings, salt, person, "r1", "test")
    assert erasure.read_tombstones(settings).num_rows == 3

    report = land_source(settings, "pos", day)
    tx, members = report.entities["transactions"], report.entities["loyalty_members"]
    assert (tx.rows_read, tx.rows_landed, tx.rows_quarantined, tx.rows_erased) == (4, 1, 1, 2)
    assert tx.reasons == {"missing required field 'receipt_id'": 1}
    assert (members.rows_read, members.rows_landed, members.rows_erased) == (2, 1, 1)
    assert report.to_dict()["rows_erased"] == 3
    manifest = json.loads(report.manifest_path.read_text())
    assert manifest["entities"]["transactions"]["rows_erased"] == 2
    q = settings.lake / "quarantine" / "pos" / "transactions" / f"load_date={day}" / "part-0.parquet"
    assert "L100" not in json.dumps(pq.read_table(q).to_pylist())
    landed = settings.lake / "landing" / "pos" / "transactions" / f"load_date={day}" / "part-0.parquet"
    assert pq.read_table(landed).column("loyalty_card_no").to_pylist() == ["L200"]


# ----------------------------------------------------------------------------------- suppression


@pytest.mark.slow
def test_suppressed_address_on_one_record_keeps_the_person_out_of_every_export(world: dict[str, Any]) -> None:
    settings, day = world["settings"], world["dates"][0]
    with _con(settings) as con:
        candidates = con.execute(
            """
            with addresses as (
                select map.customer_id, rec.email_normalized as email
                from marts.customer_identity_map as map
                inner join intermediate.int_identity_records_unioned as rec
                    using (source, entity, source_record_id)
                where rec.email_normalized is not null
            )
            select
                dim.customer_id, profile.email,
                min(addresses.email) filter (where addresses.email <> profile.email)
            from marts.dim_customers as dim
            inner join restricted.customer_profiles as profile using (customer_id)
            inner join addresses using (customer_id)
            where dim.is_email_contactable
            group by all
            having count(distinct addresses.email) >= 2
            order by 1
            """
        ).fetchall()
    before = _export_text(settings, day)
    chosen = [c for c in candidates if c[1] in before]
    assert chosen, "no emailable person with two addresses in an export; the test proves nothing"
    customer_id, exported_email, other_email = chosen[0]
    world["suppressed"] = customer_id
    records = _person_records(settings, customer_id)
    assert len(records) >= 2

    # Suppress the address of the record that is NOT exported; rebuild what reads the list, export.
    suppression.add_suppression(settings, "email", f"  {other_email.upper()} ", "complaint", "2026-03-01")
    warehouse.build(settings, day, select="stg_privacy__suppressions+")
    pipeline.export(settings, day)

    with _con(settings) as con:
        row = con.execute(
            "select can_email, is_email_suppressed, is_sms_suppressed from restricted.audience_contacts "
            "where customer_id = ?", [customer_id],
        ).fetchone()
    assert row == (False, True, False)
    text = _export_text(settings, day)
    emails = {r[3] for r in records if r[3]}
    forms = _export_forms(emails, set(), set())
    assert not [f for f in forms if f in text], "a suppressed person's email reached an export file"
    assert exported_email not in text

    result = CliRunner().invoke(app, ["suppression", "list", "--home", str(settings.home), "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert identifiers.mask_email(other_email) in result.output
    assert other_email not in result.output
    assert "suppression file" in result.output
    assert "messaging unsubscribe feed" in result.output


# ---------------------------------------------------------------------------------------- forget


def _choose_person(settings: Settings, truth: Path, exclude: set[str]) -> tuple[str, str]:
    """A person of the truth with records in 2+ sources, resolved to one customer of their own only,
    with an email, in an export, preferring ones with orders in both channels."""
    with _con(settings) as con:
        con.execute(f"create temp view truth as select * from read_parquet('{truth / 'records.parquet'}')")
        rows = con.execute(
            """
            with mapped as (
                select truth.person_id, map.customer_id, map.source
                from marts.customer_identity_map as map
                left join truth using (source, entity, source_record_id)
            ),
            pure as (
                select customer_id, any_value(person_id) as person_id, count(distinct source) as sources
                from mapped
                group by customer_id
                having count(distinct person_id) = 1 and count(*) = count(person_id)
            ),
            whole as (
                select person_id from truth
                inner join marts.customer_identity_map as map using (source, entity, source_record_id)
                group by person_id
                having count(distinct map.customer_id) = 1
            )
            select pure.customer_id, profile.email,
                count(distinct orders.channel) as channels, count(orders.order_id) as orders
            from pure
            inner join whole using (person_id)
            inner join restricted.customer_profiles as profile using (customer_id)
            inner join ops.segment_membership as members
                on members.customer_id = pure.customer_id and not members.is_control
            left join marts.fct_orders as orders on orders.customer_id = pure.customer_id
            where pure.sources >= 2 and profile.email is not null
            group by all
            order by channels desc, orders desc, pure.customer_id
            """
        ).fetchall()
    rows = [r for r in rows if r[0] not in exclude]
    assert rows, "no suitable person in the generated data"
    return rows[0][0], rows[0][1]


def _assert_gone_from_lake(settings: Settings, person: dict[str, set[str]]) -> None:
    ids = {
        "loyalty_card_no": person["cards"],
        "customer_id": person["accounts"],
        "order_id": person["guest_orders"],
    }
    for path in sorted((settings.lake / "landing").rglob("*.parquet")):
        table = pq.read_table(path)
        for column, values in ids.items():
            if column in table.column_names and values:
                found = {(v or "").strip() for v in table.column(column).to_pylist()} & values
                assert not found, f"{path}: {column} of the forgotten person"
        for column in ("email", "guest_email", "address"):
            if column in table.column_names:
                values = {identifiers.normalize_email(v) for v in table.column(column).to_pylist()}
                found = values & person["emails"]
                assert not found, f"{path}: {column} of the forgotten person"
        for column in ("phone", "address"):
            if column in table.column_names and person["phones"]:
                values = {identifiers.normalize_phone(v) for v in table.column(column).to_pylist()}
                found = values & person["phones"]
                assert not found, f"{path}: {column} of the forgotten person"
        if "user_handle" in table.column_names:
            handles = {
                identifiers.social_id(p, h)
                for p, h in zip(table.column("platform").to_pylist(), table.column("user_handle").to_pylist(),
                                strict=True)
            }
            assert not handles & person["profiles"], f"{path}: social profile of the forgotten person"
    needles = {v.lower() for v in person["emails"] | person["cards"] | person["accounts"]}
    for path in sorted((settings.lake / "quarantine").rglob("*.parquet")):
        for raw in pq.read_table(path, columns=["_raw"]).column("_raw").to_pylist():
            assert not any(n in (raw or "").lower() for n in needles), f"{path}: raw text of the person"


def _assert_gone_from_warehouse(settings: Settings, person: dict[str, set[str]]) -> None:
    with _con(settings) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.columns "
            "where table_schema in ('marts', 'restricted', 'ops', 'snapshots') "
            "and column_name = 'customer_id'"
        ).fetchall()
        assert len(tables) > 8
        for schema, table in tables:
            n = con.execute(
                f'select count(*) from {schema}."{table}" where customer_id in (select unnest(?::varchar[]))',
                [sorted(person["customer_ids"])],
            ).fetchone()[0]
            assert n == 0, f"{schema}.{table} still has the forgotten customer"
        keys = sorted(person["record_keys"])
        n = con.execute(
            "select count(*) from marts.customer_identity_map "
            "where source || ':' || entity || ':' || source_record_id in (select unnest(?::varchar[]))",
            [keys],
        ).fetchone()[0]
        assert n == 0, "a record of the forgotten person is still mapped"
        n = con.execute(
            "select count(*) from restricted.customer_profiles where email in (select unnest(?::varchar[]))",
            [sorted(person["emails"])],
        ).fetchone()[0]
        assert n == 0
        expected = {
            "restricted.customer_profiles",
            "restricted.audience_contacts",
            "snapshots.dim_customers_snapshot",
        }
        assert expected <= {f"{schema}.{table}" for schema, table in tables}


@pytest.mark.slow
def test_forget_erases_a_person_everywhere_and_for_good(world: dict[str, Any]) -> None:
    settings, raw, dates = world["settings"], world["raw"], world["dates"]
    first, second = dates[0], dates[1]
    customer_id, email = _choose_person(settings, raw / "_truth", {world.get("suppressed", "")})
    records = _person_records(settings, customer_id)
    assert len({r[0] for r in records}) >= 2
    person = {
        "customer_ids": {customer_id},
        "record_keys": {f"{s}:{e}:{i}" for s, e, i, _, _ in records},
        "cards": {i for s, e, i, _, _ in records if (s, e) == ("pos", "loyalty_members")},
        "accounts": {i for s, e, i, _, _ in records if (s, e) == ("ecommerce", "customers")},
        "guest_orders": {i for s, e, i, _, _ in records if (s, e) == ("ecommerce", "orders")},
        "profiles": {i for s, e, i, _, _ in records if (s, e) == ("social", "profiles")},
        "emails": {r[3] for r in records if r[3]},
        "phones": {r[4] for r in records if r[4]},
    }
    with _con(settings) as con:
        customers_before = con.execute("select count(*) from marts.dim_customers").fetchone()[0]
    forms = _export_forms(person["emails"], person["phones"], person["customer_ids"])
    assert any(f in _export_text(settings, first) for f in forms), "person not exported; proves nothing"

    result = CliRunner().invoke(
        app,
        ["forget", "--email", f" {email.upper()}", "--reason", "GDPR art. 17", "--home", str(settings.home)],
    )
    assert result.exit_code == 0, result.output
    assert email not in result.output
    assert customer_id not in result.output
    assert "1 customer(s)" in result.output

    # (a) tombstones and salt: hashes only
    tombstones = erasure.read_tombstones(settings)
    assert set(tombstones.column("kind").to_pylist()) >= {"email", "record"}
    dump = json.dumps(tombstones.to_pylist(), default=str)
    assert not [v for v in person["emails"] | person["record_keys"] if v in dump]
    assert (settings.privacy_dir / "salt").stat().st_mode & 0o077 == 0
    # (b) lake, (c) warehouse and published exports
    _assert_gone_from_lake(settings, person)
    _assert_gone_from_warehouse(settings, person)
    assert not [f for f in forms if f in _export_text(settings, first)]
    erased_by_forget = _reconciles(settings, first)
    assert sum(erased_by_forget.values()) >= len(records)
    counts_after_forget = _landed_counts(settings, first)
    with _con(settings) as con:
        assert con.execute("select count(*) from marts.dim_customers").fetchone()[0] == customers_before - 1
    logs = "\n".join(p.read_text(errors="replace") for p in settings.logs.rglob("*") if p.is_file())
    assert not [v for v in person["emails"] | person["cards"] | person["accounts"] if v in logs]

    # (d) re-ingest the raw files that still hold the person, then the next day: still gone
    pipeline.run(settings, first)
    assert _landed_counts(settings, first) == counts_after_forget  # landing-time erasure = the rewrite
    assert _reconciles(settings, first) == erased_by_forget
    _assert_gone_from_lake(settings, person)
    _assert_gone_from_warehouse(settings, person)
    assert not [f for f in forms if f in _export_text(settings, first)]
    with _con(settings) as con:
        assert con.execute("select count(*) from marts.dim_customers").fetchone()[0] == customers_before - 1

    pipeline.backfill(settings, second, second)
    _reconciles(settings, second)
    _assert_gone_from_lake(settings, person)
    _assert_gone_from_warehouse(settings, person)
    assert not [f for f in forms if f in _export_text(settings, second)]
    # the suppression list still wins on the next day too
    suppressed = world.get("suppressed")
    if suppressed:
        with _con(settings) as con:
            assert con.execute(
                "select can_email from restricted.audience_contacts where customer_id = ?", [suppressed]
            ).fetchone() == (False,)


@pytest.mark.slow
def test_forget_refuses_unknown_or_ambiguous_requests(world: dict[str, Any]) -> None:
    settings = world["settings"]
    with pytest.raises(privacy.ForgetError):
        privacy.forget(settings, customer_id="Cdoesnotexist0000")
    with pytest.raises(privacy.ForgetError):
        privacy.forget(settings, email="not an address")
    with pytest.raises(privacy.ForgetError):
        privacy.forget(settings, email="a@b.nl", phone="0612345678")
    result = CliRunner().invoke(app, ["forget", "--home", str(settings.home)])
    assert result.exit_code != 0
