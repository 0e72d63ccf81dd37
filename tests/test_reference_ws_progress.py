"""The reference server's ws-progress profile over real loopback: REST, socket, timers, faults."""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode

from reference_server.app import RunningServer, start_in_thread
from reference_server.config import ServerConfig, Timings
from reference_server.faults import check_names
from reference_server.profiles import ws_progress

TIMINGS = Timings(ping_interval=0.1, idle_timeout=0.6, token_lifetime=5.0,
                  app_message_timeout=0.4, runlog_line_interval=0.005)
TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
Msg = dict[str, Any]


class SilentProtocol(ClientProtocol):
    """A client that never answers pings (to be idle while the TCP connection is fine)."""

    def recv_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.PING:
            return
        super().recv_frame(frame)


class SilentConnection(ClientConnection):
    def __init__(self, protocol: ClientProtocol, **kwargs: Any) -> None:
        protocol.__class__ = SilentProtocol
        super().__init__(protocol, **kwargs)


class Api:
    """A small client of one running server."""

    def __init__(self, server: RunningServer, client: int = 0) -> None:
        self.server = server
        self.client_id, self.secret = list(server.config.clients.items())[client]
        self.http = httpx.AsyncClient(base_url=server.base_url, timeout=5.0)
        self.ws_url = server.base_url.replace("http://", "ws://") + ws_progress.SOCKET_PATH

    async def token(self, max_age: int | None = None) -> str:
        body: Msg = {"clientId": self.client_id, "secret": self.secret}
        if max_age is not None:
            body["maxAge"] = max_age
        r = await self.http.post(ws_progress.TOKEN_PATH, json=body)
        assert r.status_code == 200, r.text
        return r.text

    def connect(self, token: str | None, *, silent: bool = False, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return connect(self.ws_url, additional_headers=headers, ping_interval=None,
                       create_connection=SilentConnection if silent else None, **kw)

    async def submit(self, token: str, body: Any, connection_id: str | None = None,
                     **headers: str) -> httpx.Response:
        """POST a job; an object without an id gets a fresh one (the contract requires it: a
        client names its job), so a test only names the jobs it refers to by name."""
        h = {"Authorization": f"Bearer {token}", **headers}
        if connection_id is not None:
            h["connection-id"] = connection_id
        if isinstance(body, dict) and "id" not in body:
            body = {"id": f"t-{uuid.uuid4().hex[:12]}", **body}
        return await self.http.post(ws_progress.JOBS_PATH, json=body, headers=h)

    async def get(self, token: str, path: str) -> httpx.Response:
        return await self.http.get(path, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    running = start_in_thread(ServerConfig(timings=TIMINGS))
    yield running
    running.stop()


@pytest.fixture
async def api(server: RunningServer) -> AsyncIterator[Api]:
    client = Api(server)
    yield client
    await client.http.aclose()


@pytest.fixture
def faulty() -> Iterator[Callable[..., RunningServer]]:
    started: list[RunningServer] = []

    def start(*faults: str, **config: Any) -> RunningServer:
        running = start_in_thread(ServerConfig(timings=TIMINGS, faults=check_names(faults), **config))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def payload(msg: Msg) -> Msg:
    return msg["messagePayload"]  # type: ignore[no-any-return]


async def recv(ws: ClientConnection, timeout: float = 3.0) -> Msg:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))  # type: ignore[no-any-return]


async def run_to_end(ws: ClientConnection, job_id: str, answer: bool | None = None) -> list[Msg]:
    """Messages of one job until its terminal status; APP_MESSAGEs answered with ``answer``."""
    seen: list[Msg] = []
    while True:
        msg = await recv(ws)
        assert msg["computeJobId"] == job_id
        seen.append(msg)
        if msg["messageType"] == "APP_MESSAGE" and answer is not None:
            await ws.send(json.dumps({"computeJobId": job_id, "messageType": "APP_MESSAGE_RESPONSE",
                                      "messagePayload": {"appMessageId": payload(msg)["appMessageId"],
                                                         "appMessage": {"interruptSolve": answer}}}))
        if msg["messageType"] == "JOB_STATUS_UPDATED" and payload(msg)["status"] in TERMINAL:
            return seen


