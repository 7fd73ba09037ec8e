"""The lake's storage: a local folder (the default, ``<home>/lake``) or an object store (``CDP_LAKE=s3://…``).

Everything that reads or writes landed Parquet, quarantine files and manifests goes through these few
functions, so ingest, the gates, the metrics, ``cdp forget`` and the report do not care where the lake
is. A local lake is a ``pathlib.Path``; an object-store lake is a ``upath.UPath`` (fsspec; ``s3fs`` for
S3, credentials and ``AWS_ENDPOINT_URL`` from the usual AWS environment), which has the same path API.

Atomicity differs by storage and is kept where each storage gives it: locally a file is written beside
its target and renamed over it (``os.replace``); on an object store one PUT of a whole object is atomic
(readers see the old or the new object, never half of one), so objects are written in place.

DuckDB reads an object-store lake through the same fsspec filesystem (registered on the connection,
here and in dbt by :mod:`cdp.dbt_lake_plugin`); Spark reads it through Hadoop's S3A filesystem
(``s3a://``), which the cluster provides (``hadoop-aws``; see docs/scaling.md).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from datetime import date

    import pyarrow as pa

    from cdp.config import Settings

# --------------------------------------------------------------------------------------------------
# Layout: the one place that says where landed data, quarantined rows and manifests live
# (ingest writes there; the gates, metrics, erasure, retention, the report and dbt's sources read).
# --------------------------------------------------------------------------------------------------

#: Typed rows that passed the contract (what the warehouse reads).
LANDING = "landing"
#: Rows that failed it, with their reason and raw text (kept for ``quarantine.retention_days``).
QUARANTINE = "quarantine"
#: One JSON per source and load date: counts that reconcile what was read with what landed.
MANIFESTS = "manifests"
ZONES = (LANDING, QUARANTINE)
#: Each partition holds one file (written whole, replaced whole).
PART = "part-0.parquet"
#: Deterministic writer settings: the same input gives byte-identical files (no timestamps inside).
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "write_statistics": True}


def entity_root(settings: Settings, zone: str, source: str, entity: str) -> Path:
    """``<lake>/<zone>/<source>/<entity>``: every load date's partition of one entity."""
    if zone not in ZONES:
        raise ValueError(f"unknown lake zone {zone!r}: one of {', '.join(ZONES)}")
    return settings.lake / zone / source / entity


def partition(settings: Settings, zone: str, source: str, entity: str, load_date: date) -> Path:
    """``<lake>/<zone>/<source>/<entity>/load_date=YYYY-MM-DD`` (zone: landing | quarantine)."""
    return entity_root(settings, zone, source, entity) / f"load_date={load_date.isoformat()}"


def partition_file(settings: Settings, zone: str, source: str, entity: str, load_date: date) -> Path:
    """The one Parquet file of a partition."""
    return partition(settings, zone, source, entity, load_date) / PART


def manifest_path(settings: Settings, source: str, load_date: date) -> Path:
    """``<lake>/manifests/<source>/load_date=YYYY-MM-DD.json``."""
    return settings.lake / MANIFESTS / source / f"load_date={load_date.isoformat()}.json"


def manifests_of(settings: Settings, load_date: date) -> list[Path]:
    """Every source's manifest for ``load_date`` (sorted by source)."""
    return sorted((settings.lake / MANIFESTS).glob(f"*/load_date={load_date.isoformat()}.json"))


#: URI schemes of object stores the lake may live on (fsspec protocol names).
REMOTE_SCHEMES = ("s3", "s3a", "gs", "gcs", "abfs", "az")
#: Spark's Hadoop filesystems for the fsspec schemes (S3 is ``s3a`` in Hadoop).
SPARK_SCHEMES = {"s3": "s3a"}


def lake_root(value: str | Path) -> Path:
    """The lake's root for a folder or a URI; ``s3a://`` is read as ``s3://`` (one spelling inside)."""
    text = str(value)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if not scheme or scheme == "file":
        return Path(text.removeprefix("file://")).resolve()
    if scheme not in REMOTE_SCHEMES:
        raise ValueError(f"CDP_LAKE {text!r}: use a folder or one of {', '.join(REMOTE_SCHEMES)}:// URIs")
    from upath import UPath

    if scheme == "s3a":
        text = "s3://" + text.split("://", 1)[1]
    # No listings cache: a cached listing (fsspec's default) can miss objects written or listed
    # differently since, and every step must see the lake as it is now.
    return UPath(text.rstrip("/"), use_listings_cache=False)


def is_remote(path: Path) -> bool:
    """True for an object-store path (a ``UPath`` with a non-local protocol)."""
    return getattr(path, "protocol", "") not in ("", "file", "local")


def uri(path: Path, engine: str = "duckdb") -> str:
    """The path as the engine spells it: a local path, ``s3://…`` for DuckDB, ``s3a://…`` for Spark."""
    text = str(path)
    if engine == "spark" and is_remote(path):
        scheme, rest = text.split("://", 1)
        return f"{SPARK_SCHEMES.get(scheme, scheme)}://{rest}"
    return text


def relative(path: str | Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form (manifest paths; the same on every storage)."""
    return Path(str(path)).relative_to(Path(str(root))).as_posix()


def _arrow(path: Path) -> tuple[str, Any]:
    """(path, filesystem) for pyarrow: fsspec filesystems are accepted by pyarrow as they are."""
    return (path.path, path.fs) if is_remote(path) else (str(path), None)


def read_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    import pyarrow.parquet as pq

    where, fs = _arrow(path)
    return pq.read_table(where, columns=columns, filesystem=fs)


def read_schema(path: Path) -> pa.Schema:
    import pyarrow.parquet as pq

    where, fs = _arrow(path)
    return pq.read_schema(where, filesystem=fs)


def write_table(path: Path, table: pa.Table, **options: Any) -> None:
    """Write one Parquet file; readers see the old file or the new one, never a partial one."""
    import pyarrow.parquet as pq

    _write_atomic(path, lambda out: pq.write_table(table, out, **options))


def write_text(path: Path, text: str) -> None:
    """Write a small text file (a manifest) atomically."""
    _write_atomic(path, lambda out: out.write(text.encode("utf-8")))


def _write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Run ``write`` on a binary handle so that readers of ``path`` see the old file or the new one:
    one object, published when its upload completes, on an object store; locally a file beside the
    target (not matched by ``*.parquet`` globs) renamed over it."""
    if is_remote(path):
        with path.open("wb") as out:
            write(out)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as out:
            write(out)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def publish_file(staged: Path, target: Path) -> None:
    """Put a file staged on local disk at ``target`` (rename locally, one upload on an object store),
    then drop anything else in ``target``'s folder: the partition holds exactly this file."""
    if is_remote(target):
        target.fs.put_file(str(staged), target.path)
        staged.unlink()
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
    for other in target.parent.iterdir():
        if other.name != target.name:
            remove(other)


def remove(path: Path) -> None:
    """Delete a file or a folder with everything in it."""
    if is_remote(path):
        path.fs.rm(path.path, recursive=True)
    elif path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def staging_root(lake: Path, cache: Path) -> Path:
    """Where ingest stages files before publishing: inside a local lake (so the rename is on one
    filesystem), else in the home's cache folder."""
    return cache / "lake-staging" if is_remote(lake) else lake / ".tmp"


def register_duckdb(con: Any, path: Path) -> None:
    """Let a DuckDB connection read ``path``'s object store (fsspec; DuckDB's httpfs not needed)."""
    if is_remote(path) and path.protocol not in con.list_filesystems():
        con.register_filesystem(path.fs)
