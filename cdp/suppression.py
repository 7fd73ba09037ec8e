"""The global suppression list: who must never be contacted on a channel.

``<home>/config/suppression.csv`` (channel, address, reason, added_at) is what people edit; the
messaging source's unsubscribe feed adds to it in dbt. Both are applied in dbt
(``stg_privacy__suppressions`` -> ``restricted.audience_contacts``). This module normalises the file's
addresses for dbt (:func:`write_normalised_suppressions`: phones need libphonenumber, so the build
reads the very values ingest derives) and lists everyone suppressed, masked.
"""


from __future__ import annotations

import csv
import io
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cdp import identifiers
from cdp.config import Settings
from cdp.engines import connect, warehouse_exists
from cdp.identifiers import normalize_email, normalize_phone
from cdp.market import market_of

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------
# Suppression list (listing; the logic is in dbt)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suppression:
    channel: str
    address: str  # masked
    reason: str
    since: str
    source: str  # 'suppression file' | 'messaging unsubscribe feed'
    usable: bool = True  # False: the address does not normalise, so it matches nobody


mask_email = identifiers.mask_email
mask_phone = identifiers.mask_phone


def mask_address(address: str, region: str = identifiers.DEFAULT_PHONE_REGION) -> str:
    email = normalize_email(address)
    if email:
        return mask_email(email)
    phone = normalize_phone(address, region)
    if phone:
        return mask_phone(phone)
    return "***"


def suppressions(settings: Settings) -> list[Suppression]:
    """Everyone suppressed, newest first: the suppression file's entries and the unsubscribe feed
    (warehouse), each with its source, addresses masked."""
    out = [entry for _, entry in _file_entries(settings)] + _unsubscribe_suppressions(settings)
    return sorted(out, key=lambda entry: (entry.since, entry.source), reverse=True)


class NotAnAddress(ValueError):
    """The text is neither an email address nor a phone number this home's market can read."""


def check(settings: Settings, address: str) -> list[Suppression]:
    """The entries that suppress ``address`` (an email or a phone, as typed), newest first; empty when
    it may be contacted. Matched as the build matches: emails by identity's match key (so any spelling
    of the address), phones by E.164 with the market's region."""
    email = normalize_email(address)
    key = identifiers.email_match_key(email) if email else None
    phone = normalize_phone(address, market_of(settings).phone_region)
    if not key and not phone:
        raise NotAnAddress("neither an email address nor a phone number (nothing to look up)")
    found = []
    for row, entry in _file_entries(settings):
        by_email = key is not None and row["email_normalized"] is not None
        if (by_email and identifiers.email_match_key(row["email_normalized"]) == key) or (
            phone is not None and row["phone_e164"] == phone
        ):
            found.append(entry)
    for channel, value, entry in _unsubscribes(settings):
        if (channel == "email" and key and identifiers.email_match_key(value) == key) or (
            channel == "sms" and phone and value == phone
        ):
            found.append(entry)
    return sorted(found, key=lambda entry: (entry.since, entry.source), reverse=True)


def _file_entries(settings: Settings) -> list[tuple[dict[str, str | None], Suppression]]:
    """Each row of the suppression file (normalised) with its listed, masked entry."""
    out = []
    for row in normalised_suppressions(settings):
        email, phone = row["email_normalized"], row["phone_e164"]
        out.append((row, Suppression(
            channel=str(row["channel"]),
            address=mask_email(email) if email else mask_phone(phone) if phone else "***",
            reason=(row["reason"] or "").strip(),
            since=(row["added_at"] or "").strip(),
            source="suppression file",
            usable=bool(email or phone),
        )))
    return out


#: Columns of the normalised suppression list dbt reads (source privacy.suppression_list).
SUPPRESSION_COLUMNS = ("channel", "address", "email_normalized", "phone_e164", "reason", "added_at")


