"""Engine choice and `cdp query`: configuration errors in one line, read-only queries on either engine."""

from __future__ import annotations

import duckdb
import pytest
from typer.testing import CliRunner

from cdp.cli import app
from cdp.config import Settings
from cdp.engines import (
    EngineUnavailable,
    QueryRejected,
    WarehouseError,
    check_engine,
    read_only_query,
    spark_conf,
)


def _home_with_marts(tmp_path) -> Settings:
    settings = Settings.load(home=tmp_path).ensure()
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.customer_rfm as select * from "
            "(values ('C1', 'Champions', 5), ('C2', 'Lost', 1)) as t(customer_id, rfm_segment, r_score)"
        )
    return settings


def test_engine_comes_from_environment_and_is_checked(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("CDP_ENGINE", "spark")
    assert Settings.load(home=tmp_path).engine == "spark"
    assert Settings.load(home=tmp_path, engine="DuckDB").engine == "duckdb"
    monkeypatch.setenv("CDP_ENGINE", "oracle")
    with pytest.raises(ValueError, match="unknown engine 'oracle'"):
        Settings.load(home=tmp_path)


def test_spark_code_generation_is_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Production keeps whole-stage code generation; CDP_SPARK_CODEGEN=false (the tests' setting,
    tests/conftest.py) turns it off in the session dbt and ``cdp`` open."""
    settings = Settings.load(home=tmp_path, engine="spark")
    monkeypatch.delenv("CDP_SPARK_CODEGEN", raising=False)
    assert spark_conf(settings)["spark.sql.codegen.wholeStage"] == "true"
    monkeypatch.setenv("CDP_SPARK_CODEGEN", "false")
    assert spark_conf(settings)["spark.sql.codegen.wholeStage"] == "false"


def test_missing_java_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    with pytest.raises(EngineUnavailable) as caught:
        check_engine("spark")
    message = str(caught.value)
    assert "Java 17" in message
    assert "no-jdk" in message
    assert "\n" not in message


def test_query_returns_rows_and_refuses_writes(tmp_path) -> None:
    settings = _home_with_marts(tmp_path)
    table = read_only_query(settings, "select rfm_segment from marts.customer_rfm order by customer_id;")
    assert table.column("rfm_segment").to_pylist() == ["Champions", "Lost"]
    for statement in ("delete from marts.customer_rfm", "select 1; drop table marts.customer_rfm"):
        with pytest.raises(QueryRejected):
            read_only_query(settings, statement)


def test_cli_query_prints_csv(tmp_path) -> None:
    _home_with_marts(tmp_path)
    result = CliRunner().invoke(
        app,
        ["query", "select customer_id, r_score from marts.customer_rfm order by 1", "--format", "csv",
         "--home", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:3] == ['"customer_id","r_score"', '"C1",5', '"C2",1']


def test_cli_query_sql_error_names_the_table_only(tmp_path) -> None:
    _home_with_marts(tmp_path)
    result = CliRunner().invoke(app, ["query", "select * from marts.nope", "--home", str(tmp_path)])
    assert result.exit_code == 1
    assert "nope" in result.output


@pytest.mark.parametrize(
    "statement",
    [
        # Written through a read-only connection all the same (DuckDB): plain PII to any path.
        "explain analyze copy (select * from marts.customer_rfm) to '{out}'",
        "copy (select * from marts.customer_rfm) to '{out}'",
        "select * from read_csv('{out}')",
        "attach '{out}' as other",
        "install httpfs",
        # Spark's way to delete the lake, and writes hidden in a CTE or after a comment.
        "from (select 1) t insert overwrite directory '{out}' select *",
        "with x as (select 1) insert into marts.customer_rfm select * from x",
        "/* harmless */ drop table marts.customer_rfm",
    ],
)
def test_query_cannot_write_or_read_files(tmp_path, statement: str) -> None:
    """`cdp query` is read-only at the engine, whatever the first keyword: nothing is written or read
    outside the warehouse, and the marts are untouched."""
    settings = _home_with_marts(tmp_path)
    out = tmp_path / "leak.csv"
    with pytest.raises((QueryRejected, WarehouseError)):
        read_only_query(settings, statement.format(out=out))
    assert not out.exists()
    count = read_only_query(settings, "select count(*) as n from marts.customer_rfm")
    assert count.column("n").to_pylist() == [2]


def test_query_refuses_restricted_without_the_flag(tmp_path) -> None:
    settings = _home_with_marts(tmp_path)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema restricted")
        con.execute("create table restricted.customer_profiles as select 'a@b.nl' as email")
    for statement in (
        "select email from restricted.customer_profiles",
        "select * from marts.customer_rfm "
        "where customer_id in (select email from RESTRICTED.customer_profiles)",
    ):
        with pytest.raises(QueryRejected, match="--restricted"):
            read_only_query(settings, statement)
    rows = read_only_query(settings, "select email from restricted.customer_profiles", restricted=True)
    assert rows.column("email").to_pylist() == ["a@b.nl"]
    result = CliRunner().invoke(
        app, ["query", "select email from restricted.customer_profiles", "--home", str(settings.home)]
    )
    assert result.exit_code != 0
    assert "a@b.nl" not in result.output


def test_cli_query_passes_the_engines_syntax_error_through(tmp_path) -> None:
    _home_with_marts(tmp_path)
    result = CliRunner().invoke(app, ["query", "selec 1", "--home", str(tmp_path)])
    assert result.exit_code == 1
    assert "syntax error" in result.output.lower()


@pytest.mark.parametrize(
    "statement",
    [
        "from (select 1) t insert overwrite directory 'lake' select *",
        "insert overwrite table marts.customer_rfm select * from marts.customer_rfm",
        "select * from parquet.`lake/landing`",
        "drop table marts.customer_rfm",
        "select * from restricted.customer_profiles",
        "select 1; select 2",
    ],
)
def test_spark_statements_are_checked_by_the_parser(statement: str) -> None:
    """Spark has no read-only switch: the parsed allow-list is the guard there (it is never sent)."""
    from cdp.engines import _check_statement

    with pytest.raises(QueryRejected):
        _check_statement(statement, "spark", restricted=False)
    _check_statement(
        "select rfm_segment, count(*) from marts.customer_rfm group by rfm_segment", "spark", False
    )
