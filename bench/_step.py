"""Run one pipeline step for one date in its own process (so the benchmark can see its memory).

Prints one JSON line with the number of rows the step handled.
"""

from __future__ import annotations

import json
import sys
from datetime import date

import duckdb

from cdp import pipeline
from cdp.config import Settings
from cdp.stages import STAGES


def _rows(settings: Settings, step: str, output: dict) -> int | None:
    if step.startswith("ingest:"):
        return sum(e["rows_read"] for e in output["entities"].values() if not e.get("derived_from"))
    if step in ("dbt:identity", "dbt:build", "dbt:value"):
        # The dbt stages build into the night's build file; it is published after the mart gate.
        with duckdb.connect(str(settings.staged().warehouse), read_only=True) as con:
            return con.execute(
                "select (select count(*) from staging.stg_pos__transactions)"
                " + (select count(*) from staging.stg_ecommerce__order_lines)"
            ).fetchone()[0]
    if step == "export":
        return sum(f["rows"] for f in output["files"])
    return None


def main(step: str, day: str) -> None:
    settings = Settings.load().ensure()
    run_date = date.fromisoformat(day)
    # A step is a stage's label (cdp.stages), per-source ones as ingest:<source>.
    for stage in STAGES:
        function = getattr(pipeline, stage.name)
        if stage.per_source and step.startswith(stage.label.split("{")[0]):
            output = function(settings, run_date, step.split(":", 1)[1])
            break
        if step == stage.label:
            output = function(settings, run_date)
            break
    else:
        raise SystemExit(f"unknown step {step!r}")
    print(json.dumps({"rows": _rows(settings, step, output)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
