"""``cdp identity train``: estimate the Fellegi-Sunter match model from the warehouse (Splink's recipe).

* u = P(level | different people): level frequencies over pseudo-random record pairs
  (``int_identity_pairs_sampled``; nearly every random pair is two different people).
* m = P(level | same person): expectation-maximisation over the candidate pairs
  (``int_identity_pairs_compared``) with u held fixed. A pair proposed by a blocking rule agrees on that
  rule's columns by construction, so those comparisons are masked for it (Splink trains one session per
  blocking rule for the same reason).
* lambda = P(two random records match). Each session's EM also finds the match share among the pairs
  that agree on its rule; removing the evidence of that forced agreement (its m and u: Bayes' rule
  backwards) turns it into lambda, and the median over the sessions is kept (Splink's recipe too),
  over the sessions that hold non-matches (one of all matches bounds lambda from below only).
  The share of *all* candidate pairs is no estimate of it: every candidate agrees on some rule by
  construction, so scored with the forced comparisons unmasked nearly all looked like matches
  (lambda came out ~candidates / all pairs, 1.0000 of the FEBRL4 candidates against 0.92 true).

Training reads only counts per distinct comparison vector (a few hundred rows whatever the number of
records). The result is a parameters CSV (``<home>/config/identity_match_parameters.csv``; the default
shipped with the project is the dbt seed of that name): a versioned file the nightly runs score with,
so a night's matches never depend on re-fitting, and two engines score identical pairs identically.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cdp import dbt_runner, publish, warehouse
from cdp.config import DBT_PROJECT_DIR
from cdp.engines import connect
from cdp.lock import home_lock

if TYPE_CHECKING:
    from datetime import date

    from cdp.config import Settings
    from cdp.engines import Warehouse

log = logging.getLogger(__name__)

PARAMETERS_FILE = DBT_PROJECT_DIR / "seeds" / "identity_match_parameters.csv"
PRIOR = "prior"
# The number of identity records lambda was measured on: scoring scales lambda to the base it scores
# (lambda x (n0 - 1) / (n - 1): each record has about as many true partners in a base of any size).
PRIOR_RECORDS = "prior_records"
_FLOOR = 1e-6


@dataclass(frozen=True)
class MatchModel:
    """lambda (measured on ``prior_records`` identity records) and per-attribute m/u probabilities
    indexed by agreement level (0..top)."""

    prior: float
    m: dict[str, np.ndarray]
    u: dict[str, np.ndarray]
    iterations: int
    pairs: int
    prior_records: int | None = None

    def rows(self) -> list[tuple[str, int, float, float]]:
        out = [(PRIOR, 0, self.prior, 1.0 - self.prior)]
        if self.prior_records:
            out.append((PRIOR_RECORDS, 0, float(self.prior_records), 1.0))
        for name in self.m:
            for level in range(len(self.m[name]) - 1, -1, -1):
                out.append((name, level, float(self.m[name][level]), float(self.u[name][level])))
        return out


def read_parameters(path: Path = PARAMETERS_FILE) -> MatchModel:
    """The model in a parameters CSV (the starting point of training, and what dbt scores with)."""
    prior, prior_records, m, u = 0.05, None, {}, {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["comparison"] == PRIOR:
            prior = float(row["m_probability"])
        elif row["comparison"] == PRIOR_RECORDS:
            prior_records = round(float(row["m_probability"]))
    for name in dict.fromkeys(r["comparison"] for r in rows if r["comparison"] not in (PRIOR, PRIOR_RECORDS)):
        levels = {int(r["level"]): r for r in rows if r["comparison"] == name}
        top = max(levels)
        if sorted(levels) != list(range(top + 1)):
            raise ValueError(f"{path}: comparison {name!r} must have levels 0..{top}, got {sorted(levels)}")
        m[name] = np.array([float(levels[lv]["m_probability"]) for lv in range(top + 1)])
        u[name] = np.array([float(levels[lv]["u_probability"]) for lv in range(top + 1)])
    return MatchModel(prior, m, u, 0, 0, prior_records)


# What agreeing exactly on a blocking column means on the comparison levels: (comparison, lowest level).
BLOCKING_KEY_LEVELS = {
    "name_pair_key": (("first_name", 3), ("last_name", 3)),
    "first_name_key": (("first_name", 3),),
    "last_name_key": (("last_name", 3),),
    "birth_date_key": (("birth_date", 2),),
    "postcode_key": (("postcode", 3),),
    "postcode_area_key": (("postcode", 2),),
    "address_key": (("address", 2),),
    "city_key": (("city", 1),),
    "gender_key": (("gender", 1),),
    "house_number_key": (),  # part of the address line: forces no comparison level
}


def _group(wh: Warehouse, table: str, columns: list[str]) -> np.ndarray:
    """Pairs per distinct combination of ``columns``: grouped in the engine, one row per pattern here."""
    cols = ", ".join(columns)
    rows = wh.rows(f"select {cols}, count(*) as pairs from {table} group by {cols} order by {cols}")
    return np.array(rows, dtype=np.int64).reshape(-1, len(columns) + 1)


def u_from_sample(wh: Warehouse, start: MatchModel) -> dict[str, np.ndarray]:
    """Level frequencies over the pseudo-random pairs (missing sides left out), floored."""
    u = {}
    for name, levels in start.u.items():
        table = _group(wh, "intermediate.int_identity_pairs_sampled", [f"gamma_{name}"])
        known = table[table[:, 0] >= 0]
        if not len(known):  # the data never has it on both sides: the comparison never scores
            log.warning("no sampled pair has %s on both sides: it keeps its starting u", name)
            u[name] = levels.copy()
            continue
        counts = np.bincount(known[:, 0], weights=known[:, 1], minlength=len(levels)).astype(float)
        counts = np.maximum(counts / counts.sum(), _FLOOR)
        u[name] = counts / counts.sum()
    return u


def candidate_patterns(wh: Warehouse, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct comparison vectors of the candidate pairs and how many pairs share each."""
    table = _group(wh, "intermediate.int_identity_pairs_compared", [f"gamma_{n}" for n in names])
    if not len(table):
        raise ValueError(
            "no candidate pairs in intermediate.int_identity_pairs_compared: build the warehouse first"
        )
    return table[:, :-1], table[:, -1].astype(float)


