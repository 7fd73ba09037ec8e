"""The same nights on DuckDB and on Spark (pyspark ``local[2]``) give the same warehouse and files.

Generated data, two nights run on both engines from the same landed lake (dbt build, exports each
night; the Great Expectations mart gate and the data-quality metrics on the last), then compared:
every table of the marts, restricted, snapshots and ops schemas (the same tables, columns and rows;
text, integers, booleans and dates equal, numbers — CLV, probabilities, money — within 1e-9
relative), the same customer_id for every source record, the same gate verdict and the same export
files byte for byte (the second night's include the added/removed deltas against the first), the
same explanation of a customer and the same trained match model. The last night runs twice on Spark
(build, exports, gate): a re-run replaces its date, so Spark's tables and files still equal DuckDB's
single run (what keeps history runs again: the incremental models, the snapshot, the CLV fit, the
export). Then one customer is forgotten on both engines (compared again), and a night with an
unreadable landed file and a broken consent flag show that a failed model or gate publishes nothing
on Spark.
Spark needs Java: when it cannot start, the test fails with the reason (it is never skipped). Data
tests run on the last night only: all of them on DuckDB; on Spark every test whose SQL is its own
(singular tests, each ``expression_is_true``) and one of each other kind (the same macro with another
model's names), since the rows they would check are compared with DuckDB's row by row (~30 nodes
instead of ~260 at ~0.3 s each on a local JVM).
"""

from __future__ import annotations

import json
import math
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from warehouse_rows import without_clock

from cdp import pipeline, warehouse
from cdp.config import SOURCES, Settings
from cdp.dbt_runner import build_step
from cdp.engines import EngineUnavailable, check_engine, connect

pytestmark = pytest.mark.slow

END = date(2026, 6, 10)
DAYS = 1  # history drop + 1 nightly drop: a first build, then an incremental night (ids, histories, snapshot)
SCHEMAS = ("marts", "restricted", "snapshots", "ops")
RELATIVE = 1e-9
RERUN = "config.materialized:incremental resource_type:snapshot"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Both engines' homes and, per engine, the mart gate's result of the last night."""
    from cdp.generator import generate

    try:
        check_engine("spark")
    except EngineUnavailable as exc:
        pytest.fail(f"the Spark engine cannot start here: {exc}")
    raw = tmp_path_factory.mktemp("raw")
    generate(raw, people=600, days=DAYS, end_date=END, seed=7)
    duck = Settings.load(home=tmp_path_factory.mktemp("duckdb"), raw=raw, engine="duckdb").ensure()
    spark = Settings.load(home=tmp_path_factory.mktemp("spark"), raw=raw, engine="spark").ensure()
    for offset in range(DAYS, -1, -1):
        day = END - timedelta(days=offset)
        for source in SOURCES:
            pipeline.ingest_source(duck, day, source)
        # One landing, two warehouses: the Spark home reads a copy of the same lake.
        shutil.rmtree(spark.lake)
        shutil.copytree(duck.lake, spark.lake)
        for settings in (duck, spark):
            _build(settings, day, data_tests=day == END and settings is duck)
            pipeline.export(settings, day)
    tests = _one_test_of_each_kind(spark)
    build_step(spark, END, tests, [], unit_tests=False, data_tests=tests)
    runs = {s.engine: {"settings": s, "gate": pipeline.gate_marts(s, END)} for s in (duck, spark)}
    # A re-run of the date on Spark (no transactions there) replaces, never doubles: compared below
    # with DuckDB's single run (every table, export files). What could double is what keeps history -
    # the incremental models, the snapshot, the CLV fit's runs, the export's ops tables - so that is
    # what runs again; every other model is a table rebuilt whole on any night (~9 nodes, not ~200).
    warehouse.build_models(spark, END, RERUN, data_tests=False)
    warehouse.fit_clv(spark, END)
    warehouse.build_value_models(spark, END, RERUN, data_tests=False)
    pipeline.export(spark, END)
    pipeline.gate_marts(spark, END)
    return runs


def _build(settings: Settings, day: date, data_tests: bool) -> None:
    """The night's dbt stages with the identity fit between its first two (as ``cdp run``)."""
    from cdp.identity.nightly import fit_for_date

    warehouse.build_identity_inputs(settings, day, data_tests=data_tests)
    fit_for_date(settings, day)
    warehouse.build_models(settings, day, data_tests=data_tests)
    warehouse.fit_clv(settings, day)
    warehouse.build_value_models(settings, day, data_tests=data_tests)


