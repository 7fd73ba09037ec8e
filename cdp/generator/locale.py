"""What a market's data looks like: names, places, phones, platforms, currency, encoding (``--market``).

The Dutch locale is the pools the generator always used, so ``--market nl`` writes the same bytes as
before. The Chinese one writes what a mainland retailer's systems export: names in characters (family
name first) and in pinyin, 11-digit mobiles typed with and without ``+86`` / ``0086`` and separators,
6-digit postcodes, WeChat / Weibo / Douyin profiles, CNY, Beijing time and a GB18030 POS export.
The market's facts that the pipeline reads too (time zone, currency, platforms) come from the market
profile (``cdp/markets/<code>.yml``), so the generated world and the pipeline cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cdp.market import Market, load_market

from . import pools
from .noise import S, e164, phones, strs

# Mainland mobile prefixes (the first three of the 11 digits); a person's prefix follows from their
# number, so every record of the person shows the same mobile.
CN_MOBILE_PREFIXES = (
    "138", "139", "136", "137", "135", "150", "151", "158", "159", "186",
    "187", "188", "189", "177", "182", "183", "185", "130", "131", "132",
)
CN_PHONE_FORMATS = (
    "{n}",  # 13812345678
    "+86 {a} {b} {c}",  # +86 138 1234 5678
    "+86-{a}-{b}-{c}",
    "0086 {a} {b} {c}",
    "0086{n}",
    "{a}-{b}-{c}",
    "{a} {b} {c}",
    "+86{n}",
)
CN_PHONE_WEIGHTS = (0.35, 0.12, 0.08, 0.07, 0.05, 0.13, 0.12, 0.08)

CN_CITIES = (  # name, weight, first postcode, last postcode (6 digits)
    ("上海", 90, 200000, 201999),
    ("北京", 85, 100000, 102699),
    ("广州", 60, 510000, 511499),
    ("深圳", 60, 518000, 518199),
    ("成都", 45, 610000, 611999),
    ("杭州", 40, 310000, 311499),
    ("重庆", 38, 400000, 401999),
    ("武汉", 35, 430000, 431499),
    ("西安", 30, 710000, 710299),
    ("南京", 30, 210000, 211299),
    ("天津", 28, 300000, 301999),
    ("苏州", 26, 215000, 215499),
    ("长沙", 22, 410000, 410699),
    ("郑州", 22, 450000, 451499),
    ("青岛", 20, 266000, 266799),
    ("沈阳", 18, 110000, 110199),
    ("宁波", 16, 315000, 315899),
    ("厦门", 14, 361000, 361199),
    ("昆明", 14, 650000, 650599),
    ("大连", 12, 116000, 116699),
)
# Other ways people write a city (index into CN_CITIES): with 市, in pinyin.
CN_CITY_ALIASES = {0: "上海市", 1: "北京市", 2: "Guangzhou", 3: "深圳市"}
CN_STREETS = (
    "人民路", "解放路", "中山路", "建设路", "和平路", "南京路", "长江路", "黄河路", "朝阳路", "文化路",
    "新华路", "胜利路", "青年路", "学院路", "东风路", "光明路", "幸福路", "花园路", "湖滨路", "滨江路",
)
CN_EMAIL_DOMAINS = (
    "qq.com", "163.com", "126.com", "sina.com", "gmail.com", "outlook.com", "139.com", "foxmail.com",
)
CN_EMAIL_DOMAIN_WEIGHTS = (38, 22, 9, 6, 8, 7, 5, 5)
CN_PLATFORM_WEIGHTS = (0.55, 0.2, 0.25)  # wechat, weibo, douyin
CN_GENDER_TEXT_F = ("女", "女", "女士", "F", "female", "女", "")
CN_GENDER_TEXT_M = ("男", "男", "先生", "M", "male", "男", "")
CN_GENDER_TEXT_X = ("其他", "X", "", "", "", "", "")
CN_JUNK_EMAILS = ("test@test.com", "123456@qq.com", "noreply@163.com", "info@example.com", "none@none.com",
                  "a@a.com", "x@x.com")
CN_JUNK_PHONES = ("13800000000", "138 0000 0000", "+8613800000000", "13888888888", "13999999999",
                  "00000000000", "13811111111")


@dataclass(frozen=True)
class Locale:
    """The value pools and formats of one market's generated data."""

    market: Market
    han_share: float  # people with a Chinese name
    han_script_share_scale: float  # > 1: names in characters more often than the NL world's
    cities: tuple
    city_aliases: dict
    streets: tuple
    email_domains: tuple
    email_domain_weights: tuple
    platforms: tuple
    platform_weights: tuple
    gender_text: tuple  # (female, male, other) pools of 7
    junk_emails: tuple
    junk_phones: tuple
    countries: tuple  # address_country as the web shop exports it
    pos_encoding: str

    @property
    def code(self) -> str:
        return self.market.code

    @property
    def currency(self) -> str:
        return self.market.currency

    def phones(
        self, rng: np.random.Generator, numbers: np.ndarray, fmt: np.ndarray | None = None
    ) -> np.ndarray:
        """Mobile numbers of the people (their 8-digit numbers) as people type them in this market."""
        if self.code == "nl":
            return phones(rng, numbers, fmt)
        n = self.national(numbers)
        a, b, c = np.strings.slice(n, 0, 3), np.strings.slice(n, 3, 7), np.strings.slice(n, 7, 11)
        if fmt is None:
            fmt = rng.choice(len(CN_PHONE_FORMATS), size=len(numbers), p=CN_PHONE_WEIGHTS)
        out = np.empty(len(numbers), dtype=S)
        for i, f in enumerate(CN_PHONE_FORMATS):
            sel = fmt == i
            if sel.any():
                text = f.replace("{n}", "\0n\0").replace("{a}", "\0a\0").replace("{b}", "\0b\0").replace(
                    "{c}", "\0c\0")
                parts = {"n": n[sel], "a": a[sel], "b": b[sel], "c": c[sel]}
                value = np.full(int(sel.sum()), "", dtype=S)
                for k, piece in enumerate(text.split("\0")):
                    value = np.strings.add(value, parts[piece] if k % 2 else piece)
                out[sel] = value
        return out

    def national(self, numbers: np.ndarray) -> np.ndarray:
        """The 11-digit mainland mobile of each 8-digit number (prefix chosen by the number)."""
        d8 = np.strings.zfill(numbers.astype(np.int64).astype("U8").astype(S), 8)
        prefix = strs(CN_MOBILE_PREFIXES)[numbers.astype(np.int64) % len(CN_MOBILE_PREFIXES)]
        return np.strings.add(prefix, d8)

    def e164(self, numbers: np.ndarray) -> np.ndarray:
        """The canonical form the truth file stores."""
        if self.code == "nl":
            return e164(numbers)
        return np.strings.add("+86", self.national(numbers))

    def unsubscribe_formats(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """How the messaging tool holds SMS addresses (mostly international)."""
        if self.code == "nl":
            return rng.choice([4, 1, 2], size=n, p=[0.6, 0.3, 0.1])
        return rng.choice([7, 0, 1], size=n, p=[0.6, 0.3, 0.1])


def locale(code: str) -> Locale:
    """The generator's locale of a market (``nl`` or ``cn``)."""
    market = load_market(code)
    if market.code == "nl":
        return Locale(
            market=market,
            han_share=0.07,
            han_script_share_scale=1.0,
            cities=pools.CITIES,
            city_aliases=pools.CITY_ALIASES,
            streets=pools.STREETS,
            email_domains=pools.EMAIL_DOMAINS,
            email_domain_weights=pools.EMAIL_DOMAIN_WEIGHTS,
            platforms=pools.PLATFORMS,
            platform_weights=pools.PLATFORM_WEIGHTS,
            gender_text=(pools.GENDER_TEXT_F, pools.GENDER_TEXT_M, pools.GENDER_TEXT_X),
            junk_emails=pools.JUNK_EMAILS,
            junk_phones=pools.JUNK_PHONES,
            countries=("NL", "nl", "NL ", "Netherlands"),
            pos_encoding="utf-8",
        )
    if market.code == "cn":
        return Locale(
            market=market,
            han_share=1.0,
            han_script_share_scale=1.5,
            cities=CN_CITIES,
            city_aliases=CN_CITY_ALIASES,
            streets=CN_STREETS,
            email_domains=CN_EMAIL_DOMAINS,
            email_domain_weights=CN_EMAIL_DOMAIN_WEIGHTS,
            platforms=market.social_platforms,
            platform_weights=CN_PLATFORM_WEIGHTS,
            gender_text=(CN_GENDER_TEXT_F, CN_GENDER_TEXT_M, CN_GENDER_TEXT_X),
            junk_emails=CN_JUNK_EMAILS,
            junk_phones=CN_JUNK_PHONES,
            countries=("CN", "cn", "CN ", "中国"),
            pos_encoding="gb18030",
        )
    raise ValueError(f"the generator has no locale for market {code!r}")
