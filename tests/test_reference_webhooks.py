"""The reference server's webhooks profile over real loopback: exec API, runs, webhooks, faults.

Each test starts its own server (``start_in_thread``) and a small aiohttp receiver in the test's
loop; the receiver answers each webhook as planned (a status, "hang" or "close") and records when
it arrived. Timings are the fast ones or shorter, set through ``config.options["webhooks"]``.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from reference_server.app import RunningServer, start_in_thread
from reference_server.config import ServerConfig
from reference_server.profiles import webhooks
from reference_server.profiles.pipelines import LEVELS, severity
from reference_server.protocols import protocol

Json = dict[str, Any]
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas" / "webhooks"
_DOCS = {p.stem.removesuffix(".schema"): json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}
_REGISTRY = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in _DOCS.values())
VALIDATORS = {name: Draft202012Validator(d, registry=_REGISTRY) for name, d in _DOCS.items()}
NO_THROTTLE = {"throttle_window": 0.0}
QUICK = {"retry_delay": 0.2, "delivery_timeout": 0.5, "throttle_window": 0.0}


def valid(schema: str, body: Json) -> None:
    errors = [e.message for e in VALIDATORS[schema].iter_errors(body)]
    assert not errors, (schema, errors, body)


@dataclass
class Call:
    at: float
    body: Json
    content_type: str


@dataclass
class Receiver:
    """Webhook endpoints /{kind}/{key}; ``plans[key]`` lists answers (status, "hang", "close")."""

    base: str = ""
    calls: dict[str, list[Call]] = field(default_factory=dict)
    plans: dict[str, list[int | str]] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        key = f"{request.match_info['kind']}/{request.match_info['key']}"
        body = json.loads(await request.read())
        self.calls.setdefault(key, []).append(Call(time.monotonic(), body, request.content_type))
        plan = self.plans.get(key)
        action = plan.pop(0) if plan else 200
        if action == "hang":
            await asyncio.sleep(30)
        if action == "close":
            assert request.transport is not None
            request.transport.abort()
            raise ConnectionResetError("closed on purpose")
        assert isinstance(action, int)
        return web.Response(status=action)

    def hooks(self, key: str, result: bool = True) -> Json:
        out = {"progress": f"{self.base}/progress/{key}"}
        if result:
            out["result"] = f"{self.base}/result/{key}"
        return out

    def progress(self, key: str) -> list[Json]:
        return [c.body for c in self.calls.get(f"progress/{key}", [])]

    def results(self, key: str) -> list[Json]:
        return [c.body for c in self.calls.get(f"result/{key}", [])]

    async def until(self, check: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "timed out waiting for webhooks"
            await asyncio.sleep(0.01)

    async def settle(self, quiet: float = 0.25, timeout: float = 5.0) -> None:
        """Wait until no webhook has arrived for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            last = max((c.at for calls in self.calls.values() for c in calls), default=0.0)
            if time.monotonic() - last >= quiet:
                return
            assert time.monotonic() < deadline, "webhooks kept coming"
            await asyncio.sleep(0.02)

    async def terminal(self, key: str, timeout: float = 5.0) -> Json:
        def done() -> bool:
            events = self.progress(key)
            return bool(events) and events[-1]["status"] in ("completed", "failed", "stopped")
        await self.until(done, timeout)
        return self.progress(key)[-1]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/{kind}/{key}", rec.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server: Any = site._server
    rec.base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    yield rec
    await runner.cleanup()


@contextmanager
def serving(*faults: str, **options: Any) -> Iterator[RunningServer]:
    running = start_in_thread(ServerConfig(faults=frozenset(faults), options={"webhooks": options}))
    try:
        yield running
    finally:
        running.stop()


@asynccontextmanager
async def api(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url + webhooks.BASE_PATH, timeout=5.0) as client:
        yield client


def pipeline(name: str = "batch", algorithm: str = "green-alg", batch: str = "#[1,2,3]",
             hooks: Json | None = None, level: str | None = None) -> Json:
    body: Json = {"name": name, "nodes": [{"nodeName": "green", "algorithmName": algorithm, "input": [batch]}]}
    if hooks is not None:
        body["webhooks"] = hooks
    if level is not None:
        body["options"] = {"progressVerbosityLevel": level}
    return body


