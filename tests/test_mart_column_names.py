"""One name per concept across the analysts' marts (issue 22, D48): customer_rfm said ``segment`` and
``monetary`` where customer_360 says ``rfm_segment`` and ``rfm_monetary``; customer_clv said
``run_date`` and ``model_used`` where every other mart says ``as_of_date`` and customer_360 says
``is_clv_model_used``.

Renamed columns stay one release under their old names as deprecated aliases: a column of the model's
YAML with ``config: {meta: {deprecated_alias_of: <canonical>}}``, selected by the macro
``deprecated_aliases({alias: canonical})`` as ``<canonical> as <alias>``. Checked here on the parsed and
compiled project (no warehouse is built; one ``dbt parse`` and one ``dbt compile`` of the models with
aliases):

* the concepts of D48's table have their canonical name in every mart that holds them, and an old
  name only as a deprecated alias of it;
* a mart that passes another mart's column through keeps its name (the rule that caught
  ``rfm.segment as rfm_segment``);
* every alias is documented as deprecated, names a real column, and compiles to exactly
  ``<canonical> as <alias>`` in the model's final select;
* our own code (Python, dbt models, docs) never reads a deprecated alias: the aliases are for
  analysts' saved queries.
"""

from __future__ import annotations

import ast
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cdp.config import DBT_PROJECT_DIR, Settings
from cdp.dbt_runner import dbt_args, invoke

REPO = DBT_PROJECT_DIR.parent
PROJECT = "cdp"
RUN_DATE = date(2026, 3, 10)

# D48's table: canonical name -> (old names, marts that hold the concept). Keep in step with
# docs/decisions.md#d48. An old name may appear in a holder only as a deprecated alias of the canonical
# name (one release), never as a column of its own.
CONCEPTS: dict[str, tuple[set[str], set[str]]] = {
    "as_of_date": (
        {"run_date"},
        {
            "customer_360", "customer_rfm", "customer_rfm_history", "customer_lifecycle",
            "customer_behaviour", "customer_tiers", "customer_tier_history", "customer_clv",
            "lifecycle_funnel", "customer_id_history", "identity_quality_history", "data_quality_history",
        },
    ),
    "rfm_recency_days": ({"recency_days"}, {"customer_360", "customer_rfm", "customer_rfm_history"}),
    "rfm_frequency": ({"frequency"}, {"customer_360", "customer_rfm", "customer_rfm_history"}),
    "rfm_monetary": (
        {"monetary", "monetary_value"}, {"customer_360", "customer_rfm", "customer_rfm_history"}
    ),
    "rfm_segment": ({"segment"}, {"customer_360", "customer_rfm", "customer_rfm_history"}),
    "from_rfm_segment": ({"from_segment"}, {"customer_rfm_transitions"}),
    "to_rfm_segment": ({"to_segment"}, {"customer_rfm_transitions"}),
    "is_rfm_segment_changed": ({"is_segment_changed"}, {"customer_rfm_transitions"}),
    "is_clv_model_used": ({"model_used"}, {"customer_360", "customer_clv"}),
    "clv_fallback_reason": ({"fallback_reason"}, {"customer_360", "customer_clv"}),
    "tier": ({"tier_name"}, {"customer_360", "customer_tiers", "customer_tier_history"}),
    "order_count": ({"orders"}, {"customer_360", "customer_behaviour", "customer_clv"}),
    "lifecycle_stage": ({"stage"}, {"customer_360", "customer_lifecycle"}),
    "source": (
        {"source_name"},
        {
            "data_quality_history", "customer_identity_map", "customer_identifiers",
            "customer_attribute_provenance",
        },
    ),
    # customer_lifecycle's first/last_purchase_date count days with a positive net amount; CLV's days
    # with a completed order: one name for two things before.
    "first_completed_order_date": ({"first_purchase_date"}, {"customer_clv"}),
    "last_completed_order_date": ({"last_purchase_date"}, {"customer_clv"}),
}

# Tests that read the aliases on purpose, to check them.
ALIAS_CHECKERS = {"test_rfm_history_upgrade.py", "test_dq_history_upgrade.py"}
# Files of ours that read the marts: none may read a deprecated alias.
OWN_CODE_GLOBS = ("cdp/**/*.py", "exports/**/*.py", "expectations/**/*.py", "dags/**/*.py", "bench/**/*.py",
                  "tests/**/*.py", "ingest/**/*.py")
