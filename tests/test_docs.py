"""The docs do not go stale silently (issue 20, "Docs a newcomer reads in 15 minutes").

docs/architecture.md stays short enough to read in 15 minutes, and every repository path, warehouse
table and ``cdp`` command it (or the README) names exists today. Reads files and imports the CLI's
Typer app only: no dbt, no warehouse (well under a second).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from cdp.ops_tables import ops_tables

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
README = ROOT / "README.md"
MAX_ARCHITECTURE_LINES = 300

# Schemas whose tables the docs name as `schema.table`: dbt models (folder = schema, see
# dbt_project.yml), the snapshot, the CLV fit's tables (a dbt source written by Python) and the ops tables.
SCHEMAS = ("marts", "intermediate", "restricted", "staging", "snapshots", "ops", "clv_fit")
# Folders of dbt_project/ that docs may name relative to the dbt project (`models/marts/customers/`).
DBT_FOLDERS = ("models/", "macros/", "seeds/", "snapshots/", "analyses/")
# Paths the docs name as "being added" by work in progress (issue 20); drop an entry once it exists.
PLANNED_PATHS: frozenset[str] = frozenset()

_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_TABLE_REF = re.compile(rf"(?<![\w./])({'|'.join(SCHEMAS)})\.([a-z_][a-z0-9_]*)(\*?)")
FILE_SUFFIXES = frozenset({"sql", "yml", "yaml", "py", "md", "csv", "json", "duckdb", "parquet"})
_CDP_COMMAND = re.compile(r"(?:^|[\s/(|])cdp ([a-z][a-z_-]*)(?: ([a-z][a-z_-]*))?")
_PATH_CHARS = re.compile(r"[A-Za-z0-9_.*<>/-]+")


# --- what the repository holds ---------------------------------------------------------------------


@cache
def tables_by_schema() -> dict[str, frozenset[str]]:
    """Every table a doc may name, by schema: dbt models by their folder, the snapshot, the CLV fit's
    source tables, and the ops tables (their source YAML, cdp.ops_tables)."""
    dbt = ROOT / "dbt_project"
    found: dict[str, set[str]] = {schema: set() for schema in SCHEMAS}
    for sql in (dbt / "models").rglob("*.sql"):
        schema = sql.relative_to(dbt / "models").parts[0]
        found.setdefault(schema, set()).add(sql.stem)
    for snapshot in (dbt / "snapshots").rglob("*"):
        if snapshot.suffix in (".sql", ".yml"):
            found["snapshots"].update(re.findall(r"^\s*-?\s*name:\s*(\w+)", snapshot.read_text(), re.M))
            if snapshot.suffix == ".sql":
                found["snapshots"].update(re.findall(r"{%\s*snapshot\s+(\w+)", snapshot.read_text()))
    for yml in (dbt / "models").rglob("*sources.yml"):
        text = yml.read_text()
        if re.search(r"^\s*schema:\s*clv_fit\b", text, re.M):
            found["clv_fit"].update(re.findall(r"^\s+- name:\s*(\w+)", text, re.M))
    # The ops tables: the source that owns their columns (cdp/ops_tables.py and the dbt macro read it).
    found["ops"].update(name.removeprefix("ops.") for name in ops_tables())
    return {schema: frozenset(names) for schema, names in found.items()}


@cache
def cli_commands() -> frozenset[str]:
    """Every command of the ``cdp`` CLI: ``run``, ``segments``, ``segments list``, ... (from the Typer
    app itself, which is what ``cdp --help`` prints)."""
    from typer.main import get_command

    from cdp.cli import app

    names: set[str] = set()

    def walk(command, prefix: str = "") -> None:
        for name, sub in getattr(command, "commands", {}).items():
            names.add(prefix + name)
            walk(sub, prefix + name + " ")

    walk(get_command(app))
    return frozenset(names)


# --- what a doc names -----------------------------------------------------------------------------


def code_texts(text: str) -> list[str]:
    """The code of a markdown text: inline code spans and fenced blocks."""
    blocks = _FENCE.findall(text)
    prose = _FENCE.sub("", text)
    return blocks + _CODE_SPAN.findall(prose)


def repo_paths(text: str) -> set[str]:
    """Repository paths written in backticks: `dir/file.ext`, `dir/`, `dir/*.yml`, `dir/<source>.yml`.

    Not paths of the repository: placeholders of a home (`<home>/lake/...`), URLs, absolute paths,
    commands (anything with a space) and Python dotted names."""
    paths = set()
    for span in _CODE_SPAN.findall(_FENCE.sub("", text)):
        for token in span.split(", "):
            token = token.strip()
            if "/" not in token or "://" in token or token.startswith(("<", "/", "~", "$", ".")):
                continue
            if not _PATH_CHARS.fullmatch(token):
                continue
            last = token.rstrip("/").rsplit("/", 1)[-1]
            if token.endswith("/") or re.search(r"\.[A-Za-z0-9]+$", last):
                paths.add(token)
    return paths


def missing_paths(text: str) -> list[str]:
    """The repository paths a text names that do not exist (relative to the repository, or to
    dbt_project/ for its own folders); `*` and `<placeholder>` match anything within a name."""
    missing = []
    for path in sorted(repo_paths(text) - PLANNED_PATHS):
        pattern = re.sub(r"<[^>/]*>", "*", path).rstrip("/")
        roots = [ROOT] + ([ROOT / "dbt_project"] if path.startswith(DBT_FOLDERS) else [])
        if not any(any(True for _ in root.glob(pattern)) for root in roots):
            missing.append(path)
    return missing


def unknown_tables(text: str) -> list[str]:
    """The `schema.table` names of a text that name no table of that schema (`marts.*` is a schema,
    `ops.segment_*` must prefix one)."""
    known = tables_by_schema()
    unknown = set()
    for schema, name, star in _TABLE_REF.findall(text):
        if name in FILE_SUFFIXES:  # a file (`macros/snapshots.sql`), not a table
            continue
        names = known.get(schema, frozenset())
        if star and any(n.startswith(name) for n in names):
            continue
        if not star and name in names:
            continue
        unknown.add(f"{schema}.{name}{star}")
    return sorted(unknown)


def unknown_commands(text: str) -> list[str]:
    """The `cdp <command>` (and `cdp <group> <command>`) in the code of a text that the CLI lacks."""
    commands = cli_commands()
    unknown = set()
    for code in code_texts(text):
        for first, second in _CDP_COMMAND.findall(code):
            if first not in commands:
                unknown.add(f"cdp {first}")
            is_group = any(c.startswith(first + " ") for c in commands)
            if second and is_group and f"{first} {second}" not in commands:
                unknown.add(f"cdp {first} {second}")
    return sorted(unknown)


# --- the checks work: each catches a stale statement of the docs as they were ---------------------

STALE = """
   ops.*           dq_metrics, segment_membership (written by Python)
   marts.segment_members   one row per exported customer, with email and names
