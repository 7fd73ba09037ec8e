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
from collections.abc import Iterable
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
    """Everyone suppressed: the suppression file's entries and the unsubscribe feed (warehouse), masked."""
    out = list(_file_suppressions(settings))
    out += _unsubscribe_suppressions(settings)
    return out


def _file_suppressions(settings: Settings) -> Iterable[Suppression]:
    for row in normalised_suppressions(settings):
        email, phone = row["email_normalized"], row["phone_e164"]
        yield Suppression(
            channel=row["channel"],
            address=mask_email(email) if email else mask_phone(phone) if phone else "***",
            reason=(row["reason"] or "").strip(),
            since=(row["added_at"] or "").strip(),
            source="suppression file",
            usable=bool(email or phone),
        )


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
        Suppression(
            channel=channel,
            address=mask_email(address) if channel == "email" else mask_phone(address),
            reason="unsubscribed",
            since=str(since)[:19] if since else "",
            source="messaging unsubscribe feed",
        )
        for channel, address, since in rows
    ]


def add_suppression(
    settings: Settings, channel: str, address: str, reason: str, added_at: str | None = None
) -> None:
    """Append one entry to the suppression file (used by tests and scripts; the CSV may be edited too)."""
    settings.ensure()
    when = added_at or datetime.now(UTC).isoformat(timespec="seconds")
    with settings.suppression_file.open("a", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerow([channel, address, reason, when])

