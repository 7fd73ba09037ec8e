"""The dbt project's structure, checked on its manifest (our stand-in for dbt_project_evaluator, whose
package cannot be installed offline): the rules of ../shared/CONVENTIONS.md ("dbt") that a reviewer
would otherwise check by memory.

One ``dbt parse`` into a temporary home (no warehouse is built; seconds), with a trained identity model
file present so that models enabled only with one (stg_config__identity_match_parameters) are parsed too.
"""

from __future__ import annotations

import json
import re
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


def own_yaml(node: dict[str, Any]) -> str:
    """models/<layer>/<area>/<model>.yml: where a model's properties and unit tests belong."""
    return str(Path(node["original_file_path"]).with_suffix(".yml"))


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


def test_every_model_is_described(manifest: dict[str, Any]) -> None:
    """dbt_project_evaluator's fct_undocumented_models."""
    assert sorted(name for name, node in models(manifest).items() if not node["description"].strip()) == []


def test_one_yaml_per_model_beside_it(manifest: dict[str, Any]) -> None:
    """models/<layer>/<area>/<model>.yml declares <model>.sql and nothing else (jaffle-shop's orders.yml)."""
    bad = []
    for name, node in models(manifest).items():
        expected = own_yaml(node)
        patch = (node.get("patch_path") or "").split("://", 1)[-1]
        if patch != expected:
            bad.append(f"{name}: declared in {patch or 'no YAML'}, expected {expected}")
    assert bad == []


def test_unit_tests_beside_their_model(manifest: dict[str, Any]) -> None:
    """A model's dbt unit tests live in the model's own YAML."""
    yaml_of = {name: own_yaml(node) for name, node in models(manifest).items()}
    bad = [
        f"{test['name']} ({test['model']}) in {test['original_file_path']}"
        for test in manifest["unit_tests"].values()
        if test["original_file_path"] != yaml_of[test["model"]]
    ]
    assert manifest["unit_tests"]
    assert bad == []


def test_model_yaml_files_are_named_after_a_model() -> None:
    """Under models/, a YAML file is <model>.yml or a _<name>__sources.yml / _<name>__exposures.yml."""
    models_dir = DBT_PROJECT_DIR / "models"
    bad = [
        str(path.relative_to(models_dir))
        for path in sorted(models_dir.rglob("*.yml"))
        if not path.with_suffix(".sql").exists()
        and not path.name.endswith(("__sources.yml", "__exposures.yml"))
    ]
    assert bad == []