# Tests whose SQL differs from one instance to the next: every instance runs on Spark.
OWN_SQL = {"expression_is_true", None}


def _one_test_of_each_kind(settings: Settings) -> list[str]:
    """Names of the data tests Spark runs (module docstring): the parsed project's, read from the
    manifest the night's build wrote."""
    manifest = json.loads((settings.dbt_target_dir / "manifest.json").read_text())
    chosen: dict[str, str] = {}
    names = []
    for node in sorted(manifest["nodes"].values(), key=lambda n: n["unique_id"]):
        if node["resource_type"] != "test":
            continue
        kind = (node.get("test_metadata") or {}).get("name")
        if kind in OWN_SQL:
            names.append(node["name"])
        else:
            chosen.setdefault(kind, node["name"])
    assert {"not_null_columns", "unique", "accepted_values", "relationships"} <= set(chosen), chosen
    return sorted([*names, *chosen.values()])


@pytest.fixture(scope="module")
def homes(runs: dict[str, dict]) -> tuple[Settings, Settings]:
    return runs["duckdb"]["settings"], runs["spark"]["settings"]


def _rows(settings: Settings, table: str, columns: list[str]) -> list[tuple]:
    with connect(settings) as wh:
        frame = wh.arrow(f"select {', '.join(columns)} from {table}").to_pylist()
    rows = [tuple(_normal(row[c]) for c in columns) for row in frame]
    return sorted(rows, key=_sort_key)


def _sort_key(row: tuple) -> tuple:
    """Order rows the same on both engines: numbers rounded well above the tolerance."""
    return tuple(
        (v is None, f"{v:.6g}" if isinstance(v, float) else str(v)) for v in row
    )


def _normal(value: object) -> object:
    """Engine-neutral form: exact decimals and floats as float (compared with a tolerance)."""
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
        return value.replace(tzinfo=None)  # type: ignore[union-attr]
    return value


def _same(left: object, right: object) -> bool:
    if isinstance(left, float) or isinstance(right, float):
        if left is None or right is None:
            return left is right
        a, b = float(left), float(right)  # type: ignore[arg-type]
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=RELATIVE, abs_tol=1e-12)
    return left == right


def _columns(settings: Settings, table: str) -> list[str]:
    with connect(settings) as wh:
        return sorted(wh.arrow(f"select * from {table} limit 0").column_names)


def test_same_tables_on_both_engines(homes: tuple[Settings, Settings]) -> None:
    """Also the intermediate layer's names: no engine leaves working tables behind."""
    duck, spark = homes
    for schema in (*SCHEMAS, "intermediate"):
        with connect(duck) as d, connect(spark) as s:
            assert d.tables(schema) == s.tables(schema), schema


@pytest.mark.parametrize("schema", SCHEMAS)
def test_same_rows_on_both_engines(homes: tuple[Settings, Settings], schema: str) -> None:
    differences = _differences(homes, schema)
    assert not differences, "\n".join(differences)


