"""Pages opened in a real browser, as a person sees them: headless Chromium from the system packages
(``apt-get install chromium``) loads a page, waits until its scripts have rendered it, and returns the
DOM, every resource that failed to load and a screenshot.

One job, two users: ``cdp demo`` ends by taking screenshots of the night's pages (the run report, the
gates' quality pages and the index of every night) into ``<reports>/<date>/screenshots/`` for a person
to look at, and the browser tests (``tests/test_browser.py``, ``tests/test_airflow_ui.py``) assert on
what this module returns.

Chromium is driven over its DevTools protocol on a pipe (``--remote-debugging-pipe``: file descriptors
3 and 4, NUL-separated JSON), so nothing but the standard library is needed, no driver is downloaded,
and a page can be opened logged in (a cookie set before it loads, as the Airflow UI's ``_token``).
Every Chromium runs under ``timeout``, in a private profile that is removed afterwards.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from PIL import Image

log = logging.getLogger(__name__)

#: Screenshots of a page longer than this are cut here (a person scrolls the page itself).
MAX_HEIGHT = 12_000
#: The network counts as idle when no request has been in flight for this long (seconds).
_IDLE = 0.5
#: A screenshot with fewer pixels than this share off its most common colour is blank: a page with
#: nothing but a broken-image icon is 0.0002, one heading on a white page 0.0025, text pages 0.01+.
BLANK = 0.002
#: Seconds Chromium has to answer one command.
_ANSWER = 15.0


class BrowserError(RuntimeError):
    """Chromium could not be started, did not answer, or the page did not finish in time."""


@dataclass
class Page:
    url: str
    #: Where the page ended up (after redirects and the page's own navigation).
    location: str = ""
    #: The DOM after the page's scripts ran (``document.documentElement.outerHTML``).
    dom: str = ""
    #: ``url: reason`` for every resource that did not load (a network error or an HTTP status >= 400).
    failed: list[str] = field(default_factory=list)
    #: Every URL the page asked for, in order.
    requested: list[str] = field(default_factory=list)
    screenshot: Path | None = None


def chromium() -> str | None:
    """The path of the system's Chromium, or None when there is none."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def ink(png: Path) -> float:
    """The share of a screenshot's pixels that differ from its most common colour: 0.0 is a blank page
    (one colour), a page of text a few per cent."""
    with Image.open(png) as image:
        pixels = image.convert("RGB")
        colours = pixels.getcolors(maxcolors=pixels.width * pixels.height) or []
    total = sum(count for count, _ in colours)
    return 1.0 - max(count for count, _ in colours) / total if total else 0.0


def blank(png: Path) -> bool:
    """Whether a screenshot shows (nearly) nothing: one colour, or all but :data:`BLANK` of it."""
    return ink(png) < BLANK


def open_page(
    url: str,
    *,
    screenshot: Path | None = None,
    ready: str | None = None,
    cookies: tuple[dict, ...] = (),
    width: int = 1400,
    height: int = 1000,
    timeout: float = 60.0,
) -> Page:
    """Open ``url`` in headless Chromium and wait until it has loaded, the network has been idle for a
    moment and, when given, the JavaScript expression ``ready`` is true; then read the DOM and, when
    ``screenshot`` is given, write a PNG of the whole page there (``width`` wide, at least ``height``
    high). ``cookies`` are DevTools ``Network.CookieParam`` objects set before the page loads.
    Raises :class:`BrowserError` when Chromium is missing, fails, or the page is not ready in
    ``timeout`` seconds."""
    with browser(timeout + _ANSWER) as session:
        return session.open(url, screenshot, ready, cookies, width, height, timeout)


@contextmanager
def browser(limit: float) -> Iterator[Browser]:
    """One headless Chromium for several pages (:meth:`Browser.open`), ended after ``limit`` seconds
    at the latest; its private profile is removed afterwards."""
    path = chromium()
    if path is None:
        raise BrowserError("no Chromium on this machine: apt-get install chromium")
    with (
        tempfile.TemporaryDirectory(prefix="cdp-chromium-") as profile,
        Browser(path, Path(profile), limit) as session,
    ):
        yield session