| `cdp/segments.py` | segment definitions |
Definitions in `exports/segments/*.yml`, sources in `models/staging/pos/`; `exports/audiences/`.
`cdp export --date D` writes the files; `cdp segments show NAME` previews one.
"""


def test_the_checks_catch_stale_statements():
    assert unknown_tables(STALE) == ["marts.segment_members"]
    assert missing_paths(STALE) == ["cdp/segments.py", "exports/audiences/"]
    assert unknown_commands(STALE) == ["cdp export", "cdp segments show"]


def test_the_checks_accept_what_exists():
    text = (
        "`marts.customer_360`, `restricted.audience_contacts`, `ops.segment_*`, `clv_fit.models_fitted`, "
        "`snapshots.dim_customers_snapshot`, `intermediate.int_identity_links`, `marts.*`; "
        "`ingest/contracts/<source>.yml`, `cdp/markets/*.yml`, `models/marts/identity/`, `<home>/lake/`; "
        "`cdp run --date D`, `cdp identity train`, `.venv/bin/cdp query`"
    )
    assert unknown_tables(text) == []
    assert missing_paths(text) == []
    assert unknown_commands(text) == []


# --- the docs as they are -------------------------------------------------------------------------


def test_architecture_reads_in_fifteen_minutes():
    lines = len(ARCHITECTURE.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_ARCHITECTURE_LINES, (
        f"docs/architecture.md has {lines} lines (at most {MAX_ARCHITECTURE_LINES}): move figures to "
        "docs/benchmarks.md and long rationales to docs/decisions.md"
    )


def test_architecture_names_only_paths_that_exist():
    assert missing_paths(ARCHITECTURE.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("doc", ["docs/architecture.md", "docs/decisions.md"])
def test_docs_name_only_tables_that_exist(doc):
    assert unknown_tables((ROOT / doc).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("doc", ["README.md", "docs/architecture.md"])
def test_docs_name_only_real_cdp_commands(doc):
    assert unknown_commands((ROOT / doc).read_text(encoding="utf-8")) == []


def test_architecture_links_resolve():
    """Relative links of architecture.md and the README point at files that exist, and the anchors into
    docs/decisions.md name entries that exist."""
    decisions = (ROOT / "docs" / "decisions.md").read_text(encoding="utf-8")
    anchors = {_anchor(h) for h in re.findall(r"^#{1,6} (.+)$", decisions, re.M)}
    anchors |= set(re.findall(r'<a id="([^"]+)"></a>', decisions))
    bad = []
    for doc in (ARCHITECTURE, README):
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("#"):
                continue
            file, _, anchor = target.partition("#")
            path = (doc.parent / file).resolve()
            unknown_anchor = bool(anchor) and path.name == "decisions.md" and anchor not in anchors
            if not path.exists() or unknown_anchor:
                bad.append(f"{doc.name}: {target}")
    assert bad == []


def _anchor(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")
