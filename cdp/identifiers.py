"""The identifier kinds (email, phone, source record ids): one normalise / match-key / hash / mask each.

Every Python caller that reads an identifier a person typed goes through here: ingest's derived E.164
columns, ``cdp forget`` and its tombstones, the eraser at landing, the suppression list, the masked
listings. Why one place: ``cdp forget --email anna.hendriks+news@gmail.com`` used to normalise the
address one way while identity resolution keyed it another (dots and ``+tag`` dropped), so the request
matched nobody and reported success; each copy of a rule is a chance for that.

* **email**: :func:`normalize_email` is the dbt macro ``normalize_email`` (full-width folded, trimmed,
  lower-cased, exactly one ``@``) and :func:`email_match_key` the macro ``email_match_key`` identity
  compares (``+tag`` dropped, Gmail dots dropped, googlemail.com read as gmail.com). Both are SQL too,
  because dbt computes them over every record; ``tests/test_forget_spellings.py`` runs both
  implementations over the same corpus of spellings and requires equal answers.
* **phone**: libphonenumber (``phonenumbers``) with the market's default region; E.164 or None. There
  is no SQL twin on purpose: ingest adds an ``<field>_e164`` column next to every phone field
  (``ingest/derive.py``) and the suppression list is normalised here before dbt reads it, so DuckDB and
  Spark read the very same value and no hand-written phone rule exists anywhere.
* **record**: source ids as staging cleans them (trimmed, empty -> None) and social
  ``platform:handle`` keys.

Nothing here logs; errors never carry the value.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import phonenumbers

# --------------------------------------------------------------------------------------------------
# Shared text rules (the SQL functions the dbt macros use)
# --------------------------------------------------------------------------------------------------

_FULLWIDTH = str.maketrans({**{chr(0xFF01 + i): chr(0x21 + i) for i in range(94)}, "\u3000": " "})
_POSIX_SPACE = " \t\n\v\f\r"  # RE2's [:space:] (DuckDB), Java's \s (Spark): ASCII whitespace only
_EMAIL = re.compile(f"[^@{_POSIX_SPACE}]+@[^@{_POSIX_SPACE}]+")
_GMAIL = ("gmail.com", "googlemail.com")


def fold_fullwidth(value: str) -> str:
    """Full-width ASCII variants (U+FF01..U+FF5E) and the ideographic space as ASCII (``fold_fullwidth``)."""
    return value.translate(_FULLWIDTH)


# What DuckDB 2.0's trim() strips: the space and every other Unicode space separator (category Zs:
# no-break space, ideographic space...), not tabs or line breaks. Hypothesis found '0@\xa0' kept here
# and rejected by the SQL macro.
_SQL_TRIMMED = " \u00a0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + "\u202f\u205f\u3000"


def sql_trim(value: str) -> str:
    """SQL ``trim()`` (DuckDB): space separators only, not tabs or line breaks."""
    return value.strip(_SQL_TRIMMED)


def sha256_hex(value: str) -> str:
    """Hex SHA-256 of the UTF-8 text (the ``sha256_hex`` macro: DuckDB ``sha256``, Spark ``sha2(x, 256)``)."""
    return hashlib.sha256(value.encode()).hexdigest()


# --------------------------------------------------------------------------------------------------
# Email
# --------------------------------------------------------------------------------------------------


def sql_lower(value: str) -> str:
    """SQL ``lower()``: Unicode *simple* case mapping, one character at a time. Python's ``str.lower``
    maps 'İ' to two characters and a word-final 'Σ' to 'ς' (full mapping, in context); DuckDB does
    neither, and the equivalence test over spellings found it."""
    if value.isascii():
        return value.lower()
    return "".join("i" if c == "\u0130" else c.lower() for c in value)


def normalize_email(value: str | None) -> str | None:
    """The address as every table stores it: full-width folded, trimmed, lower-cased; None unless it
    has exactly one ``@`` and no whitespace (macro ``normalize_email``)."""
    if value is None:
        return None
    folded = sql_lower(sql_trim(fold_fullwidth(value)))
    return folded if _EMAIL.fullmatch(folded) else None


def email_match_key(normalised: str | None) -> str | None:
    """The form two spellings of one mailbox share (macro ``email_match_key``): ``+tag`` dropped for
    every domain, dots dropped and googlemail.com read as gmail.com for Gmail. Takes a normalised
    address (:func:`normalize_email`); identity links, forget and suppression compare this key."""
    if normalised is None:
        return None
    local, _, rest = normalised.partition("@")
    domain = rest.split("@", 1)[0]
    local = local.split("+", 1)[0]
    if domain in _GMAIL:
        return local.replace(".", "") + "@gmail.com"
    return f"{local}@{domain}"


def email_key(value: str | None) -> str | None:
    """Raw text -> match key in one step."""
    return email_match_key(normalize_email(value))


def mask_email(email: str) -> str:
    """``j***@example.com``: the first character and the domain (what analysts may see). The rule of
    the dbt macro ``mask_email`` (dbt_project/macros/privacy/masking.sql) character for character, so a
    masked value shown by a command equals the marts' (``tests/test_masking.py``)."""
    if "@" not in email:
        return "***"  # no address
    return f"{email[:1]}***@{email.split('@')[1]}"


