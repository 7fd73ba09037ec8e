"""Campaigns with a real effect (issue #23): a catalogue, email activity, SMS delivery receipts, a
control group held out by the messaging tool, extra purchases by treated customers, and the ground
truth of the injected effect.

Each campaign of :data:`PLAN` runs in the history window (so that the first night already holds it
whole) from ``start`` to ``end`` (``start`` + ``WINDOW_DAYS``). Its audience is a random sample of
loyalty members (first card) who have an address for the campaign's channel on their member record,
were enrolled before the start and had not churned; the tool holds a random ``CONTROL_SHARE`` of them
out (``campaign_holdouts.csv``) and sends to the rest. The segment name in the catalogue is a label
(the shipped segment the campaign is "for"): the audience is not that segment's filter.

The effect: every treated person buys once more in (start, end], with probability ``uplift``: one
extra POS receipt on their card at a store time of a day after the start. The control group gets
nothing. A campaign with ``uplift`` 0 is a placebo (its scorecard lift must be zero within the
confidence interval). Truth (``_truth/campaigns.json``): per campaign the people treated and held
out, the injected purchases and revenue, the *incremental purchasers* (treated people with an
injected receipt who would not have bought in the window anyway: no receipt of theirs that is not a
return and no web order not cancelled or refunded) and the true lifts the scorecard estimates:
``purchase_rate_lift`` = incremental purchasers / treated and ``revenue_per_customer_lift`` =
injected revenue / treated.

Activity per treated address (rates fixed per channel): email sent; bounced (hard or soft) or
delivered; of the delivered opened, of those clicked (a url), a few unsubscribe or mark it as spam.
SMS: a queued and a sent receipt, then delivered, or undelivered / failed with Twilio's error code.

Everything draws from its own random stream (seeded from the generator's seed); :func:`build` adds
the extra receipts to the POS data before it is written (so the loyalty ledger earns on them too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from .activity import PAYMENTS, _draw_items
from .noise import S
from .population import STORE_IDS
from .timeline import DAY, Calendar, at_time_of_day
from .writer import Entity, write_entity

STREAM = 23_5  # this module's random stream: np.random.default_rng([seed, STREAM])
WINDOW_DAYS = 14
CONTROL_SHARE = 0.3
AUDIENCE_SHARE = 0.35  # of the eligible members, per campaign

# segment (label), channel, goal, days before the first drop it starts, uplift (probability that a
# treated person buys once more in the window).
PLAN: tuple[tuple[str, str, str, int, float], ...] = (
    ("vip_champions", "email", "sales", 110, 0.20),
    ("at_risk_high_value", "email", "retention", 90, 0.25),
    ("dormant_winback", "sms", "winback", 70, 0.30),
    ("new_customers_welcome", "email", "welcome", 50, 0.25),
    ("promotion_hunters", "email", "sales", 30, 0.0),  # a placebo: no effect injected
)
EMAIL_RATES = {"bounce": 0.03, "hard": 0.4, "open": 0.45, "click": 0.3, "unsubscribe": 0.01, "abuse": 0.002}
SMS_RATES = {"undelivered": 0.03, "failed": 0.02}
COST = {"email": (150.0, 0.002), "sms": (50.0, 0.07)}  # fixed (creative, set-up) and per message


@dataclass
class Campaigns:
    """What :func:`build` made: the catalogue, activity rows, holdouts and the truth."""

    catalogue: list[dict] = field(default_factory=list)
    email: dict[str, list] = field(default_factory=dict)
    sms: dict[str, list] = field(default_factory=dict)
    holdouts: dict[str, list] = field(default_factory=dict)
    truth: list[dict] = field(default_factory=list)
    seed: int = 0


def _iso(cal: Calendar, secs: np.ndarray) -> np.ndarray:
    """Local epoch seconds -> ISO 8601 with the zone's offset ('2026-01-20T10:03:11+01:00')."""
    secs = np.asarray(secs, dtype=np.int64)
    if not len(secs):
        return np.array([], dtype=S)
    off = cal.local_offset(secs)
    text = np.datetime_as_string(secs.astype("datetime64[s]"), unit="s")
    sign = np.where(off >= 0, "+", "-")
    hours = np.char.zfill((np.abs(off) // 3600).astype(str), 2)
    minutes = np.char.zfill((np.abs(off) % 3600 // 60).astype(str), 2)
    return np.char.add(np.char.add(np.char.add(np.char.add(text, sign), hours), ":"), minutes)


def _base_purchase_days(p: dict, mem: dict, pos: dict, web: dict) -> tuple[np.ndarray, np.ndarray]:
    """(person, local day) of every purchase the generated data already holds: receipts with a card
    that are not returns, web orders neither cancelled nor refunded."""
    n_cards = int(mem["_n_cards"][0])
    person_of_card = dict(zip(mem["loyalty_card_no"][:n_cards].tolist(), mem["person"][:n_cards].tolist(),
                              strict=True))
    rc = pos["receipts"]
    keep = (rc["card_no"] != "") & ~rc["is_return"]
    r_person = np.array([person_of_card.get(c, -1) for c in rc["card_no"][keep].tolist()], dtype=np.int64)
    r_day = rc["t"][keep] // DAY
    od, ov = web["orders"], web["versions"]
    undone = np.zeros(len(od["order_id"]), bool)
    undone[ov["idx"][np.isin(ov["status"], ["cancelled", "refunded"])]] = True
    w_person, w_day = od["person"][~undone], od["placed_at"][~undone] // DAY
    return np.concatenate([r_person, w_person]), np.concatenate([r_day, w_day])


def build(seed: int, p: dict, mem: dict, catalog: dict, pos: dict, web: dict, cal: Calendar) -> Campaigns:
    """Draw the campaigns and add the treated people's extra receipts to ``pos`` (in place)."""
    rng = np.random.default_rng([seed, STREAM])
    n_cards = int(mem["_n_cards"][0])
    first = np.flatnonzero(mem["card_seq"][:n_cards] == 0)
    person = mem["person"][first]
    buy_person, buy_day = _base_purchase_days(p, mem, pos, web)
    out = Campaigns(seed=seed)
    extra_t, extra_card, extra_store = [], [], []
    email = {k: [] for k in ("campaign_id", "email_address", "action", "bounce_type", "t", "url")}
    sms = {k: [] for k in ("message_sid", "campaign_id", "to_phone", "message_status", "error_code", "t")}
    hold = {k: [] for k in ("campaign_id", "channel", "address", "t")}
    for segment, channel, goal, days_before, uplift in PLAN:
        start_day = cal.first_drop - timedelta(days=days_before)
        if start_day - timedelta(days=30) < cal.start:
            continue  # history too short for this campaign
        start_s = (start_day - cal.start).days * DAY + cal.start_s
        end_s = start_s + WINDOW_DAYS * DAY
        address = (mem["email"] if channel == "email" else mem["phone"])[first]
        eligible = np.flatnonzero(
            (address != "") & (mem["enrolled_at"][first] < start_s) & (p["churned_at"][person] > end_s)
        )
        chosen = eligible[rng.random(len(eligible)) < AUDIENCE_SHARE]
        # One person, one card in the audience (a holder of two cards appears once).
        _, once = np.unique(person[chosen], return_index=True)
        chosen = chosen[np.sort(once)]
        control = rng.random(len(chosen)) < CONTROL_SHARE
        treated, held = chosen[~control], chosen[control]
        campaign_id = "".join(f"{b:02x}" for b in rng.integers(0, 256, 5))  # Mailchimp-like: 10 hex digits
        sent_s = start_s + 10 * 3600 + rng.integers(0, 2 * 3600, len(treated)) // 60 * 60  # from 10:00
        # The effect: one more receipt in (start, end] for a share of the treated.
        buys = rng.random(len(treated)) < uplift
        buyer = treated[buys]
        day = start_s // DAY + rng.integers(1, WINDOW_DAYS + 1, len(buyer))
        t = at_time_of_day(rng, day * DAY, "store")
        extra_t.append(t)
        extra_card.append(mem["loyalty_card_no"][first][buyer])
        extra_store.append(mem["store"][first][buyer])
        in_window = (buy_day > start_s // DAY) & (buy_day <= end_s // DAY)
        bought_anyway = np.isin(person[buyer], buy_person[in_window])
        # Activity.
        if channel == "email":
            n = len(treated)
            u = rng.random((6, n))
            bounced = u[0] < EMAIL_RATES["bounce"]
            opened = ~bounced & (u[1] < EMAIL_RATES["open"])
            clicked = opened & (u[2] < EMAIL_RATES["click"])
            unsub = ~bounced & (u[3] < EMAIL_RATES["unsubscribe"])
            abuse = ~bounced & (u[4] < EMAIL_RATES["abuse"])
            addr = address[treated]
            rows = [
                ("sent", np.ones(n, bool), 0),
                ("bounce", bounced, 60),
                ("delivered", ~bounced, 30),
                ("open", opened, 3600 + (u[5] * 2 * DAY).astype(np.int64)),
                ("click", clicked, 3700 + (u[5] * 2 * DAY).astype(np.int64)),
                ("unsubscribe", unsub, 4000 + (u[5] * 2 * DAY).astype(np.int64)),
                ("abuse", abuse, 4100 + (u[5] * 2 * DAY).astype(np.int64)),
            ]
            for action, mask, delay in rows:
                k = int(mask.sum())
                email["campaign_id"].append(np.full(k, campaign_id, dtype=S))
                email["email_address"].append(addr[mask])
                email["action"].append(np.full(k, action, dtype=S))
                hard = rng.random(k) < EMAIL_RATES["hard"]
                kind = np.where(hard, "hard", "soft").astype(S)
                email["bounce_type"].append(kind if action == "bounce" else np.full(k, "", dtype=S))
                email["t"].append((sent_s + delay)[mask])
                email["url"].append(
                    np.full(k, f"https://shop.example/c/{campaign_id}", dtype=S) if action == "click"
                    else np.full(k, "", dtype=S)
                )
            delivered = int((~bounced).sum())
        else:
            n = len(treated)
            u = rng.random(n)
            failed = u < SMS_RATES["failed"]
            undelivered = ~failed & (u < SMS_RATES["failed"] + SMS_RATES["undelivered"])
            sid = np.array(["SM" + "".join(f"{b:02x}" for b in rng.integers(0, 256, 16)) for _ in range(n)],
                           dtype=S)
            addr = address[treated]
            final = np.where(failed, "failed", np.where(undelivered, "undelivered", "delivered")).astype(S)
            code = np.where(failed, "30007", np.where(undelivered, "30005", "")).astype(S)
            for status, mask, delay, err in (
                ("queued", np.ones(n, bool), 0, np.full(n, "", dtype=S)),
                ("sent", ~failed, 2, np.full(n, "", dtype=S)),
                (None, np.ones(n, bool), 20, code),
            ):
                sms["message_sid"].append(sid[mask])
                sms["campaign_id"].append(np.full(int(mask.sum()), campaign_id, dtype=S))
                sms["to_phone"].append(addr[mask])
                said = final if status is None else np.full(n, status, dtype=S)
                sms["message_status"].append(said[mask])
                sms["error_code"].append(err[mask])
                sms["t"].append((sent_s + delay)[mask])
            delivered = int((~failed & ~undelivered).sum())
        hold["campaign_id"].append(np.full(len(held), campaign_id, dtype=S))
        hold["channel"].append(np.full(len(held), channel, dtype=S))
        hold["address"].append(address[held])
        hold["t"].append(np.full(len(held), start_s + 8 * 3600))
        fixed, per_message = COST[channel]
        cost = round(fixed + per_message * len(treated), 2)
        out.catalogue.append(
            {
                "campaign_id": campaign_id,
                "campaign_name": f"{segment.replace('_', ' ').title()} {start_day:%Y-%m}",
                "segment_name": segment,
                "channel": channel,
                "start_date": start_day.isoformat(),
                "end_date": (start_day + timedelta(days=WINDOW_DAYS)).isoformat(),
                "goal": goal,
                "budget": round(cost * 1.2, 2),
                "cost": cost,
                "created_s": start_s - 7 * DAY + 11 * 3600,
                "closed_s": end_s + 9 * 3600,
            }
        )
        revenue = 0.0  # filled in by _add_receipts (the basket prices are drawn there)
        out.truth.append(
            {
                "campaign_id": campaign_id,
                "segment_name": segment,
                "channel": channel,
                "start_date": start_day.isoformat(),
                "end_date": (start_day + timedelta(days=WINDOW_DAYS)).isoformat(),
                "uplift_probability": uplift,
                "treated": len(treated),
                "control": len(held),
                "delivered": delivered,
                "injected_purchasers": len(buyer),
                "incremental_purchasers": int((~bought_anyway).sum()),
                "purchase_rate_lift": (int((~bought_anyway).sum()) / len(treated)) if len(treated) else 0.0,
                "injected_revenue": revenue,
                "cost": cost,
            }
        )
    out.email, out.sms, out.holdouts = (
        {k: np.concatenate(v) if v else np.array([], np.int64 if k == "t" else S) for k, v in rows.items()}
        for rows in (email, sms, hold)
    )
    if not extra_t:  # a history too short for any campaign
        return out
    counts = [len(t) for t in extra_t]
    _add_receipts(rng, catalog, pos, cal, np.concatenate(extra_t), np.concatenate(extra_card),
                  np.concatenate(extra_store), counts, out)
    return out


def _add_receipts(
    rng: np.random.Generator, catalog: dict, pos: dict, cal: Calendar, t: np.ndarray, card: np.ndarray,
    store: np.ndarray, counts: list[int], out: Campaigns,
) -> None:
    """Append the injected receipts (1-3 full-price lines each) to ``pos`` and their revenue to the truth."""
    rc, ln = pos["receipts"], pos["lines"]
    n = len(t)
    base = len(rc["t"])
    nlines = 1 + rng.integers(0, 3, n)
    rec = np.repeat(np.arange(n), nlines)
    start = np.concatenate([[0], np.cumsum(nlines)[:-1]]).astype(np.int64)
    line_no = np.arange(len(rec)) - start[rec] + 1
    item, qty = _draw_items(rng, catalog, len(rec), web=False)
    price = catalog["price"][item]
    day = np.strings.replace(np.datetime_as_string((t // DAY).astype("datetime64[D]")).astype(S), "-", "")
    rid = np.strings.add(np.strings.add(np.strings.add(STORE_IDS[store], "-"), day),
                         np.strings.add("-C", np.char.zfill(np.arange(n).astype(str), 5).astype(S)))
    rc["receipt_id"] = np.concatenate([rc["receipt_id"], rid])
    rc["t"] = np.concatenate([rc["t"], t])
    rc["store"] = np.concatenate([rc["store"], store])
    rc["card_no"] = np.concatenate([rc["card_no"], card])
    rc["pay"] = np.concatenate([rc["pay"], rng.choice(len(PAYMENTS) - 1, size=n)])
    rc["drop"] = np.concatenate([rc["drop"], cal.drop_of(t)])
    rc["is_return"] = np.concatenate([rc["is_return"], np.zeros(n, bool)])
    rc["late"] = np.concatenate([rc["late"], np.zeros(n, bool)])
    ln["rec"] = np.concatenate([ln["rec"], base + rec])
    ln["line_no"] = np.concatenate([ln["line_no"], line_no])
    ln["item"] = np.concatenate([ln["item"], item])
    ln["qty"] = np.concatenate([ln["qty"], qty])
    ln["price"] = np.concatenate([ln["price"], price])
    ln["disc"] = np.concatenate([ln["disc"], np.zeros(len(rec), np.int64)])
    revenue = np.bincount(rec, weights=price * qty, minlength=n) / 100.0
    bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    for k, truth in enumerate(out.truth):
        injected = float(revenue[bounds[k]:bounds[k + 1]].sum())
        truth["injected_revenue"] = round(injected, 2)
        truth["revenue_per_customer_lift"] = injected / truth["treated"] if truth["treated"] else 0.0


def write(
    con: duckdb.DuckDBPyConnection, out: Path, dates: list[str], camp: Campaigns, cal: Calendar
) -> dict:
    """Write the messaging drop's campaign files; returns their writer stats."""
    rng = np.random.default_rng([camp.seed, STREAM, 1])
    stats: dict[str, dict] = {}
    cat = camp.catalogue
    # Each campaign is sent twice: when created (no cost yet) and when its window closed (the cost).
    created = np.array([c["created_s"] for c in cat] + [c["closed_s"] for c in cat], dtype=np.int64)
    both = cat + cat
    table = pa.table(
        {
            **{k: pa.array([c[k] for c in both], pa.string()) for k in
               ("campaign_id", "campaign_name", "segment_name", "channel", "start_date", "end_date", "goal")},
            "budget": pa.array([c["budget"] for c in both], pa.float64()),
            "cost": pa.array([None] * len(cat) + [c["cost"] for c in cat], pa.float64()),
            "updated_at": pa.array(_iso(cal, created)),
        }
    )
    ent = Entity("messaging", "campaigns", "campaigns.csv", "csv", table, cal.drop_of(created), created, "",
                 broken_copies={"bad_channel": 0.02})
    ent.select = (
        "campaign_id, campaign_name, segment_name, "
        f"CASE WHEN _b = {ent.code('bad_channel')} THEN 'fax' ELSE channel END AS channel, "
        "start_date, end_date, goal, CAST(budget AS DECIMAL(18,2)) AS budget, "
        "CAST(cost AS DECIMAL(18,2)) AS cost, 'EUR' AS currency, updated_at"
    )
    stats["messaging/campaigns"] = write_entity(con, rng, ent, out, dates)

    e = camp.email
    table = pa.table({**{k: pa.array(e[k]) for k in ("campaign_id", "email_address", "action", "bounce_type",
                                                      "url")},
                      "event_time": pa.array(_iso(cal, e["t"]))})
    ent = Entity("messaging", "email_activity", "email_activity.csv", "csv", table, cal.drop_of(e["t"]),
                 np.asarray(e["t"], dtype=np.int64), "", broken_copies={"bad_timestamp": 0.001},
                 raw_broken={"wrong_column_count": 0.0005}, p_dup=0.005)
    ent.select = (
        "campaign_id, email_address, action, NULLIF(bounce_type, '') AS bounce_type, "
        f"CASE WHEN _b = {ent.code('bad_timestamp')} THEN 'yesterday' ELSE event_time END AS event_time, "
        "NULLIF(url, '') AS url"
    )
    ent.raw_fn = lambda kind, t: [f"{r['campaign_id']};{r['action']}" for r in
                                  t.select(["campaign_id", "action"]).to_pylist()]
    stats["messaging/email_activity"] = write_entity(con, rng, ent, out, dates)

    s = camp.sms
    columns = ("message_sid", "campaign_id", "to_phone", "message_status", "error_code")
    table = pa.table({**{k: pa.array(s[k]) for k in columns},
                      "event_time": pa.array(_iso(cal, s["t"]))})
    ent = Entity("messaging", "sms_receipts", "sms_receipts.csv", "csv", table, cal.drop_of(s["t"]),
                 np.asarray(s["t"], dtype=np.int64), "", broken_copies={"bad_status": 0.002}, p_dup=0.005)
    ent.select = (
        "message_sid, campaign_id, to_phone, "
        f"CASE WHEN _b = {ent.code('bad_status')} THEN 'DELIVRD' ELSE message_status END AS message_status, "
        "NULLIF(error_code, '') AS error_code, event_time"
    )
    stats["messaging/sms_receipts"] = write_entity(con, rng, ent, out, dates)

    h = camp.holdouts
    table = pa.table({**{k: pa.array(h[k]) for k in ("campaign_id", "channel", "address")},
                      "held_out_at": pa.array(_iso(cal, h["t"]))})
    ent = Entity("messaging", "campaign_holdouts", "campaign_holdouts.csv", "csv", table, cal.drop_of(h["t"]),
                 np.asarray(h["t"], dtype=np.int64), "", p_dup=0.005)
    ent.select = "campaign_id, channel, address, held_out_at"
    stats["messaging/campaign_holdouts"] = write_entity(con, rng, ent, out, dates)
    return stats


def write_truth(out: Path, camp: Campaigns) -> list[dict]:
    """``_truth/campaigns.json``: the injected effect per campaign (the pipeline never reads it)."""
    truth = Path(out) / "_truth"
    truth.mkdir(parents=True, exist_ok=True)
    (truth / "campaigns.json").write_text(json.dumps(camp.truth, indent=2) + "\n", encoding="utf-8")
    return camp.truth