def statuses(msgs: list[Msg]) -> list[str]:
    return [payload(m)["status"] for m in msgs if m["messageType"] == "JOB_STATUS_UPDATED"]


def run_log(msgs: list[Msg]) -> list[int]:
    """Line numbers covered by the RUNLOG_UPDATED messages, checking each range's own shape."""
    numbers: list[int] = []
    for m in msgs:
        if m["messageType"] == "RUNLOG_UPDATED":
            p = payload(m)
            assert p["endLine"] - p["startLine"] + 1 == len(p["lines"])
            numbers.extend(range(p["startLine"], p["endLine"] + 1))
    return numbers


async def expect_close(ws: ClientConnection, timeout: float = 3.0) -> int | None:
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return ws.close_code


# --- token and handshake ------------------------------------------------------------------------
async def test_token_endpoint(api: Api) -> None:
    r = await api.http.post(ws_progress.TOKEN_PATH, json={"clientId": api.client_id, "secret": api.secret})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain") and r.text
    bad = await api.http.post(ws_progress.TOKEN_PATH, json={"clientId": api.client_id, "secret": "nope"})
    assert bad.status_code == 401 and bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["status"] == 401
    unknown = await api.http.post(ws_progress.TOKEN_PATH, json={"clientId": "who", "secret": api.secret})
    assert unknown.status_code == 401
    assert (await api.http.post(ws_progress.TOKEN_PATH, content=b"{nope")).status_code == 400
    assert (await api.http.post(ws_progress.TOKEN_PATH, json={"clientId": 1})).status_code == 422
    assert (await api.get(r.text, "/api/compute-jobs/nope")).status_code == 404
    assert (await api.get("not-a-token", "/api/compute-jobs/nope")).status_code == 401
    assert (await api.http.get("/api/compute-jobs/nope")).status_code == 401


async def test_handshake(api: Api) -> None:
    for token in (None, "forged"):
        with pytest.raises(InvalidStatus) as info:
            async with api.connect(token):
                pass
        assert info.value.response.status_code == 401
    token = await api.token()
    async with api.connect(token) as a, api.connect(token) as b:
        ids = {a.response.headers["connection-id"], b.response.headers["connection-id"]}
        assert len(ids) == 2 and all(ids)
        assert "permessage-deflate" in a.response.headers.get("Sec-WebSocket-Extensions", "")
        await a.ping(b"client ping")  # the server answers client pings itself (autoping is off)


