"""Imports point one way (docs/architecture.md, "Layers"), checked as CI checks it.

The contracts are import-linter's, in pyproject.toml: a layers contract (entry points > pipeline >
commands > stages > dbt runner > engines > shared facts) and an acyclic-siblings contract (no cycle
between the modules of a package, at any depth). These tests run them, prove they bite (an upward
import in a copy of the code breaks them), and forbid the usual way around them: a first-party import
inside a function, which hides a cycle from a reader though not from the graph.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdp.config import PROJECT_ROOT

PACKAGES = ("cdp", "ingest", "expectations", "exports")
# The CLI is the top layer: it imports each command's modules when that command runs, so `cdp --help`
# does not load dbt, pandas and scipy. That cannot hide a cycle (nothing imports the CLI).
LAZY_ALLOWED = {Path("cdp/cli.py")}


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_logo=True))"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300, check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
    )


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(PROJECT_ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("cdp/config.py", "import cdp.pipeline"),  # a shared fact reaching for the pipeline
        ("cdp/engines.py", "import cdp.dbt_runner"),  # the runner / engines cycle issue 20 found
        ("ingest/land.py", "import cdp.privacy"),  # the privacy / ingest cycle issue 20 found
    ],
)
def test_an_upward_import_breaks_the_contracts(tmp_path: Path, module: str, upward: str) -> None:
    for name in (*PACKAGES, "pyproject.toml"):
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "markets"))
        else:
            shutil.copy(source, tmp_path / name)
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{upward}  # noqa\n", encoding="utf-8")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout[-2000:]
    assert "BROKEN" in result.stdout


def _function_level_first_party_imports(path: Path) -> list[str]:
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # annotations only: never executed
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                if isinstance(child, ast.Import):
                    names = [a.name for a in child.names]
                else:  # a relative import is first-party by definition
                    names = ["."] if child.level else [child.module or ""]
                if any(n == "." or n.split(".")[0] in PACKAGES for n in names):
                    found.append(f"{path.relative_to(PROJECT_ROOT)}:{child.lineno}: {ast.unparse(child)}")
            visit(child, inside)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def test_no_first_party_import_inside_a_function() -> None:
    """Library code imports its own modules at the top, where the layering check and a reader see them."""
    found = []
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            if path.relative_to(PROJECT_ROOT) not in LAZY_ALLOWED:
                found += _function_level_first_party_imports(path)
    assert not found, "\n".join(found)
