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

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cdp.config import DBT_PROJECT_DIR, ENGINES

if TYPE_CHECKING:
    import pyarrow as pa

    from cdp.config import Settings

# Statements `cdp query` accepts: reading only (the marts are the pipeline's output, not a scratchpad).
_READ_ONLY = re.compile(r"^\s*(select|with|show|describe|desc|explain|values|from|table)\b", re.IGNORECASE)


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


def require_duckdb(settings: Settings, step: str) -> None:
    """Steps not yet ported to Spark stop with one clear line instead of opening a DuckDB file."""
    if settings.engine != "duckdb":
        raise EngineUnavailable(
            f"{step} runs on the duckdb engine only for now (this run: {settings.engine}); "
            "see docs/scaling.md for what runs on Spark"
        )


def spark_env(settings: Settings) -> dict[str, str]:
    """Environment the Spark target of profiles.yml reads (warehouse folder, metastore)."""
    return {"CDP_SPARK_DIR": str(settings.home / "spark")}


def spark_conf(settings: Settings) -> dict[str, str]:
    """The Spark target's ``server_side_parameters`` from profiles.yml, rendered for this home."""
    import jinja2
    import yaml

    from cdp.warehouse import dbt_env

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
    for key, value in spark_conf(settings).items():
        builder = builder.config(key, value)
    # dbt-spark forces ANSI mode off for its sessions; the same here, so both read the same results.
    builder = builder.config("spark.sql.ansi.enabled", "false")
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: say so in one line, not a Java stack trace
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineUnavailable(f"Spark did not start ({first}); check Java 17 and JAVA_HOME") from None
    session.sparkContext.setLogLevel("ERROR")
    return session


class Warehouse:
    """A connection to the warehouse of either engine: queries return Arrow tables; small results
    computed in Python (the CLV fit) go back with :meth:`replace_table`."""

    def __init__(self, engine: str, handle: Any) -> None:
        self.engine = engine
        self._handle = handle

    def arrow(self, sql: str) -> pa.Table:
        if self.engine == "spark":
            return self._handle.sql(sql).toArrow()
        return self._handle.sql(sql).to_arrow_table()

    def replace_table(self, schema: str, name: str, frame: Any) -> None:
        """Replace table ``schema.name`` with a small pandas frame (results computed in Python)."""
        import pyarrow as pa

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.engine == "spark":
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

    def tables(self, schema: str) -> list[str]:
        """Table and view names of ``schema``, sorted."""
        if self.engine == "spark":
            rows = self._handle.sql(f"show tables in {schema}").collect()
            return sorted(row["tableName"] for row in rows if not row["isTemporary"])
        rows = self._handle.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1", [schema]
        ).fetchall()
        return [row[0] for row in rows]


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


def read_only_query(settings: Settings, sql: str) -> pa.Table:
    """Run one read-only statement against the marts of ``settings.engine`` (``cdp query``)."""
    statement = sql.strip().rstrip(";").strip()
    if ";" in statement or not _READ_ONLY.match(statement):
        raise QueryRejected("cdp query runs one read-only statement (select, with, show, describe)")
    with connect(settings, read_only=True) as warehouse:
        return warehouse.arrow(statement)