# --- jobs -----------------------------------------------------------------------------------------
async def test_full_job_sequence(api: Api) -> None:
    token = await api.token()
    async with api.connect(token) as ws:
        r = await api.submit(token, {"id": "full.job_1", "execution": {"threads": 4, "priority": 0},
                                     "solver": {"action": "solve", "callbacks": []},
                                     "conformanceJob": {"runLogLines": 12, "startDelayMs": 100}},
                             ws.response.headers["connection-id"])
        assert r.status_code == 201 and r.headers["Location"] == "/api/compute-jobs/full.job_1"
        job = r.json()
        assert job["id"] == "full.job_1" and job["status"] == "QUEUED" and job["executionAttempts"] == 1
        early = await api.get(token, "/api/compute-jobs/full.job_1/results")
        assert early.status_code == 409
        msgs = await run_to_end(ws, "full.job_1")
    assert statuses(msgs) == ["QUEUED", "EXECUTING", "COMPLETING", "COMPLETED"]
    assert run_log(msgs) == list(range(1, 13))
    kinds = [m["messageType"] for m in msgs]
    done = kinds.index("RUNLOG_COMPLETED")
    assert payload(msgs[done]) == {"totalLines": 12} and done > max(
        i for i, k in enumerate(kinds) if k == "RUNLOG_UPDATED")
    last = payload(msgs[-1])
    assert last["executionAttempts"] == 1 and last["resultsUrl"] and last["runLogUrl"]
    assert all("resultsUrl" not in payload(m) for m in msgs[:-1] if m["messageType"] == "JOB_STATUS_UPDATED")
    got = await api.get(token, "/api/compute-jobs/full.job_1")
    assert got.json()["status"] == "COMPLETED" and got.json()["resultsUrl"] == last["resultsUrl"]
    results = await api.get(token, last["resultsUrl"])
    assert results.status_code == 200 and results.json()["computeJobId"] == "full.job_1"
    assert results.json()["status"] == "COMPLETED" and isinstance(results.json()["result"], dict)
    text = await api.get(token, last["runLogUrl"])
    assert text.headers["content-type"].startswith("text/plain") and len(text.text.splitlines()) == 12


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_lines_due_at_once_arrive_one_per_frame_and_replay_in_one(
        api: Api, compression: str | None) -> None:
    """lineIntervalMs 0: the lines leave together (one write without permessage-deflate) but each
    in its own frame (runLogBatchLines 1); the replay is one frame of over 64 KiB; frames of the
    three RFC 6455 length forms arrive intact with and without compression."""
    token = await api.token()
    job_id, n = f"at-once-{compression}", 2000
    async with api.connect(token, compression=compression, max_size=2 ** 22) as ws:
        r = await api.submit(token, {"id": job_id, "conformanceJob": {
            "runLogLines": n, "lineIntervalMs": 0, "runLogBatchLines": 1}},
            ws.response.headers["connection-id"])
        assert r.status_code == 201
        msgs = await run_to_end(ws, job_id)
        await ws.send(json.dumps({"messageType": "SUBSCRIBE", "messagePayload": {"subscriptions": [
            {"computeJobId": job_id, "executionAttempts": 1, "lastRunLogLine": 0}]}}))
        current, replay_text, completed = await recv(ws), await ws.recv(), await recv(ws)
    updates = [payload(m) for m in msgs if m["messageType"] == "RUNLOG_UPDATED"]
    assert [(u["startLine"], u["endLine"]) for u in updates] == [(i, i) for i in range(1, n + 1)]
    assert [u["lines"][0] for u in updates] == [f"[{job_id}] run log line {i} of {n}"
                                                for i in range(1, n + 1)]
    assert statuses(msgs) == ["QUEUED", "EXECUTING", "COMPLETING", "COMPLETED"]
    assert current["messageType"] == "CURRENT_JOB_STATUS"
    assert isinstance(replay_text, str)  # a text frame
    replay = json.loads(replay_text)
    assert len(replay_text) > 65535 and payload(replay)["lines"] == [u["lines"][0] for u in updates]
    assert len(json.dumps(completed, separators=(",", ":"))) < 126
    assert payload(completed) == {"totalLines": n}


async def test_failing_job_and_quiet_run_log(api: Api) -> None:
    token = await api.token()
    async with api.connect(token) as ws:
        r = await api.submit(token, {"runLogMessages": False,
                                     "conformanceJob": {"runLogLines": 4, "outcome": "FAILED"}},
                             ws.response.headers["connection-id"])
        msgs = await run_to_end(ws, r.json()["id"])
    assert statuses(msgs) == ["QUEUED", "EXECUTING", "FAILED"]
    assert not [m for m in msgs if m["messageType"].startswith("RUNLOG")]


@pytest.mark.parametrize("answer, final", [(False, "COMPLETED"), (True, "CANCELLED"), (None, "FAILED")])
async def test_app_message(api: Api, answer: bool | None, final: str) -> None:
    token = await api.token()
    async with api.connect(token) as ws:
        r = await api.submit(token, {"conformanceJob": {"runLogLines": 6, "appMessages": 1}},
                             ws.response.headers["connection-id"])
        started = time.monotonic()
        msgs = await run_to_end(ws, r.json()["id"], answer)
    asks = [m for m in msgs if m["messageType"] == "APP_MESSAGE"]
    assert len(asks) == 1 and payload(asks[0])["appMessageType"] == "SOLVER_CALLBACK"
    assert payload(asks[0])["appMessage"] == {"iteration": 1}
    before = run_log(msgs[:msgs.index(asks[0])])
    assert before == [1, 2, 3]  # raised after half the run-log lines
    assert statuses(msgs)[-1] == final
    if answer is None:
        assert time.monotonic() - started >= TIMINGS.app_message_timeout


