"""Tonight's CLV fit, between the two halves of the nightly dbt build (docs/architecture.md).

dbt aggregates the sufficient statistics in SQL on the warehouse engine (customers grouped by identical
frequency / recency / tenure, and by frequency / repeat spend), so what comes to Python is a few
thousand groups whatever the number of customers. This step fits BG/NBD and Gamma-Gamma on them
(:mod:`cdp.clv`), predicts per group and writes both tables to schema ``clv_fit`` (source
``clv_fit`` of the dbt project), replacing the previous night's; the dbt models after it
(``int_clv_models_fitted``, ``customer_clv`` ...) read them for their run date only. The same code runs
on DuckDB and Spark: it reads and writes through :func:`cdp.engines.connect`, never one row per
customer. It is the pipeline's ``clv:fit`` stage (:func:`cdp.warehouse.fit_clv`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from cdp.clv import fit_models, fit_records, predict_groups
from cdp.config import Settings
from cdp.engines import connect
from cdp.project import dbt_vars

FIT_SCHEMA = "clv_fit"
FREQUENCY_GROUPS = "intermediate.int_clv_frequency_groups_aggregated"
SPEND_GROUPS = "intermediate.int_clv_spend_groups_aggregated"


def fit_for_date(settings: Settings, run_date: date) -> dict[str, Any]:
    """Fit on the aggregated groups of ``run_date`` and write ``clv_fit.*``; returns counts."""
    dbt_var = dbt_vars()
    time_unit_days = float(dbt_var["clv_time_unit_days"])
    with connect(settings, read_only=False) as warehouse:
        frequency_groups = warehouse.arrow(f"select * from {FREQUENCY_GROUPS}").to_pandas()
        spend_groups = warehouse.arrow(f"select * from {SPEND_GROUPS}").to_pandas()
        results = fit_models(
            _as_numbers(frequency_groups),
            _as_numbers(spend_groups),
            min_customers=int(dbt_var["clv_min_customers"]),
            min_repeat_customers=int(dbt_var["clv_min_repeat_customers"]),
        )
        fitted = fit_records(results, run_date, time_unit_days)
        predicted = predict_groups(
            _as_numbers(frequency_groups),
            fitted,
            time_unit_days=time_unit_days,
            annual_discount_rate=float(dbt_var["clv_annual_discount_rate"]),
        )
        predicted.insert(0, "run_date", run_date)
        warehouse.replace_table(FIT_SCHEMA, "models_fitted", fitted)
        warehouse.replace_table(FIT_SCHEMA, "frequency_groups_predicted", predicted)
    return {
        "groups": len(frequency_groups),
        "models_used": [r.model_name for r in results if r.is_used],
    }


def _as_numbers(frame: Any) -> Any:
    """Decimal columns (an engine's exact sums) as float64, so both engines hand the fit the same input."""
    for column in frame.columns:
        if frame[column].dtype == object and frame[column].map(lambda v: isinstance(v, Decimal)).any():
            frame[column] = frame[column].astype("float64")
    return frame
