"""Masking has one rule per kind: the dbt macros the marts use (macros/privacy/masking.sql) and
cdp.identifiers, which the commands use (suppression list, explain, segment preview), give the same
text for every value. Issue 20 found three implementations that disagreed (the domain kept in dbt and
masked in Python; the phone's length hidden in dbt and revealed in Python; the preview its own way)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp import dbt_runner, identifiers
from cdp.config import Settings

CORPUS = [
    "jane.doe@example.com", "a@b.nl", "x@localhost", "no-at-sign", "@example.com", "a@b@c.nl",
    "张伟@例子.中国", "ÅSA@ÖRNSKÖLDSVIK.SE", "j", "+31612345678", "+8613812345678", "+1", "+3", "",
]


@pytest.fixture(scope="module")
def masking_sql(tmp_path_factory: pytest.TempPathFactory) -> str:
    home = Settings.load(home=tmp_path_factory.mktemp("masking") / "home").ensure()
    inline = "select v, {{ mask_email('v') }} as email, {{ mask_phone('v') }} as phone from corpus"
    result = dbt_runner.invoke(home, dbt_runner.dbt_args(home, ["compile", "--inline", inline]))
    assert result.success, result.exception
    return result.result.results[0].node.compiled_code


def _sql_masks(sql: str, values: list[str]) -> list[tuple[str, str, str]]:
    with duckdb.connect() as con:
        con.register("corpus", pa.table({"v": pa.array(values, pa.string())}))
        return con.execute(sql).fetchall()


def _python_masks(values: list[str]) -> list[tuple[str, str, str]]:
    return [(v, identifiers.mask_email(v), identifiers.mask_phone(v)) for v in values]


def test_the_dbt_macros_and_python_mask_alike(masking_sql: str) -> None:
    assert sorted(_sql_masks(masking_sql, CORPUS)) == sorted(_python_masks(CORPUS))
    assert identifiers.mask_email("jane.doe@example.com") == "j***@example.com"
    assert identifiers.mask_phone("+31612345678") == "+31******78"
    assert identifiers.mask_phone("+8613812345678") == "+86******78"  # the length is not revealed


@given(values=st.lists(st.text(min_size=0, max_size=30), min_size=1, max_size=30))
@settings(max_examples=30, deadline=None)
def test_alike_on_any_text(masking_sql: str, values: list[str]) -> None:
    values = [v.replace("\x00", "") for v in values]
    assert sorted(_sql_masks(masking_sql, values)) == sorted(_python_masks(values))


def test_no_other_masking_rule_in_the_code() -> None:
    """Masked forms are written by cdp.identifiers or the dbt macros only (no SQL string of our own)."""
    root = Path(__file__).resolve().parent.parent
    offenders = [
        str(path.relative_to(root))
        for folder in ("cdp", "ingest", "expectations", "exports")
        for path in (root / folder).rglob("*.py")
        if "'***" in path.read_text(encoding="utf-8") or "***@' ||" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