def night_pages(reports: Path, run_date: date) -> list[Path]:
    """The pages a person looks at after a night: its run report, its gates' quality pages and the
    index of every night's verdicts (those that exist)."""
    folder = reports / run_date.isoformat()
    pages = [folder / "report.html", *sorted(folder.glob("dq_*.html")), reports / "quality.html"]
    return [page for page in pages if page.is_file()]


def screenshot_night(reports: Path, run_date: date, timeout: float = 60.0) -> list[Page]:
    """Open each of :func:`night_pages` in Chromium and keep its screenshot in
    ``<reports>/<date>/screenshots/<page>.png``; the pages, with what each loaded. Nothing (an empty
    list, said in one log line) when there is no Chromium on this machine."""
    if chromium() is None:
        log.info("no Chromium on this machine: no screenshots of the pages (apt-get install chromium)")
        return []
    folder = reports / run_date.isoformat() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    pages = night_pages(reports, run_date)
    with browser((timeout + _ANSWER) * len(pages)) as session:
        opened = [session.open(page.as_uri(), folder / f"{page.stem}.png", timeout=timeout) for page in pages]
    for page in opened:
        if page.failed:
            log.warning("%s: %d resource(s) did not load: %s", page.url, len(page.failed), page.failed)
    log.info("screenshots of %d page(s) in %s", len(opened), folder)
    return opened


