"""The ws-progress client side: tokens, sockets with token refresh, job submission, collection.

Seed 000: "Authenticate with the REST API to acquire a bearer token. Create the web socket connection
... to acquire the connection-id value ... Submit job with the REST API, including the connection-id
header ... refresh the bearer token ... and send the UPDATE_TOKEN message to keep the web socket
connection alive."
"""
from __future__ import annotations

import asyncio
import copy
import secrets
import time
from typing import Any

import httpx

from harness.runner import Context
from harness.transport.http import json_body
from harness.transport.websocket import HandshakeRefused, PingMode, ProgressSocket
from harness.verdicts import SetupFailed

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
DEFAULT_JOBS: dict[str, dict[str, Any]] = {
    "short": {"runLogMessages": True, "conformanceJob": {"runLogLines": 8, "lineIntervalMs": 10}},
    "failing": {"runLogMessages": True, "conformanceJob": {"runLogLines": 3, "outcome": "FAILED"}},
    "app-message": {"runLogMessages": True, "solver": {"action": "SOLVE", "callbacks": ["APP_MESSAGE"]},
                    "conformanceJob": {"runLogLines": 4, "appMessages": 1}},
    "long": {"runLogMessages": True, "conformanceJob": {"runLogLines": 40, "lineIntervalMs": 40}},
}


def is_status(message: Any, job_id: str | None = None) -> bool:
    return (isinstance(message, dict) and message.get("messageType") == "JOB_STATUS_UPDATED"
            and (job_id is None or message.get("computeJobId") == job_id))


def payload(message: Any) -> dict[str, Any]:
    p = message.get("messagePayload") if isinstance(message, dict) else None
    return p if isinstance(p, dict) else {}


