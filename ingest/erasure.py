"""Erasure at landing: the tombstones ``cdp forget`` leaves, and the eraser that applies them.

``cdp forget`` (:mod:`cdp.privacy`) appends salted SHA-256 *tombstones* to
``<home>/privacy/tombstones.parquet``: hashes of a forgotten person's normalised emails (and their match
keys), phones and record keys (``source:entity:source_record_id``); the salt is generated once
(``<home>/privacy/salt``). No plain identifier is stored. Every landing (:func:`ingest.land_source`)
applies them with :class:`Eraser`, so a re-sent old file cannot bring the person back, and ``cdp
forget`` uses the same class to scrub what had landed before. Which landed columns identify a person is
:data:`IDENTIFIERS`; how each identifier is normalised is :mod:`cdp.identifiers` (one implementation per
kind), so a hash computed from raw text equals one computed from warehouse values.
"""


from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import os
import re
import secrets
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cdp import identifiers
from cdp.config import Settings
from cdp.market import market_of
from ingest.contract import load_contract

if TYPE_CHECKING:
    from ingest.contract import Entity
    from ingest.validate import Validated

log = logging.getLogger(__name__)

TOMBSTONES_FILE = "tombstones.parquet"
SALT_FILE = "salt"
TOMBSTONE_SCHEMA = pa.schema(
    [
        pa.field("kind", pa.string()),  # email | phone | record
        pa.field("hash", pa.string()),  # sha256(salt || kind || ':' || normalised value), hex
        pa.field("request_id", pa.string()),  # one forget request (random, not derived from the person)
        pa.field("reason", pa.string()),
        pa.field("erased_at", pa.timestamp("s")),  # UTC
    ]
)


def _platforms() -> frozenset[str]:
    """Social platforms the contract allows (every market's): read there, not listed twice."""

    return frozenset(load_contract("social").entity("profiles").field("platform").allowed or ())



# --------------------------------------------------------------------------------------------------
# Normalisation: one implementation per identifier kind, in cdp.identifiers
# --------------------------------------------------------------------------------------------------

normalize_email = identifiers.normalize_email
email_match_key = identifiers.email_match_key
_clean_id = identifiers.clean_id
_social_id = identifiers.social_id
_trim = identifiers.sql_trim


def normalize_phone(value: str | None, region: str = identifiers.DEFAULT_PHONE_REGION) -> str | None:
    """E.164 of a typed number; national ones read as ``region``'s (cdp.identifiers.normalize_phone)."""
    return identifiers.normalize_phone(value, region)


def phone_region(settings: Settings) -> str:
    """The home's market decides how a number typed without a country code is read."""
    return market_of(settings).phone_region


# --------------------------------------------------------------------------------------------------
# Which landed columns identify a person, per source entity
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identifier:
    kind: str  # email | phone | record
    columns: tuple[str, ...]
    prefix: str = ""  # record keys: 'source:entity:'

    def normalise(self, *values: str | None, region: str = identifiers.DEFAULT_PHONE_REGION) -> str | None:
        if self.kind == "email":
            return normalize_email(values[0])
        if self.kind == "phone":
            return normalize_phone(values[0], region)
        value = _social_id(*values) if len(self.columns) == 2 else _clean_id(values[0])
        return None if value is None else self.prefix + value


_EMAIL_OF = lambda column: Identifier("email", (column,))  # noqa: E731
_PHONE_OF = lambda column: Identifier("phone", (column,))  # noqa: E731
_CARD = Identifier("record", ("loyalty_card_no",), "pos:loyalty_members:")
_ACCOUNT = Identifier("record", ("customer_id",), "ecommerce:customers:")
_PROFILE = Identifier("record", ("platform", "user_handle"), "social:profiles:")

