"""Loopback helpers of the callbacks tests: a callback receiver whose paths fail on a plan, and
a small client of one reference server. Real sockets on 127.0.0.1 only."""
from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

from reference_server.app import ThreadedApp, start_app_in_thread, start_in_thread
from reference_server.config import ServerConfig
from reference_server.profiles.callbacks import contract_errors

TOKEN = "cb-test-token"
OK, FAIL, LONG = "SCRI.CONFORMANCE.OK", "SCRI.CONFORMANCE.FAIL", "SCRI.CONFORMANCE.LONG"
BASELINE = {"attempts": 3, "interval": 0.2, "mode": 0, "https_only": False, "template": None,
            "timeout": 1.0, "default_payload": "run_id"}
SLOW = 1.2  # a "slow" receiver answers after this long: past every timeout used below


@dataclass
class Arrival:
    at: float
    headers: list[tuple[str, str]]
    body: Any


@dataclass
class Receiver:
    """Loopback callback receiver; ``url(plan)`` gives a fresh path whose n-th request gets
    plan[n]: "500", "404", "slow", "close", "redirect" (307 to path.moved), else 200."""

    app: ThreadedApp | None = None
    arrivals: dict[str, list[Arrival]] = field(default_factory=dict)
    plans: dict[str, list[str]] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        got = self.arrivals.setdefault(key, [])
        got.append(Arrival(time.monotonic(), [(k.decode(), v.decode()) for k, v in request.raw_headers],
                           await request.json() if request.method == "POST" else None))
        plan = self.plans.get(key, [])
        action = plan[len(got) - 1] if len(got) <= len(plan) else "ok"
        if action in ("500", "404"):
            return web.Response(status=int(action))
        if action == "slow":
            await asyncio.sleep(SLOW)
        if action == "close":
            assert request.transport is not None
            request.transport.close()
        if action == "redirect":
            raise web.HTTPTemporaryRedirect(f"/{key}.moved")
        return web.Response(status=200)

    def url(self, plan: list[str] | tuple[str, ...] = ()) -> str:
        assert self.app is not None
        key = uuid.uuid4().hex
        self.plans[key] = list(plan)
        return f"{self.app.base_url}/{key}"

    def settle(self, url: str, at_least: int = 1, quiet: float = 0.5, timeout: float = 8.0) -> list[Arrival]:
        """Arrivals once ``at_least`` came and nothing more came for ``quiet`` seconds."""
        key = url.rsplit("/", 1)[1]
        deadline = time.monotonic() + timeout
        while len(self.arrivals.get(key, [])) < at_least and time.monotonic() < deadline:
            time.sleep(0.01)
        quiet_from, deadline = time.monotonic(), time.monotonic() + timeout
        while True:
            got = list(self.arrivals.get(key, []))
            last = max(got[-1].at, quiet_from) if got else quiet_from
            if time.monotonic() - last >= quiet or time.monotonic() > deadline:
                return got
            time.sleep(0.01)


class Api:
    """A small client of one reference server: executions, their status, the settings hook."""

    def __init__(self, base_url: str, control_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=5.0,
                                 headers={"Authorization": f"Bearer {TOKEN}"})
        self.control = control_url

    def settings(self, **changes: Any) -> dict[str, Any]:
        r = self.http.put(self.control + "/callbacks/settings", json=changes)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def submit(self, obj: str = OK, url: str | None = None, headers: dict[str, str] | None = None,
               client: str = "100", **extra: Any) -> httpx.Response:
        body: dict[str, Any] = {"object_name": obj, **extra}
        if url is not None:
            body["callback"] = {"type": "http", "http": {"url": url, "headers": headers or {}}}
        return self.http.post(f"/ae/api/v1/{client}/executions", json=body)

    def run(self, obj: str = OK, url: str | None = None, **kw: Any) -> int:
        r = self.submit(obj, url, **kw)
        assert r.status_code == 200, r.text
        assert contract_errors("execution-response", r.json()) == []
        return int(r.json()["run_id"])

    def status(self, run_id: int, client: str = "100") -> httpx.Response:
        return self.http.get(f"/ae/api/v1/{client}/executions/{run_id}")

    def wait_ended(self, run_id: int, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            view = dict(self.status(run_id).json())
            if view["status"] >= 1800 or time.monotonic() > deadline:
                return view
            time.sleep(0.02)


def config(*faults: str, **kw: Any) -> ServerConfig:
    """A fast-timings server config accepting TOKEN, with these faults on."""
    return ServerConfig(tokens=(TOKEN,), faults=frozenset(faults), **kw)


@contextmanager
def serving(server_config: ServerConfig) -> Iterator[Api]:
    """A reference server on a loopback port and a client of it, for the ``with`` block."""
    server = start_in_thread(server_config)
    api = Api(server.base_url, server.control_url)
    try:
        yield api
    finally:
        api.http.close()
        server.stop()


def gaps(arrivals: list[Arrival]) -> list[float]:
    return [b.at - a.at for a, b in zip(arrivals, arrivals[1:])]


def within(measured: float, expected: float) -> bool:
    return abs(measured - expected) <= max(0.15, 0.3 * expected)


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{key}", receiver.handle)
    receiver.app = start_app_in_thread(app, name="callback-receiver")
    try:
        yield receiver
    finally:
        receiver.app.stop()
