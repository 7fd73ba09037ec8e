"""The people behind the data, and the identity records (cards, accounts, profiles) each leaves behind.

One person -> one to three channels under different identifiers. Clean attributes are kept for the truth
file; every record gets its own independently messy copy, as if typed into a different system.
"""

from __future__ import annotations

import numpy as np

from . import pools
from .locale import Locale
from .noise import Noise, S, ascii_fold, inject, junk_emails, junk_phones, messy, strs
from .timeline import DAY, Calendar, at_time_of_day, uniform_secs

N_STORES = 30
# Stores per city (index into pools.CITIES), 30 in total: big cities get several.
STORE_CITY = np.array([0] * 5 + [1] * 4 + [2] * 3 + [3] * 2 + list(range(4, 20)))
STORE_IDS = strs([f"S{i + 1:03d}" for i in range(N_STORES)])
# Each store's default phone (8 digits after the '6'), typed by cashiers for members who give none of theirs.
# All below 10,000,000, so never a person's number (those start at 10,000,000).
STORE_PHONE_NUM = (np.arange(N_STORES) * 271_829 + 1_040_000) % 10_000_000
# messy() weights for names typed at the till and in the web shop (at the "typical" noise level).
_MEMBER_NAME_NOISE = {
    "upper": 0.05,
    "lower": 0.03,
    "space": 0.04,
    "typo": 0.03,
    "fullwidth": 0.005,
    "drop": 0.03,
}
_CUSTOMER_NAME_NOISE = {
    "lower": 0.08,
    "upper": 0.03,
    "space": 0.03,
    "typo": 0.02,
    "fullwidth": 0.003,
    "drop": 0.04,
}


