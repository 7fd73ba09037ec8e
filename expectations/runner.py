"""The GX 1.x chain used by both gates, and what is written per run.

One ephemeral Data Context per gate run (suites live in code, so nothing needs to persist in a GX
store): pandas data source (the landed gate, and the mart gate on DuckDB) or Spark data source (the
mart gate on Spark: the frames stay on the cluster) → one dataframe asset + whole-dataframe batch
definition per suite →
``ValidationDefinition`` → ``validation.run(batch_parameters={"dataframe": df})``. No ``Checkpoint``:
it would only wrap the one definition with no actions (Data Docs are built once per gate, at the
end), and adding and running one per suite cost ~0.9 s of a 3.2 s landed gate at test size
(docs/benchmarks.md, session 17).
Results are requested with ``result_format`` BASIC and ``partial_unexpected_count=0``, so no row value
is computed into a result, the JSON or the HTML. Data Docs are built once at the end of a gate into
``<reports>/<run_date>/data_docs/<gate>/``; our own one-page summary is ``dq_<gate>.html`` beside it.
"""

from __future__ import annotations

import html
import json
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expectations.result import GateResult, Issue
from expectations.settings import BUILD_DATA_DOCS, CRITICAL, RESULT_FORMAT, VALUE_KEYS, WARNING

if TYPE_CHECKING:
    import great_expectations as gx
    import pandas as pd

    from cdp.config import Settings

log = logging.getLogger(__name__)

_SITE = "cdp_local_site"
# Static files Data Docs copies but never references (3.4 MB of animations): removed after a build.
_UNUSED_ASSETS = (
    "static/images/glossary_scroller.gif",
    "static/images/validation_failed_unexpected_values.gif",
    "static/images/iterative-dev-loop.png",
)


@dataclass(frozen=True)
class Outcome:
    """One evaluated expectation, reduced to counts (what the gate reports and the JSON keeps)."""

    suite: str
    expectation: str
    column: str | None
    severity: str
    success: bool
    element_count: int | None
    unexpected_count: int | None
    observed: float | int | None
    rule: str
    error: str | None = None

    def to_issue(self) -> Issue:
        return Issue(self.suite, self.expectation, self.column, self.description)

    @property
    def description(self) -> str:
        if self.error:
            return f"could not be evaluated ({self.error})"
        if self.unexpected_count is not None:
            total = self.element_count or 0
            share = f" ({self.unexpected_count / total:.2%})" if total else ""
            return f"{self.unexpected_count:,} of {total:,} rows{share} violate: {self.rule}"
        if self.observed is not None:
            return f"observed {_fmt(self.observed)}; expected {self.rule}"
        return f"failed: {self.rule}"


def _fmt(value: float | int) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def describe_rule(kind: str, kwargs: dict[str, Any]) -> str:
    """The rule in words, from the expectation's own arguments (contract values, never row values)."""
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    bounds = " and ".join(
        part
        for part in (
            f"{'>' if kwargs.get('strict_min') else '>='} {lo}" if lo is not None else "",
            f"{'<' if kwargs.get('strict_max') else '<='} {hi}" if hi is not None else "",
        )
        if part
    )
    rules = {
        "expect_column_values_to_not_be_null": "must not be null",
        "expect_column_values_to_be_unique": "must be unique (count = rows sharing a value)",
        "expect_compound_columns_to_be_unique": (
            f"({', '.join(kwargs.get('column_list', []))}) must be unique (count = rows sharing a key)"
        ),
        "expect_column_values_to_be_in_set": f"must be one of {kwargs.get('value_set')}",
        "expect_column_values_to_not_be_in_set": f"must not be one of {kwargs.get('value_set')}",
        "expect_column_values_to_match_regex": f"must match {kwargs.get('regex')}",
        "expect_column_values_to_be_between": f"must be {bounds}",
        "expect_column_max_to_be_between": f"max {bounds}",
        "expect_table_row_count_to_equal": f"row count = {kwargs.get('value')} (manifest)",
        "expect_table_row_count_to_be_between": f"row count {bounds}",
    }
    return rules.get(kind, kind.removeprefix("expect_").replace("_", " "))


