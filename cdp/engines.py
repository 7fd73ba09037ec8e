"""The warehouse engine: DuckDB (embedded, the default) or Spark (dbt-spark), chosen by configuration.

``CDP_ENGINE=duckdb|spark`` (or ``--engine`` on the commands that touch the warehouse) selects the dbt
target of the same name in ``dbt_project/profiles.yml``; the dbt project is the same for both. Python
code that reads the warehouse (``cdp query``, the engine-equivalence test) goes through
:func:`connect`, which returns Arrow tables on either engine.

Spark runs in-process (pyspark, the profile's ``session`` method) with the profile's own settings:
:func:`spark_conf` renders ``profiles.yml`` so that dbt and this module open the same session (one
JVM per process; ``getOrCreate`` returns the session dbt opened). A cluster uses the ``thrift`` or
``http`` method instead (docs/scaling.md). State of the local session lives in ``<home>/spark``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cdp import lake
from cdp.config import DBT_PROJECT_DIR, ENGINES
from cdp.dialect import Dialect
from cdp.lake import is_remote, uri
from cdp.project import dbt_env, spark_env

if TYPE_CHECKING:
    import pyarrow as pa

    from cdp.config import Settings



class EngineUnavailable(RuntimeError):
    """The chosen engine cannot start here; the message says what is missing and how to fix it."""


class QueryRejected(ValueError):
    """``cdp query`` takes one read-only statement."""


def check_engine(engine: str) -> None:
    """Fail with one clear line when ``engine`` is unknown or cannot run on this machine."""
    if engine not in ENGINES:
        raise EngineUnavailable(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)} (CDP_ENGINE)")
    if engine != "spark":
        return
    try:
        import dbt.adapters.spark  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError:
        raise EngineUnavailable(
            "engine spark needs pyspark and dbt-spark: pip install -e '.[spark]' (make install does)"
        ) from None
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not os.path.exists(java):
        where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "no `java` on PATH"
        raise EngineUnavailable(
            f"engine spark needs Java 17 or later ({where}): install a JDK (e.g. apt install "
            "openjdk-17-jre-headless) or set JAVA_HOME"
        )


def spark_conf(settings: Settings) -> dict[str, str]:
    """The Spark target's ``server_side_parameters`` from profiles.yml, rendered for this home."""
    import jinja2
    import yaml

    env = {**os.environ, **dbt_env(settings), **spark_env(settings)}

    def env_var(name: str, default: str | None = None) -> str:
        if name in env:
            return env[name]
        if default is None:
            raise EngineUnavailable(f"profiles.yml needs the environment variable {name}")
        return default

    text = (DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8")
    rendered = jinja2.Environment(autoescape=False).from_string(text).render(env_var=env_var)
    target = yaml.safe_load(rendered)["cdp"]["outputs"]["spark"]
    return {str(k): str(v) for k, v in target.get("server_side_parameters", {}).items()}


def spark_session(settings: Settings) -> Any:
    """The in-process SparkSession of this home (created with the profile's settings if none runs)."""
    check_engine("spark")
    from pyspark.sql import SparkSession

    (settings.home / "spark").mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.enableHiveSupport()
    conf = spark_conf(settings)
    for key, value in conf.items():
        builder = builder.config(key, value)
    # dbt-spark forces ANSI mode off for its sessions; the same here, so both read the same results.
    builder = builder.config("spark.sql.ansi.enabled", "false")
    if is_remote(settings.lake) and os.environ.get("AWS_ENDPOINT_URL"):
        # An S3-compatible store other than AWS (MinIO, Ceph, a test server): S3A needs its address.
        builder = builder.config("spark.hadoop.fs.s3a.endpoint", os.environ["AWS_ENDPOINT_URL"])
        builder = builder.config("spark.hadoop.fs.s3a.path.style.access", "true")
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM or the cluster did not start: one line, not a Java stack trace
        master = conf.get("spark.master", "local[*]")
        hint = (
            "check Java 17 and JAVA_HOME"
            if master.startswith("local")
            else f"check that the Spark master {master} is reachable (CDP_SPARK_MASTER), and Java 17"
        )
        raise EngineUnavailable(f"Spark did not start ({_java_cause(exc)}); {hint}") from None
    session.sparkContext.setLogLevel("ERROR")
    # pyspark logs every failed statement with the whole JVM stack; callers report the first line.
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    if is_remote(settings.lake):
        _require_object_store(session, settings)
    return session


def _require_object_store(session: Any, settings: Settings) -> None:
    """Spark reads an object-store lake through Hadoop's S3A filesystem (``hadoop-aws``), which
    pyspark does not ship; fail before dbt, in one line, when it is missing."""

    jvm = session._jvm
    try:
        loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
        jvm.java.lang.Class.forName("org.apache.hadoop.fs.s3a.S3AFileSystem", False, loader)
    except Exception:
        raise EngineUnavailable(
            f"the lake is on an object store ({uri(settings.lake, 'spark')}) but this Spark has no S3A "
            "filesystem: add org.apache.hadoop:hadoop-aws (the version of Spark's Hadoop) to "
            "spark.jars.packages in profiles.yml, or use a cluster that ships it (docs/scaling.md)"
        ) from None


class WarehouseError(RuntimeError):
    """A statement failed; the message is the engine's first line (names tables and columns, holds no
    row values)."""


class Warehouse:
    """A connection to the warehouse of either engine, for the Python steps around dbt (gates, exports,
    the CLV fit, ``cdp query``). Queries return Arrow tables; statements are written in the subset
    both engines share, with :attr:`dialect` for the rest. Failures raise :class:`WarehouseError`."""

    def __init__(self, engine: str, handle: Any) -> None:

        self.engine = engine
        self.dialect = Dialect(engine)
        self._handle = handle

    @property
    def spark(self) -> bool:
        return self.engine == "spark"

    def _run(self, sql: str) -> Any:
        with _engine_errors():
            return self._handle.sql(sql)

    def execute(self, sql: str) -> None:
        """A statement without a result (DDL, insert); Spark runs it eagerly too."""
        self._run(sql)

    def arrow(self, sql: str) -> pa.Table:
        relation = self._run(sql)
        with _engine_errors():  # errors found while running (Spark plans lazily)
            return _naive_timestamps(relation.toArrow()) if self.spark else relation.to_arrow_table()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """All rows of a (small, aggregated) query as tuples."""
        table = self.arrow(sql)
        return list(zip(*(column.to_pylist() for column in table.columns), strict=True))

    def row(self, sql: str) -> tuple[Any, ...]:
        """The first row of a query (counts, sums)."""
        rows = self.rows(sql)
        return rows[0] if rows else ()

    def frame(self, sql: str) -> Any:
        """The engine's own dataframe of a query, for Great Expectations' data source of that engine:
        a Spark DataFrame (validated on the cluster) or a pandas frame (DuckDB)."""
        relation = self._run(sql)
        return relation if self.spark else relation.df()

    def register(self, name: str, table: pa.Table) -> None:
        """A temporary view over a small Arrow table (rows computed in Python)."""
        if self.spark:
            self._handle.createDataFrame(table).createOrReplaceTempView(name)
        else:
            self._handle.register(name, table)

    def temp_table(self, name: str, sql: str) -> None:
        """Materialise a query once for several reads (a temp table; a cached view on Spark)."""
        if self.spark:
            self.execute(f"drop view if exists {name}")
            self.execute(f"cache table {name} as {sql}")
        else:
            self.execute(f"create or replace temp table {name} as {sql}")

    def drop_temp_table(self, name: str) -> None:
        """Release a :meth:`temp_table` (Spark keeps cached views for the life of the session)."""
        if self.spark:
            self.execute(f"uncache table if exists {name}")
            self.execute(f"drop view if exists {name}")
        else:
            self.execute(f"drop table if exists {name}")

    def parquet_view(self, name: str, files: list[Path], base: Path) -> None:
        """A temporary view over Parquet files of one hive-partitioned folder (``base``): partition
        columns become columns, and files written under different contract versions are read by name.
        The files may be in a local or an object-store lake (:mod:`cdp.lake`)."""

        if self.spark:
            reader = self._handle.read.option("basePath", lake.uri(base, "spark"))
            reader = reader.option("mergeSchema", "true")
            with _engine_errors():
                reader.parquet(*(lake.uri(f, "spark") for f in files)).createOrReplaceTempView(name)
            return
        lake.register_duckdb(self._handle, base)
        quoted = ", ".join(self.dialect.literal(lake.uri(f)) for f in files)
        self.execute(
            f"create or replace temp view {name} as select * from "
            f"read_parquet([{quoted}], hive_partitioning = true, union_by_name = true)"
        )

    def columns(self, table: str) -> list[str]:
        """Column names of ``table`` in table order (Spark lists partition columns last)."""
        if self.spark:  # from the catalog: no job
            with _engine_errors():
                return list(self._handle.table(table).columns)
        return list(self.arrow(f"select * from {table} limit 0").column_names)

    def ensure_table(self, table: str, columns: list[tuple[str, str]], partition: str | None = None) -> None:
        """Create ``table`` if missing; on Spark as Parquet partitioned by ``partition``."""
        schema = table.split(".", 1)[0]
        self.execute(f"create schema if not exists {schema}")
        body = ", ".join(f"{name} {data_type}" for name, data_type in columns)
        suffix = ""
        if self.spark:
            suffix = " using parquet" + (f" partitioned by ({partition})" if partition else "")
        self.execute(f"create table if not exists {table} ({body}){suffix}")

    def replace_date_slice(self, table: str, run_date: date, select_sql: str) -> None:
        """Replace the rows of ``run_date`` in ``table`` (a ``run_date`` column) by ``select_sql``'s,
        which yields the table's other columns by name. DuckDB deletes and inserts (inside
        :meth:`transaction` when one is open); Spark overwrites the date's partition (Parquet tables
        have no row-level delete)."""
        columns = [c for c in self.columns(table) if c != "run_date"]
        listed = ", ".join(columns)
        day = self.dialect.literal(run_date)
        if self.spark:
            self.execute(
                f"insert overwrite table {table} partition (run_date = {day}) "
                f"select {listed} from ({select_sql}) as replacement"
            )
            return
        self.execute(f"delete from {table} where run_date = {day}")
        self.execute(
            f"insert into {table} (run_date, {listed}) "
            f"select {day}, {listed} from ({select_sql}) as replacement"
        )

    def replace_date_rows(self, table: str, run_date: date, rows: pa.Table) -> None:
        """:meth:`replace_date_slice` with rows computed in Python (an Arrow table of the table's
        columns other than ``run_date``)."""
        view = "_cdp_rows_" + table.replace(".", "_")
        self.register(view, rows)
        self.replace_date_slice(table, run_date, f"select * from {view}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing on DuckDB. Spark has no multi-statement transaction: each statement commits
        on its own, so callers order their writes so that the last one publishes (see exports)."""
        if self.spark:
            yield
            return
        self._handle.execute("begin transaction")
        try:
            yield
        except BaseException:
            self._handle.execute("rollback")
            raise
        self._handle.execute("commit")

    def replace_table(self, schema: str, name: str, frame: Any) -> None:
        """Replace table ``schema.name`` with a small pandas frame (results computed in Python)."""
        import pyarrow as pa

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.spark:
            self._handle.sql(f"create schema if not exists {schema}")
            self._handle.createDataFrame(table).write.mode("overwrite").format("parquet").saveAsTable(
                f"{schema}.{name}"
            )
            return
        self._handle.execute(f"create schema if not exists {schema}")
        self._handle.register("_cdp_replacement", table)
        try:
            self._handle.execute(f"create or replace table {schema}.{name} as select * from _cdp_replacement")
        finally:
            self._handle.unregister("_cdp_replacement")

    def delete_where(self, table: str, predicate: str, matched: int | None = None) -> int:
        """Delete the rows of ``table`` where ``predicate`` is true (a NULL keeps the row, as in SQL's
        ``delete``); returns how many (``matched``, when the caller counted them already). Parquet
        tables on Spark have no row deletes: the kept rows overwrite the whole table (every
        partition: static overwrite)."""
        if matched is None:
            matched = int(self.row(f"select count(*) from {table} where {predicate}")[0])
        if not matched:
            return 0
        if not self.spark:
            self.execute(f"delete from {table} where {predicate}")
            return matched
        # The kept rows are materialised first (a local checkpoint cuts the plan's link to the table's
        # files): Spark refuses to overwrite a table from a plan that still reads it.
        with _engine_errors():
            kept = self._handle.sql(f"select * from {table} where not coalesce(({predicate}), false)")
            kept = kept.localCheckpoint(eager=True)
        conf = self._handle.conf
        mode = conf.get("spark.sql.sources.partitionOverwriteMode", "static")
        conf.set("spark.sql.sources.partitionOverwriteMode", "static")  # a partition may empty out
        try:
            with _engine_errors():
                kept.write.insertInto(table, overwrite=True)
        finally:
            conf.set("spark.sql.sources.partitionOverwriteMode", mode)
        return matched

    def tables(self, schema: str, views: bool = True) -> list[str]:
        """Table (and, unless ``views=False``, view) names of ``schema``, sorted."""
        if self.spark:
            if not self._handle.catalog.databaseExists(schema):
                return []
            return sorted(
                table.name
                for table in self._handle.catalog.listTables(schema)
                if not table.isTemporary and (views or table.tableType != "VIEW")
            )
        kinds = "" if views else " and table_type = 'BASE TABLE'"
        rows = self._handle.execute(
            f"select table_name from information_schema.tables where table_schema = ?{kinds} order by 1",
            [schema],
        ).fetchall()
        return [row[0] for row in rows]


def _java_cause(exc: Exception) -> str:
    """The innermost Java message of a failed session start (py4j wraps it), else Python's first line."""
    cause = getattr(exc, "java_exception", None)
    message = None
    while cause is not None:
        try:
            message = cause.getMessage() or message
            cause = cause.getCause()
        except Exception:  # the gateway itself is gone
            break
    return (message or _first_line(exc)).strip().splitlines()[0][:200]


def _naive_timestamps(table: pa.Table) -> pa.Table:
    """Spark's timestamps arrive zoned (UTC session); DuckDB's are naive UTC: the same form for both."""
    import pyarrow as pa

    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            naive = table.column(index).cast(pa.timestamp(field.type.unit))
            table = table.set_column(index, field.name, naive)
    return table


@contextmanager
def _engine_errors() -> Iterator[None]:
    """Engine errors (duckdb.Error, pyspark's AnalysisException, ParseException ...) become
    :class:`WarehouseError` carrying their first line; anything else passes through."""
    try:
        yield
    except Exception as exc:
        if not _is_engine_error(exc):
            raise
        raise WarehouseError(_first_line(exc)) from None


def _is_engine_error(exc: Exception) -> bool:
    import duckdb

    if isinstance(exc, duckdb.Error):
        return True
    try:
        from pyspark.errors import PySparkException
    except ImportError:
        return False
    return isinstance(exc, PySparkException)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def warehouse_exists(settings: Settings) -> bool:
    """False only for a DuckDB home without a warehouse file yet (Spark reports missing schemas)."""
    return settings.engine != "duckdb" or settings.warehouse.exists()


@contextmanager
def connect(settings: Settings, read_only: bool = True) -> Iterator[Warehouse]:
    """Open the warehouse of ``settings.engine``. The Spark session stays up for the process."""
    check_engine(settings.engine)
    if settings.engine == "spark":
        yield Warehouse("spark", spark_session(settings))
        return
    import duckdb

    if not settings.warehouse.exists():
        raise EngineUnavailable(f"no DuckDB warehouse at {settings.warehouse}: run `cdp run` first")
    with duckdb.connect(str(settings.warehouse), read_only=read_only) as con:
        yield Warehouse("duckdb", con)


def read_only_query(settings: Settings, sql: str, restricted: bool = False) -> pa.Table:
    """Run one read-only statement against the warehouse of ``settings.engine`` (``cdp query``).

    Read-only is enforced by the engine, not by the first keyword: on DuckDB the published file is
    opened ``read_only`` with external access disabled (no ``COPY ... TO``, no ``read_csv`` of any
    path, no ``ATTACH``, no extension installs, whatever the statement wraps them in, ``explain
    analyze`` included). The statement is also parsed (sqlglot) and must be one query, describe or
    show, with nothing inside it that writes; on Spark, which has no such switch, this allow-list is
    the guard. ``restricted.*`` (plain personal data) is refused unless ``restricted`` is set.
    """
    _check_statement(sql, settings.engine, restricted)
    if settings.engine == "spark":
        with connect(settings, read_only=True) as warehouse:
            return warehouse.arrow(sql.strip().rstrip(";"))
    import duckdb

    path = settings.published_warehouse
    if not path.exists():
        raise EngineUnavailable(f"no DuckDB warehouse at {path}: run `cdp run` first")
    config = {"enable_external_access": False}
    with _engine_errors(), duckdb.connect(str(path), read_only=True, config=config) as con:
        relation = con.sql(sql)
        if relation is None:  # a statement without a result set
            import pyarrow as pa

            return pa.table({})
        return relation.to_arrow_table()


# Nodes that change state or reach outside the warehouse, wherever they sit in a statement.
_WRITING = (
    "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Copy", "Command", "Set", "Use",
    "Attach", "Detach", "Install", "Load", "MultitableInserts", "Transaction", "Commit", "Rollback",
    "Pragma", "Export", "Refresh", "Cache", "Uncache", "LoadData", "TruncateTable", "Grant",
)
# Table functions and Spark's path tables that read files directly.
_FILE_READERS = {"read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "read_json", "read_json_auto",
                 "read_ndjson", "read_text", "read_blob", "glob", "read_files", "read_xlsx", "sniff_csv"}
_PATH_TABLES = {"parquet", "csv", "json", "orc", "text", "avro", "delta", "binaryfile"}


def _check_statement(sql: str, engine: str, restricted: bool) -> None:
    """Refuse anything but one read-only statement (see :func:`read_only_query`)."""
    import sqlglot
    from sqlglot import exp

    dialect = "spark" if engine == "spark" else "duckdb"
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except sqlglot.errors.ParseError as exc:
        if engine == "spark":  # no engine-level guard there: what cannot be parsed is not run
            raise QueryRejected(f"cdp query could not parse the statement: {_first_line(exc)}") from None
        # DuckDB reports its own syntax error; the engine's read-only mode is the guard.
        if not restricted and re.search(r"\brestricted\s*\.", sql, re.IGNORECASE):
            raise QueryRejected(_RESTRICTED) from None
        return
    if len(statements) != 1:
        raise QueryRejected("cdp query runs one statement at a time")
    statement = statements[0]
    if not isinstance(statement, (exp.Query, exp.Describe, exp.Show)):
        kind = type(statement).__name__.lower()
        raise QueryRejected(
            f"cdp query runs one read-only statement (select, with, describe, show), not {kind}"
        )
    for node in statement.walk():
        name = type(node).__name__
        if name in _WRITING:
            raise QueryRejected(f"cdp query is read-only: the statement contains {name.lower()}")
        if isinstance(node, exp.Func) and node.sql_name().lower() in _FILE_READERS:
            raise QueryRejected("cdp query reads the warehouse, not files: remove the file-reading function")
        if isinstance(node, exp.Anonymous) and str(node.this).lower() in _FILE_READERS:
            raise QueryRejected("cdp query reads the warehouse, not files: remove the file-reading function")
        if isinstance(node, exp.Table):
            schema = (node.db or "").lower()
            if engine == "spark" and schema in _PATH_TABLES:
                raise QueryRejected("cdp query reads the warehouse, not files: remove the path table")
            if schema == "restricted" and not restricted:
                raise QueryRejected(_RESTRICTED)


_RESTRICTED = (
    "restricted.* holds plain personal data for operators and the export step: add --restricted "
    "to read it (the marts schema has the masked and hashed columns)"
)
