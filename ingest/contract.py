"""Source contracts: the one place the YAML files in ``ingest/contracts`` are parsed.

Everything else (readers, validation, landing, docs, generators) works from these small frozen
dataclasses, so a contract change is picked up everywhere at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from cdp.config import CONTRACTS_DIR

from .errors import IngestError

TYPES = ("string", "integer", "decimal", "boolean", "date", "timestamp", "list")
FORMATS = ("csv", "jsonl")

#: Landed (Parquet) type per contract type. Timestamps are UTC stored without a zone.
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "decimal": pa.decimal128(18, 2),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}

#: Lineage columns every landed row carries, after the contract's fields.
META_FIELDS = (
    pa.field("_source_file", pa.string()),
    pa.field("_source_line", pa.int64()),
    pa.field("_flags", pa.string()),
)

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("_source_file", pa.string()),
        pa.field("_source_line", pa.int64()),
        pa.field("_reason", pa.string()),
        pa.field("_raw", pa.string()),
    ]
)

_FIELD_KEYS = {
    "name",
    "type",
    "required",
    "path",
    "timezone",
    "min",
    "nonzero",
    "allowed",
    "pattern",
    "default",
    "min_items",
    "pii",
    "description",
}


@dataclass(frozen=True)
class Field:
    """One contract field; ``path`` is the dotted location inside a JSON object (defaults to name)."""

    name: str
    type: str
    required: bool = False
    path: tuple[str, ...] = ()
    local_time: bool = False
    min: Decimal | None = None
    nonzero: bool = False
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    default: Any = None
    min_items: int | None = None
    pii: bool = False
    description: str = ""

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.type]


@dataclass(frozen=True)
class Child:
    """A nested list of a parent entity landed as its own entity (``orders.lines`` → ``order_lines``)."""

    name: str
    from_field: str
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    parent_key: tuple[Field, ...]
    description: str = ""

    def schema(self) -> pa.Schema:
        cols = [pa.field(f.name, f.arrow_type) for f in self.parent_key]
        cols.append(pa.field("line_no", pa.int64()))
        cols += [pa.field(f.name, f.arrow_type) for f in self.fields]
        return pa.schema([*cols, *META_FIELDS])


@dataclass(frozen=True)
class Entity:
    """One file of a drop: its fields, key and any child entities."""

    name: str
    file: str
    key: tuple[str, ...]
    event_time: str | None
    fields: tuple[Field, ...]
    children: tuple[Child, ...] = ()
    description: str = ""

    @property
    def scalar_fields(self) -> tuple[Field, ...]:
        """Fields landed as columns of this entity (list fields land as children instead)."""
        return tuple(f for f in self.fields if f.type != "list")

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def child_for(self, field_name: str) -> Child | None:
        return next((c for c in self.children if c.from_field == field_name), None)

    def schema(self) -> pa.Schema:
        return pa.schema([*(pa.field(f.name, f.arrow_type) for f in self.scalar_fields), *META_FIELDS])


@dataclass(frozen=True)
class Contract:
    """A source system's contract (one YAML file)."""

    source: str
    format: str
    schema_version: int
    entities: tuple[Entity, ...]
    local_timezone: str | None = None
    description: str = ""
    path: Path = field(default=Path(), compare=False)

    def entity(self, name: str) -> Entity:
        return next(e for e in self.entities if e.name == name)


def _bad(path: Path, what: str) -> IngestError:
    return IngestError(f"contract {path.name}: {what}")


