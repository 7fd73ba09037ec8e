"""What the export's dbt models read besides the mart and the contacts, for hand-made warehouses.

The export builds its rules as dbt models (tag ``segment_export``): ``audience_blocked_addresses``
reads identity's screening (``intermediate.int_identity_identifiers_screened`` joined to
``int_identity_records_unioned``), the records' customers (``int_identity_records_resolved``: an
address on the records of two customers is shared) and the seed ``identity_junk_identifiers``. A
nightly build makes those; a test's hand-made warehouse gets identity tables with no verdicts (a test
adds its own) and the shipped seed, loaded from the project's CSV as ``dbt seed`` loads it.
"""

from __future__ import annotations

import duckdb

from cdp.config import DBT_PROJECT_DIR

JUNK_SEED = DBT_PROJECT_DIR / "seeds" / "identity_junk_identifiers.csv"


def add_export_inputs(con: duckdb.DuckDBPyConnection) -> None:
    """Empty identity screening tables (where missing) and the junk-identifier seed."""
    con.execute("create schema if not exists intermediate")
    con.execute("create schema if not exists seeds")
    con.execute(
        "create table if not exists intermediate.int_identity_records_unioned "
        "(record_key varchar, email_normalized varchar, phone_e164 varchar)"
    )
    con.execute(
        "create table if not exists intermediate.int_identity_records_resolved "
        "(record_key varchar, customer_id varchar)"
    )
    con.execute(
        "create table if not exists intermediate.int_identity_identifiers_screened (record_key varchar, "
        "identifier_type varchar, identifier_value varchar, record_count integer, identifier_status varchar)"
    )
    path = str(JUNK_SEED).replace("'", "''")
    con.execute(
        "create or replace table seeds.identity_junk_identifiers as "
        f"select * from read_csv('{path}', header = true, all_varchar = true)"
    )
