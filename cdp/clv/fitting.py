"""Maximum-likelihood fits on grouped sufficient statistics, with explicit "model not used" outcomes.

A fit never raises for data reasons: too few customers, only one-off buyers, an optimiser that does
not converge or parameters that make the model meaningless all come back as a :class:`FitResult` with
``is_used = False`` and a ``fallback_reason`` code, so the nightly run carries on and the marts say
the model was not used.

Optimisation: L-BFGS-B on log-parameters (positivity for free), finite-difference gradients, with
the data rescaled first (times by max T, values by mean m_x) so every parameter starts near 1; the
scale is undone afterwards and the reported log-likelihood is evaluated on the original data. If
L-BFGS-B stops without converging, Nelder-Mead restarts from where it stopped. A fit counts as
converged when the optimiser reports success and no log-parameter sits on its bound (a parameter
running off to 0 or infinity means the data do not identify the model).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize

from . import bgnbd, gamma_gamma

#: Bounds of every log-parameter (parameters in [1e-6, 1e6] after rescaling).
LOG_BOUND = math.log(1e6)
_AT_BOUND = 1e-3

# fallback_reason codes (also documented in the marts' YAML).
TOO_FEW_CUSTOMERS = "too_few_customers"
TOO_FEW_REPEAT_CUSTOMERS = "too_few_repeat_customers"
NOT_CONVERGED = "not_converged"
INVALID_PARAMETERS = "invalid_parameters"
FIT_ERROR = "fit_error"


@dataclass
class FitResult:
    """Outcome of one model fit; ``params`` is empty when no fit was attempted."""

    model_name: str
    params: dict[str, float] = field(default_factory=dict)
    log_likelihood: float | None = None
    is_converged: bool = False
    is_used: bool = False
    fallback_reason: str | None = None
    message: str = ""
    customer_count: int = 0
    group_count: int = 0
    iterations: int = 0
    fit_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_bgnbd(
    x: ArrayLike,
    t_x: ArrayLike,
    big_t: ArrayLike,
    weight: ArrayLike | None = None,
    *,
    min_customers: int = 100,
    min_repeat_customers: int = 20,
) -> FitResult:
    """Fit BG/NBD (r, α, a, b) to groups of identical (x, t_x, T) weighted by customer count."""
    started = time.perf_counter()
    x, t_x, big_t = (np.asarray(v, dtype=float) for v in (x, t_x, big_t))
    w = np.ones_like(x) if weight is None else np.asarray(weight, dtype=float)
    result = FitResult("bgnbd", customer_count=int(w.sum()), group_count=int(x.size))
    repeaters = int(w[x > 0].sum())
    if result.customer_count < min_customers:
        return _skip(result, TOO_FEW_CUSTOMERS, f"{result.customer_count} customers < {min_customers}")
    if repeaters < min_repeat_customers:
        return _skip(
            result,
            TOO_FEW_REPEAT_CUSTOMERS,
            f"{repeaters} customers with a repeat purchase < {min_repeat_customers}",
        )
    scale = float(big_t.max()) or 1.0
    ts_x, ts_big = t_x / scale, big_t / scale
    total = float(w.sum())

    def objective(theta: np.ndarray) -> float:
        r, alpha, a, b = np.exp(theta)
        return -bgnbd.log_likelihood((r, alpha, a, b), x, ts_x, ts_big, w) / total

    def unscale(theta: np.ndarray) -> dict[str, float]:
        r, alpha, a, b = np.exp(theta)
        return {"r": r, "alpha": alpha * scale, "a": a, "b": b}

    return _optimise(
        result,
        objective,
        np.zeros(4),
        unscale,
        lambda params: bgnbd.log_likelihood(list(params.values()), x, t_x, big_t, w),
        started,
    )


def fit_gamma_gamma(
    x: ArrayLike,
    m_x: ArrayLike,
    weight: ArrayLike | None = None,
    *,
    min_customers: int = 20,
) -> FitResult:
    """Fit Gamma-Gamma (p, q, γ) to groups of identical (x, m_x) with x > 0 and m_x > 0.

    Rows with x = 0 or m_x <= 0 are ignored (the model is defined on repeat transactions with a
    positive value). Used only when q > 1, since the expected spend p γ / (q - 1) needs it.
    """
    started = time.perf_counter()
    x, m_x = (np.asarray(v, dtype=float) for v in (x, m_x))
    w = np.ones_like(x) if weight is None else np.asarray(weight, dtype=float)
    keep = (x > 0) & (m_x > 0) & np.isfinite(m_x)
    x, m_x, w = x[keep], m_x[keep], w[keep]
    result = FitResult("gamma_gamma", customer_count=int(w.sum()), group_count=int(x.size))
    if result.customer_count < min_customers:
        return _skip(
            result,
            TOO_FEW_REPEAT_CUSTOMERS,
            f"{result.customer_count} customers with a repeat purchase < {min_customers}",
        )
    scale = float(np.average(m_x, weights=w))
    ms_x = m_x / scale
    total = float(w.sum())

    def objective(theta: np.ndarray) -> float:
        p, q, v = np.exp(theta)
        return -gamma_gamma.log_likelihood((p, q, v), x, ms_x, w) / total

    def unscale(theta: np.ndarray) -> dict[str, float]:
        p, q, v = np.exp(theta)
        return {"p": p, "q": q, "v": v * scale}

    # Start at q = 2, γ such that the population mean p γ/(q - 1) is the data's mean (1 after scaling).
    result = _optimise(
        result,
        objective,
        np.log([1.0, 2.0, 1.0]),
        unscale,
        lambda params: gamma_gamma.log_likelihood(list(params.values()), x, m_x, w),
        started,
    )
    if result.is_used and result.params["q"] <= 1:
        result.is_used = False
        result.fallback_reason = INVALID_PARAMETERS
        result.message = f"q = {result.params['q']:.3f} <= 1: mean spend undefined"
    return result


def _skip(result: FitResult, reason: str, message: str) -> FitResult:
    result.fallback_reason = reason
    result.message = message
    return result


def _optimise(
    result: FitResult,
    objective: Callable[[np.ndarray], float],
    start: np.ndarray,
    unscale: Callable[[np.ndarray], dict[str, float]],
    full_log_likelihood: Callable[[dict[str, float]], float],
    started: float,
) -> FitResult:
    bounds = [(-LOG_BOUND, LOG_BOUND)] * start.size
    try:
        with np.errstate(all="ignore"):
            opt = minimize(objective, start, method="L-BFGS-B", bounds=bounds)
            iterations = int(opt.nit)
            if not opt.success or not np.isfinite(opt.fun):
                polish = minimize(
                    objective,
                    np.clip(opt.x, -LOG_BOUND, LOG_BOUND),
                    method="Nelder-Mead",
                    bounds=bounds,
                    options={"maxiter": 4000, "xatol": 1e-8, "fatol": 1e-12},
                )
                iterations += int(polish.nit)
                if np.isfinite(polish.fun) and (not np.isfinite(opt.fun) or polish.fun <= opt.fun):
                    opt = polish
            params = unscale(opt.x)
            log_likelihood = full_log_likelihood(params)
    except (ArithmeticError, ValueError, FloatingPointError) as error:
        result.fit_seconds = round(time.perf_counter() - started, 3)
        return _skip(result, FIT_ERROR, f"{type(error).__name__}: {error}"[:300])
    result.params = {k: float(v) for k, v in params.items()}
    result.iterations = iterations
    result.fit_seconds = round(time.perf_counter() - started, 3)
    at_bound = bool(np.any(np.abs(opt.x) > LOG_BOUND - _AT_BOUND))
    finite = bool(np.isfinite(log_likelihood) and all(np.isfinite(v) for v in params.values()))
    result.log_likelihood = float(log_likelihood) if finite else None
    result.is_converged = bool(opt.success) and finite and not at_bound
    result.message = str(opt.message)[:300]
    if result.is_converged:
        result.is_used = True
    else:
        result.fallback_reason = NOT_CONVERGED
        if at_bound:
            result.message = "a parameter ran to its bound (data do not identify the model); " + (
                result.message
            )
    return result
