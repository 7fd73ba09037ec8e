"""Orchestration: people -> identity records -> activity -> drop files + ground truth."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import activity, campaigns, loyalty, population, service
from .locale import Locale, locale
from .noise import Noise, S, noise_level
from .population import BILLING_FIELDS, STORE_IDS
from .timeline import Calendar, ts
from .writer import Entity, write_entity

_ISO = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class GenerateResult:
    """What ``generate`` wrote: the drop dates (folder names) and the summary also saved in _truth."""

    out: Path
    drop_dates: list[str]
    summary: dict = field(repr=False)
    seconds: float = 0.0


def _a(x) -> pa.Array:
    return pa.array(x)


def _offset_sql(col: str, off: str, offsets: np.ndarray) -> str:
    """Local timestamp + its UTC offset (one of ``offsets``, seconds) -> '2026-11-20T14:03:11+01:00'."""
    def text(seconds: int) -> str:
        return f"{'+' if seconds >= 0 else '-'}{abs(seconds) // 3600:02d}:{abs(seconds) % 3600 // 60:02d}"

    cases = " ".join(f"WHEN {int(o)} THEN '{text(int(o))}'" for o in np.unique(offsets)) or "WHEN 0 THEN 'Z'"
    return f"strftime({col}, '{_ISO}') || CASE {off} {cases} END"


def _json_str(v) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def _truncate(rows: list[dict], rng_vals: list[float]) -> list[str]:
    """Cut a JSON object off mid-way, as an interrupted export does ('{"order_id": "O1')."""
    out = []
    for row, u in zip(rows, rng_vals, strict=True):
        text = _json_str(row)
        out.append(text[: max(5, int(len(text) * (0.15 + 0.7 * u)))])
    return out


NOT_JSON = (
    "ERROR 504 upstream timeout",
    "<html><body>Bad Gateway</body></html>",
    "--- export interrupted ---",
    "null,null,null",
)


def generate(
    out: Path,
    people: int,
    days: int,
    end_date: date,
    seed: int,
    history_days: int = 365,
    noise: str = "typical",
    market: str = "nl",
) -> GenerateResult:
    """Write raw drops for ``people`` people into ``out``: a history drop on ``end_date - days`` carrying
    ``history_days`` of history, then one nightly drop per day up to ``end_date``; plus ``out/_truth``.

    ``noise`` (clean, typical or dirty; see ``noise.LEVELS``) scales the identity noise (typos, case, swapped
    names, invalid birth dates, alternate emails, missing contacts) and the over-merge cases (households,
    store default phones, junk emails and phones). ``market`` (a profile of ``cdp/markets/``: nl, cn) is
    whose customers they are: names, places, phones, platforms, currency, local time, the POS file's
    encoding (``generator.locale``). Same arguments -> byte-identical files. Existing source folders in
    ``out`` are replaced.
    """
    t0 = time.perf_counter()
    if people < 1 or days < 0 or history_days < 1:
        raise ValueError("people >= 1, days >= 0 and history_days >= 1 required")
    nz = noise_level(noise, seed)
    loc = locale(market)
    out = Path(out)
    cal = Calendar(end_date=end_date, days=days, history_days=history_days, timezone=loc.market.timezone)
    dates = cal.drop_dates
    for sub in ("pos", "ecommerce", "social", "messaging", "service", "_truth"):
        shutil.rmtree(out / sub, ignore_errors=True)
    rng = np.random.default_rng(seed)

    p = population.build_people(rng, people, cal, loc)
    population.add_households(nz, p)
    mem = population.build_members(rng, p, cal, nz, loc)
    cus = population.build_customers(rng, p, cal, nz, loc)
    prof = population.build_profiles(rng, p, cal, nz, loc)
    catalog = activity.build_catalog(rng)
    pos = activity.build_pos(rng, p, mem, catalog, cal)
    web = activity.build_orders(rng, p, cus, catalog, cal, nz, loc)
    inter = activity.build_interactions(rng, prof, cal)
    unsub = activity.build_unsubscribes(rng, p, cal, nz, loc)
    camp = campaigns.build(seed, p, mem, catalog, pos, web, cal)  # adds the treated's extra receipts to pos

    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")
    stats: dict[str, dict] = {}
    resend_tx = 2 if days >= 2 else None
    resend_orders = 3 if days >= 3 else None

    # --- POS transactions -------------------------------------------------------------------------------
    rc, ln = pos["receipts"], pos["lines"]
    rec = ln["rec"]
    t_rec = rc["t"][rec]
    tx = pa.table(
        {
            "receipt_id": _a(rc["receipt_id"]).take(_a(rec)),
            "line_no": _a(ln["line_no"]),
            "store_id": _a(STORE_IDS).take(_a(rc["store"][rec])),
            "tx": ts(t_rec),
            "loyalty_card_no": _a(rc["card_no"]).take(_a(rec)),
            "sku": _a(catalog["sku"]).take(_a(ln["item"])),
            "category": _a(catalog["cat_names"]).take(_a(catalog["category"][ln["item"]])),
            "quantity": _a(ln["qty"]),
            "price_c": _a(ln["price"]),
            "disc_c": _a(ln["disc"]),
            "payment_method": _a(activity.PAYMENTS).take(_a(rc["pay"][rec])),
        }
    )
    ent = Entity(
        "pos",
        "transactions",
        "transactions.csv",
        "csv",
        tx,
        rc["drop"][rec],
        t_rec * 1000 + ln["line_no"],
        "",
        broken_copies={"bad_date": 0.0006, "negative_price": 0.0005, "missing_key": 0.0005},
        raw_broken={"wrong_column_count": 0.0004},
        p_dup=0.002,
        p_resend=0.001,
        resend_file_drop=resend_tx,
    )
    mk, bd, neg = ent.code("missing_key"), ent.code("bad_date"), ent.code("negative_price")
    bad_tx = (
        "CASE line_no % 3 WHEN 0 THEN strftime(tx, '%Y-%m-') || '32 ' || strftime(tx, '%H:%M:%S') "
        "WHEN 1 THEN strftime(tx, '%Y-%m-%d') || ' 25:61:00' ELSE '##-##-####' END"
    )
    ent.select = ", ".join(
        [
            f"CASE WHEN _b = {mk} THEN NULL ELSE receipt_id END AS receipt_id",
            "line_no",
            "store_id",
            f"CASE WHEN _b = {bd} THEN {bad_tx} ELSE strftime(tx, '%Y-%m-%d %H:%M:%S') END AS tx_time",
            "NULLIF(loyalty_card_no, '') AS loyalty_card_no",
            "sku",
            "category",
            "quantity",
            f"((CASE WHEN _b = {neg} THEN -1 ELSE 1 END) * price_c / 100)::DECIMAL(18,2) AS unit_price",
            "CASE WHEN disc_c = 0 THEN NULL ELSE (disc_c / 100)::DECIMAL(18,2) END AS discount",
            f"'{loc.currency}' AS currency",
            "NULLIF(payment_method, '') AS payment_method",
        ]
    )

    def tx_raw(kind: str, t: pa.Table) -> list[str]:
        d = t.select(["receipt_id", "line_no", "store_id", "sku"]).to_pylist()
        return [
            f"{r['receipt_id']},{r['line_no']},{r['store_id']},,{r['sku']}"
            if i % 2
            else f"{r['receipt_id']},{r['line_no']},{r['store_id']},x,{r['sku']},1,2,3,{loc.currency},card,,,"
            for i, r in enumerate(d)
        ]

    ent.raw_fn = tx_raw
    stats["pos/transactions"] = write_entity(con, rng, ent, out, dates)
    del tx, ent

    # --- POS loyalty members ----------------------------------------------------------------------------
    cols = [
        "loyalty_card_no",
        "first_name",
        "last_name",
        "gender",
        "birth_date",
        "phone",
        "email",
        "postcode",
        "city",
        "address",
        "home_store_id",
    ]
    mt = pa.table(
        {
            **{c: _a(mem[c]) for c in cols},
            "enrolled": ts(mem["enrolled_at"]),
            "updated": ts(mem["updated_at"]),
            "email_opt_in": _a(mem["email_opt_in"]),
            "sms_opt_in": _a(mem["sms_opt_in"]),
        }
    )
    ent = Entity(
        "pos",
        "loyalty_members",
        "loyalty_members.csv",
        "csv",
        mt,
        cal.drop_of(mem["updated_at"]),
        mem["updated_at"],
        "",
        broken_copies={"missing_key": 0.001, "bad_date": 0.001},
        raw_broken={"wrong_column_count": 0.0005},
        p_dup=0.002,
        p_resend=0.003,
    )
    ent.select = (
        f"CASE WHEN _b = {ent.code('missing_key')} THEN NULL ELSE loyalty_card_no END AS loyalty_card_no, "
        + ", ".join(f"NULLIF({c}, '') AS {c}" for c in cols[1:])
        + ", strftime(enrolled, '%Y-%m-%d %H:%M:%S') AS enrolled_at, "
        f"CASE WHEN _b = {ent.code('bad_date')} THEN strftime(updated, '%d-%m-%Y %Hh%M') "
        "ELSE strftime(updated, '%Y-%m-%d %H:%M:%S') END AS updated_at, "
        "NULLIF(email_opt_in, '') AS email_opt_in, NULLIF(sms_opt_in, '') AS sms_opt_in"
    )
    ent.raw_fn = lambda kind, t: [
        f"{r['loyalty_card_no']},{r['first_name']};{r['last_name']},,"
        for r in t.select(["loyalty_card_no", "first_name", "last_name"]).to_pylist()
    ]
    stats["pos/loyalty_members"] = write_entity(con, rng, ent, out, dates)
    stats["pos/loyalty_members"]["broken"]["invalid_birth_date_flagged"] = int(mem["_n_bad_birth"][0])

    # --- ecommerce customers ----------------------------------------------------------------------------
    off_c = cal.local_offset(cus["created_at"])
    off_u = cal.local_offset(cus["updated_at"])
    ccols = [
        "customer_id",
        "email",
        "first_name",
        "last_name",
        "phone",
        "birthday",
        "gender",
        "address_line1",
        "address_city",
        "address_postcode",
        "address_country",
        "has_address",
        "consent_email",
        "consent_sms",
        "consent_known",
    ]
    ct = pa.table(
        {
            **{c: _a(cus[c]) for c in ccols},
            "created": ts(cus["created_at"] - off_c),
            "updated": ts(cus["updated_at"] - off_u),
        }
    )
    ent = Entity(
        "ecommerce",
        "customers",
        "customers.jsonl",
        "json",
        ct,
        cal.drop_of(cus["updated_at"]),
        cus["updated_at"],
        "",
        broken_copies={"missing_key": 0.001, "bad_timestamp": 0.0005},
        raw_broken={"truncated_json": 0.001, "not_json": 0.0003},
        p_dup=0.002,
        p_resend=0.002,
    )
    ent.select = (
        f"CASE WHEN _b = {ent.code('missing_key')} THEN '' ELSE customer_id END AS customer_id, "
        + ", ".join(
            f"NULLIF({c}, '') AS {c}"
            for c in ["email", "first_name", "last_name", "phone", "birthday", "gender"]
        )
        + ", CASE WHEN has_address THEN struct_pack(line1 := NULLIF(address_line1, ''), "
        "city := NULLIF(address_city, ''), postcode := NULLIF(address_postcode, ''), "
        "country := address_country) END AS address, "
        f"strftime(created, '{_ISO}Z') AS created_at, CASE WHEN _b = {ent.code('bad_timestamp')} "
        f"THEN strftime(updated, '%d/%m/%Y') ELSE strftime(updated, '{_ISO}Z') END AS updated_at, "
        "CASE WHEN consent_known THEN struct_pack(email := consent_email, sms := consent_sms) END AS consent"
    )

    def json_raw(key_cols: list[str]):
        def fn(kind: str, t: pa.Table) -> list[str]:
            rows = t.select(key_cols).to_pylist()
            if kind == "not_json":
                return [NOT_JSON[i % len(NOT_JSON)] for i in range(len(rows))]
            return _truncate(rows, rng.random(len(rows)).tolist())

        return fn

    ent.raw_fn = json_raw(["customer_id", "email", "first_name", "last_name"])
    stats["ecommerce/customers"] = write_entity(con, rng, ent, out, dates)
    stats["ecommerce/customers"]["broken"]["invalid_birthday_flagged"] = int(cus["_n_bad_birth"][0])

    # --- ecommerce orders -------------------------------------------------------------------------------
    od, ov, ol = web["orders"], web["versions"], web["lines"]
    offsets = np.concatenate([[0], np.cumsum(od["nlines"])]).astype(np.int32)
    line_struct = pa.StructArray.from_arrays(
        [
            _a(catalog["sku"]).take(_a(ol["item"])),
            _a(catalog["cat_names"]).take(_a(catalog["category"][ol["item"]])),
            _a(ol["qty"]),
            _a(ol["price"] / 100.0),
            _a(ol["disc"] / 100.0),
        ],
        names=["sku", "category", "qty", "unit_price", "discount"],
    )
    lines = pa.ListArray.from_arrays(pa.array(offsets), line_struct)
    vi = _a(ov["idx"])
    placed = od["placed_at"][ov["idx"]]
    otab = pa.table(
        {
            "order_id": _a(od["order_id"]).take(vi),
            "customer_id": _a(od["customer_id"]).take(vi),
            "guest_email": _a(od["guest_email"]).take(vi),
            **{name: _a(od[name]).take(vi) for name in BILLING_FIELDS},
            "placed": ts(placed),
            "placed_off": _a(cal.local_offset(placed)),
            "updated": ts(ov["updated_at"]),
            "updated_off": _a(cal.local_offset(ov["updated_at"])),
            "omit_upd": _a(ov["omit_upd"]),
            "status": _a(ov["status"]),
            "discount_code": _a(od["discount_code"]).take(vi),
            "lines": lines.take(vi),
        }
    )
    ent = Entity(
        "ecommerce",
        "orders",
        "orders.jsonl",
        "json",
        otab,
        ov["drop"],
        ov["updated_at"],
        "",
        broken_copies={"missing_key": 0.001, "negative_price": 0.0008, "bad_status": 0.0005},
        raw_broken={"truncated_json": 0.001, "not_json": 0.0003},
        p_dup=0.002,
        p_resend=0.002,
        resend_file_drop=resend_orders,
    )
    ent.select = (
        f"CASE WHEN _b = {ent.code('missing_key')} THEN NULL ELSE order_id END AS order_id, "
        "NULLIF(customer_id, '') AS customer_id, NULLIF(guest_email, '') AS guest_email, "
        + "".join(f"NULLIF({name}, '') AS {name}, " for name in BILLING_FIELDS)
        + f"{_offset_sql('placed', 'placed_off', otab['placed_off'].to_numpy())} AS placed_at, "
        "CASE WHEN omit_upd THEN NULL ELSE "
        f"{_offset_sql('updated', 'updated_off', otab['updated_off'].to_numpy())} END AS updated_at, "
        f"CASE WHEN _b = {ent.code('bad_status')} THEN 'shipped' ELSE status END AS status, "
        f"'{loc.currency}' AS currency, NULLIF(discount_code, '') AS discount_code, "
        f"CASE WHEN _b = {ent.code('negative_price')} THEN list_transform(lines, "
        "lambda x: struct_pack(sku := x.sku, category := x.category, qty := x.qty, "
        "unit_price := -x.unit_price, discount := x.discount)) ELSE lines END AS lines"
    )
    ent.raw_fn = json_raw(["order_id", "customer_id", "guest_email"])
    stats["ecommerce/orders"] = write_entity(con, rng, ent, out, dates)
    del otab, ent

    # --- social profiles & interactions ------------------------------------------------------------------
    pcols = ["platform", "user_handle", "display_name", "email", "phone", "city"]
    ptab = pa.table(
        {
            **{c: _a(prof[c]) for c in pcols},
            "followed": ts(prof["followed_at"] - cal.local_offset(prof["followed_at"])),
        }
    )
    ent = Entity(
        "social",
        "profiles",
        "profiles.jsonl",
        "json",
        ptab,
        cal.drop_of(prof["sent_at"]),
        prof["sent_at"],
        "",
        broken_copies={"missing_key": 0.001, "bad_allowed_value": 0.0005},
        raw_broken={"truncated_json": 0.001},
        p_dup=0.002,
        p_resend=0.002,
    )
    ent.select = (
        f"CASE WHEN _b = {ent.code('bad_allowed_value')} THEN upper(platform) ELSE platform END AS platform, "
        f"CASE WHEN _b = {ent.code('missing_key')} THEN NULL ELSE user_handle END AS user_handle, "
        + ", ".join(f"NULLIF({c}, '') AS {c}" for c in pcols[2:])
        + f", strftime(followed, '{_ISO}Z') AS followed_at"
    )
    ent.raw_fn = json_raw(["platform", "user_handle", "display_name"])
    stats["social/profiles"] = write_entity(con, rng, ent, out, dates)

    itab = pa.table(
        {
            **{
                c: _a(inter[c])
                for c in ["interaction_id", "platform", "user_handle", "event_type", "post_id", "campaign_id"]
            },
            "et": ts(inter["t"] - cal.local_offset(inter["t"])),
        }
    )
    ent = Entity(
        "social",
        "interactions",
        "interactions.jsonl",
        "json",
        itab,
        inter["drop"],
        inter["t"],
        "",
        broken_copies={"missing_key": 0.0008, "bad_timestamp": 0.0005},
        raw_broken={"truncated_json": 0.0005, "not_json": 0.0005},
        p_dup=0.003,
        p_resend=0.002,
    )
    ent.select = (
        f"CASE WHEN _b = {ent.code('missing_key')} THEN NULL ELSE interaction_id END AS interaction_id, "
        "platform, user_handle, event_type, "
        f"CASE WHEN _b = {ent.code('bad_timestamp')} THEN 'yesterday' ELSE strftime(et, '{_ISO}.000Z') END "
        "AS event_time, NULLIF(post_id, '') AS post_id, NULLIF(campaign_id, '') AS campaign_id"
    )
    ent.raw_fn = json_raw(["interaction_id", "platform", "user_handle"])
    stats["social/interactions"] = write_entity(con, rng, ent, out, dates)

    # --- messaging unsubscribes -------------------------------------------------------------------------
    utab = pa.table(
        {
            "channel": _a(unsub["channel"]),
            "address": _a(unsub["address"]),
            "t": ts(unsub["t"]),
            "off": _a(cal.local_offset(unsub["t"])),
        }
    )
    ent = Entity(
        "messaging",
        "unsubscribes",
        "unsubscribes.csv",
        "csv",
        utab,
        unsub["drop"],
        unsub["t"],
        "",
        broken_copies={"bad_timestamp": 0.002},
        raw_broken={"wrong_column_count": 0.002},
        p_dup=0.01,
    )
    ent.select = (
        f"channel, address, CASE WHEN _b = 1 THEN strftime(t, '%Y-%m-%d') "
        f"ELSE {_offset_sql('t', 'off', utab['off'].to_numpy())} "
        "END AS event_time"
    )
    ent.raw_fn = lambda kind, t: [
        f"{r['channel']};{r['address']}" for r in t.select(["channel", "address"]).to_pylist()
    ]
    stats["messaging/unsubscribes"] = write_entity(con, rng, ent, out, dates)
    # Loyalty ledger, coupons and the service source: own modules, own random streams (issue #23).
    stats.update(loyalty.write(con, out, dates, seed, p, mem, pos, cal))
    stats.update(service.write(con, out, dates, seed, p, mem, cus, cal))
    stats.update(campaigns.write(con, out, dates, camp, cal))  # campaign activity (issue #23)
    con.close()
    if loc.pos_encoding != "utf-8":
        _reencode(out / "pos", loc.pos_encoding)

    summary = _write_truth(out, p, mem, cus, prof, web, pos, cal, stats, seed, nz, loc)
    campaigns.write_truth(out, camp)
    return GenerateResult(out=out, drop_dates=dates, summary=summary, seconds=time.perf_counter() - t0)


def _reencode(folder: Path, encoding: str) -> None:
    """Re-encode every file of a source's drops (written as UTF-8), as a till exporting GB18030 does."""
    for path in sorted(folder.rglob("*.csv")):
        path.write_bytes(path.read_bytes().decode("utf-8").encode(encoding))


