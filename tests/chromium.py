"""Headless Chromium driven over its DevTools protocol (CDP) with `websockets`: open a page, evaluate
JavaScript in it, and collect every script exception, console error and CSP violation it logs."""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def find_chromium() -> str | None:
    return next((path for name in BINARIES if (path := shutil.which(name))), None)


class Page:
    """One tab of a headless Chromium, started for it and stopped by :meth:`close`."""

    def __init__(self, proc: subprocess.Popen[str], ws: ClientConnection, session: str, profile: str) -> None:
        self._proc, self._ws, self._session, self._profile = proc, ws, session, profile
        self._ids = itertools.count(1)
        self.problems: list[str] = []   # exceptions, console errors, CSP violations, in order
        self._loaded = False

    @classmethod
    async def start(cls, binary: str, timeout: float = 30.0) -> "Page":
        profile = tempfile.mkdtemp(prefix="chromium-profile-")
        proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--window-size=1400,900",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            url = await asyncio.wait_for(asyncio.wrap_future(cls._devtools_url(proc)), timeout)
            ws = await connect(url, max_size=64 * 1024 * 1024, open_timeout=timeout)
            page = cls(proc, ws, "", profile)
            target = (await page._call("Target.createTarget", {"url": "about:blank"}, browser=True))["targetId"]
            attached = await page._call("Target.attachToTarget", {"targetId": target, "flatten": True}, browser=True)
            page._session = attached["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                await page._call(domain + ".enable")
            return page
        except BaseException:
            proc.kill()
            proc.wait(10)
            shutil.rmtree(profile, ignore_errors=True)
            raise

    @staticmethod
    def _devtools_url(proc: subprocess.Popen[str]) -> "Future[str]":
        """The DevTools URL chromium prints on stderr; stderr is drained for good so it never blocks."""
        found: Future[str] = Future()

        def drain() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                match = LISTENING.search(line)
                if match and not found.done():
                    found.set_result(match.group(1))
            if not found.done():
                found.set_exception(RuntimeError(f"chromium exited ({proc.wait()}) without a DevTools endpoint"))

        threading.Thread(target=drain, name="chromium-stderr", daemon=True).start()
        return found

    async def _call(self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False) -> Any:
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if not browser:
            message["sessionId"] = self._session
        await self._ws.send(json.dumps(message))
        while True:
            event = json.loads(await self._ws.recv())
            if event.get("id") == ident:
                if "error" in event:
                    raise RuntimeError(f"{method}: {event['error']}")
                return event.get("result", {})
            self._record(event)

    def _record(self, event: dict[str, Any]) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.problems.append("exception: " + details.get("exception", {}).get("description", details["text"]))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
            self.problems.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                       for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            self.problems.append(f"log ({params['entry']['source']}): {params['entry']['text']}")
        elif method == "Page.loadEventFired":
            self._loaded = True

    async def open(self, url: str, *, scripts: bool = True) -> None:
        """Navigate and wait for the load event (scripts off shows what a reader without JS sees)."""
        await self._call("Emulation.setScriptExecutionDisabled", {"value": not scripts})
        self._loaded = False
        navigated = await self._call("Page.navigate", {"url": url})
        if "errorText" in navigated:
            raise RuntimeError(f"{url}: {navigated['errorText']}")
        while "loaderId" in navigated and not self._loaded:  # none: a same-document (hash) change
            self._record(json.loads(await self._ws.recv()))
        await self.evaluate("1")  # drain what the load logged

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the page (an exception is raised here, not swallowed)."""
        result = await self._call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                      "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self, path: Path) -> None:
        data = await self._call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})
        path.write_bytes(base64.b64decode(data["data"]))

    async def close(self) -> None:
        try:
            await self._ws.close()
        finally:
            self._proc.terminate()
            try:
                await asyncio.to_thread(self._proc.wait, 10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            shutil.rmtree(self._profile, ignore_errors=True)
