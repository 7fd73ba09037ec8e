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


def _rows(settings: Settings, step: str, output: dict) -> int | None:
    if step.startswith("ingest:"):
        return sum(e["rows_read"] for e in output["entities"].values() if not e.get("derived_from"))
    if step == "dbt:build":
        with duckdb.connect(str(settings.warehouse), read_only=True) as con:
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
    functions = {
        "gate:landed": pipeline.gate_landed,
        "dbt:build": pipeline.build_warehouse,
        "gate:marts": pipeline.gate_marts,
        "export": pipeline.export,
        "publish": pipeline.publish_warehouse,
        "report": pipeline.write_report,
    }
    if step.startswith("ingest:"):
        output = pipeline.ingest_source(settings, run_date, step.split(":", 1)[1])
    else:
        output = functions[step](settings, run_date)
    print(json.dumps({"rows": _rows(settings, step, output)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
