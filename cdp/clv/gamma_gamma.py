"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005b; Colombo & Jiang 1999).

Transaction values of a customer are Gamma(p, ν) around the customer's mean p/ν, with ν ~ Gamma(q, γ)
across customers (γ is written ``v``, as in the paper's tables). A customer enters as (x, m_x): the
number of repeat transactions and their mean value. Fitted on customers with x > 0 and m_x > 0; groups
of identical (x, m_x) carry a weight.

Reference: Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base
Analysis", Journal of Marketing Research 42(4), and the note "The Gamma-Gamma Model of Monetary Value"
(Fader & Hardie, 2013).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln

PARAMS = ("p", "q", "v")


def log_likelihood(
    params: ArrayLike, x: ArrayLike, m_x: ArrayLike, weight: ArrayLike | None = None
) -> float:
    """Sum over groups of weight x log f(m_x | p, q, γ, x) (density of the mean of x transactions)."""
    p, q, v = (float(value) for value in params)
    x = np.asarray(x, dtype=float)
    m_x = np.asarray(m_x, dtype=float)
    w = np.ones_like(x) if weight is None else np.asarray(weight, dtype=float)
    px = p * x
    terms = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m_x)
        + px * np.log(x)
        - (px + q) * np.log(v + x * m_x)
    )
    return float(np.dot(w, terms))


def expected_average_value(params: ArrayLike, x: ArrayLike, m_x: ArrayLike) -> np.ndarray:
    """E[M | p, q, γ, x, m_x] = p (γ + x m_x) / (p x + q - 1): a credibility-weighted mean of the
    population mean p γ / (q - 1) and the customer's own m_x (x = 0 gives the population mean)."""
    p, q, v = (float(value) for value in params)
    x = np.asarray(x, dtype=float)
    m_x = np.asarray(m_x, dtype=float)
    return p * (v + x * m_x) / (p * x + q - 1)


def simulate(
    x: ArrayLike, params: ArrayLike, rng: np.random.Generator
) -> np.ndarray:
    """Draw m_x, the mean of x transaction values, for each customer (x >= 1) from the model."""
    p, q, v = (float(value) for value in params)
    x = np.asarray(x, dtype=float)
    nu = rng.gamma(q, 1.0 / v, size=x.size)
    # The sum of x Gamma(p, ν) values is Gamma(p x, ν); m_x is that over x.
    return rng.gamma(p * x, 1.0 / nu) / x
