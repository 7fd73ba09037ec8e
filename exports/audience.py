"""Who of a segment's members gets a row in each destination's file, and why the others do not.

The rules are the dbt model ``restricted.audience_reachability`` (built by the export stage): per
customer ``email_exclusion`` / ``sms_exclusion``, the first rule that keeps a channel from them
(:data:`EXCLUSIONS`, in the order the model checks them), null when the channel is reachable. The
export's manifest (:mod:`exports.publish`) and ``cdp segments preview`` (:mod:`exports.definitions`)
count members by them here, counts only: no value of a row leaves this module.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING

from exports.destinations import Destination

if TYPE_CHECKING:
    from cdp.engines import Warehouse

# The order audience_reachability checks them: no address, on the suppression list, no consent (no
# opt-in or an unsubscribe), junk or shared (audience_blocked_addresses), not usable as written.
EXCLUSIONS = ("no_address", "suppressed", "no_consent", "blocked", "malformed")
EXCLUSION_LABELS = {
    "no_address": "no address",
    "suppressed": "suppressed",
    "no_consent": "no consent",
    "blocked": "junk or shared address",
    "malformed": "malformed address",
}
REACHABILITY_TABLE = "restricted.audience_reachability"

Exclusions = Mapping[tuple[str | None, str | None], int]


def exclusion_counts(
    warehouse: Warehouse, members_sql: str, reachability: str = REACHABILITY_TABLE
) -> Counter[tuple[str | None, str | None]]:
    """Members (``members_sql`` selects their ``customer_id``, control group already left out) by
    (email_exclusion, sms_exclusion), None for a reachable channel; a member the reachability table
    does not hold has no address."""
    rows = warehouse.rows(
        "select reachability.email_exclusion, reachability.sms_exclusion, "
        "case when reachability.customer_id is null then 1 else 0 end, count(*) "
        f"from ({members_sql}) as members left join {reachability} as reachability "
        "on members.customer_id = reachability.customer_id group by 1, 2, 3"
    )
    counted: Counter[tuple[str | None, str | None]] = Counter()
    for email, sms, missing, n in rows:
        counted[("no_address", "no_address") if missing else (email, sms)] += int(n)
    return counted


def left_out(destination: Destination, exclusions: Exclusions) -> dict[str, int]:
    """Members who get no row in ``destination``'s file, by reason (every reason of
    :data:`EXCLUSIONS`, zeros included); empty for a destination without contact data. A destination
    that takes either channel leaves a member out when neither is reachable, for the reason of the
    channel that passed more of the checks."""
    if not destination.channels:
        return {}
    counted = dict.fromkeys(EXCLUSIONS, 0)
    for (email, sms), n in exclusions.items():
        by_channel = {"email": email, "sms": sms}
        reasons = [by_channel[channel] for channel in destination.channels]
        if any(reason is None for reason in reasons):
            continue  # reachable on a channel the destination takes
        counted[max(reasons, key=EXCLUSIONS.index)] += n
    return counted


def reachable(destination: Destination, exclusions: Exclusions) -> int:
    """Members who get a row in ``destination``'s file (all of them without contact data)."""
    return sum(exclusions.values()) - sum(left_out(destination, exclusions).values())


def by_channel(exclusions: Exclusions, channel: str) -> dict[str, int]:
    """One channel's counts: ``reachable`` and each reason of :data:`EXCLUSIONS`."""
    index = 0 if channel == "email" else 1
    counted = dict.fromkeys(("reachable", *EXCLUSIONS), 0)
    for key, n in exclusions.items():
        counted[key[index] or "reachable"] += n
    return counted
