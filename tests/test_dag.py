"""The Airflow DAG: imports cleanly, is configured as a nightly job should be, and runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cdp.config import PROJECT_ROOT, SOURCES, Settings
from cdp.evaluate import score_identity

DAGS = PROJECT_ROOT / "dags"


def _airflow_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(home / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
    )
    return env


def _python(args: list[str], env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_dag_imports_and_is_configured(tmp_path: Path) -> None:
    env = _airflow_env(tmp_path)
    code = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS)!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "dag = bag.dags['cdp_nightly']\n"
        "print(sorted(dag.tags), dag.default_args['retries'], dag.catchup, dag.max_active_runs)\n"
        "print(','.join(t.task_id for t in dag.topological_sort()))\n"
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('nightly', {str(DAGS / 'cdp_nightly.py')!r})\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        "print(','.join(mod.SOURCES))\n"
    )
    result = _python(["-c", code], env)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines[-3] == "['cdp', 'nightly'] 2 False 1"
    assert lines[-2] == "ingest_source,gate_landed,dbt_build,gate_marts,export,report"
    assert lines[-1] == ",".join(SOURCES)


@pytest.mark.slow
def test_dag_runs_end_to_end(tmp_path: Path, raw_drops: Path, drop_dates) -> None:
    """``dag.test()`` over the history drop and the next night: everything lands, marts fill, exports
    hold only contactable people, identity resolution is scored against the generator's truth."""
    home = tmp_path / "home"
    env = _airflow_env(home)
    env.update(CDP_HOME=str(home), CDP_RAW=str(raw_drops))
    migrate = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    dates = [d.isoformat() for d in drop_dates[:2]]
    result = _python([str(Path(__file__).parent / "_dag_runner.py"), str(DAGS), *dates], env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    for day in dates:
        assert f"DAGRUN {day} success" in result.stdout

    settings = Settings.load(home=home, raw=raw_drops)
    _assert_every_row_accounted_for(settings, dates)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        for table in ("dim_customers", "fct_orders", "customer_rfm", "customer_identity_map"):
            assert con.execute(f"select count(*) from marts.{table}").fetchone()[0] > 0, table
    _assert_exports_contactable(settings, raw_drops, dates[-1])

    score = score_identity(settings.warehouse, raw_drops / "_truth")
    print(f"\nidentity resolution vs truth (email/phone connected components): {score}")
    assert score.precision > 0.9
    assert score.recall > 0.3


def _assert_every_row_accounted_for(settings: Settings, dates: list[str]) -> None:
    import json

    for day in dates:
        for source in SOURCES:
            path = settings.lake / "manifests" / source / f"load_date={day}.json"
            manifest = json.loads(path.read_text())
            for entity, stats in manifest["entities"].items():
                assert stats["rows_read"] == stats["rows_landed"] + stats["rows_quarantined"], (
                    source, entity, day,
                )


def _assert_exports_contactable(settings: Settings, raw: Path, day: str) -> None:
    """Check the export against the raw unsubscribe files directly, not against the marts."""
    files = sorted((settings.exports / day).glob("*.csv"))
    assert files, "no export files"
    with duckdb.connect() as con:
        exported = con.execute(
            f"select lower(trim(email)) as email from read_csv('{files[0]}', all_varchar=true)"
        ).fetchall()
        unsubscribed = {
            row[0]
            for row in con.execute(
                f"select lower(trim(address)) from read_csv('{raw}/messaging/*/unsubscribes.csv', "
                "all_varchar=true, filename=true) "
                "where channel = 'email' "
                f"and regexp_extract(filename, '(\\d{{4}}-\\d{{2}}-\\d{{2}})') <= '{day}'"
            ).fetchall()
        }
    assert exported, "the champions export is empty"
    leaked = [email for (email,) in exported if email in unsubscribed]
    assert not leaked, f"{len(leaked)} unsubscribed addresses in the export"
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        not_opted_in = con.execute(
            f"select count(*) from read_csv('{files[0]}', all_varchar=true) as exported "
            "left join marts.dim_customers as customers using (customer_id) "
            "where customers.customer_id is null or not coalesce(customers.email_opt_in, false)"
        ).fetchone()[0]
    assert not_opted_in == 0, f"{not_opted_in} exported customers without email opt-in"
