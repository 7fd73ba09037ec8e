"""The CLV fit is a stage of its own (issue 20: it ran hidden inside the dbt runner, and a plain
`dbt build` read a stale or missing clv_fit schema and passed). The pipeline runs build_models ->
fit_clv -> build_value_models; a dbt build that skips the fit now fails, naming why, instead of
publishing CLV computed from another night's fit."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from test_clv import D1, D2, SELECT, land_day, query

from cdp.config import Settings
from cdp.dbt_runner import WarehouseBuildError, build_step
from cdp.warehouse import build

pytestmark = pytest.mark.slow


def test_a_build_without_tonights_fit_fails_instead_of_reading_another_nights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBT_INDIRECT_SELECTION", "cautious")  # the selection's own tests only
    settings = Settings.load(home=tmp_path / "home").ensure()
    receipts = [
        (f"L{n:04d}", datetime(2024, 1, 1, 12) + timedelta(days=n % 150), f"{10 + n % 7}.50")
        for n in range(150)
    ]
    land_day(settings, D1, receipts)
    build(settings, D1, select=SELECT)  # the three stages: the fit of D1 is there
    assert query(settings, "select distinct run_date from clv_fit.models_fitted") == [(D1,)]
    land_day(settings, D2, receipts[:20])

    # What a plain `dbt build` of the selection does for D2: every model, no fit in between.
    with pytest.raises(WarehouseBuildError) as failed:
        build_step(settings, D2, [SELECT], [], unit_tests=False, data_tests=True)

    assert "assert_clv_fit_is_of_the_run_date" in str(failed.value)
    # The pipeline's stages fit first: the same build passes.
    build(settings, D2, select=SELECT)
    assert query(settings, "select distinct run_date from clv_fit.models_fitted") == [(D2,)]
