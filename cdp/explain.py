"""``cdp explain CUSTOMER_ID``: why these source records are one customer.

Lists every source record of the customer, the links between them (the rule and the identifier that
made each link, masked), and the identifiers the resolver refused to link on (shared by too many
records). Contact values are masked: the output may be pasted into a ticket.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from cdp.config import Settings

_MASK_EMAIL = "left({col}, 1) || '***@' || split_part({col}, '@', 2)"
_MASK_PHONE = "left({col}, 3) || '******' || right({col}, 2)"


@dataclass
class Explanation:
    customer_id: str
    records: list[tuple] = field(default_factory=list)  # source, entity, id, email, phone, updated_at
    links: list[tuple] = field(default_factory=list)  # record a, record b, rule, identifier (masked)
    ignored: list[tuple] = field(default_factory=list)  # identifier (masked), records sharing it


def explain(settings: Settings, customer_id: str) -> Explanation:
    """The records, links and ignored identifiers behind ``customer_id`` in the current warehouse."""
    result = Explanation(customer_id)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        con.execute(
            "create temp table members as "
            "select records.* from marts.customer_identity_map as map "
            "inner join intermediate.int_identity_records_unioned as records "
            "on records.source = map.source and records.entity = map.entity "
            "and records.source_record_id = map.source_record_id "
            "where map.customer_id = ?",
            [customer_id],
        )
        email = _MASK_EMAIL.format(col="email_normalized")
        phone = _MASK_PHONE.format(col="phone_e164")
        result.records = con.execute(
            f"select source, entity, source_record_id, {email}, {phone}, updated_at "
            "from members order by source, entity, source_record_id"
        ).fetchall()
        result.links = con.execute(
            "select a.record_key, b.record_key, "
            "case a.identifier_type when 'email' then 'same normalised email' "
            "else 'same E.164 phone' end, "
            "case a.identifier_type when 'email' then "
            + _MASK_EMAIL.format(col="substr(a.identifier_key, 7)")
            + " else "
            + _MASK_PHONE.format(col="substr(a.identifier_key, 7)")
            + " end "
            "from intermediate.int_identity_edges_extracted as a "
            "inner join intermediate.int_identity_edges_extracted as b "
            "on a.identifier_key = b.identifier_key and a.record_key < b.record_key "
            "where a.record_key in (select record_key from members) "
            "order by 1, 2, 3"
        ).fetchall()
        result.ignored = _ignored(con)
    return result


def _max_records_per_identifier() -> int:
    import yaml

    from cdp.config import DBT_PROJECT_DIR

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    return int(project["vars"]["identity_max_records_per_identifier"])


def _ignored(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """The customer's identifiers that were too common to link on (placeholders such as info@shop)."""
    return con.execute(
        "with identifiers as ("
        "  select 'email' as kind, email_normalized as value "
        "  from intermediate.int_identity_records_unioned where email_normalized is not null"
        "  union all"
        "  select 'phone', phone_e164 from intermediate.int_identity_records_unioned "
        "  where phone_e164 is not null"
        "), mine as ("
        "  select distinct 'email' as kind, email_normalized as value from members"
        "  where email_normalized is not null"
        "  union select distinct 'phone', phone_e164 from members where phone_e164 is not null"
        "), counts as ("
        "  select identifiers.kind, identifiers.value, count(*) as n from identifiers "
        "  inner join mine on identifiers.kind = mine.kind and identifiers.value = mine.value "
        "  group by 1, 2"
        ") "
        "select case kind when 'email' then "
        + _MASK_EMAIL.format(col="value")
        + " else "
        + _MASK_PHONE.format(col="value")
        + " end, n from counts where n > ? order by 1",
        [_max_records_per_identifier()],
    ).fetchall()
