"""Export safety: filter injection, path names, consent after the filter, staging leftovers, formula
injection, junk and shared addresses, and a POS-only base without any contact details.

Most tests run on a hand-made warehouse (as tests/test_exports.py does: the two tables the export
reads, with the columns of their dbt contracts). The POS-only base is built with the real pipeline
(ingest_source / build_warehouse / export) once for the module.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from export_inputs import add_export_inputs
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from cdp.config import Settings
from exports import export_segments, load_definitions

DAY = date(2026, 3, 10)
INJECTION = (
    "rfm_segment = 'Champions') union all by name select customer_id, email, phone, first_name, "
    "last_name, true as email_ok, true as sms_ok, false as is_control "
    "from restricted.audience_contacts where (true"
)
SEGMENTS = ("Champions", "Loyal", "At Risk", "Lost")
STAGES = ("new", "active", "dormant", "churned")
TIERS = ("gold", "silver", "-bronze")


def person(number: int, **overrides) -> dict:
    """One customer of the hand-made warehouse: mart columns and contact columns."""
    row = {
        "customer_id": f"C{number:04d}",
        "rfm_segment": SEGMENTS[number % 4],
        "lifecycle_stage": STAGES[(number // 4) % 4],
        "m_score": number % 5 + 1,
        "tier": TIERS[number % 3],
        "spend_to_next_tier": -1.5 if number % 2 else 20.0,
        "email": f"person{number}@example.com",
        "phone": f"+316{12000000 + number:08d}",
        "first_name": "First",
        "last_name": "Last",
        "can_email": number % 3 != 0,
        "can_sms": number % 2 == 0,
        "is_email_suppressed": False,
        "is_sms_suppressed": False,
    }
    row.update(overrides)
    return row


def make_warehouse(settings: Settings, people: list[dict]) -> None:
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema if not exists marts")
        con.execute("create schema if not exists restricted")
        add_export_inputs(con)
        con.execute(
            "create or replace table marts.customer_360 (customer_id varchar, rfm_segment varchar, "
            "lifecycle_stage varchar, m_score integer, tier varchar, spend_to_next_tier double, "
            "has_open_complaint boolean default false)"  # promotional segments hold these back (D64)
        )
        con.execute(
            "create or replace table restricted.audience_contacts (customer_id varchar, email varchar, "
            "phone varchar, first_name varchar, last_name varchar, is_email_suppressed boolean, "
            "is_sms_suppressed boolean, can_email boolean, can_sms boolean)"
        )
        for p in people:
            con.execute(
                "insert into marts.customer_360 (customer_id, rfm_segment, lifecycle_stage, m_score, tier, "
                "spend_to_next_tier) values (?, ?, ?, ?, ?, ?)",
                [
                    p["customer_id"],
                    p["rfm_segment"],
                    p["lifecycle_stage"],
                    p["m_score"],
                    p["tier"],
                    p["spend_to_next_tier"],
                ],
            )
            con.execute(
                "insert into restricted.audience_contacts values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    p["customer_id"],
                    p["email"],
                    p["phone"],
                    p["first_name"],
                    p["last_name"],
                    p["is_email_suppressed"],
                    p["is_sms_suppressed"],
                    p["can_email"],
                    p["can_sms"],
                ],
            )


def write_segment(folder: Path, file: str, body: str, name: str | None = None) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{file}.yml").write_text(
        f"name: {name or file}\ndescription: test\nowner: tests\n{body}", encoding="utf-8"
    )


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    return Settings.load(home=tmp_path / "home", raw=tmp_path / "raw").ensure()


# --- 1. filters and names -------------------------------------------------------------------------


def test_union_injection_is_refused_and_exports_nothing(home: Settings, tmp_path: Path) -> None:
    people = [person(i) for i in range(40)]
    make_warehouse(home, people)
    folder = tmp_path / "segments"
    write_segment(
        folder, "champions_all", f'filter: "{INJECTION}"\nconsent: email\ndestinations: [mailchimp]\n'
    )
    write_segment(
        folder, "champions", "filter: rfm_segment = 'Champions'\nconsent: email\ndestinations: [mailchimp]\n"
    )

    run = export_segments(home, DAY, folder, invalid_segments="report")

    assert len(run.rejected) == 1
    assert run.rejected[0].startswith("champions_all.yml: filter")
    assert "\n" not in run.rejected[0]
    assert not (home.exports / DAY.isoformat() / "champions_all").exists()
    exported = {
        row["Email Address"] for row in read(home.exports / DAY.isoformat() / "champions" / "mailchimp.csv")
    }
    allowed = {p["email"] for p in people if p["rfm_segment"] == "Champions" and p["can_email"]}
    assert exported == allowed


@pytest.mark.parametrize(
    ("filter_text", "says"),
    [
        ("customer_id in (select customer_id from restricted.audience_contacts)", "subquery"),
        ("true union select 1", "set operation"),
        ("m_score > 1; drop table marts.customer_360", "exactly one"),
        ("contacts.can_email", "table"),
        ("exists (select 1 from restricted.audience_contacts)", "subquery"),
        ("read_csv('/etc/passwd') is not null", "function"),
        ("no_such_column = 1", "unknown column"),
        ("m_score + 1", "true/false"),
        ("rfm_segment = 'x' /* ) or (true */", None),  # a comment is no statement: accepted, dropped
    ],
)
def test_filters_outside_the_allow_list_are_refused(
    home: Settings, tmp_path: Path, filter_text, says
) -> None:
    make_warehouse(home, [person(1)])
    folder = tmp_path / "segments"
    quoted = filter_text.replace("'", "''")
    write_segment(folder, "probe", f"filter: '{quoted}'\nconsent: email\ndestinations: [mailchimp]\n")
    loaded = load_definitions(folder)
    if says is None:
        assert not loaded.errors
        return
    assert len(loaded.errors) == 1
    assert str(loaded.errors[0]).startswith("probe.yml: ")
    assert says in str(loaded.errors[0])


def test_segment_names_are_not_paths(home: Settings, tmp_path: Path) -> None:
    make_warehouse(home, [person(i) for i in range(8)])
    folder = tmp_path / "segments"
    write_segment(
        folder, "evil", "filter: 'true'\nconsent: email\ndestinations: [mailchimp]\n", "../../../escaped"
    )
    write_segment(folder, "upper", "filter: 'true'\nconsent: email\ndestinations: [mailchimp]\n", "Has Space")

    run = export_segments(home, DAY, folder, invalid_segments="report")  # listed, not fatal: see the names

    assert sorted(run.rejected)[0].startswith("evil.yml: segment name must be")
    assert sorted(run.rejected)[1].startswith("upper.yml: segment name must be")
    assert not list(tmp_path.rglob("escaped*"))
    assert run.results == []


# A small grammar of valid filters over the hand-made mart's columns.
_atoms = st.one_of(
    st.sampled_from(SEGMENTS).map(lambda s: f"rfm_segment = '{s}'"),
    st.sampled_from(STAGES).map(lambda s: f"lifecycle_stage <> '{s}'"),
    st.integers(1, 5).map(lambda n: f"m_score >= {n}"),
    st.sampled_from(TIERS).map(lambda t: f"lower(tier) like '%{t[-3:]}'"),
    st.just("spend_to_next_tier < 0"),
    st.just("coalesce(tier, '') in ('gold', 'silver')"),
    st.just("true"),
)
_filters = st.recursive(
    _atoms,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda pair: f"({pair[0]} and {pair[1]})"),
        st.tuples(inner, inner).map(lambda pair: f"({pair[0]} or {pair[1]})"),
        inner.map(lambda x: f"not ({x})"),
    ),
    max_leaves=6,
)


def _contact_people() -> list[dict]:
    """Consent, suppression flags that disagree with can_* (the export must check both), junk numbers,
    a number shared by more customers than identity's limit, and formula-like names."""
    people = []
    for i in range(60):
        overrides: dict = {}
        if i % 7 == 0:
            overrides["is_email_suppressed"] = True
            overrides["can_email"] = True
        if i % 11 == 0:
            overrides["is_sms_suppressed"] = True
            overrides["can_sms"] = True
        if i in (2, 4):
            overrides["phone"] = {2: "+31600000000", 4: "+31611111111"}[i]
        if i % 10 == 6:
            overrides["email"] = f"noreply@shop{i}.example"
        if i >= 30:
            overrides["phone"] = "+31655512345"  # 30 customers: more than identity's 20
        people.append(person(i, **overrides))
    return people


