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

``min_audience`` is the smallest audience the tool will serve or recommends, with ``min_audience_source``
naming where the tool says so; the export and ``cdp segments preview`` warn when a file has fewer rows
(a file's rows are the most people the tool can match: Meta and Google match part of them). A
column with ``meta.export_key`` identifies a member in the file (the email, the phone, ``extern_id``,
``customer_id``): a member whose other columns changed since the last export is written once to
``<destination>.updated.csv`` instead of to both the added and the removed file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Destination:
    name: str
    description: str
    consent: str | None  # 'email' | 'sms' | 'any' (email or sms) | None: no contact data leaves
    # The smallest audience the tool serves or recommends (None: the tool names none), and where it says so.
    min_audience: int | None = None
    min_audience_source: str | None = None

    @property
    def is_contact(self) -> bool:
        return self.consent is not None

    @property
    def model(self) -> str:
        """The dbt model that is this destination's file."""
        return f"destination_{self.name}"

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels whose reachability decides whether a member gets a row (``any``: either)."""
        return {"email": ("email",), "sms": ("sms",), "any": ("email", "sms")}.get(self.consent or "", ())

    def is_small(self, rows: int) -> bool:
        """Fewer rows than the tool's minimum audience (a warning, never a failure)."""
        return self.min_audience is not None and rows < self.min_audience

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
        Destination(
            "meta_custom_audience", "Meta custom audience customer file, SHA-256 hashed", "any",
            min_audience=100,
            min_audience_source=(
                "Meta Business Help Center, customer list custom audiences: an audience needs at least "
                "100 matched people to deliver (facebook.com/business/help/170456843145568)"
            ),
        ),
        Destination(
            "google_customer_match", "Google Customer Match CSV, SHA-256 hashed", "any",
            min_audience=1000,
            min_audience_source=(
                "Google Ads Help, About Customer Match: a list serves on Search, Gmail and YouTube "
                "from 1,000 active matched members, on Display from 100 "
                "(support.google.com/google-ads/answer/6379332)"
            ),
        ),
    )
}
