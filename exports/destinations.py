"""Destinations: the exact file each marketing tool imports, as a SQL select over a segment's members.

A destination declares the consent it needs, its columns (only these leave the warehouse) and the SQL
that builds them from the ``members`` relation (customer_id, email, phone, first_name, last_name,
email_ok, sms_ok and the segment's attributes; ``email_ok``/``sms_ok`` already combine opt-in,
unsubscribes and suppression). Set-based, so a million members cost one query, not a Python loop.

Ad platforms get SHA-256 hex digests of normalised identifiers, never plain values:
- Meta custom audiences (customer file, pre-hashed): ``email`` = sha256(trimmed, lower-cased email);
  ``phone`` = sha256(digits only with country code: no ``+``, no leading zeros); ``extern_id``.
- Google Customer Match (hashed upload): ``Email`` = sha256(trimmed, lower-cased email with the dots
  before ``@`` removed for gmail.com / googlemail.com); ``Phone`` = sha256(E.164 with the ``+``).
"""

from __future__ import annotations

from dataclasses import dataclass

_EMAIL = "lower(trim(email))"
_GOOGLE_EMAIL = (
    f"case when split_part({_EMAIL}, '@', 2) in ('gmail.com', 'googlemail.com') "
    f"then replace(split_part({_EMAIL}, '@', 1), '.', '') || '@' || split_part({_EMAIL}, '@', 2) "
    f"else {_EMAIL} end"
)
_META_PHONE = "ltrim(regexp_replace(phone, '[^0-9]', '', 'g'), '0')"


@dataclass(frozen=True)
class Destination:
    name: str
    description: str
    consent: str | None  # 'email' | 'sms' | 'any' (email or sms) | None: no contact data leaves
    select: str  # select list over `members`; {attributes} is replaced for generic_csv
    where: str  # which members get a row

    @property
    def is_contact(self) -> bool:
        return self.consent is not None


DESTINATIONS: dict[str, Destination] = {
    d.name: d
    for d in (
        Destination(
            "generic_csv", "customer_id plus the segment's chosen non-PII attributes", None,
            "customer_id{attributes}", "true",
        ),
        Destination(
            "mailchimp", "Mailchimp audience import CSV", "email",
            f'{_EMAIL} as "Email Address", first_name as "First Name", last_name as "Last Name"',
            "email_ok",
        ),
        Destination(
            "klaviyo", "Klaviyo list import CSV", "email",
            f'{_EMAIL} as "Email", first_name as "First Name", last_name as "Last Name"',
            "email_ok",
        ),
        Destination("sms", "SMS list, one E.164 number per row", "sms", "phone as phone_number", "sms_ok"),
        Destination(
            "meta_custom_audience", "Meta custom audience customer file, SHA-256 hashed", "any",
            f"case when email_ok then sha256({_EMAIL}) end as email, "
            f"case when sms_ok then sha256({_META_PHONE}) end as phone, customer_id as extern_id",
            "email_ok or sms_ok",
        ),
        Destination(
            "google_customer_match", "Google Customer Match CSV, SHA-256 hashed", "any",
            f'case when email_ok then sha256({_GOOGLE_EMAIL}) end as "Email", '
            'case when sms_ok then sha256(trim(phone)) end as "Phone"',
            "email_ok or sms_ok",
        ),
    )
}