def _em(
    gamma: np.ndarray,
    counts: np.ndarray,
    m: dict[str, np.ndarray],
    u: dict[str, np.ndarray],
    train_m: bool,
    max_iterations: int = 500,
    tolerance: float = 1e-8,
) -> tuple[float, dict[str, np.ndarray], int]:
    """EM for the match share among these pairs (and m unless ``train_m`` is False); u stays fixed.
    Comparisons with level -1 (missing or masked) count for neither class."""
    names = list(m)
    m = {k: v.copy() for k, v in m.items()}
    prior, iterations = 0.5, 0
    for _ in range(max_iterations):
        iterations += 1
        log_odds = np.full(len(counts), np.log(prior) - np.log1p(-prior))
        for j, name in enumerate(names):
            level = gamma[:, j]
            known = level >= 0
            log_odds[known] += np.log(m[name][level[known]]) - np.log(u[name][level[known]])
        posterior = 1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700)))
        w_match = counts * posterior
        new_prior = min(max(float(w_match.sum() / counts.sum()), _FLOOR), 1 - _FLOOR)
        change = abs(new_prior - prior)
        prior = new_prior
        if train_m:
            for j, name in enumerate(names):
                level = gamma[:, j]
                known = level >= 0
                if not known.any():
                    continue
                new_m = np.bincount(level[known], weights=w_match[known], minlength=len(m[name]))
                new_m = np.maximum(new_m / max(new_m.sum(), _FLOOR), _FLOOR)
                new_m = new_m / new_m.sum()
                change = max(change, float(np.abs(new_m - m[name]).max()))
                m[name] = new_m
        if change < tolerance:
            break
    return prior, m, iterations


