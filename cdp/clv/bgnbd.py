"""BG/NBD: "buy till you die" model of purchase frequency and dropout (Fader, Hardie & Lee 2005a).

While alive a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after each purchase they
drop out with probability p ~ Beta(a, b). A customer is summarised by x (repeat purchases), t_x (time
of the last purchase since the first) and T (time since the first purchase), all in one time unit.

Every function takes arrays of *groups* of identical (x, t_x, T) with a weight (number of customers),
so fitting and predicting cost O(distinct groups), not O(customers).

References: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the
Pareto/NBD Model", Marketing Science 24(2); Fader & Hardie (2013), "Overcoming the BG/NBD Model's #NUM!
Error Problem" (log-sum-exp form used below).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, gammaln, hyp2f1

PARAMS = ("r", "alpha", "a", "b")


def log_likelihood(
    params: ArrayLike, x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike, weight: ArrayLike | None = None
) -> float:
    """Sum over groups of weight x log L(r, α, a, b | x, t_x, T) (FHL 2005a, eq. 6)."""
    r, alpha, a, b = (float(v) for v in params)
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    big_t = np.asarray(big_t, dtype=float)
    w = np.ones_like(x) if weight is None else np.asarray(weight, dtype=float)
    return float(np.dot(w, _log_likelihood_terms(r, alpha, a, b, x, t_x, big_t)))


def _log_likelihood_terms(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    # log L = log[Γ(r+x) α^r / Γ(r)] + log[ B(a, b+x)/B(a,b) (α+T)^-(r+x)
    #                                     + 1{x>0} B(a+1, b+x-1)/B(a,b) (α+t_x)^-(r+x) ]
    beta_ab = betaln(a, b)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - beta_ab - (r + x) * np.log(alpha + big_t)
    repeat = x > 0
    x_safe = np.where(repeat, x, 1.0)  # keeps b + x - 1 > 0 where the term is not used
    a3 = betaln(a + 1, b + x_safe - 1) - beta_ab - (r + x) * np.log(alpha + t_x)
    return a1 + np.where(repeat, np.logaddexp(a2, a3), a2)


def probability_alive(
    params: ArrayLike, x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike
) -> np.ndarray:
    """P(alive | x, t_x, T) (FHL 2005a, eq. 11); 1 for customers without a repeat purchase."""
    r, alpha, a, b = (float(v) for v in params)
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    big_t = np.asarray(big_t, dtype=float)
    return 1.0 / (1.0 + _dropout_odds(r, alpha, a, b, x, t_x, big_t))


def _dropout_odds(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
    """δ(x>0) a/(b+x-1) ((α+T)/(α+t_x))^(r+x), computed in logs (large x would overflow)."""
    repeat = x > 0
    x_safe = np.where(repeat, x, 1.0)
    log_odds = np.log(a) - np.log(b + x_safe - 1) + (r + x) * (
        np.log(alpha + big_t) - np.log(alpha + t_x)
    )
    return np.where(repeat, np.exp(np.minimum(log_odds, 700.0)), 0.0)


def expected_purchases(
    params: ArrayLike, t: float, x: ArrayLike, t_x: ArrayLike, big_t: ArrayLike
) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` time units (FHL 2005a, eq. 10)."""
    r, alpha, a, b = (float(v) for v in params)
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    big_t = np.asarray(big_t, dtype=float)
    if t <= 0:
        return np.zeros_like(x)
    z = t / (alpha + big_t + t)
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
    head = (a + b + x - 1) / (a - 1) if a != 1 else None
    if head is None:  # a = 1 exactly: the formula's 0/0 limit; nudge a (continuous in a).
        return expected_purchases((r, alpha, a * (1 + 1e-9), b), t, x, t_x, big_t)
    bracket = 1.0 - np.exp((r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + t))) * hyp
    value = head * bracket / (1.0 + _dropout_odds(r, alpha, a, b, x, t_x, big_t))
    return np.maximum(value, 0.0)


def simulate(
    n: int,
    params: ArrayLike,
    big_t: ArrayLike,
    rng: np.random.Generator,
    *,
    day_resolution: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (x, t_x, T) for ``n`` customers from the BG/NBD generative process.

    ``big_t`` is each customer's observation length (scalar or array of n). With ``day_resolution``
    (length of one day in the time unit, e.g. 1/7 for weeks) purchase times are floored to whole days
    and same-day purchases merged, as the warehouse does with real orders.
    """
    r, alpha, a, b = (float(v) for v in params)
    big_t = np.broadcast_to(np.asarray(big_t, dtype=float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    x = np.zeros(n, dtype=np.int64)
    t_x = np.zeros(n)
    now = np.zeros(n)
    last_day = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1.0, size=idx.size) / lam[idx]
        inside = now[idx] < big_t[idx]
        bought = idx[inside]
        if day_resolution:
            day = np.floor(now[bought] / day_resolution + 1e-9) * day_resolution
            new_day = day > last_day[bought]
            counted = bought[new_day]
            t_x[counted] = day[new_day]
            last_day[counted] = day[new_day]
        else:
            counted = bought
            t_x[counted] = now[counted]
        x[counted] += 1
        # Each purchase inside the window is followed by a dropout draw with probability p.
        survive = rng.random(bought.size) >= p[bought]
        active[:] = False
        active[bought[survive]] = True
    if day_resolution:
        big_t = np.floor(big_t / day_resolution + 1e-9) * day_resolution
    return x.astype(float), t_x, big_t