#: Identifiers carried by each landed entity. A row matching any tombstone is erased; child entities
#: (order_lines) go with their parent row.
IDENTIFIERS: dict[tuple[str, str], tuple[Identifier, ...]] = {
    ("pos", "transactions"): (_CARD,),
    ("pos", "loyalty_members"): (_CARD, _EMAIL_OF("email"), _PHONE_OF("phone")),
    ("ecommerce", "customers"): (_ACCOUNT, _EMAIL_OF("email"), _PHONE_OF("phone")),
    ("ecommerce", "orders"): (
        Identifier("record", ("order_id",), "ecommerce:orders:"),
        _ACCOUNT,
        _EMAIL_OF("guest_email"),
        _PHONE_OF("billing_phone"),
    ),
    ("social", "profiles"): (_PROFILE, _EMAIL_OF("email"), _PHONE_OF("phone")),
    ("social", "interactions"): (_PROFILE,),
    ("messaging", "unsubscribes"): (_EMAIL_OF("address"), _PHONE_OF("address")),
    ("messaging", "email_activity"): (_EMAIL_OF("email_address"),),
    ("messaging", "sms_receipts"): (_PHONE_OF("to_phone"),),
    ("messaging", "campaign_holdouts"): (_EMAIL_OF("address"), _PHONE_OF("address")),
    ("pos", "points_entries"): (_CARD,),
    ("pos", "coupons"): (_CARD,),
    ("service", "tickets"): (
        _CARD, Identifier("record", ("web_customer_id",), "ecommerce:customers:"), _EMAIL_OF("email")
    ),
    ("service", "satisfaction_responses"): (
        _CARD, Identifier("record", ("web_customer_id",), "ecommerce:customers:"), _EMAIL_OF("email")
    ),
}

#: Record-key prefixes worth trying on the free text of a quarantined row of each source.
_RAW_RECORD_PREFIXES = {
    "pos": ("pos:loyalty_members:",),
    "ecommerce": ("ecommerce:customers:", "ecommerce:orders:"),
    "social": (),  # platform:handle pairs, see _raw_digests
    "messaging": (),
    "service": ("pos:loyalty_members:", "ecommerce:customers:"),
}


# --------------------------------------------------------------------------------------------------
# Salt, tombstones and the eraser ingest uses
# --------------------------------------------------------------------------------------------------


def load_salt(settings: Settings, create: bool) -> bytes | None:
    path = settings.privacy_dir / SALT_FILE
    if path.exists():
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    if not create:
        return None
    settings.privacy_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{SALT_FILE}.{uuid.uuid4().hex}")
    tmp.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
    os.chmod(tmp, 0o600)
    try:
        os.link(tmp, path)  # never replace a salt another process just wrote: old hashes would break
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def digest(salt: bytes, kind: str, value: str) -> str:
    return hashlib.sha256(salt + f"{kind}:{value}".encode()).hexdigest()


def read_tombstones(settings: Settings) -> pa.Table:
    path = settings.privacy_dir / TOMBSTONES_FILE
    # Parquet stores second timestamps as milliseconds: cast back so new rows concatenate.
    return pq.read_table(path).cast(TOMBSTONE_SCHEMA) if path.exists() else TOMBSTONE_SCHEMA.empty_table()


