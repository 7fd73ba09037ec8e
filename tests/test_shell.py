"""`cdp shell` (issue 22): an interactive read-only SQL session for analysts. The DuckDB CLI on PyPI
cannot open our DuckDB 2.0 warehouse, and the demo used to end with "Query the marts: duckdb <path>"
although no DuckDB CLI is installed. The shell runs statements through the guard of `cdp query` and
holds no connection between statements, so a night can publish while an analyst has it open."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cdp.cli import app
from cdp.config import Settings
from cdp.shell import Shell

LONG_ID = "C" + "0123456789abcdef" * 3


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    settings = Settings.load(home=tmp_path / "home").ensure()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create schema restricted")
        con.execute(
            f"create table marts.customer_rfm as select * from (values ('{LONG_ID}', 'Champions', 12.5), "
            "('C2', '[bold]Loyal', 3.25)) as t(customer_id, rfm_segment, monetary_value)"
        )
        con.execute(
            "create table restricted.customer_profiles as select 'C2' as customer_id, 'a@b.nl' as email"
        )
    return settings


def _shell(home: Settings, script: str, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["shell", "--home", str(home.home), *extra], input=script)
    return result.exit_code, result.output


def test_statements_span_lines_and_print_whole_values(home: Settings) -> None:
    code, text = _shell(
        home,
        "select customer_id, monetary_value\nfrom marts.customer_rfm\norder by customer_id;\n"
        ".format vertical\nselect rfm_segment from marts.customer_rfm where customer_id = 'C2';\n",
    )
    assert code == 0, text
    assert LONG_ID in text
    assert "…" not in text
    assert "(2 rows)" in text
    # .format vertical: one block per record; a value that looks like console markup is printed as is.
    assert "-[ record 1 ]" in text
    assert "[bold]Loyal" in text


def test_tables_and_schema_commands(home: Settings) -> None:
    code, text = _shell(home, ".tables\n.schema marts.customer_rfm\n.help\n")
    assert code == 0, text
    assert "customer_rfm" in text
    assert "customer_profiles" not in text  # restricted is not listed without --restricted
    assert "monetary_value" in text
    assert "DECIMAL" in text
    assert ".quit" in text


def test_an_error_is_one_line_and_the_session_goes_on(home: Settings) -> None:
    code, text = _shell(home, "selec 1;\nselect count(*) as n from marts.customer_rfm;\n")
    assert code == 1  # piped: the exit code says a statement failed
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "syntax error" in errors[0].lower()
    assert "(1 row)" in text


def test_restricted_needs_the_flag_and_nothing_can_write(home: Settings) -> None:
    code, text = _shell(home, "select email from restricted.customer_profiles;\n")
    assert code == 1
    assert "--restricted" in text
    assert "a@b.nl" not in text
    code, text = _shell(home, "select email from restricted.customer_profiles;\n", "--restricted")
    assert code == 0
    assert "a@b.nl" in text
    outside = home.home / "stolen.csv"
    code, text = _shell(
        home,
        "create table marts.x as select 1 as one;\n"
        f"copy (select * from marts.customer_rfm) to '{outside}';\n"
        "drop table marts.customer_rfm;\n",
    )
    assert code == 1
    assert text.count("error:") == 3
    assert not outside.exists()
    with duckdb.connect(str(home.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from marts.customer_rfm").fetchall() == [(2,)]
        assert con.execute(
            "select count(*) from information_schema.tables where table_name = 'x'"
        ).fetchall() == [(0,)]


def test_a_night_can_publish_while_the_shell_is_open(home: Settings) -> None:
    """Between two statements another process opens the warehouse read-write (as a night's publish
    does) and changes it: it is not blocked by the open shell, and the next statement sees the change."""
    writer = (
        "import duckdb, sys\n"
        "with duckdb.connect(sys.argv[1]) as con:\n"
        "    con.execute(\"insert into marts.customer_rfm values ('C3', 'New', 1.0)\")\n"
    )
    lines = iter(["select count(*) as n from marts.customer_rfm;", "__write__",
                  "select count(*) as n from marts.customer_rfm;"])
    seen: list[str] = []

    def read_line(_prompt: str) -> str:
        line = next(lines, None)
        if line is None:
            raise EOFError
        if line == "__write__":
            done = subprocess.run(
                [sys.executable, "-c", writer, str(home.warehouse)], capture_output=True, text=True,
                timeout=60, check=False,
            )
            seen.append(done.stderr)
            return ""
        return line

    from rich.console import Console

    console = Console(record=True, width=100)
    assert Shell(home, out=console).run(read_line) == 0
    assert seen == [""], seen  # the writer was not blocked by a lock the shell held
    counts = [line.strip() for line in console.export_text().splitlines() if line.strip().isdigit()]
    assert counts == ["2", "3"]
