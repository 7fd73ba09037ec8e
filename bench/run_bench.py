"""``make bench``: time every stage of the nightly pipeline on generated data and write docs/benchmarks.md.

Each stage runs in its own process so its peak memory (RSS of the process tree, sampled every 0.1 s)
is its own. The figures are what this machine measured; nothing here asserts a target.

Per night it also reports the slowest dbt nodes (from dbt's run_results.json of each dbt stage) and
the night's I/O lower bound, measured in the same run: DuckDB reading every raw file of the drop and
writing it as Parquet, then scanning those Parquet files once. The ratio night / bound says how far
the whole night is from what reading and writing the data costs (issue #24).

    python bench/run_bench.py --people 1000000 [--days 1] [--home /tmp/cdp-bench] [--keep]

`make bench` then runs bench/identity_accuracy.py (IDENTITY_PEOPLE, default 20,000) and
bench/identity_benchmark.py (FEBRL4 vs Splink); bench/identity_scale.py (1M people) runs on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _doc import machine, split_identity_section  # noqa: E402  (bench/ is on sys.path: this script's folder)

from cdp.config import SOURCES, Settings  # noqa: E402
from cdp.stages import STAGES  # noqa: E402
from cdp.stages import Stage as PipelineStage  # noqa: E402

END_DATE = date(2026, 11, 15)
STEP = Path(__file__).with_name("_step.py")


@dataclass
class Stage:
    name: str
    seconds: float
    peak_rss_mb: float
    rows: int | None = None
    unit: str = "rows"

    @property
    def rate(self) -> str:
        return f"{self.rows / self.seconds:,.0f}" if self.rows and self.seconds else "-"


def _measure(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    started = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    handle = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = handle.memory_info().rss + sum(c.memory_info().rss for c in handle.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"stage failed: {' '.join(args[1:])}\n{err[-4000:]}")
    return seconds, peak / 2**20, out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=1, help="nightly drops after the history drop")
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the generated data and warehouse")
    args = parser.parse_args()

    home = args.home.resolve()
    shutil.rmtree(home, ignore_errors=True)
    settings = Settings.load(home=home, raw=home / "raw").ensure()
    env = dict(os.environ, CDP_HOME=str(settings.home), CDP_RAW=str(settings.raw))
    python = sys.executable
    stages: list[Stage] = []

    print(f"generating {args.people:,} people ...", flush=True)
    seconds, peak, _ = _measure(
        [python, "-m", "cdp.cli", "generate", "--out", str(settings.raw), "--people", str(args.people),
         "--days", str(args.days), "--end-date", END_DATE.isoformat(), "--seed", "1"],
        env,
    )
    summary = json.loads((settings.raw / "_truth" / "summary.json").read_text())
    lines = summary["receipt_lines"]
    stages.append(Stage("generate", seconds, peak, lines, "receipt lines"))

    dates = [END_DATE - timedelta(days=args.days - i) for i in range(args.days + 1)]
    total = 0.0
    model_times: dict[str, float] = {}
    nights: list[Night] = []
    for day in dates:
        night = Night(day)
        for step in [label for stage in STAGES for label in _labels(stage)]:
            print(f"{day} {step} ...", flush=True)
            seconds, peak, out = _measure([python, str(STEP), step, day.isoformat()], env)
            rows = json.loads(out.strip().splitlines()[-1]).get("rows")
            stages.append(Stage(f"{day} {step}", seconds, peak, rows))
            total += seconds
            night.seconds += seconds
            night.peak_rss_mb = max(night.peak_rss_mb, peak)
            if step in ("dbt:identity", "dbt:build", "dbt:value"):
                night.nodes += _node_times(settings)
                if day == dates[0]:
                    for group, group_seconds in _model_times(settings).items():
                        model_times[group] = model_times.get(group, 0.0) + group_seconds
        print(f"{day} I/O lower bound ...", flush=True)
        night.io_seconds, night.io_rows = io_lower_bound(settings.raw, day, settings.cache / "io-bound")
        nights.append(night)
    score = _score(settings)
    _write(args, stages, total, dates, score, model_times, nights)
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)


@dataclass
class Night:
    """One date's whole night: its stages' wall time and peak, its dbt nodes, its I/O lower bound."""

    day: date
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    nodes: list[tuple[str, float]] = field(default_factory=list)
    io_seconds: float = 0.0
    io_rows: int = 0

    @property
    def ratio(self) -> str:
        return f"{self.seconds / self.io_seconds:,.0f}x" if self.io_seconds else "-"


def io_lower_bound(raw: Path, day: date, scratch: Path) -> tuple[float, int]:
    """Seconds DuckDB takes to read every raw file of ``day``'s drop and write it as Parquet, plus one
    scan of those Parquet files, and the rows read: what any pipeline over this drop has to pay. Run
    in this process after the night (the files are in the page cache for both, as for the night)."""
    files = sorted(
        f for f in raw.glob(f"*/{day.isoformat()}/*")
        if f.is_file() and f.suffix in (".csv", ".jsonl", ".json")
    )
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    rows = 0
    started = time.perf_counter()
    with duckdb.connect() as con:
        for number, path in enumerate(files):
            # Drops carry broken lines on purpose (ingest quarantines them): skipped here, still read.
            reader = {
                ".csv": "read_csv('{}', ignore_errors = true)",
                ".jsonl": "read_json('{}', format = 'newline_delimited', ignore_errors = true)",
                ".json": "read_json('{}', ignore_errors = true)",
            }[path.suffix].format(path)
            target = scratch / f"{number}.parquet"
            con.execute(f"copy (select * from {reader}) to '{target}' (format parquet)")
        for target in sorted(scratch.glob("*.parquet")):
            rows += con.execute(f"select count(*) from read_parquet('{target}')").fetchall()[0][0]
    seconds = time.perf_counter() - started
    shutil.rmtree(scratch, ignore_errors=True)
    return seconds, rows


def _node_times(settings: Settings) -> list[tuple[str, float]]:
    """(node, seconds) of the dbt invocation that just ran (its run_results.json)."""
    results = json.loads((settings.dbt_target_dir / "run_results.json").read_text())["results"]
    times = []
    for result in results:
        kind, _project, name = result["unique_id"].split(".")[:3]
        times.append((f"{kind} {name}", float(result.get("execution_time") or 0.0)))
    return times


def _labels(stage: PipelineStage) -> list[str]:
    return [stage.label.format(source=s) for s in SOURCES] if stage.per_source else [stage.label]


def _model_times(settings: Settings) -> dict[str, float]:
    """Seconds per model group in the first (history) dbt build, from dbt's run_results.json."""
    results = json.loads((settings.dbt_target_dir / "run_results.json").read_text())["results"]
    groups: dict[str, float] = {}
    for result in results:
        unique_id = result["unique_id"]
        if unique_id.startswith("model."):
            name = unique_id.split(".")[-1]
            group = (
                "CLV models" if "clv" in name
                else "value marts" if name.startswith(("customer_", "lifecycle_", "int_order_lines"))
                and name not in ("customer_identity_map", "customer_rfm")
                else "identity" if "identity" in name
                else name.split("_")[0] + " models"
            )
        elif unique_id.startswith(("test.", "unit_test.")):
            group = "dbt tests"
        else:
            group = "seeds"
        groups[group] = groups.get(group, 0.0) + float(result.get("execution_time") or 0.0)
    return dict(sorted(groups.items(), key=lambda item: -item[1]))


