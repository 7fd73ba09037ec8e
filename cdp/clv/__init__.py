"""Predictive customer lifetime value: BG/NBD (purchases, dropout) + Gamma-Gamma (spend per purchase).

Used by the nightly fit step :mod:`cdp.clv.nightly`, whose tables feed the dbt models
``int_clv_models_fitted`` (one record per model) and ``int_clv_frequency_groups_predicted``
(predictions per group); the marts ``customer_clv`` and ``clv_model_runs`` are SQL on top of them.

Why our own implementation rather than a library:

* ``lifetimes`` (the reference Python package) is unmaintained since 2020 (archived; it still imports
  ``pkg_resources`` and pins old APIs) and fits one row per customer.
* ``pymc-marketing`` is actively maintained but pulls in PyMC/PyTensor (a compiler toolchain, hundreds
  of MB) for what is, in the nightly job, a 3-4 parameter maximum-likelihood fit.
* The published log-likelihoods are a few lines each with ``scipy.special`` (``gammaln``, ``betaln``,
  ``hyp2f1``); owning them lets every function work on *grouped sufficient statistics* - distinct
  (x, t_x, T) with a customer count, aggregated in SQL - so a fit costs O(distinct groups), not
  O(customers), and fails soft (:class:`~cdp.clv.fitting.FitResult` with ``is_used = False``) instead
  of raising. ``tests/test_cdnow.py`` checks the fits against the published CDNOW estimates.
"""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from . import bgnbd, gamma_gamma
from .fitting import FitResult, fit_bgnbd, fit_gamma_gamma

__all__ = [
    "FIT_RECORD_COLUMNS",
    "PREDICTION_COLUMNS",
    "FitResult",
    "bgnbd",
    "discounted_expected_purchases",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_models",
    "fit_records",
    "gamma_gamma",
    "predict_groups",
]

#: Columns of the fit record table (one row per model and run date).
FIT_RECORD_COLUMNS = [
    "model_run_id",
    "run_date",
    "model_name",
    "parameters",
    "log_likelihood",
    "is_converged",
    "is_used",
    "fallback_reason",
    "message",
    "customer_count",
    "group_count",
    "iterations",
    "time_unit_days",
    "param_r",
    "param_alpha",
    "param_a",
    "param_b",
    "param_p",
    "param_q",
    "param_v",
]

#: Columns of the per-group predictions table.
PREDICTION_COLUMNS = [
    "frequency",
    "recency_days",
    "tenure_days",
    "customer_count",
    "p_alive",
    "expected_purchases_90d",
    "expected_purchases_365d",
    "discounted_expected_purchases_12m",
]

DAYS_PER_YEAR = 365.0


def fit_models(
    frequency_groups: pd.DataFrame,
    spend_groups: pd.DataFrame,
    *,
    min_customers: int = 100,
    min_repeat_customers: int = 20,
) -> list[FitResult]:
    """Fit BG/NBD on ``frequency_groups`` (frequency, recency, tenure, customer_count; times in the
    model's unit) and Gamma-Gamma on ``spend_groups`` (frequency, repeat_monetary_mean,
    customer_count).

    Groups are sorted first: SQL returns them in no particular order, and the floating-point sums of
    the likelihood (hence the optimiser's path and the last digits of the estimates) depend on it, so
    re-running a date must see them in one order to give identical fits.
    """
    frequency_groups = frequency_groups.sort_values(list(frequency_groups.columns), ignore_index=True)
    spend_groups = spend_groups.sort_values(list(spend_groups.columns), ignore_index=True)
    bg = fit_bgnbd(
        frequency_groups["frequency"].to_numpy(float),
        frequency_groups["recency"].to_numpy(float),
        frequency_groups["tenure"].to_numpy(float),
        frequency_groups["customer_count"].to_numpy(float),
        min_customers=min_customers,
        min_repeat_customers=min_repeat_customers,
    )
    gg = fit_gamma_gamma(
        spend_groups["frequency"].to_numpy(float),
        spend_groups["repeat_monetary_mean"].to_numpy(float),
        spend_groups["customer_count"].to_numpy(float),
        min_customers=min_repeat_customers,
    )
    return [bg, gg]