def _write_truth(
    out: Path,
    p: dict,
    mem: dict,
    cus: dict,
    prof: dict,
    web: dict,
    pos: dict,
    cal: Calendar,
    stats: dict,
    seed: int,
    nz: Noise,
    loc: Locale,
) -> dict:
    """Ground truth for evaluating identity resolution; the pipeline never reads it."""
    truth = out / "_truth"
    truth.mkdir(parents=True, exist_ok=True)
    n_cards = int(mem["_n_cards"][0])
    n_acc = int(np.sum(p["web_account"]))
    n_prof = int(prof["_n_base"][0])
    od = web["orders"]
    guest = np.flatnonzero(od["customer_id"] == "")
    pid = p["person_id"]
    parts = [
        ("pos", "loyalty_members", mem["loyalty_card_no"][:n_cards], mem["person"][:n_cards]),
        ("ecommerce", "customers", cus["customer_id"][:n_acc], cus["person"][:n_acc]),
        ("ecommerce", "orders", od["order_id"][guest], od["person"][guest]),
        (
            "social",
            "profiles",
            np.strings.add(np.strings.add(prof["platform"][:n_prof], ":"), prof["user_handle"][:n_prof]),
            prof["person"][:n_prof],
        ),
    ]
    records = pa.table(
        {
            "source": pa.array(np.concatenate([np.full(len(x[2]), x[0], dtype=S) for x in parts])),
            "entity": pa.array(np.concatenate([np.full(len(x[2]), x[1], dtype=S) for x in parts])),
            "source_record_id": pa.array(np.concatenate([x[2] for x in parts])),
            "person_id": pa.array(pid[np.concatenate([x[3] for x in parts])]),
        }
    )
    pq.write_table(records, truth / "records.parquet")
    churned = p["churned_at"] < cal.end_s
    people = pa.table(
        {
            "person_id": pa.array(pid),
            "first_name": pa.array(p["first_name"]),
            "last_name": pa.array(p["last_name"]),
            "first_name_han": pa.array(
                np.where(p["han"], p["first_name_han"], None).astype(object), pa.string()
            ),
            "last_name_han": pa.array(
                np.where(p["han"], p["last_name_han"], None).astype(object), pa.string()
            ),
            "gender": pa.array(np.array(["F", "M", "X"])[p["gender"]]),
            "birth_date": pa.array(p["birth_date"]),
            "email": pa.array(p["own_email"]),
            "phone": pa.array(p["phone"]),
            "address": pa.array(p["address"]),
            "postcode": pa.array(p["postcode"]),
            "city": pa.array(p["city"]),
            "home_store_id": pa.array(STORE_IDS[p["home_store"]]),
            "n_loyalty_cards": pa.array(p["n_cards"].astype(np.int8)),
            "web_account": pa.array(p["web_account"]),
            "web_guest_only": pa.array(p["web_guest"]),
            "n_social_profiles": pa.array(p["n_platforms"].astype(np.int8)),
            "prospect": pa.array(p["prospect"]),
            "promo_driven": pa.array(p["promo_driven"]),
            "promo_propensity": pa.array(p["promo_propensity"].round(3)),
            "churned_at": pa.array(p["churned_at"].astype("datetime64[s]"), mask=~churned),
            "household_of": pa.array(pid[np.maximum(p["household_of"], 0)], mask=p["household_of"] < 0),
            "family_email": pa.array(p["family_email"]),
        }
    )
    pq.write_table(people, truth / "people.parquet")
    ids_per_person = np.bincount(np.concatenate([x[3] for x in parts]), minlength=len(pid))
    channels = (
        (p["n_cards"] > 0).astype(int)
        + (p["web_account"] | p["web_guest"]).astype(int)
        + (p["n_platforms"] > 0)
    )
    broken_by_kind: dict[str, int] = {}
    dups = {"in_file": 0, "next_day": 0, "resent_file_rows": 0}
    for s in stats.values():
        for k, v in s["broken"].items():
            broken_by_kind[k] = broken_by_kind.get(k, 0) + v
        dups["in_file"] += s.get("dup_in_file", 0)
        dups["next_day"] += s.get("dup_next_day", 0)
        dups["resent_file_rows"] += s.get("dup_resent_file", {}).get("rows", 0)
    rc = pos["receipts"]
    in_window = rc["drop"] <= cal.days
    summary = {
        "seed": seed,
        "noise": nz.level,
        "market": loc.code,
        "pos_encoding": loc.pos_encoding,
        "people": len(pid),
        "drop_dates": cal.drop_dates,
        "history_days": cal.history_days,
        "window_start": cal.start.isoformat(),
        "people_by_channel_count": {str(k): int(v) for k, v in enumerate(np.bincount(channels, minlength=4))},
        "people_multi_identifier": int(np.sum(ids_per_person >= 2)),
        "prospects": int(p["prospect"].sum()),
        "churned": int(churned.sum()),
        "loyalty_cards": n_cards,
        "people_with_two_cards": int(np.sum(p["n_cards"] == 2)),
        "web_customers": n_acc,
        "guest_orders": len(guest),
        "social_profiles": n_prof,
        "receipts": int(in_window.sum()),
        "receipt_lines": stats["pos/transactions"]["rows_generated"],
        "anonymous_receipts": int(np.sum(in_window & (rc["card_no"] == ""))),
        "return_receipts": int(np.sum(in_window & rc["is_return"])),
        "late_receipts": int(np.sum(in_window & rc["late"])),
        "orders": len(od["order_id"]),
        "order_versions": stats["ecommerce/orders"]["rows_generated"],
        "refunded_versions": int(np.sum(web["versions"]["status"] == "refunded")),
        "interactions": stats["social/interactions"]["rows_generated"],
        "unsubscribes": stats["messaging/unsubscribes"]["rows_generated"],
        "truth_records": records.num_rows,
        "over_merge_cases": _case_counts(p, mem, cus, prof, od, guest),
        "broken_rows_by_kind": broken_by_kind,
        "broken_rows_total": int(sum(broken_by_kind.values())),
        "duplicates_injected": dups,
        "files": stats,
    }
    (truth / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return summary


def _case_counts(p: dict, mem: dict, cus: dict, prof: dict, od: dict, guest: np.ndarray) -> dict[str, int]:
    """How many over-merge cases were injected; a record counts once, whatever its versions."""
    m, c, n = int(mem["_n_cards"][0]), int(np.sum(p["web_account"])), int(prof["_n_base"][0])
    lead_email = np.zeros(n, bool)
    lead_email[np.flatnonzero(prof["lead"][:n])] = prof["email"][n:] != ""  # lead versions follow, in order
    with_email = [
        (mem, m, mem["email"][:m] != ""),
        (cus, c, (cus["email"][:c] != "") & ~cus["alt_email"][:c]),
        (prof, n, lead_email),
    ]
    family = sum(
        int(np.sum(e & ~r["case_junk_email"][:k] & p["family_email"][r["person"][:k]]))
        for r, k, e in with_email
    )
    return {
        "household_pairs": int(np.sum(p["household_of"] >= 0)),
        "family_email_records": family + int(np.sum(p["family_email"][od["person"][guest]])),
        "store_phone_records": int(np.sum(mem["case_store_phone"][:m])),
        "junk_email_records": sum(int(np.sum(r["case_junk_email"][:k])) for r, k, _ in with_email),
        "junk_phone_records": sum(int(np.sum(r["case_junk_phone"][:k])) for r, k, _ in with_email),
    }
