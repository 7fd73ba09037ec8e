"""Thresholds and switches of the data-quality gates: the one place to tune them."""

from __future__ import annotations

from typing import Final

CRITICAL: Final = "critical"
WARNING: Final = "warning"

# Share of a day's rows (per entity) that ingest quarantined: above WARN is a warning, above
# CRITICAL stops the pipeline.
QUARANTINE_RATE_WARN: Final = 0.01
QUARANTINE_RATE_CRITICAL: Final = 0.05
# ... and only when at least this many rows were quarantined: on a small file (a campaign catalogue of
# ten rows) one bad line is 10 %, quarantined and counted, and a warning - not a reason to stop the night.
QUARANTINE_CRITICAL_MIN_ROWS: Final = 3

# A landed partition or manifest that is missing for the run date (ingest ran before the gate).
MISSING_DATA_SEVERITY: Final = CRITICAL

# Counts only: no partial unexpected lists, so no row values (personal data) reach results or HTML.
RESULT_FORMAT: Final = {"result_format": "BASIC", "partial_unexpected_count": 0}

# Keys removed from every expectation result before it is written anywhere (belt and braces).
VALUE_KEYS: Final = frozenset(
    {
        "partial_unexpected_list",
        "partial_unexpected_counts",
        "partial_unexpected_index_list",
        "unexpected_list",
        "unexpected_index_list",
        "unexpected_index_query",
        "unexpected_rows",
        "details",
    }
)

# GX Data Docs next to our own pages: off. They need a CDN (their index is built by JavaScript from
# one, their styles and pass/fail icons come from others), so offline - as many retailers' data servers
# are - they render empty or unstyled (issue 22). Our own pages (dq_<gate>.html, every expectation's
# result; <reports>/quality.html, every night) carry everything with no network; off also saves the
# seconds the build takes per gate.
BUILD_DATA_DOCS: Final = False

EMAIL_REGEX: Final = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE_E164_REGEX: Final = r"^\+[1-9][0-9]{6,14}$"
# marts.dim_customers.phone_masked (dbt macro mask_phone): '+', two digits, six '*', two digits.
PHONE_MASKED_REGEX: Final = r"^\+[0-9]{2}\*{6}[0-9]{2}$"