# --------------------------------------------------------------------------------------------------
# Phone
# --------------------------------------------------------------------------------------------------

DEFAULT_PHONE_REGION = "NL"  # the nl market's; callers with a home pass their market's region


#: Number types a person gives as their own contact number; a string whose length only fits a short
#: service or company number (UAN, premium rate: '12345', '0900-1234') is not a person's phone.
_CONTACT_TYPES = (
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.VOIP,
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
)


@lru_cache(maxsize=1 << 18)
def normalize_phone(value: str | None, region: str = DEFAULT_PHONE_REGION) -> str | None:
    """E.164 (``+8613800138000``) of a number as typed, or None.

    libphonenumber reads it: a number with ``+`` or an international prefix (``00``, ``0086``) keeps
    its country, a national one (``06-1234 5678``, ``138 0013 8000``) gets ``region``'s. Kept when its
    length is possible for a personal contact number of that country (mobile, fixed line, VoIP,
    personal), by libphonenumber's metadata; validity of the number range is not required: new ranges
    open every year, and placeholders such as ``0600000000`` must still normalise so that identity
    screens them as junk instead of them vanishing. Cached: the same numbers recur every night.
    """
    if value is None:
        return None
    text = sql_trim(fold_fullwidth(value))
    if not text or len(text) > 64:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    possible = phonenumbers.ValidationResult.IS_POSSIBLE
    check = phonenumbers.is_possible_number_for_type_with_reason
    if all(check(number, kind) != possible for kind in _CONTACT_TYPES):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone: str) -> str:
    """``+31******78``: '+' and two digits, a fixed run of six '*' (the length is not revealed) and the
    last two digits; the dbt macro ``mask_phone``'s rule (``tests/test_masking.py``)."""
    return f"{phone[:3]}******{phone[-2:]}"


def mask_name(name: str) -> str:
    """``J***``: the first character of a name."""
    return f"{name[:1]}***"


def phone_digits(e164: str) -> str:
    """Digits with the country code, no ``+`` (what Meta's audience hash is computed over)."""
    return e164.lstrip("+")


def meta_phone(phone: str) -> str:
    """Meta custom audiences' phone before hashing: digits only, no leading zeros. The SQL of
    ``exports.destinations`` (meta) computes the same (``tests/test_destination_forms.py``)."""
    return re.sub(r"[^0-9]", "", phone).lstrip("0")


def google_email(email: str) -> str:
    """Google Customer Match's email before hashing: trimmed, lower-cased, and for gmail.com /
    googlemail.com without the dots before the ``@``; equal to ``exports.destinations`` (google)."""
    address = sql_trim(email).lower()  # SQL trim(): spaces only
    local, _, domain = address.partition("@")
    if domain in ("gmail.com", "googlemail.com"):
        return local.replace(".", "") + "@" + domain.split("@")[0]
    return address


# --------------------------------------------------------------------------------------------------
# Source record ids
# --------------------------------------------------------------------------------------------------


def clean_id(value: str | None) -> str | None:
    """Ids as staging cleans them: ``trim``, empty -> None."""
    if value is None:
        return None
    return sql_trim(value) or None


def social_id(platform: str | None, handle: str | None) -> str | None:
    """``platform:user_handle`` as staging builds it (lower, trimmed, leading ``@`` removed)."""
    if platform is None or handle is None:
        return None
    return f"{sql_trim(platform).lower()}:{re.sub(r'^@+', '', sql_trim(handle)).lower()}"


# --------------------------------------------------------------------------------------------------
# Where each kind sits in the landed sources
# --------------------------------------------------------------------------------------------------

#: Phone fields of each landed entity; ingest adds ``<field>_e164`` next to each (ingest/derive.py).
PHONE_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("pos", "loyalty_members"): ("phone",),
    ("ecommerce", "customers"): ("phone",),
    ("ecommerce", "orders"): ("billing_phone",),
    ("social", "profiles"): ("phone",),
    ("messaging", "unsubscribes"): ("address",),  # an email or a phone: staging reads it by channel
    ("messaging", "sms_receipts"): ("to_phone",),
    ("messaging", "campaign_holdouts"): ("address",),  # by channel, as unsubscribes
}
#: Email fields of each landed entity (normalised in dbt by the macro, in Python by normalize_email).
EMAIL_FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("pos", "loyalty_members"): ("email",),
    ("ecommerce", "customers"): ("email",),
    ("ecommerce", "orders"): ("guest_email",),
    ("social", "profiles"): ("email",),
    ("messaging", "unsubscribes"): ("address",),
    ("messaging", "email_activity"): ("email_address",),
    ("messaging", "campaign_holdouts"): ("address",),
}


def e164_column(field: str) -> str:
    """The derived column holding a phone field's E.164 form."""
    return f"{field}_e164"
