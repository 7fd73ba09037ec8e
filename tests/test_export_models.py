"""Segment membership and the destination files are dbt models (issue 20, point 3).

Before, ``exports/publish.py`` assembled the members, reachability and blocked-address SQL as strings
and ``exports/destinations.py`` held each file's columns as Python lambdas: nothing declared what an
export file rests on, no contract or data test stood between a broken rule and a written file, and
no exposure said what leaves the warehouse. Now each is a model with an enforced contract, the files
are exposures, and the export's ``dbt build`` gates the files.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from export_inputs import add_export_inputs

from cdp import dbt_runner
from cdp.config import Settings
from cdp.dbt_runner import WarehouseBuildError, dbt_args, invoke
from exports import export_segments
from exports.destinations import DESTINATIONS

DAY = date(2026, 3, 10)
EXPORT_MODELS = {"segment_memberships", "audience_blocked_addresses", "audience_reachability"} | {
    d.model for d in DESTINATIONS.values()
}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings.load(home=tmp_path_factory.mktemp("export_models") / "home").ensure()
    result = invoke(settings, dbt_args(settings, ["parse"]))
    assert result.success, result.exception
    return json.loads((settings.dbt_target_dir / "manifest.json").read_text(encoding="utf-8"))


def _model(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return manifest["nodes"][f"model.cdp.{name}"]


def test_the_export_rules_are_contracted_models_built_by_the_export(manifest: dict[str, Any]) -> None:
    for name in EXPORT_MODELS:
        node = _model(manifest, name)
        assert node["config"]["contract"]["enforced"], name
        assert "segment_export" in node["config"]["tags"], name  # the nightly build leaves them out
        assert node["description"], name
        assert all(c["description"] for c in node["columns"].values()), name
        assert all(c.get("data_type") for c in node["columns"].values()), name


def test_every_destination_file_is_an_exposure_on_its_model(manifest: dict[str, Any]) -> None:
    exposed = {
        parent.removeprefix("model.cdp."): exposure["name"]
        for exposure in manifest["exposures"].values()
        for parent in exposure["depends_on"]["nodes"]
    }
    for destination in DESTINATIONS.values():
        assert exposed.get(destination.model) == f"{destination.name}_file"
        node = _model(manifest, destination.model)
        # Contact files hold plain or hashed personal data: the restricted schema, never marts.
        assert node["schema"] == ("restricted" if destination.is_contact else "marts"), destination.name
        headers = [c["meta"].get("export_column") for c in node["columns"].values()]
        assert [h for h in headers if h], destination.name  # the file has columns, declared in dbt
        assert "reachability" in " ".join(node["depends_on"]["nodes"])  # contacts only through the rules


def _warehouse(settings: Settings, duplicate_contact: bool = False) -> None:
    with duckdb.connect(str(settings.warehouse)) as con:
        for schema in ("marts", "restricted"):
            con.execute(f"create schema if not exists {schema}")
        add_export_inputs(con)
        con.execute("create table marts.customer_360 (customer_id varchar, rfm_segment varchar)")
        con.execute("insert into marts.customer_360 values ('C1', 'Champions'), ('C2', 'Lost')")
        # Promotional segments hold back customers with an open complaint (D64).
        con.execute("alter table marts.customer_360 add column has_open_complaint boolean default false")
        con.execute(
            "create table restricted.audience_contacts (customer_id varchar, email varchar, phone varchar, "
            "first_name varchar, last_name varchar, is_email_suppressed boolean, is_sms_suppressed boolean, "
            "can_email boolean, can_sms boolean)"
        )
        rows = [("C1", "ann@example.com"), ("C2", "bo@example.com")]
        if duplicate_contact:
            rows.append(("C1", "ann.other@example.com"))  # two contact rows for one customer
        for customer_id, email in rows:
            con.execute(
                "insert into restricted.audience_contacts "
                "values (?, ?, null, 'A', 'B', false, false, true, false)",
                [customer_id, email],
            )


def _segments(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "champs.yml").write_text(
        "name: champs\ndescription: test\nowner: tests\n"
        "filter: \"rfm_segment   =   'Champions' /* a comment in the YAML */\"\n"
        "consent: email\ndestinations: [mailchimp, generic_csv]\n",
        encoding="utf-8",
    )
    return folder


def test_only_the_checked_filter_reaches_the_warehouse(tmp_path: Path) -> None:
    """The membership model gets the filter as exports/filters.py parsed and rendered it: the YAML's
    own text (spacing, a comment) is not what runs."""
    settings = Settings.load(home=tmp_path / "home").ensure()
    _warehouse(settings)
    run = export_segments(settings, DAY, _segments(tmp_path / "segments"))

    assert run.members == {"champs": 1}
    compiled = next((settings.dbt_target_dir / "run").rglob("segment_memberships.sql")).read_text()
    # ... and, the segment being promotional, the open-complaint hold-back after it (D64).
    assert "where ((rfm_segment = 'Champions') AND NOT has_open_complaint)" in compiled
    assert "comment" not in compiled
    assert "rfm_segment   =" not in compiled
    files = settings.exports / DAY.isoformat() / "champs"
    expected = "Email Address,First Name,Last Name\nann@example.com,A,B\n"
    assert (files / "mailchimp.csv").read_text() == expected


def test_a_rule_that_breaks_fails_the_export_before_a_file_is_written(tmp_path: Path) -> None:
    """Two contact rows for one customer would put a person in a file twice, with two addresses: the
    reachability model's primary-key test fails the export's dbt build, and nothing is published."""
    settings = Settings.load(home=tmp_path / "home").ensure()
    _warehouse(settings, duplicate_contact=True)

    with pytest.raises(WarehouseBuildError) as raised:
        export_segments(settings, DAY, _segments(tmp_path / "segments"))

    assert "audience_reachability" in str(raised.value)
    assert "ann" not in str(raised.value)  # names of nodes, never values
    assert not (settings.exports / DAY.isoformat()).exists()
    assert [p.name for p in settings.exports.iterdir() if p.name.startswith((".tmp-", ".old-"))] == []


def test_new_segment_definitions_cost_no_new_parse(tmp_path: Path) -> None:
    """The segments are a compile-time var: the parse (and dbt's partial parsing) never sees them, so
    an edited definition does not make the next invocation parse the whole project again."""
    settings = Settings.load(home=tmp_path / "home").ensure()
    _warehouse(settings)
    folder = _segments(tmp_path / "segments")
    export_segments(settings, DAY, folder)
    parsed = [id(entry) for entry in dbt_runner._MANIFEST_CACHE.values()]

    (folder / "lost.yml").write_text(
        "name: lost\ndescription: test\nowner: tests\nfilter: rfm_segment = 'Lost'\n"
        "consent: email\ndestinations: [klaviyo]\n",
        encoding="utf-8",
    )
    run = export_segments(settings, DAY, folder)

    assert run.members == {"champs": 1, "lost": 1}
    assert [id(entry) for entry in dbt_runner._MANIFEST_CACHE.values()] == parsed  # one parse, reused
    with pytest.raises(ValueError, match="would change dbt's parse"):
        dbt_args(settings, ["build"], DAY, {"market": "cn"})
