"""dbt docs a person can open (issue 22): `cdp docs` writes a single-file static_index.html that opens
from disk offline (index.html fetches manifest.json, which browsers refuse over file://) and
`--serve` serves the folder over local HTTP; the overview page describes this project, not dbt's
generic welcome text."""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cdp.cli import app
from cdp.docs_server import docs_server

pytestmark = pytest.mark.slow


def test_docs_open_from_disk_and_over_local_http(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["docs", "--home", str(tmp_path / "home")])
    assert result.exit_code == 0, result.output
    target = tmp_path / "home" / "dbt" / "target"
    static = (target / "static_index.html").read_text(encoding="utf-8")
    assert "customer_360" in static  # the manifest is inside the one file
    assert "The customer-data platform" in static  # our overview, not dbt's welcome text
    assert "static_index.html" in result.output

    server = docs_server(target, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        for name in ("index.html", "manifest.json", "catalog.json"):
            with urllib.request.urlopen(f"{base}/{name}", timeout=10) as response:
                assert response.status == 200
    finally:
        server.shutdown()
        server.server_close()
    assert server.server_address[0] == "127.0.0.1"