class WsClient:
    """Owns the sockets and refresh tasks of one scenario; use as ``async with WsClient(ctx)``."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.base = ctx.target.base_url
        self.ws_url = "ws" + self.base[4:] + ctx.option("socket_path") if self.base.startswith("http") else self.base
        self.http = ctx.ahttp()
        self.sockets: list[ProgressSocket] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._rest_token: tuple[str, float] | None = None
        self.lifetime = ctx.timing("token_lifetime")

    async def __aenter__(self) -> "WsClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        failed = [t.exception() for t in self._tasks if t.done() and not t.cancelled() and t.exception()]
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*(s.close() for s in self.sockets), return_exceptions=True)
        if failed:  # the client could not refresh its token: the verdict cannot stand
            raise SetupFailed(f"token refresh failed during the scenario: {failed[0]}") from failed[0]

    # -- tokens -------------------------------------------------------------------------------
    async def request_token(self, client_id: str | None = None, secret: str | None = None,
                            max_age: int | None = None) -> httpx.Response:
        body: dict[str, Any] = {"clientId": client_id or self.ctx.target.client_id,
                                "secret": secret if secret is not None else self.ctx.target.client_secret}
        if max_age is not None:
            body["maxAge"] = max_age
        return await self.http.request("POST", self.base + self.ctx.option("token_path"), json=body, bearer=None)

    async def token(self) -> str:
        """A fresh token from the token endpoint (or the static --token without credentials)."""
        if not (self.ctx.target.client_id and self.ctx.target.client_secret):
            if self.ctx.target.token:
                return self.ctx.target.token
            raise SetupFailed("ws-progress needs --client-id/--client-secret or --token")
        r = await self.request_token()
        text = r.text.strip().strip('"')
        if r.status_code != 200 or not text:
            raise SetupFailed(f"token endpoint answered {r.status_code}: cannot get a bearer token")
        self.ctx.evidence.redactor.add(text)
        return text

    async def rest_token(self) -> str:
        if self._rest_token is None or time.monotonic() - self._rest_token[1] > self.lifetime * 0.4:
            self._rest_token = (await self.token(), time.monotonic())
        return self._rest_token[0]

    # -- sockets ------------------------------------------------------------------------------
    async def open(self, name: str, *, ping_mode: PingMode = PingMode.ANSWER, refresh: bool = True,
                   token: str | None = None, compression: str | None = "deflate") -> ProgressSocket:
        sock = ProgressSocket(name, self.ctx.evidence, ping_mode=ping_mode, timeout=self.ctx.target.request_timeout)
        self.sockets.append(sock)
        try:
            await sock.open(self.ws_url, token or await self.token(), compression=compression)
        except HandshakeRefused as exc:
            raise SetupFailed(f"socket {name}: handshake refused with HTTP {exc.status}") from exc
        if refresh:
            self.keep_fresh(sock)
        return sock

    def keep_fresh(self, sock: ProgressSocket) -> None:
        self._tasks.append(asyncio.create_task(self._refresh(sock)))

    async def _refresh(self, sock: ProgressSocket) -> None:
        """A well-behaved client: UPDATE_TOKEN with a fresh token well before each expiry."""
        while not sock.is_closed:
            await asyncio.sleep(self.lifetime * 0.4)
            if sock.is_closed:
                return
            await sock.send_json({"messageType": "UPDATE_TOKEN", "messagePayload": {"token": await self.token()}})

    # -- jobs ---------------------------------------------------------------------------------
    def job_body(self, name: str) -> dict[str, Any]:
        declared = self.ctx.option("jobs") or {}
        body = copy.deepcopy(declared.get(name) or DEFAULT_JOBS[name])
        body["id"] = f"conf-{secrets.token_hex(6)}"
        return body

    async def submit_raw(self, body: Any, connection_id: str | None) -> httpx.Response:
        headers = {"connection-id": connection_id} if connection_id else {}
        return await self.http.request("POST", self.base + self.ctx.option("jobs_path"), json=body,
                                       headers=headers, bearer=await self.rest_token())

    async def submit(self, sock: ProgressSocket, name: str = "short") -> str:
        body = self.job_body(name)
        r = await self.submit_raw(body, sock.connection_id)
        accepted = [int(s) for s in self.ctx.option("submit_status")]
        self.ctx.check("submit-accepted", r.status_code in accepted,
                       f"a job submitted with the socket's connection-id is accepted ({accepted})",
                       expected=accepted, observed=f"{r.status_code} {r.text[:200]}")
        job = json_body(r)
        return str(job.get("id")) if isinstance(job, dict) and job.get("id") else body["id"]

    async def collect(self, sock: ProgressSocket, job_id: str, timeout: float | None = None,
                      answer: bool | None = True) -> list[Any]:
        """Messages of a job until its terminal status (or timeout); answers APP_MESSAGEs if asked."""
        limit = timeout if timeout is not None else float(self.ctx.option("job_timeout"))
        deadline = time.monotonic() + limit
        got: list[Any] = []
        while (left := deadline - time.monotonic()) > 0:
            item = await sock.next_message(left)
            if item is None:
                break
            message = item[1]
            if isinstance(message, dict) and message.get("computeJobId") not in (None, job_id):
                continue
            got.append(message)
            if isinstance(message, dict) and message.get("messageType") == "APP_MESSAGE" and answer is not None:
                await sock.send_json({"computeJobId": job_id, "messageType": "APP_MESSAGE_RESPONSE",
                                      "messagePayload": {"appMessageId": payload(message).get("appMessageId"),
                                                         "appMessage": {"interruptSolve": not answer}}})
            if is_status(message) and payload(message).get("status") in TERMINAL:
                await asyncio.sleep(float(self.ctx.option("settle_s")))  # late or duplicate messages too
                while not sock.messages.empty():
                    got.append(sock.messages.get_nowait()[1])
                break
        return got

    async def job(self, sock: ProgressSocket, name: str = "short", answer: bool | None = True) -> tuple[str, list[Any]]:
        job_id = await self.submit(sock, name)
        return job_id, await self.collect(sock, job_id, answer=answer)


def statuses(messages: list[Any]) -> list[str]:
    return [str(payload(m).get("status")) for m in messages if is_status(m)]


def run_log(messages: list[Any]) -> list[dict[str, Any]]:
    return [payload(m) for m in messages if isinstance(m, dict) and m.get("messageType") == "RUNLOG_UPDATED"]
