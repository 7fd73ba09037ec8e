"""Destinations: the exact file each marketing tool imports, as a SQL select over a segment's members.

A destination declares the consent it needs, its columns (only these leave the warehouse) and the SQL
that builds them from the ``reachable`` relation of :mod:`exports.publish` (customer_id, email, phone,
first_name, last_name, email_ok, sms_ok and the segment's attributes; ``email_ok``/``sms_ok`` combine
opt-in, unsubscribes, suppression and identity's junk/shared rules, applied after the segment's
filter). Set-based, so a million members cost one query, not a Python loop. ``kinds`` tells the file
writer which columns must stay verbatim (hashes, E.164, plain emails) and so are validated instead of
being prefixed against spreadsheet formula injection.

Ad platforms get SHA-256 hex digests of normalised identifiers, never plain values:
- Meta custom audiences (customer file, pre-hashed): ``email`` = sha256(trimmed, lower-cased email);
  ``phone`` = sha256(digits only with country code: no ``+``, no leading zeros); ``extern_id``.
- Google Customer Match (hashed upload): ``Email`` = sha256(trimmed, lower-cased email with the dots
  before ``@`` removed for gmail.com / googlemail.com); ``Phone`` = sha256(E.164 with the ``+``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cdp.dialect import Dialect

_EMAIL = "lower(trim(email))"
# The domain test is a LIKE, not split_part(...) in (...): on a base where no one has an email, DuckDB
# (2.0) folds split_part over the all-NULL column inside a CASE condition into an untyped NULL and fails
# with "BindBuiltinScalarFunction did not return a BoundFunctionExpression". Normalised emails have one
# '@', so both spellings select the same addresses.
_GOOGLE_EMAIL = (
    f"case when {_EMAIL} like '%@gmail.com' or {_EMAIL} like '%@googlemail.com' "
    f"then replace(split_part({_EMAIL}, '@', 1), '.', '') || '@' || split_part({_EMAIL}, '@', 2) "
    f"else {_EMAIL} end"
)


def _meta_phone(d: Dialect) -> str:
    return f"trim(leading '0' from {d.digits_only('phone')})"


@dataclass(frozen=True)
class Destination:
    name: str
    description: str
    consent: str | None  # 'email' | 'sms' | 'any' (email or sms) | None: no contact data leaves
    columns: Callable[[Dialect], str]  # select list over `members`, in the engine's SQL spelling
    where: str  # which members get a row
    # Output columns the file writer must not prefix against formula injection (exports.publish):
    # 'sha256' (hex digests), 'e164' (the destination requires +<digits>; validated instead) and
    # 'email' (the destination requires the plain address; validated instead). Every other text
    # column is human-facing and neutralised; numeric columns are left as they are.
    kinds: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_contact(self) -> bool:
        return self.consent is not None

    def select(self, dialect: Dialect, attributes: tuple[str, ...] = ()) -> str:
        """The select list; ``generic_csv`` appends the segment's attribute columns."""
        return self.columns(dialect) + "".join(f", {a}" for a in attributes if self.name == "generic_csv")


DESTINATIONS: dict[str, Destination] = {
    d.name: d
    for d in (
        Destination(
            "generic_csv", "customer_id plus the segment's chosen non-PII attributes", None,
            lambda d: "customer_id", "true",
        ),
        Destination(
            "mailchimp", "Mailchimp audience import CSV", "email",
            lambda d: (
                f"{_EMAIL} as {d.quote('Email Address')}, first_name as {d.quote('First Name')}, "
                f"last_name as {d.quote('Last Name')}"
            ),
            "email_ok", {"Email Address": "email"},
        ),
        Destination(
            "klaviyo", "Klaviyo list import CSV", "email",
            lambda d: (
                f"{_EMAIL} as {d.quote('Email')}, first_name as {d.quote('First Name')}, "
                f"last_name as {d.quote('Last Name')}"
            ),
            "email_ok", {"Email": "email"},
        ),
        Destination(
            "sms", "SMS list, one E.164 number per row", "sms", lambda d: "phone as phone_number", "sms_ok",
            {"phone_number": "e164"},
        ),
        Destination(
            "meta_custom_audience", "Meta custom audience customer file, SHA-256 hashed", "any",
            lambda d: (
                f"case when email_ok then {d.sha256(_EMAIL)} end as email, "
                f"case when sms_ok then {d.sha256(_meta_phone(d))} end as phone, customer_id as extern_id"
            ),
            "email_ok or sms_ok", {"email": "sha256", "phone": "sha256"},
        ),
        Destination(
            "google_customer_match", "Google Customer Match CSV, SHA-256 hashed", "any",
            lambda d: (
                f"case when email_ok then {d.sha256(_GOOGLE_EMAIL)} end as {d.quote('Email')}, "
                f"case when sms_ok then {d.sha256('trim(phone)')} end as {d.quote('Phone')}"
            ),
            "email_ok or sms_ok", {"Email": "sha256", "Phone": "sha256"},
        ),
    )
}
