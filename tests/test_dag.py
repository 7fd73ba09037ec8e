"""The Airflow DAG: imports cleanly, is configured as a nightly job should be, and runs end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import airflow_home, copy_home
from warehouse_rows import export_files, mart_rows

from cdp.config import PROJECT_ROOT, SOURCES, Settings
from cdp.evaluate import score_identity
from cdp.stages import STAGES

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
        "import json\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS)!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "dag = bag.dags['cdp_nightly']\n"
        "print(sorted(dag.tags), dag.default_args['retries'], dag.catchup, dag.max_active_runs)\n"
        "print(','.join(t.task_id for t in dag.topological_sort()))\n"
        "print(json.dumps({t.task_id: sorted(o.name for o in t.outlets) for t in dag.tasks if t.outlets}))\n"
        "sensor = dag.task_dict['wait_for_drop']\n"
        "print(dag.task_dict['ingest_source'].map_index_template, sensor.map_index_template,"
        " sensor.partial_kwargs.get('mode'))\n"
    )
    result = _python(["-c", code], env)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines[-4] == "['cdp', 'nightly'] 2 False 1"
    # One task per stage, in the order cdp run follows (cdp.stages), the CLV fit its own task; the DAG
    # adds only the sensor that waits for each source's drop.
    assert lines[-3] == (
        "prepare,wait_for_drop,ingest_source,gate_landed,build_identity_inputs,fit_identity,build_models,"
        "fit_clv,build_value_models,"
        "gate_marts,export,publish_warehouse,write_report"
    )
    assert lines[-3].replace("wait_for_drop,", "") == ",".join(s.name for s in STAGES)
    # Assets only after the gate that guards them (marts: when the warehouse is published).
    assert json.loads(lines[-2]) == {
        "gate_landed": ["cdp_landed"], "export": ["cdp_exports"], "publish_warehouse": ["cdp_marts"],
    }
    # Mapped tasks are labelled with their source in the UI; the sensor frees its worker slot.
    assert lines[-1] == "{{ source_name | default('') }} {{ source_name | default('') }} reschedule"


_SCHEDULE_PROBE = """
import importlib.util, json, sys
import pendulum
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.encoders import coerce_to_core_timetable
from airflow.timetables.base import DataInterval, TimeRestriction

bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
dag = bag.dags["cdp_nightly"]
spec = importlib.util.spec_from_file_location("nightly", sys.argv[1] + "/cdp_nightly.py")
nightly = importlib.util.module_from_spec(spec); spec.loader.exec_module(nightly)
timetable = coerce_to_core_timetable(dag.timetable)  # what the scheduler holds
out = {}


def scheduled(last, catchup):
    # The next run the scheduler would create, and the day it processes.
    info = timetable.next_dagrun_info(
        last_automated_data_interval=last,
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=catchup),
    )
    context = {"params": {}, "logical_date": info.logical_date,
               "data_interval_start": info.data_interval.start, "data_interval_end": info.data_interval.end}
    return {"run_after": info.run_after.isoformat(), "data_date": str(nightly._run_date(context))}


