"""Serve a folder of generated docs on the loopback interface (``cdp docs --serve``).

dbt's ``index.html`` fetches ``manifest.json`` and ``catalog.json``; browsers refuse that over
``file://``, so the docs need HTTP. Only 127.0.0.1 is bound: the docs describe every table and column
of the warehouse and are not meant for the network.
"""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log on the console."""


def docs_server(folder: Path, port: int = 8081) -> ThreadingHTTPServer:
    """An HTTP server for ``folder`` on ``127.0.0.1:port`` (0: any free port), not yet serving."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    return ThreadingHTTPServer(("127.0.0.1", port), handler)