def normalised_suppressions(settings: Settings) -> list[dict[str, str | None]]:
    """The suppression file's rows with each address normalised as identity normalises it: email by
    :func:`normalize_email` (dbt keys it with ``email_match_key`` too), phone by libphonenumber with
    the market's region. An empty or unknown channel means ``all``: a typo must not let mail through."""
    path = settings.suppression_file
    if not path.exists():
        return []
    region = market_of(settings).phone_region
    out: list[dict[str, str | None]] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            raw_channel = (row.get("channel") or "").strip(" ").lower()
            channel = raw_channel if raw_channel in ("email", "sms") else "all"
            address = row.get("address") or ""
            out.append(
                {
                    "channel": channel,
                    "address": address,
                    "email_normalized": normalize_email(address) if channel in ("email", "all") else None,
                    "phone_e164": normalize_phone(address, region) if channel in ("sms", "all") else None,
                    "reason": row.get("reason"),
                    "added_at": row.get("added_at"),
                }
            )
    return out


def write_normalised_suppressions(settings: Settings, path: Path) -> Path:
    """Write :func:`normalised_suppressions` as the CSV dbt reads (``CDP_SUPPRESSION_FILE``), so the
    warehouse matches phones with the very value libphonenumber gives (no phone rules in SQL).
    Replaced atomically; the same input gives the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUPPRESSION_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(normalised_suppressions(settings))
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    os.chmod(tmp, 0o600)  # the list holds addresses
    os.replace(tmp, path)
    return path


def _unsubscribe_suppressions(settings: Settings) -> list[Suppression]:
    return [entry for _, _, entry in _unsubscribes(settings)]


def _unsubscribes(settings: Settings) -> list[tuple[str, str, Suppression]]:
    """(channel, plain address, masked entry) of the unsubscribe feed as the warehouse holds it."""
    if not warehouse_exists(settings):
        return []
    with connect(settings, read_only=True) as warehouse:
        if "int_messaging_unsubscribes_deduplicated" not in warehouse.tables("intermediate"):
            return []
        rows = warehouse.rows(
            "select channel, coalesce(email_normalized, phone_e164) as address, min(unsubscribed_at) "
            "from intermediate.int_messaging_unsubscribes_deduplicated "
            "group by channel, coalesce(email_normalized, phone_e164) order by 3, 1, 2"
        )
    return [
        (
            channel,
            address,
            Suppression(
                channel=channel,
                address=mask_email(address) if channel == "email" else mask_phone(address),
                reason="unsubscribed",
                since=str(since)[:19] if since else "",
                source="messaging unsubscribe feed",
            ),
        )
        for channel, address, since in rows
    ]


CHANNELS = ("email", "sms", "all")


def add(settings: Settings, channel: str, address: str, reason: str) -> Suppression:
    """Add ``address`` to the suppression file for ``channel`` (email, sms or all), checked first: an
    entry the build could not read would match nobody. Returns the entry as listed (masked)."""
    if channel not in CHANNELS:
        raise NotAnAddress(f"channel must be one of {', '.join(CHANNELS)}, got {channel!r}")
    email = normalize_email(address) if channel in ("email", "all") else None
    phone = normalize_phone(address, market_of(settings).phone_region) if channel in ("sms", "all") else None
    if not email and not phone:
        wanted = {"email": "an email address", "sms": "a phone number"}.get(channel, "an email or a phone")
        raise NotAnAddress(f"not {wanted} (nothing was added)")
    add_suppression(settings, channel, address.strip(), reason)
    return check(settings, address)[0]


def add_suppression(
    settings: Settings, channel: str, address: str, reason: str, added_at: str | None = None
) -> None:
    """Append one entry to the suppression file (tests and scripts; :func:`add` checks it first)."""
    settings.ensure()
    when = added_at or datetime.now(UTC).isoformat(timespec="seconds")
    with settings.suppression_file.open("a", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerow([channel, address, reason, when])

