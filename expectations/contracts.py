"""What the gates know about the landed data, derived from the source contracts (``ingest/contracts``).

The contracts are parsed only by ``ingest.contract``; this module just maps them to gate rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from cdp.config import SOURCES
from ingest.contract import META_FIELDS, Field, load_contract

LANDING_COLUMNS = tuple(f.name for f in META_FIELDS)


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


def _rule(f: Field, key: tuple[str, ...]) -> ColumnRule:
    return ColumnRule(
        name=f.name,
        type=f.type,
        not_null=f.required or f.name in key,
        allowed=f.allowed or None,
        min=float(f.min) if f.min is not None else None,
        nonzero=f.nonzero,
        pattern=f.pattern,
    )


@cache
def entity_specs() -> tuple[EntitySpec, ...]:
    """Every landed entity (children such as ``order_lines`` included), in contract order."""
    specs: list[EntitySpec] = []
    for source in SOURCES:
        for entity in load_contract(source).entities:
            key = entity.key
            specs.append(
                EntitySpec(source, entity.name, key, tuple(_rule(f, key) for f in entity.scalar_fields))
            )
            for child in entity.children:
                parent_cols = [ColumnRule(name=f.name, type=f.type, not_null=True) for f in child.parent_key]
                line_no = ColumnRule(name="line_no", type="integer", not_null=True, min=1.0)
                own = [_rule(f, child.key) for f in child.fields]
                specs.append(EntitySpec(source, child.name, child.key, (*parent_cols, line_no, *own)))
    return tuple(specs)


def entity_spec(source: str, entity: str) -> EntitySpec:
    for spec in entity_specs():
        if (spec.source, spec.entity) == (source, entity):
            return spec
    raise KeyError(f"no contract for {source}.{entity}")
