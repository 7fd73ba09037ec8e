"""What the gates know about the landed data, derived from the source contracts (``ingest/contracts``).

``_read_contracts`` is the only function that touches the YAML; when ``ingest.contract`` is available it
can switch to that without changing anything else here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml

from cdp.config import CONTRACTS_DIR, SOURCES

LANDING_COLUMNS = ("_source_file", "_source_line", "_flags")


@dataclass(frozen=True)
class ColumnRule:
    """The checks one landed column must pass (all row-level)."""

    name: str
    type: str
    not_null: bool = False
    allowed: tuple[str, ...] | None = None
    min: float | None = None
    nonzero: bool = False
    pattern: str | None = None

    @property
    def checked(self) -> bool:
        return bool(self.not_null or self.allowed or self.min is not None or self.nonzero or self.pattern)


@dataclass(frozen=True)
class EntitySpec:
    source: str
    entity: str
    key: tuple[str, ...]
    columns: tuple[ColumnRule, ...]  # every landed column, in landed order
    landing_columns: tuple[str, ...] = field(default=LANDING_COLUMNS)

    @property
    def name(self) -> str:
        return f"{self.source}.{self.entity}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns) + self.landing_columns

    @property
    def checked_columns(self) -> tuple[str, ...]:
        """Columns the gate reads: those with a row-level check (keys included)."""
        return tuple(c.name for c in self.columns if c.checked or c.name in self.key)

    @property
    def decimal_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.type == "decimal")


def _read_contracts() -> dict[str, dict[str, Any]]:
    """Raw contract documents by source name (the single place that parses the YAML)."""
    return {
        source: yaml.safe_load((CONTRACTS_DIR / f"{source}.yml").read_text(encoding="utf-8"))
        for source in SOURCES
    }


def _rule(spec: dict[str, Any], key: tuple[str, ...]) -> ColumnRule:
    allowed = spec.get("allowed")
    return ColumnRule(
        name=spec["name"],
        type=spec.get("type", "string"),
        not_null=bool(spec.get("required")) or spec["name"] in key,
        allowed=tuple(str(v) for v in allowed) if allowed else None,
        min=float(spec["min"]) if spec.get("min") is not None else None,
        nonzero=bool(spec.get("nonzero")),
        pattern=spec.get("pattern"),
    )


@cache
def entity_specs() -> tuple[EntitySpec, ...]:
    """Every landed entity (children such as ``order_lines`` included), in contract order."""
    specs: list[EntitySpec] = []
    for source, contract in _read_contracts().items():
        for entity, doc in contract["entities"].items():
            key = tuple(doc["key"])
            fields = [f for f in doc["fields"] if f.get("type") != "list"]  # lists land as children
            specs.append(EntitySpec(source, entity, key, tuple(_rule(f, key) for f in fields)))
            for child, child_doc in (doc.get("children") or {}).items():
                child_key = tuple(child_doc["key"])
                parent_cols = [ColumnRule(name=k, type=_field_type(doc, k), not_null=True) for k in key]
                line_no = ColumnRule(name="line_no", type="integer", not_null=True, min=1.0)
                own = [_rule(f, child_key) for f in child_doc["fields"]]
                specs.append(EntitySpec(source, child, child_key, (*parent_cols, line_no, *own)))
    return tuple(specs)


def _field_type(doc: dict[str, Any], name: str) -> str:
    return next((f.get("type", "string") for f in doc["fields"] if f["name"] == name), "string")


def entity_spec(source: str, entity: str) -> EntitySpec:
    for spec in entity_specs():
        if (spec.source, spec.entity) == (source, entity):
            return spec
    raise KeyError(f"no contract for {source}.{entity}")
