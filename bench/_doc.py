"""Shared by the benchmark scripts: the machine line and the ``## Identity resolution`` section of
docs/benchmarks.md (one sub-section per script, each replaced in place by its own script)."""

from __future__ import annotations

import platform
from pathlib import Path

import duckdb
import psutil

IDENTITY_SECTION = "## Identity resolution"
LEGACY_SECTIONS = ("## Identity resolution: FEBRL4",)  # replaced by sub-sections of IDENTITY_SECTION
HEADER = "# Benchmarks\n"
IDENTITY_INTRO = (
    "Identity resolution (dbt_project/models/intermediate/identity: deterministic email/phone links, "
    "Fellegi-Sunter scoring of blocked candidate pairs, conflict guard, connected components with "
    "over-merge protection, stable ids). Each sub-section is rewritten by its own script; `make bench` "
    "runs the first two, `bench/identity_scale.py` the third. Timings on this shared 2-core machine are "
    "noisy (other test suites run beside the benchmarks): read them as upper bounds."
)
# Sub-sections of IDENTITY_SECTION in the order they are shown (unknown ones last).
SUBSECTIONS = (
    "### Accuracy on generated data",
    "### FEBRL4: ours vs Splink",
    "### Scale",
)


def machine(duckdb_version: bool = True) -> str:
    """The machine line docs/benchmarks.md uses (CPU, cores, RAM, kernel, Python[, duckdb])."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = (
        f"{cpu}, {psutil.cpu_count(logical=True)} logical cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )
    return f"{text}, duckdb {duckdb.__version__}" if duckdb_version else text


def identity_fingerprint() -> str:
    """12 hex digits of sha256 over the identity code (dbt models, macros, project vars, seeds, trainer),
    so figures from different runs can be told apart when the code changed in between."""
    import hashlib

    root = Path(__file__).resolve().parent.parent
    dbt = root / "dbt_project"
    files = sorted(
        [
            *(dbt / "models" / "intermediate" / "identity").glob("*"),
            *(dbt / "macros").glob("identity*.sql"),
            *(dbt / "seeds").glob("identity_*.csv"),
            dbt / "dbt_project.yml",
            *(root / "cdp" / "identity").glob("*.py"),
        ]
    )
    digest = hashlib.sha256()
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


_AT_START = identity_fingerprint()  # when the benchmark script started (imported this module)


def fingerprint_text() -> str:
    """The fingerprint for a doc line; flags a change of the identity code during the run."""
    now = identity_fingerprint()
    if now == _AT_START:
        return f"`{now}`"
    return f"`{_AT_START}` at the start, `{now}` at the end (the identity code changed during the run)"


def _drop_section(text: str, heading: str) -> str:
    if heading + "\n" not in text:
        return text
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + len(heading))
    return text[:start] + (text[end + 1:] if end >= 0 else "")


def split_identity_section(text: str) -> tuple[str, str]:
    """(the ``## Identity resolution`` section or '', the text without it)."""
    if IDENTITY_SECTION + "\n" not in text:
        return "", text
    start = text.index(IDENTITY_SECTION + "\n")
    end = text.find("\n## ", start + len(IDENTITY_SECTION))
    end = len(text) if end < 0 else end + 1
    return text[start:end].rstrip("\n") + "\n", text[:start] + text[end:]


def _ordered(section: str) -> str:
    head, *subs = section.split("\n### ")
    subs = ["### " + sub.rstrip("\n") + "\n" for sub in subs]

    def rank(sub: str) -> int:
        title = sub.split("\n", 1)[0]
        return next((i for i, known in enumerate(SUBSECTIONS) if title.startswith(known)), len(SUBSECTIONS))

    subs.sort(key=rank)  # stable: unknown sub-sections keep their order
    return "\n".join([head.rstrip("\n") + "\n", *subs])


def update_identity_subsection(path: Path, subsection: str, body: str, intro: str = IDENTITY_INTRO) -> None:
    """Replace (or append) the sub-section of the identity section whose heading starts with
    ``subsection`` (e.g. ``### Scale`` matches ``### Scale: 1,000,000 people``).

    The identity section sits right after the file's introduction (before the pipeline runs, which
    bench/run_bench.py adds newest first); it is created when missing. Other sections are kept.
    """
    old = path.read_text(encoding="utf-8") if path.exists() else HEADER
    for legacy in LEGACY_SECTIONS:
        old = _drop_section(old, legacy)
    section, rest = split_identity_section(old)
    if not section:
        section = f"{IDENTITY_SECTION}\n\n{intro}\n" if intro else f"{IDENTITY_SECTION}\n"
    text = body.rstrip("\n") + "\n"
    s = section.find("\n" + subsection)  # a heading starting with ``subsection``
    if s >= 0:
        e = section.find("\n### ", s + 1 + len(subsection))
        section = section[: s + 1] + text + ("\n" + section[e + 1:] if e >= 0 else "")
    else:
        section = section.rstrip("\n") + "\n\n" + text
    section = _ordered(section)
    first = rest.find("\n## ")
    if first < 0:
        new = rest.rstrip("\n") + "\n\n" + section
    else:
        new = rest[: first + 1] + section + "\n" + rest[first + 1:]
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(new.rstrip("\n") + "\n", encoding="utf-8")
    tmp.replace(path)


def update_section(path: Path, heading: str, body: str) -> None:
    """Replace (or add) the ``## `` section ``heading`` of docs/benchmarks.md; other sections are kept.

    A new section goes before the pipeline runs (the first ``## <digit>`` heading), after the others.
    """
    old = path.read_text(encoding="utf-8") if path.exists() else HEADER
    old = _drop_section(old, heading)
    text = body.rstrip("\n") + "\n"
    lines = old.split("\n")
    runs = next((i for i, line in enumerate(lines) if line.startswith("## ") and line[3:4].isdigit()), None)
    if runs is None:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        new = "\n".join(lines[:runs]).rstrip("\n") + "\n\n" + text + "\n" + "\n".join(lines[runs:])
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(new.rstrip("\n") + "\n", encoding="utf-8")
    tmp.replace(path)
