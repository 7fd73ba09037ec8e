"""Source contracts: the one place the YAML files in ``ingest/contracts`` are parsed.

Everything else (readers, validation, landing, docs, generators) works from these small frozen
dataclasses, so a contract change is picked up everywhere at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
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
        pa.field("_source_line_end", pa.int64()),  # last physical line of the quarantined text
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
    "max",
    "nonzero",
    "allowed",
    "pattern",
    "default",
    "min_items",
    "pii",
    "description",
}


#: What a contract gets when it has no ``limits`` block (see ``ingest/contracts/README.md``).
DEFAULT_EARLIEST = date(1900, 1, 1)
DEFAULT_LATEST = date(2100, 12, 31)
DEFAULT_MAX_RECORD_LINES = 20
DEFAULT_MAX_FIELD_BYTES = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Plausibility limits of one source's files, so one broken line is quarantined, not swallowed.

    ``max_record_lines``: a CSV record (quoted newlines included) may span at most this many physical
    lines; a quoted field running longer is taken for a stray quote. ``max_field_bytes``: a longer
    field (UTF-8 bytes) quarantines its row, so a runaway value never reaches the parser's buffers or
    the warehouse. ``earliest``/``latest``: the default range of every date and timestamp field
    (a field's own ``min``/``max`` win), since year 0001 or 9999 is a typo the marts cannot compute with.
    """

    max_record_lines: int = DEFAULT_MAX_RECORD_LINES
    max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES
    earliest: date = DEFAULT_EARLIEST
    latest: date = DEFAULT_LATEST


@dataclass(frozen=True)
class Field:
    """One contract field; ``path`` is the dotted location inside a JSON object (defaults to name).

    ``min``/``max`` bound integers and decimals; ``earliest``/``latest`` bound dates and timestamps
    (the YAML spells both ``min``/``max``; they are kept apart here because numbers and points in time
    do not compare, and the gates read ``min`` as a number).
    """

    name: str
    type: str
    required: bool = False
    path: tuple[str, ...] = ()
    local_time: bool = False
    min: Decimal | None = None
    max: Decimal | None = None
    earliest: date | datetime | None = None
    latest: date | datetime | None = None
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
    #: A file the source's drop may lack (a feed added after retailers went live): unless the settings
    #: file lists the entity by name, a missing file lands as an empty partition (``delivered: false``
    #: in the manifest) instead of failing the source (docs/decisions.md, D60).
    optional: bool = False

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
    limits: Limits = field(default_factory=Limits)
    path: Path = field(default=Path(), compare=False)

    def entity(self, name: str) -> Entity:
        return next(e for e in self.entities if e.name == name)


def _bad(path: Path, what: str) -> IngestError:
    return IngestError(f"contract {path.name}: {what}")


def _number(value: Any, path: Path, where: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise _bad(path, f"{where}: {value!r} is not a number") from None


def _day(value: Any, path: Path, where: str) -> date | None:
    """A YAML date (``1900-01-01`` loads as a date already) or its text."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _bad(path, f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def _parse_limits(raw: Any, path: Path) -> Limits:
    if raw is None:
        return Limits()
    if not isinstance(raw, dict):
        raise _bad(path, "limits must be a mapping")
    unknown = set(raw) - {"max_record_lines", "max_field_bytes", "earliest", "latest"}
    if unknown:
        raise _bad(path, f"limits: unknown keys {sorted(unknown)}")
    limits = Limits(
        max_record_lines=int(raw.get("max_record_lines", DEFAULT_MAX_RECORD_LINES)),
        max_field_bytes=int(raw.get("max_field_bytes", DEFAULT_MAX_FIELD_BYTES)),
        earliest=_day(raw.get("earliest", DEFAULT_EARLIEST), path, "limits.earliest"),
        latest=_day(raw.get("latest", DEFAULT_LATEST), path, "limits.latest"),
    )
    if limits.max_record_lines < 1 or limits.max_field_bytes < 1 or limits.earliest > limits.latest:
        raise _bad(path, "limits: lines and bytes must be positive and earliest not after latest")
    return limits


def _bounds(raw: dict, ftype: str, limits: Limits, path: Path, where: str) -> dict[str, Any]:
    """``min``/``max`` as the field's type compares them; dates and timestamps default to the limits."""
    low, high = raw.get("min"), raw.get("max")
    if ftype in ("integer", "decimal"):
        out = {"min": _number(low, path, f"{where}.min"), "max": _number(high, path, f"{where}.max")}
        if out["min"] is not None and out["max"] is not None and out["min"] > out["max"]:
            raise _bad(path, f"{where}: min above max")
        return out
    if ftype in ("date", "timestamp"):
        first = _day(low, path, f"{where}.min") or limits.earliest
        last = _day(high, path, f"{where}.max") or limits.latest
        if first > last:
            raise _bad(path, f"{where}: min after max")
        if ftype == "timestamp":  # a day bound covers the whole day: latest is inclusive
            return {"earliest": datetime.combine(first, time()), "latest": datetime.combine(last, time.max)}
        return {"earliest": first, "latest": last}
    if low is not None or high is not None:
        raise _bad(path, f"{where}: min/max only apply to numbers, dates and timestamps")
    return {}


def _parse_field(raw: dict, path: Path, where: str, limits: Limits = Limits()) -> Field:
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
        **_bounds(raw, ftype, limits, path, f"{where}.{name}"),
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
    limits = _parse_limits(doc.get("limits"), path)
    entities = []
    for ename, edoc in (doc.get("entities") or {}).items():
        fields = tuple(_parse_field(f, path, ename, limits) for f in edoc.get("fields") or ())
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
                    fields=tuple(_parse_field(f, path, cname, limits) for f in cdoc.get("fields") or ()),
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
                optional=bool(edoc.get("optional", False)),
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
        limits=limits,
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
