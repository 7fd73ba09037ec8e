"""Fit-time benchmark on synthetic customers drawn from the BG/NBD and Gamma-Gamma processes.

    python -m cdp.clv.bench --customers 1000000

Customers' first purchases are spread uniformly over ``--history-days`` before the run date; purchase
times are floored to whole days (same-day purchases merged) and the time unit is a week, as in the
warehouse. Grouping into distinct (x, t_x, T) is done in DuckDB, as the SQL model does; the fit and
the predictions only ever see the groups.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from . import bgnbd, fit_models, fit_records, gamma_gamma, predict_groups

TRUE_BGNBD = (0.243, 4.414, 0.793, 2.426)
TRUE_GAMMA_GAMMA = (6.25, 3.74, 15.44)


def simulate_customers(
    customers: int, *, history_days: int = 730, time_unit_days: float = 7.0, seed: int = 0
) -> pd.DataFrame:
    """One row per customer: frequency, recency_days, tenure_days, repeat_monetary_mean."""
    rng = np.random.default_rng(seed)
    tenure_days = rng.integers(0, history_days, size=customers).astype(float)
    x, t_x, big_t = bgnbd.simulate(
        customers, TRUE_BGNBD, tenure_days / time_unit_days, rng, day_resolution=1 / time_unit_days
    )
    m_x = np.full(customers, np.nan)
    repeat = x > 0
    m_x[repeat] = np.round(gamma_gamma.simulate(x[repeat], TRUE_GAMMA_GAMMA, rng), 2)
    return pd.DataFrame(
        {
            "frequency": x.astype("int64"),
            "recency_days": np.rint(t_x * time_unit_days).astype("int64"),
            "tenure_days": np.rint(big_t * time_unit_days).astype("int64"),
            "repeat_monetary_mean": m_x,
        }
    )


def group(customers: pd.DataFrame, time_unit_days: float = 7.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sufficient statistics, as the SQL models compute them."""
    con = duckdb.connect()
    con.register("customers", customers)
    frequency = con.execute(
        f"""
        select frequency, recency_days, tenure_days,
               recency_days / {time_unit_days} as recency, tenure_days / {time_unit_days} as tenure,
               count(*) as customer_count
        from customers group by all order by all
        """
    ).df()
    spend = con.execute(
        """
        select frequency, repeat_monetary_mean, count(*) as customer_count
        from customers where frequency > 0 and repeat_monetary_mean > 0 group by all order by all
        """
    ).df()
    con.close()
    return frequency, spend


def run(customers: int, seed: int = 0) -> dict[str, Any]:
    started = time.perf_counter()
    frame = simulate_customers(customers, seed=seed)
    simulated = time.perf_counter()
    frequency, spend = group(frame)
    grouped = time.perf_counter()
    results = fit_models(frequency, spend)
    fitted = time.perf_counter()
    records = fit_records(results, "2026-01-01", 7.0)
    predictions = predict_groups(frequency, records, time_unit_days=7.0, annual_discount_rate=0.1)
    predicted = time.perf_counter()
    return {
        "customers": customers,
        "frequency_groups": len(frequency),
        "spend_groups": len(spend),
        "seconds": {
            "simulate": round(simulated - started, 2),
            "group_sql": round(grouped - simulated, 2),
            "fit_both_models": round(fitted - grouped, 2),
            "fit_bgnbd": results[0].fit_seconds,
            "fit_gamma_gamma": results[1].fit_seconds,
            "predict_groups": round(predicted - fitted, 2),
        },
        "true": {"bgnbd": TRUE_BGNBD, "gamma_gamma": TRUE_GAMMA_GAMMA},
        "estimated": {r.model_name: {k: round(v, 4) for k, v in r.params.items()} for r in results},
        "converged": {r.model_name: r.is_converged for r in results},
        "prediction_rows": len(predictions),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(run(args.customers, args.seed), indent=2))


if __name__ == "__main__":
    main()
