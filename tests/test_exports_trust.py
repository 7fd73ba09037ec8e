"""Exports marketers can trust (issue #23), on generated data run through a real night.

The session's first night (``first_night``: ``pipeline.run`` on the generator's drops, whose noise
injects junk numbers and emails, store phones typed for several members, family emails and swapped
first/last names) is copied and exported once more with two segments holding every customer, one per
consent, to every contact destination. What the files must not hold is computed from the generator's
ground truth (``_truth``: which person each source record belongs to) and its pools of junk values,
never from the pipeline's own verdicts.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import date
from pathlib import Path

import duckdb
import pytest
from conftest import copy_home

from cdp.config import Settings
from cdp.generator import pools
from cdp.identifiers import (
    email_match_key,
    google_email,
    meta_phone,
    normalize_email,
    normalize_phone,
    sha256_hex,
)
from exports import export_segments

EVERYONE = {
    "everyone_email": (
        "consent: email\ndestinations: [mailchimp, klaviyo, meta_custom_audience, google_customer_match]\n"
    ),
    "everyone_sms": "consent: sms\ndestinations: [sms, meta_custom_audience, google_customer_match]\n",
}
# The form each file writes an email / a phone in (docs/exports.md), from cdp.identifiers.
EMAIL_FORMS = {
    "mailchimp": {"Email Address": lambda e: e.strip().lower()},
    "klaviyo": {"Email": lambda e: e.strip().lower()},
    "meta_custom_audience": {"email": lambda e: sha256_hex(e.strip().lower())},
    "google_customer_match": {"Email": lambda e: sha256_hex(google_email(e))},
}
PHONE_FORMS = {
    "sms": {"phone_number": lambda p: p},
    "meta_custom_audience": {"phone": lambda p: sha256_hex(meta_phone(p))},
    "google_customer_match": {"Phone": lambda p: sha256_hex(p)},
}
NAMED = {"mailchimp": "Email Address", "klaviyo": "Email"}  # files with First Name / Last Name


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# A whole generated night (the session fixture) and an export: not the fast lane.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(first_night: Settings, drop_dates: list[date], tmp_path_factory: pytest.TempPathFactory):
    settings = copy_home(first_night, tmp_path_factory.mktemp("trust") / "home")
    folder = tmp_path_factory.mktemp("segments")
    for name, body in EVERYONE.items():
        (folder / f"{name}.yml").write_text(f"name: {name}\ndescription: every customer\nowner: tests\n"
                                            f"filter: 'true'\n{body}")
    export_segments(settings, drop_dates[0], folder)
    return settings, settings.exports / drop_dates[0].isoformat()


@pytest.fixture(scope="module")
def truth(exported) -> dict:
    """Per source record: its true person, the address it carries (as the warehouse normalised it),
    and the people table; every address carried by records of two or more people, or a junk value."""
    settings, _ = exported
    raw = settings.raw / "_truth"
    with duckdb.connect(str(settings.published_warehouse), read_only=True) as con:
        records = con.execute(
            "select t.person_id, r.email_normalized, r.phone_e164, r.first_name, r.last_name "
            "from intermediate.int_identity_records_unioned as r inner join "
            f"read_parquet('{raw / 'records.parquet'}') as t "
            "on r.record_key = t.source || ':' || t.entity || ':' || t.source_record_id"
        ).fetchall()
        people = {
            row[0]: row[1:]
            for row in con.execute(
                "select person_id, first_name, last_name, first_name_han is not null "
                f"from read_parquet('{raw / 'people.parquet'}')"
            ).fetchall()
        }
        contacts = con.execute(
            "select customer_id, email, phone, can_email, can_sms from restricted.audience_contacts"
        ).fetchall()
        customers = con.execute(
            "select res.customer_id, t.person_id from intermediate.int_identity_records_unioned as r "
            "inner join intermediate.int_identity_records_resolved as res on r.record_key = res.record_key "
            f"inner join read_parquet('{raw / 'records.parquet'}') as t "
            "on r.record_key = t.source || ':' || t.entity || ':' || t.source_record_id"
        ).fetchall()
    holders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for person, email, phone, _, _ in records:
        if email:
            holders[("email", email_match_key(email))].add(person)
        if phone:
            holders[("sms", phone)].add(person)
    bad = {key for key, persons in holders.items() if len(persons) > 1}
    bad |= {("email", email_match_key(normalize_email(e))) for e in pools.JUNK_EMAILS}
    bad |= {("sms", normalize_phone(p)) for p in pools.JUNK_PHONES}
    persons_of: dict[str, set[str]] = defaultdict(set)
    for customer_id, person in customers:
        persons_of[customer_id].add(person)
    return {
        "records": records, "people": people, "contacts": contacts, "persons_of": persons_of,
        "bad_emails": {e for _, e, _, _, _ in records if e and ("email", email_match_key(e)) in bad},
        "bad_phones": {p for _, _, p, _, _ in records if p and ("sms", p) in bad},
    }


def test_no_junk_or_shared_contact_reaches_any_file(exported, truth) -> None:
    """Issue #23: junk numbers (+31600000000, +31611111111) and addresses shared by several people
    reached SMS and Meta files, and one address shared by several customers was exported for some of
    them. No file holds an address the truth says is junk or belongs to two people, and no file holds
    an address twice (on today's code: one person split into three customers was exported twice)."""
    _, folder = exported
    consenting = [
        (email, phone) for _, email, phone, can_email, can_sms in truth["contacts"]
        if (can_email and email in truth["bad_emails"]) or (can_sms and phone in truth["bad_phones"])
    ]
    assert len(consenting) >= 10, "no junk or shared address has consent: the test proves nothing"
    problems, files = [], 0
    for path in sorted(folder.glob("everyone_*/*.csv")):
        if path.name.count(".") > 1:  # the deltas hold rows of the full file
            continue
        files += 1
        rows = read(path)
        for forms, bad in ((EMAIL_FORMS, truth["bad_emails"]), (PHONE_FORMS, truth["bad_phones"])):
            for column, form in forms.get(path.stem, {}).items():
                values = [row[column] for row in rows if row[column]]
                assert values, f"{path.name}: no {column} at all; the test proves nothing"
                forbidden = {form(address) for address in bad}
                found = sum(value in forbidden for value in values)
                twice = len(values) - len(set(values))
                if found or twice:
                    problems.append(f"{path.parent.name}/{path.name} {column}: {found} bad, {twice} twice")
    assert files == 7
    assert not problems, problems


def test_names_in_files_are_the_golden_records_not_a_swapped_pair(exported, truth) -> None:
    """'Hi de Jong': a record whose first and last name were swapped gave the golden record a last
    name as first name. No row of a named file has the person's last name as first name and first name
    as last name (people whose pinyin names the generator writes either way round are left out: the
    base cannot tell their order). Rows without a first name are counted per file in the manifest."""
    settings, folder = exported
    people = truth["people"]
    swapped_on_records = {
        person for person, _, _, first, last in truth["records"]
        if first and last and first.lower() == people[person][1].lower() != last.lower()
    }
    with duckdb.connect(str(settings.published_warehouse), read_only=True) as con:
        by_email = dict(con.execute(
            "select lower(trim(email)), customer_id from restricted.audience_reachability "
            "where is_email_reachable"
        ).fetchall())
    manifest = json.loads((folder / "manifest.json").read_text())
    checked = swapped = exercised = 0
    without_first_name = {}
    for destination, email_column in NAMED.items():
        rows = read(folder / "everyone_email" / f"{destination}.csv")
        without_first_name[destination] = sum(not row["First Name"] for row in rows)
        for row in rows:
            persons = truth["persons_of"][by_email[row[email_column]]]
            if len(persons) != 1:
                continue  # identity merged two people: whose name is right is another test's business
            (person,) = persons
            first, last, pinyin = people[person]
            if pinyin or not row["First Name"] or first.lower() == last.lower():
                continue
            checked += 1
            exercised += person in swapped_on_records
            swapped += (row["First Name"].lower(), row["Last Name"].lower()) == (last.lower(), first.lower())
    assert exercised >= 10, "too few exported people have a swapped record; the test proves nothing"
    assert checked > 500
    assert swapped == 0, f"{swapped} of {checked} rows carry a swapped first/last name"
    counted = manifest["segments"]["everyone_email"]["destinations"]
    assert {name: counted[name].get("rows_without_first_name") for name in NAMED} == without_first_name
    assert min(without_first_name.values()) > 0


def test_manifest_says_when_what_it_compares_with_and_who_was_left_out(exported) -> None:
    """Counts only: every member outside the control group is in the file or left out for a reason;
    a first export compares with nothing; the ad platforms' small-audience check is recorded."""
    _, folder = exported
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["generated_at"].endswith("+00:00")
    segment = manifest["segments"]["everyone_email"]
    sent = segment["members"] - segment["control"]
    for destination, item in segment["destinations"].items():
        assert item["compared_with"] is None  # the first night exported other segments only
        assert item["rows"] + sum(item["left_out"].values()) == sent, destination
        assert item["left_out"]["no_consent"] > 0
        assert item["left_out"]["blocked"] > 0
    meta = segment["destinations"]["meta_custom_audience"]
    assert (meta["min_audience"], meta["below_min_audience"]) == (100, meta["rows"] < 100)
    assert "min_audience" not in segment["destinations"]["mailchimp"]
    text = (folder / "manifest.json").read_text()
    assert "@" not in text  # no address, counts only
    assert "+31" not in text
