"""The dbt runner: one ``dbt`` command on ``dbt_project/`` as of one logical date, for this home.

It knows how to call dbt, not what a night builds (that is :mod:`cdp.warehouse`, the stage). dbt runs
in-process through its programmatic API (``dbtRunner``). Every path comes from
:class:`cdp.config.Settings`: the DuckDB file (``CDP_WAREHOUSE``), the lake the sources read
(``CDP_LAKE``), dbt's target folder (manifest, compiled SQL, docs) and its logs. dbt never writes into
the repository. Failures raise :class:`WarehouseBuildError` naming the failing nodes; messages carry
node names, statuses and counts, and quoted values from database errors are redacted so that no
personal data reaches logs or exceptions.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

from cdp.config import DBT_PROJECT_DIR, Settings
from cdp.engines import check_engine, connect, spark_session
from cdp.lake import is_remote, uri
from cdp.market import market_of
from cdp.project import dbt_env, normalised_suppression_file, project_name
from cdp.suppression import write_normalised_suppressions

log = logging.getLogger(__name__)
_progress = logging.getLogger("cdp.dbt")
# Statuses dbt reports for a node that did not succeed (run results of models/seeds/tests/unit tests).
_FAILED = {"error", "fail", "runtime error"}
_QUOTED = re.compile(r"'[^']*'")


class WarehouseBuildError(RuntimeError):
    """``dbt build`` failed; ``failures`` lists (node, status, message) without personal data."""

    def __init__(self, run_date: date | None, failures: list[dict[str, str]], detail: str = "") -> None:
        self.run_date = run_date
        self.failures = failures
        lines = [f"{f['node']} [{f['status']}]: {f['message']}" for f in failures]
        when = f" for {run_date.isoformat()}" if run_date else ""
        head = f"dbt failed{when}: {len(failures)} node(s) failed" if failures else f"dbt failed{when}"
        super().__init__("\n".join([head, *lines, *([detail] if detail else [])]))


@dataclass
class BuildResult:
    """What a build did: counts per status, per node timings and where dbt put its artefacts."""

    run_date: str
    success: bool
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    target_path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Vars the models read only when they are compiled, never while dbt parses (each falls back to a
# default at parse time): the parse, and dbt's partial parsing, never see them, so a new value costs
# no re-parse. run_date changes every night; segments (the export's checked segment definitions,
# exports.publish) whenever a marketer edits one, and only the export passes them.
COMPILE_TIME_VARS = ("run_date", "segments")


def dbt_args(
    settings: Settings,
    command: list[str],
    run_date: date | None = None,
    variables: dict[str, Any] | None = None,
) -> list[str]:
    """The dbt CLI arguments for ``command`` with this home's paths (usable from a shell too).
    ``variables``: more vars, of :data:`COMPILE_TIME_VARS` only (others would change the parse)."""
    args = [
        *command,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(settings.dbt_target_dir),
        "--log-path",
        str(settings.logs / "dbt"),
        # Nothing of dbt's on the console (not even its tracebacks): our step lines and one-line errors
        # say what happened, each node's progress is logged on cdp.dbt (_log_progress), and dbt's own
        # lines, errors included, go to <home>/logs/dbt/dbt.log.
        "--log-level",
        "none",
        "--log-level-file",
        "info",
    ]
    if command[0] not in ("deps", "clean"):
        args += ["--target", settings.engine]
    # The home's market (cdp/markets/*.yml): time zone, gender words, postcode area, currency.
    unknown = sorted(set(variables or {}) - set(COMPILE_TIME_VARS))
    if unknown:
        raise ValueError(f"vars {unknown} would change dbt's parse; compile-time vars: {COMPILE_TIME_VARS}")
    project_vars: dict[str, Any] = {**market_of(settings).dbt_vars(), **(variables or {})}
    if run_date is not None:
        project_vars["run_date"] = run_date.isoformat()
    return [*args, "--vars", json.dumps(project_vars, ensure_ascii=False)]


def build_step(
    settings: Settings,
    run_date: date,
    selectors: list[str],
    extra: list[str],
    unit_tests: bool,
    data_tests: bool | Collection[str],
    keep_claims: bool = False,
    variables: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One ``dbt build`` invocation; raises :class:`WarehouseBuildError` naming the failed nodes.
    ``keep_claims``: see :func:`invoke`; ``variables``: compile-time vars (:func:`dbt_args`)."""
    command = ["build"]
    if selectors:
        command += ["--select", *selectors]
    if not isinstance(data_tests, bool):
        # No test comes with its model (indirect selection): the selectors name the ones to run.
        command += ["--indirect-selection", "empty"]
    command += extra
    if not unit_tests:
        command += ["--exclude-resource-type", "unit_test"]
    if not data_tests:
        command += ["--exclude-resource-type", "test"]
    # dbt would write manifest.json again after the run (2 MB at 67 models, and graph.gpickle): the
    # parse already wrote it; run_results.json, the one artefact of the run, is written below.
    command += ["--no-write-json"]
    result = invoke(settings, dbt_args(settings, command, run_date, variables), keep_claims)
    if hasattr(result.result, "write"):
        result.result.write(str(settings.dbt_target_dir / "run_results.json"))
    nodes = _node_results(result.result)
    failures = [
        {"node": n["node"], "status": n["status"], "message": n["message"]}
        for n in nodes
        if n["status"] in _FAILED
    ]
    if failures:
        _name_null_columns(settings, result.result, failures)
    if not result.success or failures:
        raise WarehouseBuildError(run_date, failures, _redact(str(result.exception or "")))
    return nodes


