"""A minimal headless-Chromium driver over the DevTools protocol, for the report tests.

Why not playwright: it downloads its own browser build, which this environment cannot do.
Debian's ``chromium`` plus a websocket speaking the DevTools protocol gives what the tests
need: console errors, every network request, DOM queries, a screenshot and a PDF print.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-default-apps", "--mute-audio", "--remote-debugging-port=0",
]


def chromium_path() -> str | None:
    """The Chromium executable, if installed (``REACTIVATE_CHROMIUM`` overrides)."""
    return os.environ.get("REACTIVATE_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")


@dataclass
class PageVisit:
    """What happened while a page loaded: console errors and every request it made."""

    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class Browser:
    """One Chromium process with an empty profile; use as a context manager."""

    def __init__(self, executable: str, timeout: float = 30.0) -> None:
        self.executable = executable
        self.timeout = timeout
        self._next_id = 0

    def __enter__(self) -> Browser:
        self._profile = tempfile.mkdtemp(prefix="reactivate-chromium-")
        self._proc = subprocess.Popen(
            [self.executable, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.__exit__(None, None, None)
                raise RuntimeError("Chromium did not start")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        self._ws = connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=self.timeout)
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"]
        return self

    def __exit__(self, *exc: object) -> None:
        if getattr(self, "_ws", None) is not None:
            self._ws.close()
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        shutil.rmtree(self._profile, ignore_errors=True)

    def call(self, method: str, params: dict[str, Any] | None = None,
             session: bool = False, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Send one command, wait for its answer; other messages go to ``events``."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        self._ws.send(json.dumps(message))
        while True:
            reply = json.loads(self._ws.recv(timeout=self.timeout))
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if events is not None:
                events.append(reply)

    def open(self, url: str) -> PageVisit:
        """Load ``url`` and wait for its load event, recording errors and requests."""
        events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.call(f"{domain}.enable", session=True, events=events)
        self.call("Page.navigate", {"url": url}, session=True, events=events)
        deadline = time.monotonic() + self.timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not load")
            events.append(json.loads(self._ws.recv(timeout=self.timeout)))
        self.evaluate("1", events=events)  # flush messages queued during load
        visit = PageVisit()
        for e in events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Network.requestWillBeSent":
                visit.requests.append(params["request"]["url"])
            elif method == "Runtime.exceptionThrown":
                visit.console_errors.append(str(params["exceptionDetails"].get("text")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                visit.console_errors.append(json.dumps(params.get("args")))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                visit.console_errors.append(params["entry"]["text"])
        return visit

    def evaluate(self, expression: str, events: list[dict[str, Any]] | None = None) -> Any:
        """Evaluate JavaScript in the page and return its JSON value."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                           session=True, events=events)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"].get("text"))
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """A full-page PNG screenshot."""
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
                         session=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def print_a4(self, path: Path) -> Path:
        """Print the page to PDF on A4 paper, as the print dialog would."""
        pdf = self.call("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69,
                                            "preferCSSPageSize": True}, session=True)
        path.write_bytes(base64.b64decode(pdf["data"]))
        return path
