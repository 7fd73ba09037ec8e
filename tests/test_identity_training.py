"""The match-model trainer (cdp/identity/train.py) on comparison vectors drawn from a known model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cdp.identity.train import MatchModel, fit, read_parameters, write_parameters

NAMES = ["first_name", "last_name", "birth_date", "postcode"]
TRUE_M = {
    "first_name": np.array([0.05, 0.03, 0.07, 0.85]),
    "last_name": np.array([0.04, 0.02, 0.09, 0.85]),
    "birth_date": np.array([0.03, 0.02, 0.95]),
    "postcode": np.array([0.1, 0.1, 0.8]),
}
TRUE_U = {
    "first_name": np.array([0.95, 0.02, 0.02, 0.01]),
    "last_name": np.array([0.96, 0.015, 0.015, 0.01]),
    "birth_date": np.array([0.985, 0.01, 0.005]),
    "postcode": np.array([0.95, 0.04, 0.01]),
}
RULES = [["name_pair_key"], ["birth_date_key"]]


def _candidates(rng: np.random.Generator, pairs: int, match_share: float) -> tuple[np.ndarray, np.ndarray]:
    """Comparison vectors of pairs that passed blocking (agree exactly on some rule), as counts."""
    is_match = rng.random(pairs) < match_share
    gamma = np.empty((pairs, len(NAMES)), dtype=np.int64)
    for j, name in enumerate(NAMES):
        probabilities = np.where(is_match[:, None], TRUE_M[name], TRUE_U[name])
        cumulative = probabilities.cumsum(axis=1)
        gamma[:, j] = (rng.random(pairs)[:, None] > cumulative).sum(axis=1)
    blocked = ((gamma[:, 0] == 3) & (gamma[:, 1] == 3)) | (gamma[:, 2] == 2)
    patterns, counts = np.unique(gamma[blocked], axis=0, return_counts=True)
    return patterns, counts.astype(float)


def test_em_sessions_recover_m_with_u_known() -> None:
    gamma, counts = _candidates(np.random.default_rng(5), 2_000_000, 0.02)
    start = MatchModel(0.5, {n: np.full(len(TRUE_M[n]), 1 / len(TRUE_M[n])) for n in NAMES}, TRUE_U, 0, 0)
    model = fit(gamma, counts, start, TRUE_U, RULES)
    for name in NAMES:
        assert np.allclose(model.m[name], TRUE_M[name], atol=0.02), (name, model.m[name])
    # lambda is P(match) for two random records (2% of the simulated pairs), although every pair the
    # trainer sees agrees on a blocking rule (most of those are matches): the forced agreement must be
    # taken out, not counted as evidence.
    assert model.prior == pytest.approx(0.02, rel=0.1), model.prior


def test_fit_is_deterministic_and_parameters_round_trip(tmp_path: Path) -> None:
    gamma, counts = _candidates(np.random.default_rng(9), 200_000, 0.05)
    start = MatchModel(0.5, {n: np.full(len(TRUE_M[n]), 1 / len(TRUE_M[n])) for n in NAMES}, TRUE_U, 0, 0)
    first, second = fit(gamma, counts, start, TRUE_U, RULES), fit(gamma, counts, start, TRUE_U, RULES)
    assert first.rows() == second.rows()
    path = tmp_path / "model.csv"
    write_parameters(first, path)
    again = read_parameters(path)
    for name in NAMES:
        assert np.allclose(again.m[name], first.m[name], rtol=1e-9)
        assert np.allclose(again.u[name], first.u[name], rtol=1e-9)


def test_unknown_blocking_column_is_a_clear_error() -> None:
    gamma, counts = _candidates(np.random.default_rng(1), 10_000, 0.05)
    start = MatchModel(0.5, {n: np.full(len(TRUE_M[n]), 1 / len(TRUE_M[n])) for n in NAMES}, TRUE_U, 0, 0)
    with pytest.raises(ValueError, match="unknown columns"):
        fit(gamma, counts, start, TRUE_U, [["shoe_size_key"]])
