"""Logging set-up shared by the CLI and the DAG: a file under ``<home>/logs`` plus the console.

Log lines carry counts, dates, file names and step names, never row values (personal data).
"""

from __future__ import annotations

import logging
import sys
import warnings

from cdp.config import Settings

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Libraries whose INFO lines say nothing a user can act on.
NOISY_LIBRARIES = ("great_expectations", "py4j", "matplotlib")


def configure(settings: Settings, console_level: int = logging.WARNING) -> None:
    """Log to ``<home>/logs/cdp.log`` and the console; to the console only when the home cannot be
    written (a read-only home, as an analyst's copy may be: read-only commands still work there)."""
    # pyspark warns about pandas 3 whenever Great Expectations imports it, also on DuckDB runs where
    # Spark is never used: noise for every user, and not something they can act on.
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )
    # Great Expectations logs one INFO line per function it registers at import ("Skipping registering
    # function ..."): 1,070 of 1,390 lines of a night's cdp.log. Its warnings and errors still come.
    for noisy in NOISY_LIBRARIES:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # A handler that cannot write (dbt's own log file on a full disk) must not print a traceback per
    # record: Python's documented production setting. cdp.log says once that it stopped (_LogFile).
    logging.raiseExceptions = False
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        if getattr(handler, "_cdp", False):
            root.removeHandler(handler)
    handlers: list[logging.Handler] = []
    try:
        settings.logs.mkdir(parents=True, exist_ok=True)
        file_handler = _LogFile(settings.logs / "cdp.log", encoding="utf-8")
        file_handler.setFormatter(logging.Formatter(_FORMAT))
        handlers.append(file_handler)
    except OSError:
        pass
    console = logging.StreamHandler()
    console.setLevel(console_level)
    console.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handlers.append(console)
    for handler in handlers:
        handler._cdp = True  # type: ignore[attr-defined]
        root.addHandler(handler)


class _LogFile(logging.FileHandler):
    """``<home>/logs/cdp.log``. When it cannot be written (the home's disk is full, which the night
    reports in its own one-line error), it says so once on stderr, in one line, and drops its records:
    logging's default prints a traceback for every record it fails to write."""

    _failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        if not self._failed:
            self._failed = True
            reason = sys.exc_info()[1]
            sys.stderr.write(f"warning: {self.baseFilename} cannot be written ({reason}); it stops here\n")
