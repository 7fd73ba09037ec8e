"""`cdp query` for an analyst in a terminal (issue 22): a wide result (customer_360 has 71 columns)
printed only box-drawing characters and values were cut with an ellipsis, so a customer_id could not
be copied into `cdp explain`; numbers were left-aligned. Now a result wider than the terminal comes as
one block per record, every value whole, and numbers are right-aligned."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cdp.cli import app
from cdp.config import Settings

LONG_ID = "C" + "0123456789abcdef" * 3


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    settings = Settings.load(home=tmp_path / "home").ensure()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    columns = ", ".join(f"'value of column {i}' as column_{i:02d}" for i in range(40))
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema marts")
        con.execute(f"create table marts.wide as select '{LONG_ID}' as customer_id, 7 as orders, {columns}")
        con.execute(
            "create table marts.narrow as select * from (values ('a', 5, 12.5), ('b', 12345, 3.25)) "
            "as t(segment, members, share)"
        )
    return settings


def _query(home: Settings, sql: str, *extra: str) -> str:
    result = CliRunner().invoke(app, ["query", sql, "--home", str(home.home), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_wide_result_comes_one_record_per_block_with_every_value_whole(home: Settings) -> None:
    text = _query(home, "select * from marts.wide")
    assert "-[ record 1 ]" in text
    assert any(line.startswith("customer_id") and line.endswith(LONG_ID) for line in text.splitlines())
    assert "…" not in text
    assert "column_39" in text
    assert "(1 row)" in text


def test_a_narrow_result_is_a_table_with_numbers_right_aligned(home: Settings) -> None:
    text = _query(home, "select * from marts.narrow order by segment")
    lines = [line for line in text.splitlines() if line.strip()]
    header = next(line for line in lines if "segment" in line)
    a_row = next(line for line in lines if line.lstrip().startswith("a "))
    b_row = next(line for line in lines if line.lstrip().startswith("b "))
    # Right-aligned: the short number ends where the long one does.
    assert a_row.index("5") + 1 == b_row.index("12345") + 5
    assert "members" in header
    assert "(2 rows)" in text


def test_vertical_on_request_and_csv_untouched(home: Settings) -> None:
    assert "-[ record 2 ]" in _query(home, "select * from marts.narrow order by 1", "--format", "vertical")
    csv_text = _query(home, "select * from marts.narrow order by 1", "--format", "csv")
    assert csv_text.splitlines()[0] == '"segment","members","share"'