@dataclass
class Eraser:
    """Matches rows against the tombstones; ingest and :func:`forget` use the same instance logic."""

    salt: bytes
    hashes: frozenset[str]
    phone_region: str = identifiers.DEFAULT_PHONE_REGION  # the home's market reads national numbers

    @classmethod
    def load(cls, settings: Settings) -> Eraser | None:
        """The home's eraser, or None when nobody has been forgotten (ingest then skips the check)."""
        salt = load_salt(settings, create=False)
        tombstones = read_tombstones(settings)
        if salt is None or tombstones.num_rows == 0:
            return None
        return cls(salt, frozenset(tombstones.column("hash").to_pylist()), phone_region(settings))

    def digest(self, kind: str, value: str) -> str:
        return digest(self.salt, kind, value)

    def _digests(self, kind: str, value: str) -> tuple[str, ...]:
        """What a normalised value is checked against: an email also by its match key, so a spelling
        identity reads as the same mailbox (``anna.hendriks+news@gmail.com``) is erased too."""
        if kind == "email":
            key = email_match_key(value)
            if key is not None and key != value:
                return (self.digest(kind, value), self.digest(kind, key))
        return (self.digest(kind, value),)

    def landed_mask(self, source: str, entity: str, table: pa.Table) -> np.ndarray:
        """True for rows of a landed table whose identifiers hash to a tombstone."""
        mask = np.zeros(table.num_rows, dtype=bool)
        if table.num_rows == 0:
            return mask
        for ident in IDENTIFIERS.get((source, entity), ()):
            if any(c not in table.column_names for c in ident.columns):
                continue
            if len(ident.columns) == 1:
                column = table.column(ident.columns[0])
                hits = [
                    v for v in pc.unique(column).to_pylist()
                    if v is not None and self._hit(ident, ident.normalise(v, region=self.phone_region))
                ]
            else:
                column = pc.binary_join_element_wise(
                    *(table.column(c) for c in ident.columns), "\x1f"
                )
                hits = [
                    v for v in pc.unique(column).to_pylist()
                    if v is not None and self._hit(ident, ident.normalise(*v.split("\x1f", 1)))
                ]
            if hits:
                found = pc.is_in(column, value_set=pa.array(hits, pa.string())).fill_null(False)
                mask |= found.to_numpy(zero_copy_only=False).astype(bool)
        return mask

    def quarantine_mask(self, source: str, table: pa.Table) -> np.ndarray:
        """True for quarantined rows whose raw text carries a tombstoned identifier."""
        mask = np.zeros(table.num_rows, dtype=bool)
        for i, raw in enumerate(table.column("_raw").to_pylist()):
            if raw and not self.hashes.isdisjoint(self._raw_digests(source, raw)):
                mask[i] = True
        return mask

    def _hit(self, ident: Identifier, value: str | None) -> bool:
        return value is not None and not self.hashes.isdisjoint(self._digests(ident.kind, value))

    def _raw_digests(self, source: str, raw: str) -> set[str]:
        values = _raw_values(raw)
        out: set[str] = set()
        for value in values:
            email = normalize_email(value)
            if email:
                out.update(self._digests("email", email))
            phone = normalize_phone(value, self.phone_region)
            if phone:
                out.add(self.digest("phone", phone))
            ident = _clean_id(value)
            if ident:
                for prefix in _RAW_RECORD_PREFIXES.get(source, ()):
                    out.add(self.digest("record", prefix + ident))
        if source == "social":
            platforms = {_trim(v).lower() for v in values} & _platforms()
            for platform in platforms:
                for value in values:
                    key = _social_id(platform, value)
                    if key:
                        out.add(self.digest("record", "social:profiles:" + key))
        return out

    def apply(self, source: str, entity: Entity, result: Validated) -> dict[str, int]:
        """Drop erased rows from one validated batch (ingest); returns rows erased per entity name."""
        erased: dict[str, int] = {entity.name: 0, **{c.name: 0 for c in entity.children}}
        mask = self.landed_mask(source, entity.name, result.landed)
        if mask.any():
            gone = result.landed.filter(pa.array(mask))
            result.landed = result.landed.filter(pa.array(~mask))
            result.flagged = flag_counts(result.landed)
            erased[entity.name] += int(mask.sum())
            for child in entity.children:
                table, _ = result.children[child.name]
                kept, n = drop_children(child, table, gone)
                result.children[child.name] = (kept, flag_counts(kept))
                erased[child.name] += n
        qmask = self.quarantine_mask(source, result.quarantine)
        if qmask.any():
            result.quarantine = result.quarantine.filter(pa.array(~qmask))
            result.reasons = Counter(result.quarantine.column("_reason").to_pylist())
            erased[entity.name] += int(qmask.sum())
        return erased


def _raw_values(raw: str) -> set[str]:
    """Candidate field values in a raw line: JSON scalars, CSV fields and plain tokens."""
    values: set[str] = set()
    with contextlib.suppress(ValueError, RecursionError):
        _json_scalars(json.loads(raw), values)
    with contextlib.suppress(csv.Error, StopIteration):
        values.update(next(csv.reader(io.StringIO(raw))))
    values.update(re.split(r"[\s,;\"'{}\[\]]+", raw))
    values.update(re.findall(r"[+(]?[0-9][0-9 ()\-./]{6,}[0-9]", raw))  # phones typed with spaces
    return {v for v in values if v and v.strip()}


def _json_scalars(obj: Any, out: set[str]) -> None:
    if isinstance(obj, dict):
        for value in obj.values():
            _json_scalars(value, out)
    elif isinstance(obj, list):
        for value in obj:
            _json_scalars(value, out)
    elif obj is not None and not isinstance(obj, bool):
        out.add(str(obj))


def drop_children(child: Any, table: pa.Table, erased_parents: pa.Table) -> tuple[pa.Table, int]:
    (key,) = [f.name for f in child.parent_key]
    if table.num_rows == 0 or erased_parents.num_rows == 0:
        return table, 0
    found = pc.is_in(table.column(key), value_set=pc.unique(erased_parents.column(key)))
    mask = found.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    return table.filter(pa.array(~mask)), int(mask.sum())


def flag_counts(table: pa.Table) -> Counter:
    """Rows per flagged field from a landed table's ``_flags`` column (as ingest counts them)."""
    counts: Counter = Counter()
    if "_flags" not in table.column_names:
        return counts
    for value, n in Counter(table.column("_flags").drop_null().to_pylist()).items():
        for name in value.split(","):
            counts[name] += n
    return counts

