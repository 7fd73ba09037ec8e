"""The warehouse stages: the night's models, built by dbt as of one logical date, in three parts
with the two fits between them.

Each is its own step in :mod:`cdp.pipeline` (and its own task in the DAG):

1. :func:`build_identity_inputs` - ``dbt build`` of what the identity fit reads: the identity records,
   the candidate pairs compared and the random pairs sampled, and everything they are built from;
   (the identity fit, :mod:`cdp.identity.nightly`, is a pipeline stage of its own: it estimates the
   match model on them into ``ops.identity_model_fits``);
2. :func:`build_models` - ``dbt build`` of everything else up to the CLV sufficient statistics (and
   all that does not depend on CLV): scoring and clustering, orders, customers, the snapshot,
   restricted;
3. :func:`fit_clv` - Python fits BG/NBD and Gamma-Gamma on those statistics and writes schema
   ``clv_fit`` (:mod:`cdp.clv.nightly`; the same code on every engine);
4. :func:`build_value_models` - ``dbt build`` of what reads the fit (``source:clv_fit+``: CLV, value
   marts, campaign results).

The models tagged ``segment_export`` (segment membership, the destination file shapes, who is
reachable) are left out of both: the export stage builds them from the segment definitions it has
just checked (:mod:`exports.publish`, decision D42).

:func:`build` runs the dbt parts and the CLV fit in order: for commands that need the whole warehouse
outside a night (``cdp forget`` rebuilding, tests, benchmarks). It does not fit the match model: it
scores with the newest fit the nights made on or before its date (or the pinned or shipped model). How
dbt is called is :mod:`cdp.dbt_runner`.

dbt unit tests check SQL logic on fixed inputs, not the night's data, so nightly runs leave them out
(dbt's advice for production); the test suite builds with ``unit_tests=True``. ``data_tests=False``
skips the data tests too: only for test loops that check their own invariants (never nightly).
``data_tests`` as model names runs only the data tests on those models (all of a test's models in the
list): a command that builds a selection for one consumer gates on what that consumer reads (``cdp
identity train``); the nightly build always runs them all.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import date
from typing import Any

from cdp.clv.nightly import fit_for_date
from cdp.config import Settings
from cdp.dbt_runner import (
    BuildResult,
    build_step,
    data_tests_on,
    inputs_key,
    prepare,
    record_built,
    upstream_models,
)

# What the night's identity fit (cdp.identity.nightly) reads, with everything it is built from: built
# first, in its own invocation (build_identity_inputs); the rest of the build excludes it.
IDENTITY_INPUTS = ("+int_identity_pairs_compared", "+int_identity_pairs_sampled")
# What the night's CLV fit (cdp.clv.nightly) feeds: built after the fit, in a second dbt invocation.
AFTER_CLV_FIT = "source:clv_fit+"
# Segment membership and the destination file shapes (with the reachability rules they write through):
# built by the export stage from the segment definitions it checks (exports.publish), not here.
SEGMENT_EXPORT = "tag:segment_export"
# The fit's inputs: the fit runs when the first invocation built them.
CLV_FIT_INPUTS = (
    "model.cdp.int_clv_frequency_groups_aggregated",
    "model.cdp.int_clv_spend_groups_aggregated",
)


def build_identity_inputs(
    settings: Settings,
    run_date: date,
    select: str | None = None,
    unit_tests: bool = False,
    data_tests: bool | Collection[str] = True,
) -> BuildResult:
    """Stage 1a: ``dbt build`` of :data:`IDENTITY_INPUTS` (within ``select`` when given), with the data
    tests of those models; raises on any failure. What it built is claimed current
    (:func:`cdp.dbt_runner.is_current`, which ``cdp identity train`` asks) when nothing changed under
    the build."""
    started = time.perf_counter()
    models = select.split() if select else []
    inputs = [f"{s},{i}" for s in models for i in IDENTITY_INPUTS] if models else list(IDENTITY_INPUTS)
    if not isinstance(data_tests, bool):  # those of these models' data tests that read only this stage's
        built_here = upstream_models(settings, [i.lstrip("+") for i in IDENTITY_INPUTS])
        inputs += data_tests_on(settings, [m for m in data_tests if m in built_here])
    prepare(settings)  # creates missing config files first: the inputs key must see them as the build will
    key = inputs_key(settings)
    # cautious: a data test runs here only when every model it reads is built here (one that also
    # reads a later model runs with that model, in build_models).
    cautious = [] if not isinstance(data_tests, bool) else ["--indirect-selection", "cautious"]
    nodes = build_step(settings, run_date, inputs, cautious, unit_tests, data_tests)
    if key is not None and key == inputs_key(settings):  # nothing changed under the build
        record_built(settings, run_date, key, nodes, data_tests)
    return _result(run_date, started, nodes, settings)


def build_models(
    settings: Settings,
    run_date: date,
    select: str | None = None,
    unit_tests: bool = False,
    data_tests: bool | Collection[str] = True,
) -> BuildResult:
    """Stage 1b: ``dbt build`` of every model that neither :func:`build_identity_inputs` builds nor
    reads the CLV fit; raises on any failure.

    With ``select``, only that selection (still without those). It never writes what stage 1a built,
    so stage 1a's claims stand.
    """
    started = time.perf_counter()
    selectors = _selectors(settings, select, data_tests)
    excluded = ["--exclude", AFTER_CLV_FIT, SEGMENT_EXPORT, *IDENTITY_INPUTS]
    nodes = build_step(settings, run_date, selectors, excluded, unit_tests, data_tests, keep_claims=True)
    return _result(run_date, started, nodes, settings)


def fit_clv(settings: Settings, run_date: date) -> dict[str, Any]:
    """Stage 2: fit the CLV models on the statistics stage 1 built (:func:`cdp.clv.nightly.fit_for_date`)."""
    return fit_for_date(settings, run_date)


def build_value_models(
    settings: Settings,
    run_date: date,
    select: str | None = None,
    unit_tests: bool = False,
    data_tests: bool | Collection[str] = True,
) -> BuildResult:
    """Stage 3: ``dbt build`` of what reads the CLV fit (within ``select`` when given)."""
    started = time.perf_counter()
    selectors = _selectors(settings, select, data_tests)
    after = [f"{s},{AFTER_CLV_FIT}" for s in selectors] or [AFTER_CLV_FIT]
    # Every node here reads clv_fit (written outside dbt), so none is ever claimed current: the claims
    # stage 1 made stand.
    nodes = build_step(
        settings, run_date, after, ["--exclude", SEGMENT_EXPORT], unit_tests, data_tests, keep_claims=True
    )
    return _result(run_date, started, nodes, settings)


def build(
    settings: Settings,
    run_date: date,
    select: str | None = None,
    unit_tests: bool = False,
    data_tests: bool | Collection[str] = True,
) -> BuildResult:
    """The dbt stages and the CLV fit in order, one result; raises on any failure (a failure stops
    before the next stage). With ``select``, each keeps to the selection; the CLV fit and stage 3 run
    when stage 1b built the fit's inputs. No identity fit (see the module's docstring)."""
    started = time.perf_counter()
    nodes = list(build_identity_inputs(settings, run_date, select, unit_tests, data_tests).nodes)
    nodes += build_models(settings, run_date, select, unit_tests, data_tests).nodes
    if {n["node"] for n in nodes if n["status"] == "success"} & set(CLV_FIT_INPUTS):
        fit_clv(settings, run_date)
        nodes += build_value_models(settings, run_date, select, unit_tests, data_tests).nodes
    return _result(run_date, started, nodes, settings)


def _selectors(settings: Settings, select: str | None, data_tests: bool | Collection[str]) -> list[str]:
    selectors = select.split() if select else []
    if not isinstance(data_tests, bool) and not selectors:
        raise ValueError("data_tests as model names needs a selection (select=...)")
    # Data tests by name (only those of the named models), when not all of the selection's run.
    tests = [] if isinstance(data_tests, bool) else data_tests_on(settings, data_tests)
    return [*selectors, *tests]


def _result(run_date: date, started: float, nodes: list[dict[str, Any]], settings: Settings) -> BuildResult:
    counts: dict[str, int] = {}
    for node in nodes:
        counts[node["status"]] = counts.get(node["status"], 0) + 1
    return BuildResult(
        run_date=run_date.isoformat(),
        success=True,
        seconds=round(time.perf_counter() - started, 3),
        counts=counts,
        nodes=nodes,
        target_path=str(settings.dbt_target_dir),
    )
