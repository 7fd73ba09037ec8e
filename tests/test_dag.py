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
    report = (settings.reports / dates[-1] / "report.html").read_text()
    for section in ("RFM grid", "RFM segments", "Lifecycle", "Identity resolution", "Data quality"):
        assert section in report, section

    score = score_identity(settings.warehouse, raw_drops / "_truth")
    print(f"\nidentity resolution vs truth (deterministic + probabilistic, shipped model): {score}")
    assert score.precision > 0.95
    assert score.recall > 0.3


def _assert_every_row_accounted_for(settings: Settings, dates: list[str]) -> None:
    import json

    for day in dates:
        for source in SOURCES:
            path = settings.lake / "manifests" / source / f"load_date={day}.json"
            manifest = json.loads(path.read_text())
            for entity, stats in manifest["entities"].items():
                accounted = stats["rows_landed"] + stats["rows_quarantined"] + stats.get("rows_erased", 0)
                assert stats["rows_read"] == accounted, (source, entity, day)


def _assert_exports_contactable(settings: Settings, raw: Path, day: str) -> None:
    """No unsubscribed or not-opted-in contact in any file of the day's export.

    Plain emails are checked against the raw unsubscribe files directly (not the marts); every file's
    contacts are checked against the customer view's consent, hashed ones through their hashes.
    """
    folder = settings.exports / day
    assert (folder / "manifest.json").exists()
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        con.execute(
            "create temp table unsubscribed as "
            "select distinct lower(trim(address)) as address "
            f"from read_csv('{raw}/messaging/*/unsubscribes.csv', all_varchar=true, filename=true) "
            "where channel = 'email' "
            f"and regexp_extract(filename, '(\\d{{4}}-\\d{{2}}-\\d{{2}})') <= '{day}'"
        )
        con.execute(
            "create temp table allowed as select "
            "case when dim.email_opt_in and not dim.is_email_unsubscribed then profile.email end as email, "
            "case when dim.sms_opt_in and not dim.is_sms_unsubscribed then profile.phone end as phone "
            "from marts.dim_customers as dim "
            "inner join restricted.customer_profiles as profile using (customer_id)"
        )
        checked = 0
        for path in sorted(folder.rglob("*.csv")):
            data = f"read_csv('{path}', all_varchar=true)"
            columns = [c[0] for c in con.execute(f"describe select * from {data}").fetchall()]
            plain_email_file = path.name.startswith(("mailchimp", "klaviyo"))
            for column in columns:
                if plain_email_file and column in ("Email Address", "Email"):
                    leaked = con.execute(
                        f'select count(*) from {data} as f where lower(trim(f."{column}")) in '
                        "(select address from unsubscribed) "
                        f'or f."{column}" not in (select email from allowed where email is not null)'
                    ).fetchone()[0]
                elif column == "phone_number":
                    leaked = con.execute(
                        f"select count(*) from {data} as f "
                        "where f.phone_number not in (select phone from allowed where phone is not null)"
                    ).fetchone()[0]
                elif column == "email" and "meta" in path.name:
                    leaked = con.execute(
                        f"select count(*) from {data} as f where f.email is not null and f.email not in "
                        "(select sha256(lower(trim(email))) from allowed where email is not null)"
                    ).fetchone()[0]
                else:
                    continue
                checked += 1
                assert leaked == 0, f"{leaked} contacts without consent in {path.relative_to(folder)}"
    assert checked > 0, "no contact columns were checked"
