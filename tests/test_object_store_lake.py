"""The lake on an object store (``CDP_LAKE=s3://…``): the whole nightly run lands, gates, builds, exports
and forgets there, and gives what the same run gives with a local lake.

The store is moto's S3 server on loopback (a real HTTP S3 endpoint: s3fs and pyarrow speak the S3 API
to it as they would to AWS or MinIO); nothing in the project is patched.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from warehouse_rows import export_files, mart_rows

from cdp import lake, pipeline
from cdp.config import Settings

BUCKET = "cdp-lake"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
    mp.setenv("AWS_ACCESS_KEY_ID", "test")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "test")
    mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
    mp.delenv("CDP_LAKE", raising=False)
    import fsspec

    fsspec.filesystem("s3", skip_instance_cache=True).mkdir(BUCKET)
    yield f"http://{host}:{port}"
    mp.undo()
    server.stop()


@pytest.fixture(scope="module")
def dates(drop_dates: list[date]) -> list[date]:
    """The history drop and the next day: the nights both lakes ran."""
    return drop_dates[:2]


@pytest.fixture(scope="module")
def homes(
    tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str, first_night: Settings,
    second_night: Settings, dates: list[date],
) -> dict[str, Settings]:
    """The suite's second night (``second_night``: a local lake) run again with an S3 lake, as a
    retailer moving to an object store would: the history night's home (``first_night``) with its lake
    uploaded to the bucket, then the next night run whole on S3 (ingest, gates, dbt reading both
    nights' partitions from the bucket, exports). The history night itself on S3 would cost another
    whole night and prove nothing the second does not."""
    import fsspec

    home = tmp_path_factory.mktemp("homes") / "remote"
    shutil.copytree(  # everything but the lake folder itself (a nested folder named "lake" is kept)
        first_night.home, home, symlinks=True,
        ignore=lambda folder, names: [n for n in names if Path(folder) / n == first_night.lake],
    )
    fsspec.filesystem("s3").put(f"{first_night.lake}/", f"{BUCKET}/lake/", recursive=True)
    remote = Settings.load(home=home, raw=second_night.raw, lake=f"s3://{BUCKET}/lake").ensure()
    pipeline.run(remote, dates[-1])
    return {"local": second_night, "remote": remote}


def _objects(prefix: str) -> list[str]:
    import fsspec

    return sorted(fsspec.filesystem("s3").find(f"{BUCKET}/{prefix}"))


@pytest.mark.slow
def test_nightly_run_on_an_s3_lake_equals_a_local_lake(homes: dict[str, Settings], dates: list[date]) -> None:
    local, remote = homes["local"], homes["remote"]
    assert lake.is_remote(remote.lake)
    assert str(remote.lake) == f"s3://{BUCKET}/lake"
    assert not (remote.home / "lake").exists(), "an S3 lake must not write a local lake folder"
    assert not (remote.cache / "lake-staging").exists() or not any((remote.cache / "lake-staging").iterdir())

    # the same partitions and manifests, in the bucket
    local_files = sorted(
        p.relative_to(local.lake).as_posix() for p in local.lake.rglob("*") if p.is_file()
    )
    remote_files = [key.removeprefix(f"{BUCKET}/lake/") for key in _objects("lake")]
    assert remote_files == local_files
    assert any(f.startswith("quarantine/") for f in remote_files)

    for day in dates:
        for source_manifest in _objects("lake/manifests"):
            if f"load_date={day.isoformat()}" not in source_manifest:
                continue
            name = source_manifest.removeprefix(f"{BUCKET}/lake/")
            remote_doc = json.loads((remote.lake / name).read_text(encoding="utf-8"))
            local_doc = json.loads((local.lake / name).read_text(encoding="utf-8"))
            assert remote_doc["entities"] == local_doc["entities"]  # counts, hashes, relative paths
            for stats in remote_doc["entities"].values():
                assert stats["rows_read"] == stats["rows_landed"] + stats["rows_quarantined"] + stats[
                    "rows_erased"
                ]
                assert lake.read_table(remote.lake / stats["landed"]).num_rows == stats["rows_landed"]
        # the warehouse (built from s3:// through dbt-duckdb) and the exports are the local lake's
        assert mart_rows(remote, day) == mart_rows(local, day)
        assert export_files(remote, day) == export_files(local, day)
    assert mart_rows(remote, dates[-1])["dim_customers"], "no customers built; the test proves nothing"
    assert (remote.reports / dates[-1].isoformat()).exists()


@pytest.mark.slow
def test_forget_rewrites_the_s3_lake(homes: dict[str, Settings], dates: list[date]) -> None:
    from cdp.privacy import ForgetError, forget

    remote = homes["remote"]
    members = remote.lake / "landing" / "pos" / "loyalty_members" / f"load_date={dates[0].isoformat()}"
    emails = [e for e in lake.read_table(members / "part-0.parquet", ["email"]).column(0).to_pylist() if e]
    for email in (e.strip() for e in emails):  # the first member's address that is one person's
        try:
            result = forget(remote, email=email, reason="test")
            break
        except ForgetError as exc:  # a shared address is refused before anything is erased
            if "different customers" not in str(exc):
                raise
    assert result.customers == 1
    assert result.lake_rows_erased.get("landing/pos/loyalty_members", 0) >= 1

    def still_there(key: str) -> bool:
        table = lake.read_table(remote.lake / key.removeprefix(f"{BUCKET}/lake/"))
        return any(
            email.lower() in str(v).lower()
            for name in table.column_names
            for v in table.column(name).to_pylist()
            if isinstance(v, str)
        )

    assert not [key for key in _objects("lake/landing") + _objects("lake/quarantine") if still_there(key)]
    manifest = json.loads(
        (remote.lake / "manifests" / "pos" / f"load_date={dates[0].isoformat()}.json").read_text()
    )
    stats = manifest["entities"]["loyalty_members"]
    assert stats["rows_erased"] >= 1
    assert stats["rows_read"] == stats["rows_landed"] + stats["rows_quarantined"] + stats["rows_erased"]


def test_lake_uri_is_checked_and_spelled_per_engine(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CDP_LAKE"):
        Settings.load(home=tmp_path, lake="ftp://host/lake")
    remote = Settings.load(home=tmp_path, lake="s3a://bucket/lake/")
    assert str(remote.lake) == "s3://bucket/lake"
    assert lake.uri(remote.lake, "spark") == "s3a://bucket/lake"
    assert lake.uri(remote.lake / "landing", "duckdb") == "s3://bucket/lake/landing"
    assert not lake.is_remote(Settings.load(home=tmp_path).lake)
    assert Settings.load(home=tmp_path, lake=tmp_path / "elsewhere").lake == tmp_path / "elsewhere"


@pytest.mark.slow
def test_spark_without_s3a_fails_in_one_line(tmp_path: Path) -> None:
    """pyspark ships no S3A filesystem (hadoop-aws): an S3 lake on Spark stops before dbt, saying so."""
    from cdp.engines import EngineUnavailable, spark_session

    settings = Settings.load(home=tmp_path, lake=f"s3://{BUCKET}/lake", engine="spark")
    with pytest.raises(EngineUnavailable) as failure:
        spark_session(settings)
    message = str(failure.value)
    assert "\n" not in message
    assert "s3a://cdp-lake/lake" in message
    assert "hadoop-aws" in message
