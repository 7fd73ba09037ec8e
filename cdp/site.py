"""A retailer's own settings: which sources it has, their file encodings, its market, waits, retention.

One YAML file per home, ``<home>/config/cdp.yml``; every key is optional and a home without the file
runs with the defaults below (every source of the shipped contracts, UTF-8, the Dutch market).
This module only reads and checks the file; the steps that use a setting read it from here, so a
setting has one owner. Example (all keys)::

    market: cn                      # a profile of cdp/markets/ (nl, cn): phones, timezone, currency...
    sources:                        # the sources this retailer has (default: every shipped contract)
      pos:
        encoding: gb18030           # utf-8 (default) | gb18030 | gbk | latin-1
        entities: [transactions, loyalty_members]   # default: every entity of the contract
      ecommerce: {}
    drop_wait:                      # a scheduled night waits this long for a source's drop
      timeout_minutes: 360
      poke_seconds: 300
    quarantine:
      retention_days: 90            # raw text of quarantined rows is dropped after this; reasons stay
    files:
      group: null                   # a group that may read files holding personal data (default: owner only)

``CDP_MARKET`` overrides ``market`` (``make demo MARKET=cn``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SITE_FILE = "cdp.yml"
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "gb18030": "gb18030", "gbk": "gbk", "latin-1": "latin-1",
             "latin1": "latin-1", "iso-8859-1": "latin-1"}
# Every source the project ships a contract for (ingest/contracts/<source>.yml), in the order nights
# land them; cdp.config.SOURCES is this tuple.
DEFAULT_SOURCES = ("pos", "ecommerce", "social", "messaging", "service")


#: What the export does with a segment definition that does not build (``exports.invalid_segments``).
INVALID_SEGMENT_POLICIES = ("fail", "report")


class SiteConfigError(ValueError):
    """``<home>/config/cdp.yml`` is not valid; the message names the file and the key."""


@dataclass(frozen=True)
class SourceConfig:
    """One configured source: the encoding of its files and the entities it delivers."""

    name: str
    encoding: str = "utf-8"
    entities: tuple[str, ...] | None = None  # None: every entity of the source's contract


@dataclass(frozen=True)
class SiteConfig:
    """The parsed settings file (defaults where a key is absent)."""

    market: str = "nl"
    sources: dict[str, SourceConfig] = field(
        default_factory=lambda: {name: SourceConfig(name) for name in DEFAULT_SOURCES}
    )
    drop_wait_timeout_minutes: int = 360
    drop_wait_poke_seconds: int = 300
    quarantine_retention_days: int = 90
    # A segment definition that does not build: "fail" the export (the night publishes nothing) or
    # "report" it (manifest, cdp summary) and export the others.
    invalid_segments: str = "fail"
    file_group: str | None = None
    path: Path | None = None  # the file read, None when defaults only

    @property
    def source_names(self) -> tuple[str, ...]:
        return tuple(self.sources)


def site_file(home: Path) -> Path:
    return home / "config" / SITE_FILE


def load_site(home: Path) -> SiteConfig:
    """Read ``<home>/config/cdp.yml`` (defaults when absent); raises :class:`SiteConfigError`."""
    import yaml

    path = site_file(home)
    doc: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise SiteConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise SiteConfigError(f"{path}: expected a mapping of settings")
        doc = loaded or {}
    unknown = set(doc) - {"market", "sources", "drop_wait", "quarantine", "files", "exports"}
    if unknown:
        raise SiteConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    market = str(os.environ.get("CDP_MARKET") or doc.get("market") or "nl").strip().lower()
    sources = _sources(path, doc.get("sources"))
    wait = _mapping(path, "drop_wait", doc.get("drop_wait"))
    quarantine = _mapping(path, "quarantine", doc.get("quarantine"))
    files = _mapping(path, "files", doc.get("files"))
    exports = _mapping(path, "exports", doc.get("exports"))
    unknown = set(exports) - {"invalid_segments"}
    if unknown:
        raise SiteConfigError(f"{path}: exports: unknown key(s) {', '.join(sorted(unknown))}")
    invalid_segments = str(exports.get("invalid_segments") or "fail").strip().lower()
    if invalid_segments not in INVALID_SEGMENT_POLICIES:
        raise SiteConfigError(
            f"{path}: exports.invalid_segments must be one of {', '.join(INVALID_SEGMENT_POLICIES)}, "
            f"got {invalid_segments!r}"
        )
    return SiteConfig(
        market=market,
        sources=sources,
        drop_wait_timeout_minutes=_int(path, "drop_wait.timeout_minutes", wait.get("timeout_minutes", 360)),
        drop_wait_poke_seconds=_int(path, "drop_wait.poke_seconds", wait.get("poke_seconds", 300)),
        quarantine_retention_days=_int(
            path, "quarantine.retention_days", quarantine.get("retention_days", 90)
        ),
        file_group=(str(files["group"]) if files.get("group") else None),
        invalid_segments=invalid_segments,
        path=path if path.exists() else None,
    )


def _sources(path: Path, value: Any) -> dict[str, SourceConfig]:
    if value is None:
        return {name: SourceConfig(name) for name in DEFAULT_SOURCES}
    if isinstance(value, list):
        value = {str(name): {} for name in value}
    if not isinstance(value, dict) or not value:
        raise SiteConfigError(f"{path}: sources must name at least one source")
    out = {}
    for name, spec in value.items():
        spec = _mapping(path, f"sources.{name}", spec)
        unknown = set(spec) - {"encoding", "entities"}
        if unknown:
            raise SiteConfigError(f"{path}: sources.{name}: unknown key(s) {', '.join(sorted(unknown))}")
        encoding = str(spec.get("encoding") or "utf-8").strip().lower()
        if encoding not in ENCODINGS:
            raise SiteConfigError(
                f"{path}: sources.{name}.encoding {encoding!r} is not supported (use one of "
                f"{', '.join(sorted(set(ENCODINGS.values())))})"
            )
        entities = spec.get("entities")
        if entities is not None and (not isinstance(entities, list) or not entities):
            raise SiteConfigError(f"{path}: sources.{name}.entities must be a non-empty list")
        out[str(name)] = SourceConfig(
            name=str(name),
            encoding=ENCODINGS[encoding],
            entities=tuple(str(e) for e in entities) if entities else None,
        )
    return out


def _mapping(path: Path, key: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SiteConfigError(f"{path}: {key} must be a mapping")
    return value


def _int(path: Path, key: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SiteConfigError(f"{path}: {key} must be a whole number, got {value!r}") from None
    if number < 0:
        raise SiteConfigError(f"{path}: {key} must not be negative")
    return number
