"""Destinations: the file each marketing tool imports, and the consent a segment needs to send it.

A destination's file is the dbt model ``destination_<name>`` (``dbt_project/models/restricted/
destinations/`` for the contact files, which hold plain or hashed personal data;
``models/marts/activation/destination_generic_csv`` for the one without): one row per segment and
member outside the control group who may receive it, with an enforced contract and an exposure. Its
columns with ``meta.export_column`` are the file's columns under that header, in the declared order;
``meta.export_check`` marks a column the tool needs verbatim (``sha256`` hex digests, ``e164``
numbers, plain ``email`` addresses), which the file writer (:mod:`exports.publish`) validates instead
of prefixing it against spreadsheet formula injection. Who is reachable on which channel (consent,
suppression, identity's junk and shared addresses) is the model ``audience_reachability``; the hashed
forms are the dbt macros ``google_email`` and ``meta_phone``, equal to :mod:`cdp.identifiers`
(``tests/test_destination_forms.py``).

Ad platforms get SHA-256 hex digests of normalised identifiers, never plain values:
- Meta custom audiences (customer file, pre-hashed): ``email`` = sha256(trimmed, lower-cased email);
  ``phone`` = sha256(digits only with country code: no ``+``, no leading zeros); ``extern_id``.
- Google Customer Match (hashed upload): ``Email`` = sha256(trimmed, lower-cased email with the dots
  before ``@`` removed for gmail.com / googlemail.com); ``Phone`` = sha256(E.164 with the ``+``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Destination:
    name: str
    description: str
    consent: str | None  # 'email' | 'sms' | 'any' (email or sms) | None: no contact data leaves

    @property
    def is_contact(self) -> bool:
        return self.consent is not None

    @property
    def model(self) -> str:
        """The dbt model that is this destination's file."""
        return f"destination_{self.name}"

    @property
    def takes_attributes(self) -> bool:
        """The segment's ``attributes`` (customer_360 columns) are appended to this file."""
        return self.name == "generic_csv"


DESTINATIONS: dict[str, Destination] = {
    d.name: d
    for d in (
        Destination("generic_csv", "customer_id plus the segment's chosen non-PII attributes", None),
        Destination("mailchimp", "Mailchimp audience import CSV", "email"),
        Destination("klaviyo", "Klaviyo list import CSV", "email"),
        Destination("sms", "SMS list, one E.164 number per row", "sms"),
        Destination("meta_custom_audience", "Meta custom audience customer file, SHA-256 hashed", "any"),
        Destination("google_customer_match", "Google Customer Match CSV, SHA-256 hashed", "any"),
    )
}
