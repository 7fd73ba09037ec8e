"""Run ``cdp_nightly`` with Airflow's ``dag.test()`` for the data dates given on the command line.

Each run is started as the scheduler would start it: at the end of the day it processes (logical date
D + 1 day, 00:00), so Airflow's timetable, not this script, decides that its data interval is day D.
Runs in its own process because Airflow reads AIRFLOW_HOME and its config once, at import.
Exit code 0 only when every DAG run succeeded.
"""

import sys

import pendulum
from airflow.dag_processing.dagbag import DagBag


def main(dags_folder: str, dates: list[str]) -> int:
    bag = DagBag(dag_folder=dags_folder)
    if bag.import_errors:
        print(f"import errors: {bag.import_errors}")
        return 2
    dag = bag.dags["cdp_nightly"]
    for day in dates:
        run = dag.test(logical_date=pendulum.parse(day, tz="UTC").add(days=1))
        print(f"DAGRUN {day} {run.state}")
        if str(run.state) != "success" and getattr(run.state, "value", None) != "success":
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