def data_tests_on(settings: Settings, models: Collection[str]) -> list[str]:
    """Names of the data tests whose models are all among ``models`` (dbt model names)."""
    wanted = {f"model.{project_name()}.{name}" for name in models}
    prepare(settings)
    with _environ(dbt_env(settings)):
        manifest = _parsed_manifest(settings, [], read_only=True)
    names = []
    for node in manifest.nodes.values():
        if node.resource_type != "test":
            continue
        parents = [p for p in node.depends_on.nodes if p.startswith("model.")]
        if parents and set(parents) <= wanted:
            names.append(node.name)
    return sorted(names)


def upstream_models(settings: Settings, models: Collection[str]) -> set[str]:
    """Names of ``models`` and of every model they read, directly or not (dbt's ``+model``)."""
    project = project_name()
    prepare(settings)
    with _environ(dbt_env(settings)):
        manifest = _parsed_manifest(settings, [], read_only=True)
    todo, seen = [f"model.{project}.{name}" for name in models], set()
    while todo:
        unique_id = todo.pop()
        if unique_id in seen or unique_id not in manifest.nodes:
            continue
        seen.add(unique_id)
        todo += [p for p in manifest.nodes[unique_id].depends_on.nodes if p.startswith("model.")]
    return {unique_id.split(".")[-1] for unique_id in seen}


# What the builds of this home left current: node -> run date, inputs key, tested, parents. Written by
# build() after a build that succeeded with its inputs unchanged; removed before any dbt command that
# writes tables (a failed or foreign-selected build leaves nothing claimed).
_BUILT_FILE = "cdp_built.json"
_MATERIALISED = ("model.", "seed.", "snapshot.")


#: Where the warehouse keeps tables (not views over the lake, which cdp forget scrubs in the lake itself).
_TABLE_MATERIALISATIONS = ("table", "incremental", "snapshot")


def personal_columns(settings: Settings) -> dict[str, dict[str, dict[str, str]]]:
    """The catalogue of personal data: ``"schema.table"`` -> column -> its ``meta`` (``pii``: the kind,
    ``pii_form``: plain unless masked or hashed), as the dbt YAML declares it (dbt_project/README.md),
    for every table the warehouse holds: models materialised as tables, snapshots, and the sources
    the pipeline writes into the warehouse (``ops``). Erasure reads this instead of guessing by name.
    """
    prepare(settings)
    with _environ(dbt_env(settings)):
        manifest = _parsed_manifest(settings, dbt_args(settings, ["parse"]), read_only=True)
    catalogue: dict[str, dict[str, dict[str, str]]] = {}
    for node in manifest.nodes.values():
        if node.resource_type not in ("model", "snapshot"):
            continue
        if node.resource_type == "model" and node.config.materialized not in _TABLE_MATERIALISATIONS:
            continue
        catalogue[f"{node.schema}.{node.alias}"] = _declared(node.columns)
    for source in manifest.sources.values():
        if source.schema == "ops":
            catalogue[f"{source.schema}.{source.identifier}"] = _declared(source.columns)
    return catalogue