def _affine_unique(rng: np.random.Generator, idx: np.ndarray, modulus: int) -> np.ndarray:
    """Distinct pseudo-random numbers below ``modulus`` for distinct idx (an affine bijection mod 10^k)."""
    a = int(rng.integers(modulus // 7, modulus // 3)) | 1
    while a % 5 == 0:
        a += 2
    b = int(rng.integers(0, modulus))
    return (idx.astype(np.int64) * a + b) % modulus


def _pick(rng: np.random.Generator, pool: tuple, n: int, p=None) -> np.ndarray:
    return rng.choice(len(pool), size=n, p=p)


def build_people(rng: np.random.Generator, n: int, cal: Calendar, loc: Locale) -> dict[str, np.ndarray]:
    """Clean person attributes, channel membership and behaviour parameters (in ``loc``'s market)."""
    pid = np.arange(n)
    p: dict[str, np.ndarray] = {
        "pid": pid,
        "person_id": np.strings.add("P", np.strings.zfill(pid.astype("U8").astype(S), 8)),
    }
    gender = rng.choice(3, size=n, p=[0.49, 0.48, 0.03])
    han = rng.random(n) < loc.han_share
    female = (gender == 0) | ((gender == 2) & (rng.random(n) < 0.5))
    fi = np.where(female, _pick(rng, pools.FEMALE, n), _pick(rng, pools.MALE, n))
    first = np.where(
        female,
        strs(pools.FEMALE)[np.minimum(fi, len(pools.FEMALE) - 1)],
        strs(pools.MALE)[np.minimum(fi, len(pools.MALE) - 1)],
    )
    first_ascii = np.where(
        female,
        strs(ascii_fold(pools.FEMALE))[np.minimum(fi, len(pools.FEMALE) - 1)],
        strs(ascii_fold(pools.MALE))[np.minimum(fi, len(pools.MALE) - 1)],
    )
    li = _pick(rng, pools.LAST, n)
    last, last_ascii = strs(pools.LAST)[li], strs(ascii_fold(pools.LAST))[li]
    hf, hl = _pick(rng, pools.HAN_FIRST, n), _pick(rng, pools.HAN_LAST, n)
    han_first_py = strs([x[1] for x in pools.HAN_FIRST])[hf]
    han_last_py = strs([x[1] for x in pools.HAN_LAST])[hl]
    p["first_name"] = np.where(han, han_first_py, first)
    p["last_name"] = np.where(han, han_last_py, last)
    p["first_name_han"] = np.where(han, strs([x[0] for x in pools.HAN_FIRST])[hf], "")
    p["last_name_han"] = np.where(han, strs([x[0] for x in pools.HAN_LAST])[hl], "")
    p["han"] = han
    fa = np.where(han, np.strings.lower(han_first_py), first_ascii)
    la = np.where(han, np.strings.lower(han_last_py), last_ascii)
    p["gender"] = gender
    p["birth_date"] = (np.datetime64("1945-01-01") + rng.integers(0, 63 * 365, n)).astype("datetime64[D]")

    cities = loc.cities
    city = rng.choice(len(cities), size=n, p=np.array([c[1] for c in cities]) / sum(c[1] for c in cities))
    lo = np.array([c[2] for c in cities])[city]
    hi = np.array([c[3] for c in cities])[city]
    pc_num = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
    letters = np.array(list("ABCDEFGHJKLMNPRTVWXZ"))
    pc_let = np.strings.add(letters[rng.integers(0, 20, n)], letters[rng.integers(0, 20, n)]).astype(S)
    p["city_idx"] = city
    p["city"] = strs([c[0] for c in cities])[city]
    p["pc_num"], p["pc_let"] = pc_num, pc_let
    if loc.code == "nl":  # 1234 AB
        p["postcode"] = np.strings.add(np.strings.add(pc_num.astype("U4").astype(S), " "), pc_let)
    else:  # six digits (cn)
        p["pc_let"] = np.full(n, "", dtype=S)
        p["postcode"] = np.strings.zfill(pc_num.astype("U6").astype(S), 6)
    house = rng.integers(1, 240, n).astype("U3").astype(S)
    house = np.where(rng.random(n) < 0.06, np.strings.add(house, "a"), house)
    street = strs(loc.streets)[_pick(rng, loc.streets, n)]
    if loc.code == "nl":  # Kerkstraat 12
        p["address"] = np.strings.add(np.strings.add(street, " "), house)
    else:  # 人民路88号
        p["address"] = np.strings.add(np.strings.add(street, np.strings.replace(house, "a", "")), "号")
    # Home store: a random store in the person's city.
    store_of_city = [np.flatnonzero(c == STORE_CITY) for c in range(len(cities))]
    first_store = np.array([s[0] for s in store_of_city])
    n_in_city = np.array([len(s) for s in store_of_city])
    p["home_store"] = first_store[city] + (rng.random(n) * n_in_city[city]).astype(np.int64)

    pattern = rng.choice(5, size=n, p=[0.4, 0.2, 0.2, 0.1, 0.1])
    number = rng.permutation(n).astype("U8").astype(S)
    f0 = np.strings.slice(fa, 0, 1)
    local = np.select(
        [pattern == 0, pattern == 1, pattern == 2, pattern == 3],
        [
            np.strings.add(np.strings.add(fa, "."), la),
            np.strings.add(fa, la),
            np.strings.add(np.strings.add(f0, "."), la),
            np.strings.add(np.strings.add(fa, "_"), la),
        ],
        np.strings.add(fa, np.strings.slice(la, 0, 3)),
    )
    dom = strs(loc.email_domains)[
        rng.choice(
            len(loc.email_domains),
            size=n,
            p=np.array(loc.email_domain_weights) / sum(loc.email_domain_weights),
        )
    ]
    p["email"] = np.strings.add(np.strings.add(np.strings.add(local, number), "@"), dom)
    p["phone_num"] = 10_000_000 + _affine_unique(rng, pid, 90_000_000)
    p["phone"] = loc.e164(p["phone_num"])

    # Behaviour: promotion hunters vs full-price buyers, heterogeneous frequency, churn.
    promo = rng.random(n) < 0.25
    p["promo_driven"] = promo
    p["promo_propensity"] = np.where(promo, rng.beta(6, 2, n), rng.beta(1, 9, n))
    churned = rng.random(n) < 0.22
    p["churned_at"] = np.where(churned, uniform_secs(rng, cal.start_s, cal.end_s, n), np.int64(cal.end_s))

    # Channels.
    prospect = rng.random(n) < 0.07
    pos = ~prospect & (rng.random(n) < 0.66)
    web_account = ~prospect & (rng.random(n) < 0.36)
    web_guest = ~prospect & ~web_account & (rng.random(n) < 0.12)
    none = ~prospect & ~pos & ~web_account & ~web_guest
    to_pos = none & (rng.random(n) < 0.75)
    pos |= to_pos
    web_guest |= none & ~to_pos
    social = prospect | (rng.random(n) < 0.22)
    p["prospect"], p["pos"], p["web_account"], p["web_guest"], p["social"] = (
        prospect,
        pos,
        web_account,
        web_guest,
        social,
    )
    p["n_cards"] = np.where(pos, 1 + (rng.random(n) < 0.06), 0)
    p["n_platforms"] = np.where(social, 1 + (rng.random(n) < 0.12), 0)
    p["_first_ascii"], p["_last_ascii"] = fa, la
    return p


def add_households(nz: Noise, p: dict) -> None:
    """Over-merge case: a second person moves in with a first and takes their last name and address.

    Some 40% of these pairs also share the first person's email from then on (every record of the second
    person that carries an email shows it). Birth date, first name, phone and handles stay each person's own.
    Adds ``household_of`` (index of the first person, -1 for none), ``family_email`` and ``own_email``.
    """
    n = len(p["pid"])
    k = min(int(nz.rng.binomial(n, nz.rate(0.03))), n // 2)
    cand = nz.rng.choice(n, 2 * k, replace=False)
    cand = cand[np.argsort(p["han"][cand], kind="stable")]  # pair Chinese-named people among themselves
    head, mover = cand[0::2], cand[1::2]
    same = p["han"][head] == p["han"][mover]
    head, mover = head[same], mover[same]
    for key in ("last_name", "last_name_han", "address", "postcode", "pc_num", "pc_let", "city", "city_idx"):
        p[key][mover] = p[key][head]
    fam = nz.rng.random(len(mover)) < 0.4
    p["own_email"] = p["email"].copy()
    p["email"][mover[fam]] = p["email"][head[fam]]
    p["household_of"] = np.full(n, -1, np.int64)
    p["household_of"][mover] = head
    p["family_email"] = np.zeros(n, bool)
    p["family_email"][mover[fam]] = True


def _names(
    rng: np.random.Generator,
    nz: Noise,
    p: dict,
    who: np.ndarray,
    han_script_share: float,
    swap_share: float,
    script_scale: float = 1.0,
    **noise: float,
) -> tuple[np.ndarray, np.ndarray]:
    """First/last name as typed into one system: script choice for Chinese names (``script_scale`` > 1:
    a market whose systems take characters more often), swaps, then noise."""
    m = len(who)
    han = p["han"][who]
    use_han = han & (rng.random(m) < min(1.0, han_script_share * script_scale))
    first = np.where(use_han, p["first_name_han"][who], _nicknamed(nz, p["first_name"][who]))
    last = np.where(use_han, p["last_name_han"][who], p["last_name"][who])
    swap = (rng.random(m) < nz.p(swap_share)) | (han & ~use_han & (rng.random(m) < nz.p(0.3)))
    first, last = np.where(swap, last, first), np.where(swap, first, last)
    first, _ = messy(rng, first, **nz.w(**noise))
    last, _ = messy(rng, last, **nz.w(**noise))
    return first, last


def _nicknamed(nz: Noise, first: np.ndarray, share: float = 0.1) -> np.ndarray:
    """First names, a share of those with another form (pools.NICKNAMES) given in that form."""
    rng = nz.names_rng
    out = first.copy()
    draw = rng.random(len(first))
    pick = rng.random(len(first))
    for name, variants in pools.NICKNAMES.items():
        hit = (first == name) & (draw < nz.p(share))
        out[hit] = strs(variants)[(pick[hit] * len(variants)).astype(np.int64)]
    return out


def _present(rng: np.random.Generator, values: np.ndarray, share: float) -> np.ndarray:
    return np.where(rng.random(len(values)) < share, values, "")


def _birth(rng: np.random.Generator, bd: np.ndarray, share: float, invalid: float) -> tuple[np.ndarray, int]:
    """ISO birth dates, some missing, a few invalid ('31/02/1990', 'unknown') as forms let through."""
    out = _present(rng, np.datetime_as_string(bd).astype(S), share)
    bad = (rng.random(len(bd)) < invalid) & (np.strings.str_len(out) > 0)
    k = int(bad.sum())
    years = np.strings.slice(out[bad], 0, 4)
    out[bad] = np.where(
        rng.random(k) < 0.5,
        np.strings.add("31/02/", years),
        strs(np.array(["unknown", "00-00-0000", "1990-13-45"]))[rng.integers(0, 3, k)],
    )
    return out, k


def _email_noise(rng: np.random.Generator, nz: Noise, emails: np.ndarray, fw: float = 0.004) -> np.ndarray:
    out, _ = messy(rng, emails, **nz.w(upper=0.04, title=0.05, space=0.03, fullwidth=fw, typo=0.005))
    return out


def _address(rng: np.random.Generator, nz: Noise, p: dict, who: np.ndarray, upper: float) -> np.ndarray:
    return messy(rng, p["address"][who], **nz.w(lower=0.05, upper=upper, space=0.03, typo=0.01))[0]


def _contact_cases(
    nz: Noise,
    loc: Locale,
    email: np.ndarray,
    phone: np.ndarray,
    store: np.ndarray | None = None,
    eligible: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Over-merge cases, written into ``email`` and ``phone`` in place: a store's default phone typed by the
    cashier (members: their enrolment ``store``), junk phones and junk emails. Returns the mask of each case.
    """
    ok = np.ones(len(email), bool) if eligible is None else eligible
    store_phone = np.zeros(len(phone), bool)
    if store is not None:
        store_phone = inject(
            nz.rng, phone, nz.rate(0.015), lambda r, i: loc.phones(r, STORE_PHONE_NUM[store[i]]), ok
        )
    return {
        "case_store_phone": store_phone,
        "case_junk_phone": inject(
            nz.rng, phone, nz.rate(0.003), lambda r, i: junk_phones(r, i, loc.junk_phones), ok & ~store_phone
        ),
        "case_junk_email": inject(
            nz.rng, email, nz.rate(0.004), lambda r, i: junk_emails(r, i, loc.junk_emails), ok
        ),
    }


def _postcode(rng: np.random.Generator, p: dict, who: np.ndarray, loc: Locale) -> np.ndarray:
    v = rng.choice(4, size=len(who), p=[0.55, 0.25, 0.12, 0.08])
    if loc.code != "nl":  # six digits, now and then typed with a space before or after
        code = p["postcode"][who]
        return np.select([v == 2, v == 3], [np.strings.add(" ", code), np.strings.add(code, " ")], code)
    num = p["pc_num"][who].astype("U4").astype(S)
    let = p["pc_let"][who]
    return np.select(
        [v == 0, v == 1, v == 2],
        [
            np.strings.add(np.strings.add(num, " "), let),
            np.strings.add(num, let),
            np.strings.add(num, np.strings.lower(let)),
        ],
        np.strings.add(np.strings.add(num, " "), np.strings.lower(let)),
    )


def _city(rng: np.random.Generator, nz: Noise, p: dict, who: np.ndarray, loc: Locale) -> np.ndarray:
    city = p["city"][who].copy()
    alias = rng.random(len(who)) < nz.p(0.04)
    for ci, name in loc.city_aliases.items():
        city[alias & (p["city_idx"][who] == ci)] = name
    city, _ = messy(rng, city, **nz.w(upper=0.05, lower=0.04, space=0.03, typo=0.01))
    return city


def _bool_text(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    """Booleans as the POS form exports them: true/false, 1/0, yes/no, Y/N (one style per row)."""
    style = rng.choice(4, size=len(values), p=[0.5, 0.25, 0.15, 0.1])
    t = strs(["true", "1", "yes", "Y"])[style]
    f = strs(["false", "0", "no", "N"])[style]
    return np.where(values, t, f)


def build_members(
    rng: np.random.Generator, p: dict, cal: Calendar, nz: Noise, loc: Locale
) -> dict[str, np.ndarray]:
    """Loyalty cards (some people hold two) and their member records, incl. later updated versions."""
    holders = np.flatnonzero(p["n_cards"] > 0)
    person = np.repeat(holders, p["n_cards"][holders])
    seq = np.zeros(len(person), np.int64)
    seq[1:] = (person[1:] == person[:-1]).astype(np.int64)
    m = len(person)
    card_no = np.strings.add(
        "26", np.strings.zfill(_affine_unique(rng, np.arange(m), 10**11).astype("U11").astype(S), 11)
    )
    before = rng.random(m) < 0.6
    enrol = np.where(
        before,
        uniform_secs(rng, cal.start_s - 3 * 365 * DAY, cal.start_s, m),
        uniform_secs(rng, cal.start_s, cal.end_s, m),
    )
    # A second card is enrolled after the first one (lost card, second household member's card...).
    first_enrol = np.repeat(enrol[seq == 0], p["n_cards"][holders])
    enrol = np.where(seq == 1, uniform_secs(rng, first_enrol, cal.end_s, m), enrol)
    enrol = np.minimum(at_time_of_day(rng, enrol, "store"), cal.end_s - 1)
    store = np.where(seq == 0, p["home_store"][person], rng.integers(0, N_STORES, m))
    first, last = _names(rng, nz, p, person, 0.55, 0.04, loc.han_script_share_scale, **_MEMBER_NAME_NOISE)
    g = p["gender"][person]
    female, male, other = (strs(texts) for texts in loc.gender_text)
    gtext = np.select(
        [g == 0, g == 1],
        [female[rng.integers(0, 7, m)], male[rng.integers(0, 7, m)]],
        other[rng.integers(0, 7, m)],
    )
    birth, n_bad_birth = _birth(rng, p["birth_date"][person], 0.55, nz.p(0.004))
    phone = _present(rng, loc.phones(rng, p["phone_num"][person]), nz.present(0.75))
    email = _present(rng, _email_noise(rng, nz, p["email"][person]), nz.present(0.7))
    cases = _contact_cases(nz, loc, email, phone, store=store)
    rec = {
        "person": person,
        "card_seq": seq,
        "loyalty_card_no": card_no,
        "first_name": first,
        "last_name": last,
        "gender": gtext,
        "birth_date": birth,
        "phone": phone,
        "email": email,
        "postcode": _present(rng, _postcode(rng, p, person, loc), 0.85),
        "city": _present(rng, _city(rng, nz, p, person, loc), 0.85),
        "address": _present(rng, _address(rng, nz, p, person, 0.03), 0.8),
        "home_store_id": _present(rng, STORE_IDS[store], 0.96),
        "enrolled_at": enrol,
        "updated_at": enrol,
        "email_opt_in_v": rng.random(m) < 0.55,
        "sms_opt_in_v": rng.random(m) < 0.3,
        "store": store,
        **cases,
    }
    # Updated versions: consent changes or a phone (re)entered, re-sent with a later updated_at.
    upd = np.flatnonzero(rng.random(m) < 0.15)
    versions = {k: np.concatenate([v, v[upd]]) for k, v in rec.items()}
    k = len(upd)
    later = uniform_secs(rng, enrol[upd] + DAY, cal.end_s, k)
    versions["updated_at"][m:] = np.minimum(at_time_of_day(rng, later, "store"), cal.end_s - 1)
    what = rng.choice(3, size=k, p=[0.45, 0.3, 0.25])
    versions["email_opt_in_v"][m:] ^= what == 0
    versions["sms_opt_in_v"][m:] ^= what == 2
    versions["phone"][m:] = np.where(
        what == 1, loc.phones(rng, p["phone_num"][person[upd]]), versions["phone"][m:]
    )
    versions["email_opt_in"] = _present(rng, _bool_text(rng, versions.pop("email_opt_in_v")), 0.95)
    versions["sms_opt_in"] = _present(rng, _bool_text(rng, versions.pop("sms_opt_in_v")), 0.93)
    versions["_n_bad_birth"] = np.array([n_bad_birth])
    versions["_n_cards"] = np.array([m])
    return versions


def build_customers(
    rng: np.random.Generator, p: dict, cal: Calendar, nz: Noise, loc: Locale
) -> dict[str, np.ndarray]:
    """Web shop accounts (one per account holder) and their re-sent updates."""
    person = np.flatnonzero(p["web_account"])
    m = len(person)
    cid = np.strings.add(
        "C", np.strings.zfill(_affine_unique(rng, np.arange(m), 10**9).astype("U9").astype(S), 9)
    )
    created = np.where(
        rng.random(m) < 0.5,
        uniform_secs(rng, cal.start_s - 2 * 365 * DAY, cal.start_s, m),
        uniform_secs(rng, cal.start_s, cal.end_s, m),
    )
    created = np.minimum(at_time_of_day(rng, created, "web"), cal.end_s - 1)
    # Some people log in with a different address than the one they give elsewhere.
    alt = rng.random(m) < nz.p(0.08)
    alt_email = np.strings.add(
        np.strings.add(
            np.strings.add(np.strings.slice(p["_first_ascii"][person], 0, 1), p["_last_ascii"][person]),
            person.astype("U8").astype(S),
        ),
        "@outlook.com",
    )
    email = np.where(alt, alt_email, p["email"][person])
    first, last = _names(rng, nz, p, person, 0.2, 0.02, loc.han_script_share_scale, **_CUSTOMER_NAME_NOISE)
    has_name = rng.random(m) < 0.9
    birth, n_bad_birth = _birth(rng, p["birth_date"][person], 0.3, nz.p(0.004))
    g = p["gender"][person]
    gtext = _present(rng, strs(["female", "male", "other"])[g], 0.5)
    country = strs(loc.countries)[rng.choice(4, size=m, p=[0.93, 0.03, 0.02, 0.02])]
    rec = {
        "person": person,
        "customer_id": cid,
        "email": _present(rng, _email_noise(rng, nz, email), nz.present(0.97)),
        "first_name": np.where(has_name, first, ""),
        "last_name": np.where(has_name, last, ""),
        "phone": _present(rng, loc.phones(rng, p["phone_num"][person]), nz.present(0.45)),
        "birthday": birth,
        "gender": gtext,
        "has_address": rng.random(m) < 0.7,
        "address_line1": _address(rng, nz, p, person, 0.02),
        "address_city": _city(rng, nz, p, person, loc),
        "address_postcode": _postcode(rng, p, person, loc),
        "address_country": country,
        "created_at": created,
        "updated_at": created,
        "consent_email": rng.random(m) < 0.5,
        "consent_sms": rng.random(m) < 0.2,
        "consent_known": rng.random(m) < 0.92,
        "alt_email": alt,
    }
    rec.update(_contact_cases(nz, loc, rec["email"], rec["phone"]))
    upd = np.flatnonzero(rng.random(m) < 0.15)
    versions = {k: np.concatenate([v, v[upd]]) for k, v in rec.items()}
    k = len(upd)
    later = uniform_secs(rng, created[upd] + DAY, cal.end_s, k)
    versions["updated_at"][m:] = np.minimum(at_time_of_day(rng, later, "web"), cal.end_s - 1)
    what = rng.choice(3, size=k, p=[0.5, 0.3, 0.2])
    versions["consent_email"][m:] ^= what == 0
    versions["consent_sms"][m:] ^= what == 2
    versions["phone"][m:] = np.where(
        what == 1, loc.phones(rng, p["phone_num"][person[upd]]), versions["phone"][m:]
    )
    versions["_n_bad_birth"] = np.array([n_bad_birth])
    return versions


#: Billing fields of a guest order (web shop export).
BILLING_FIELDS = (
    "billing_first_name",
    "billing_last_name",
    "billing_phone",
    "billing_address",
    "billing_postcode",
    "billing_city",
)


def build_billing(
    rng: np.random.Generator, p: dict, nz: Noise, person: np.ndarray, loc: Locale
) -> dict[str, np.ndarray]:
    """Billing details a guest checkout asks for: the buyer's own name and address, typed in a hurry.

    A household's second person gives their own first name with the shared last name and address, so a
    guest order on a family email still says whose it is. Phone is optional at checkout.
    """
    first, last = _names(rng, nz, p, person, 0.2, 0.02, loc.han_script_share_scale, **_CUSTOMER_NAME_NOISE)
    return {
        "billing_first_name": first,
        "billing_last_name": last,
        "billing_phone": _present(rng, loc.phones(rng, p["phone_num"][person]), nz.present(0.5)),
        "billing_address": _address(rng, nz, p, person, 0.02),
        "billing_postcode": _postcode(rng, p, person, loc),
        "billing_city": _city(rng, nz, p, person, loc),
    }


def build_profiles(
    rng: np.random.Generator, p: dict, cal: Calendar, nz: Noise, loc: Locale
) -> dict[str, np.ndarray]:
    """Social profiles; a lead form re-sends the profile with email/phone filled in."""
    holders = np.flatnonzero(p["n_platforms"] > 0)
    person = np.repeat(holders, p["n_platforms"][holders])
    m = len(person)
    seq = np.zeros(m, np.int64)
    seq[1:] = (person[1:] == person[:-1]).astype(np.int64)
    k = len(loc.platforms)
    plat = rng.choice(k, size=m, p=loc.platform_weights)
    prev = np.roll(plat, 1)
    plat = np.where(seq == 1, (prev + 1 + rng.integers(0, k - 1, m)) % k, plat)
    style = rng.choice(4, size=m, p=[0.35, 0.25, 0.25, 0.15])
    fa, la = p["_first_ascii"][person], p["_last_ascii"][person]
    word = strs(pools.HANDLE_WORDS)[rng.integers(0, len(pools.HANDLE_WORDS), m)]
    base = np.select(
        [style == 0, style == 1, style == 2],
        [
            np.strings.add(fa, la),
            np.strings.add(np.strings.add(fa, "_"), la),
            np.strings.add(np.strings.add(word, "_"), fa),
        ],
        np.strings.add(word, np.strings.slice(la, 0, 4)),
    )
    handle = np.strings.add(base, _affine_unique(rng, np.arange(m), 10**7).astype("U7").astype(S))
    first, last = _names(
        rng, nz, p, person, 0.5, 0.0, loc.han_script_share_scale, lower=0.15, upper=0.05, fullwidth=0.003
    )
    dn_style = rng.choice(5, size=m, p=[0.4, 0.2, 0.1, 0.1, 0.2])
    full = np.strings.add(np.strings.add(first, " "), last)
    if loc.market.family_name_first:  # '王伟' in characters, 'Wang Wei' in pinyin
        in_han = p["han"][person] & (last == p["last_name_han"][person])
        full = np.where(in_han, np.strings.add(last, first), np.strings.add(np.strings.add(last, " "), first))
    display = np.select(
        [dn_style == 0, dn_style == 1, dn_style == 2, dn_style == 3],
        [full, first, np.strings.add(first, " ✨"), np.strings.upper(full)],
        "",
    )
    followed = np.where(
        rng.random(m) < 0.5,
        uniform_secs(rng, cal.start_s - 2 * 365 * DAY, cal.start_s, m),
        uniform_secs(rng, cal.start_s, cal.end_s, m),
    )
    followed = np.minimum(at_time_of_day(rng, followed, "any"), cal.end_s - 1)
    lead = rng.random(m) < 0.12
    lead_at = np.minimum(at_time_of_day(rng, uniform_secs(rng, followed, cal.end_s, m), "any"), cal.end_s - 1)
    lead_email = _email_noise(rng, nz, p["email"][person], fw=0.01)
    lead_phone = _present(rng, loc.phones(rng, p["phone_num"][person]), nz.present(0.4))
    cases = _contact_cases(nz, loc, lead_email, lead_phone, eligible=lead)
    rec = {
        "person": person,
        "platform": strs(loc.platforms)[plat],
        "user_handle": handle,
        "display_name": display,
        "email": np.full(m, "", dtype=S),
        "phone": np.full(m, "", dtype=S),
        "city": _present(rng, _city(rng, nz, p, person, loc), 0.3),
        "followed_at": followed,
        "sent_at": followed,
        "lead": lead,
        "lead_at": lead_at,
        **cases,
    }
    li = np.flatnonzero(lead)
    versions = {k: np.concatenate([v, v[li]]) for k, v in rec.items()}
    versions["email"][m:] = lead_email[li]
    versions["phone"][m:] = lead_phone[li]
    versions["sent_at"][m:] = lead_at[li]
    versions["_n_base"] = np.array([m])
    return versions
