"""The Airflow UI as an operator opens it (issue 22): ``airflow standalone`` (what ``make airflow``
starts) on a free port with all its state in the test's folder, logged in with the password it
generated and a token from its API, the DAG's grid page rendered in headless Chromium with no network.

What a person checks: the DAG is there without import errors, its schedule is ours (the timetable
plugin this package registers through the ``airflow.plugins`` entry point), its tasks are listed in
the order of ``cdp.stages``, a run shows in the grid, every asset the page loads comes from the server
itself (it works without internet), and the page is not blank. A run is triggered while the DAG is
paused, so it stays queued: the grid has a run and no task runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cdp import screenshots
from cdp.config import PROJECT_ROOT
from cdp.stages import STAGES

pytestmark = pytest.mark.slow

AIRFLOW = Path(sys.executable).parent / "airflow"
#: The DAG's tasks: one per stage, plus the sensor that waits for each source's drop.
TASK_IDS = [STAGES[0].name, "wait_for_drop", *(stage.name for stage in STAGES[1:])]
#: NightlyTimetable.summary (cdp/scheduling.py), not imported: importing Airflow here would set it up
#: for this process's AIRFLOW_HOME.
SCHEDULE = "nightly: the day that ended"
RUN_ID = "browser_check"
STARTUP_SECONDS = 150


@dataclass(frozen=True)
class Server:
    url: str
    token: str
    home: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _request(url: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    method = "GET" if body is None else "POST"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {"detail": exc.read().decode(errors="replace")[:500]}


def _wait(what: str, check, process: subprocess.Popen, log: Path, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"airflow standalone ended ({process.returncode}) before {what}:\n{_tail(log)}")
        try:
            result = check()
        except (OSError, ValueError):  # not listening yet, or an answer that is not JSON yet
            result = None
        if result:
            return result
        time.sleep(0.5)
    pytest.fail(f"airflow standalone: no {what} in {seconds:.0f} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-3000:]


def _stop(process: subprocess.Popen) -> None:
    """Stop standalone and every process it started (they share its process group)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    # The scheduler, dag processor, triggerer and API server outlive their parent for a while.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(timeout=10)


