"""Erasure reads the personal-data catalogue the dbt YAML declares (``meta: {pii: <kind>}``), not
column names (issue 20: `cdp forget` deleted from any table with a column named like customer_id,
email_normalized, order_id..., so a model holding personal data under another name was silently
missed - e.g. customer_id_history.previous_customer_id or the golden record's email_record_key)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdp import dbt_runner
from cdp.config import Settings
from cdp.privacy import erasure_predicates

# Kinds that identify nobody by themselves (not unique, or a derived key): a table may hold them only
# next to a column that finds the person.
NOT_FINDING = {"name", "address", "postcode", "city", "birth_date", "gender", "match_key", "free_text"}
# What analysts may read (schemas marts and snapshots) only masked, hashed or reduced.
NEVER_PLAIN_FOR_ANALYSTS = {"email", "phone", "name", "address", "postcode", "birth_date", "handle",
                            "contact_point", "free_text"}


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, str]]]:
    home = Settings.load(home=tmp_path_factory.mktemp("catalogue") / "home").ensure()
    return dbt_runner.personal_columns(home)


def test_the_catalogue_covers_the_warehouse(catalogue: dict[str, dict[str, dict[str, str]]]) -> None:
    assert {"marts.dim_customers", "restricted.customer_profiles", "snapshots.dim_customers_snapshot",
            "ops.segment_membership", "intermediate.int_identity_records_unioned"} <= set(catalogue)
    assert not [name for name in catalogue if name.split(".")[0] == "staging"]  # views: the lake is scrubbed


def test_every_table_with_personal_data_can_be_erased(
    catalogue: dict[str, dict[str, dict[str, str]]],
) -> None:
    """A table that declares personal data has a column that finds the person (forget would otherwise
    leave their rows there)."""
    unerasable = sorted(
        table for table, declared in catalogue.items()
        if declared and not erasure_predicates(declared, set(declared))
    )
    assert unerasable == []


def test_columns_the_name_guesser_missed_are_erased(catalogue: dict[str, dict[str, dict[str, str]]]) -> None:
    history = catalogue["marts.customer_id_history"]
    assert "previous_customer_id in (select v from forget_customer_ids)" in erasure_predicates(
        history, set(history)
    )
    survived = catalogue["intermediate.int_customer_attributes_survived"]
    assert "email_record_key in (select v from forget_record_keys)" in erasure_predicates(
        survived, set(survived)
    )


def test_analysts_schemas_hold_no_plain_personal_data(
    catalogue: dict[str, dict[str, dict[str, str]]],
) -> None:
    plain = sorted(
        f"{table}.{column} ({meta['pii']})"
        for table, declared in catalogue.items()
        if table.split(".")[0] in ("marts", "snapshots")
        for column, meta in declared.items()
        if meta["pii"] in NEVER_PLAIN_FOR_ANALYSTS and meta.get("pii_form", "plain") == "plain"
    )
    assert plain == []


def test_predicates_follow_the_declared_kind_and_form() -> None:
    declared = {
        "buyer_ref": {"pii": "customer_key"},
        "contact_hash": {"pii": "email", "pii_form": "hashed"},
        "contact_shown": {"pii": "email", "pii_form": "masked"},
        "full_name": {"pii": "name"},
        "user_handle": {"pii": "handle"},
    }
    assert erasure_predicates(declared, {*declared, "platform"}) == [
        "buyer_ref in (select v from forget_customer_ids)",
        "contact_hash in (select v from forget_email_hashes)",
        "platform || ':' || user_handle in (select v from forget_profiles)",
    ]
    assert erasure_predicates({"full_name": {"pii": "name"}}, {"full_name"}) == []
    assert NOT_FINDING.isdisjoint({"customer_key", "record_key", "source_id", "email", "phone"})


def test_the_shipped_tables_declare_their_kinds_in_the_project() -> None:
    """The catalogue is the dbt YAML: no list of personal columns is kept in Python."""
    privacy = (Path(__file__).resolve().parent.parent / "cdp" / "privacy.py").read_text(encoding="utf-8")
    for guessed in ('"email_normalized":', '"loyalty_card_no":', "_RECORD_KEY_COLUMNS"):
        assert guessed not in privacy
