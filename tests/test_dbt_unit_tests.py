"""The dbt unit tests (``unit_tests:`` beside each model's YAML), run once for the whole suite.

dbt unit tests check a model's SQL on fixed inputs, not on the night's data; nightly builds leave them
out (dbt's advice for production), so this is where they run. They need the relations their model
reads to exist, so the tiny hand-made lake of test_dbt_models is landed and built (models, seeds,
snapshot and the unit tests; the data tests are test_dbt_models' business). Part of the fast lane
(``make test-fast``): a broken model's logic shows here in well under a minute.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from test_dbt_models import RUN_DATE, write_day_one, write_day_two

from cdp.config import DBT_PROJECT_DIR, Settings
from cdp.warehouse import build


def _declared_unit_tests() -> set[str]:
    names = set()
    for path in (DBT_PROJECT_DIR / "models").rglob("*.yml"):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        names |= {test["name"] for test in document.get("unit_tests") or []}
    return names


def test_every_dbt_unit_test_passes(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / "home").ensure()
    write_day_one(settings.lake)
    write_day_two(settings.lake)
    result = build(settings, RUN_DATE, unit_tests=True, data_tests=False)  # raises naming a failure
    ran = {
        n["node"].rsplit(".", 1)[-1]: n["status"] for n in result.nodes if n["node"].startswith("unit_test.")
    }
    declared = _declared_unit_tests()
    assert len(declared) >= 8
    assert set(ran) == declared  # every unit test of the project ran, none was left out
    assert set(ran.values()) == {"pass"}
