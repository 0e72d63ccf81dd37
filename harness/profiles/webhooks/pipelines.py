"""A client of the exec API and the bookkeeping of one pipeline run's webhooks (pure helpers too).

Seed 004: "There are two types of webhooks, progress and result. You can also fetch the same data
from the API: progress - /api/v1/exec/status, result - /api/v1/exec/results."
"""
from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import dataclass
from typing import Any

import httpx

from harness.profiles.webhooks import LEVELS
from harness.runner import Context
from harness.transport.http import json_body
from harness.transport.receiver import Delivery, Inbox

TERMINAL = {"completed", "failed", "stopped"}
ORDER = {"pending": 0, "active": 1, "completed": 2, "failed": 2, "stopped": 2}


def severity(level: Any) -> int:
    return LEVELS.index(level) if level in LEVELS else -1


def allowed(event_level: Any, requested: str, compare: str) -> bool:
    """Whether an event of ``event_level`` may be sent to a client that asked for ``requested``."""
    if compare == "at-most":
        return 0 <= severity(event_level) <= severity(requested)
    return severity(event_level) >= severity(requested)


def lifecycle_problems(statuses: list[Any]) -> list[str]:
    """Statuses out of lifecycle order, or anything after a terminal status."""
    problems = []
    for i, (a, b) in enumerate(zip(statuses, statuses[1:])):
        if a in TERMINAL:
            problems.append(f"{b!r} after terminal {a!r} at {i + 1}")
        elif ORDER.get(b, 1) < ORDER.get(a, 1):
            problems.append(f"{b!r} after {a!r} at {i + 1}")
    return problems


def decreasing(values: list[float]) -> list[int]:
    """Indexes where a value is lower than the one before."""
    return [i for i, (a, b) in enumerate(zip(values, values[1:]), start=1) if b < a]


def as_number(progress: Any) -> float | None:
    try:
        return float(progress) if not isinstance(progress, bool) else None
    except (TypeError, ValueError):
        return None


def bodies(deliveries: list[Delivery]) -> list[Any]:
    out = []
    for d in deliveries:
        try:
            out.append(d.json())
        except ValueError:
            out.append(None)
    return out


@dataclass
class Run:
    job_id: str
    progress: Inbox | None
    result: Inbox | None


class Exec:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.http = ctx.ahttp()
        self.base = ctx.target.base_url + ctx.option("base_path")

    def descriptor(self, pipeline: str, *, progress: Inbox | None = None, result: Inbox | None = None,
                   level: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = copy.deepcopy(self.ctx.option("pipelines")[pipeline])
        hooks = {k: v.url for k, v in (("progress", progress), ("result", result)) if v is not None}
        if hooks:
            body["webhooks"] = hooks
        if level is not None:
            body["options"] = {"progressVerbosityLevel": level}
        return body

    async def submit_raw(self, body: Any) -> httpx.Response:
        return await self.http.request("POST", self.base + "/exec/raw", json=body, bearer=None)

    async def start(self, pipeline: str, *, hooks: bool = True, level: str | None = None,
                    label: str = "") -> Run:
        progress = self.ctx.inbox(f"{label}progress") if hooks else None
        result = self.ctx.inbox(f"{label}result") if hooks else None
        r = await self.submit_raw(self.descriptor(pipeline, progress=progress, result=result, level=level))
        body = json_body(r)
        job_id = body.get("jobId") if isinstance(body, dict) else None
        self.ctx.require("run-accepted", r.status_code == 200 and isinstance(job_id, str) and bool(job_id),
                         "a pipeline run is accepted with its jobId", expected="200 {jobId}",
                         observed={"status": r.status_code, "body": body})
        assert isinstance(job_id, str)
        self.ctx.on_close(lambda: self._stop_quietly(job_id))
        return Run(job_id, progress, result)

    def _stop_quietly(self, job_id: str) -> None:
        """Every run the harness starts is stopped when the scenario ends (a no-op once ended)."""
        self.ctx.http().request("POST", self.base + "/exec/stop", json={"jobId": job_id}, bearer=None)

    async def get(self, what: str, job_id: str) -> httpx.Response:
        return await self.http.request("GET", f"{self.base}/exec/{what}/{job_id}", bearer=None)

    async def stop(self, job_id: str) -> httpx.Response:
        return await self.http.request("POST", self.base + "/exec/stop", json={"jobId": job_id}, bearer=None)

    async def until_terminal(self, run: Run, within: float) -> list[Delivery]:
        """Progress webhooks until a terminal one arrived (or ``within`` s), then a short settle."""
        assert run.progress is not None
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            got = run.progress.deliveries()
            if any(isinstance(b, dict) and b.get("status") in TERMINAL for b in bodies(got)):
                break
            await asyncio.sleep(0.02)
        await run.progress.quiet(self.settle())
        return run.progress.deliveries()

    def settle(self) -> float:
        """How long to keep listening after the end: the throttle may hold one event."""
        return self.ctx.latest(self.ctx.timing("throttle_window")) if self.ctx.option("throttled") else 0.3

    def within(self) -> float:
        return self.ctx.latest(self.ctx.timing("run_time")) + self.ctx.latest(self.ctx.timing("delivery_timeout"))
