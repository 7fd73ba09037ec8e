"""What a gate returns, and the exception that stops the pipeline on a critical failure.

Issues carry counts and rule descriptions only, never row values: unexpected values may be personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple


class Issue(NamedTuple):
    """One failed expectation: where, which rule, and how many rows (no values)."""

    suite: str
    expectation: str
    column: str | None
    description: str

    def __str__(self) -> str:
        where = f"{self.suite}" + (f" [{self.column}]" if self.column else "")
        return f"{where}: {self.expectation}: {self.description}"


@dataclass
class GateResult:
    gate: str  # "landed" | "marts"
    run_date: date
    critical: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    html_path: Path | None = None
    json_path: Path | None = None
    data_docs_path: Path | None = None
    evaluated: int = 0  # expectations evaluated
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """True when no critical expectation failed (warnings do not fail a gate)."""
        return not self.critical

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (XCom, run log): counts and rule descriptions only."""
        return {
            "gate": self.gate,
            "run_date": self.run_date.isoformat(),
            "passed": self.passed,
            "evaluated": self.evaluated,
            "critical": [i._asdict() for i in self.critical],
            "warnings": [i._asdict() for i in self.warnings],
            "html_path": str(self.html_path) if self.html_path else None,
            "json_path": str(self.json_path) if self.json_path else None,
            "data_docs_path": str(self.data_docs_path) if self.data_docs_path else None,
            "seconds": round(self.seconds, 3),
        }


class GateFailed(Exception):
    """A data-quality gate found at least one critical failure; downstream steps must not run."""

    def __init__(self, result: GateResult) -> None:
        self.result = result
        lines = [
            f"{result.gate} gate failed for {result.run_date.isoformat()}: "
            f"{len(result.critical)} critical failure(s), {len(result.warnings)} warning(s)"
        ]
        lines += [f"  - {issue}" for issue in result.critical]
        if result.html_path:
            lines.append(f"  results: {result.html_path}")
        super().__init__("\n".join(lines))


def assert_passed(result: GateResult) -> GateResult:
    """Raise ``GateFailed`` (listing every critical failure) unless the gate passed."""
    if not result.passed:
        raise GateFailed(result)
    return result