def _parse_field(raw: dict, path: Path, where: str) -> Field:
    if not isinstance(raw, dict) or "name" not in raw or "type" not in raw:
        raise _bad(path, f"{where}: every field needs a name and a type")
    name = str(raw["name"])
    unknown = set(raw) - _FIELD_KEYS
    if unknown:
        raise _bad(path, f"{where}.{name}: unknown keys {sorted(unknown)}")
    ftype = raw["type"]
    if ftype not in TYPES:
        raise _bad(path, f"{where}.{name}: unknown type {ftype!r}")
    tz = raw.get("timezone")
    if tz not in (None, "local"):
        raise _bad(path, f"{where}.{name}: timezone must be 'local' or absent")
    if tz and ftype != "timestamp":
        raise _bad(path, f"{where}.{name}: timezone only applies to timestamps")
    allowed = raw.get("allowed")
    return Field(
        name=name,
        type=ftype,
        required=bool(raw.get("required", False)),
        path=tuple(str(raw.get("path", name)).split(".")),
        local_time=tz == "local",
        min=None if raw.get("min") is None else Decimal(str(raw["min"])),
        nonzero=bool(raw.get("nonzero", False)),
        allowed=None if allowed is None else tuple(str(a) for a in allowed),
        pattern=raw.get("pattern"),
        default=raw.get("default"),
        min_items=raw.get("min_items"),
        pii=bool(raw.get("pii", False)),
        description=str(raw.get("description", "")),
    )


def parse_contract(path: Path) -> Contract:
    """Parse and sanity-check one contract file; mistakes fail loudly here rather than mid-load."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _bad(path, f"cannot read ({type(exc).__name__})") from None
    if not isinstance(doc, dict):
        raise _bad(path, "not a mapping")
    fmt = doc.get("format")
    if fmt not in FORMATS:
        raise _bad(path, f"format must be one of {FORMATS}")
    entities = []
    for ename, edoc in (doc.get("entities") or {}).items():
        fields = tuple(_parse_field(f, path, ename) for f in edoc.get("fields") or ())
        names = [f.name for f in fields]
        if len(set(names)) != len(names):
            raise _bad(path, f"{ename}: duplicate field names")
        key = tuple(edoc.get("key") or ())
        if not set(key) <= set(names):
            raise _bad(path, f"{ename}: key {list(key)} not among its fields")
        if any(f.local_time for f in fields) and not doc.get("local_timezone"):
            raise _bad(path, f"{ename}: local timestamps need the contract's local_timezone")
        children = []
        for cname, cdoc in (edoc.get("children") or {}).items():
            src = cdoc.get("from")
            if src not in names or next(f for f in fields if f.name == src).type != "list":
                raise _bad(path, f"{ename}.{cname}: 'from' must name a list field")
            children.append(
                Child(
                    name=cname,
                    from_field=src,
                    key=tuple(cdoc.get("key") or ()),
                    fields=tuple(_parse_field(f, path, cname) for f in cdoc.get("fields") or ()),
                    parent_key=tuple(f for f in fields if f.name in key),
                    description=str(cdoc.get("description", "")).strip(),
                )
            )
        if fmt == "csv" and any(f.type == "list" or len(f.path) > 1 for f in fields):
            raise _bad(path, f"{ename}: CSV entities cannot have list fields or nested paths")
        entities.append(
            Entity(
                name=ename,
                file=str(edoc["file"]),
                key=key,
                event_time=edoc.get("event_time"),
                fields=fields,
                children=tuple(children),
                description=str(edoc.get("description", "")).strip(),
            )
        )
    if not entities:
        raise _bad(path, "no entities")
    return Contract(
        source=str(doc["source"]),
        format=fmt,
        schema_version=int(doc.get("schema_version", 1)),
        entities=tuple(entities),
        local_timezone=doc.get("local_timezone"),
        description=str(doc.get("description", "")),
        path=path,
    )


def list_sources(contracts_dir: Path = CONTRACTS_DIR) -> list[str]:
    """Sources that have a contract, sorted by name."""
    return sorted(p.stem for p in Path(contracts_dir).glob("*.yml"))


@cache
def _load(path: Path) -> Contract:
    return parse_contract(path)


def load_contract(source: str, contracts_dir: Path = CONTRACTS_DIR) -> Contract:
    """The contract for ``source`` (``<contracts_dir>/<source>.yml``); IngestError if there is none."""
    path = Path(contracts_dir) / f"{source}.yml"
    if not path.is_file():
        raise IngestError(f"no contract for source {source!r} (expected {path})")
    contract = _load(path.resolve())
    if contract.source != source:
        raise _bad(path, f"declares source {contract.source!r}, expected {source!r}")
    return contract