# What the scheduler does after the run of 2026-11-09: ask the timetable for the next run.
last = DataInterval(pendulum.datetime(2026, 11, 9, tz="UTC"), pendulum.datetime(2026, 11, 10, tz="UTC"))
out["next"] = scheduled(last, catchup=True)
# Unpausing with catchup off: the first run the scheduler creates now (the real clock).
out["first"] = scheduled(None, catchup=False)
# A manual trigger from the UI at 10:00 processes the last complete day.
interval = timetable.infer_manual_data_interval(run_after=pendulum.datetime(2026, 11, 12, 10, tz="UTC"))
context = {"params": {}, "data_interval_start": interval.start, "data_interval_end": interval.end}
out["manual"] = str(nightly._run_date(context))
context["params"] = {"run_date": "2026-10-01"}
out["override"] = str(nightly._run_date(context))
print(json.dumps(out))
"""


def test_scheduled_run_processes_the_day_that_ended(tmp_path: Path) -> None:
    """The timetable, not a hand-passed date, decides: the run the scheduler creates for day D starts
    when D has ended and processes D (Airflow 3's default cron timetable would process the day that
    has just begun, whose drop does not exist yet)."""
    import json
    from datetime import UTC, datetime, timedelta

    result = _python(["-c", _SCHEDULE_PROBE, str(DAGS)], _airflow_env(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["next"] == {"run_after": "2026-11-11T00:00:00+00:00", "data_date": "2026-11-10"}
    now = datetime.now(UTC)
    assert out["first"]["data_date"] == (now - timedelta(days=1)).date().isoformat()
    assert datetime.fromisoformat(out["first"]["run_after"]) <= now  # due now, not tomorrow
    assert out["manual"] == "2026-11-11"
    assert out["override"] == "2026-10-01"


_CREATED_RUNS = """
import importlib.util, json, sys
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session
spec = importlib.util.spec_from_file_location("nightly", sys.argv[1] + "/cdp_nightly.py")
nightly = importlib.util.module_from_spec(spec); spec.loader.exec_module(nightly)
with create_session() as session:
    runs = session.query(DagRun).filter(DagRun.dag_id == "cdp_nightly").all()
    print(json.dumps([
        {"run_type": str(run.run_type), "run_id": run.run_id, "run_after": run.run_after.isoformat(),
         "logical_date": run.logical_date.isoformat(),
         "data_date": str(nightly._run_date({"params": {}, "data_interval_start": run.data_interval_start,
                                               "data_interval_end": run.data_interval_end}))}
        for run in runs
    ]))
