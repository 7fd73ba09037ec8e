"""The hashed forms a destination file carries (the dbt macros ``google_email`` and ``meta_phone`` the
destination models hash, macros/privacy/destination_forms.sql) and the ones `cdp forget` looks for in
published files (cdp.identifiers, Python) are the same text: one rule per form. Before, privacy.py kept
its own copy of Google's gmail rule and Meta's phone digits."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp import dbt_runner, identifiers
from cdp.config import Settings

EMAILS = ["jan.de.vries@gmail.com", " A.B@GoogleMail.com ", "x.y@example.com", "a@b", "张.伟@gmail.com"]
PHONES = ["+31612345678", "+8613812345678", "0031 6 1234 5678", "+1 (555) 010-0000", "00"]


@pytest.fixture(scope="module")
def forms_sql(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The SQL the destination models run for the two forms, compiled from the macros."""
    home = Settings.load(home=tmp_path_factory.mktemp("forms") / "home").ensure()
    inline = "select email, {{ google_email('email') }}, phone, {{ meta_phone('phone') }} from members"
    result = dbt_runner.invoke(home, dbt_runner.dbt_args(home, ["compile", "--inline", inline]))
    assert result.success, result.exception
    return result.result.results[0].node.compiled_code


def _sql_forms(sql: str, emails: list[str], phones: list[str]) -> list[tuple[str, str, str, str]]:
    rows = pa.table({"email": pa.array(emails, pa.string()), "phone": pa.array(phones, pa.string())})
    with duckdb.connect() as con:
        con.register("members", rows)
        return con.execute(sql).fetchall()


def _python_forms(emails: list[str], phones: list[str]) -> list[tuple[str, str, str, str]]:
    return [
        (email, identifiers.google_email(email), phone, identifiers.meta_phone(phone))
        for email, phone in zip(emails, phones, strict=True)
    ]


def test_destination_forms_equal_the_python_rules(forms_sql: str) -> None:
    assert _sql_forms(forms_sql, EMAILS, PHONES) == _python_forms(EMAILS, PHONES)
    assert identifiers.google_email("Jan.de.Vries@gmail.com") == "jandevries@gmail.com"
    assert identifiers.meta_phone("+31 6 12345678") == "31612345678"


@given(pairs=st.lists(st.tuples(st.emails(), st.text(alphabet="+0123456789 ()-", max_size=16)), max_size=25))
@settings(max_examples=40, deadline=None)
def test_alike_on_generated_addresses(forms_sql: str, pairs: list[tuple[str, str]]) -> None:
    emails = [e for e, _ in pairs]
    phones = [p for _, p in pairs]
    assert _sql_forms(forms_sql, emails, phones) == _python_forms(emails, phones)
