"""``make bench``: time every stage of the nightly pipeline on generated data and write docs/benchmarks.md.

Each stage runs in its own process so its peak memory (RSS of the process tree, sampled every 0.1 s)
is its own. The figures are what this machine measured; nothing here asserts a target.

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
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

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
    for day in dates:
        for step in [label for stage in STAGES for label in _labels(stage)]:
            print(f"{day} {step} ...", flush=True)
            seconds, peak, out = _measure([python, str(STEP), step, day.isoformat()], env)
            rows = json.loads(out.strip().splitlines()[-1]).get("rows")
            stages.append(Stage(f"{day} {step}", seconds, peak, rows))
            total += seconds
            if step in ("dbt:build", "dbt:value") and day == dates[0]:
                for group, group_seconds in _model_times(settings).items():
                    model_times[group] = model_times.get(group, 0.0) + group_seconds
    score = _score(settings)
    _write(args, stages, total, dates, score, model_times)
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)


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
    args, stages: list[Stage], total: float, dates: list[date], score: str, model_times: dict[str, float]
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