async def run(client: httpx.AsyncClient, body: Json) -> str:
    response = await client.post("/exec/raw", json=body)
    assert response.status_code == 200, response.text
    job_id: str = response.json()["jobId"]
    name, _, rest = job_id.partition(":")
    assert name == body["name"] and uuid.UUID(rest).version == 4
    return job_id


def key() -> str:
    return uuid.uuid4().hex


# --- the run, its results and the API -------------------------------------------------------------
async def test_batch_run_lifecycle_and_results(receiver: Receiver) -> None:
    with serving(**NO_THROTTLE) as server:
        async with api(server) as client:
            k = key()
            job_id = await run(client, pipeline(hooks=receiver.hooks(k), level="trace"))
            assert (await client.get(f"/exec/results/{job_id}")).status_code == 400
            last = await receiver.terminal(k)
            await receiver.until(lambda: bool(receiver.results(k)))
            status = (await client.get(f"/exec/status/{job_id}")).json()
            results = (await client.get(f"/exec/results/{job_id}")).json()
    events = receiver.progress(k)
    for event in events:
        valid("progress", event)
    assert [e["status"] for e in events][0] == "pending" and last["status"] == "completed"
    order = ["pending", "active", "completed"]
    assert [order.index(e["status"]) for e in events] == sorted(order.index(e["status"]) for e in events)
    progress = [e["data"]["progress"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 100 and all(isinstance(p, float) for p in progress)
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
    assert last["data"]["details"] == "100.00% completed, 3 succeed" and last["data"]["states"] == {"succeed": 3}
    assert status == last  # GET status is the last progress webhook
    valid("result", results)
    assert receiver.results(k) == [results]  # once, equal to GET results
    assert results["status"] == "completed" and results["timeTook"] >= 0
    assert [(d["batchIndex"], d["result"]) for d in results["data"]] == [(1, 10), (2, 20), (3, 30)]
    assert all(c.content_type == "application/json" for c in receiver.calls[f"progress/{k}"])


async def test_api_errors_405_and_auth(receiver: Receiver) -> None:
    with serving() as server:
        token = server.config.tokens[0]
        async with api(server) as client:
            for path in ("/exec/status/batch:nope", "/exec/results/batch:nope"):
                r = await client.get(path)
                assert r.status_code == 404 and r.json()["error"]["code"] == 404
                valid("error", r.json())
            bad = [b"{", pipeline(level="verbose"), pipeline(algorithm="no-alg"), {"nodes": []},
                   pipeline(batch="#[]"), {**pipeline(), "webhooks": {"progress": "ftp://x"}}]
            for body in bad:
                r = await (client.post("/exec/raw", content=body) if isinstance(body, bytes)
                           else client.post("/exec/raw", json=body))
                assert r.status_code == 400 and r.json()["error"]["code"] == 400, body
            for method, path, allow in (("GET", "/exec/raw", "POST"), ("PUT", "/exec/stop", "POST"),
                                        ("POST", "/exec/status/x", "GET"), ("DELETE", "/exec/results/x", "GET")):
                r = await client.request(method, path)
                assert r.status_code == 405 and r.headers["Allow"] == allow
                valid("error", r.json())
            assert (await client.post("/exec/stop", json={"jobId": "batch:nope"})).status_code == 404
            assert (await client.post("/exec/stop", json={"reason": "x"})).status_code == 400
            r = await client.post("/exec/raw", json=pipeline(), headers={"Authorization": "Bearer wrong"})
            assert r.status_code == 401 and r.json()["error"]["code"] == 401
            job_id = (await client.post("/exec/raw", json=pipeline(),
                                        headers={"Authorization": f"Bearer {token}"})).json()["jobId"]
            deadline = time.monotonic() + 5
            while (await client.get(f"/exec/status/{job_id}")).json()["status"] != "completed":
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            r = await client.post("/exec/stop", json={"jobId": job_id})
            assert r.status_code == 400  # an ended run cannot be stopped


def test_declared_settings_and_openapi() -> None:
    config = ServerConfig()
    declared = protocol("webhooks").declared(config)
    assert declared["timings"] == {"retry_delay": 0.3, "delivery_timeout": 1.0, "throttle_window": 0.3,
                                   "run_time": 3.0}
    options = declared["options"]
    assert options["attempts"] == 3 and options["verbosity_compare"] == "at-least"
    for body in options["pipelines"].values():
        assert "webhooks" not in body
        valid("pipeline-run-request", body)
    spec = protocol("webhooks").declared(ServerConfig(timings=type(config.timings).named("spec")))
    assert spec["timings"]["retry_delay"] == 5.0 and spec["timings"]["run_time"] == 60.0
    assert set(webhooks.openapi_paths(config)) == {webhooks.RAW_PATH, webhooks.STOP_PATH,
                                                   webhooks.STATUS_PATH, webhooks.RESULTS_PATH}
    with pytest.raises(ValueError, match="unknown keys"):
        webhooks.settings(ServerConfig(options={"webhooks": {"retries": 2}}))


def test_result_items_carry_a_result_or_an_error() -> None:
    item = {"nodeName": "green", "algorithmName": "fail-alg", "batchIndex": 1}
    body = {"jobId": "b:1", "timestamp": "2018-01-16T15:15:00.369Z", "pipeline": "b", "status": "failed"}
    valid("result", {**body, "data": [{**item, "error": "failed"}]})
    assert list(VALIDATORS["result"].iter_errors({**body, "data": [item]}))


# --- verbosity ------------------------------------------------------------------------------------
def expected_levels(requested: str) -> set[str]:
    produced = {"trace", "debug", "info", "warn", "error"}  # a failing run; critical is never used
    return {level for level in produced if severity(level) >= severity(requested)}


async def levels_received(receiver: Receiver, *faults: str, algorithm: str = "fail-alg",
                          levels: tuple[str | None, ...] = LEVELS) -> dict[str | None, set[str]]:
    with serving(*faults, **NO_THROTTLE) as server:
        async with api(server) as client:
            keys = {level: key() for level in levels}
            for level, k in keys.items():
                await run(client, pipeline(hooks=receiver.hooks(k), level=level, algorithm=algorithm))
            await receiver.until(lambda: all(receiver.results(k) for k in keys.values()))
            await receiver.settle()  # the last progress webhooks
    return {level: {e.get("level", "?") for e in receiver.progress(k)} for level, k in keys.items()}


async def test_verbosity_sets_are_nested_for_all_six_levels(receiver: Receiver) -> None:
    got = await levels_received(receiver)
    for level in LEVELS:
        assert got[level] == expected_levels(level), level
    sets = [frozenset(got[level]) for level in LEVELS]
    assert len(set(sets)) == 6 and all(a > b for a, b in zip(sets, sets[1:]))


async def test_default_level_is_info(receiver: Receiver) -> None:
    got = await levels_received(receiver, levels=(None,))
    assert got[None] == expected_levels("info")


# --- results of failed and stopped runs -----------------------------------------------------------
async def test_result_of_a_failed_run(receiver: Receiver) -> None:
    with serving(**NO_THROTTLE) as server:
        async with api(server) as client:
            k = key()
            job_id = await run(client, pipeline(algorithm="fail-alg", hooks=receiver.hooks(k)))
            last = await receiver.terminal(k)
            await receiver.until(lambda: bool(receiver.results(k)))
            assert receiver.results(k) == [(await client.get(f"/exec/results/{job_id}")).json()]
    assert last["status"] == "failed" and last["level"] == "error"
    result = receiver.results(k)[0]
    valid("result", result)
    assert result["status"] == "failed" and len(result["data"]) == 3
    assert all("error" in d and "result" not in d for d in result["data"])


async def stop_slow_run(receiver: Receiver, *faults: str) -> tuple[str, Json, Json]:
    with serving(*faults, **NO_THROTTLE) as server:
        async with api(server) as client:
            k = key()
            job_id = await run(client, pipeline(name="slow", algorithm="slow-alg", hooks=receiver.hooks(k)))
            await receiver.until(lambda: any(e["status"] == "active" for e in receiver.progress(k)))
            assert (await client.get(f"/exec/results/{job_id}")).status_code == 400
            r = await client.post("/exec/stop", json={"jobId": job_id, "reason": "enough"})
            assert r.status_code == 200
            if "wh-stop-ignored" in faults:
                await asyncio.sleep(0.3)
            else:
                await receiver.terminal(k)
                await receiver.settle()
            status = (await client.get(f"/exec/status/{job_id}")).json()
            results = (await client.get(f"/exec/results/{job_id}"))
            return k, status, results.json() if results.status_code == 200 else {}


async def test_result_of_a_stopped_run(receiver: Receiver) -> None:
    k, status, results = await stop_slow_run(receiver)
    await receiver.until(lambda: bool(receiver.results(k)))
    last = receiver.progress(k)[-1]
    assert status == last and last["status"] == "stopped"
    assert receiver.results(k) == [results] and results["status"] == "stopped"
    valid("result", results)
    assert [d["error"] for d in results["data"]] == ["stopped: enough"] * 3


# --- delivery: retries, throttle, a hanging receiver ----------------------------------------------
PLANS: dict[str, list[int | str]] = {
    "503-twice": [503, 503], "503-always": [503, 503, 503, 503], "408": [408],
    "closed": ["close"], "timeout": ["hang"], "404": [404, 404, 404],
}


async def result_attempts(receiver: Receiver, *faults: str, **options: Any) -> dict[str, list[float]]:
    """Arrival times of the result webhook's attempts, one run per plan (all in one server)."""
    settings = {**QUICK, **options}
    with serving(*faults, **settings) as server:
        async with api(server) as client:
            keys = {name: key() for name in PLANS}
            for name, k in keys.items():
                receiver.plans[f"result/{k}"] = list(PLANS[name])
                await run(client, pipeline(hooks=receiver.hooks(k)))
            await receiver.until(lambda: all(receiver.results(k) for k in keys.values()))
            # the longest plan: a timeout then a retry; then long enough to see a surplus attempt
            await asyncio.sleep(settings["delivery_timeout"] + 3 * settings["retry_delay"] + 0.4)
    return {name: [c.at for c in receiver.calls[f"result/{k}"]] for name, k in keys.items()}


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


async def test_retries_on_5xx_408_and_connection_errors_not_404(receiver: Receiver) -> None:
    got = await result_attempts(receiver)
    assert {name: len(times) for name, times in got.items()} == {
        "503-twice": 3, "503-always": 3, "408": 2, "closed": 2, "timeout": 2, "404": 1}
    delay = QUICK["retry_delay"]
    for name in ("503-twice", "503-always", "408", "closed"):
        assert all(delay <= gap < delay + 0.5 for gap in gaps(got[name])), (name, gaps(got[name]))
    # the timeout counts from the send, the receiver sees the first attempt a little later
    timeout_gap = gaps(got["timeout"])[0]
    assert QUICK["delivery_timeout"] + delay - 0.05 <= timeout_gap < QUICK["delivery_timeout"] + delay + 0.5


RETRY_FAULTS: dict[str, dict[str, int]] = {
    "wh-retry-on-404": {"404": 3},
    "wh-no-retry-on-503": {"503-twice": 1, "503-always": 1},
    "wh-no-retry-on-408": {"408": 1},
    "wh-timeout-not-retried": {"timeout": 1},
    "wh-attempts-off-by-one": {"503-always": 4},
    "wh-retry-no-delay": {"503-twice": 3},
}


async def test_retry_faults(receiver: Receiver) -> None:
    """One server per fault, all at once (each with its own runs and the same receiver)."""
    got = await asyncio.gather(*(result_attempts(receiver, fault) for fault in RETRY_FAULTS))
    by_fault = dict(zip(RETRY_FAULTS, got))
    assert {fault: {name: len(by_fault[fault][name]) for name in counts}
            for fault, counts in RETRY_FAULTS.items()} == RETRY_FAULTS
    assert max(gaps(by_fault["wh-retry-no-delay"]["503-twice"])) < QUICK["retry_delay"]


async def throttled_run(receiver: Receiver, *faults: str, window: float, items: int,
                        level: str) -> list[tuple[float, Json]]:
    with serving(*faults, **{**QUICK, "throttle_window": window}) as server:
        async with api(server) as client:
            k = key()
            batch = "#" + json.dumps(list(range(1, items + 1)))
            await run(client, pipeline(hooks=receiver.hooks(k), level=level, batch=batch))
            await receiver.until(lambda: bool(receiver.results(k)))
            await asyncio.sleep(window + 0.2)
            await receiver.settle()
    return [(c.at, c.body) for c in receiver.calls.get(f"progress/{k}", [])]


async def test_throttle_first_and_last_per_window_terminal_always(receiver: Receiver) -> None:
    window = 0.3
    calls = await throttled_run(receiver, window=window, items=10, level="trace")
    everything = 1 + 10 + 1 + 10 + 10 + 1  # pending, created, active, task active, task done, completed
    assert 3 <= len(calls) < everything
    assert calls[-1][1]["status"] == "completed"
    non_terminal = [at for at, body in calls[:-1]]
    # at most two sends (the first and the last of a window) in any window-long interval
    assert all(b - a >= window - 0.1 for a, b in zip(non_terminal, non_terminal[2:]))  # 0.1: arrival jitter


async def test_fault_no_throttle(receiver: Receiver) -> None:
    calls = await throttled_run(receiver, "wh-no-throttle", window=0.3, items=10, level="trace")
    assert len(calls) == 1 + 10 + 1 + 10 + 10 + 1


async def test_fault_terminal_throttled(receiver: Receiver) -> None:
    calls = await throttled_run(receiver, "wh-terminal-throttled", window=1.0, items=3, level="info")
    assert calls and all(body["status"] != "completed" for _, body in calls)


async def hanging_neighbour(receiver: Receiver, *faults: str) -> float | None:
    """Seconds until run B's result arrives while run A's progress receiver hangs (None: not in 1 s)."""
    with serving(*faults, retry_delay=0.2, delivery_timeout=2.0, throttle_window=0.0) as server:
        async with api(server) as client:
            a, b = key(), key()
            receiver.plans[f"progress/{a}"] = ["hang"] * 50
            await run(client, pipeline(hooks=receiver.hooks(a, result=False), level="trace"))
            await asyncio.sleep(0.1)
            start = time.monotonic()
            await run(client, pipeline(hooks=receiver.hooks(b)))
            try:
                await receiver.until(lambda: bool(receiver.results(b)), timeout=1.0)
            except AssertionError:
                return None
            return receiver.calls[f"result/{b}"][0].at - start


async def test_hanging_receiver_does_not_delay_other_runs(receiver: Receiver) -> None:
    took = await hanging_neighbour(receiver)
    assert took is not None and took < 1.0


async def test_fault_hanging_receiver_blocks(receiver: Receiver) -> None:
    assert await hanging_neighbour(receiver, "wh-hanging-receiver-blocks") is None


# --- faults that change what a run reports ---------------------------------------------------------
@dataclass
class Outcome:
    job_id: str
    progress: list[Json]
    results: list[Json]
    status: httpx.Response
    get_results: httpx.Response
    calls: list[Call]


async def one_run(receiver: Receiver, *faults: str, level: str = "debug", **kw: Any) -> Outcome:
    with serving(*faults, **NO_THROTTLE) as server:
        async with api(server) as client:
            k = key()
            job_id = await run(client, pipeline(hooks=receiver.hooks(k), level=level, **kw))
            await receiver.until(lambda: bool(receiver.results(k)))
            await receiver.settle()
            return Outcome(job_id, receiver.progress(k), receiver.results(k),
                           await client.get(f"/exec/status/{job_id}"),
                           await client.get(f"/exec/results/{job_id}"),
                           receiver.calls[f"progress/{k}"] + receiver.calls[f"result/{k}"])


def increasing(values: list[Any]) -> bool:
    return all(a <= b for a, b in zip(values, values[1:]))


RUN_FAULTS: list[tuple[str, Callable[[Outcome], bool]]] = [
    ("wh-missing-batch-entry", lambda o: len(o.results[0]["data"]) == 2 == len(o.get_results.json()["data"])),
    ("wh-status-api-stale", lambda o: o.status.json()["status"] == "active" != o.progress[-1]["status"]),
    ("wh-level-missing", lambda o: all("level" not in e for e in o.progress)),
    ("wh-progress-string", lambda o: all(isinstance(e["data"]["progress"], str) for e in o.progress)),
    ("wh-progress-backwards", lambda o: not increasing([e["data"]["progress"] for e in o.progress])),
    ("wh-timestamps-backwards", lambda o: not increasing([e["timestamp"] for e in o.progress])),
    ("wh-duplicate-result-differs", lambda o: len(o.results) == 2 and o.results[0] != o.results[1]),
    ("wh-content-type-text", lambda o: {c.content_type for c in o.calls} == {"text/plain"}),
]


async def test_clean_run_shows_none_of_the_run_faults(receiver: Receiver) -> None:
    clean = await one_run(receiver)
    assert [fault for fault, changed in RUN_FAULTS if changed(clean)] == []


@pytest.mark.parametrize(("fault", "changed"), RUN_FAULTS, ids=[f for f, _ in RUN_FAULTS])
async def test_run_faults(receiver: Receiver, fault: str, changed: Callable[[Outcome], bool]) -> None:
    assert changed(await one_run(receiver, fault))


async def test_fault_failed_run_reported_completed_and_no_result_on_failure(receiver: Receiver) -> None:
    outcome = await one_run(receiver, "wh-failed-run-reported-completed", algorithm="fail-alg")
    assert outcome.progress[-1]["status"] == "completed" and outcome.results[0]["status"] == "completed"
    with serving("wh-no-result-on-failure", **NO_THROTTLE) as server:
        async with api(server) as client:
            k = key()
            job_id = await run(client, pipeline(algorithm="fail-alg", hooks=receiver.hooks(k)))
            await receiver.terminal(k)
            await asyncio.sleep(0.3)
            assert receiver.results(k) == []
            assert (await client.get(f"/exec/results/{job_id}")).json()["status"] == "failed"


async def test_fault_no_result_on_stop(receiver: Receiver) -> None:
    k, status, results = await stop_slow_run(receiver, "wh-no-result-on-stop")
    assert status["status"] == "stopped" and results["status"] == "stopped" and receiver.results(k) == []


async def test_fault_stop_ignored(receiver: Receiver) -> None:
    k, status, results = await stop_slow_run(receiver, "wh-stop-ignored")
    assert status["status"] == "active" and results == {}


@pytest.mark.parametrize(("fault", "level", "wrong"), [
    ("wh-verbosity-inverted", "warn", {"trace", "debug", "info", "warn"}),
    ("wh-verbosity-ignored", "error", expected_levels("trace")),
    ("wh-default-level-debug", None, expected_levels("debug")),
])
async def test_verbosity_faults(receiver: Receiver, fault: str, level: str | None, wrong: set[str]) -> None:
    assert (await levels_received(receiver, fault, levels=(level,)))[level] == wrong


async def test_api_faults(receiver: Receiver) -> None:
    with serving("wh-unknown-level-accepted", "wh-405-without-allow", "wh-results-before-end",
                 "wh-auth-ignored") as server:
        async with api(server) as client:
            assert (await client.post("/exec/raw", json=pipeline(level="verbose"))).status_code == 200
            r = await client.put("/exec/raw")
            assert r.status_code == 405 and "Allow" not in r.headers
            job_id = await run(client, pipeline(name="slow", algorithm="slow-alg"))
            assert (await client.get(f"/exec/results/{job_id}")).status_code == 200
            r = await client.get(f"/exec/status/{job_id}", headers={"Authorization": "Bearer wrong"})
            assert r.status_code == 200
