"""Tonight's identity fit, between the identity inputs and the rest of the nightly build.

The match model (m and u per comparison level, and lambda) decides which candidate pairs link. The
shipped seed was trained on generated Dutch people; a retailer's records differ (address formats, how
often names repeat, which fields a source lacks), so the night re-estimates the model on its own
records (:func:`cdp.identity.train.estimate`: u from random pairs, m and lambda by EM over the blocked
pairs, starting from the seed) and scores with it, without anyone running a command:

* **fitted** - due (no fit yet, or the newest is ``identity_fit_every_days`` old) and the fit passed
  its checks: written to ``ops.identity_model_fits`` for the run date; the night scores with it.
* **kept** - not due: the night scores with the newest earlier fit.
* **fallback** - due, but the fit failed or looks degenerate (too few candidate pairs, lambda at a
  bound, agreement that is no evidence of a match, numbers that are not numbers): nothing is written,
  the night scores with the last good fit (or the shipped seed) and the reason is recorded.
* **pinned** - ``<home>/config/identity_match_parameters.csv`` exists (``cdp identity train`` or an
  operator put it there): it scores, the night does not fit.
* **shipped** - the fit is off (``identity_fit_every_days: 0``) and no earlier fit exists.

One row per night goes to ``ops.identity_fit_runs`` (status, reason, the fit the night scores with);
``marts.identity_quality_history`` carries it, and the stage's output is in the run log and ``cdp run``'s
summary. Both tables are written into the night's build file, so a failed night publishes no fit; a
re-run of a night replaces its rows, and a fit is only ever chosen by its date (the newest on or before
the run date: ``int_identity_match_parameters``), so re-running an older night scores as it did.
Reads counts per comparison vector and level (a few hundred rows whatever the base), through
:func:`cdp.engines.connect`: the same on DuckDB and Spark.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

from cdp.config import Settings
from cdp.engines import Warehouse, WarehouseError, connect
from cdp.identity.train import MatchModel, estimate, read_parameters
from cdp.ops_tables import ensure_ops_tables
from cdp.project import dbt_vars

log = logging.getLogger(__name__)

FITS = "ops.identity_model_fits"
RUNS = "ops.identity_fit_runs"
# lambda is clipped to [1e-6, 0.5] by the fit: a value at either end was not measured.
_PRIOR_BOUNDS = (1e-6, 0.5)


@dataclass(frozen=True)
class FitRun:
    """What the night's fit did (one row of ``ops.identity_fit_runs``)."""

    status: str
    reason: str | None = None
    model_fitted_on: date | None = None
    candidate_pairs: int | None = None
    patterns: int | None = None
    iterations: int | None = None
    match_prior: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "model_fitted_on": self.model_fitted_on.isoformat() if self.model_fitted_on else None,
            "candidate_pairs": self.candidate_pairs,
            "patterns": self.patterns,
            "iterations": self.iterations,
            "match_prior": self.match_prior,
        }


def fit_for_date(settings: Settings, run_date: date) -> dict[str, Any]:
    """Decide, fit when due, record; returns the night's :class:`FitRun` as a dict."""
    variables = dbt_vars()
    every_days = int(variables["identity_fit_every_days"])
    min_pairs = int(variables["identity_fit_min_pairs"])
    with connect(settings, read_only=False) as wh:
        ensure_ops_tables(wh, FITS, RUNS)
        last = _last_fit_before(wh, run_date)
        model = None
        if settings.identity_model_file.exists():
            run = FitRun("pinned", f"{settings.identity_model_file.name} in the home's config scores")
        elif every_days <= 0:
            reason = "the nightly fit is off (identity_fit_every_days: 0)"
            run = FitRun("kept", reason, last) if last else FitRun("shipped", reason)
        elif last is not None and (run_date - last).days < every_days:
            run = FitRun("kept", None, last)
        else:
            run, model = _fit(wh, run_date, last, min_pairs)
        wh.replace_date_rows(FITS, run_date, _model_rows(model))
        wh.replace_date_rows(RUNS, run_date, _run_rows(run))
    if run.status == "fallback":
        log.warning(
            "identity fit for %s not used (%s): scoring with %s", run_date, run.reason,
            f"the fit of {run.model_fitted_on}" if run.model_fitted_on else "the shipped model",
        )
    return run.to_dict()


def _fit(
    wh: Warehouse, run_date: date, last: date | None, min_pairs: int
) -> tuple[FitRun, MatchModel | None]:
    """Tonight's fit and its checks: (fitted, the model) or (fallback with the reason, None). A base
    with fewer candidate pairs than the floor is not fitted at all (nothing to learn from)."""
    (pairs,) = wh.row("select count(*) from intermediate.int_identity_pairs_compared")
    if pairs < min_pairs:
        reason = f"only {pairs:,} candidate pairs (identity_fit_min_pairs: {min_pairs:,})"
        return FitRun("fallback", reason, last, candidate_pairs=pairs), None
    try:
        model, patterns = estimate(wh, read_parameters())
    except (WarehouseError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        return FitRun("fallback", f"the fit failed: {str(exc).splitlines()[0][:300]}", last), None
    problem = degenerate(model, min_pairs)
    sizes = {
        "candidate_pairs": model.pairs, "patterns": patterns, "iterations": model.iterations,
        "match_prior": model.prior,
    }
    if problem:
        return FitRun("fallback", problem, last, **sizes), None
    return FitRun("fitted", None, run_date, **sizes), model


def degenerate(model: MatchModel, min_pairs: int) -> str | None:
    """Why a fitted model must not score (None when it may): what a fit on too little or broken data
    looks like. Names comparisons and counts only."""
    if model.pairs < min_pairs:
        return f"only {model.pairs:,} candidate pairs (identity_fit_min_pairs: {min_pairs:,})"
    if model.iterations == 0:
        return "no blocking rule had enough candidate pairs to estimate from"
    numbers = [model.prior, *(x for v in (*model.m.values(), *model.u.values()) for x in v)]
    if not all(math.isfinite(float(x)) for x in numbers):
        return "the fit produced values that are not numbers"
    if not _PRIOR_BOUNDS[0] < model.prior < _PRIOR_BOUNDS[1]:
        return f"lambda {model.prior:.3g} is at its bound (not measured)"
    backwards = [name for name in model.m if model.m[name][-1] <= model.u[name][-1]]
    if backwards:
        return f"full agreement is no evidence of a match for {', '.join(backwards)} (m <= u)"
    return None


def _last_fit_before(wh: Warehouse, run_date: date) -> date | None:
    (last,) = wh.row(f"select max(run_date) from {FITS} where run_date < date '{run_date.isoformat()}'")
    return last


def _model_rows(model: MatchModel | None) -> pa.Table:
    rows = model.rows() if model else []
    return pa.table(
        {
            "comparison": pa.array([r[0] for r in rows], pa.string()),
            "level": pa.array([r[1] for r in rows], pa.int32()),
            "m_probability": pa.array([r[2] for r in rows], pa.float64()),
            "u_probability": pa.array([r[3] for r in rows], pa.float64()),
        }
    )


def _run_rows(run: FitRun) -> pa.Table:
    return pa.table(
        {
            "status": pa.array([run.status], pa.string()),
            "reason": pa.array([run.reason], pa.string()),
            "model_fitted_on": pa.array([run.model_fitted_on], pa.date32()),
            "candidate_pairs": pa.array([run.candidate_pairs], pa.int64()),
            "patterns": pa.array([run.patterns], pa.int64()),
            "iterations": pa.array([run.iterations], pa.int64()),
            "match_prior": pa.array([run.match_prior], pa.float64()),
        }
    )