def test_readme_states_the_vars_dbt_project_yml_sets() -> None:
    """A var the README names with its value, as "`name` (value)", has that value in dbt_project.yml."""
    import re

    import yaml

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    readme = (DBT_PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    stated = re.findall(r"`(\w+)`\s*\((-?[\d.]+)\)", readme)
    assert stated
    wrong = {
        name: (value, project["vars"][name])
        for name, value in stated
        if name in project["vars"] and str(project["vars"][name]) != value
    }
    assert wrong == {}


def project_macros(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in manifest["macros"].values() if m["package_name"] == PROJECT}


def test_every_macro_is_documented_in_yaml(manifest: dict[str, Any]) -> None:
    """macros/<area>/_<area>__macros.yml describes every macro of the folder and names its arguments."""
    bad = []
    for name, macro in project_macros(manifest).items():
        folder = Path(macro["original_file_path"]).parent
        expected = str(folder / f"_{folder.name}__macros.yml")
        patch = (macro.get("patch_path") or "").split("://", 1)[-1]
        if not macro["description"].strip() or patch != expected:
            bad.append(f"{name}: {patch or 'no YAML'}, expected a description in {expected}")
        elif any(not argument.get("description") for argument in macro["arguments"]):
            bad.append(f"{name}: an argument without a description")
    assert bad == []


def test_engine_twins_live_in_cross_engine(manifest: dict[str, Any]) -> None:
    """adapter.dispatch implementations (default__x, duckdb__x, spark__x, an adapter's materialization)
    and the macros that dispatch to them sit together in macros/cross_engine/."""
    import re

    macros = project_macros(manifest)
    twins = {name for name in macros if re.match(r"^(default|duckdb|spark)__|^materialization_", name)}
    dispatchers = {name for name, m in macros.items() if "adapter.dispatch(" in m["macro_sql"]}
    assert twins
    assert dispatchers
    bad = sorted(
        f"{name}: {macros[name]['original_file_path']}"
        for name in twins | dispatchers
        if Path(macros[name]["original_file_path"]).parts[:2] != ("macros", "cross_engine")
    )
    assert bad == []


# Personal data, declared once (issue 20, point 4): every column that holds it carries
# config: {meta: {pii: <kind>}} (read back as node.columns[name].meta["pii"]), kinds from this closed
# list (dbt_project/README.md, "Personal data"); masked or hashed forms add meta pii_form.
PII_KINDS = frozenset(
    {
        "email",
        "phone",
        "name",
        "address",
        "postcode",
        "city",
        "birth_date",
        "gender",
        "handle",
        "source_id",
        "customer_key",
        "record_key",
        "match_key",
        "contact_point",
        "free_text",
    }
)
PII_FORMS = frozenset({"masked", "hashed", "reduced"})
LOOKS_PERSONAL = re.compile(
    r"email|phone|first_name|last_name|display_name|address|street|postcode|city|birth|handle|gender"
    r"|house_number|name_key|name_pair|record_key|loyalty_card|source_record_id|customer_id|ip_address"
)
# Flags, counts, consent, the source an attribute came from, agreement levels: about a person's data,
# not the data itself.
NOT_PERSONAL = re.compile(
    r"^(has|is|can)_|_count$|_opt_in$|_source$|^gamma_|^weight_|^rejected_|_since$|_exclusion$"
)


def declared_columns(manifest: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(resource, column, column properties) of every model, snapshot and source of the project."""
    nodes = [
        node
        for node in [*manifest["nodes"].values(), *manifest["sources"].values()]
        if node["resource_type"] in ("model", "snapshot", "source") and node["package_name"] == PROJECT
    ]
    return [(node["unique_id"], name, column) for node in nodes for name, column in node["columns"].items()]


def test_personal_columns_declare_their_kind(manifest: dict[str, Any]) -> None:
    undeclared = sorted(
        f"{resource}.{name}"
        for resource, name, column in declared_columns(manifest)
        if LOOKS_PERSONAL.search(name) and not NOT_PERSONAL.search(name) and "pii" not in column["meta"]
    )
    assert undeclared == []


def test_pii_kinds_come_from_the_closed_list(manifest: dict[str, Any]) -> None:
    declared = [(f"{r}.{n}", c["meta"]) for r, n, c in declared_columns(manifest) if "pii" in c["meta"]]
    assert len(declared) > 100
    assert [(column, meta) for column, meta in declared if meta["pii"] not in PII_KINDS] == []
    assert [
        (column, meta) for column, meta in declared if meta.get("pii_form", "masked") not in PII_FORMS
    ] == []


def test_readme_lists_the_pii_kinds() -> None:
    readme = (DBT_PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Personal data", 1)[-1].split("\n## ", 1)[0]
    assert set(re.findall(r"^\* `(\w+)`", section, re.M)) == PII_KINDS


def test_models_that_read_their_previous_result_are_incremental(manifest: dict[str, Any]) -> None:
    """A model that reads its own table (its previous result, through ``this``) declares it: it is an
    incremental model, so dbt knows the table is state, --full-refresh rebuilds it from scratch, and
    no engine has to read a table it is replacing."""
    self_reading = re.compile(r"previous_state\(|identity_grouping_previous\(|\{\{\s*this\s*\}\}")
    readers = {name: node for name, node in models(manifest).items() if self_reading.search(node["raw_code"])}
    assert "int_identity_records_grouped" in readers
    assert {name: node["config"]["materialized"] for name, node in readers.items()} == dict.fromkeys(
        readers, "incremental"
    )
