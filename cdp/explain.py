"""``cdp explain CUSTOMER_ID``: why these source records are one customer, and how it came to be.

Shows every source record of the customer (contacts and names masked: the output may be pasted into a
ticket), every link the resolver considered that touches them - accepted or rejected, with the rule or
the match weight and the agreement per attribute behind it -, the identifiers it refused to link on
(junk or shared by too many records), the cluster's status (held back by over-merge protection?) and
the customer id's history (created, merged, split ...). Reads either engine (``cdp.engines``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cdp import identifiers
from cdp.config import Settings
from cdp.engines import connect

if TYPE_CHECKING:
    from cdp.engines import Warehouse

COMPARISONS = ("first_name", "last_name", "birth_date", "postcode", "address", "city", "gender")
_LEVEL_NAMES = {
    "first_name": {3: "exact", 2: "close", 1: "near", 0: "differs"},
    "last_name": {3: "exact", 2: "close", 1: "near", 0: "differs"},
    "birth_date": {2: "exact", 1: "one typo off", 0: "differs"},
    "postcode": {3: "exact", 2: "same area", 1: "one typo off", 0: "differs"},
    "address": {2: "exact", 1: "close or same street", 0: "differs"},
    "city": {1: "exact", 0: "differs"},
    "gender": {1: "exact", 0: "differs"},
}


@dataclass
class Link:
    left: str
    right: str
    rule: str
    accepted: bool
    rejection_reason: str | None
    match_weight: float | None
    match_probability: float | None
    agreement: str  # "first_name exact, birth_date exact, ..." (probabilistic evidence), or ""


@dataclass
class Explanation:
    customer_id: str
    records: list[tuple] = field(default_factory=list)  # record_key, names, email, phone, updated_at
    links: list[Link] = field(default_factory=list)
    ignored: list[tuple] = field(default_factory=list)  # type, identifier (masked), status, records
    cluster: tuple | None = None  # status, review reason, customer id since
    history: list[tuple] = field(default_factory=list)  # date, event, customer_id, previous id, records


def _agreement(levels: dict[str, int | None]) -> str:
    parts = []
    for name in COMPARISONS:
        level = levels.get(name)
        if level is None or level < 0:
            continue
        parts.append(f"{name} {_LEVEL_NAMES[name].get(level, level)}")
    return ", ".join(parts)


def explain(settings: Settings, customer_id: str) -> Explanation:
    """The records, links, ignored identifiers and id history behind ``customer_id``."""

    result = Explanation(customer_id)
    with connect(settings, read_only=True) as wh:
        wanted = wh.dialect.literal(customer_id)
        wh.temp_table(
            "_cdp_explain_members",
            "select record_key, cluster_status, customer_id_since "
            f"from marts.customer_identity_map where customer_id = {wanted}",
        )
        try:
            _fill(wh, result, wanted)
        finally:
            wh.drop_temp_table("_cdp_explain_members")
    return result


def _fill(wh: Warehouse, result: Explanation, wanted: str) -> None:
    members = "_cdp_explain_members"
    # Masked here with cdp.identifiers (the one implementation per kind, equal to the dbt macros).
    result.records = [
        (
            key,
            f"{_masked(identifiers.mask_name, first)} {_masked(identifiers.mask_name, last)}",
            identifiers.mask_email(email) if email else None,
            identifiers.mask_phone(phone) if phone else None,
            updated_at,
        )
        for key, first, last, email, phone, updated_at in wh.rows(
            "select records.record_key, records.first_name, "
            "coalesce(records.last_name, records.display_name), records.email_normalized, "
            "records.phone_e164, records.updated_at "
            f"from {members} as members inner join intermediate.int_identity_records_unioned as records "
            "on members.record_key = records.record_key order by records.record_key"
        )
    ]
    if not result.records:
        return
    result.cluster = wh.row(
        "select max(members.cluster_status), max(clustered.review_reason), "
        "max(members.customer_id_since) "
        f"from {members} as members inner join intermediate.int_identity_records_clustered as clustered "
        "on members.record_key = clustered.record_key"
    )
    gammas = ", ".join(f"scored.gamma_{name}" for name in COMPARISONS)
    rows = wh.rows(
        "select links.record_key_l, links.record_key_r, links.link_rule, links.is_accepted, "
        f"links.rejection_reason, scored.match_weight, scored.match_probability, {gammas} "
        "from intermediate.int_identity_links as links "
        "left join intermediate.int_identity_pairs_scored as scored "
        "on links.record_key_l = scored.record_key_l and links.record_key_r = scored.record_key_r "
        f"where links.record_key_l in (select record_key from {members}) "
        f"or links.record_key_r in (select record_key from {members}) "
        "order by links.record_key_l, links.record_key_r"
    )
    for row in rows:
        levels = dict(zip(COMPARISONS, row[7:], strict=True))
        result.links.append(Link(*row[:7], agreement=_agreement(levels) if row[5] is not None else ""))
    ignored = wh.rows(
        "select distinct identifier_type, identifier_value, identifier_status, record_count "
        "from intermediate.int_identity_identifiers_screened "
        "where identifier_status in ('junk', 'shared') "
        f"and record_key in (select record_key from {members})"
    )
    result.ignored = sorted({
        (kind, (identifiers.mask_email if kind == "email" else identifiers.mask_phone)(value), status, count)
        for kind, value, status, count in ignored
    })
    result.history = wh.rows(
        "select as_of_date, event_type, customer_id, previous_customer_id, record_count "
        f"from marts.customer_id_history where customer_id = {wanted} or previous_customer_id = {wanted} "
        "order by as_of_date, event_type, customer_id, previous_customer_id"
    )


def _masked(mask: Callable[[str], str], value: str | None) -> str:
    return mask(value) if value else "-"