def fit(
    gamma: np.ndarray,
    counts: np.ndarray,
    start: MatchModel,
    u: dict[str, np.ndarray],
    rules: list[list[str]],
    records: int | None = None,
    lambda_rules: list[bool] | None = None,
) -> MatchModel:
    """m by one EM session per blocking rule, deterministic (no sampling).

    A session takes the candidate pairs that agree on the rule's columns and masks those comparisons
    (their agreement was forced, it says nothing about matching); it estimates m for the others and
    the match share of its pairs. Each comparison's m is the mean over the sessions that estimated it;
    lambda (two random records) is the median over the sessions of their match share with the forced
    agreement's evidence taken out: odds(lambda) = odds(share) x P(forced | non-match) / P(forced | match).
    ``records`` (the identity records of the base) is kept with lambda, so scoring can scale it.
    ``lambda_rules`` (one flag per rule, default all) names the sessions lambda may come from: a rule
    with its own small block cap sees only rare keys, whose agreement says more than u (an average
    over all values) takes out, so its share overstates lambda (clean generated data: 4.0e-5 with
    them, truth 3.2e-5). Its pairs still estimate m.
    """
    names = list(start.m)
    estimates: dict[str, list[np.ndarray]] = {name: [] for name in names}
    sessions: list[tuple[float, list[tuple[int, int]], float]] = []
    iterations = 0
    for number, rule in enumerate(rules):
        forced = [(names.index(c), level) for key in rule for c, level in BLOCKING_KEY_LEVELS.get(key, ())]
        if not forced:
            raise ValueError(f"blocking rule {rule}: unknown columns (known: {sorted(BLOCKING_KEY_LEVELS)})")
        rows = np.all([gamma[:, j] >= level for j, level in forced], axis=0)
        if counts[rows].sum() < 10:
            continue
        session = gamma[rows].copy()
        for j, _ in forced:
            session[:, j] = -1
        share, m, n = _em(session, counts[rows], start.m, u, train_m=True)
        iterations += n
        if lambda_rules is None or lambda_rules[number]:
            sessions.append((share, forced, (1 - share) * counts[rows].sum()))
        for j, name in enumerate(names):
            if (session[:, j] >= 0).any():
                estimates[name].append(m[name])
    m = {}
    for name in names:
        if not estimates[name]:  # never observed outside the rules that force it: keep the start
            log.warning("no blocking-rule session could estimate m for %s: it keeps its starting m", name)
            m[name] = start.m[name].copy()
            continue
        mean = np.mean(estimates[name], axis=0)
        m[name] = mean / mean.sum()
    if not sessions:  # too few candidate pairs to estimate anything: keep the starting lambda too
        log.warning("no blocking rule has 10 candidate pairs: lambda keeps its starting value")
        return MatchModel(start.prior, m, u, iterations, int(counts.sum()), start.prior_records)
    # A session whose pairs are (nearly) all matches bounds lambda from below only: its share is
    # clipped, not measured (FEBRL4: such sessions gave 4e-3 and 0.18 against a true 1e-4). Sessions
    # with at least 10 pairs estimated non-matching are used when there are any.
    informative = [session for session in sessions if session[2] >= 10] or sessions
    log_odds = []
    for share, forced, _ in informative:
        evidence = sum(
            np.log(m[names[j]][level:].sum()) - np.log(u[names[j]][level:].sum()) for j, level in forced
        )
        log_odds.append(np.log(share) - np.log1p(-share) - evidence)
    prior = float(1.0 / (1.0 + np.exp(-np.median(log_odds))))
    return MatchModel(min(max(prior, _FLOOR), 0.5), m, u, iterations, int(counts.sum()), records)


