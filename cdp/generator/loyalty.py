"""The POS loyalty ledger and coupons (issue #23), generated from the receipts ``activity.build_pos`` made.

**Points rule** (the programme the generated retailer runs; docs/decisions.md, D61):

* *earn*: a receipt with a loyalty card and a positive amount paid (lines' price x quantity minus
  discount) earns one point per whole currency unit, booked at the receipt's time. The points of one
  receipt are a *lot* that can be used up to and including the last day of the month twelve months
  after it was earned (earned 2025-03-10 -> ``expires_on`` 2026-03-31).
* *return*: a return receipt takes back one point per whole currency unit refunded, never more than
  the card holds.
* *redeem*: at a purchase receipt a member holding at least ``REDEEM_BLOCK`` points spends one block
  with a chance that grows with their promotion propensity (the coupon-like discount is not on the
  receipt's lines: the tills book it as a payment).
* *expire*: what is left of a lot on its ``expires_on`` lapses at 00:05 the next morning.
  Redemptions, returns and expiries use the oldest lot first (first to expire, first used).

Coupons: every 30-day campaign period of the window (the periods ``activity.build_interactions``
numbers ``cmp-1`` .. ``cmp-12``) sends a coupon to a share of the members, under that campaign id;
members with a known birthday get a ``birthday`` coupon on the first day of their birth month. A
coupon is valid 30 days; it is redeemed on the holder's first purchase receipt in that time with a
chance that grows with promotion propensity. A coupon is sent as a row when issued and again when
redeemed (latest ``updated_at`` wins).

Everything here draws from its own random stream (seeded from the generator's seed), so adding these
files moves none of the other generated data.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .noise import S
from .population import STORE_IDS
from .timeline import DAY, Calendar, ts, uniform_secs
from .writer import Entity, write_entity

REDEEM_BLOCK = 500  # points spent at once (the generated programme: 500 points = 5.00 off)
COUPON_VALID_DAYS = 30
CAMPAIGN_PERIOD_DAYS = 30  # as activity.build_interactions numbers its campaigns
STREAM = 23_1  # this module's random stream: np.random.default_rng([seed, STREAM])


def _month_end_a_year_later(secs: np.ndarray) -> np.ndarray:
    """Last day (datetime64[D]) of the month twelve months after each local time."""
    month = secs.astype("datetime64[s]").astype("datetime64[M]")
    return ((month + 13).astype("datetime64[D]") - 1).astype("datetime64[D]")


def campaign_of(cal: Calendar, secs: np.ndarray) -> np.ndarray:
    """The campaign id of each time: ``cmp-<n>``, n the 30-day period of the window modulo 12, plus one
    (the ids social interactions carry)."""
    period = ((secs - cal.start_s) // (CAMPAIGN_PERIOD_DAYS * DAY)).astype(np.int64)
    return np.strings.add("cmp-", (period % 12 + 1).astype("U2").astype(S))


def build_ledger(rng: np.random.Generator, p: dict, mem: dict, pos: dict, cal: Calendar) -> dict:
    """Ledger entries (earn, redeem, return, expire) of every card, in local epoch seconds."""
    rc, ln = pos["receipts"], pos["lines"]
    net = np.bincount(ln["rec"], weights=ln["qty"] * ln["price"] - np.sign(ln["qty"]) * ln["disc"],
                      minlength=len(rc["t"]))  # cents
    n_cards = int(mem["_n_cards"][0])
    card_person = dict(zip(mem["loyalty_card_no"][:n_cards].tolist(), mem["person"][:n_cards].tolist(),
                           strict=True))
    carded = np.flatnonzero(rc["card_no"] != "")
    order = carded[np.lexsort((rc["t"][carded], rc["card_no"][carded]))]
    receipts_of: dict[str, list[int]] = {}
    for r in order.tolist():
        receipts_of.setdefault(rc["card_no"][r], []).append(r)
    # Cards enrolled before the window bring points earned in the year before it (the history drop
    # carries them): an opening lot, so that expiries happen inside a one-year window too.
    enrolled = mem["enrolled_at"][:n_cards]
    opening_t = uniform_secs(rng, np.maximum(enrolled, cal.start_s - 365 * DAY), cal.start_s, n_cards)
    opening = np.where(enrolled < cal.start_s, rng.lognormal(5.0, 1.0, n_cards).astype(np.int64), 0)
    chance = rng.random(len(order))
    rows: list[tuple] = []  # (card, type, points, t, receipt index or -1, expires_on day or -1)
    lots: list[list[int]] = []  # [expires_on day, points left], oldest first

    def use(points: int, card: str, t: int, kind: str, receipt: int) -> None:
        left = points
        while left > 0 and lots:
            take = min(left, lots[0][1])
            lots[0][1] -= take
            left -= take
            if lots[0][1] == 0:
                lots.pop(0)
        if points - left > 0:
            rows.append((card, kind, points - left, t, receipt, -1))

    def earn(card: str, points: int, t: int, receipt: int) -> None:
        expires = int(_month_end_a_year_later(np.array([t]))[0].astype(np.int64))
        lots.append([expires, points])
        rows.append((card, "earn", points, t, receipt, expires))

    def expire_until(card: str, t: int) -> None:
        while lots and (lots[0][0] + 1) * DAY + 300 <= t:
            day, left = lots.pop(0)
            rows.append((card, "expire", left, (day + 1) * DAY + 300, -1, -1))

    i = 0
    for c, card in enumerate(mem["loyalty_card_no"][:n_cards].tolist()):
        lots = []
        if opening[c] > 0:
            earn(card, int(opening[c]), int(opening_t[c]), -1)
        for r in receipts_of.get(card, []):
            t = int(rc["t"][r])
            expire_until(card, t)
            amount = int(net[r] // 100) if net[r] > 0 else -int(-net[r] // 100)
            if amount < 0:
                use(-amount, card, t, "return", r)
            else:
                balance = sum(lot[1] for lot in lots)
                propensity = p["promo_propensity"][card_person[card]]
                if balance >= REDEEM_BLOCK and chance[i] < 0.25 + 0.5 * propensity:
                    use(REDEEM_BLOCK, card, t, "redeem", r)
                if amount > 0:
                    earn(card, amount, t, r)
            i += 1
        expire_until(card, cal.end_s)
    if not rows:
        return {k: np.array([], dtype=S if k in ("card", "type") else np.int64)
                for k in ("card", "type", "points", "t", "receipt", "expires_on")}
    card, kind, points, t, receipt, expires = (np.array(x) for x in zip(*rows, strict=True))
    return {
        "card": card.astype(S), "type": kind.astype(S), "points": points.astype(np.int64),
        "t": t.astype(np.int64), "receipt": receipt.astype(np.int64), "expires_on": expires.astype(np.int64),
    }


def build_coupons(rng: np.random.Generator, p: dict, mem: dict, pos: dict, cal: Calendar) -> dict:
    """Campaign and birthday coupons issued to members, and which purchase receipt redeemed each."""
    n_cards = int(mem["_n_cards"][0])
    cards = mem["loyalty_card_no"][:n_cards]
    person = mem["person"][:n_cards]
    enrolled = mem["enrolled_at"][:n_cards]
    periods = np.arange(cal.start_s, cal.end_s, CAMPAIGN_PERIOD_DAYS * DAY)
    issue_c, issue_t, campaign, value = [], [], [], []
    for start in periods.tolist():
        chosen = np.flatnonzero((enrolled < start) & (rng.random(n_cards) < 0.08))
        issue_c.append(chosen)
        issue_t.append(np.full(len(chosen), start + 9 * 3600 + rng.integers(0, 3600, len(chosen))))
        campaign.append(campaign_of(cal, np.full(len(chosen), start)))
        value.append(np.where(rng.random(len(chosen)) < 0.7, 500, 1000))
    # Birthday coupons: the first day of the birth month, every year of the window.
    birth = p["birth_date"][person]
    month = birth.astype("datetime64[M]").astype(np.int64) % 12
    first = np.datetime64(cal.start, "M")
    last = np.datetime64(cal.end_date, "M")
    for m in np.arange(first, last + 1).tolist():
        m64 = np.datetime64(m, "M")
        who = np.flatnonzero(month == m64.astype(np.int64) % 12)
        day_s = int(m64.astype("datetime64[D]").astype(np.int64)) * DAY
        who = who[(enrolled[who] < day_s) & (day_s >= cal.start_s)]
        issue_c.append(who)
        issue_t.append(np.full(len(who), day_s + 8 * 3600))
        campaign.append(np.full(len(who), "birthday", dtype=S))
        value.append(np.full(len(who), 500))
    c = np.concatenate(issue_c).astype(np.int64)
    t = np.concatenate(issue_t).astype(np.int64)
    keep = t < cal.end_s
    c, t = c[keep], t[keep]
    camp = np.concatenate(campaign)[keep]
    val = np.concatenate(value)[keep]
    valid_until = (t // DAY + COUPON_VALID_DAYS - 1).astype(np.int64)  # days since epoch, inclusive
    # Redemption: the holder's first purchase receipt in the coupon's validity, with a chance.
    rc = pos["receipts"]
    buy = np.flatnonzero((rc["card_no"] != "") & ~rc["is_return"])
    index_of = {card: i for i, card in enumerate(cards.tolist())}
    r_card = np.array([index_of[x] for x in rc["card_no"][buy].tolist()], dtype=np.int64)
    big = np.int64(1) << 40
    key = r_card * big + rc["t"][buy]
    sort = np.argsort(key, kind="stable")
    key, buy = key[sort], buy[sort]
    pos_ = np.searchsorted(key, c * big + t)
    found = pos_ < len(key)
    r = np.where(found, buy[np.minimum(pos_, len(buy) - 1)], -1) if len(buy) else np.full(len(c), -1)
    found &= r >= 0
    found &= np.where(found, rc["card_no"][np.maximum(r, 0)] == cards[c], False)
    found &= np.where(found, rc["t"][np.maximum(r, 0)] // DAY <= valid_until, False)
    propensity = p["promo_propensity"][person[c]]
    redeemed = found & (rng.random(len(c)) < 0.2 + 0.6 * propensity)
    rank = np.empty(len(c), np.int64)
    rank[np.lexsort((c, t))] = np.arange(len(c))
    code = np.strings.add("CPN", np.strings.zfill((rank + 1).astype("U8").astype(S), 8))
    return {
        "code": code, "card": cards[c], "campaign": camp, "value": val, "t": t,
        "valid_until": valid_until, "receipt": np.where(redeemed, r, -1),
        "redeemed_t": np.where(redeemed, rc["t"][np.maximum(r, 0)], -1),
    }


def write(
    con: duckdb.DuckDBPyConnection, out: Path, dates: list[str], seed: int, p: dict, mem: dict, pos: dict,
    cal: Calendar,
) -> dict[str, dict]:
    """Write ``pos/<date>/points_entries.csv`` and ``coupons.csv``; returns their writer stats."""
    rng = np.random.default_rng([seed, STREAM])
    rc = pos["receipts"]
    stats: dict[str, dict] = {}
    led = build_ledger(rng, p, mem, pos, cal)
    n = len(led["t"])
    rank = np.empty(n, np.int64)
    rank[np.argsort(led["t"], kind="stable")] = np.arange(n)  # ids in booking order
    has_receipt = led["receipt"] >= 0
    receipt = np.maximum(led["receipt"], 0)
    table = pa.table(
        {
            "entry_id": pa.array(
                np.strings.add("PE", np.strings.zfill((rank + 1).astype("U10").astype(S), 10))
            ),
            "loyalty_card_no": pa.array(led["card"]),
            "entry_type": pa.array(led["type"]),
            "points": pa.array(led["points"]),
            "t": ts(led["t"]),
            "receipt_id": pa.array(np.where(has_receipt, rc["receipt_id"][receipt] if n else "", "")),
            "store_id": pa.array(np.where(has_receipt, STORE_IDS[rc["store"][receipt]] if n else "", "")),
            "expires": pa.array(led["expires_on"].astype("datetime64[D]")),
            "has_expiry": pa.array(led["expires_on"] >= 0),
        }
    )
    ent = Entity(
        "pos", "points_entries", "points_entries.csv", "csv", table, cal.drop_of(led["t"]), led["t"], "",
        broken_copies={"missing_key": 0.001, "bad_allowed_value": 0.001, "zero_points": 0.001},
        raw_broken={"wrong_column_count": 0.0005},
        p_dup=0.002,
        p_resend=0.002,
    )
    ent.select = (
        f"CASE WHEN _b = {ent.code('missing_key')} THEN NULL ELSE entry_id END AS entry_id, loyalty_card_no, "
        f"CASE WHEN _b = {ent.code('bad_allowed_value')} THEN 'bonus' ELSE entry_type END AS entry_type, "
        f"CASE WHEN _b = {ent.code('zero_points')} THEN 0 ELSE points END AS points, "
        "strftime(t, '%Y-%m-%d %H:%M:%S') AS entry_time, NULLIF(receipt_id, '') AS receipt_id, "
        "NULLIF(store_id, '') AS store_id, "
        "CASE WHEN has_expiry THEN strftime(expires, '%Y-%m-%d') END AS expires_on"
    )
    ent.raw_fn = lambda kind, t: [
        f"{r['entry_id']};{r['loyalty_card_no']}"
        for r in t.select(["entry_id", "loyalty_card_no"]).to_pylist()
    ]
    stats["pos/points_entries"] = write_entity(con, rng, ent, out, dates)

    cp = build_coupons(rng, p, mem, pos, cal)
    redeemed = cp["receipt"] >= 0
    idx = np.concatenate([np.arange(len(cp["t"])), np.flatnonzero(redeemed)])
    is_redemption = np.arange(len(idx)) >= len(cp["t"])
    updated = np.where(is_redemption, cp["redeemed_t"][idx], cp["t"][idx])
    receipt = np.maximum(cp["receipt"][idx], 0)
    table = pa.table(
        {
            "coupon_code": pa.array(cp["code"][idx]),
            "campaign_id": pa.array(cp["campaign"][idx]),
            "loyalty_card_no": pa.array(cp["card"][idx]),
            "cents": pa.array(cp["value"][idx]),
            "issued": ts(cp["t"][idx]),
            "valid_until": pa.array(cp["valid_until"][idx].astype("datetime64[D]")),
            "is_redemption": pa.array(is_redemption),
            "redeemed": ts(np.maximum(cp["redeemed_t"][idx], 0)),
            "receipt_id": pa.array(np.where(is_redemption, rc["receipt_id"][receipt], "")),
            "store_id": pa.array(np.where(is_redemption, STORE_IDS[rc["store"][receipt]], "")),
            "updated": ts(updated),
        }
    )
    ent = Entity(
        "pos", "coupons", "coupons.csv", "csv", table, cal.drop_of(updated), updated, "",
        broken_copies={"missing_key": 0.002, "negative_value": 0.002},
        p_dup=0.002,
        p_resend=0.002,
    )
    ent.select = (
        f"CASE WHEN _b = {ent.code('missing_key')} THEN NULL ELSE coupon_code END AS coupon_code, "
        "campaign_id, loyalty_card_no, "
        f"((CASE WHEN _b = {ent.code('negative_value')} THEN -1 ELSE 1 END) * cents / 100)::DECIMAL(18,2) "
        "AS coupon_value, strftime(issued, '%Y-%m-%d %H:%M:%S') AS issued_at, "
        "strftime(valid_until, '%Y-%m-%d') AS valid_until, "
        "CASE WHEN is_redemption THEN strftime(redeemed, '%Y-%m-%d %H:%M:%S') END AS redeemed_at, "
        "NULLIF(receipt_id, '') AS redeemed_receipt_id, NULLIF(store_id, '') AS redeemed_store_id, "
        "strftime(updated, '%Y-%m-%d %H:%M:%S') AS updated_at"
    )
    stats["pos/coupons"] = write_entity(con, rng, ent, out, dates)
    truth = out / "_truth"
    truth.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table(
            {
                "loyalty_card_no": pa.array(led["card"]), "entry_type": pa.array(led["type"]),
                "points": pa.array(led["points"]), "entry_time_local": ts(led["t"]),
                "expires_on": pa.array(led["expires_on"].astype("datetime64[D]"), mask=led["expires_on"] < 0),
            }
        ),
        truth / "points_entries.parquet",
    )
    return stats
