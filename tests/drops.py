"""Raw drops written from plain rows, in the shapes the contracts allow (tests that need shapes the
generator never makes: zero rows, members only, anonymous receipts, CJK everywhere...).

Every file is written exactly as a source system would: CSV with the contract's header (RFC 4180
quoting, by the csv module), JSON lines one object per line. Nothing here knows the pipeline.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

TRANSACTION_FIELDS = (
    "receipt_id", "line_no", "store_id", "tx_time", "loyalty_card_no", "sku", "category", "quantity",
    "unit_price", "discount", "currency", "payment_method",
)
MEMBER_FIELDS = (
    "loyalty_card_no", "first_name", "last_name", "gender", "birth_date", "phone", "email", "postcode",
    "city", "address", "home_store_id", "enrolled_at", "updated_at", "email_opt_in", "sms_opt_in",
)
UNSUBSCRIBE_FIELDS = ("channel", "address", "event_time")


@dataclass
class Drop:
    """One night's files of every source, as rows."""

    transactions: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    web_customers: list[dict[str, Any]] = field(default_factory=list)
    web_orders: list[dict[str, Any]] = field(default_factory=list)
    profiles: list[dict[str, Any]] = field(default_factory=list)
    interactions: list[dict[str, Any]] = field(default_factory=list)
    unsubscribes: list[dict[str, Any]] = field(default_factory=list)

    def write(
        self, raw: Path, day: date, pos_encoding: str = "utf-8", sources: tuple[str, ...] | None = None
    ) -> dict[str, Path]:
        """Write the files of ``sources`` (default: all) under ``raw/<source>/<day>/``; returns
        ``{file name: path}``."""
        stamp = day.isoformat()
        files = {
            raw / "pos" / stamp / "transactions.csv": _csv(TRANSACTION_FIELDS, self.transactions),
            raw / "pos" / stamp / "loyalty_members.csv": _csv(MEMBER_FIELDS, self.members),
            raw / "ecommerce" / stamp / "customers.jsonl": _jsonl(self.web_customers),
            raw / "ecommerce" / stamp / "orders.jsonl": _jsonl(self.web_orders),
            raw / "social" / stamp / "profiles.jsonl": _jsonl(self.profiles),
            raw / "social" / stamp / "interactions.jsonl": _jsonl(self.interactions),
            raw / "messaging" / stamp / "unsubscribes.csv": _csv(UNSUBSCRIBE_FIELDS, self.unsubscribes),
        }
        out = {}
        for path, text in files.items():
            if sources is not None and path.parent.parent.name not in sources:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            encoding = pos_encoding if path.parent.parent.name == "pos" else "utf-8"
            path.write_bytes(text.encode(encoding))
            out[path.name] = path
        return out


def _csv(header: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def physical_lines(path: Path) -> int:
    """Lines as the file holds them (a last line without a newline counts), counted without parsing."""
    data = path.read_bytes()
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
