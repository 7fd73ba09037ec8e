"""Behaviour: receipts, web orders, social interactions and unsubscribes, generated per event in bulk.

Purchase counts are gamma-Poisson (a few heavy buyers, many occasional ones), baskets are lognormal-priced
catalogue items, promotion hunters take mostly discounted lines, churned people stop buying at their churn
date. Everything is drawn as whole arrays: counts per person -> np.repeat -> per-event draws.
"""

from __future__ import annotations

import numpy as np

from . import pools
from .locale import Locale
from .noise import Noise, S, messy, strs
from .population import N_STORES, STORE_IDS, build_billing
from .timeline import DAY, Calendar, at_time_of_day, uniform_secs

PAYMENTS = strs(["card", "mobile", "cash", "voucher", ""])


def build_catalog(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """SKU list with a fixed lognormal shelf price per article (a SKU always costs the same)."""
    cats, skus, prices = [], [], []
    for ci, (name, _, _, median, sigma, count) in enumerate(pools.CATEGORIES):
        cats.append(np.full(count, ci))
        skus.append(
            np.strings.add(name[:3].upper(), np.char.zfill(np.arange(1, count + 1).astype("U5"), 5)).astype(S)
        )
        price = np.round(median * rng.lognormal(0, sigma, count), 1) - 0.01
        prices.append(np.maximum((price * 100).round().astype(np.int64), 49))
    cat = np.concatenate(cats)
    start = np.concatenate([[0], np.cumsum([c[5] for c in pools.CATEGORIES])])
    return {
        "category": cat,
        "sku": np.concatenate(skus),
        "price": np.concatenate(prices),
        "cat_start": start,
        "cat_names": strs([c[0] for c in pools.CATEGORIES]),
    }


def _draw_items(rng: np.random.Generator, catalog: dict, n: int, web: bool) -> tuple[np.ndarray, np.ndarray]:
    """Catalogue index and quantity per line; popular SKUs are bought more often (skewed index)."""
    w = np.array([c[2] if web else c[1] for c in pools.CATEGORIES])
    cat = rng.choice(len(w), size=n, p=w / w.sum())
    size = np.diff(catalog["cat_start"])[cat]
    item = catalog["cat_start"][cat] + (size * rng.random(n) ** 2.2).astype(np.int64)
    qty = np.where(cat == 0, 1 + rng.geometric(0.55, n) - 1, 1 + (rng.random(n) < 0.08))
    return item, qty.astype(np.int64)


def _discounts(
    rng: np.random.Generator, price: np.ndarray, qty: np.ndarray, propensity: np.ndarray
) -> np.ndarray:
    on = rng.random(len(price)) < propensity
    pct = np.array([0.1, 0.15, 0.2, 0.25, 0.3, 0.5])[rng.integers(0, 6, len(price))]
    return np.where(on, np.round(price * np.abs(qty) * pct), 0).astype(np.int64)


def _counts(
    rng: np.random.Generator, mean_per_year: float, shape: float, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    rate = rng.gamma(shape, mean_per_year / shape, len(lo)) / 365.0
    return rng.poisson(rate * np.maximum(hi - lo, 0) / DAY)


def build_pos(rng: np.random.Generator, p: dict, members: dict, catalog: dict, cal: Calendar) -> dict:
    """Receipts (member, anonymous, returns) and their lines, with late-arriving receipts."""
    n_cards = int(members["_n_cards"][0])
    card_person = members["person"][:n_cards]
    card_seq = members["card_seq"][:n_cards]
    card_enrol = members["enrolled_at"][:n_cards]
    first_card = np.flatnonzero(card_seq == 0)
    second_of = np.full(len(p["pid"]), -1)
    second_of[card_person[card_seq == 1]] = np.flatnonzero(card_seq == 1)
    holder = card_person[first_card]
    lo = np.maximum(card_enrol[first_card], cal.start_s)
    hi = np.minimum(p["churned_at"][holder], cal.end_s)
    cnt = _counts(rng, 4.0, 0.7, lo, hi)
    r_card = np.repeat(first_card, cnt)
    r_person = card_person[r_card]
    r_t = at_time_of_day(rng, uniform_secs(rng, np.repeat(lo, cnt), np.repeat(hi, cnt), len(r_card)), "store")
    r_t = np.clip(r_t, np.repeat(lo, cnt), np.repeat(hi, cnt) - 1)
    # Holders of two cards use either once the second exists.
    c2 = second_of[r_person]
    use2 = (c2 >= 0) & (r_t >= card_enrol[np.maximum(c2, 0)]) & (rng.random(len(r_t)) < 0.5)
    r_card = np.where(use2, c2, r_card)
    r_store = np.where(
        rng.random(len(r_t)) < 0.72, members["store"][r_card], rng.integers(0, N_STORES, len(r_t))
    )
    r_prop = p["promo_propensity"][r_person]
    # Anonymous shoppers: no card scanned.
    n_anon = int(rng.poisson(1.2 * len(p["pid"]) * (cal.end_s - cal.start_s) / DAY / 365))
    a_t = at_time_of_day(rng, uniform_secs(rng, cal.start_s, cal.end_s, n_anon), "store")
    r_card = np.concatenate([r_card, np.full(n_anon, -1)])
    r_t = np.concatenate([r_t, a_t])
    r_store = np.concatenate([r_store, rng.integers(0, N_STORES, n_anon)])
    r_prop = np.concatenate([r_prop, rng.beta(1, 5, n_anon)])
    r_nlines = 1 + rng.poisson(np.where(r_card >= 0, 2.2, 1.6))
    r_pay = rng.choice(len(PAYMENTS), size=len(r_t), p=[0.55, 0.2, 0.18, 0.05, 0.02])

    # Lines.
    rec = np.repeat(np.arange(len(r_t)), r_nlines)
    start = np.concatenate([[0], np.cumsum(r_nlines)[:-1]])
    line_no = np.arange(len(rec)) - start[rec] + 1
    item, qty = _draw_items(rng, catalog, len(rec), web=False)
    price = catalog["price"][item]
    disc = _discounts(rng, price, qty, r_prop[rec])

    # Returns: a separate, later receipt with one negative line (same card, usually same store).
    ret = np.flatnonzero(rng.random(len(r_t)) < np.where(r_card >= 0, 0.04, 0.025))
    ret_t = at_time_of_day(rng, r_t[ret] + rng.integers(1, 30, len(ret)) * DAY, "store")
    ok = ret_t < cal.end_s
    ret, ret_t = ret[ok], ret_t[ok]
    src_line = start[ret] + (rng.random(len(ret)) * r_nlines[ret]).astype(np.int64)
    nr = len(ret)
    base_r = len(r_t)
    r_card = np.concatenate([r_card, r_card[ret]])
    r_t = np.concatenate([r_t, ret_t])
    r_store = np.concatenate(
        [r_store, np.where(rng.random(nr) < 0.8, r_store[ret], rng.integers(0, N_STORES, nr))]
    )
    r_pay = np.concatenate([r_pay, r_pay[ret]])
    rec = np.concatenate([rec, base_r + np.arange(nr)])
    line_no = np.concatenate([line_no, np.ones(nr, np.int64)])
    item = np.concatenate([item, item[src_line]])
    qty = np.concatenate([qty, -qty[src_line]])
    price = np.concatenate([price, price[src_line]])
    disc = np.concatenate([disc, disc[src_line]])

    # Receipt ids: store-day-sequence, unique per store and day.
    day = r_t // DAY
    o = np.lexsort((r_t, day, r_store))
    grp_start = np.ones(len(o), bool)
    grp_start[1:] = (day[o][1:] != day[o][:-1]) | (r_store[o][1:] != r_store[o][:-1])
    first_in_grp = np.maximum.accumulate(np.where(grp_start, np.arange(len(o)), 0))
    seq = np.empty(len(o), np.int64)
    seq[o] = np.arange(len(o)) - first_in_grp + 1
    dates = np.strings.replace(np.datetime_as_string(day.astype("datetime64[D]")).astype(S), "-", "")
    rid = np.strings.add(
        np.strings.add(np.strings.add(np.strings.add(STORE_IDS[r_store], "-"), dates), "-"),
        np.strings.zfill(seq.astype("U6").astype(S), 4),
    )
    # Late arrivals: a till that was offline delivers its receipts 1-5 nights later.
    lag = np.where(rng.random(len(r_t)) < 0.015, rng.integers(1, 6, len(r_t)), 0)
    r_drop = cal.drop_of(r_t, lag)
    card_no = np.where(r_card >= 0, members["loyalty_card_no"][np.maximum(r_card, 0)], "")
    return {
        "receipts": {
            "receipt_id": rid,
            "t": r_t,
            "store": r_store,
            "card_no": card_no,
            "pay": r_pay,
            "drop": r_drop,
            "is_return": np.arange(len(r_t)) >= base_r,
            "late": lag > 0,
        },
        "lines": {"rec": rec, "line_no": line_no, "item": item, "qty": qty, "price": price, "disc": disc},
    }


def build_orders(
    rng: np.random.Generator, p: dict, customers: dict, catalog: dict, cal: Calendar, nz: Noise, loc: Locale
) -> dict:
    """Web orders of account holders and guests, with cancellation/refund versions re-sent later."""
    n_acc = int(np.sum(p["web_account"]))
    acc_person = customers["person"][:n_acc]
    lo = np.maximum(customers["created_at"][:n_acc], cal.start_s)
    hi = np.minimum(p["churned_at"][acc_person], cal.end_s)
    cnt = _counts(rng, 2.6, 0.8, lo, hi)
    o_cust = np.repeat(np.arange(n_acc), cnt)
    o_person = acc_person[o_cust]
    o_t = uniform_secs(rng, np.repeat(lo, cnt), np.repeat(hi, cnt), len(o_cust))
    guests = np.flatnonzero(p["web_guest"])
    g_hi = np.minimum(p["churned_at"][guests], cal.end_s)
    g_lo = np.minimum(
        cal.start_s + (rng.random(len(guests)) * (g_hi - cal.start_s) * 0.5).astype(np.int64), g_hi
    )
    gcnt = np.where(g_hi > g_lo, 1 + rng.poisson(0.6, len(guests)), 0)
    g_person = np.repeat(guests, gcnt)
    g_t = uniform_secs(rng, np.repeat(g_lo, gcnt), np.repeat(g_hi, gcnt), len(g_person))
    o_person = np.concatenate([o_person, g_person])
    o_cust = np.concatenate([o_cust, np.full(len(g_person), -1)])
    # Account holders sometimes check out as guest anyway.
    o_cust = np.where(rng.random(len(o_cust)) < 0.05, -1, o_cust)
    o_t = np.minimum(at_time_of_day(rng, np.concatenate([o_t, g_t]), "web"), cal.end_s - 1)
    n = len(o_t)
    order_rank = np.empty(n, np.int64)
    order_rank[np.argsort(o_t, kind="stable")] = np.arange(n)
    order_id = np.strings.add("O", np.strings.zfill((order_rank + 1_000_001).astype("U9").astype(S), 9))
    prop = p["promo_propensity"][o_person]
    use_code = rng.random(n) < prop * 0.8
    code = np.where(use_code, strs(pools.DISCOUNT_CODES)[rng.integers(0, len(pools.DISCOUNT_CODES), n)], "")
    guest_email = np.where(
        o_cust < 0,
        messy(rng, p["email"][o_person], **nz.w(upper=0.04, title=0.04, space=0.03, typo=0.01))[0],
        "",
    )
    nlines = 1 + rng.poisson(1.0, n)
    orec = np.repeat(np.arange(n), nlines)
    item, qty = _draw_items(rng, catalog, len(orec), web=True)
    price = catalog["price"][item]
    lprop = np.where(use_code[orec], 1.0, prop[orec] * 0.5)
    disc = _discounts(rng, price, qty, lprop)
    # Status versions: placed (completed, or cancelled straight away), later cancellation, refund.
    u = rng.random(n)
    status0 = np.where(u < 0.025, "cancelled", "completed").astype(S)
    upd0 = np.where(u < 0.025, o_t + rng.integers(300, 7200, n), o_t)
    late_cancel = (u >= 0.025) & (u < 0.04)
    refund = (u >= 0.04) & (u < 0.10)
    v_idx = np.concatenate([np.arange(n), np.flatnonzero(late_cancel), np.flatnonzero(refund)])
    v_status = np.concatenate(
        [
            status0,
            np.full(int(late_cancel.sum()), "cancelled", dtype=S),
            np.full(int(refund.sum()), "refunded", dtype=S),
        ]
    )
    v_upd = np.concatenate(
        [
            np.minimum(upd0, cal.end_s - 1),
            o_t[late_cancel] + rng.integers(3600, 30 * 3600, int(late_cancel.sum())),
            at_time_of_day(rng, o_t[refund] + rng.integers(2, 22, int(refund.sum())) * DAY, "web"),
        ]
    )
    keep = v_upd < cal.end_s
    v_idx, v_status, v_upd = v_idx[keep], v_status[keep], v_upd[keep]
    # Half the exports leave updated_at out when it equals placed_at (contract default).
    omit_upd = (v_upd == o_t[v_idx]) & (rng.random(len(v_idx)) < 0.5)
    cust_id = np.where(o_cust >= 0, customers["customer_id"][np.maximum(o_cust, 0)], "")
    # Guest checkouts carry the buyer's billing details (account orders: the account's, not repeated).
    # Drawn from a stream of their own so that the rest of the generated data does not move.
    guest = np.flatnonzero(o_cust < 0)
    billing = {}
    for name, values in build_billing(rng.spawn(1)[0], p, nz, o_person[guest], loc).items():
        billing[name] = np.full(n, "", dtype=values.dtype)
        billing[name][guest] = values
    return {
        "orders": {
            "order_id": order_id,
            "person": o_person,
            "customer_id": cust_id,
            "guest_email": guest_email,
            "placed_at": o_t,
            "discount_code": code,
            "nlines": nlines,
            **billing,
        },
        "versions": {
            "idx": v_idx,
            "status": v_status,
            "updated_at": v_upd,
            "omit_upd": omit_upd,
            "drop": cal.drop_of(v_upd),
        },
        "lines": {"rec": orec, "item": item, "qty": qty, "price": price, "disc": disc},
    }


# Interaction ids start with the platform's short name, as each platform's export has it.
_ID_PREFIX = {
    "instagram": "ig", "facebook": "fb", "tiktok": "tt", "x": "x",
    "wechat": "wx", "weibo": "wb", "douyin": "dy",
}


def build_interactions(rng: np.random.Generator, prof: dict, cal: Calendar) -> dict:
    """Likes, comments, clicks... per profile; a follow at followed_at and a lead at lead time."""
    m = int(prof["_n_base"][0])
    plat, handle = prof["platform"][:m], prof["user_handle"][:m]
    lo = np.maximum(prof["followed_at"][:m], cal.start_s)
    cnt = _counts(rng, 7.0, 0.5, lo, np.full(m, cal.end_s))
    idx = np.repeat(np.arange(m), cnt)
    t = at_time_of_day(rng, uniform_secs(rng, np.repeat(lo, cnt), cal.end_s, len(idx)), "any")
    t = np.clip(t, np.repeat(lo, cnt), cal.end_s - 1)
    etype = strs(["like", "comment", "share", "message", "click"])[
        rng.choice(5, size=len(idx), p=[0.5, 0.1, 0.05, 0.05, 0.3])
    ]
    fol = np.flatnonzero(prof["followed_at"][:m] >= cal.start_s)
    lead = np.flatnonzero(prof["lead"][:m] & (prof["lead_at"][:m] >= cal.start_s))
    idx = np.concatenate([idx, fol, lead])
    t = np.concatenate([t, prof["followed_at"][fol], prof["lead_at"][lead]])
    etype = np.concatenate([etype, np.full(len(fol), "follow", dtype=S), np.full(len(lead), "lead", dtype=S)])
    n = len(idx)
    rank = np.empty(n, np.int64)
    rank[np.argsort(t, kind="stable")] = np.arange(n)
    platforms = sorted(set(prof["platform"][:m].tolist()))
    prefix = np.select(
        [plat[idx] == k for k in platforms], [_ID_PREFIX.get(k, k[:2]) for k in platforms], ""
    ).astype(S)
    iid = np.strings.add(
        np.strings.add(prefix, "_"), np.strings.zfill((rank + 1).astype("U12").astype(S), 10)
    )
    month = ((t - cal.start_s) // (30 * DAY)).astype(np.int64)
    post = np.strings.add("post_", (month * 40 + rng.integers(0, 40, n)).astype("U8").astype(S))
    campaign = np.where(
        rng.random(n) < 0.4, np.strings.add("cmp-", (month % 12 + 1).astype("U2").astype(S)), ""
    )
    return {
        "interaction_id": iid,
        "platform": plat[idx],
        "user_handle": handle[idx],
        "event_type": etype,
        "t": t,
        "post_id": post,
        "campaign_id": campaign,
        "drop": cal.drop_of(t),
    }


def build_unsubscribes(rng: np.random.Generator, p: dict, cal: Calendar, nz: Noise, loc: Locale) -> dict:
    """Email/SMS unsubscribes for some known people, addresses as the messaging tool holds them."""
    known = ~p["prospect"]
    e = np.flatnonzero(known & (rng.random(len(known)) < 0.05))
    s = np.flatnonzero(known & (rng.random(len(known)) < 0.03))
    email = messy(rng, p["email"][e], **nz.w(upper=0.1, space=0.03))[0]
    phone = loc.phones(rng, p["phone_num"][s], loc.unsubscribe_formats(rng, len(s)))
    t = uniform_secs(rng, cal.start_s, cal.end_s, len(e) + len(s))
    return {
        "channel": np.concatenate([np.full(len(e), "email", dtype=S), np.full(len(s), "sms", dtype=S)]),
        "address": np.concatenate([email, phone]),
        "person": np.concatenate([e, s]),
        "t": t,
        "drop": cal.drop_of(t),
    }
