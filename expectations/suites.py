"""The expectation suites, defined in code (kept in the repo, never in a GX store on disk).

Every expectation carries GX's own ``severity``: ``critical`` fails the gate, ``warning`` is reported.
Suite names: ``landed.<source>.<entity>``, ``landed.quarantine``, ``<schema>.<table>`` for the
warehouse (``marts.*`` and ``restricted.*``, the schema with plain contact data).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from expectations.contracts import EntitySpec
from expectations.settings import (
    CRITICAL,
    EMAIL_REGEX,
    PHONE_E164_REGEX,
    PHONE_MASKED_REGEX,
    QUARANTINE_RATE_CRITICAL,
    QUARANTINE_RATE_WARN,
    WARNING,
)

if TYPE_CHECKING:
    import great_expectations as gx


def _suite(name: str, expectations: list[Any]) -> gx.ExpectationSuite:
    import great_expectations as gx

    return gx.ExpectationSuite(name=name, expectations=expectations)


def landed_suite(spec: EntitySpec, rows_landed: int | None = None) -> gx.ExpectationSuite:
    """Row-level rules from the contract, plus key uniqueness (warning) and the manifest's row count."""
    import great_expectations.expectations as gxe

    items: list[Any] = []
    if rows_landed is not None:
        items.append(gxe.ExpectTableRowCountToEqual(value=rows_landed, severity=CRITICAL))
    for col in spec.columns:
        if not col.checked:
            continue
        if col.not_null:
            items.append(gxe.ExpectColumnValuesToNotBeNull(column=col.name, severity=CRITICAL))
        if col.allowed:
            items.append(
                gxe.ExpectColumnValuesToBeInSet(
                    column=col.name, value_set=list(col.allowed), severity=CRITICAL
                )
            )
        if col.min is not None:
            items.append(
                gxe.ExpectColumnValuesToBeBetween(column=col.name, min_value=col.min, severity=CRITICAL)
            )
        if col.nonzero:
            items.append(
                gxe.ExpectColumnValuesToNotBeInSet(column=col.name, value_set=[0], severity=CRITICAL)
            )
        if col.pattern:
            items.append(
                gxe.ExpectColumnValuesToMatchRegex(column=col.name, regex=col.pattern, severity=CRITICAL)
            )
    # Re-sent records (status changes, profile updates, replayed files) are expected and deduplicated
    # in dbt staging, so a duplicate key inside one partition is only a warning.
    if len(spec.key) == 1:
        items.append(gxe.ExpectColumnValuesToBeUnique(column=spec.key[0], severity=WARNING))
    else:
        items.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(spec.key), severity=WARNING))
    return _suite(f"landed.{spec.name}", items)


def quarantine_suite(entity_columns: list[str], few: frozenset[str] = frozenset()) -> gx.ExpectationSuite:
    """One column per ``<source>.<entity>`` holding that day's quarantine rate (one-row batch). The
    entities in ``few`` had fewer than ``QUARANTINE_CRITICAL_MIN_ROWS`` rows quarantined: their rate
    can only warn."""
    import great_expectations.expectations as gxe

    items: list[Any] = []
    for column in entity_columns:
        if column not in few:
            items.append(
                gxe.ExpectColumnMaxToBeBetween(
                    column=column, min_value=0, max_value=QUARANTINE_RATE_CRITICAL, severity=CRITICAL
                )
            )
        items.append(
            gxe.ExpectColumnMaxToBeBetween(
                column=column, min_value=0, max_value=QUARANTINE_RATE_WARN, severity=WARNING
            )
        )
    return _suite("landed.quarantine", items)


def end_of_day(run_date: date) -> datetime:
    """First instant after ``run_date`` (UTC, naive like the warehouse timestamps)."""
    return datetime.combine(run_date + timedelta(days=1), time.min)


# What the marts must hold depends on what was delivered, not on a fixed minimum: a first load of the
# member base before the tills go live has customers and no orders; a base of anonymous receipts has
# orders and no customers. ``mart -> query counting what was delivered for it (as of the run date)``.
DELIVERED = {
    "fct_orders": "select (select count(*) from staging.stg_pos__transactions) "
    "+ (select count(*) from staging.stg_ecommerce__orders)",
    "dim_customers": "select count(*) from intermediate.int_identity_records_unioned",
    "customer_profiles": "select count(*) from intermediate.int_identity_records_unioned",
}


