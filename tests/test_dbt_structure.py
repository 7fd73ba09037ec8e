"""The dbt project's structure, checked on its manifest (our stand-in for dbt_project_evaluator, whose
package cannot be installed offline): the rules of ../shared/CONVENTIONS.md ("dbt") that a reviewer
would otherwise check by memory.

One ``dbt parse`` into a temporary home (no warehouse is built; seconds), with a trained identity model
file present so that models enabled only with one (stg_config__identity_match_parameters) are parsed too.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cdp.config import DBT_PROJECT_DIR, Settings

try:  # the dbt runner's module while cdp is being re-layered (issue 20)
    from cdp.dbt_runner import dbt_args, invoke
except ImportError:
    from cdp.warehouse import _invoke as invoke
    from cdp.warehouse import dbt_args

PROJECT = "cdp"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings.load(home=tmp_path_factory.mktemp("dbt_structure") / "home").ensure()
    settings.identity_model_file.parent.mkdir(parents=True, exist_ok=True)
    seed = DBT_PROJECT_DIR / "seeds" / "identity_match_parameters.csv"
    settings.identity_model_file.write_text(seed.read_text(encoding="utf-8"), encoding="utf-8")
    result = invoke(settings, dbt_args(settings, ["parse"], date(2026, 3, 10)))
    assert result.success, result.exception
    return json.loads((settings.dbt_target_dir / "manifest.json").read_text(encoding="utf-8"))


def models(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == PROJECT
    }


def layer(node: dict[str, Any]) -> str:
    """staging, intermediate, marts or restricted: the model's top folder under models/."""
    return Path(node["original_file_path"]).parts[1]


def test_source_only_in_staging(manifest: dict[str, Any]) -> None:
    """dbt_project_evaluator's fct_direct_join_to_source: only staging models read sources."""
    offenders = {
        name: [parent for parent in node["depends_on"]["nodes"] if parent.startswith("source.")]
        for name, node in models(manifest).items()
        if layer(node) != "staging"
    }
    assert {name: parents for name, parents in offenders.items() if parents} == {}


def test_staging_models_read_one_source_table(manifest: dict[str, Any]) -> None:
    """One staging model per source table, named stg_<source>__<entity>s, in models/staging/<source>/."""
    bad = []
    for name, node in models(manifest).items():
        if layer(node) != "staging":
            continue
        sources = [p for p in node["depends_on"]["nodes"] if p.startswith("source.")]
        if len(sources) != 1:
            bad.append(f"{name}: reads {sources or 'no source'}")
            continue
        source = manifest["sources"][sources[0]]
        prefix = f"stg_{source['source_name']}__"
        folder = Path(node["original_file_path"]).parts[2]
        if not name.startswith(prefix) or not name.endswith("s") or folder != source["source_name"]:
            bad.append(f"{name}: expected {prefix}<entity>s in models/staging/{source['source_name']}/")
    assert bad == []
