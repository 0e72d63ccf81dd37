"""webhooks profile: outbound delivery of the progress and result webhooks.

- POST with a JSON body through one shared ``aiohttp.ClientSession``; at most ``concurrency``
  requests in flight (a semaphore held per attempt, never across the retry delay).
- ``attempts`` in total with a fixed ``retry_delay`` between the end of a failed attempt and the
  next one; retried on 5xx, 408, connection errors and timeouts (``delivery_timeout`` per
  attempt); any other status ends the delivery (2xx delivered, 3xx/4xx refused).
- Progress: the level filter (sent when the event is at least as severe as the requested level),
  then a per-run throttle (:class:`Throttle`), then one ordered chain per run, so a slow receiver
  delays only its own run's later webhooks. The result: once, when the run ends.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, fields
from typing import Any, Callable, Coroutine

import aiohttp

from reference_server.profiles.pipelines import Json, Run, severity

TIMINGS = {  # seconds; "spec" from protocol-notes (5 s fixed delay, about one progress a second)
    "spec": {"retry_delay": 5.0, "delivery_timeout": 10.0, "throttle_window": 1.0, "run_time": 60.0},
    "fast": {"retry_delay": 0.3, "delivery_timeout": 1.0, "throttle_window": 0.3, "run_time": 3.0},
}


@dataclass(frozen=True)
class DeliverySettings:
    """``ServerConfig.options["webhooks"]`` may override any field; unknown keys are an error."""

    attempts: int = 3
    retry_delay: float = 0.3
    delivery_timeout: float = 1.0
    throttle_window: float = 0.3  # 0: no throttle
    concurrency: int = 16

    @classmethod
    def build(cls, timings_name: str, overrides: dict[str, Any]) -> "DeliverySettings":
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"options['webhooks']: unknown keys {sorted(unknown)}; known: {sorted(known)}")
        base = {k: v for k, v in TIMINGS[timings_name].items() if k in known}
        return cls(**{**base, **overrides})


def retryable(status: int | None, faults: frozenset[str]) -> bool:
    """Is a failed attempt retried? ``status`` None: connection error; 0: no answer in time."""
    if status is None:
        return True
    if status == 0:
        return "wh-timeout-not-retried" not in faults
    if status >= 500:
        return "wh-no-retry-on-503" not in faults
    if status == 408:
        return "wh-no-retry-on-408" not in faults
    return status == 404 and "wh-retry-on-404" in faults


class Throttle:
    """At most one progress webhook per window (leading edge) plus the latest event held to the
    window's end (trailing edge); a terminal event flushes the held one and goes at once."""

    def __init__(self, window: float, send: Callable[[Json], None]) -> None:
        self.window, self.send = window, send
        self.last_sent: float | None = None
        self.held: Json | None = None
        self._timer: asyncio.TimerHandle | None = None

    def offer(self, event: Json, terminal: bool) -> None:
        now = time.monotonic()
        if self.window <= 0:
            self.send(event)
        elif terminal:
            self._flush()
            self.send(event)
        elif self.last_sent is None or now - self.last_sent >= self.window:
            self.last_sent = now
            self.send(event)
        else:
            self.held = event
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_at(self.last_sent + self.window, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.held is not None:
            self.last_sent = time.monotonic()
            self.send(self.held)
            self.held = None

    def cancel(self) -> None:
        """Drop the held event (what lodash's ``throttled.cancel()`` does)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.held = None


class Delivery:
    """The shared session, the attempts of one webhook, and the background sends."""

    def __init__(self, settings: DeliverySettings, faults: frozenset[str]) -> None:
        self.settings, self.faults = settings, faults
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._serial = asyncio.Lock()  # fault wh-hanging-receiver-blocks
        self._tasks: set[asyncio.Task[Any]] = set()

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.delivery_timeout),
                headers={"User-Agent": "progress-conformance-reference/0.1"})
        return self._session

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> "asyncio.Task[Any]":
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def post(self, url: str, body: Json) -> list[int | None]:
        """Deliver one webhook; the outcome of each attempt (status, 0 timeout, None refused)."""
        if "wh-hanging-receiver-blocks" in self.faults:
            async with self._serial:  # fault: one queue for every run's webhooks
                return await self._attempts(url, body)
        return await self._attempts(url, body)

    async def _attempts(self, url: str, body: Json) -> list[int | None]:
        data = json.dumps(body, separators=(",", ":")).encode()
        ctype = "text/plain" if "wh-content-type-text" in self.faults else "application/json"
        total = self.settings.attempts + (1 if "wh-attempts-off-by-one" in self.faults else 0)
        outcomes: list[int | None] = []
        for attempt in range(1, total + 1):
            status = await self._attempt(url, data, ctype)
            outcomes.append(status)
            if status is not None and 200 <= status < 300 or not retryable(status, self.faults):
                break
            if attempt < total and "wh-retry-no-delay" not in self.faults:
                await asyncio.sleep(self.settings.retry_delay)
        return outcomes

    async def _attempt(self, url: str, data: bytes, ctype: str) -> int | None:
        async with self._slots:
            try:
                async with self.session().post(url, data=data, allow_redirects=False,
                                               headers={"Content-Type": ctype}) as response:
                    await response.read()
                    return response.status
            except asyncio.TimeoutError:
                return 0
            except (aiohttp.ClientError, OSError):
                return None


class Webhooks:
    """The :class:`RunListener` that turns a run's events into webhooks."""

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self.faults = delivery.faults
        self._throttles: dict[str, Throttle] = {}
        self._chains: dict[str, "asyncio.Task[Any]"] = {}

    def wanted(self, event_level: str, requested: str) -> bool:
        if "wh-verbosity-ignored" in self.faults:
            return True
        if "wh-verbosity-inverted" in self.faults:  # fault: the older comparison
            return severity(event_level) <= severity(requested)
        return severity(event_level) >= severity(requested)

    def progress(self, run: Run, payload: Json, level: str, terminal: bool) -> None:
        url = run.request.progress_url
        if url is None or not self.wanted(level, run.request.level):
            return
        throttle = self._throttles.get(run.job_id)
        if throttle is None:
            window = 0.0 if "wh-no-throttle" in self.faults else self.delivery.settings.throttle_window
            throttle = self._throttles[run.job_id] = Throttle(window, lambda e: self._chain(run, url, e))
        if "wh-terminal-throttled" in self.faults:
            throttle.offer(payload, terminal=False)  # fault: the terminal event is throttled too
        else:
            throttle.offer(payload, terminal)

    def _chain(self, run: Run, url: str, payload: Json) -> None:
        """Send after the run's previous progress webhook (ordered per run)."""
        before = self._chains.get(run.job_id)

        async def send() -> None:
            if before is not None:
                await asyncio.gather(before, return_exceptions=True)
            await self.delivery.post(url, payload)

        self._chains[run.job_id] = self.delivery.spawn(send())

    def ended(self, run: Run) -> None:
        throttle = self._throttles.pop(run.job_id, None)
        if throttle is not None and "wh-terminal-throttled" in self.faults:
            throttle.cancel()  # fault: the run's throttle is cancelled when it ends
        self._chains.pop(run.job_id, None)
        url, result = run.request.result_url, run.result
        if url is None or result is None:
            return
        if run.status == "failed" and "wh-no-result-on-failure" in self.faults:
            return
        if run.status == "stopped" and "wh-no-result-on-stop" in self.faults:
            return

        async def send() -> None:  # independent of the progress chain: a slow one does not delay it
            await self.delivery.post(url, result)
            if "wh-duplicate-result-differs" in self.faults:  # fault: re-sent from storage
                stored = [{**e, "result": {"storageInfo": {"path": f"{run.job_id}/{e['nodeName']}"}}}
                          if "result" in e else e for e in result["data"]]
                await self.delivery.post(url, {**result, "data": stored})

        self.delivery.spawn(send())
