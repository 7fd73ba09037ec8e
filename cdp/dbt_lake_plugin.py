"""dbt-duckdb plugin (profiles.yml ``plugins``): lets dbt's DuckDB read an object-store lake.

DuckDB's own S3 support (the httpfs extension) is downloaded at run time, which an offline or locked
down machine cannot do; the lake's fsspec filesystem (:mod:`cdp.lake`) is registered on the
connection instead. A local lake (the default) registers nothing.
"""

from __future__ import annotations

import os

from dbt.adapters.duckdb.plugins import BasePlugin

from cdp.lake import lake_root, register_duckdb


class Plugin(BasePlugin):
    def configure_connection(self, conn) -> None:

        lake = os.environ.get("CDP_LAKE")
        if lake:
            register_duckdb(conn, lake_root(lake))
