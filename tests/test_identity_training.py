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
    first, second = (fit(gamma, counts, start, TRUE_U, RULES, records=4321) for _ in range(2))
    assert first.rows() == second.rows()
    path = tmp_path / "model.csv"
    write_parameters(first, path)
    again = read_parameters(path)
    # lambda travels with the number of records it was measured on (scoring scales it to its base).
    assert (again.prior, again.prior_records) == (pytest.approx(first.prior, rel=1e-9), 4321)
    for name in NAMES:
        assert np.allclose(again.m[name], first.m[name], rtol=1e-9)
        assert np.allclose(again.u[name], first.u[name], rtol=1e-9)


def test_unknown_blocking_column_is_a_clear_error() -> None:
    gamma, counts = _candidates(np.random.default_rng(1), 10_000, 0.05)
    start = MatchModel(0.5, {n: np.full(len(TRUE_M[n]), 1 / len(TRUE_M[n])) for n in NAMES}, TRUE_U, 0, 0)
    with pytest.raises(ValueError, match="unknown columns"):
        fit(gamma, counts, start, TRUE_U, [["shoe_size_key"]])


def test_pairs_are_current_only_when_built_for_that_date_from_the_same_inputs(tmp_path: Path) -> None:
    """`cdp identity train` trains on the warehouse's pairs instead of rebuilding them only when the
    last cdp build made them (and everything they read) for that date, tested, from the same landed
    files, configuration and project (cdp.dbt_runner.is_current; the state a build writes is faked
    here, no dbt)."""
    import json
    from datetime import date

    from cdp import dbt_runner
    from cdp.config import Settings

    settings = Settings.load(home=tmp_path).ensure()
    landed = settings.lake / "landing" / "pos" / "loyalty_members" / "load_date=2024-01-01" / "part-0.parquet"
    landed.parent.mkdir(parents=True)
    landed.write_bytes(b"rows")
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    settings.warehouse.write_bytes(b"")
    settings.dbt_target_dir.mkdir(parents=True, exist_ok=True)
    day = date(2024, 1, 2)

    def write_state(parents_of_staging: list[str], tested: bool = True, run_date: date = day) -> None:
        inputs = dbt_runner.inputs_key(settings)
        record = {"run_date": run_date.isoformat(), "inputs": inputs, "tested": tested}
        state = {
            "warehouse": dbt_runner._warehouse_identity(settings),
            "file_sources": ["source.cdp.pos.loyalty_members"],
            "nodes": {
                "model.cdp.stg_pos__loyalty_members": {**record, "parents": parents_of_staging},
                "model.cdp.int_identity_pairs_compared": {
                    **record, "parents": ["model.cdp.stg_pos__loyalty_members"],
                },
            },
        }
        (settings.dbt_target_dir / "cdp_built.json").write_text(json.dumps(state))

    def current() -> bool:
        pairs = ["int_identity_pairs_compared"]
        return dbt_runner.is_current(settings, day, pairs, tested=pairs)

    assert not current()  # nothing built yet
    write_state(["source.cdp.pos.loyalty_members"])
    assert current()
    assert not dbt_runner.is_current(settings, date(2024, 1, 3), ["int_identity_pairs_compared"])
    write_state(["source.cdp.pos.loyalty_members"], tested=False)
    assert not current()  # the gating tests did not run on that build
    write_state(["source.cdp.ops.segment_runs"])
    assert not current()  # reads a table no key covers
    write_state(["source.cdp.pos.loyalty_members"], run_date=date(2024, 1, 1))
    assert not current()
    write_state(["source.cdp.pos.loyalty_members"])
    landed.write_bytes(b"rows, landed again")
    assert not current()  # the landed data changed since the build
    write_state(["source.cdp.pos.loyalty_members"])
    with settings.identity_overrides_file.open("a", encoding="utf-8") as overrides:
        overrides.write("keep_apart,pos:loyalty_members:1,pos:loyalty_members:2,test,me,2024-01-01\n")
    assert not current()  # so did the configuration
    write_state(["source.cdp.pos.loyalty_members"])
    dbt_runner.forget_built(settings)
    assert not current()