async def test_submission_errors(api: Api) -> None:
    token = await api.token()
    assert (await api.submit("bad", {})).status_code == 401
    r = await api.http.post(ws_progress.JOBS_PATH, content=b"{}", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["status"] == 415
    r = await api.http.post(ws_progress.JOBS_PATH, content=b"{", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/vnd.com.fico.xpress.insight.v2+json"})
    assert r.status_code == 400
    bodies: list[Any] = [{"id": "has space"}, {"id": "x" * 61}, {"execution": {"threads": 0}},
                         {"execution": {"priority": 101}}, {"runLogMessages": "yes"}, [],
                         {"conformanceJob": {"outcome": "MAYBE"}}, {"solver": {"callbacks": "x"}}]
    for body in bodies:
        assert (await api.submit(token, body)).status_code == 422, body
    assert (await api.submit(token, {}, "no-such-connection")).status_code == 422
    async with api.connect(token) as ws:
        closed_id = ws.response.headers["connection-id"]
    await asyncio.sleep(0.05)
    assert (await api.submit(token, {}, closed_id)).status_code == 422
    assert (await api.submit(token, {"id": "dup", "conformanceJob": {"runLogLines": 0}})).status_code == 201
    dup = await api.submit(token, {"id": "dup"})
    assert dup.status_code == 409 and dup.headers["content-type"].startswith("application/problem+json")


async def test_a_job_without_an_id_is_refused(api: Api) -> None:
    """schemas/ws-progress/job-request.schema.json requires id: the server makes none up (the
    multipart form: test_multipart_submission)."""
    token = await api.token()
    auth = {"Authorization": f"Bearer {token}"}
    for body in ({}, {"id": None}, {"conformanceJob": {"runLogLines": 0}}):
        r = await api.http.post(ws_progress.JOBS_PATH, json=body, headers=auth)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json") and "id" in r.json()["detail"]


async def test_what_the_contract_allows_is_accepted_and_nothing_else(api: Api) -> None:
    """The vendor docs allow threads: null and solver.callbacks: null; the contract's types hold
    for members the server otherwise ignores (executionService, computeJobType)."""
    token = await api.token()
    r = await api.submit(token, {"computeJobType": "SOLVER", "conformanceJob": {"runLogLines": 0},
                                 "execution": {"executionService": "PRIMARY", "threads": None},
                                 "solver": {"action": "OPTIMIZE", "callbacks": None}})
    assert r.status_code == 201, r.text
    for body in ({"execution": {"executionService": 5}}, {"computeJobType": 1},
                 {"conformanceJob": {"runLogBatchLines": 10_001}}, {"conformanceJob": None}):
        r = await api.submit(token, body)
        assert r.status_code == 422, (body, r.text)


async def test_events_go_only_to_the_named_socket(api: Api) -> None:
    token = await api.token()
    async with api.connect(token) as a, api.connect(token) as b:
        r = await api.submit(token, {"conformanceJob": {"runLogLines": 3}}, a.response.headers["connection-id"])
        await run_to_end(a, r.json()["id"])
        with pytest.raises(asyncio.TimeoutError):
            await recv(b, timeout=0.2)


async def test_subscribe_replays_and_routes(api: Api) -> None:
    token = await api.token()
    async with api.connect(token) as a, api.connect(token) as b:
        done = await api.submit(token, {"conformanceJob": {"runLogLines": 10}}, a.response.headers["connection-id"])
        await run_to_end(a, done.json()["id"])
        live = await api.submit(token, {"conformanceJob": {"runLogLines": 5, "startDelayMs": 300}},
                                a.response.headers["connection-id"])
        await b.send(json.dumps({"messageType": "SUBSCRIBE", "messagePayload": {"subscriptions": [
            {"computeJobId": "unknown-job", "executionAttempts": 1, "lastRunLogLine": 0},
            {"computeJobId": done.json()["id"], "executionAttempts": 1, "lastRunLogLine": 4},
            {"computeJobId": live.json()["id"], "executionAttempts": 1, "lastRunLogLine": 0}]}}))
        current = await recv(b)
        assert current["messageType"] == "CURRENT_JOB_STATUS" and current["computeJobId"] == done.json()["id"]
        assert payload(current)["status"] == "COMPLETED" and payload(current)["resultsUrl"]
        replay = await recv(b)
        assert replay["messageType"] == "RUNLOG_UPDATED"
        assert (payload(replay)["startLine"], payload(replay)["endLine"]) == (5, 10)
        assert payload(replay)["lines"][0].endswith("line 5 of 10")
        assert payload(await recv(b)) == {"totalLines": 10}
        queued = await recv(b)
        assert queued["messageType"] == "CURRENT_JOB_STATUS" and payload(queued)["status"] == "QUEUED"
        msgs = await run_to_end(b, live.json()["id"])
        assert statuses(msgs) == ["EXECUTING", "COMPLETING", "COMPLETED"] and run_log(msgs) == [1, 2, 3, 4, 5]


async def test_delete_cancels(api: Api) -> None:
    token = await api.token()
    async with api.connect(token) as ws:
        r = await api.submit(token, {"conformanceJob": {"runLogLines": 500, "lineIntervalMs": 10}},
                             ws.response.headers["connection-id"])
        path = r.headers["Location"]
        await recv(ws)
        assert (await api.get(token, path)).json()["status"] in ("QUEUED", "EXECUTING")
        assert (await api.http.delete(path, headers={"Authorization": f"Bearer {token}"})).status_code == 204
        msgs = await run_to_end(ws, r.json()["id"])
        assert statuses(msgs)[-1] == "CANCELLED"
    assert (await api.get(token, path)).status_code == 404
    assert (await api.http.delete(path, headers={"Authorization": f"Bearer {token}"})).status_code == 404


TWO_CLIENTS = {"client-a": "secret-of-a", "client-b": "secret-of-b"}


async def test_a_job_belongs_to_the_client_that_submitted_it(faulty: Callable[..., RunningServer]) -> None:
    server = faulty(clients=TWO_CLIENTS)
    owner, other = Api(server, 0), Api(server, 1)
    try:
        mine, theirs = await owner.token(), await other.token()
        async with owner.connect(mine) as ws:
            r = await owner.submit(mine, {"conformanceJob": {"runLogLines": 3}}, ws.response.headers["connection-id"])
            job = r.json()
            final = payload((await run_to_end(ws, job["id"]))[-1])
        for path in (r.headers["Location"], final["resultsUrl"], final["runLogUrl"]):
            assert (await other.get(theirs, path)).status_code == 404, path  # as if unknown: ids do not leak
            assert (await owner.get(mine, path)).status_code == 200, path
        gone = await other.http.delete(r.headers["Location"], headers={"Authorization": f"Bearer {theirs}"})
        assert gone.status_code == 404 and (await owner.get(mine, r.headers["Location"])).status_code == 200
    finally:
        await owner.http.aclose()
        await other.http.aclose()


async def test_another_clients_socket_gets_and_decides_nothing(faulty: Callable[..., RunningServer]) -> None:
    server = faulty(clients=TWO_CLIENTS)
    owner, other = Api(server, 0), Api(server, 1)
    try:
        mine, theirs = await owner.token(), await other.token()
        async with owner.connect(mine) as ws, other.connect(theirs) as spy:
            cid = ws.response.headers["connection-id"]
            refused = await other.submit(theirs, {"conformanceJob": {"runLogLines": 1}}, cid)
            assert refused.status_code == 422  # another client's socket is no socket of this client
            r = await owner.submit(mine, {"conformanceJob": {"runLogLines": 6, "appMessages": 1}}, cid)
            job_id = r.json()["id"]
            await spy.send(json.dumps({"messageType": "SUBSCRIBE", "messagePayload": {"subscriptions": [
                {"computeJobId": job_id, "executionAttempts": 1, "lastRunLogLine": 0}]}}))
            while (msg := await recv(ws))["messageType"] != "APP_MESSAGE":
                pass
            answer = {"appMessageId": payload(msg)["appMessageId"], "appMessage": {"interruptSolve": True}}
            await spy.send(json.dumps({"computeJobId": job_id, "messageType": "APP_MESSAGE_RESPONSE",
                                       "messagePayload": answer}))
            await asyncio.sleep(0.1)
            answer["appMessage"] = {"interruptSolve": False}  # the owner lets it go on
            await ws.send(json.dumps({"computeJobId": job_id, "messageType": "APP_MESSAGE_RESPONSE",
                                      "messagePayload": answer}))
            assert statuses(await run_to_end(ws, job_id))[-1] == "COMPLETED"
            with pytest.raises(asyncio.TimeoutError):
                await recv(spy, timeout=0.2)  # the SUBSCRIBE got nothing of the job
    finally:
        await owner.http.aclose()
        await other.http.aclose()


async def test_multipart_submission(api: Api) -> None:
    token = await api.token()

    def form(part: str, content: str) -> tuple[bytes, dict[str, str]]:
        body = (f"--b0undary\r\nContent-Disposition: form-data; name=\"{part}\"\r\n"
                f"Content-Type: application/json\r\n\r\n{content}\r\n--b0undary--\r\n").encode()
        return body, {"Authorization": f"Bearer {token}", "Content-Type": "multipart/form-data; boundary=b0undary"}

    async def post(part: str, content: str) -> httpx.Response:
        body, headers = form(part, content)
        return await api.http.post(ws_progress.JOBS_PATH, content=body, headers=headers)

    async with api.connect(token) as ws:
        job = {"id": "multi.part", "conformanceJob": {"runLogLines": 2}}
        body, headers = form("computeJobRequest", json.dumps(job))
        r = await api.http.post(ws_progress.JOBS_PATH, content=body,
                                headers={**headers, "connection-id": ws.response.headers["connection-id"]})
        assert r.status_code == 201 and r.json()["id"] == "multi.part"
        assert statuses(await run_to_end(ws, "multi.part"))[-1] == "COMPLETED"
    assert (await post("computeJobRequest", "{not json")).status_code == 400
    assert (await post("computeJobRequest", json.dumps({"id": "has space"}))).status_code == 422
    assert (await post("computeJobRequest", json.dumps({"runLogMessages": True}))).status_code == 422  # no id
    assert (await post("somethingElse", "{}")).status_code == 422
    assert (await post("computeJobRequest", json.dumps({"pad": "x" * (1024 * 1024)}))).status_code == 413


async def test_update_token_is_acknowledged_when_configured(faulty: Callable[..., RunningServer]) -> None:
    for ack in ("TOKEN_UPDATED", None):
        api = Api(faulty(update_token_ack=ack))
        try:
            token = await api.token()
            async with api.connect(token) as ws:
                fresh = await api.token()
                await ws.send(json.dumps({"messageType": "UPDATE_TOKEN", "messagePayload": {"token": fresh}}))
                if ack is None:
                    with pytest.raises(asyncio.TimeoutError):
                        await recv(ws, timeout=0.2)
                else:
                    assert await recv(ws) == {"messageType": ack, "messagePayload": {}}
        finally:
            await api.http.aclose()


# --- keepalive and token expiry -----------------------------------------------------------------
async def test_idle_close(api: Api) -> None:
    token = await api.token()

    async def silent(pong: bytes | None) -> tuple[int | None, float]:
        async with api.connect(token, silent=True) as ws:
            opened = time.monotonic()
            if pong is not None:  # a pong with data no ping carried is no sign of life
                async def wrong_pongs() -> None:
                    while True:
                        await ws.pong(pong)
                        await asyncio.sleep(0.1)
                pinger = asyncio.create_task(wrong_pongs())
            code = await expect_close(ws)
            if pong is not None:
                pinger.cancel()
            return code, time.monotonic() - opened

    async def lively() -> bool:
        async with api.connect(token) as ws:  # answers pings automatically
            await asyncio.sleep(TIMINGS.idle_timeout * 1.6)
            return ws.close_code is None

    (code, after), (wrong_code, _), alive = await asyncio.gather(silent(None), silent(b"wrong"), lively())
    assert code == 4000 and wrong_code == 4000 and alive
    assert TIMINGS.idle_timeout - 0.05 <= after <= TIMINGS.idle_timeout + 0.4


async def test_token_expiry_and_update(api: Api) -> None:
    async def expires() -> tuple[int | None, float]:
        async with api.connect(await api.token(max_age=1)) as ws:
            opened = time.monotonic()
            return await expect_close(ws), time.monotonic() - opened

    async def refreshed() -> bool:
        async with api.connect(await api.token(max_age=1)) as ws:
            await asyncio.sleep(0.5)
            fresh = await api.token()
            await ws.send(json.dumps({"messageType": "UPDATE_TOKEN", "messagePayload": {"token": fresh}}))
            await asyncio.sleep(0.8)
            return ws.close_code is None

    async def forged() -> int | None:
        async with api.connect(await api.token()) as ws:
            await ws.send(json.dumps({"messageType": "UPDATE_TOKEN", "messagePayload": {"token": "forged"}}))
            return await expect_close(ws)

    (code, after), extended, forged_code = await asyncio.gather(expires(), refreshed(), forged())
    assert code == 4001 and 0.95 <= after <= 1.3
    assert extended and forged_code == 1008


async def test_malformed_frames_close_only_that_socket(api: Api) -> None:
    token = await api.token()
    frames: list[str | bytes] = [
        "not json", "[1]", json.dumps({"messageType": "NOPE", "messagePayload": {}}),
        json.dumps({"messageType": "UPDATE_TOKEN"}), json.dumps({"messagePayload": {}}),
        json.dumps({"messageType": "SUBSCRIBE", "messagePayload": {"subscriptions": [{"computeJobId": 1}]}}),
        json.dumps({"messageType": "APP_MESSAGE_RESPONSE", "messagePayload": {"appMessageId": "x"}})]
    async with api.connect(token) as bystander:
        for frame in frames:
            async with api.connect(token) as ws:
                await ws.send(frame)
                assert await expect_close(ws) == 1008, frame
        async with api.connect(token) as ws:
            await ws.send(b"\x00\x01")
            assert await expect_close(ws) in (1003, 1008)
        async with api.connect(token, max_size=None) as ws:
            await ws.send("x" * (64 * 1024 + 1))
            assert await expect_close(ws) == 1009
        await bystander.send(json.dumps({"messageType": "SUBSCRIBE", "messagePayload": {"subscriptions": []}}))
        await asyncio.wait_for(await bystander.ping(), 1.0)
        assert bystander.close_code is None


# --- faults ---------------------------------------------------------------------------------------
def test_fault_names() -> None:
    assert {f.name for f in ws_progress.FAULTS} == {
        "ws-no-connection-id", "ws-connection-id-reused", "ws-no-pings", "ws-no-idle-close",
        "ws-idle-close-early", "ws-wrong-pong-accepted", "ws-token-expiry-ignored",
        "ws-update-token-ignored", "ws-update-token-unchecked", "ws-expired-token-accepted",
        "ws-handshake-no-auth", "ws-token-bad-credentials", "ws-runlog-gap", "ws-runlog-total-wrong",
        "ws-status-out-of-order", "ws-two-terminal-statuses", "ws-events-leak",
        "ws-missing-message-payload", "ws-unknown-connection-accepted",
        "ws-app-message-timeout-ignored", "ws-app-message-response-ignored", "ws-subscribe-no-replay",
        "ws-subscribe-ignored", "ws-get-status-stale", "ws-delete-ignored", "ws-malformed-frame-crash",
        "ws-no-permessage-deflate", "ws-old-connection-routes", "ws-duplicate-id-accepted",
        "ws-jobs-no-auth", "ws-results-unavailable",
        "ws-connection-id-per-token", "ws-interrupt-solve-ignored", "ws-subscribe-no-live-events",
        "ws-delete-running-continues", "ws-runlog-url-short", "ws-app-message-type-wrong", "ws-token-json-object",
        "ws-job-rest-any-client", "ws-subscribe-any-client", "ws-app-message-any-client",
        "ws-connection-id-any-client", "ws-update-token-no-ack", "ws-results-url-foreign-origin",
        "ws-multipart-part-ignored"}
    assert all(f.profile == "ws-progress" for f in ws_progress.FAULTS)


async def test_handshake_and_rest_faults(faulty: Callable[..., RunningServer]) -> None:
    server = faulty("ws-no-connection-id", "ws-token-bad-credentials", "ws-no-permessage-deflate",
                    "ws-unknown-connection-accepted", "ws-delete-ignored", submit_status=200)
    api = Api(server)
    try:
        r = await api.http.post(ws_progress.TOKEN_PATH, json={"clientId": api.client_id, "secret": "any"})
        assert r.status_code == 200
        token = r.text
        async with api.connect(token) as ws:
            assert "connection-id" not in ws.response.headers
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
        accepted = await api.submit(token, {"conformanceJob": {"runLogLines": 0}}, "nobody")
        assert accepted.status_code == 200 and "Location" not in accepted.headers
        path = f"{ws_progress.JOBS_PATH}/{accepted.json()['id']}"
        assert (await api.http.delete(path, headers={"Authorization": f"Bearer {token}"})).status_code == 204
        assert (await api.get(token, path)).status_code == 200
    finally:
        await api.http.aclose()


async def test_job_faults(faulty: Callable[..., RunningServer]) -> None:
    # without connection-id headers, events cannot be routed: use ws-events-leak to see them
    server = faulty("ws-events-leak", "ws-runlog-gap", "ws-runlog-total-wrong",
                    "ws-two-terminal-statuses", "ws-get-status-stale", "ws-status-out-of-order")
    api = Api(server)
    try:
        token = await api.token()
        async with api.connect(token) as ws:
            r = await api.submit(token, {"conformanceJob": {"runLogLines": 6}})
            msgs = await run_to_end(ws, r.json()["id"])
            assert statuses(msgs)[:2] == ["EXECUTING", "QUEUED"]
            assert run_log(msgs) == [1, 3, 4, 5, 6]
            assert [payload(m) for m in msgs if m["messageType"] == "RUNLOG_COMPLETED"] == [{"totalLines": 5}]
            assert statuses(await run_to_end(ws, r.json()["id"])) == ["COMPLETED"]
            assert (await api.get(token, r.headers["Location"])).json()["status"] == "QUEUED"
    finally:
        await api.http.aclose()


async def test_malformed_frame_crash_fault(faulty: Callable[..., RunningServer]) -> None:
    api = Api(faulty("ws-malformed-frame-crash"))
    try:
        token = await api.token()
        async with api.connect(token) as bystander, api.connect(token) as ws:
            await ws.send("not json")
            assert await expect_close(ws) == 1011 and await expect_close(bystander) == 1011
    finally:
        await api.http.aclose()


@pytest.mark.parametrize("job_id", ["abc\n", "a" * 60 + "\n", "\nabc"])
def test_a_job_id_with_a_newline_is_refused(job_id: str) -> None:
    """The contract's pattern ^[A-Za-z0-9_.-]{1,60}$ run by Python's re lets a final newline by."""
    from reference_server.config import ServerConfig
    from reference_server.profiles.ws_job_request import parse_job_request

    with pytest.raises(ValueError, match="id"):
        parse_job_request({"id": job_id}, ServerConfig())
