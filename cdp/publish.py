"""Build aside, publish whole: analysts never block a night and never see half of one.

DuckDB allows one writer or many readers per file, per process group: an analyst's open
``duckdb -readonly`` session used to make ``dbt build`` fail ("Conflicting lock"), and a reader during
a build saw tables of two nights. So a night never writes the file readers open:

1. the dbt step copies the published warehouse (``<home>/warehouse/cdp.duckdb``) to the night's build
   file (``<home>/warehouse/build/cdp.duckdb``; a copy, because incremental models, snapshots and the
   identity state carry over from night to night) and builds there;
2. the mart gate, the data-quality metrics and the export's history tables work on the build file;
3. :func:`publish` checkpoints the build file and renames it over the published one — one
   ``rename(2)``, atomic on a local filesystem. A reader that had the old file open keeps reading the
   previous night (the old inode lives until it closes); its next connection sees the new night.

A night that fails before step 3 publishes nothing: the published file is the last good night, and
the next attempt starts again from it (the build file of a failed attempt is discarded). Commands that
change the warehouse outside a night (``cdp forget``) go through :func:`rewrite`: copy, change, rename.

On Spark the tables live in the metastore and are replaced table by table (no file to rename): there
the guarantee is dbt's, per table, and this module does nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cdp.config import Settings

log = logging.getLogger(__name__)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _applies(settings: Settings) -> bool:
    return settings.engine == "duckdb"


def begin(settings: Settings) -> Settings:
    """Start the night's build from the published warehouse; returns settings pointing at it.

    Any build file a failed attempt left is discarded first: every attempt starts from the last good
    night, so a retried or re-run night gives what one clean run gives.
    """
    staged = settings.staged()
    if not _applies(settings):
        return staged
    build, published = settings.build_warehouse, settings.published_warehouse
    build.parent.mkdir(parents=True, exist_ok=True)
    _remove(build)
    if published.exists():
        tmp = build.with_name(f".{build.name}.{os.getpid()}.copy")
        shutil.copyfile(published, tmp)
        if _wal(published).exists():  # a published file is checkpointed; copy a WAL all the same
            shutil.copyfile(_wal(published), _wal(build))
        os.replace(tmp, build)
    return staged


def current(settings: Settings) -> Settings:
    """Settings for the steps between the build and the publication (mart gate, metrics, export): the
    night's build file while one is in progress, else the published warehouse (a warehouse built
    directly, as some tests and tools do)."""
    return in_progress(settings) or settings


def publish(settings: Settings) -> dict[str, str]:
    """Replace the published warehouse with the night's build in one rename (see the module doc)."""
    if not _applies(settings):
        return {"published": "spark metastore (tables replaced by dbt)"}
    build, published = settings.build_warehouse, settings.published_warehouse
    if not build.exists():
        return {"published": "nothing to publish (no build in progress)"}
    _checkpoint(build)
    _fsync(build)
    _remove(_wal(published))  # a WAL beside the new file would be replayed into it
    os.replace(build, published)
    _fsync(published.parent)
    log.info("published the warehouse %s", published)
    return {"published": str(published)}


@contextmanager
def rewrite(settings: Settings) -> Iterator[Settings]:
    """Change the published warehouse without blocking or disturbing its readers: copy, change, rename.

    Yields settings pointing at a private copy; on success the copy replaces the published file. A
    night's build in progress (between Airflow tasks) is changed too by the caller, through
    :func:`in_progress`.
    """
    if not _applies(settings) or not settings.published_warehouse.exists():
        yield settings
        return
    published = settings.published_warehouse
    work = published.parent / "rewrite" / published.name
    work.parent.mkdir(parents=True, exist_ok=True)
    _remove(work)
    shutil.copyfile(published, work)
    try:
        yield settings.with_warehouse(work)
        _checkpoint(work)
        _fsync(work)
        os.replace(work, published)
        _fsync(published.parent)
    finally:
        _remove(work)


@contextmanager
def scratch(settings: Settings, name: str) -> Iterator[Settings]:
    """A private copy of the published warehouse for a command that builds only to read (``cdp
    identity train``); removed afterwards, never published."""
    if not _applies(settings):
        yield settings
        return
    published = settings.published_warehouse
    work = published.parent / name / published.name
    work.parent.mkdir(parents=True, exist_ok=True)
    _remove(work)
    if published.exists():
        shutil.copyfile(published, work)
    try:
        yield settings.with_warehouse(work)
    finally:
        _remove(work)


def in_progress(settings: Settings) -> Settings | None:
    """Settings pointing at a night's build that has not been published yet, if there is one."""
    if _applies(settings) and settings.build_warehouse.exists():
        return settings.staged()
    return None


def _checkpoint(path: Path) -> None:
    """Fold the write-ahead log into the file, so the file alone is the whole warehouse."""
    import duckdb

    with duckdb.connect(str(path)) as con:
        con.execute("checkpoint")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    for candidate in (path, _wal(path)):
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
