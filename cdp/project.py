"""The dbt project's interface to the rest of the code: where it is, what it declares, what it reads.

Everything that needs to know how ``dbt_project/`` is driven without running it lives here: the vars
``dbt_project.yml`` declares (defaults every build runs with), the environment variables
``profiles.yml`` and the sources read (paths of this home), and the project's name. The dbt runner
(:mod:`cdp.dbt_runner`), the engines (a Spark session renders ``profiles.yml`` with this environment)
and the stages that read a var (the CLV fit) share these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cdp.config import DBT_PROJECT_DIR, Settings
from cdp.lake import uri


def dbt_vars() -> dict[str, Any]:
    """The project's vars as declared in dbt_project.yml (the defaults every build runs with)."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(project.get("vars") or {})


def project_name() -> str:
    return str(yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["name"])


def spark_env(settings: Settings) -> dict[str, str]:
    """Environment the Spark target of profiles.yml reads (warehouse folder, metastore)."""
    return {"CDP_SPARK_DIR": str(settings.home / "spark")}


def normalised_suppression_file(settings: Settings) -> Path:
    """Where the build reads the suppression list from: ``<home>/cache``, rewritten before every dbt
    command (:mod:`cdp.dbt_runner`) from ``<home>/config/suppression.csv`` (which people edit)."""
    return settings.cache / "suppression_normalised.csv"


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment variables the dbt project reads (profiles.yml and the sources)."""
    env = {
        "CDP_WAREHOUSE": str(settings.warehouse),
        # s3://... for DuckDB (fsspec, cdp.dbt_lake_plugin), s3a://... for Spark (Hadoop's S3A).
        "CDP_LAKE": uri(settings.lake, settings.engine),
        # The config files stay in the home folder wherever the lake is (the sources' default is
        # <lake>/../config, which only holds for the default lake).
        # The suppression list as cdp.privacy normalised it (phones by libphonenumber), see cdp.dbt_runner.
        "CDP_SUPPRESSION_FILE": str(normalised_suppression_file(settings)),
        "CDP_IDENTITY_OVERRIDES_FILE": str(settings.identity_overrides_file),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        # int_identity_match_parameters: the deployment's trained model, else the shipped seed.
        "CDP_IDENTITY_MODEL_FILE": "",
    }
    if settings.identity_model_file.exists():
        env["CDP_IDENTITY_MODEL_FILE"] = str(settings.identity_model_file)
    if settings.engine == "spark":
        env.update(spark_env(settings))
    return env
