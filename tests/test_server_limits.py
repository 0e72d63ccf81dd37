"""The reference server's bounds (reference_server.config.Limits) over real loopback sockets:
finished-job retention, remembered connection ids, SUBSCRIBE caps, job ids, integral numbers."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from reference_server.app import RunningServer, start_in_thread
from reference_server.config import Limits, ServerConfig
from reference_server.profiles import ws_progress
from tests.test_reference_ws_progress import TIMINGS, Api, expect_close

JOBS = ws_progress.JOBS_PATH
StartApi = Callable[..., Any]


@pytest.fixture
async def start_api() -> AsyncIterator[StartApi]:
    """``await start_api(fault..., **limits)``: a fresh server and a client of it."""
    started: list[tuple[RunningServer, Api]] = []

    async def start(*faults: str, **limits: Any) -> Api:
        config = ServerConfig(timings=dataclasses.replace(TIMINGS, token_lifetime=60.0),
                              faults=frozenset(faults), limits=Limits(**limits))
        running = start_in_thread(config)
        api = Api(running)
        started.append((running, api))
        return api

    yield start
    for running, api in started:
        await api.http.aclose()
        running.stop()


async def finished(api: Api, token: str, job_id: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = await api.get(token, f"{JOBS}/{job_id}")
        if r.status_code == 200 and r.json()["status"] == "COMPLETED":
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{job_id} did not finish")


async def test_only_the_newest_finished_jobs_are_kept(start_api: StartApi) -> None:
    api = await start_api(finished_jobs=3)
    token = await api.token()
    for i in range(5):
        assert (await api.submit(token, {"id": f"j{i}", "conformanceJob": {"runLogLines": 1}})).is_success
        await finished(api, token, f"j{i}")
    codes = [(await api.get(token, f"{JOBS}/j{i}")).status_code for i in range(5)]
    assert codes == [404, 404, 200, 200, 200]


async def test_a_finished_job_is_forgotten_after_the_retention(start_api: StartApi) -> None:
    api = await start_api(finished_job_retention=0.5)
    token = await api.token()
    assert (await api.submit(token, {"id": "short", "conformanceJob": {"runLogLines": 1}})).is_success
    await finished(api, token, "short")
    deadline = time.monotonic() + 10  # generous: only guards against never
    while (await api.get(token, f"{JOBS}/short")).status_code != 404:
        assert time.monotonic() < deadline, "the finished job was kept past its retention"
        await asyncio.sleep(0.05)


async def test_only_the_newest_closed_connection_ids_are_remembered(start_api: StartApi) -> None:
    api = await start_api("ws-old-connection-routes", closed_connection_ids=2)
    token = await api.token()
    closed = []
    for _ in range(3):
        async with api.connect(token) as ws:
            closed.append(ws.response.headers["connection-id"])
    await asyncio.sleep(0.2)  # the server notices the closes
    forgotten = await api.submit(token, {}, connection_id=closed[0])
    remembered = await api.submit(token, {}, connection_id=closed[2])
    assert forgotten.status_code == 422 and remembered.is_success


def subscribe(*job_ids: str) -> str:
    subs = [{"computeJobId": j, "executionAttempts": 1, "lastRunLogLine": 0} for j in job_ids]
    return json.dumps({"messageType": "SUBSCRIBE", "messagePayload": {"subscriptions": subs}})


async def test_subscribe_is_capped_per_frame(start_api: StartApi) -> None:
    api = await start_api(subscriptions_per_message=2)
    async with api.connect(await api.token()) as ws:
        await ws.send(subscribe("a", "b"))
        await ws.send(subscribe("a", "b", "c"))
        assert await expect_close(ws) == 1008
    assert "more than 2 jobs" in (ws.close_reason or "")


async def test_subscribe_is_capped_per_socket(start_api: StartApi) -> None:
    api = await start_api(subscriptions_per_socket=2)
    async with api.connect(await api.token()) as ws:
        await ws.send(subscribe("a", "b"))
        await ws.send(subscribe("a", "b"))  # the same jobs again: still two
        await ws.send(subscribe("c"))
        assert await expect_close(ws) == 1008
    assert "more than 2 jobs subscribed" in (ws.close_reason or "")


async def test_job_ids_of_only_dots_are_refused(start_api: StartApi) -> None:
    api = await start_api()
    token = await api.token()
    for job_id in (".", "..", "..."):
        r = await api.submit(token, {"id": job_id})
        assert r.status_code == 422 and "only dots" in r.json()["detail"], (job_id, r.text)
    assert (await api.submit(token, {"id": ".hidden.job"})).is_success


async def test_integral_numbers_are_integers(start_api: StartApi) -> None:
    """JSON Schema's integer: 3064.0 is one (JSON has no separate integer type); 1.5 is not."""
    api = await start_api()
    body = {"clientId": api.client_id, "secret": api.secret}
    assert (await api.http.post(ws_progress.TOKEN_PATH, json={**body, "maxAge": 3064.0})).is_success
    half = await api.http.post(ws_progress.TOKEN_PATH, json={**body, "maxAge": 1.5})
    assert half.status_code == 422
    token = await api.token()
    assert (await api.submit(token, {"conformanceJob": {"runLogLines": 2.0}})).is_success
    assert (await api.submit(token, {"conformanceJob": {"runLogLines": 2.5}})).status_code == 422
