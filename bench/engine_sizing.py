"""Core-hours of a nightly build at a target size, from the per-node times of an engine bench run.

Reads ``<home>/results.json`` written by ``bench/engine_bench.py`` and splits every dbt node's time
into order/line-driven nodes (they scale with receipt lines) and customer-driven nodes (they scale with
customers and source records), less a fixed cost per node (Spark's job overhead, measured on a tiny
run). Prints the scaled core-seconds per engine: the input of the sizing in docs/scaling.md.

    python bench/engine_sizing.py --home /tmp/cdp-engine-bench-1m
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

# Nodes whose inputs are orders, receipts or their lines (everything else follows customers/records).
ORDER_DRIVEN = re.compile(
    r"transactions|order|receipt|basket|behaviour|lifecycle|rfm|clv|funnel|tier|campaign|spend|product"
    r"|categor|promotion|purchase"
)


def split(times: dict[str, float], fixed_per_node: float) -> dict[str, float]:
    """Variable node time (seconds) per driver: 'lines' and 'customers'."""
    out = {"lines": 0.0, "customers": 0.0}
    for node, seconds in times.items():
        driver = "lines" if ORDER_DRIVEN.search(node.split(".", 2)[-1]) else "customers"
        out[driver] += max(0.0, seconds - fixed_per_node)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--home", type=Path, default=Path("/tmp/cdp-engine-bench-1m"))
    parser.add_argument("--lines", type=float, default=11.7e6, help="receipt lines of the bench run")
    parser.add_argument("--customers", type=float, default=1.25e6, help="customers of the bench run")
    parser.add_argument("--target-lines", type=float, default=5e9)
    parser.add_argument("--target-customers", type=float, default=50e6)
    parser.add_argument(
        "--spark-fixed-per-node", type=float, default=0.57,
        help="Spark seconds per node at a tiny size (3,000 people: 192.8 s of node time / 341 nodes)",
    )
    args = parser.parse_args(argv)
    results = json.loads((args.home / "results.json").read_text())
    line_factor = args.target_lines / args.lines
    customer_factor = args.target_customers / args.customers
    for engine, fixed in (("duckdb", 0.0), ("spark", args.spark_fixed_per_node)):
        variable = split(results[engine]["times"], fixed)
        scaled = variable["lines"] * line_factor + variable["customers"] * customer_factor
        print(
            f"{engine}: variable node time {variable['lines']:.0f} s order-driven + "
            f"{variable['customers']:.0f} s customer-driven; at the target (x{line_factor:.0f} lines, "
            f"x{customer_factor:.0f} customers): {scaled:,.0f} core-s = {scaled / 3600:.1f} core-hours"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