class GxRun:
    """One ephemeral GX context for one gate run; validates dataframes, then writes the results."""

    def __init__(self, gate: str, settings: Settings, run_date: date, spark: bool = False) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        _skip_batch_fingerprint()
        self.gate = gate
        self.run_date = run_date
        self.started = time.perf_counter()
        self.out_dir = settings.reports / run_date.isoformat()
        self.docs_dir = self.out_dir / "data_docs" / gate
        sites = {}
        if BUILD_DATA_DOCS:
            sites[_SITE] = {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(self.docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            data_docs_sites=sites,
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        )
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        # spark=True: Spark DataFrames, which stay on the cluster; GX computes its metrics there.
        if spark:
            self.datasource = self.context.data_sources.add_spark(f"cdp_{gate}")
        else:
            self.datasource = self.context.data_sources.add_pandas(f"cdp_{gate}")
        self._spark = spark
        self.outcomes: list[Outcome] = []
        self.extra: list[tuple[str, Issue]] = []  # (severity, issue) found outside GX (missing data)

    def add_issue(self, severity: str, issue: Issue) -> None:
        self.extra.append((severity, issue))

    def validate(self, suite: gx.ExpectationSuite, df: pd.DataFrame | Any) -> None:
        """Run ``suite`` on ``df`` (pandas, or a Spark DataFrame on the Spark engine) through a
        validation definition of its own (batch parameters are per run)."""
        import great_expectations as gx

        if not self._spark:
            _naive_utc(df)
        name = suite.name
        batch_definition = self.datasource.add_dataframe_asset(name).add_batch_definition_whole_dataframe(
            "whole_dataframe"
        )
        suite = self.context.suites.add(suite)
        validation = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
        )
        started = time.perf_counter()
        result = validation.run(batch_parameters={"dataframe": df}, result_format=dict(RESULT_FORMAT))
        log.debug("%s validated in %.2fs", name, time.perf_counter() - started)
        for evr in result.results:
            self.outcomes.append(_outcome(name, evr))

    def finish(self, settings: Settings) -> GateResult:
        """Write Data Docs, ``dq_<gate>.json`` and ``dq_<gate>.html``; return the gate result."""
        critical: list[Issue] = [i for s, i in self.extra if s == CRITICAL]
        warnings: list[Issue] = [i for s, i in self.extra if s != CRITICAL]
        already = {(i.suite, i.column) for _, i in self.extra}
        failed_critical = set()
        for o in self.outcomes:
            if o.error and (o.suite, o.column) in already:
                continue  # e.g. a rule on a column already reported missing
            if not o.success and o.severity == CRITICAL:
                critical.append(o.to_issue())
                failed_critical.add((o.suite, o.expectation, o.column))
        for o in self.outcomes:
            if o.error and (o.suite, o.column) in already:
                continue
            # A warning whose stricter critical twin already failed adds nothing (quarantine rate).
            twin = (o.suite, o.expectation, o.column)
            if not o.success and o.severity != CRITICAL and twin not in failed_critical:
                warnings.append(o.to_issue())
        result = GateResult(
            gate=self.gate,
            run_date=self.run_date,
            critical=critical,
            warnings=warnings,
            evaluated=len(self.outcomes),
        )
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if BUILD_DATA_DOCS:
            result.data_docs_path = self._build_data_docs()
        result.seconds = time.perf_counter() - self.started
        result.json_path = self.out_dir / f"dq_{self.gate}.json"
        result.html_path = self.out_dir / f"dq_{self.gate}.html"
        payload = {**result.to_dict(), "expectations": [_outcome_dict(o) for o in self.outcomes]}
        _write(result.json_path, json.dumps(payload, indent=2, default=str) + "\n")
        _write(result.html_path, _summary_html(result, self.outcomes))
        return result

    def _build_data_docs(self) -> Path | None:
        if self.docs_dir.exists():  # a re-run replaces the previous attempt's pages
            shutil.rmtree(self.docs_dir)
        try:
            self.context.build_data_docs(site_names=[_SITE])
        except Exception as exc:  # Data Docs are a convenience; the gate's verdict does not depend on them
            # One line (the class and the first line of the message), no traceback on the console.
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            log.warning(
                "building Data Docs for the %s gate failed: %s %s", self.gate, type(exc).__name__, first
            )
            return None
        for rel in _UNUSED_ASSETS:
            (self.docs_dir / rel).unlink(missing_ok=True)
        index = self.docs_dir / "index.html"
        return index if index.exists() else None


def _naive_utc(df: pd.DataFrame) -> None:
    """Zone-aware timestamp columns → naive UTC, the convention the suites' datetime bounds use."""
    for name, dtype in df.dtypes.items():
        if getattr(dtype, "tz", None) is not None:
            df[name] = df[name].dt.tz_convert("UTC").dt.tz_localize(None)


