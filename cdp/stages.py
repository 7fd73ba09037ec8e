"""The night's stages, in order: the one list ``cdp run`` and the Airflow DAG both iterate.

Each stage is a function of :mod:`cdp.pipeline` with the stage's name, taking ``(settings, run_date)``
(and the source, for a stage that runs once per configured source). ``cdp run`` calls them in this
order; the DAG (``dags/cdp_nightly.py``) makes one task per stage, in this order, named after it. A
stage added here appears in both, and ``tests/test_dag.py`` fails if the DAG's tasks and this list
part.

This module imports nothing heavy: the DAG file reads it when Airflow parses DAGs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    #: The :mod:`cdp.pipeline` function and the DAG's task id.
    name: str
    #: The step's key in the run log (``<home>/logs/runs/<date>.json``), ``cdp run``'s progress line and
    #: ``make bench``; ``{source}`` for a per-source stage.
    label: str
    #: One run per configured source (a mapped task in the DAG).
    per_source: bool = False
    #: The Airflow asset this stage makes available (emitted only after the gate that guards it).
    asset: str | None = None


STAGES: tuple[Stage, ...] = (
    Stage("prepare", "prepare"),
    Stage("ingest_source", "ingest:{source}", per_source=True),
    Stage("gate_landed", "gate:landed", asset="cdp_landed"),
    Stage("build_identity_inputs", "dbt:identity"),
    Stage("fit_identity", "identity:fit"),
    Stage("build_models", "dbt:build"),
    Stage("fit_clv", "clv:fit"),
    Stage("build_value_models", "dbt:value"),
    Stage("gate_marts", "gate:marts"),
    Stage("export", "export", asset="cdp_exports"),
    Stage("publish_warehouse", "publish", asset="cdp_marts"),
    Stage("write_report", "report"),
)


def stage(name: str) -> Stage:
    """The stage called ``name`` (a KeyError names the known ones)."""
    for candidate in STAGES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no stage {name!r}; stages: {', '.join(s.name for s in STAGES)}")