def _score(settings: Settings) -> str:
    from cdp.evaluate import score_identity

    return str(score_identity(settings.warehouse, settings.raw / "_truth"))


def _write(
    args,
    stages: list[Stage],
    total: float,
    dates: list[date],
    score: str,
    model_times: dict[str, float],
    nights: list[Night],
) -> None:
    peak = max(s.peak_rss_mb for s in stages[1:])
    lines = [
        f"## {args.people:,} people, {len(dates)} drops ({dates[0]} history drop .. {dates[-1]})",
        "",
        f"- Machine: {machine(duckdb_version=False)}",
        f"- Measured: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- Pipeline wall time (all drops, generation excluded): **{total:,.1f} s**; "
        f"peak memory of any stage: **{peak:,.0f} MiB**",
        f"- Identity resolution vs truth: {score}",
        "",
        "| stage | seconds | rows | rows/s | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {s.name} | {s.seconds:,.1f} | {'-' if s.rows is None else f'{s.rows:,}'} | {s.rate} | "
            f"{s.peak_rss_mb:,.0f} |"
            for s in stages
        ],
        "",
        "Per night: the whole night (every stage, ingest to report) against its I/O lower bound, DuckDB "
        "reading the drop's raw files into Parquet and scanning them once, measured in the same run:",
        "",
        "| night | seconds | peak RSS (MiB) | I/O lower bound (s) | raw rows | night / bound | dbt nodes |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {n.day}{' (history)' if n.day == dates[0] else ''} | {n.seconds:,.1f} | "
            f"{n.peak_rss_mb:,.0f} | {n.io_seconds:,.1f} | {n.io_rows:,} | {n.ratio} | {len(n.nodes)} |"
            for n in nights
        ],
        "",
        *[
            line
            for n in nights
            for line in (
                f"Slowest 10 dbt nodes on {n.day} (seconds; both dbt stages):",
                "",
                "| node | seconds |",
                "|---|---:|",
                *[f"| {name} | {sec:,.1f} |" for name, sec in sorted(n.nodes, key=lambda x: -x[1])[:10]],
                "",
            )
        ],
        "dbt build of the history drop by model group (sum of node execution times; 2 threads run in "
        "parallel, so the sum exceeds the wall time):",
        "",
        "| group | seconds |",
        "|---|---:|",
        *[f"| {group} | {seconds:,.1f} |" for group, seconds in model_times.items()],
        "",
    ]
    section = "\n".join(lines)
    header = (
        "# Benchmarks\n\nWritten by `make bench`: `bench/run_bench.py` (pipeline runs, newest first, after "
        "the identity section), then `bench/identity_accuracy.py` and `bench/identity_benchmark.py` (each "
        "rewrites its own sub-section of \"Identity resolution\"). Rows are the rows a stage read (ingest: "
        "raw rows; dbt: receipt and order lines in staging).\n\n"
    )
    old = args.out.read_text() if args.out.exists() else ""
    identity, rest = split_identity_section(old)  # stays on top; its scripts rewrite it
    previous = rest[rest.find("\n## ") + 1:] if "\n## " in rest else ""
    args.out.write_text(header + (identity + "\n" if identity else "") + section + "\n" + previous)
    print(section)


if __name__ == "__main__":
    main()
