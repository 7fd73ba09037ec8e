"""Segment exports on a hand-made warehouse: definitions, consent, hashing, control groups, deltas."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date
from pathlib import Path

import duckdb
import pytest
from export_inputs import add_export_inputs

from cdp.config import Settings
from exports import SegmentDefinitionError, export_segments, load_definitions
from exports.definitions import SEGMENTS_DIR

DAY = date(2026, 3, 10)
UNEXPORTED_DAY = date(2026, 3, 20)  # no test exports this day
CHAMPIONS = "filter: rfm_segment = 'Champions'\nconsent: email\n"

# customer_id, rfm_segment, lifecycle_stage, email, phone, can_email, can_sms
CUSTOMERS = [
    ("C1", "Champions", "active", "Ann.Lee@Gmail.com", "+31612345678", True, True),
    ("C2", "Champions", "active", "bob@example.com", "+31687654321", False, False),  # opted out
    ("C3", "Champions", "active", "cy@example.com", None, True, False),
    ("C4", "Lost", "churned", "dee@example.com", "+31611111111", True, True),
]


def make_warehouse(settings: Settings, customers=CUSTOMERS) -> None:
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema if not exists marts")
        con.execute("create schema if not exists restricted")
        add_export_inputs(con)
        con.execute(
            "create or replace table marts.customer_360 (customer_id varchar, rfm_segment varchar, "
            "lifecycle_stage varchar, m_score integer, tier varchar, "
            "has_open_complaint boolean default false)"  # promotional segments hold these back (D64)
        )
        con.execute(
            "create or replace table restricted.audience_contacts (customer_id varchar, email varchar, "
            "phone varchar, first_name varchar, last_name varchar, can_email boolean, can_sms boolean, "
            "is_email_suppressed boolean default false, is_sms_suppressed boolean default false)"
        )
        for cid, rfm, stage, email, phone, can_email, can_sms in customers:
            con.execute(
                "insert into marts.customer_360 (customer_id, rfm_segment, lifecycle_stage, m_score, tier) "
                "values (?, ?, ?, 5, 'gold')",
                [cid, rfm, stage],
            )
            con.execute(
                "insert into restricted.audience_contacts (customer_id, email, phone, first_name, last_name, "
                "can_email, can_sms) values (?, ?, ?, 'First', 'Last', ?, ?)",
                [cid, email, phone, can_email, can_sms],
            )


def write_segment(folder: Path, name: str, body: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yml").write_text(f"name: {name}\ndescription: test\nowner: tests\n{body}")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings.load(home=tmp_path / "home", raw=tmp_path / "raw").ensure()
    make_warehouse(settings)
    return settings


def test_shipped_definitions_are_valid() -> None:
    loaded = load_definitions(SEGMENTS_DIR)
    assert not loaded.errors
    assert {s.name for s in loaded.segments} >= {
        "vip_champions",
        "new_customers_welcome",
        "dormant_winback",
        "at_risk_high_value",
        "promotion_hunters",
        "social_fans_never_bought",
    }


def _bad_definitions(folder: Path) -> None:
    write_segment(
        folder, "good", CHAMPIONS + "destinations: [mailchimp]\n"
    )
    write_segment(
        folder, "bad_column", "filter: no_such_column = 1\nconsent: email\ndestinations: [mailchimp]"
    )
    write_segment(
        folder, "bad_sql", "filter: rfm_segment = = 'x'\nconsent: email\ndestinations: [mailchimp]\n"
    )
    write_segment(folder, "bad_destination", "filter: 'true'\nconsent: email\ndestinations: [fax]\n")
    write_segment(folder, "no_consent", "filter: 'true'\ndestinations: [sms]\n")


def test_bad_definitions_fail_the_export_by_name_and_export_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    """Issue 20: a definition that no longer builds was logged and skipped while the export succeeded,
    so a campaign audience disappeared without anyone being told."""
    folder = tmp_path / "segments"
    _bad_definitions(folder)
    with pytest.raises(SegmentDefinitionError) as raised:
        export_segments(settings, UNEXPORTED_DAY, folder)

    message = str(raised.value)
    assert message.startswith("4 segment definition(s) do not build, nothing was exported")
    for name in ("bad_column.yml", "bad_sql.yml", "bad_destination.yml", "no_consent.yml"):
        assert name in message
    assert "good" not in message.replace("good.yml", "")
    assert "\n" not in message
    assert not (settings.exports / UNEXPORTED_DAY.isoformat()).exists()
    assert not [p for p in settings.exports.iterdir() if p.name.startswith(".tmp-")]


def test_bad_definitions_can_be_reported_while_the_others_export(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "segments"
    _bad_definitions(folder)

    run = export_segments(settings, DAY, folder, invalid_segments="report")

    rejected = "\n".join(run.rejected)
    assert "bad_column.yml: unknown column" in rejected or "bad_column.yml: filter does not run" in rejected
    assert "no_such_column" in rejected
    assert "bad_sql.yml: filter is not a valid SQL expression" in rejected
    assert "bad_destination.yml: unknown destination 'fax'" in rejected
    assert "no_consent.yml: destination 'sms' carries contact data" in rejected
    assert [r.segment for r in run.results] == ["good"]


def test_consent_hashing_and_control_group(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "segments"
    write_segment(
        folder,
        "champs",
        "filter: rfm_segment = 'Champions'\nconsent: email\n"
        "destinations: [mailchimp, meta_custom_audience, google_customer_match]\n",
    )
    run = export_segments(settings, DAY, folder)
    out = settings.exports / DAY.isoformat() / "champs"

    mailchimp = read(out / "mailchimp.csv")
    assert {row["Email Address"] for row in mailchimp} == {"ann.lee@gmail.com", "cy@example.com"}
    assert list(mailchimp[0]) == ["Email Address", "First Name", "Last Name"]

    meta = {row["extern_id"]: row for row in read(out / "meta_custom_audience.csv")}
    assert set(meta) == {"C1", "C3"}  # C2 opted out of everything
    assert meta["C1"]["email"] == hashlib.sha256(b"ann.lee@gmail.com").hexdigest()
    assert meta["C1"]["phone"] == hashlib.sha256(b"31612345678").hexdigest()
    assert meta["C3"]["phone"] == ""
    google = read(out / "google_customer_match.csv")
    assert hashlib.sha256(b"annlee@gmail.com").hexdigest() in {row["Email"] for row in google}
    assert hashlib.sha256(b"+31612345678").hexdigest() in {row["Phone"] for row in google}
    text = "".join(path.read_text() for path in out.glob("meta*.csv"))
    assert "@" not in text
    assert "+31" not in text
    assert (run.members["champs"], run.control["champs"]) == (3, 0)


def test_control_group_is_stable_recorded_and_never_exported(settings: Settings, tmp_path: Path) -> None:
    many = [(f"C{i:04d}", "Champions", "active", f"p{i}@example.com", None, True, False) for i in range(400)]
    make_warehouse(settings, many)
    folder = tmp_path / "segments"
    write_segment(
        folder, "held", "filter: 'true'\nconsent: email\ndestinations: [mailchimp]\ncontrol_share: 0.25\n"
    )
    first = export_segments(settings, DAY, folder)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        control = {
            row[0]
            for row in con.execute(
                "select customer_id from ops.segment_membership where segment = 'held' and is_control"
            ).fetchall()
        }
    assert 60 < len(control) < 140  # about a quarter of 400
    exported = {
        row["Email Address"] for row in read(settings.exports / DAY.isoformat() / "held" / "mailchimp.csv")
    }
    assert not exported & {f"p{int(cid[1:])}@example.com" for cid in control}
    assert len(exported) == 400 - len(control)

    second = export_segments(settings, date(2026, 3, 11), folder)
    assert second.control == first.control
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        again = {
            row[0]
            for row in con.execute(
                "select customer_id from ops.segment_membership "
                "where segment = 'held' and is_control and run_date = '2026-03-11'"
            ).fetchall()
        }
    assert again == control


def test_deltas_and_idempotent_rerun(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "segments"
    write_segment(
        folder, "champs", CHAMPIONS + "destinations: [klaviyo]\n"
    )
    export_segments(settings, DAY, folder)
    # Next day: Ann leaves the segment, Dee joins it.
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("update marts.customer_360 set rfm_segment = 'Lost' where customer_id = 'C1'")
        con.execute("update marts.customer_360 set rfm_segment = 'Champions' where customer_id = 'C4'")
    next_day = date(2026, 3, 11)
    export_segments(settings, next_day, folder)
    out = settings.exports / next_day.isoformat() / "champs"
    assert [row["Email"] for row in read(out / "klaviyo.added.csv")] == ["dee@example.com"]
    assert [row["Email"] for row in read(out / "klaviyo.removed.csv")] == ["ann.lee@gmail.com"]

    before = {p.name: p.read_bytes() for p in out.iterdir()}
    export_segments(settings, next_day, folder)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        history = con.execute(
            "select run_date, count(*) from ops.segment_membership group by 1 order by 1"
        ).fetchall()
    assert history == [(DAY, 3), (next_day, 3)]  # members incl. the opted-out; re-run replaced


def test_failed_export_publishes_nothing(settings: Settings, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "segments"
    write_segment(
        folder, "champs", CHAMPIONS + "destinations: [klaviyo]\n"
    )
    import exports.publish as publish

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(publish, "_write_manifest", boom)
    with pytest.raises(OSError, match="disk full"):
        export_segments(settings, DAY, folder)
    assert not (settings.exports / DAY.isoformat()).exists()
    assert not [p for p in settings.exports.iterdir() if p.name.startswith(".tmp")]


def test_segments_cli_lists_sizes_and_explains_the_preview(settings: Settings, tmp_path: Path) -> None:
    """Issue #23: ``list`` showed no sizes (the README said it did); ``preview`` printed unlabelled
    columns and counted can_email without saying who the control group and the rules leave out."""
    from typer.testing import CliRunner

    from cdp.cli import app

    folder = tmp_path / "segments"
    write_segment(folder, "champs", CHAMPIONS + "destinations: [mailchimp]\n")
    export_segments(settings, DAY, folder)  # builds restricted.audience_reachability, as a night does
    runner = CliRunner()
    listed = runner.invoke(app, ["segments", "list", "--home", str(settings.home)])
    assert listed.exit_code == 0, listed.output
    assert "vip_champions (crm-team): 3 members" in listed.output
    # This small warehouse lacks behaviour columns: that definition is reported, not fatal.
    assert "rejected" in listed.output
    assert "promotion_hunters.yml" in listed.output

    preview = runner.invoke(app, ["segments", "preview", "vip_champions", "--home", str(settings.home)])
    assert preview.exit_code == 0, preview.output
    text = " ".join(preview.output.split())
    assert "vip_champions: 3 members; 0 held out as control group (10%" in text
    # C1 reachable both ways; C2 opted out of both; C3 has no phone.
    assert "email: 2 reachable; left out: 0 no address, 0 suppressed, 1 no consent" in text
    assert "sms: 1 reachable; left out: 1 no address, 0 suppressed, 1 no consent" in text
    assert "mailchimp.csv: 2 rows" in text
    assert "meta_custom_audience.csv: 2 rows below the 100 people the tool needs (Meta" in text
    for label in ("customer_id", "email (masked)", "phone (masked)"):
        assert label in preview.output
    assert "A***@Gmail.com" in preview.output  # masked as stored (the real view holds normalised emails)
    for plain in ("ann.lee@gmail.com", "Ann.Lee@Gmail.com", "+31612345678", "cy@example.com"):
        assert plain not in preview.output

    adhoc = runner.invoke(
        app, ["segments", "preview", "--filter", "lifecycle_stage = 'churned'", "--home", str(settings.home)]
    )
    assert adhoc.exit_code == 0, adhoc.output
    text = " ".join(adhoc.output.split())
    assert "adhoc: 1 members; 0 held out" in text
    assert "sms: 0 reachable; left out: 0 no address, 0 suppressed, 0 no consent, 1 junk or shared" in text
    for bad in ("email = 'x' or 1 = 1) --", "(select 1) = 1", "no_such_column = 1"):
        refused = runner.invoke(app, ["segments", "preview", "--filter", bad, "--home", str(settings.home)])
        assert refused.exit_code == 1, refused.output
        assert "error: --filter:" in refused.output


def test_members_whose_attributes_changed_are_updates_not_added_and_removed(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue #23: a member whose name changed was in both the added and the removed file. Now they are
    one row of ``<destination>.updated.csv`` (the destination's key: the email for Klaviyo,
    extern_id for Meta); the manifest names the export the deltas compare with, and a file below the
    tool's minimum audience is warned about (Meta: 100 people)."""
    folder = tmp_path / "segments"
    write_segment(folder, "champs", CHAMPIONS + "destinations: [klaviyo, meta_custom_audience]\n")
    export_segments(settings, DAY, folder)
    next_day = date(2026, 3, 11)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("update restricted.audience_contacts set first_name = 'Anne' where customer_id = 'C1'")
        con.execute("update restricted.audience_contacts set phone = null where customer_id = 'C1'")
        con.execute("update marts.customer_360 set rfm_segment = 'Champions' where customer_id = 'C4'")
    with caplog.at_level("WARNING", logger="exports.publish"):
        export_segments(settings, next_day, folder)
    out = settings.exports / next_day.isoformat() / "champs"
    assert [(r["Email"], r["First Name"]) for r in read(out / "klaviyo.updated.csv")] == [
        ("ann.lee@gmail.com", "Anne")
    ]
    assert [r["Email"] for r in read(out / "klaviyo.added.csv")] == ["dee@example.com"]
    assert read(out / "klaviyo.removed.csv") == []
    meta_updated = read(out / "meta_custom_audience.updated.csv")
    assert [(r["extern_id"], r["phone"]) for r in meta_updated] == [("C1", "")]
    assert [r["extern_id"] for r in read(out / "meta_custom_audience.added.csv")] == ["C4"]
    assert read(out / "meta_custom_audience.removed.csv") == []

    manifest = json.loads((settings.exports / next_day.isoformat() / "manifest.json").read_text())
    klaviyo = manifest["segments"]["champs"]["destinations"]["klaviyo"]
    assert (klaviyo["added"], klaviyo["removed"], klaviyo["updated"]) == (1, 0, 1)
    assert klaviyo["compared_with"] == DAY.isoformat()
    assert klaviyo["left_out"]["no_consent"] == 1  # C2 opted out
    meta = manifest["segments"]["champs"]["destinations"]["meta_custom_audience"]
    assert (meta["min_audience"], meta["below_min_audience"]) == (100, True)
    assert "below the 100 people" in caplog.text
    assert "champs/meta_custom_audience: 3 rows" in caplog.text
