"""A client of the executions API and of the callback settings hook, for the callbacks executors.

Seed 003: "You can poll the server to check the status of your REST request or you can subscribe
to a callback." Setup steps (changing settings) raise SetupFailed: a scenario whose setup failed
is an ERROR, never a FAIL.
"""
from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.runner import Context
from harness.transport.http import json_body
from harness.transport.receiver import Inbox
from harness.verdicts import NotApplicable, SetupFailed

ENDED_OK = 1900


def terminal(status: Any) -> bool:
    """1800-1999 are ended (abend 1800-1899, ok 1900-1999); below is waiting or active."""
    return isinstance(status, int) and 1800 <= status <= 1999


@dataclass
class Run:
    run_id: Any
    submitted: float
    body: dict[str, Any]


class Executions:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.http = ctx.ahttp()
        self.base = f"{ctx.target.base_url}{ctx.option('base_path')}/{ctx.option('client')}/executions"

    def body(self, role: str, inbox: Inbox | None, *, headers: dict[str, str] | None = None,
             recurring: bool = False, inputs: dict[str, Any] | None = None, url: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"object_name": self.ctx.option("objects")[role],
                                "alias": f"CONF_{self.ctx.scenario.id.upper().replace('-', '_')}"[:60]}
        if recurring:
            body["execution_option"] = "recurring"
        if inputs:
            body["inputs"] = inputs
        if inbox is not None or url is not None:
            http: dict[str, Any] = {"url": url if url is not None else inbox.url if inbox else ""}
            if headers:
                http["headers"] = headers
            body["callback"] = {"type": "http", "http": http}
        return body

    async def submit_raw(self, body: Any) -> httpx.Response:
        return await self.http.request("POST", self.base, json=body)

    async def submit(self, role: str, inbox: Inbox | None, **kwargs: Any) -> Run:
        """Submit an execution: it must be accepted with a run id (a precondition)."""
        body = self.body(role, inbox, **kwargs)
        submitted = time.monotonic()
        r = await self.submit_raw(body)
        data = json_body(r)
        run_id = data.get("run_id", data.get("runid")) if isinstance(data, dict) else None
        self.ctx.require("execution-accepted", 200 <= r.status_code < 300 and run_id not in (None, ""),
                         "an execution request is accepted with its run id",
                         expected="2xx with {run_id}", observed={"status": r.status_code, "body": data})
        return Run(run_id, submitted, body)

    async def status(self, run_id: Any, client: str | None = None) -> httpx.Response:
        base = self.base if client is None else self.base.replace(f"/{self.ctx.option('client')}/", f"/{client}/")
        return await self.http.request("GET", f"{base}/{run_id}")

    async def poll_until_ended(self, run: Run, within: float) -> dict[str, Any] | None:
        """Poll the status until it is terminal or ``within`` s pass; the last status body."""
        deadline = time.monotonic() + within
        last: dict[str, Any] | None = None
        while True:
            r = await self.status(run.run_id)
            data = json_body(r)
            if r.status_code == 200 and isinstance(data, dict):
                last = data
                if terminal(data.get("status")):
                    return last
            if time.monotonic() >= deadline:
                return last
            await asyncio.sleep(min(0.1 * self.ctx.target.timings.scale, max(0.0, deadline - time.monotonic())))


@dataclass
class _Held:
    """Settings applied by scenarios running side by side (resources ``callbacks.retry=VALUE``)."""

    changes: dict[str, Any]
    previous: dict[str, Any]
    holders: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_HELD: dict[tuple[str, tuple[str, ...]], _Held] = {}  # (hook URL, the keys changed) -> who holds them
_HELD_LOCK = threading.Lock()


class Settings:
    """The callback settings hook (docs/callbacks-control.md): read, change, restore.

    Scenarios that declare the same ``NAME=VALUE`` resource run side by side and apply the same
    changes: the first saves the values it replaces, the last to end restores them. Different
    changes under one value are a harness defect (an ERROR), never a silent race."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        control = ctx.target.control_url
        self.url = f"{control}/callbacks/settings" if control else None
        self.usable = bool(self.url) and bool(ctx.option("settings_control"))
        self._held: list[_Held] = []
        ctx.on_close(self._release_all)

    def require(self, what: str) -> None:
        if not self.usable:
            raise NotApplicable(f"{what} needs the callback settings hook (--control, and "
                                "options.callbacks.settings_control); without it only the declared settings are tested")

    async def apply(self, **changes: Any) -> dict[str, Any]:
        """PUT the changes; the previous values are restored when the last scenario holding them ends."""
        self.require("changing the callback settings")
        assert self.url is not None
        return await asyncio.to_thread(self._apply, self.url, changes)

    def _apply(self, url: str, changes: dict[str, Any]) -> dict[str, Any]:
        key = (url, tuple(sorted(changes)))
        with _HELD_LOCK:
            held = _HELD.setdefault(key, _Held(dict(changes), {}))
        with held.lock:
            if held.holders and held.changes != changes:
                raise SetupFailed(f"scenarios sharing the callback settings {sorted(changes)} apply different "
                                  f"values ({held.changes} and {changes}): their resources must name different values")
            http = self.ctx.http()
            if not held.holders:
                r = http.request("GET", url)
                before = json_body(r)
                if r.status_code != 200 or not isinstance(before, dict):
                    raise SetupFailed(f"GET {url} answered {r.status_code}")
                held.changes, held.previous = dict(changes), {k: before[k] for k in changes if k in before}
            r = http.request("PUT", url, json=changes)
            now = json_body(r)
            if r.status_code != 200 or not isinstance(now, dict):
                raise SetupFailed(f"PUT {url} answered {r.status_code}")
            held.holders += 1
            self._held.append(held)
        return now

    async def restore(self) -> None:
        """Put back what this scenario changed now, not when it ends."""
        await asyncio.to_thread(self._release_all)

    def _release_all(self) -> None:
        while self._held:
            held = self._held.pop()
            with held.lock:
                held.holders -= 1
                if held.holders:
                    continue
                assert self.url is not None
                r = self.ctx.http().request("PUT", self.url, json=held.previous)
            if r.status_code != 200:
                raise SetupFailed(f"restoring the callback settings: PUT answered {r.status_code}")


def retry_settings(ctx: Context) -> tuple[int, float, int]:
    """(attempts, interval, mode) declared by the target, for runs without the hook."""
    declared = ctx.option("retry")
    return (int(declared.get("attempts", 3)), float(declared.get("interval", 30)) * ctx.target.timings.scale,
            int(declared.get("mode", 0)))