def _group_alive(pgid: int, seconds: float = 10) -> bool:
    """Whether a process of the group is still there ``seconds`` after it was killed (until then the
    killed ones may still be waiting to be reaped)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.2)
    return True


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if screenshots.chromium() is None:
        pytest.fail("the Airflow UI test needs headless Chromium: apt-get install chromium (.ci/run does)")
    folder = tmp_path_factory.mktemp("airflow-ui")
    port = _free_port()
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(folder / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(PROJECT_ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        # The log servers of the scheduler and triggerer on free local ports too (8793 and 8794 on every
        # interface by default: taken when a developer's `make airflow` runs beside the test).
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(_free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(_free_port()),
        # LocalExecutor starts one worker per slot (32 by default); no task runs here.
        AIRFLOW__CORE__PARALLELISM="1",
        CDP_HOME=str(folder / "home"),  # nothing runs (the DAG stays paused); if it did, not in ./var
        PATH=f"{AIRFLOW.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    log = folder / "standalone.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(AIRFLOW), "standalone"], env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    try:
        def healthy() -> bool:
            status, health = _request(f"{url}/api/v2/monitor/health")
            return status == 200 and all(
                health.get(part, {}).get("status") == "healthy"
                for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            )

        _wait("healthy components", healthy, process, log, STARTUP_SECONDS)
        passwords = folder / "airflow" / "simple_auth_manager_passwords.json.generated"
        password = json.loads(passwords.read_text(encoding="utf-8"))["admin"]
        status, answer = _request(f"{url}/auth/token", body={"username": "admin", "password": password})
        assert status == 201, answer
        yield Server(url, answer["access_token"], folder)
    finally:
        _stop(process)
        assert not _group_alive(process.pid), "processes of airflow standalone are left running"


def _listed(airflow: Server) -> dict:
    """The API's listing of the DAG, once the dag processor has parsed it (its import errors, if any,
    at once)."""

    def listed() -> dict | None:
        code, errors = _request(f"{airflow.url}/api/v2/importErrors", airflow.token)
        if code == 200 and errors["total_entries"]:
            pytest.fail(f"import errors: {errors['import_errors']}")
        code, found = _request(f"{airflow.url}/api/v2/dags?dag_id_pattern=cdp_nightly", airflow.token)
        return found if code == 200 and found.get("total_entries") else None

    return _wait_for(listed, "cdp_nightly listed")


@pytest.fixture(scope="module")
def queued_run(airflow: Server) -> dict:
    """A run triggered through the API while the DAG is paused: it stays queued, nothing runs."""
    _listed(airflow)
    status, run = _request(
        f"{airflow.url}/api/v2/dags/cdp_nightly/dagRuns", airflow.token,
        {"dag_run_id": RUN_ID, "logical_date": "2026-03-11T00:00:00Z"},
    )
    assert status == 200, run
    return run


def test_the_api_lists_the_dag_without_import_errors(airflow: Server, queued_run: dict) -> None:
    status, _ = _request(f"{airflow.url}/api/v2/dags")
    assert status == 401  # the token is what lets us in
    found = _listed(airflow)
    assert [dag["dag_id"] for dag in found["dags"]] == ["cdp_nightly"]
    assert found["dags"][0]["is_paused"] is True  # a new DAG waits for an operator
    status, errors = _request(f"{airflow.url}/api/v2/importErrors", airflow.token)
    assert (status, errors["total_entries"]) == (200, 0), errors
    status, details = _request(f"{airflow.url}/api/v2/dags/cdp_nightly/details", airflow.token)
    assert status == 200
    assert details["timetable_summary"] == SCHEDULE  # our plugin, found by Airflow
    # A run started at midnight processes the day that ended: the server's timetable says so.
    assert (queued_run["state"], queued_run["data_interval_start"], queued_run["data_interval_end"]) == (
        "queued", "2026-03-10T00:00:00Z", "2026-03-11T00:00:00Z"
    )


def test_the_grid_page_in_a_browser(airflow: Server, queued_run: dict) -> None:
    shot = airflow.home / "screenshots" / "airflow_grid.png"
    # Readable once the UI has fetched the DAG and its structure: every task id and our schedule shown.
    ready = " && ".join(
        f"document.body.innerText.includes({json.dumps(text)})"
        for text in [*TASK_IDS, SCHEDULE]
    )
    page = screenshots.open_page(
        f"{airflow.url}/dags/cdp_nightly", screenshot=shot, ready=ready, timeout=60,
        cookies=({"name": "_token", "value": airflow.token, "url": f"{airflow.url}/"},),
    )
    assert page.failed == []
    # Everything the page loads comes from the server itself: it works on a machine without internet.
    outside = [url for url in page.requested if not url.startswith((airflow.url, "blob:", "data:"))]
    assert outside == []
    assert any("/static/assets/" in url for url in page.requested)  # the UI's own bundle, served locally
    assert ">cdp_nightly<" in page.dom
    # The grid lists the tasks in the order the night runs them (cdp.stages), as a person reads it.
    positions = [page.dom.find(f">{task}") for task in TASK_IDS]
    assert -1 not in positions, dict(zip(TASK_IDS, positions, strict=True))
    assert positions == sorted(positions)
    assert f'href="/dags/cdp_nightly/runs/{RUN_ID}"' in page.dom  # the queued run is in the grid
    assert page.location == f"{airflow.url}/dags/cdp_nightly"  # logged in, not sent to the login page
    assert not screenshots.blank(shot), "the screenshot is (nearly) one colour"


def _wait_for(check, what: str, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    pytest.fail(f"no {what} in {seconds:.0f} s")