OWN_DOC_GLOBS = ("README.md", "docs/*.md", "dbt_project/README.md", "exports/**/*.md", "expectations/**/*.md")


def _parse(home: Path) -> dict[str, Any]:
    settings = Settings.load(home=home).ensure()
    result = invoke(settings, dbt_args(settings, ["parse"], RUN_DATE))
    assert result.success, result.exception
    return json.loads((settings.dbt_target_dir / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _parse(tmp_path_factory.mktemp("mart_names") / "home")


def marts(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == PROJECT
        and Path(node["original_file_path"]).parts[1] == "marts"
    }


def aliases(node: dict[str, Any]) -> dict[str, str]:
    """alias -> canonical column of one model."""
    return {
        name: column["meta"]["deprecated_alias_of"]
        for name, column in node["columns"].items()
        if column["meta"].get("deprecated_alias_of")
    }


def all_aliases(manifest: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {name: found for name, node in marts(manifest).items() if (found := aliases(node))}


def test_each_concept_has_its_canonical_name_in_every_mart_holding_it(manifest: dict[str, Any]) -> None:
    models = marts(manifest)
    missing, stray = [], []
    for canonical, (old_names, holders) in CONCEPTS.items():
        for model in sorted(holders):
            assert model in models, f"D48 names {model}, which is not a mart"
            columns = models[model]["columns"]
            if canonical not in columns or canonical in aliases(models[model]):
                missing.append(f"{model}.{canonical}")
            for old in old_names & set(columns):
                if aliases(models[model]).get(old) != canonical:
                    stray.append(f"{model}.{old} (canonical: {canonical})")
    assert missing == []
    assert stray == []


# Renames still to make (D48, "Left"); empty: data_quality_history says source as the identity marts do.
PENDING_RENAMES: set[str] = set()

_IMPORT_CTE = re.compile(r"(\w+) as \(\s*select \* from \{\{\s*ref\('(\w+)'\)\s*\}\}\s*\)", re.I)
_PASSED = re.compile(r"^\s*(\w+)\.(\w+) as (\w+),?\s*$", re.M | re.I)


def test_a_column_passed_from_another_mart_keeps_its_name(manifest: dict[str, Any]) -> None:
    """customer_360 read ``rfm.segment as rfm_segment``: one concept, two names. A mart that selects a
    column of another mart as it is must not rename it (the other mart renames it instead)."""
    models = marts(manifest)
    renamed = []
    for name, node in models.items():
        imports = {cte: ref for cte, ref in _IMPORT_CTE.findall(node["raw_code"]) if ref in models}
        for cte, column, alias in _PASSED.findall(node["raw_code"]):
            if cte in imports and column != alias and column in models[imports[cte]]["columns"]:
                renamed.append(f"{name}: {cte}.{column} as {alias} ({imports[cte]})")
    assert sorted(set(renamed) - PENDING_RENAMES) == []


def test_deprecated_aliases_are_documented_and_name_a_real_column(manifest: dict[str, Any]) -> None:
    found = all_aliases(manifest)
    assert found, "no deprecated alias declared (D48 keeps the old names for one release)"
    models = marts(manifest)
    problems = []
    for model, pairs in found.items():
        node = models[model]
        for alias, canonical in pairs.items():
            description = node["columns"][alias]["description"].strip()
            if description != f"Deprecated alias of {canonical}; removed in the next release.":
                problems.append(f"{model}.{alias}: description {description!r}")
            if canonical not in node["columns"] or canonical in pairs:
                problems.append(f"{model}.{alias}: {canonical} is not a canonical column of the model")
            declared = node["columns"][alias].get("data_type")
            contracted = node["config"]["contract"]["enforced"]
            if contracted and declared != node["columns"][canonical].get("data_type"):
                problems.append(f"{model}.{alias}: contract type {declared!r} differs from {canonical}'s")
        call = re.search(r"deprecated_aliases\(\{(.*?)\}\)", node["raw_code"], re.S)
        if call is None:
            problems.append(f"{model}: declares aliases but its SQL does not select deprecated_aliases()")
        elif dict(re.findall(r"'(\w+)':\s*'(\w+)'", call.group(1))) != pairs:
            problems.append(f"{model}: deprecated_aliases() selects other aliases than the YAML declares")
        final = node["raw_code"].rsplit("final as (", 1)[-1]
        for alias in pairs:  # made only by the macro, never by hand (it could then drift from the canonical)
            if re.search(rf"\bas {alias}\b", final, re.I):
                problems.append(f"{model}.{alias}: selected by hand")
    # The other way round: a model calling the macro declares at least one alias (else it renders nothing).
    problems += [
        f"{name}: calls deprecated_aliases() without a declared alias"
        for name, node in models.items()
        if "deprecated_aliases(" in node["raw_code"] and name not in found
    ]
    assert problems == []


@pytest.fixture(scope="module")
def compiled(manifest: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The compiled SQL of every mart with aliases (dbt compile: no model is built; a history's
    previous-state lookup sees an empty warehouse)."""
    names = sorted(all_aliases(manifest))
    settings = Settings.load(home=tmp_path_factory.mktemp("mart_names_compiled") / "home").ensure()
    result = invoke(settings, dbt_args(settings, ["compile", "--select", *names], RUN_DATE))
    assert result.success, result.exception
    nodes = json.loads((settings.dbt_target_dir / "manifest.json").read_text(encoding="utf-8"))["nodes"]
    return {name: nodes[f"model.{PROJECT}.{name}"]["compiled_code"] for name in names}


def test_every_alias_compiles_to_its_canonical_column(
    manifest: dict[str, Any], compiled: dict[str, str]
) -> None:
    for model, pairs in all_aliases(manifest).items():
        sql = " ".join(compiled[model].split()).lower()
        final = sql.rsplit("final as (", 1)[-1]
        for alias, canonical in pairs.items():
            assert f"{canonical} as {alias}" in final, f"{model}.{alias}"
            # Nothing else in the model's final select produces the alias.
            assert len(re.findall(rf"\bas {alias}\b", final)) == 1, f"{model}.{alias}"


def _statements_in_python(path: Path) -> list[str]:
    strings: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.append(node.value)
        elif isinstance(node, ast.JoinedStr):
            strings.append(" ? ".join(v.value for v in node.values if isinstance(v, ast.Constant)))
    return strings


def _statements_in_text(path: Path) -> list[str]:
    """The queries of a Markdown file: its fenced code blocks and inline code holding a select (prose
    naming a column is not a read)."""
    text = path.read_text(encoding="utf-8")
    code = re.findall(r"```[^\n]*\n(.*?)```", text, re.S)
    code += [span for span in re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
             if re.search(r"\bselect\b", span, re.I)]
    code = [re.sub(r"--[^\n]*", "", block) for block in code]  # SQL comments are prose
    return [statement for block in code for statement in re.split(r";|\n\s*\n", block)]


def alias_reads(text: str, found: dict[str, dict[str, str]]) -> list[str]:
    """The deprecated aliases a SQL statement reads from the marts it names (``marts.<model>``)."""
    reads = []
    for model, pairs in found.items():
        if re.search(rf"\bmarts\.{model}\b", text):
            reads += [f"{model}.{alias}" for alias in pairs if re.search(rf"(?<![\w.']){alias}\b(?!')", text)]
    return reads


def test_the_alias_check_catches_a_read() -> None:
    found = {"customer_rfm": {"segment": "rfm_segment"}}
    assert alias_reads("select segment, count(*) from marts.customer_rfm group by 1", found) == [
        "customer_rfm.segment"
    ]
    assert alias_reads("select rfm_segment from marts.customer_rfm", found) == []
    assert alias_reads("select segment from marts.other", found) == []


def test_our_code_never_reads_a_deprecated_alias(manifest: dict[str, Any]) -> None:
    found = all_aliases(manifest)
    this_file = Path(__file__).resolve()
    reads = []
    for pattern in OWN_CODE_GLOBS:
        for path in sorted(REPO.glob(pattern)):
            if path.resolve() == this_file or ".venv" in path.parts or path.name in ALIAS_CHECKERS:
                continue
            name = path.relative_to(REPO)
            reads += [f"{name}: {r}" for s in _statements_in_python(path) for r in alias_reads(s, found)]
    for pattern in OWN_DOC_GLOBS:
        for path in sorted(REPO.glob(pattern)):
            name = path.relative_to(REPO)
            reads += [f"{name}: {r}" for s in _statements_in_text(path) for r in alias_reads(s, found)]
    # dbt models reading a mart through an import CTE: <cte>.<alias>
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        for cte, ref in _IMPORT_CTE.findall(node["raw_code"]):
            reads += [
                f"{node['original_file_path']}: {cte}.{alias}"
                for alias in found.get(ref, {})
                if re.search(rf"\b{cte}\.{alias}\b", node["raw_code"])
            ]
    assert sorted(set(reads)) == []
