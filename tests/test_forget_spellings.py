"""Forget and suppression read an address exactly as identity does.

Identity links ``anna.hendriks@gmail.com`` and ``annahendriks+shop@googlemail.com`` (one mailbox: Gmail
ignores dots, every provider drops ``+tag``). A forget or a suppression entry in a third spelling must
reach that person, and a forget that reaches nobody must say so and fail. The dbt SQL and the Python
implementation of the email rules are run over one corpus of spellings and must agree.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from typer.testing import CliRunner

import ingest
from cdp import dbt_runner, identifiers, suppression, warehouse
from cdp.cli import app
from cdp.config import SOURCES, Settings
from cdp.generator import generate
from ingest import erasure

END = date(2026, 11, 15)
ANNA_ACCOUNT = "CANNA00001"
ANNA_PROFILE = "instagram:anna_hendriks_test"
REQUESTED = "anna.hendriks+news@gmail.com"  # the spelling the person writes to us with


# ----------------------------------------------------------------------------- SQL == Python, by corpus

HAND_PICKED = [
    "anna.hendriks+news@gmail.com", " Anna.Hendriks@GMAIL.com ", "a.n.n.a@googlemail.com", "anna+@gmail.com",
    "+tag@example.com", "anna+a+b@shop.nl", "jan.de.vries@outlook.com", "ｊａｎ＠ｅｘａｍｐｌｅ．ｎｌ",
    "jan\u3000@example.nl", "\u3000jan@example.nl\u3000", "jan@@example.nl", "jan@exa@mple.nl", "jan",
    "jan @example.nl", "jan@example.nl\t", "\tjan@example.nl", "JAN@EXAMPLE.NL", "", "@", "a@", "@b",
    "王伟@qq.com", "Éloïse.Dupont@Gmail.Com", "İstanbul@example.com", "straße@example.de", "ΣΟΦΙΑ@example.gr",
    "o'brien+x@gmail.com", "x.@gmail.com", ".x@gmail.com", "anna.hendriks@gmail.com.",
    # DuckDB's trim() strips every Unicode space separator (hypothesis found "0@\xa0"), not line breaks.
    "0@\xa0", "\xa0jan@example.nl\u2007", "jan@example.nl\u202f", "jan@example.nl\u2028",
]
_LOCAL = st.text(
    alphabet=st.sampled_from(
        [*"abcXYZ019._-+' ", "\t", "é", "É", "ß", "Σ", "İ", "Ａ", "．", "＋", "\u3000", "王"]
    ),
    max_size=12,
)
_DOMAIN = st.sampled_from(
    ["gmail.com", "GMail.com", "googlemail.com", "example.nl", "ｅｘａｍｐｌｅ．ｎｌ", "qq.com", "", "x"]
)
SPELLINGS = st.one_of(
    st.builds(lambda a, sep, d: a + sep + d, _LOCAL, st.sampled_from(["@", "＠", "@@", "", " @"]), _DOMAIN),
    st.text(max_size=20),
)


@pytest.fixture(scope="module")
def sql_email_rules(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The SQL dbt runs for ``normalize_email`` and ``email_match_key``, compiled from the macros."""
    settings = Settings.load(home=tmp_path_factory.mktemp("email_rules") / "home").ensure()
    inline = (
        "select v, {{ normalize_email('v') }} as normalized, "
        "{{ email_match_key(normalize_email('v')) }} as match_key from corpus"
    )
    result = dbt_runner.invoke(settings, dbt_runner.dbt_args(settings, ["compile", "--inline", inline]))
    assert result.success, result.exception
    return result.result.results[0].node.compiled_code


def _compare(sql: str, values: list[str]) -> list[tuple[str, Any, Any]]:
    con = duckdb.connect()
    con.register("corpus", pa.table({"v": pa.array(values, pa.string())}))
    rows = con.execute(sql).fetchall()
    con.close()
    python = {v: (identifiers.normalize_email(v), identifiers.email_key(v)) for v in values}
    return [(v, (n, k), python[v]) for v, n, k in rows if (n, k) != python[v]]


def test_sql_and_python_email_rules_agree_on_hand_picked_spellings(sql_email_rules: str) -> None:
    assert _compare(sql_email_rules, HAND_PICKED) == []
    assert identifiers.email_key(REQUESTED) == identifiers.email_key("anna.hendriks@gmail.com")
    assert identifiers.email_key(REQUESTED) == identifiers.email_key("annahendriks+shop@googlemail.com")


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(SPELLINGS, min_size=1, max_size=40))
def test_sql_and_python_email_rules_agree_on_generated_spellings(
    sql_email_rules: str, values: list[str]
) -> None:
    assert _compare(sql_email_rules, values) == []