def _differences(homes: tuple[Settings, Settings], schema: str) -> list[str]:
    """Every table of ``schema`` whose columns or rows differ between the engines."""
    duck, spark = homes
    with connect(duck) as wh:
        tables = wh.tables(schema)
    assert tables, f"no tables in {schema}"
    differences = []
    for name in tables:
        table = f"{schema}.{name}"
        columns = _columns(duck, table)
        assert columns == _columns(spark, table), f"{table}: columns differ"
        left, right = _rows(duck, table, columns), _rows(spark, table, columns)
        if len(left) != len(right):
            differences.append(f"{table}: {len(left)} rows on DuckDB, {len(right)} on Spark")
            continue
        for row_l, row_r in zip(left, right, strict=True):
            unequal = [c for c, a, b in zip(columns, row_l, row_r, strict=True) if not _same(a, b)]
            if unequal:
                differences.append(f"{table}: rows differ in {', '.join(unequal)}")
                break
    return differences


def test_same_customer_for_every_source_record(homes: tuple[Settings, Settings]) -> None:
    duck, spark = homes
    sql = "select record_key, customer_id from marts.customer_identity_map"
    left = dict(_rows(duck, "marts.customer_identity_map", ["record_key", "customer_id"]))
    right = dict(_rows(spark, "marts.customer_identity_map", ["record_key", "customer_id"]))
    assert left, sql
    assert left == right


def test_same_mart_gate_verdict(runs: dict[str, dict]) -> None:
    duck, spark = runs["duckdb"]["gate"], runs["spark"]["gate"]
    assert duck["passed"], duck["critical"]
    assert (spark["passed"], spark["evaluated"], spark["warnings"]) == (
        duck["passed"], duck["evaluated"], duck["warnings"]
    )


def test_same_export_files_byte_for_byte(homes: tuple[Settings, Settings]) -> None:
    duck, spark = homes
    for day in (END - timedelta(days=DAYS), END):
        files = _same_export_files(duck, spark, day)
        assert any(f.name.endswith(".removed.csv") for f in files), day
    # The second night's deltas are real (members joined and left between the nights).
    manifest = json.loads((duck.exports / END.isoformat() / "manifest.json").read_text())
    changes = [
        item["added"] + item["removed"]
        for segment in manifest["segments"].values()
        for item in segment["destinations"].values()
    ]
    assert sum(changes) > 0


def _same_export_files(duck: Settings, spark: Settings, day: date) -> list[Path]:
    """The day's export files (asserted the same names and bytes on both engines)."""
    left, right = duck.exports / day.isoformat(), spark.exports / day.isoformat()
    files = sorted(p.relative_to(left) for p in left.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(right) for p in right.rglob("*") if p.is_file())
    # The manifest's generated_at is when each engine wrote its files: compared without it.
    differ = [str(f) for f in files if without_clock(left / f) != without_clock(right / f)]
    assert not differ, f"{day}: files differ between DuckDB and Spark: {differ}"
    return files


def test_same_explanation_on_both_engines(homes: tuple[Settings, Settings]) -> None:
    """``cdp explain`` of the customer with the most records reads the same on either engine."""
    from cdp.explain import explain

    duck, spark = homes
    with connect(duck) as wh:
        customer_id = wh.rows(
            "select customer_id from marts.customer_identity_map group by customer_id "
            "order by count(*) desc, customer_id limit 1"
        )[0][0]
    left, right = explain(duck, customer_id), explain(spark, customer_id)
    assert len(left.records) > 1
    assert (left.records, left.cluster, left.ignored, left.history) == (
        right.records, right.cluster, right.ignored, right.history
    )
    assert len(left.links) == len(right.links)
    for a, b in zip(left.links, right.links, strict=True):
        assert (a.left, a.right, a.rule, a.accepted, a.rejection_reason, a.agreement) == (
            b.left, b.right, b.rule, b.accepted, b.rejection_reason, b.agreement
        )
        assert _same(a.match_weight, b.match_weight)
        assert _same(a.match_probability, b.match_probability)


def test_same_trained_match_model(homes: tuple[Settings, Settings], tmp_path) -> None:
    """``cdp identity train`` on either engine writes the same parameters file, byte for byte."""
    from cdp.identity.train import train

    duck, spark = homes
    train(duck, tmp_path / "duckdb.csv")
    train(spark, tmp_path / "spark.csv")
    assert (tmp_path / "duckdb.csv").read_bytes() == (tmp_path / "spark.csv").read_bytes()


