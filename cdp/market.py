"""Market profiles: the country settings a retailer's data is read with, in one place.

A market (``cdp/markets/<code>.yml``) says how phone numbers typed without a country code are read
(libphonenumber's default region), the stores' time zone (store tills print local time; behaviour marts
report weekdays and times of day in it), the currency, the gender words forms use, the order people
write their names in, the postcode format (and the part of it that blocks identity candidates) and the
social platforms customers use. A home picks one with ``market:`` in ``<home>/config/cdp.yml``
(``CDP_MARKET`` overrides it; :mod:`cdp.site`); without one the market is ``nl``, which is exactly what
the project did before profiles existed.

Why a file per market and not settings scattered over dbt vars and Python constants: a Chinese retailer's
mobiles, its time zone and 男/女 on its forms belong together, and every step (ingest, dbt, forget, the
generator) must read the same ones. dbt gets them as vars (:meth:`Market.dbt_vars`), Python code calls
:func:`load_market` / :func:`market_of`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cdp.site import DEFAULT_SOURCES, site_file

if TYPE_CHECKING:
    from cdp.config import Settings

MARKETS_DIR = Path(__file__).parent / "markets"
DEFAULT_MARKET = "nl"
GENDERS = ("female", "male", "other")
NAME_ORDERS = ("given_first", "family_first")


class MarketError(ValueError):
    """A market profile is missing or malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Market:
    """One market profile (``cdp/markets/<code>.yml``)."""

    code: str
    name: str
    country: str
    phone_region: str
    timezone: str
    currency: str
    name_order: str
    postcode_pattern: str
    postcode_area_length: int
    gender: dict[str, tuple[str, ...]] = field(default_factory=dict)
    social_platforms: tuple[str, ...] = ()

    @property
    def family_name_first(self) -> bool:
        return self.name_order == "family_first"

    def gender_of(self, text: str | None) -> str | None:
        """The gender value a free-text answer means in this market (None: unknown / not given)."""
        if text is None:
            return None
        word = text.strip(" ").lower()
        for value in GENDERS:
            if word in self.gender.get(value, ()):
                return value
        return None

    def is_postcode(self, text: str) -> bool:
        """Does ``text`` (trimmed, upper-cased) have this market's postcode format?"""
        return re.fullmatch(self.postcode_pattern, text.strip().upper()) is not None

    def dbt_vars(self) -> dict[str, Any]:
        """The vars every dbt command of a home in this market runs with (dbt_project.yml declares
        the NL defaults): what staging, identity and the behaviour marts read from the profile."""
        return {
            "market": self.code,
            "market_timezone": self.timezone,
            "market_currency": self.currency,
            "market_name_order": self.name_order,
            "gender_vocabulary": {g: list(self.gender.get(g, ())) for g in GENDERS},
            "identity_postcode_area_length": self.postcode_area_length,
        }


@cache
def load_market(code: str = DEFAULT_MARKET) -> Market:
    """The profile ``cdp/markets/<code>.yml``; raises :class:`MarketError` naming what is wrong."""
    import yaml

    code = (code or DEFAULT_MARKET).strip().lower()
    path = MARKETS_DIR / f"{code}.yml"
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", code) or not path.is_file():
        raise MarketError(f"unknown market {code!r}: use one of {', '.join(available_markets())}")
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        market = Market(
            code=str(doc["code"]),
            name=str(doc["name"]),
            country=str(doc["country"]).upper(),
            phone_region=str(doc["phone_region"]).upper(),
            timezone=str(doc["timezone"]),
            currency=str(doc["currency"]).upper(),
            name_order=str(doc.get("name_order", "given_first")),
            postcode_pattern=str(doc["postcode"]["pattern"]),
            postcode_area_length=int(doc["postcode"]["area_length"]),
            gender={g: tuple(str(w).lower() for w in doc.get("gender", {}).get(g, ())) for g in GENDERS},
            social_platforms=tuple(str(p) for p in doc.get("social_platforms", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MarketError(f"{path}: missing or malformed key ({exc})") from None
    _check(path, market)
    return market


def _check(path: Path, market: Market) -> None:
    import phonenumbers

    if market.code != path.stem:
        raise MarketError(f"{path}: code {market.code!r} must equal the file name")
    if market.phone_region not in phonenumbers.SUPPORTED_REGIONS:
        raise MarketError(f"{path}: phone_region {market.phone_region!r} is not a libphonenumber region")
    try:
        ZoneInfo(market.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise MarketError(f"{path}: timezone {market.timezone!r} is not an IANA time zone") from None
    if market.name_order not in NAME_ORDERS:
        raise MarketError(f"{path}: name_order must be one of {', '.join(NAME_ORDERS)}")
    if not re.fullmatch(r"[A-Z]{3}", market.currency):
        raise MarketError(f"{path}: currency must be an ISO 4217 code")
    words = [w for g in GENDERS for w in market.gender[g]]
    if len(words) != len(set(words)):
        raise MarketError(f"{path}: a gender word is listed under two values")


def available_markets() -> list[str]:
    return sorted(p.stem for p in MARKETS_DIR.glob("*.yml"))


def configure_home(home: Path, market: str, encodings: dict[str, str] | None = None) -> Path:
    """Write ``market:`` (and source file ``encodings``, e.g. ``{"pos": "gb18030"}``) into the home's
    settings file ``<home>/config/cdp.yml``, keeping every other setting in it. ``cdp demo --market``
    uses it so that the pipeline reads the generated drops as the market they were written for."""
    import yaml


    load_market(market)  # fails on an unknown market before anything is written
    path = site_file(home)
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    doc = dict(doc or {})
    doc["market"] = market
    if encodings:
        sources = doc.get("sources") or {name: {} for name in DEFAULT_SOURCES}
        if isinstance(sources, list):
            sources = {str(name): {} for name in sources}
        for source, encoding in encodings.items():
            sources[source] = {**(sources.get(source) or {}), "encoding": encoding}
        doc["sources"] = sources
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def market_of(settings: Settings) -> Market:
    """The market of a home (``market:`` of ``<home>/config/cdp.yml``, ``CDP_MARKET``, else nl)."""
    return load_market(settings.site.market)
