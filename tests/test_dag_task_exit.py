"""A DAG task that ran dbt ends without "leaked semaphore" on stderr (issue 22).

Airflow's task runner is a forked process that ends with ``os._exit`` after the task. dbt makes its
locks from a spawn context (named POSIX semaphores that multiprocessing's resource tracker follows);
``os._exit`` skips their finalizers, and the tracker then printed "resource_tracker: There appear to be
N leaked semaphore objects to clean up at shutdown" on the task's stderr, which Airflow's task log
records at ERROR level. Here a forked child runs the DAG's own task body for a dbt stage on a home
after a whole night, then ends the way Airflow's task runner does."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from conftest import copy_home

from cdp.config import Settings

DAGS = Path(__file__).resolve().parent.parent / "dags"
CHILD = """
import os, sys
sys.path.insert(0, sys.argv[1])
pid = os.fork()
if pid == 0:
    code = 0
    try:
        import cdp_nightly
        cdp_nightly._call("build_value_models", {"params": {"run_date": sys.argv[2]}})
    except BaseException as exc:
        print("task failed:", type(exc).__name__, exc, file=sys.stderr)
        code = 1
    sys.stderr.flush()
    os._exit(code)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.slow
def test_a_task_that_ran_dbt_leaves_no_leaked_semaphore(
    first_night: Settings, drop_dates: list[date], tmp_path: Path
) -> None:
    home = copy_home(first_night, tmp_path / "home")
    env = {
        **{k: v for k, v in __import__("os").environ.items() if not k.startswith("AIRFLOW__")},
        "CDP_HOME": str(home.home), "CDP_RAW": str(home.raw),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(DAGS), drop_dates[0].isoformat()],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "leaked semaphore" not in done.stderr, done.stderr[-2000:]
