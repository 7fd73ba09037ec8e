"""A data-quality history built before D48 renamed its `source_name` to `source` (the identity marts'
name for the source system) is brought to the new layout by the first night after the upgrade, with
no step by hand: the table keeps its history across releases (full_refresh is off), so that night adds
`source` (append_new_columns) and fills it for every earlier date from the old column; `source_name`
stays one release as a deprecated alias. (tests/test_mart_column_names.py exempts this file from its
"nobody reads an alias" check: it reads the alias to compare it.)"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import copy_home

from cdp.config import Settings
from cdp.dbt_runner import dbt_args, invoke


@pytest.mark.slow
def test_a_history_built_before_the_rename_is_rewritten_once(
    first_night: Settings, drop_dates: list[date], tmp_path: Path
) -> None:
    settings = copy_home(first_night, tmp_path / "home")
    night = drop_dates[0]
    earlier = night - timedelta(days=1)
    with duckdb.connect(str(settings.warehouse)) as con:
        # The table as the release before the rename left it (old column only), with an earlier date.
        con.execute(
            "create table marts.dq_old as select as_of_date, source as source_name, metric, metric_value "
            "from marts.data_quality_history"
        )
        con.execute(
            f"insert into marts.dq_old select date '{earlier.isoformat()}', source_name, metric, "
            "metric_value from marts.dq_old"
        )
        con.execute("drop table marts.data_quality_history")
        con.execute("alter table marts.dq_old rename to data_quality_history")
        before = con.execute(
            "select as_of_date, source_name, metric, metric_value "
            "from marts.data_quality_history order by all"
        ).fetchall()
    assert {row[0] for row in before} == {earlier, night}

    for run in (1, 2):  # the upgrade night, then a re-run that reads nothing back
        result = invoke(settings, dbt_args(settings, ["run", "--select", "data_quality_history"], night))
        assert result.success, (run, result.exception)
        with duckdb.connect(str(settings.warehouse), read_only=True) as con:
            after = con.execute(
                "select as_of_date, source, metric, metric_value from marts.data_quality_history order by all"
            ).fetchall()
            stray = con.execute(
                "select count(*) from marts.data_quality_history "
                "where source is null or source_name is distinct from source"
            ).fetchall()[0][0]
        assert after == before, run  # every date kept, each row once, the source under its new name
        assert stray == 0, run