# ----------------------------------------------------------------------------- forget and suppression


def _append_anna(raw: Path, day: str) -> None:
    with (raw / "ecommerce" / day / "customers.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({
            "customer_id": ANNA_ACCOUNT, "email": "Anna.Hendriks@gmail.com", "first_name": "Anna",
            "last_name": "Hendriks", "phone": None, "birthday": "1984-02-29", "gender": "vrouw",
            "address": None,
            "created_at": f"{day}T08:00:00Z", "updated_at": f"{day}T08:00:00Z",
            "consent": {"email": True, "sms": False},
        }) + "\n")
    platform, handle_name = ANNA_PROFILE.split(":")
    with (raw / "social" / day / "profiles.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({
            "platform": platform, "user_handle": handle_name, "display_name": "Anna Hendriks",
            "email": "annahendriks+shop@googlemail.com", "phone": None, "city": None,
            "followed_at": f"{day}T09:00:00Z",
        }) + "\n")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small Dutch world plus Anna in two spellings, a suppression entry in a third, built once."""
    root = tmp_path_factory.mktemp("forget_spellings")
    raw = root / "raw"
    result = generate(raw, people=200, days=1, end_date=END, seed=5)
    _append_anna(raw, result.drop_dates[0])
    settings = Settings.load(home=root / "home", raw=raw).ensure()
    suppression.add_suppression(
        settings, "email", "ANNA.HENDRIKS+NEWS@gmail.com", "asked by phone", "2026-11-01"
    )
    for day in result.drop_dates:
        for source in SOURCES:
            ingest.land_source(settings, source, date.fromisoformat(day))
    warehouse.build(settings, END)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        ids = con.execute(
            "select distinct customer_id from marts.customer_identity_map where "
            "(source, entity, source_record_id) in "
            f"(('ecommerce', 'customers', '{ANNA_ACCOUNT}'), ('social', 'profiles', '{ANNA_PROFILE}'))"
        ).fetchall()
    assert len(ids) == 1, "identity should link Anna's two spellings; the test proves nothing otherwise"
    return {"settings": settings, "customer_id": ids[0][0]}


@pytest.mark.slow
def test_a_suppressed_spelling_suppresses_the_person(home: dict[str, Any]) -> None:
    with duckdb.connect(str(home["settings"].warehouse), read_only=True) as con:
        row = con.execute(
            "select is_email_suppressed, can_email from restricted.audience_contacts where customer_id = ?",
            [home["customer_id"]],
        ).fetchone()
    assert row == (True, False)


@pytest.mark.slow
def test_a_forget_that_matches_nobody_says_so_and_fails(home: dict[str, Any]) -> None:
    settings = home["settings"]
    before = erasure.read_tombstones(settings).num_rows
    result = CliRunner().invoke(
        app, ["forget", "--email", "nobody.at.all@example.org", "--home", str(settings.home)]
    )
    assert result.exit_code != 0
    assert "nobody in the warehouse or the lake" in " ".join(result.output.split())
    assert "nobody.at.all" not in result.output
    assert erasure.read_tombstones(settings).num_rows == before


@pytest.mark.slow
def test_forget_by_another_spelling_erases_the_person(home: dict[str, Any]) -> None:
    settings, customer_id = home["settings"], home["customer_id"]
    result = CliRunner().invoke(app, ["forget", "--email", REQUESTED, "--home", str(settings.home)])
    assert result.exit_code == 0, result.output
    assert "1 customer(s), 2 record(s)" in " ".join(result.output.split())  # the console wraps lines
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert con.execute(
            "select count(*) from marts.customer_identity_map where customer_id = ?", [customer_id]
        ).fetchone() == (0,)
        left = con.execute(
            "select count(*) from read_parquet(?, union_by_name = true) "
            "where email in ('Anna.Hendriks@gmail.com', 'annahendriks+shop@googlemail.com')",
            [str(settings.lake / "landing" / "*" / "*" / "*" / "*.parquet")],
        ).fetchone()
    assert left == (0,)
    # A re-sent row in yet another spelling is erased at landing (the tombstone holds the match key).
    eraser = erasure.Eraser.load(settings)
    assert eraser is not None
    resent = " a.n.n.a.h.e.n.d.r.i.k.s+x@GoogleMail.com"
    table = pa.table({"customer_id": ["C1"], "email": [resent], "phone": pa.array([None], pa.string())})
    assert eraser.landed_mask("ecommerce", "customers", table).tolist() == [True]