class Browser:
    """One headless Chromium and its DevTools pipe (made by :func:`browser`)."""

    def __init__(self, path: str, profile: Path, limit: float) -> None:
        self._deadline = time.monotonic() + _ANSWER
        self._timeout = _ANSWER
        self._next_id = 0
        self._watch: Callable[[dict], None] = _ignore  # what is told of events: the open page's watcher
        self._buffer = b""
        self._log = profile / "chromium.log"
        to_chromium, self._write = os.pipe()
        self._read, from_chromium = os.pipe()
        # The protocol's ends become Chromium's fds 3 (commands in) and 4 (answers out); its own output
        # goes to the log. A shell sets the descriptors up, so no Python runs between fork and exec.
        args = [
            "timeout", "-k", "5", str(int(limit) + 10),
            "sh", "-c", 'exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>&2', path,
            "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
            f"--user-data-dir={profile / 'profile'}", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-sync",
            "--hide-scrollbars", "--mute-audio", "--allow-file-access-from-files", "about:blank",
        ]
        try:
            with self._log.open("wb") as err:
                self._process = subprocess.Popen(
                    args, stdin=to_chromium, stdout=from_chromium, stderr=err, start_new_session=True
                )
        finally:
            os.close(to_chromium)
            os.close(from_chromium)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._send("Browser.close", {}, None)
            self._process.wait(timeout=5)
        except (OSError, BrowserError, subprocess.TimeoutExpired):
            pass
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        os.close(self._write)
        os.close(self._read)

    def open(
        self, url: str, screenshot: Path | None = None, ready: str | None = None,
        cookies: tuple[dict, ...] = (), width: int = 1400, height: int = 1000, timeout: float = 60.0,
    ) -> Page:
        """Open ``url`` in a new tab and read it, as :func:`open_page` says; the tab is closed after."""
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        try:
            return self._load(target, url, screenshot, ready, cookies, width, height)
        finally:
            self._watch = _ignore
            self.call("Target.closeTarget", {"targetId": target})

    def _load(
        self, target: str, url: str, screenshot: Path | None, ready: str | None, cookies: tuple[dict, ...],
        width: int, height: int,
    ) -> Page:
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Page.enable", "Network.enable", "Runtime.enable"):
            self.call(method, {}, session)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
        if cookies:
            self.call("Network.setCookies", {"cookies": list(cookies)}, session)
        page = Page(url)
        urls: dict[str, str] = {}
        in_flight: set[str] = set()
        loaded = False

        def watch(event: dict) -> None:
            nonlocal loaded
            method, params = event.get("method"), event.get("params", {})
            if event.get("sessionId") != session:
                return
            if method == "Page.loadEventFired":
                loaded = True
            elif method == "Network.requestWillBeSent":
                urls[params["requestId"]] = params["request"]["url"]
                page.requested.append(params["request"]["url"])
                if not params["request"]["url"].startswith(("blob:", "data:")):  # in memory: not waited for
                    in_flight.add(params["requestId"])
            elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
                page.failed.append(f"{params['response']['url']}: HTTP {params['response']['status']}")
            elif method == "Network.loadingFinished":
                in_flight.discard(params["requestId"])
            elif method == "Network.loadingFailed":
                in_flight.discard(params["requestId"])
                if not params.get("canceled"):  # a request the page itself gave up is no failure
                    page.failed.append(f"{urls.get(params['requestId'], '?')}: {params['errorText']}")

        self._watch = watch
        navigated = self.call("Page.navigate", {"url": url}, session)
        if navigated.get("errorText"):
            raise BrowserError(f"{url} could not be opened: {navigated['errorText']}")
        idle_since = time.monotonic()
        while True:
            self._pump(0.1)
            now = time.monotonic()
            if in_flight:
                idle_since = now
            if now > self._deadline:
                raise BrowserError(
                    f"{url} was not ready in {self._timeout:.0f} s (loaded: {loaded}, in flight: "
                    f"{sorted(urls.get(r, r) for r in in_flight)}, ready: {ready!r})"
                )
            if loaded and now - idle_since >= _IDLE and (ready is None or self._true(ready, session)):
                break
        page.dom = self._value("document.documentElement.outerHTML", session)
        page.location = self._value("location.href", session)
        if screenshot is not None:
            size = self.call("Page.getLayoutMetrics", {}, session)["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": width, "height": min(max(size["height"], height), MAX_HEIGHT),
                    "scale": 1}
            shot = self.call("Page.captureScreenshot",
                             {"format": "png", "clip": clip, "captureBeyondViewport": True}, session)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            page.screenshot = screenshot
        return page

    def _true(self, expression: str, session: str) -> bool:
        return bool(self._value(f"Boolean({expression})", session))

    def _value(self, expression: str, session: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        return result.get("result", {}).get("value")

    def call(self, method: str, params: dict, session: str | None = None) -> dict:
        """Send one command and return its result (events that arrive meanwhile are watched)."""
        wanted = self._send(method, params, session)
        # Past the page's deadline a command still gets a moment: the error then names the page.
        deadline = max(self._deadline, time.monotonic() + _ANSWER)
        while True:
            for message in self._pump(max(0.0, deadline - time.monotonic())):
                if message.get("id") == wanted:
                    if "error" in message:
                        raise BrowserError(f"{method}: {message['error'].get('message')}")
                    return message.get("result", {})
            if time.monotonic() > deadline:
                raise BrowserError(f"Chromium did not answer {method}{self._tail()}")

    def _send(self, method: str, params: dict, session: str | None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._write, data):]
        except BrokenPipeError as exc:
            raise BrowserError(f"Chromium ended{self._tail()}") from exc
        return self._next_id

    def _pump(self, wait: float) -> list[dict]:
        """Messages that arrive within ``wait`` seconds; events among them go to the watcher."""
        ready, _, _ = select.select([self._read], [], [], wait)
        if not ready:
            return []
        chunk = os.read(self._read, 1 << 20)
        if not chunk:
            raise BrowserError(f"Chromium ended{self._tail()}")
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\0")
        messages = [json.loads(raw) for raw in complete]
        for message in messages:
            if "method" in message:
                self._watch(message)
        return messages

    def _tail(self) -> str:
        try:
            text = self._log.read_text(encoding="utf-8", errors="replace")[-1500:]
        except OSError:
            return ""
        return f": {text}" if text.strip() else ""


def _ignore(event: dict) -> None:
    """No page is open: events are dropped."""