def test_forget_erases_the_same_rows_on_both_engines(homes: tuple[Settings, Settings]) -> None:
    """``cdp forget`` on Spark (Parquet tables rewritten without the person) leaves the same
    warehouse, lake and export files as on DuckDB (row deletes). Runs last: it changes both homes."""
    from cdp.privacy import ForgetError, forget

    duck, spark = homes
    with connect(duck) as wh:  # an exported customer with several source records
        customer_id = wh.rows(
            "select m.customer_id from marts.customer_identity_map as m "
            "inner join ops.segment_membership as s on s.customer_id = m.customer_id "
            f"where s.run_date = date '{END.isoformat()}' and not s.is_control "
            "group by m.customer_id having count(distinct m.record_key) > 1 order by m.customer_id limit 1"
        )[0][0]
    left, right = forget(duck, customer_id=customer_id), forget(spark, customer_id=customer_id)
    assert left.records > 1
    assert left.export_rows_removed > 0
    assert (left.customers, left.records, left.lake_rows_erased, left.partitions_rewritten) == (
        right.customers, right.records, right.lake_rows_erased, right.partitions_rewritten
    )
    assert left.warehouse_rows_deleted == right.warehouse_rows_deleted
    assert (left.export_rows_removed, left.export_files_rewritten) == (
        right.export_rows_removed, right.export_files_rewritten
    )
    differences = [d for schema in SCHEMAS for d in _differences(homes, schema)]
    assert not differences, "\n".join(differences)
    for day in (END - timedelta(days=DAYS), END):
        _same_export_files(duck, spark, day)
    with pytest.raises(ForgetError, match="no such customer_id"):
        forget(spark, customer_id=customer_id)


def test_a_failed_night_on_spark_publishes_nothing(homes: tuple[Settings, Settings]) -> None:
    """The DuckDB rules on Spark: a model that fails stops everything downstream of it (the marts
    keep the last good night, nothing is exported), and a critical expectation fails the mart gate
    (Great Expectations on Spark DataFrames). Runs last: it changes the Spark home."""
    import expectations
    from cdp.dbt_runner import WarehouseBuildError

    _, spark = homes
    bad_day = END + timedelta(days=1)
    kept = {t: _rows(spark, t, _columns(spark, t)) for t in ("marts.dim_customers", "marts.customer_rfm")}
    members = spark.lake / "landing" / "pos" / "loyalty_members" / f"load_date={bad_day.isoformat()}"
    members.mkdir(parents=True)
    (members / "part-0.parquet").write_bytes(b"not a parquet file")  # an identity input, unreadable
    with pytest.raises(WarehouseBuildError) as failed:
        pipeline.build_identity_inputs(spark, bad_day)
    message = str(failed.value)  # Spark fails while registering the sources, before any model
    assert "loyalty_members/load_date=" in message
    assert "CANNOT_READ_FILE_FOOTER" in message
    assert "at org.apache" not in message, "a Java stack trace in the error"
    for table, rows in kept.items():
        assert _rows(spark, table, _columns(spark, table)) == rows, f"{table} changed by a failed night"
    with connect(spark) as wh:
        assert wh.row(
            f"select count(*) from ops.segment_membership where run_date = date '{bad_day.isoformat()}'"
        ) == (0,)
    assert not (spark.exports / bad_day.isoformat()).exists()

    # Consent broken in the contacts the exports read: the gate stops the night before any export.
    with connect(spark) as wh:
        table = "restricted.audience_contacts"
        frame = wh._handle.table(table)
        frame.selectExpr(
            *[("true as can_email" if c == "can_email" else c) for c in frame.columns]
        ).localCheckpoint(eager=True).write.insertInto(table, overwrite=True)
    with pytest.raises(expectations.GateFailed, match=r"restricted\.audience_contacts"):
        pipeline.gate_marts(spark, END)
