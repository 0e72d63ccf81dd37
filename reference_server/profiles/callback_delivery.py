"""Outbound callback delivery: the settings (UC_CALLBACK_SETTINGS), the retry schedule and the sender.

Seed 003: the settings give "the number of retry attempts (in case the initial try fails) and
their interval, which can be constant, linear, or exponential". Here ``attempts`` counts the
retries only (at most 1 + attempts requests per callback), and the delay before retry n counts
from the moment try n failed: the answer arrived, the ``timeout`` expired or the connection
failed. A try fails on any non-2xx answer (redirects are not followed), a timeout or a
connection error.

Every delivery is its own asyncio task; a semaphore caps the requests in flight and the shared
``aiohttp.ClientSession`` opens one connection per request (a pooled connection the receiver has
closed would count as a failure it never saw). A receiver that hangs holds one slot for at most
``timeout`` seconds and delays nobody else.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import aiohttp
from multidict import CIMultiDict

from reference_server.config import ServerConfig
from reference_server.profiles.callback_payload import DefaultPayload
from reference_server.profiles.callback_store import CallbackStore, Delivery

MAX_IN_FLIGHT = 32
CONSTANT, LINEAR, SQUARED = 0, 1, 2


def retry_delay(mode: int, interval: float, failed_so_far: int) -> float:
    """Seconds from the n-th failed try to the next one (n = ``failed_so_far`` >= 1).

    Seed 003: constant uses the interval as is; linear multiplies it by the number of failed
    attempts; squared gives 30, 120, 270 s for a 30 s interval (n^2 x interval).
    """
    if failed_so_far < 1:
        raise ValueError("failed_so_far counts failed tries: 1 after the first failure")
    if mode == CONSTANT:
        return interval
    if mode == LINEAR:
        return failed_so_far * interval
    if mode == SQUARED:
        return failed_so_far ** 2 * interval
    raise ValueError(f"unknown retry mode {mode!r}: 0 constant, 1 linear, 2 squared")


@dataclass(frozen=True)
class CallbackSettings:
    """UC_CALLBACK_SETTINGS as the control hook shows them (see schemas/callbacks/callback-settings)."""

    attempts: int
    interval: float
    mode: int
    https_only: bool
    template: Any  # a JSON value whose strings may hold placeholders; None: the default payload
    timeout: float
    default_payload: DefaultPayload

    @classmethod
    def defaults(cls, config: ServerConfig) -> "CallbackSettings":
        """Seed defaults (3 retries, 30 s, constant; 10 s timeout) or the fast ones for tests,
        then whatever ``config.options["callbacks"]`` sets."""
        spec = config.timings.name == "spec"
        base = cls(attempts=3, interval=30.0 if spec else 0.5, mode=CONSTANT, https_only=False,
                   template=None, timeout=10.0 if spec else 1.0, default_payload="run_id")
        return base.updated(config.options.get("callbacks", {}))

    def updated(self, changes: dict[str, Any]) -> "CallbackSettings":
        """These settings with ``changes`` applied (the caller has validated them)."""
        known = {k: v for k, v in changes.items() if k in asdict(self)}
        for key in ("interval", "timeout"):
            if key in known:
                known[key] = float(known[key])
        return replace(self, **known)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def retry(self) -> dict[str, Any]:
        """What a delivery keeps of the settings in force when it was created."""
        return {"attempts": self.attempts, "interval": self.interval, "mode": self.mode,
                "timeout": self.timeout}


class CallbackSender:
    """Sends each callback once, retrying failed tries on the configured schedule."""

    def __init__(self, config: ServerConfig, store: CallbackStore) -> None:
        self.faults = config.faults
        self.store = store
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._serial = asyncio.Lock()  # cb-blocking-delivery: one delivery at a time
        self._tasks: set[asyncio.Task[None]] = set()

    def fault(self, name: str) -> bool:
        return name in self.faults

    async def start(self) -> None:
        """Open the session and resume the deliveries a previous run left pending."""
        connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT, force_close=True)
        self._session = aiohttp.ClientSession(connector=connector)
        for delivery in self.store.pending():
            self._spawn(delivery)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def send(self, run_id: int, url: str, headers: list[tuple[str, str]], body: str,
             settings: CallbackSettings) -> None:
        """Queue a callback: the first try starts at once."""
        if self.fault("cb-headers-dropped"):
            headers = []
        elif self.fault("cb-header-values-lowercased"):
            headers = [(name, value.lower()) for name, value in headers]
        delivery = self.store.add_delivery(run_id, url, headers, body, settings.retry(), time.time())
        self._spawn(delivery)

    def _spawn(self, delivery: Delivery) -> None:
        task = asyncio.get_running_loop().create_task(self._run(delivery),
                                                      name=f"callback {delivery.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the schedule --------------------------------------------------------------------------

    def delay(self, settings: dict[str, Any], failed_so_far: int) -> float:
        mode, interval, n = int(settings["mode"]), float(settings["interval"]), failed_so_far
        if self.fault("cb-constant-always"):
            mode = CONSTANT
        if self.fault("cb-interval-ignores-failures"):
            n = 1
        if self.fault("cb-doubling") and mode == SQUARED:
            return float(2 ** n * interval)
        return retry_delay(mode, interval, n)

    def retries_allowed(self, settings: dict[str, Any]) -> int:
        return int(settings["attempts"]) + (1 if self.fault("cb-attempts-off-by-one") else 0)

    async def _run(self, delivery: Delivery) -> None:
        if self.fault("cb-blocking-delivery"):
            async with self._serial:  # the whole job, retries included, holds the one worker
                await self._deliver(delivery)
        else:
            await self._deliver(delivery)

    async def _deliver(self, delivery: Delivery) -> None:
        while True:
            await asyncio.sleep(max(0.0, delivery.due - time.time()))
            if await self._try(delivery):
                self.store.finish(delivery, "delivered")
                if self.fault("cb-retry-after-2xx"):  # success not recorded: the retry fires
                    await asyncio.sleep(self.delay(delivery.settings, 1))
                    await self._try(delivery)
                return
            delivery.failed += 1
            if delivery.failed > self.retries_allowed(delivery.settings):
                self.store.finish(delivery, "given_up")
                return
            delivery.due = time.time() + self.delay(delivery.settings, delivery.failed)
            self.store.reschedule(delivery)

    async def _try(self, delivery: Delivery) -> bool:
        """One POST; True when it counts as delivered."""
        if self.fault("cb-blocking-delivery"):
            return await self._post(delivery)
        async with self._slots:
            return await self._post(delivery)

    async def _post(self, delivery: Delivery) -> bool:
        assert self._session is not None, "start() opens the session"
        seconds = float(delivery.settings["timeout"])
        headers: CIMultiDict[str] = CIMultiDict(delivery.headers)  # names keep their case
        headers.setdefault("Content-Type", "application/json")  # unless the request set one
        try:
            async with self._session.post(
                    delivery.url, data=delivery.body.encode(), headers=headers,
                    timeout=aiohttp.ClientTimeout(total=seconds, connect=seconds),
                    allow_redirects=self.fault("cb-redirect-followed")) as response:
                await response.read()
                status = response.status
        except TimeoutError:
            return self.fault("cb-no-retry-on-timeout")  # the timeout taken for "sent"
        except (aiohttp.ClientError, OSError, ValueError):
            return False
        if 200 <= status < 300:
            return True
        return self.fault("cb-4xx-not-retried") and 400 <= status < 500
