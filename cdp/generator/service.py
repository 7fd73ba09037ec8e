"""The customer-service source (issue #23): helpdesk tickets and satisfaction survey answers.

Known customers (a loyalty card or a web shop account) open tickets at a low rate (gamma-Poisson, like
purchases): complaints, questions and requests by email, phone, chat, in a store... A ticket is sent
when opened and again when solved (with ``closed_at`` and a resolution) after a lognormal number of days
(complaints take longer); a ticket solved after the window's end is still open in the data, so every
night has open complaints. The helpdesk knows the requester by their loyalty card (looked up by the
agent), their web shop account, and their email; some tickets carry the email only.

About 40 % of solved tickets get a survey answer within three days: CSAT 1-5 and the 0-10 recommend
score, lower after an unresolved complaint. A few purchase receipts of members get a post-purchase
survey (recommend score only). The answer scores are in ``_truth/satisfaction_responses.parquet``.

Drawn from its own random stream (seeded from the generator's seed): adding this source moves none of
the other generated data.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .noise import S, strs
from .timeline import DAY, Calendar, at_time_of_day, ts, uniform_secs
from .writer import Entity, write_entity

STREAM = 23_2
TYPES = strs(["complaint", "question", "request"])
CHANNELS = strs(["email", "phone", "chat", "store", "social", "web_form"])
CATEGORIES = {
    "complaint": ["delivery", "product_quality", "billing", "store_experience", "returns"],
    "question": ["order_status", "product_info", "loyalty_points", "opening_hours"],
    "request": ["address_change", "invoice_copy", "account_deletion", "returns"],
}
RESOLUTIONS = strs(["resolved", "refund", "replacement", "voucher", "explained", "no_action", "unresolved"])
SUBJECTS = {
    "delivery": "Parcel has not arrived",
    "product_quality": "Item broke after a week",
    "billing": "Charged twice for my order",
    "store_experience": "Unfriendly service at the till",
    "returns": "Refund for my return still missing",
    "order_status": "Where is my order?",
    "product_info": "Is this available in another size?",
    "loyalty_points": "My points are not on my card",
    "opening_hours": "Open on Sunday?",
    "address_change": "Please change my address",
    "invoice_copy": "Copy of my invoice please",
    "account_deletion": "Please delete my account",
}


def _iso(col: str) -> str:
    return f"strftime({col}, '%Y-%m-%dT%H:%M:%S') || 'Z'"


def build(rng: np.random.Generator, p: dict, mem: dict, cus: dict, cal: Calendar) -> dict:
    """Tickets (one row per version) and survey answers, times in UTC epoch seconds."""
    n = len(p["pid"])
    n_cards = int(mem["_n_cards"][0])
    n_acc = int(np.sum(p["web_account"]))
    card_of = np.full(n, "", dtype=S)
    card_of[mem["person"][:n_cards][::-1]] = mem["loyalty_card_no"][:n_cards][::-1]  # first card wins
    account_of = np.full(n, "", dtype=S)
    account_of[cus["person"][:n_acc]] = cus["customer_id"][:n_acc]
    known = np.flatnonzero((card_of != "") | (account_of != ""))
    lo = np.full(len(known), cal.start_s)
    hi = np.minimum(p["churned_at"][known] + 30 * DAY, cal.end_s)
    rate = rng.gamma(0.5, 0.35 / 0.5, len(known)) / 365.0
    cnt = rng.poisson(rate * np.maximum(hi - lo, 0) / DAY)
    who = np.repeat(known, cnt)
    m = len(who)
    opened = at_time_of_day(rng, uniform_secs(rng, np.repeat(lo, cnt), np.repeat(hi, cnt), m), "any")
    opened = np.minimum(opened, cal.end_s - 1)
    kind = rng.choice(3, size=m, p=[0.45, 0.4, 0.15])
    channel = rng.choice(len(CHANNELS), size=m, p=[0.35, 0.25, 0.15, 0.12, 0.05, 0.08])
    category = np.empty(m, dtype=S)
    for k, name in enumerate(TYPES.tolist()):
        sel = kind == k
        category[sel] = strs(CATEGORIES[name])[rng.integers(0, len(CATEGORIES[name]), int(sel.sum()))]
    days = rng.lognormal(np.where(kind == 0, 1.2, 0.3), 1.0, m)
    solved = opened + (days * DAY).astype(np.int64) + 600
    resolution = np.where(
        kind == 0,
        rng.choice([0, 1, 2, 3, 6], size=m, p=[0.35, 0.2, 0.15, 0.2, 0.1]),
        rng.choice([0, 4, 5], size=m, p=[0.4, 0.5, 0.1]),
    )
    has_card = (card_of[who] != "") & (rng.random(m) < 0.75)
    has_account = (account_of[who] != "") & (rng.random(m) < 0.6)
    email_only = ~has_card & ~has_account
    rank = np.empty(m, np.int64)
    rank[np.argsort(opened, kind="stable")] = np.arange(m)
    ticket_id = np.strings.add("T", np.strings.zfill((rank + 1).astype("U8").astype(S), 8))
    # Versions: opened, then solved (when that is inside the window).
    closed = solved < cal.end_s
    v = np.concatenate([np.arange(m), np.flatnonzero(closed)])
    is_close = np.arange(len(v)) >= m
    tickets = {
        "ticket_id": ticket_id[v],
        "ticket_type": TYPES[kind[v]],
        "channel": CHANNELS[channel[v]],
        "category": category[v],
        "status": np.where(is_close, "solved", "open").astype(S),
        "resolution": np.where(is_close, RESOLUTIONS[resolution[v]], "").astype(S),
        "opened": opened[v],
        "closed": np.where(is_close, solved[v], 0),
        "is_close": is_close,
        "updated": np.where(is_close, solved[v], opened[v]),
        "loyalty_card_no": np.where(has_card[v], card_of[who[v]], ""),
        "web_customer_id": np.where(has_account[v], account_of[who[v]], ""),
        "email": p["email"][who[v]],
        "subject": strs([SUBJECTS[c] for c in category[v].tolist()]) if len(v) else np.array([], dtype=S),
        "person": who[v],
    }
    # Survey answers after solved tickets.
    answered = np.flatnonzero(closed & (rng.random(m) < 0.4))
    bad = (kind[answered] == 0) & (resolution[answered] == 6)
    csat = np.clip(np.where(bad, rng.integers(1, 3, len(answered)), rng.integers(3, 6, len(answered))), 1, 5)
    recommend = np.clip(2 * csat + rng.integers(-2, 1, len(answered)), 0, 10)
    r_t = solved[answered] + rng.integers(3600, 3 * DAY, len(answered))
    keep = r_t < cal.end_s
    answered, csat, recommend, r_t = answered[keep], csat[keep], recommend[keep], r_t[keep]
    k = len(answered)
    responses = {
        "ticket_id": ticket_id[answered],
        "csat": csat.astype(np.int64),
        "recommend": recommend.astype(np.int64),
        "has_csat": np.ones(k, bool),
        "t": r_t,
        "loyalty_card_no": np.where(has_card[answered], card_of[who[answered]], ""),
        "web_customer_id": np.where(has_account[answered], account_of[who[answered]], ""),
        "email": p["email"][who[answered]],
        "person": who[answered],
    }
    rrank = np.empty(k, np.int64)
    rrank[np.argsort(r_t, kind="stable")] = np.arange(k)
    responses["response_id"] = np.strings.add("R", np.strings.zfill((rrank + 1).astype("U8").astype(S), 8))
    return {"tickets": tickets, "responses": responses, "email_only_tickets": int(email_only.sum())}


def write(
    con: duckdb.DuckDBPyConnection, out: Path, dates: list[str], seed: int, p: dict, mem: dict, cus: dict,
    cal: Calendar,
) -> dict[str, dict]:
    """Write ``service/<date>/tickets.jsonl`` and ``satisfaction_responses.jsonl``; returns writer stats."""
    rng = np.random.default_rng([seed, STREAM])
    built = build(rng, p, mem, cus, cal)
    tk, rs = built["tickets"], built["responses"]
    stats: dict[str, dict] = {}
    # The helpdesk exports UTC ('Z'): the generator's local times minus the zone's offset.
    table = pa.table(
        {
            **{c: pa.array(tk[c]) for c in ("ticket_id", "ticket_type", "channel", "category", "status",
                                             "resolution", "loyalty_card_no", "web_customer_id", "email",
                                             "subject", "is_close")},
            **{c: ts(tk[c] - cal.local_offset(tk[c])) for c in ("opened", "closed", "updated")},
        }
    )
    ent = Entity(
        "service", "tickets", "tickets.jsonl", "json", table, cal.drop_of(tk["updated"]), tk["updated"], "",
        broken_copies={"missing_key": 0.002, "bad_allowed_value": 0.002, "bad_timestamp": 0.001},
        raw_broken={"truncated_json": 0.001},
        p_dup=0.002,
        p_resend=0.003,
    )
    ent.select = (
        f"CASE WHEN _b = {ent.code('missing_key')} THEN NULL ELSE ticket_id END AS ticket_id, ticket_type, "
        "channel, NULLIF(category, '') AS category, "
        f"CASE WHEN _b = {ent.code('bad_allowed_value')} THEN upper(status) ELSE status END AS status, "
        "NULLIF(resolution, '') AS resolution, "
        f"CASE WHEN _b = {ent.code('bad_timestamp')} THEN 'last tuesday' "
        f"ELSE {_iso('opened')} END AS opened_at, "
        f"CASE WHEN is_close THEN {_iso('closed')} END AS closed_at, {_iso('updated')} AS updated_at, "
        "NULLIF(loyalty_card_no, '') AS loyalty_card_no, NULLIF(web_customer_id, '') AS web_customer_id, "
        "NULLIF(email, '') AS email, subject"
    )
    ent.raw_fn = lambda kind, t: [
        f'{{"ticket_id": "{r["ticket_id"]}", "ticket_type": "compl'
        for r in t.select(["ticket_id"]).to_pylist()
    ]
    stats["service/tickets"] = write_entity(con, rng, ent, out, dates)

    table = pa.table(
        {
            **{c: pa.array(rs[c]) for c in ("response_id", "ticket_id", "csat", "recommend",
                                             "loyalty_card_no", "web_customer_id", "email")},
            "t": ts(rs["t"] - cal.local_offset(rs["t"])),
        }
    )
    ent = Entity(
        "service", "satisfaction_responses", "satisfaction_responses.jsonl", "json", table,
        cal.drop_of(rs["t"]), rs["t"], "",
        broken_copies={"missing_key": 0.003, "csat_out_of_range": 0.003},
        raw_broken={"truncated_json": 0.002},
        p_dup=0.003,
    )
    ent.select = (
        f"CASE WHEN _b = {ent.code('missing_key')} THEN NULL ELSE response_id END AS response_id, ticket_id, "
        f"CASE WHEN _b = {ent.code('csat_out_of_range')} THEN 7 ELSE csat END AS csat_score, "
        "recommend AS recommend_score, "
        f"{_iso('t')} AS responded_at, NULLIF(loyalty_card_no, '') AS loyalty_card_no, "
        "NULLIF(web_customer_id, '') AS web_customer_id, NULLIF(email, '') AS email, "
        # No free text is generated; the survey tool still sends the key (null), as the contract has it.
        "CAST(NULL AS VARCHAR) AS comment"
    )
    ent.raw_fn = lambda kind, t: [
        f'{{"response_id": "{r["response_id"]}", "csat' for r in t.select(["response_id"]).to_pylist()
    ]
    stats["service/satisfaction_responses"] = write_entity(con, rng, ent, out, dates)
    truth = out / "_truth"
    truth.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table(
            {
                "response_id": pa.array(rs["response_id"]),
                "person_id": pa.array(p["person_id"][rs["person"]]),
                "csat_score": pa.array(rs["csat"]), "recommend_score": pa.array(rs["recommend"]),
                "responded_at_local": ts(rs["t"]),
            }
        ),
        truth / "satisfaction_responses.parquet",
    )
    stats["service/tickets"]["email_only_tickets"] = built["email_only_tickets"]
    return stats