@pytest.mark.slow  # six exports, each a dbt build: CI runs it, the fast lane does not
@given(filters=st.lists(_filters, min_size=4, max_size=6))
@hypothesis_settings(
    database=None, max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_exported_row_is_consented_and_not_suppressed(home: Settings, filters: list[str]) -> None:
    """Several drawn filters per export (an export runs dbt: ~5 s whatever the number of segments), so
    six examples try as many filters as 25 single-filter exports did."""
    people = _contact_people()
    make_warehouse(home, people)
    folder = home.home / "segments"
    for path in folder.glob("*.yml") if folder.exists() else ():
        path.unlink()
    for number, filter_text in enumerate(filters):
        body = filter_text.replace("'", "''")
        write_segment(
            folder,
            f"prop_email_{number}",
            f"filter: '{body}'\nconsent: email\n"
            "destinations: [mailchimp, klaviyo, meta_custom_audience, google_customer_match]\n",
        )
        write_segment(folder, f"prop_sms_{number}", f"filter: '{body}'\nconsent: sms\ndestinations: [sms]\n")

    run = export_segments(home, DAY, folder)

    assert run.rejected == []
    phone_count: dict[str, int] = {}
    for p in people:
        phone_count[p["phone"]] = phone_count.get(p["phone"], 0) + 1

    def emailable(p: dict) -> bool:
        return p["can_email"] and not p["is_email_suppressed"] and not p["email"].startswith("noreply@")

    def textable(p: dict) -> bool:
        return (
            p["can_sms"]
            and not p["is_sms_suppressed"]
            and p["phone"] not in ("+31600000000", "+31611111111")
            and phone_count[p["phone"]] <= 20
        )

    by_email = {p["email"]: p for p in people}
    by_id = {p["customer_id"]: p for p in people}
    out = home.exports / DAY.isoformat()
    google_emails = {sha(p["email"]) for p in people if emailable(p)}
    google_phones = {sha(p["phone"]) for p in people if textable(p)}
    for number in range(len(filters)):
        emails, texts = out / f"prop_email_{number}", out / f"prop_sms_{number}"
        for row in read(emails / "mailchimp.csv") + read(emails / "klaviyo.csv"):
            assert emailable(by_email[row.get("Email Address") or row["Email"]])
        for row in read(emails / "meta_custom_audience.csv"):
            customer = by_id[row["extern_id"]]
            assert row["email"] == "" or emailable(customer)
            assert row["phone"] == "" or textable(customer)
            assert row["email"] or row["phone"]
        for row in read(emails / "google_customer_match.csv"):
            assert row["Email"] in google_emails | {""}
            assert row["Phone"] in google_phones | {""}
        for row in read(texts / "sms.csv"):
            assert any(textable(p) and p["phone"] == row["phone_number"] for p in people)


# --- 2. staging left behind by a killed export ----------------------------------------------------


def leave_staging(settings: Settings, email: str) -> Path:
    """What an export killed mid-way leaves: a dot-folder with a plain contact file."""
    staging = settings.exports / f".tmp-{(DAY - timedelta(days=1)).isoformat()}-k1ll3d"
    (staging / "vip").mkdir(parents=True)
    (staging / "vip" / "mailchimp.csv").write_text(f"Email Address,First Name,Last Name\n{email},Ann,Lee\n")
    retired = settings.exports / f".old-{DAY.isoformat()}-4242"
    (retired / "vip").mkdir(parents=True)
    (retired / "vip" / "mailchimp.csv").write_text(f"Email Address,First Name,Last Name\n{email},Ann,Lee\n")
    return staging


def test_next_export_removes_staging_left_by_a_killed_export(home: Settings, tmp_path: Path) -> None:
    make_warehouse(home, [person(i) for i in range(8)])
    leave_staging(home, "ann.lee@example.com")
    folder = tmp_path / "segments"
    write_segment(folder, "all", "filter: 'true'\nconsent: email\ndestinations: [mailchimp]\n")

    export_segments(home, DAY, folder)

    leftovers = [p.name for p in home.exports.iterdir() if p.name.startswith((".tmp-", ".old-"))]
    assert leftovers == []
    assert "ann.lee@example.com" not in "".join(p.read_text() for p in home.exports.rglob("*.csv"))


# --- 3. formula injection -------------------------------------------------------------------------


def test_formula_cells_are_neutralised_but_hashes_numbers_and_e164_are_not(
    home: Settings, tmp_path: Path
) -> None:
    people = [
        person(
            0,
            first_name="=cmd|'/C notepad'!A1",
            last_name="@SUM(1+1)",
            can_email=True,
            can_sms=True,
            phone="+31612345678",
            tier="-bronze",
            spend_to_next_tier=-1.5,
        ),
        person(
            1, first_name="\tTab", last_name="\rReturn", can_email=True, can_sms=True, phone="+31612345679"
        ),
        person(2, first_name="+Plus", last_name="-Minus", can_email=True, can_sms=True, phone="0612345670"),
        person(3, email="=1+2@example.com", can_email=True),
    ]
    make_warehouse(home, people)
    folder = tmp_path / "segments"
    write_segment(
        folder,
        "mail",
        "filter: 'true'\nconsent: email\n"
        "destinations: [mailchimp, klaviyo, meta_custom_audience, generic_csv]\n"
        "attributes: [tier, spend_to_next_tier]\n",
    )
    write_segment(folder, "text", "filter: 'true'\nconsent: sms\ndestinations: [sms]\n")

    export_segments(home, DAY, folder)

    out = home.exports / DAY.isoformat()
    for destination in ("mailchimp", "klaviyo"):
        rows = read(out / "mail" / f"{destination}.csv")
        names = {(row["First Name"], row["Last Name"]) for row in rows}
        assert ("'=cmd|'/C notepad'!A1", "'@SUM(1+1)") in names
        assert ("'\tTab", "'\rReturn") in names
        assert ("'+Plus", "'-Minus") in names
        for row in rows:
            for cell in row.values():
                assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r")
        assert "=1+2@example.com" not in {row.get("Email Address") or row.get("Email") for row in rows}
    generic = {row["customer_id"]: row for row in read(out / "mail" / "generic_csv.csv")}
    assert generic["C0000"]["tier"] == "'-bronze"
    assert generic["C0000"]["spend_to_next_tier"] == "-1.5"
    meta = {row["extern_id"]: row for row in read(out / "mail" / "meta_custom_audience.csv")}
    assert meta["C0000"]["email"] == sha("person0@example.com")
    assert meta["C0000"]["phone"] == sha("31612345678")
    sms = {row["phone_number"] for row in read(out / "text" / "sms.csv")}
    assert sms == {"+31612345678", "+31612345679"}  # 0612345670 is not E.164: no row, no prefix


# --- 5. junk and shared addresses -----------------------------------------------------------------


def test_junk_and_shared_numbers_reach_no_file(home: Settings, tmp_path: Path) -> None:
    people = [person(i, can_email=True, can_sms=True) for i in range(40)]
    people[1]["phone"], people[3]["phone"] = "+31600000000", "+31611111111"
    people[5]["email"] = "test@test.com"
    for p in people[10:35]:  # 25 customers, more than identity's 20
        p["phone"] = "+31201234567"
    for p in people[35:38]:  # identity screened this one as shared (a store phone for conflicting people)
        p["phone"] = "+31655550101"
    make_warehouse(home, people)
    with duckdb.connect(str(home.warehouse)) as con:
        con.execute("create schema if not exists intermediate")
        con.execute(
            "create or replace table intermediate.int_identity_records_unioned as "
            "select 'pos:loyalty_members:' || customer_id as record_key, email as email_normalized, "
            "phone as phone_e164 from restricted.audience_contacts"
        )
        con.execute(
            "create or replace table intermediate.int_identity_identifiers_screened as "
            "select record_key, 'phone' as identifier_type, phone_e164 as identifier_value, "
            "12 as record_count, "
            "'shared' as identifier_status from intermediate.int_identity_records_unioned "
            "where phone_e164 = '+31655550101'"
        )
    folder = tmp_path / "segments"
    write_segment(folder, "text", "filter: 'true'\nconsent: sms\ndestinations: [sms]\n")
    write_segment(
        folder,
        "ads",
        "filter: 'true'\nconsent: email\n"
        "destinations: [meta_custom_audience, google_customer_match, mailchimp]\n",
    )

    export_segments(home, DAY, folder)

    out = home.exports / DAY.isoformat()
    text = "".join(path.read_text() for path in out.rglob("*.csv"))
    for number in ("+31600000000", "+31611111111", "+31201234567", "+31655550101"):
        assert number not in text
        assert sha(number) not in text
        assert sha(number.lstrip("+")) not in text
    assert "test@test.com" not in text
    assert sha("test@test.com") not in text
    sms = {row["phone_number"] for row in read(out / "text" / "sms.csv")}
    assert sms == {p["phone"] for p in people[:10] + people[38:] if p["phone"].startswith("+316")} - {
        "+31600000000",
        "+31611111111",
    }
    meta = {row["extern_id"] for row in read(out / "ads" / "meta_custom_audience.csv")}
    assert "C0012" in meta  # the shared phone is left out, the person's own email still goes


# --- 4. a POS-only base without any contact details (real pipeline) -------------------------------


def _csv_text(fields: list[str], rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def pos_only(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A CDNOW-like base: anonymous and loyalty-card receipts, members with no email and no phone. The
    other sources deliver header-only files (CSV) or a blank line (JSONL)."""
    import ingest
    from cdp import pipeline

    root = tmp_path_factory.mktemp("pos_only")
    settings = Settings.load(home=root / "home", raw=root / "raw").ensure()
    pos = ingest.load_contract("pos")
    drop = settings.raw / "pos" / DAY.isoformat()
    drop.mkdir(parents=True)
    receipts = [
        {
            "receipt_id": f"R{i:04d}",
            "line_no": 1,
            "store_id": "S1",
            "tx_time": f"2026-0{1 + i % 3}-{1 + i % 27:02d} 12:00:00",
            "loyalty_card_no": "" if i % 4 == 0 else f"L{i % 9:03d}",
            "sku": "CD",
            "quantity": 1,
            "unit_price": "9.99",
            "discount": "0",
            "currency": "EUR",
            "payment_method": "card",
        }
        for i in range(60)
    ]
    (drop / "transactions.csv").write_text(
        _csv_text([f.name for f in pos.entity("transactions").fields], receipts), encoding="utf-8"
    )
    members = [
        {
            "loyalty_card_no": f"L{i:03d}",
            "first_name": "Kim",
            "updated_at": "2026-01-01 09:00:00",
            "enrolled_at": "2026-01-01 09:00:00",
        }
        for i in range(9)
    ]
    (drop / "loyalty_members.csv").write_text(
        _csv_text([f.name for f in pos.entity("loyalty_members").fields], members), encoding="utf-8"
    )
    pipeline.ingest_source(settings, DAY, "pos")
    from cdp.config import SOURCES

    for source in [s for s in SOURCES if s != "pos"]:  # every other shipped source (service too)
        contract = ingest.load_contract(source)
        folder = settings.raw / source / DAY.isoformat()
        folder.mkdir(parents=True)
        for entity in contract.entities:
            header = ",".join(f.name for f in entity.fields) + "\n" if contract.format == "csv" else "\n"
            (folder / entity.file).write_text(header, encoding="utf-8")
        pipeline.ingest_source(settings, DAY, source)
    for stage in (
        pipeline.build_identity_inputs, pipeline.fit_identity, pipeline.build_models, pipeline.fit_clv,
        pipeline.build_value_models,
    ):
        stage(settings, DAY)
    pipeline.publish_warehouse(settings, DAY)  # the export of this test runs on its own, after the night
    return settings


@pytest.mark.slow
def test_export_on_a_base_without_contact_details(pos_only: Settings) -> None:
    from cdp import pipeline

    with duckdb.connect(str(pos_only.warehouse), read_only=True) as con:
        customers, emails, phones = con.execute(
            "select count(*), count(email), count(phone) from restricted.audience_contacts"
        ).fetchone()
    assert customers > 0
    assert emails == 0
    assert phones == 0

    result = pipeline.export(pos_only, DAY)

    assert result["rejected_definitions"] == []
    files = {(f["segment"], f["destination"]): f["rows"] for f in result["files"]}
    assert ("social_fans_never_bought", "meta_custom_audience") in files
    assert all(rows == 0 for (segment, destination), rows in files.items() if destination != "generic_csv")
    for path in (pos_only.exports / DAY.isoformat()).rglob("*.csv"):
        if not path.name.startswith("generic_csv"):
            assert re.fullmatch(r"[^\n]*\n", path.read_text(encoding="utf-8")), path.name  # header only


@pytest.mark.slow
def test_forget_removes_staging_folders(pos_only: Settings) -> None:
    """``cdp forget`` used to skip dot-folders: a killed export's plain files outlived the erasure."""
    from cdp.privacy import forget

    with duckdb.connect(str(pos_only.warehouse), read_only=True) as con:
        (customer_id,) = con.execute("select min(customer_id) from restricted.audience_contacts").fetchone()
    leave_staging(pos_only, customer_id)

    forget(pos_only, customer_id=customer_id)

    assert customer_id not in "".join(p.read_text() for p in pos_only.exports.rglob("*.csv"))
    assert not [p for p in pos_only.exports.iterdir() if p.name.startswith((".tmp-", ".old-"))]
