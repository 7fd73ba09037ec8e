"""Where everything lives. One home folder holds all state; paths come from here, never hard-coded.

Environment overrides: ``CDP_HOME`` (default ``./var``), ``CDP_RAW`` (default ``<home>/raw``),
``CDP_LAKE`` (default ``<home>/lake``; a folder or an object-store URI such as ``s3://bucket/lake``,
see :mod:`cdp.lake`), ``CDP_ENGINE`` (``duckdb``, the default, or ``spark``: the dbt target the
warehouse is built on).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from cdp.lake import is_remote, lake_root
from cdp.site import DEFAULT_SOURCES, SiteConfig, SiteConfigError, load_site

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
CONTRACTS_DIR = PROJECT_ROOT / "ingest" / "contracts"
# Every source the project ships a contract for (owned by cdp.site, the default of a retailer's own
# settings); a retailer's own set is ``Settings.sources``.
SOURCES = DEFAULT_SOURCES
SUPPRESSION_HEADER = "channel,address,reason,added_at"
IDENTITY_OVERRIDES_HEADER = "action,record_key_a,record_key_b,reason,added_by,added_at"
# Warehouse engines = dbt targets of dbt_project/profiles.yml (cdp.engines).
ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class Settings:
    """Resolved paths for one home folder."""

    home: Path
    raw: Path
    engine: str = "duckdb"
    lake_uri: str | None = None  # None: <home>/lake
    # Another DuckDB file than the published one: the night's build file (cdp.publish), or a copy.
    warehouse_file: Path | None = None

    @classmethod
    def load(
        cls,
        home: str | Path | None = None,
        raw: str | Path | None = None,
        engine: str | None = None,
        lake: str | Path | None = None,
    ) -> Settings:
        home_path = Path(home or os.environ.get("CDP_HOME") or "var").resolve()
        raw_path = Path(raw or os.environ.get("CDP_RAW") or home_path / "raw").resolve()
        chosen = (engine or os.environ.get("CDP_ENGINE") or "duckdb").strip().lower()
        if chosen not in ENGINES:
            raise ValueError(f"unknown engine {chosen!r}: use one of {', '.join(ENGINES)} (CDP_ENGINE)")
        lake_uri = str(lake or os.environ.get("CDP_LAKE") or "") or None
        if lake_uri is not None:

            lake_root(lake_uri)  # an unknown scheme fails here, naming CDP_LAKE
        return cls(home=home_path, raw=raw_path, engine=chosen, lake_uri=lake_uri)

    @property
    def lake(self) -> Path:
        """The lake's root: a ``Path``, or a ``upath.UPath`` on an object store (:mod:`cdp.lake`)."""
        if self.lake_uri is None:
            return self.home / "lake"

        return lake_root(self.lake_uri)

    @property
    def site(self) -> SiteConfig:
        """This home's settings file (``<home>/config/cdp.yml``: sources, market, waits, retention)."""
        return load_site(self.home)

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources this retailer has, in the settings file's order (default: all shipped)."""
        return self.site.source_names

    @property
    def warehouse(self) -> Path:
        """The DuckDB file this settings object reads and writes: the published warehouse, or the
        night's build file for a :meth:`staged` settings object (the build step and what gates it)."""
        return self.warehouse_file or self.published_warehouse

    @property
    def published_warehouse(self) -> Path:
        """What readers open: replaced as a whole when a night has passed its gates (cdp.publish)."""
        return self.home / "warehouse" / "cdp.duckdb"

    @property
    def build_warehouse(self) -> Path:
        """Where a night builds: a copy of the published file, published once the gates pass."""
        return self.home / "warehouse" / "build" / "cdp.duckdb"

    def staged(self) -> Settings:
        """The same settings, pointed at the night's build file instead of the published warehouse."""
        return self.with_warehouse(self.build_warehouse)

    def with_warehouse(self, path: Path) -> Settings:
        """The same settings, pointed at another DuckDB file."""
        return replace(self, warehouse_file=path)

    @property
    def exports(self) -> Path:
        return self.home / "exports"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def dbt_target_dir(self) -> Path:
        return self.home / "dbt" / "target"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def cache(self) -> Path:
        return self.home / "cache"

    @property
    def config_dir(self) -> Path:
        return self.home / "config"

    @property
    def suppression_file(self) -> Path:
        """Global suppression list (CSV: channel, address, reason, added_at); always wins over consent."""
        return self.config_dir / "suppression.csv"

    @property
    def identity_overrides_file(self) -> Path:
        """Identity corrections (CSV: action, record_key_a, record_key_b, reason, added_by, added_at)."""
        return self.config_dir / "identity_overrides.csv"

    @property
    def identity_model_file(self) -> Path:
        """This deployment's trained match model (``cdp identity train``); the shipped seed when absent."""
        return self.config_dir / "identity_match_parameters.csv"

    @property
    def privacy_dir(self) -> Path:
        """Salt and tombstones of forgotten people (``cdp forget``); hashes only, never identifiers."""
        return self.home / "privacy"

    def ensure(self) -> Settings:
        """Create the folders and keep libraries' caches and telemetry inside the home folder too.

        Everything created from here on is owner-only (umask 077), or readable by the settings file's
        ``files.group`` (umask 027, the group set on the home with the setgid bit so that new files
        inherit it): the home holds personal data (lake, quarantine, warehouse, exports), so no other
        local user may read it. The home folder itself is closed the same way, which also covers files
        created before this rule."""

        self._restrict_access()

        folders = (self.warehouse.parent, self.exports, self.reports, self.logs, self.cache, self.config_dir)
        for path in (*folders, *(() if is_remote(self.lake) else (self.lake,))):
            path.mkdir(parents=True, exist_ok=True)
        # dbt reads these on every build: a header-only file = nobody suppressed, no overrides.
        for path, header in (
            (self.suppression_file, SUPPRESSION_HEADER),
            (self.identity_overrides_file, IDENTITY_OVERRIDES_HEADER),
        ):
            if not path.exists():
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                tmp.write_text(header + "\n", encoding="utf-8")
                os.replace(tmp, path)
        return self.environment()

    def environment(self) -> Settings:
        """Keep libraries' caches and telemetry inside the home (no folder is created: read-only
        commands call only this, so they work on a read-only home)."""
        os.environ.setdefault("MPLCONFIGDIR", str(self.cache / "matplotlib"))
        os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        return self

    def _restrict_access(self) -> None:
        group = self.site.file_group
        os.umask(0o027 if group else 0o077)
        self.home.mkdir(parents=True, exist_ok=True)
        try:
            if group:
                import grp
                import shutil

                try:
                    gid = grp.getgrnam(group).gr_gid
                except KeyError:

                    where = self.home / "config" / "cdp.yml"
                    message = f"{where}: files.group {group!r} is no group on this machine"
                    raise SiteConfigError(message) from None
                if os.stat(self.home).st_gid != gid:
                    shutil.chown(self.home, group=gid)
                os.chmod(self.home, 0o2750)
            else:
                os.chmod(self.home, 0o700)
        except PermissionError:  # a home another user owns: its owner set its mode
            pass