def fit_records(results: list[FitResult], run_date: date | str, time_unit_days: float) -> pd.DataFrame:
    """The fit record table: one row per model, parameters both as JSON and as nullable columns.

    Deterministic on purpose (no wall-clock fit time): re-running a date gives identical rows.
    """
    day = date.fromisoformat(str(run_date)[:10]) if not isinstance(run_date, date) else run_date
    rows = []
    for res in results:
        row: dict[str, Any] = {
            "model_run_id": f"{day.isoformat()}:{res.model_name}",
            "run_date": day,
            "model_name": res.model_name,
            "parameters": json.dumps({k: round(v, 10) for k, v in res.params.items()}, sort_keys=True),
            "log_likelihood": res.log_likelihood,
            "is_converged": res.is_converged,
            "is_used": res.is_used,
            "fallback_reason": res.fallback_reason,
            "message": res.message,
            "customer_count": res.customer_count,
            "group_count": res.group_count,
            "iterations": res.iterations,
            "time_unit_days": float(time_unit_days),
        }
        for name in ("r", "alpha", "a", "b", "p", "q", "v"):
            row[f"param_{name}"] = res.params.get(name) if name in _model_params(res.model_name) else None
        rows.append(row)
    frame = pd.DataFrame(rows, columns=FIT_RECORD_COLUMNS)
    params = [c for c in FIT_RECORD_COLUMNS if c.startswith("param_")]
    for column in ["log_likelihood", "time_unit_days", *params]:
        frame[column] = frame[column].astype("float64")
    for column in ("customer_count", "group_count", "iterations"):
        frame[column] = frame[column].astype("int64")
    for column in ("is_converged", "is_used"):
        frame[column] = frame[column].astype(bool)
    return frame


def _model_params(model_name: str) -> tuple[str, ...]:
    return bgnbd.PARAMS if model_name == "bgnbd" else gamma_gamma.PARAMS


def discounted_expected_purchases(
    params: tuple[float, float, float, float],
    x: np.ndarray,
    t_x: np.ndarray,
    big_t: np.ndarray,
    *,
    time_unit_days: float,
    annual_discount_rate: float,
    months: int = 12,
) -> np.ndarray:
    """Σ over the next ``months`` months of expected purchases in month k discounted by (1+d)^(k/12).

    Month k's purchases are E[Y(k/12 year)] - E[Y((k-1)/12 year)]; discounting at the month's end.
    """
    year = DAYS_PER_YEAR / time_unit_days
    total = np.zeros_like(np.asarray(x, dtype=float))
    previous = np.zeros_like(total)
    for k in range(1, months + 1):
        current = bgnbd.expected_purchases(params, year * k / 12, x, t_x, big_t)
        total += (current - previous) / (1 + annual_discount_rate) ** (k / 12)
        previous = current
    return total


def predict_groups(
    frequency_groups: pd.DataFrame,
    fitted: pd.DataFrame,
    *,
    time_unit_days: float,
    annual_discount_rate: float,
) -> pd.DataFrame:
    """Per (frequency, recency_days, tenure_days) group: P(alive), expected purchases in the next 90
    and 365 days and discounted expected purchases over 12 months. No rows when BG/NBD is not used."""
    bg = fitted[fitted["model_name"] == "bgnbd"]
    if bg.empty or not bool(bg["is_used"].iloc[0]):
        return _empty_predictions()
    params = tuple(float(bg[f"param_{name}"].iloc[0]) for name in bgnbd.PARAMS)
    x = frequency_groups["frequency"].to_numpy(float)
    t_x = frequency_groups["recency"].to_numpy(float)
    big_t = frequency_groups["tenure"].to_numpy(float)
    with np.errstate(all="ignore"):
        out = pd.DataFrame(
            {
                "frequency": frequency_groups["frequency"].to_numpy("int64"),
                "recency_days": frequency_groups["recency_days"].to_numpy("int64"),
                "tenure_days": frequency_groups["tenure_days"].to_numpy("int64"),
                "customer_count": frequency_groups["customer_count"].to_numpy("int64"),
                "p_alive": bgnbd.probability_alive(params, x, t_x, big_t),
                "expected_purchases_90d": bgnbd.expected_purchases(
                    params, 90 / time_unit_days, x, t_x, big_t
                ),
                "expected_purchases_365d": bgnbd.expected_purchases(
                    params, DAYS_PER_YEAR / time_unit_days, x, t_x, big_t
                ),
                "discounted_expected_purchases_12m": discounted_expected_purchases(
                    params,
                    x,
                    t_x,
                    big_t,
                    time_unit_days=time_unit_days,
                    annual_discount_rate=annual_discount_rate,
                ),
            }
        )
    values = out[PREDICTION_COLUMNS[4:]].to_numpy()
    if not np.isfinite(values).all():
        # hyp2f1 can lose precision for extreme groups; leave those null rather than wrong.
        for column in PREDICTION_COLUMNS[4:]:
            out.loc[~np.isfinite(out[column]), column] = math.nan
    return out


def _empty_predictions() -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype="float64") for column in PREDICTION_COLUMNS})
    for column in PREDICTION_COLUMNS[:4]:
        frame[column] = frame[column].astype("int64")
    return frame
