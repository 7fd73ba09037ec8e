"""One dbt parse serves every home of a process (cdp.dbt_runner._parsed_manifest).

A parse costs 4-12 s whatever the data size, and the test suite builds about a hundred homes, one
parse each before this. A home's paths reach the parsed project only in its sources' locations, so a
second home gets the first one's parse with its own paths swapped into the sources. The danger is a
build of one home reading another's lake: the second home below has other data, and what it builds
must be its own (the same as a build of it alone in a fresh process) while no trace of the first
home's paths reaches its compiled SQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from cdp import dbt_runner, pipeline, warehouse
from cdp.config import SOURCES, Settings
from cdp.dbt_runner import docs_generate
from cdp.generator import generate

DAY = date(2026, 5, 4)
# The models the check below reads, with everything upstream (staging reads the sources, whose paths
# are what a shared parse swaps): 42 of ~117 models, the rest of the project adds nothing to the test.
SELECT = "+dim_customers +fct_orders"
COUNTS = (
    "select (select count(*) from marts.dim_customers), (select count(*) from marts.fct_orders), "
    "(select coalesce(sum(gross_amount), 0) from marts.fct_orders)"
)


def _home(root: Path, name: str, people: int, seed: int) -> Settings:
    raw = root / f"raw-{name}"
    generate(raw, people=people, days=0, end_date=DAY, seed=seed)
    settings = Settings.load(home=root / name, raw=raw).ensure()
    for source in SOURCES:
        pipeline.ingest_source(settings, DAY, source)
    return settings


def _counts(settings: Settings) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(COUNTS).fetchall()


@pytest.mark.slow
def test_a_second_home_builds_its_own_data_on_the_first_homes_parse(tmp_path: Path) -> None:
    first = _home(tmp_path, "first", people=40, seed=1)
    second = _home(tmp_path, "second", people=90, seed=2)
    # The first home parses here, whatever this worker ran before (a parse of another module's home
    # with the same environment would otherwise serve it too, and it would write no parse state).
    dbt_runner._MANIFEST_CACHE.clear()
    warehouse.build(first, DAY, SELECT, data_tests=False)
    warehouse.build(second, DAY, SELECT, data_tests=False)

    # No parse ran for the second home: dbt writes its partial-parse state wherever it parses.
    assert (first.dbt_target_dir / "partial_parse.msgpack").exists()
    assert not (second.dbt_target_dir / "partial_parse.msgpack").exists()

    # What it compiled reads its own lake, never the first home's.
    compiled = "\n".join(p.read_text() for p in (second.dbt_target_dir / "run").rglob("*.sql"))
    assert str(second.lake) in compiled
    assert str(first.home) not in compiled

    # And what it built is what a build of it alone (a fresh process, its own parse) gives.
    alone = Settings.load(home=tmp_path / "alone", raw=second.raw).ensure()
    script = (
        "import sys; from datetime import date; from cdp import pipeline, warehouse; "
        "from cdp.config import SOURCES, Settings\n"
        "s = Settings.load(home=sys.argv[1], raw=sys.argv[2]).ensure()\n"
        "day = date.fromisoformat(sys.argv[3])\n"
        "[pipeline.ingest_source(s, day, source) for source in SOURCES]\n"
        "warehouse.build(s, day, sys.argv[4], data_tests=False)\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(alone.home), str(second.raw), DAY.isoformat(), SELECT],
        check=True, timeout=600,
    )
    assert _counts(second) == _counts(alone)
    assert _counts(second) != _counts(first)

    # dbt docs of the second home: docs generate reads the manifest.json a parse writes, which the
    # second home never ran (cdp docs failed with "No such file or directory" after a shared parse).
    folder = docs_generate(second)
    static = (folder / "static_index.html").read_text(encoding="utf-8")
    assert "customer_360" in static
    assert str(first.home) not in static
