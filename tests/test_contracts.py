"""Models other systems consume have enforced contracts (issue 20: customer_360, which every segment
filter reads, had none, so a renamed column surfaced as a segment that quietly stopped exporting).
Every model an exposure of type application depends on (the export files) declares every column's
type with the contract enforced; dbt then fails the build when the SQL and the declaration part."""

from __future__ import annotations

import pytest

from cdp import dbt_runner
from cdp.config import Settings
from cdp.project import dbt_env


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory):
    home = Settings.load(home=tmp_path_factory.mktemp("contracts") / "home").ensure()
    dbt_runner.prepare(home)
    with dbt_runner._environ(dbt_env(home)):
        return dbt_runner._parsed_manifest(home, dbt_runner.dbt_args(home, ["parse"]))


def test_models_the_exports_read_have_enforced_contracts(manifest) -> None:
    consumed = {
        node
        for exposure in manifest.exposures.values()
        if str(exposure.type) in ("application", "ExposureType.Application")
        for node in exposure.depends_on.nodes
    }
    assert {"model.cdp.customer_360", "model.cdp.audience_contacts"} <= consumed
    loose = sorted(
        unique_id for unique_id in consumed
        if not manifest.nodes[unique_id].contract.enforced
        or any(not column.data_type for column in manifest.nodes[unique_id].columns.values())
    )
    assert loose == []


def test_the_data_quality_history_contract_is_enforced(manifest) -> None:
    node = manifest.nodes["model.cdp.data_quality_history"]
    assert node.contract.enforced
    assert [c.name for c in node.columns.values()] == [
        "as_of_date", "source", "metric", "metric_value", "source_name",  # the last: a deprecated alias
    ]
