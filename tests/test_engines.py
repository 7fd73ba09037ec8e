"""Engine choice and `cdp query`: configuration errors in one line, read-only queries on either engine."""

from __future__ import annotations

import duckdb
import pytest
from typer.testing import CliRunner

from cdp.cli import app
from cdp.config import Settings
from cdp.engines import EngineUnavailable, QueryRejected, check_engine, read_only_query


def _home_with_marts(tmp_path) -> Settings:
    settings = Settings.load(home=tmp_path).ensure()
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.customer_rfm as select * from "
            "(values ('C1', 'Champions', 5), ('C2', 'Lost', 1)) as t(customer_id, segment, r_score)"
        )
    return settings


def test_engine_comes_from_environment_and_is_checked(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("CDP_ENGINE", "spark")
    assert Settings.load(home=tmp_path).engine == "spark"
    assert Settings.load(home=tmp_path, engine="DuckDB").engine == "duckdb"
    monkeypatch.setenv("CDP_ENGINE", "oracle")
    with pytest.raises(ValueError, match="unknown engine 'oracle'"):
        Settings.load(home=tmp_path)


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
    table = read_only_query(settings, "select segment from marts.customer_rfm order by customer_id;")
    assert table.column("segment").to_pylist() == ["Champions", "Lost"]
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
