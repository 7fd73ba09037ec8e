"""The ops tables' columns have one owner, the dbt source YAML: what dbt's on-run-start creates and
what the pipeline's steps create on a warehouse dbt never built are the same tables (issue 20: the
DDL was written twice, in cdp/ops_tables.py and the create_ops_tables macro)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from cdp import dbt_runner
from cdp.config import Settings
from cdp.engines import connect
from cdp.ops_tables import ensure_ops_tables, ops_tables


def _columns(path: Path) -> list[tuple[str, str, str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'ops' order by table_name, ordinal_position"
        ).fetchall()


def test_dbt_and_the_pipeline_create_the_same_ops_tables(tmp_path: Path) -> None:
    by_dbt = Settings.load(home=tmp_path / "dbt").ensure()
    result = dbt_runner.invoke(by_dbt, dbt_runner.dbt_args(by_dbt, ["run-operation", "create_ops_tables"]))
    assert result.success, result.exception
    by_python = Settings.load(home=tmp_path / "python").ensure()
    by_python.warehouse.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(by_python.warehouse)).close()  # a warehouse dbt never built
    with connect(by_python, read_only=False) as warehouse:
        ensure_ops_tables(warehouse, *ops_tables())

    created = _columns(by_dbt.warehouse)
    assert created == _columns(by_python.warehouse)
    assert {table for table, _, _ in created} == {
        "segment_membership", "segment_runs", "segment_exports", "identity_model_fits", "identity_fit_runs",
    }


def test_no_column_list_outside_the_source_yaml() -> None:
    root = Path(__file__).resolve().parent.parent
    macro = root / "dbt_project" / "macros" / "project" / "ops_tables.sql"
    for path in (root / "cdp" / "ops_tables.py", macro):
        assert "definition_hash" not in path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize("table", ["ops.segment_membership", "ops.segment_runs", "ops.segment_exports"])
def test_every_ops_table_is_declared_with_types(table: str) -> None:
    columns = ops_tables()[table]
    assert columns[0] == ("run_date", "date")
    assert all(data_type for _, data_type in columns)