"""


@pytest.mark.slow
def test_the_scheduler_creates_the_run_for_the_day_that_ended(tmp_path: Path, airflow_db: Path) -> None:
    """Unpausing the DAG as a user would: Airflow's own scheduler loop creates the run (no date passed
    by us), and that run processes yesterday, whose drop exists, not today, which has just begun; a
    backfill of three days makes three runs, each processing its own day."""
    import json
    from datetime import UTC, datetime, timedelta

    env = _airflow_env(tmp_path)
    env["CDP_HOME"] = str(tmp_path / "home")
    airflow = str(Path(sys.executable).parent / "airflow")
    airflow_home(tmp_path / "airflow", airflow_db)  # as `airflow db migrate` leaves it
    # The default pool gets no slots, so the scheduler creates runs but queues no task: with slots, the
    # LocalExecutor starts the sensor, whose task runner retries the absent API server, and under load
    # the scheduler's shutdown waited on it past the timeout (fresh-clone check, session 12).
    for command in (["dags", "reserialize"], ["dags", "unpause", "cdp_nightly"],
                    ["pools", "set", "default_pool", "0", "no task runs in this test"]):
        done = subprocess.run(
            [airflow, *command], env=env, capture_output=True, text=True, check=False, timeout=300
        )
        assert done.returncode == 0, (command, done.stderr[-2000:])
    # Two loops of the real scheduler: it creates the due run (what is checked is which run it made).
    loop = subprocess.run(
        [airflow, "scheduler", "--num-runs", "2"], env=env, capture_output=True, text=True, timeout=300,
        check=False,
    )
    assert loop.returncode == 0, loop.stderr[-2000:]
    # A backfill from the CLI (the UI's "Backfill" creates the same runs): one run per day, each
    # processing its own day.
    backfill = subprocess.run(
        [airflow, "backfill", "create", "--dag-id", "cdp_nightly", "--from-date", "2026-11-08",
         "--to-date", "2026-11-10"],
        env=env, capture_output=True, text=True, check=False,
    )
    assert backfill.returncode == 0, backfill.stderr[-2000:]
    result = _python(["-c", _CREATED_RUNS, str(DAGS)], env)
    assert result.returncode == 0, result.stderr[-2000:]
    runs = json.loads(result.stdout.strip().splitlines()[-1])
    scheduled = [run for run in runs if "scheduled" in run["run_type"].lower()]
    backfilled = sorted(run["data_date"] for run in runs if "backfill" in run["run_type"].lower())
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert [run["data_date"] for run in scheduled] == [yesterday], runs
    assert scheduled[0]["logical_date"].startswith(yesterday)  # shown in the UI as the run's logical date
    assert scheduled[0]["run_id"] == f"scheduled__{yesterday}"  # the UI's run list names the day processed
    assert backfilled == ["2026-11-08", "2026-11-09", "2026-11-10"], runs


def test_late_drop_fails_its_source_with_a_clear_message(tmp_path: Path, raw_drops: Path, drop_dates) -> None:
    """A drop that has not arrived: the sensor's check names the source, the day and the files; a
    drop that has arrived is done at once."""
    from cdp import pipeline

    settings = Settings.load(home=tmp_path / "home", raw=raw_drops).ensure()
    assert pipeline.missing_drop_files(settings, drop_dates[0], "pos") == []
    later = drop_dates[-1].replace(year=drop_dates[-1].year + 1)
    missing = pipeline.missing_drop_files(settings, later, "pos")
    assert missing == ["transactions.csv", "loyalty_members.csv"]
    message = pipeline.missing_drop_message(settings, later, "pos", missing)
    assert f"pos: the drop for {later.isoformat()} did not arrive within 360 minutes" in message
    assert "missing transactions.csv, loyalty_members.csv" in message


@pytest.mark.slow
def test_dag_runs_end_to_end(
    tmp_path: Path, raw_drops: Path, drop_dates, airflow_db: Path, first_night: Settings,
    second_night: Settings,
) -> None:
    """``dag.test()`` over the night after the history drop, on a home that ran the history night
    (the shared ``first_night``; a history night through the DAG is the Chinese retailer's test
    below): everything lands, marts fill, exports hold only contactable people, identity resolution
    is scored against the generator's truth, and the marts and files are those ``cdp run`` gives for
    the same night (``second_night``): one code path for the DAG and the CLI."""
    home = tmp_path / "home"
    copy_home(first_night, home)
    env = _airflow_env(home)
    env.update(CDP_HOME=str(home), CDP_RAW=str(raw_drops))
    airflow_home(home / "airflow", airflow_db)
    dates = [d.isoformat() for d in drop_dates[:2]]
    result = _python([str(Path(__file__).parent / "_dag_runner.py"), str(DAGS), dates[1]], env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    assert f"DAGRUN {dates[1]} success" in result.stdout

    settings = Settings.load(home=home, raw=raw_drops)
    _assert_every_row_accounted_for(settings, dates)
    assert mart_rows(settings, drop_dates[1]) == mart_rows(second_night, drop_dates[1])
    assert export_files(settings, drop_dates[1]) == export_files(second_night, drop_dates[1])
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


@pytest.mark.slow
def test_dag_runs_a_chinese_retailers_night(tmp_path: Path, airflow_db: Path) -> None:
    """The market the retail guides are written for: ``dag.test()`` over a Chinese retailer's history
    drop (GB18030 POS file, 11-digit mobiles with and without +86, names in characters, WeChat) on a
    home configured for the cn market. Mobiles reach the profiles as +86 E.164 numbers, the SMS file
    holds only them, and identity resolution is scored against the generator's truth."""
    from datetime import date

    from cdp.generator import generate
    from cdp.market import configure_home

    raw, home = tmp_path / "raw", tmp_path / "home"
    day = date(2026, 3, 10)
    generate(raw, people=600, days=0, end_date=day, seed=3, market="cn")
    configure_home(home, "cn", {"pos": "gb18030"})
    env = _airflow_env(home)
    env.update(CDP_HOME=str(home), CDP_RAW=str(raw))
    airflow_home(home / "airflow", airflow_db)
    result = _python([str(Path(__file__).parent / "_dag_runner.py"), str(DAGS), day.isoformat()], env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]

    settings = Settings.load(home=home, raw=raw)
    _assert_every_row_accounted_for(settings, [day.isoformat()])
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        phones = [r[0] for r in con.execute(
            "select phone from restricted.customer_profiles where phone is not null"
        ).fetchall()]
        genders = {r[0] for r in con.execute("select distinct gender from marts.dim_customers").fetchall()}
    assert phones, "no Chinese mobile reached a profile"
    assert all(p.startswith("+86") and len(p) == 14 for p in phones), phones[:5]
    assert {"female", "male"} <= genders, genders
    for path in (settings.exports / day.isoformat()).rglob("sms*.csv"):
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            assert "+86" in line
    score = score_identity(settings.warehouse, raw / "_truth")
    print(f"\nidentity resolution vs truth, cn market (shipped model): {score}")
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