def write_parameters(model: MatchModel, path: Path = PARAMETERS_FILE) -> None:
    """Write the seed CSV atomically (rounded to 10 significant digits: a stable, diffable file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["comparison", "level", "m_probability", "u_probability"])
        for name, level, m, u in model.rows():
            writer.writerow([name, level, f"{m:.10g}", f"{u:.10g}"])
    tmp.replace(path)


def blocking_rules() -> list[tuple[list[str], bool]]:
    """The blocking rules of dbt_project.yml: each rule's columns (the trainer masks what each rule
    forces) and whether lambda may be estimated from its pairs (not when the rule has its own block
    cap: :func:`fit`). A rule is a list of columns or a mapping with ``columns`` and its own
    ``max_block_records``."""
    import yaml

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    rules = []
    for rule in project["vars"]["identity_blocking_rules"]:
        if isinstance(rule, dict):
            rules.append((list(rule["columns"]), "max_block_records" not in rule))
        else:
            rules.append((list(rule), True))
    return rules


# The models whose dbt data tests gate the fit: the identity records (one row per record key) and the
# pairs counted (each pair once, ordered). The tests of staging and deduplication gate the nightly
# build; they guard marts, not the counts the fit reads (a key they would flag duplicated or missing
# fails the record-key tests here too).
GATING_MODELS = (
    "int_identity_records_unioned",
    "int_identity_records_standardised",
    "int_identity_pairs_blocked",
    "int_identity_pairs_compared",
    "int_identity_pairs_sampled",
)


def build_pairs(settings: Settings, run_date: date, rebuild: bool = False) -> bool:
    """dbt build of the candidate and sampled pairs as of ``run_date``, with the data tests of the
    models the fit reads (:data:`GATING_MODELS`); True when it built.

    Not when the warehouse already holds them as of ``run_date`` (:func:`cdp.dbt_runner.is_current`:
    built by a cdp build of that date from the same project, configuration, landed files and
    environment, these tests passed then), as after the night's build: the same build would give the
    same tables. ``rebuild`` builds anyway."""

    if not rebuild and dbt_runner.is_current(settings, run_date, GATING_MODELS, tested=GATING_MODELS):
        log.info("the candidate and sampled pairs are current for %s: training on them", run_date)
        return False
    warehouse.build_identity_inputs(settings, run_date, data_tests=GATING_MODELS)
    return True


def train_for_date(settings: Settings, run_date: date, output: Path, rebuild: bool = False) -> MatchModel:
    """``cdp identity train``: the pairs as of ``run_date`` (built unless current), the fit, ``output``.

    Holds the home's lock. The published warehouse is only read: when the pairs must be built, they
    are built in a private copy (:func:`cdp.publish.scratch`) that is thrown away after the fit, so
    analysts' tables never change under them and a night's build in progress is not touched."""

    with home_lock(settings.home, f"cdp identity train for {run_date.isoformat()}"):
        if not rebuild and dbt_runner.is_current(settings, run_date, GATING_MODELS, tested=GATING_MODELS):
            log.info("the candidate and sampled pairs are current for %s: training on them", run_date)
            return train(settings, output)
        try:
            with publish.scratch(settings, "train") as scratch:
                build_pairs(scratch, run_date, rebuild=True)
                return train(scratch, output)
        finally:
            dbt_runner.forget_built(settings)  # the state describes the copy, which is gone


def train(settings: Settings, output: Path, start_from: Path = PARAMETERS_FILE) -> MatchModel:
    """Fit the match model on the warehouse of ``settings`` (either engine, built as of some date) and
    write it to ``output``.

    ``start_from`` only names the comparisons and their levels (EM starts m from it; u is measured)."""

    with connect(settings, read_only=True) as wh:
        model, _ = estimate(wh, read_parameters(start_from))
    write_parameters(model, output)
    return model


def estimate(wh: Warehouse, start: MatchModel) -> tuple[MatchModel, int]:
    """The match model of the pairs built in ``wh`` (u from the sampled pairs, m and lambda by EM over
    the candidate pairs, one session per blocking rule), and the number of distinct comparison vectors
    it read. The nightly fit (:mod:`cdp.identity.nightly`) and ``cdp identity train`` share it."""

    names = list(start.m)
    u = u_from_sample(wh, start)
    gamma, counts = candidate_patterns(wh, names)
    (records,) = wh.row("select count(*) from intermediate.int_identity_records_standardised")
    rules = blocking_rules()
    columns, for_lambda = [rule for rule, _ in rules], [flag for _, flag in rules]
    model = fit(gamma, counts, start, u, columns, records, for_lambda)
    log.info(
        "identity model estimated on %s candidate pairs (%s patterns, %s EM iterations): lambda=%.3g, "
        "about %s matching pairs among the %s records",
        f"{model.pairs:,}",
        len(counts),
        model.iterations,
        model.prior,
        f"{model.prior * records * (records - 1) / 2:,.0f}",
        f"{records:,}",
    )
    return model, len(counts)
