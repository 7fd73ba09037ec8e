"""``dbt build --full-refresh`` keeps the history tables: models that are the only copy of what past
nights computed (``clv_model_runs``: each night's CLV fit) are ``full_refresh=false``, so a full
refresh (after a schema change, by an operator) rebuilds everything else and leaves their rows.

One small CLV build as of a date (receipts landed with test_clv's helpers), an earlier night's row
written into the history, then a second build of the model with ``--full-refresh``: the row is still there.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from test_clv import D1, SELECT, land_day, query

from cdp.config import Settings
from cdp.warehouse import build

try:  # the dbt runner's module while cdp is being re-layered (issue 20)
    from cdp.dbt_runner import dbt_args, invoke
except ImportError:
    from cdp.warehouse import _invoke as invoke
    from cdp.warehouse import dbt_args


@pytest.mark.slow
def test_full_refresh_keeps_clv_model_runs_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBT_INDIRECT_SELECTION", "cautious")
    settings = Settings.load(home=tmp_path / "home").ensure()
    receipts = [
        (f"L{n:04d}", datetime(2024, 1, 1, 12) + timedelta(days=n % 150), f"{10 + n % 7}.50")
        for n in range(150)
    ]
    land_day(settings, D1, receipts)
    build(settings, D1, select=SELECT)
    earlier = D1 - timedelta(days=1)
    # An earlier night's fit, as that night's build left it (the clv_fit source only holds the last fit).
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(
            "insert into marts.clv_model_runs select * replace (model_run_id || '-earlier' as model_run_id, "
            "? as run_date) from marts.clv_model_runs",
            [earlier],
        )
    before = query(settings, "select run_date, count(*) from marts.clv_model_runs group by 1 order by 1")
    assert before == [(earlier, 2), (D1, 2)]

    result = invoke(
        settings, dbt_args(settings, ["build", "--full-refresh", "--select", "clv_model_runs"], D1)
    )
    assert result.success, result.exception
    after = query(settings, "select run_date, count(*) from marts.clv_model_runs group by 1 order by 1")
    assert after == before