def model_columns(settings: Settings, model: str) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """The relation (``schema.alias``) of the model called ``model`` and its declared columns in
    order, each with its ``meta`` (the export reads a destination's file columns from it)."""
    prepare(settings)
    with _environ(dbt_env(settings)):
        manifest = _parsed_manifest(settings, dbt_args(settings, ["parse"]), read_only=True)
    node = manifest.nodes.get(f"model.{project_name()}.{model}")
    if node is None:
        raise KeyError(f"the dbt project has no model {model!r}")
    columns = [(name, dict(column.meta)) for name, column in node.columns.items()]
    return f"{node.schema}.{node.alias}", columns


def _declared(columns: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {name: dict(column.meta) for name, column in columns.items() if column.meta.get("pii")}


def is_current(
    settings: Settings, run_date: date, models: Collection[str], tested: Collection[str] = ()
) -> bool:
    """True when ``models`` and everything they read were built as of ``run_date`` by cdp builds of
    this home, from the project, configuration, landed files and environment as they are now, and
    the data tests of ``tested`` ran on them then (a consumer may read the tables instead of
    rebuilding them: the same build would give the same tables). Conservative: anything unknown
    (an object-store lake, a source that is not a file, a node built by another command) is False.
    """
    path = settings.dbt_target_dir / _BUILT_FILE
    inputs = inputs_key(settings)
    if inputs is None or not path.exists():
        return False
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return False
    identity = _warehouse_identity(settings)
    if identity is None or state.get("warehouse") != identity:
        return False
    built, sources = state.get("nodes", {}), state.get("file_sources", [])
    project = project_name()
    wanted = {f"model.{project}.{name}" for name in models}
    must_be_tested = {f"model.{project}.{name}" for name in tested}
    todo, seen = list(wanted | must_be_tested), set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.startswith("source."):
            if node not in sources:
                return False
            continue
        record = built.get(node)
        if not record or record["run_date"] != run_date.isoformat() or record["inputs"] != inputs:
            return False
        if node in must_be_tested and not record["tested"]:
            return False
        todo += record["parents"]
    return True


def forget_built(settings: Settings) -> None:
    """Claim nothing current any more (before anything changes tables outside a build)."""
    (settings.dbt_target_dir / _BUILT_FILE).unlink(missing_ok=True)


def record_built(
    settings: Settings,
    run_date: date,
    inputs: str,
    nodes: list[dict[str, Any]],
    data_tests: bool | Collection[str],
) -> None:
    manifest, _ = next(reversed(_MANIFEST_CACHE.values()), (None, None))  # the build's own parse
    if manifest is None:
        return
    project = project_name()
    tested = (
        {f"model.{project}.{name}" for name in data_tests} if not isinstance(data_tests, bool) else None
    )
    built: dict[str, Any] = {}
    for result in nodes:
        node = manifest.nodes.get(result["node"])
        if result["status"] != "success" or node is None or not result["node"].startswith(_MATERIALISED):
            continue
        built[result["node"]] = {
            "run_date": run_date.isoformat(),
            "inputs": inputs,
            "tested": bool(data_tests) if tested is None else result["node"] in tested,
            "parents": sorted(getattr(node.depends_on, "nodes", [])),
        }
    # Sources read from the files the inputs key covers (landed data, configuration files); any other
    # (tables written outside dbt: ops, clv_fit) keeps what reads it from ever being current.
    landing = uri(settings.lake, settings.engine).rstrip("/") + "/landing/"
    config = {str(f) for f in (settings.suppression_file, settings.identity_overrides_file,
                               settings.identity_model_file)}
    file_sources = sorted(
        unique_id
        for unique_id, source in manifest.sources.items()
        if str(source.meta.get("location") or "").startswith(landing)
        or str(source.meta.get("location") or "") in config
    )
    state = {"warehouse": _warehouse_identity(settings), "file_sources": file_sources, "nodes": built}
    path = settings.dbt_target_dir / _BUILT_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def _warehouse_identity(settings: Settings) -> list[int] | str | None:
    """The DuckDB file (device, inode: a replaced file is another warehouse). None on Spark: its tables
    live in a metastore this check does not look at, so nothing is claimed current there."""
    if settings.engine != "duckdb":
        return None
    try:
        stat = os.stat(settings.warehouse)
    except OSError:
        return "missing"
    return [stat.st_dev, stat.st_ino]


def inputs_key(settings: Settings) -> str | None:
    """A hash of everything a build reads besides the run date and the warehouse's own tables: dbt and
    adapter versions, the engine, the environment dbt runs with (paths of the lake, the warehouse and
    the configuration files), the project's files (models, macros, seeds, profiles), the configuration
    files' contents and the landed files (path, size, modification time). None for a lake on an object
    store (not listed here: never current)."""
    if is_remote(settings.lake):
        return None
    digest = hashlib.sha256()
    # Not the warehouse's path: the night builds in a copy that is then renamed into place, and
    # _warehouse_identity (the file's inode) already says which warehouse the state belongs to.
    env = sorted((k, v) for k, v in dbt_env(settings).items() if k != "CDP_WAREHOUSE")
    head = [version("dbt-core"), version(f"dbt-{settings.engine}"), settings.engine, env]
    digest.update(json.dumps(head).encode())
    for path, _, _ in _project_state():
        digest.update(f"\0{os.path.relpath(path, DBT_PROJECT_DIR)}\0".encode())
        digest.update(Path(path).read_bytes())
    config = (settings.suppression_file, settings.identity_overrides_file, settings.identity_model_file)
    for path in (Path(__file__).with_name("dbt_lake_plugin.py"), *config):
        digest.update(f"\0{path}\0".encode())
        digest.update(path.read_bytes() if path.exists() else b"missing")
    for root, dirs, files in os.walk(Path(settings.lake) / "landing"):
        dirs.sort()
        for name in sorted(files):
            stat = os.stat(os.path.join(root, name))
            digest.update(f"\0{os.path.join(root, name)} {stat.st_size} {stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def docs_generate(settings: Settings, run_date: date | None = None) -> Path:
    """``dbt docs generate --static`` against the built warehouse; returns the folder holding
    ``index.html`` (served over HTTP: it fetches manifest.json and catalog.json, which browsers refuse
    over ``file://``) and ``static_index.html`` (one file with both inside: opens from disk, offline).

    With ``run_date`` the compiled SQL shown in the docs is that date's; without it dbt skips
    compiling (``--no-compile``) and documents the project and the warehouse catalog as they are.
    """
    command = ["docs", "generate", "--static", *([] if run_date else ["--no-compile"])]
    result = invoke(settings, dbt_args(settings, command, run_date))
    if not result.success:
        raise WarehouseBuildError(run_date, [], _redact(str(result.exception or "docs generate failed")))
    return settings.dbt_target_dir


def invoke(settings: Settings, args: list[str], keep_claims: bool = False) -> Any:
    """Run one dbt command (``args`` from :func:`dbt_args`) in this process, on the parsed project.

    A command that writes tables first withdraws what :func:`is_current` claimed, unless
    ``keep_claims``: for a build whose every node reads what is never claimed (the models after the
    CLV fit read the fit's tables, written outside dbt), so the claims of the build before it stand.
    """
    from dbt.cli.main import dbtRunner

    prepare(settings)
    if settings.engine == "spark":
        spark_session(settings)  # start the JVM here: a missing Java fails in one line, not in dbt
    if args[0] in ("build", "run", "seed", "snapshot") and not keep_claims:
        forget_built(settings)  # tables change: what was current may not be any more
    with _environ(dbt_env(settings)):
        try:
            if args[0] not in _WITH_MANIFEST:
                return dbtRunner(callbacks=[_log_progress]).invoke(args)
            manifest = _parsed_manifest(settings, args)
            if args[0] == "docs":
                # docs generate reads <target>/manifest.json, which only a parse writes: a home that
                # builds on another home's parse (_parsed_manifest) has none of its own.
                from dbt.parser.manifest import write_manifest

                write_manifest(manifest, str(settings.dbt_target_dir))
            return dbtRunner(manifest=manifest, callbacks=[_log_progress]).invoke(args)
        finally:
            _release_duckdb()


def _log_progress(event: Any) -> None:
    """One INFO line per finished node (``cdp.dbt``): the progress in ``cdp.log`` and in the Airflow
    task's log while dbt runs (its own console output is ``--quiet``). Node names, statuses and
    seconds only: never a message, which may quote data."""
    if event.info.name != "NodeFinished":
        return
    node, result = event.data.node_info, event.data.run_result
    _progress.info(
        "%s %s %s in %.1fs", node.resource_type, node.node_name, result.status or node.node_status,
        result.execution_time,
    )


def prepare(settings: Settings) -> None:
    """Folders dbt writes to, and the normalised suppression list it reads (rewritten every time)."""
    check_engine(settings.engine)
    settings.ensure()
    settings.dbt_target_dir.mkdir(parents=True, exist_ok=True)
    (settings.logs / "dbt").mkdir(parents=True, exist_ok=True)
    write_normalised_suppressions(settings, normalised_suppression_file(settings))


# Commands that run on a parsed project: they get the manifest from _parsed_manifest, not their own parse.
_WITH_MANIFEST = {"build", "run", "test", "seed", "snapshot", "compile", "docs"}
# The last few parses in this process, most recently used last: key -> (manifest as parsed, the home
# paths it was parsed with). Each invocation runs on a copy. More than one: a process that alternates
# between keys (a home with a trained identity model and one without, another market, the Spark
# engine) would otherwise parse the whole project again at every switch (31 homes of a test run parsed).
_MANIFEST_CACHE: OrderedDict[tuple[Any, ...], tuple[Any, dict[str, str]]] = OrderedDict()
_MANIFEST_CACHE_SIZE = 4


def _parsed_manifest(settings: Settings, args: list[str], read_only: bool = False) -> Any:
    """The project parsed once per process and environment, reused by every invocation.

    dbt parses the whole project (every model, test and macro: ~4 s, whatever the data size) at the
    start of every command, and its partial parsing (``partial_parse.msgpack``) is void as soon as the
    ``--vars`` differ, so each new ``run_date`` paid a full parse. Here the parse never sees
    ``run_date``: the models read it only when they are compiled (``run_date()`` falls back while
    parsing), so one parse serves every date, and dbt's partial parsing stays valid from night to
    night. In one process, invocations with the same environment and unchanged project files skip
    the parse altogether (the nightly build's second invocation, ``cdp identity train`` and a build
    after it). Each invocation gets its own copy: dbt marks nodes compiled in the manifest it runs on
    (ephemeral CTEs are injected once), so a manifest that ran one date must not run another.

    One parse also serves every home of the process (the test suite builds ~100 homes; a benchmark
    several): a home's paths (:data:`HOME_PATHS`) reach the parsed project only in its sources'
    locations, so a copy for another home gets sources with the paths swapped
    (:func:`_sources_for`) instead of a new parse. A parse in which a home path appears anywhere else
    (a model reading ``env_var('CDP_LAKE')`` at parse time) is not shared.

    ``read_only`` callers (the catalogue readers: a model's relation and columns, the personal-data
    catalogue, a model's data tests) get the parsed manifest itself: they never run it, and read
    neither compiled code nor the sources' paths. Copying ~600 nodes for each of them cost ~1 s a
    call under load, 12 of them an export (the profile in docs/benchmarks.md, session 14).
    """
    from dbt.cli.main import dbtRunner

    parse_vars = _vars_of(args)
    for name in COMPILE_TIME_VARS:
        parse_vars.pop(name, None)
    # The environment dbt and the project read (dbt_env is applied by the caller), the vars, the files.
    env = {k: v for k, v in os.environ.items() if k.startswith(("CDP_", "DBT_"))}
    # Which home paths are set is part of the key (a trained model file enables a model); their
    # values are not, unless the parse showed they reach more than the sources.
    paths = {name: env.pop(name) for name in HOME_PATHS if env.get(name)}
    shared = (settings.engine, tuple(sorted(env.items())), tuple(sorted(paths)),
              json.dumps(parse_vars, sort_keys=True), _project_state())
    for key in (shared, (*shared, tuple(sorted(paths.items())))):
        if key in _MANIFEST_CACHE:
            _MANIFEST_CACHE.move_to_end(key)
            manifest, parsed_for = _MANIFEST_CACHE[key]
            if read_only:
                return manifest
            return _unrun_copy(manifest, _sources_for(manifest, parsed_for, paths))
    command = ["parse", *(["--vars", json.dumps(parse_vars)] if parse_vars else [])]
    started = time.perf_counter()
    result = dbtRunner().invoke(dbt_args(settings, command))
    _progress.info("parsed the dbt project in %.1fs", time.perf_counter() - started)
    if not result.success:
        raise WarehouseBuildError(None, [], _redact(str(result.exception or "dbt parse failed")))
    if not _paths_only_in_sources(result.result, paths):
        shared = (*shared, tuple(sorted(paths.items())))
    _MANIFEST_CACHE[shared] = (result.result, paths)
    while len(_MANIFEST_CACHE) > _MANIFEST_CACHE_SIZE:
        _MANIFEST_CACHE.popitem(last=False)
    return result.result if read_only else _unrun_copy(result.result)


# dbt environment variables (cdp.project.dbt_env) whose values are paths of one home.
HOME_PATHS = (
    "CDP_WAREHOUSE", "CDP_LAKE", "CDP_SUPPRESSION_FILE", "CDP_IDENTITY_OVERRIDES_FILE",
    "CDP_IDENTITY_MODEL_FILE", "CDP_SPARK_DIR",
)


def _paths_only_in_sources(manifest: Any, paths: dict[str, str]) -> bool:
    """Whether no part of the parsed project but its sources holds one of the home's ``paths``."""
    values = [value for value in paths.values() if value]
    if not values:
        return True
    for collection in (manifest.nodes, manifest.macros, manifest.unit_tests, manifest.exposures):
        for item in collection.values():
            text = json.dumps(item.to_dict(omit_none=True), default=str)
            if any(value in text for value in values):
                return False
    return True


def _sources_for(manifest: Any, parsed_for: dict[str, str], paths: dict[str, str]) -> dict[str, Any] | None:
    """The manifest's sources with the paths of the home it was parsed for replaced by ``paths`` (the
    same variables are set in both: they are part of the cache key); None when they are the same."""
    swaps = {parsed_for[name]: paths[name] for name in paths if parsed_for[name] != paths[name]}
    if not swaps:
        return None
    pattern = re.compile("|".join(re.escape(old) for old in sorted(swaps, key=len, reverse=True)))

    def swapped(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(lambda match: swaps[match.group(0)], value)
        if isinstance(value, dict):
            return {key: swapped(item) for key, item in value.items()}
        if isinstance(value, list):
            return [swapped(item) for item in value]
        return value

    return {
        unique_id: type(source).from_dict(swapped(source.to_dict(omit_none=False)))
        for unique_id, source in manifest.sources.items()
    }


def _unrun_copy(manifest: Any, sources: dict[str, Any] | None = None) -> Any:
    """A manifest sharing the parsed macros, sources and lookups, with its own copy of the nodes and
    unit tests (what running a command mutates: compiled code, injected CTEs), and ``sources`` when
    given (another home's). Not ``copy.copy``: dbt's ``Manifest.__reduce_ex__`` passes its fields out
    of order (1.11), so pickle and copy break it."""
    from dbt.mp_context import get_mp_context

    fresh = object.__new__(type(manifest))
    fresh.__dict__.update(manifest.__dict__)
    fresh.nodes = copy.deepcopy(manifest.nodes)
    fresh.unit_tests = copy.deepcopy(manifest.unit_tests)
    if sources is not None:
        fresh.sources = sources
        fresh._source_lookup = None  # rebuilt from fresh.sources when first asked
        # The `graph` variable of Jinja (spark__register_external_sources reads graph.sources).
        fresh.flat_graph = {
            **manifest.flat_graph,
            "sources": {key: source.to_dict(omit_none=False) for key, source in sources.items()},
        }
    fresh._lock = get_mp_context().Lock()
    return fresh


def _vars_of(args: list[str]) -> dict[str, Any]:
    """The ``--vars`` of a dbt command line (JSON or YAML, as dbt reads them)."""
    if "--vars" not in args:
        return {}
    return dict(yaml.safe_load(args[args.index("--vars") + 1]) or {})


def _project_state() -> tuple[tuple[str, int, int], ...]:
    """Path, size and modification time of every file of the dbt project: a change means a new parse."""
    state = []
    for root, dirs, files in os.walk(DBT_PROJECT_DIR):
        dirs[:] = sorted(d for d in dirs if d not in ("target", "logs", "dbt_packages"))
        for name in sorted(files):
            stat = os.stat(os.path.join(root, name))
            state.append((os.path.join(root, name), stat.st_size, stat.st_mtime_ns))
    return tuple(state)


def _release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after a command.

    Otherwise a later ``duckdb.connect(warehouse, read_only=True)`` in the same process (exports,
    reports, Great Expectations) fails with "different configuration than existing connections".
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover - another adapter
        return
    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if environment is not None:
        # Best effort: the next command opens a fresh environment anyway.
        with contextlib.suppress(Exception):
            environment.close()


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _name_null_columns(settings: Settings, run_result: Any, failures: list[dict[str, str]]) -> None:
    """Add to a failed ``not_null_columns`` test's message which columns hold nulls and in how many
    rows (names and counts only): dbt's own message only counts the test's rows. The test's compiled
    query runs once more on the warehouse it failed on; a query that fails adds nothing."""
    compiled = {
        item.node.unique_id: item.node.compiled_code
        for item in getattr(run_result, "results", None) or []
        if getattr(getattr(item.node, "test_metadata", None), "name", None) == "not_null_columns"
        and getattr(item.node, "compiled_code", None)
    }
    wanted = [f for f in failures if f["node"] in compiled and f["status"] == "fail"]
    if not wanted:
        return
    try:
        with connect(settings) as warehouse:
            for failure in wanted:
                rows = warehouse.rows(compiled[failure["node"]])
                named = ", ".join(f"{column} ({int(count)} rows)" for column, count in sorted(rows))
                failure["message"] = f"{failure['message']}; null in: {named}"
    except Exception as exc:  # the failure stands as dbt reported it
        log.warning("could not name the null columns of a failed test: %s", type(exc).__name__)


def _node_results(run_result: Any) -> list[dict[str, Any]]:
    nodes = []
    for item in getattr(run_result, "results", None) or []:
        node = getattr(item, "node", None)
        status = str(getattr(item.status, "value", item.status))
        nodes.append(
            {
                "node": getattr(node, "unique_id", "?"),
                "status": status,
                "seconds": round(float(getattr(item, "execution_time", 0.0) or 0.0), 3),
                "failures": getattr(item, "failures", None),
                "message": _redact(str(item.message or "")) if status in _FAILED else "",
            }
        )
    return nodes


_JAVA_FRAME = re.compile(r"^\s*(at [\w$.<>]+\(|\.\.\. \d+ more)")


def _redact(message: str) -> str:
    """Drop quoted literals (data values in database errors), Java stack frames (Spark's errors carry
    them) and py4j's wrapper line; keep the first lines."""
    text = _QUOTED.sub("'…'", message)
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not _JAVA_FRAME.match(line) and "An error occurred while calling" not in line
    ]
    return " | ".join(lines[:6])[:1000]


def release() -> None:
    """Let go of dbt's locks that multiprocessing tracks, keeping the parse.

    dbt makes its locks from a spawn context: named POSIX semaphores that multiprocessing's resource
    tracker follows until their finalizers run. A process that ends with ``os._exit`` - Airflow's task
    runner after every task - skips those finalizers, and the tracker then prints "There appear to be
    N leaked semaphore objects to clean up at shutdown" on stderr, which Airflow's task log records at
    ERROR. The DAG's tasks call this when their stage is done: the adapters go (dbt registers them
    again per command) and the kept parse gets a plain thread lock instead of its semaphore, so a
    process that runs several tasks (``dag.test``) still parses once; ``cdp run`` needs none of it.
    """
    import gc
    import threading

    from dbt.adapters.factory import reset_adapters

    _release_duckdb()
    reset_adapters()
    for manifest, _ in _MANIFEST_CACHE.values():
        manifest._lock = threading.Lock()  # copies get dbt's own lock again (_unrun_copy)
    gc.collect()