def mart_suites(
    run_date: date, delivered: dict[str, int] | None = None
) -> dict[str, tuple[str, gx.ExpectationSuite]]:
    """``table -> (query, suite)``. Each query reads only the columns its suite checks.

    ``delivered``: rows delivered for each mart of :data:`DELIVERED` (missing: assumed some); a mart
    must hold at least one row only when something was delivered for it."""
    import great_expectations.expectations as gxe

    delivered = delivered or {}

    def non_empty(table: str) -> Any:
        required = 1 if delivered.get(table, 1) > 0 else 0
        return gxe.ExpectTableRowCountToBeBetween(min_value=required, severity=CRITICAL)

    def no_order_after(end: Any) -> Any:
        """No order after the night's date. Where orders were delivered, checked as the column's
        maximum (one aggregate): value by value GX's pandas engine compares timestamps one at a time,
        1.25 s of the gate's 4.7 s at 100k people and 11.4 s at 1M (docs/benchmarks.md). A night
        without orders keeps the value-by-value check: the maximum of an empty column is null, which
        ExpectColumnMaxToBeBetween fails (an empty fct_orders fails non_empty anyway when orders came)."""
        check = (
            gxe.ExpectColumnMaxToBeBetween
            if delivered.get("fct_orders", 1) > 0
            else gxe.ExpectColumnValuesToBeBetween
        )
        return check(column="ordered_at", max_value=end, strict_max=True, severity=CRITICAL)

    def unique_not_null(column: str) -> list[Any]:
        return [
            gxe.ExpectColumnValuesToNotBeNull(column=column, severity=CRITICAL),
            gxe.ExpectColumnValuesToBeUnique(column=column, severity=CRITICAL),
        ]

    return {
        # The shared mart carries masked values only; a plain phone in phone_masked fails the gate.
        "dim_customers": (
            "select customer_id, phone_masked from marts.dim_customers",
            _suite(
                "marts.dim_customers",
                [
                    non_empty("dim_customers"),
                    *unique_not_null("customer_id"),
                    gxe.ExpectColumnValuesToMatchRegex(
                        column="phone_masked", regex=PHONE_MASKED_REGEX, severity=CRITICAL
                    ),
                ],
            ),
        ),
        # Plain contact fields live in the restricted schema; their formats are checked there.
        "customer_profiles": (
            "select customer_id, email, phone from restricted.customer_profiles",
            _suite(
                "restricted.customer_profiles",
                [
                    non_empty("customer_profiles"),
                    *unique_not_null("customer_id"),
                    gxe.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL_REGEX, severity=WARNING),
                    gxe.ExpectColumnValuesToMatchRegex(
                        column="phone", regex=PHONE_E164_REGEX, severity=CRITICAL
                    ),
                ],
            ),
        ),
        "fct_orders": (
            "select order_id, channel, net_amount, ordered_at from marts.fct_orders",
            _suite(
                "marts.fct_orders",
                [
                    non_empty("fct_orders"),
                    *unique_not_null("order_id"),
                    gxe.ExpectColumnValuesToBeInSet(
                        column="channel", value_set=["pos", "ecommerce"], severity=CRITICAL
                    ),
                    gxe.ExpectColumnValuesToNotBeNull(column="net_amount", severity=CRITICAL),
                    gxe.ExpectColumnValuesToNotBeNull(column="ordered_at", severity=CRITICAL),
                    no_order_after(end_of_day(run_date)),
                ],
            ),
        ),
        "customer_rfm": (
            "select customer_id, r_score, f_score, m_score, rfm_segment from marts.customer_rfm",
            _suite(
                "marts.customer_rfm",
                [
                    *unique_not_null("customer_id"),
                    *[
                        gxe.ExpectColumnValuesToBeBetween(
                            column=score, min_value=1, max_value=5, severity=CRITICAL
                        )
                        for score in ("r_score", "f_score", "m_score")
                    ],
                    *[
                        gxe.ExpectColumnValuesToNotBeNull(column=score, severity=CRITICAL)
                        for score in ("r_score", "f_score", "m_score", "rfm_segment")
                    ],
                ],
            ),
        ),
        "customer_identity_map": (
            "select source, entity, source_record_id, customer_id from marts.customer_identity_map",
            _suite(
                "marts.customer_identity_map",
                [
                    gxe.ExpectCompoundColumnsToBeUnique(
                        column_list=["source_record_id", "source", "entity"], severity=CRITICAL
                    ),
                    gxe.ExpectColumnValuesToNotBeNull(column="customer_id", severity=CRITICAL),
                ],
            ),
        ),
        # Consent, computed in SQL first: nobody whom dim_customers says may not be contacted on a
        # channel may carry can_email / can_sms in the contacts that exports read.
        "audience_contacts": (
            "select audience_contacts.customer_id, "
            "audience_contacts.can_email and not coalesce(dim_customers.is_email_contactable, false) "
            "as is_email_consent_violation, "
            "audience_contacts.can_sms and not coalesce(dim_customers.is_sms_contactable, false) "
            "as is_sms_consent_violation "
            "from restricted.audience_contacts "
            "left join marts.dim_customers "
            "on dim_customers.customer_id = audience_contacts.customer_id",
            _suite(
                "restricted.audience_contacts",
                [
                    gxe.ExpectColumnValuesToNotBeNull(column="customer_id", severity=CRITICAL),
                    gxe.ExpectColumnValuesToBeUnique(column="customer_id", severity=CRITICAL),
                    gxe.ExpectColumnValuesToBeInSet(
                        column="is_email_consent_violation", value_set=[False], severity=CRITICAL
                    ),
                    gxe.ExpectColumnValuesToBeInSet(
                        column="is_sms_consent_violation", value_set=[False], severity=CRITICAL
                    ),
                ],
            ),
        ),
    }
