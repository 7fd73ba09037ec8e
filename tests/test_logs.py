"""A night's cdp.log is for people (issue 22: 1,070 of its 1,390 lines were Great Expectations'
"Skipping registering function" at import)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cdp.config import PROJECT_ROOT


def test_great_expectations_import_leaves_no_info_lines_in_cdp_log(tmp_path: Path) -> None:
    code = (
        "import logging, sys\n"
        "from cdp.config import Settings\n"
        "from cdp.logs import configure\n"
        f"settings = Settings.load(home={str(tmp_path / 'home')!r}).ensure()\n"
        "configure(settings)\n"
        "import great_expectations\n"
        "import matplotlib.font_manager\n"  # the report's plots; a fresh font cache logs at INFO
        "logging.getLogger('cdp.pipeline').info('a line a person reads')\n"
    )
    # A script file, as the cdp command is: pyspark (which GX imports) takes a `python -c` process
    # for a doctest run and exits.
    script = tmp_path / "night.py"
    script.write_text(code, encoding="utf-8")
    # An empty matplotlib cache, as on a new machine: matplotlib then logs "generated new fontManager".
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "matplotlib")}
    result = subprocess.run(
        [sys.executable, str(script)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
        check=False, env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    log = (tmp_path / "home" / "logs" / "cdp.log").read_text(encoding="utf-8")
    assert "a line a person reads" in log
    assert "great_expectations" not in log
    assert "matplotlib" not in log
    assert "FutureWarning" not in result.stderr