def _skip_batch_fingerprint() -> None:
    """Don't md5 every dataframe we validate.

    GX's pandas engine fingerprints each in-memory batch below 1 GB (``HASH_THRESHOLD``) by hashing
    every row: ~4 s for 5M transaction rows, more than all of that suite's expectations together. The
    fingerprint only labels the batch in results; ours are identified by suite, partition and run date.
    """
    from great_expectations.execution_engine import pandas_execution_engine

    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0


def _outcome(suite: str, evr: Any) -> Outcome:
    config = evr.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    raw = dict(evr.result or {})
    error = None
    info = evr.exception_info or {}
    infos = [info] if "raised_exception" in info else list(info.values())
    for item in infos:
        if isinstance(item, dict) and item.get("raised_exception"):
            message = str(item.get("exception_message") or "error").splitlines()[0]
            error = message[:160]
            break
    observed = raw.get("observed_value")
    if observed is not None and not isinstance(observed, (int, float)):
        observed = None  # only numeric observations are kept (a string could be a row value)
    severity = getattr(config, "severity", None) or (config.meta or {}).get("severity") or CRITICAL
    severity = getattr(severity, "value", severity)
    return Outcome(
        suite=suite,
        expectation=config.type,
        column=kwargs.get("column") or (",".join(kwargs["column_list"]) if "column_list" in kwargs else None),
        severity=WARNING if severity == WARNING else CRITICAL,
        success=bool(evr.success) and error is None,
        element_count=raw.get("element_count"),
        unexpected_count=raw.get("unexpected_count"),
        observed=float(observed) if isinstance(observed, float) else observed,
        rule=describe_rule(config.type, kwargs),
        error=error,
    )


def _outcome_dict(o: Outcome) -> dict[str, Any]:
    d = {k: getattr(o, k) for k in Outcome.__dataclass_fields__ if k not in VALUE_KEYS}
    d["description"] = o.description
    return d


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:75em}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .6em;"
    "text-align:left;vertical-align:top}.critical{background:#fdd}.warning{background:#ffd}"
    ".ok{color:#080}.fail{color:#b00}"
)


def _summary_html(result: GateResult, outcomes: list[Outcome]) -> str:
    e = html.escape
    verdict = "PASSED" if result.passed else "FAILED"
    rows = []
    for o in sorted(outcomes, key=lambda o: (o.success, o.severity != CRITICAL, o.suite)):
        css = "" if o.success else o.severity
        status = "<span class='ok'>ok</span>" if o.success else "<span class='fail'>failed</span>"
        rows.append(
            f"<tr class='{css}'><td>{e(o.suite)}</td><td>{e(o.column or '')}</td>"
            f"<td>{e(o.expectation)}</td><td>{e(o.severity)}</td><td>{status}</td>"
            f"<td>{e(o.description if not o.success else o.rule)}</td></tr>"
        )
    extra = [
        f"<tr class='critical'><td>{e(i.suite)}</td><td>{e(i.column or '')}</td><td>{e(i.expectation)}"
        f"</td><td>critical</td><td><span class='fail'>failed</span></td><td>{e(i.description)}</td></tr>"
        for i in result.critical
        if i not in {o.to_issue() for o in outcomes}
    ]
    docs = ""
    if result.data_docs_path:
        rel = result.data_docs_path.relative_to(result.data_docs_path.parents[2])
        docs = f"<p>Great Expectations Data Docs: <a href='{e(rel.as_posix())}'>{e(rel.as_posix())}</a></p>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>DQ {e(result.gate)} gate {result.run_date}</title><style>{_CSS}</style></head><body>"
        "<p><a href='../quality.html'>every night</a> · <a href='report.html'>this night's report</a></p>"
        f"<h1>Data-quality gate <i>{e(result.gate)}</i>, {result.run_date}: {verdict}</h1>"
        f"<p>{result.evaluated} expectations evaluated; {len(result.critical)} critical failure(s), "
        f"{len(result.warnings)} warning(s); {result.seconds:.1f} s. Counts only: row values are never "
        "kept in these results.</p>"
        f"{docs}<table><tr><th>suite</th><th>column</th><th>expectation</th><th>severity</th>"
        "<th>status</th><th>detail</th></tr>" + "".join(extra + rows) + "</table></body></html>"
    )
