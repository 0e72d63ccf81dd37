"""The ws-progress client side: tokens, sockets with token refresh, job submission, collection.

Seed 000: "Authenticate with the REST API to acquire a bearer token. Create the web socket connection
... to acquire the connection-id value ... Submit job with the REST API, including the connection-id
header ... refresh the bearer token ... and send the UPDATE_TOKEN message to keep the web socket
connection alive."
"""
from __future__ import annotations

import asyncio
import copy
import json
import secrets
import time
from typing import Any

import httpx

from harness.evidence import Redactor
from harness.progress import waiting
from harness.runner import Context
from harness.transport.http import TOKEN_BYTES, issued_token, json_body, valid_token
from harness.transport.websocket import HandshakeRefused, PingMode, ProgressSocket
from harness.verdicts import SetupFailed

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}
TOKEN_CLAUSE = "Token: POST /api/authentication/token ...; 200 and the bearer token as a plain string body."
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


async def send_required(ctx: Context, sock: ProgressSocket, message: Any, what: str) -> None:
    """Send a frame whose effect a scenario then judges: the socket must have been open when the
    harness acted, or the scenario stops (a closed socket says nothing about the frame)."""
    sent = await sock.send_json(message)
    ctx.require("socket-open-when-sent", sent, f"{what}: the socket was open when the harness sent it",
                expected="an open socket",
                observed=_closed_by(sock))


def _closed_by(sock: ProgressSocket) -> str:
    done = sock.closed is not None and sock.closed.done() and not sock.closed.cancelled()
    closed = sock.closed.result() if done and sock.closed is not None else None
    return f"already closed by the {closed.by} with {closed.code}" if closed else "already closed"


def token_from(response: httpx.Response, member: str | None, redactor: Redactor) -> str | None:
    """The bearer token in a token endpoint's 200 answer, or None when the body is not of the
    declared form: a plain string (a JSON string literal too), or a JSON object's ``member``; and
    a token is a short printable string (a 1 GB body of NULs is not one). Every candidate is a
    secret from the moment it is read, whatever the status or the shape of the answer."""
    issued_token(response, redactor, member)
    found = _token_of_form(response, member)
    return valid_token(found) if found is not None else None


def _token_of_form(response: httpx.Response, member: str | None) -> str | None:
    text = response.text.strip()
    if member is not None:
        body = json_body(response)
        value = body.get(member) if isinstance(body, dict) else None
        return value if isinstance(value, str) and value else None
    try:
        parsed = json.loads(text)
    except ValueError:
        return text or None
    if isinstance(parsed, (dict, list)):
        return None  # a JSON document carrying the token is a different protocol
    return (parsed if isinstance(parsed, str) else text) or None


def body_shape(response: httpx.Response) -> str:
    """What a token answer looks like, without the token: for the evidence."""
    body = json_body(response)
    if isinstance(body, dict):
        return f"{response.status_code}, a JSON object with members {sorted(body)}"
    if isinstance(body, list):
        return f"{response.status_code}, a JSON array"
    return f"{response.status_code}, {len(response.text.strip())} characters of text"


class WsClient:
    """Owns the sockets, refresh tasks and jobs of one client in a scenario; use as
    ``async with WsClient(ctx)`` (the main client) or ``WsClient(ctx, (client_id, secret))``.
    Every job it started and did not see finish is deleted when the block ends, whatever the verdict."""

    def __init__(self, ctx: Context, credentials: tuple[str, str] | None = None) -> None:
        self.ctx = ctx
        self.credentials = credentials or (ctx.target.client_id or "", ctx.target.client_secret or "")
        self.jobs: list[str] = []  # jobs this client submitted (accepted), for the cleanup
        self.deleted: set[str] = set()
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
        await self.cleanup_jobs()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*(s.close() for s in self.sockets), return_exceptions=True)
        if failed:  # the client could not refresh its token: the verdict cannot stand
            raise SetupFailed(f"token refresh failed during the scenario: {failed[0]}") from failed[0]

    async def cleanup_jobs(self) -> None:
        """DELETE every job this client started that neither finished nor was deleted; a failure
        is a note, never a verdict."""
        finished = {m.get("computeJobId") for s in self.sockets for _, m in s.received
                    if isinstance(m, dict) and m.get("messageType") in ("JOB_STATUS_UPDATED", "CURRENT_JOB_STATUS")
                    and payload(m).get("status") in TERMINAL}
        for job_id in [j for j in self.jobs if j not in finished and j not in self.deleted]:
            try:
                r = await self.delete_job(job_id)
                self.ctx.evidence.note(f"cleanup: DELETE of unfinished job {job_id} answered {r.status_code}")
            except Exception as exc:  # the verdict stands; the note says what was left behind
                self.ctx.evidence.note(f"cleanup: job {job_id} could not be deleted: {type(exc).__name__}: {exc}")

    # -- tokens -------------------------------------------------------------------------------
    async def request_token(self, client_id: str | None = None, secret: str | None = None,
                            max_age: int | None = None) -> httpx.Response:
        body: dict[str, Any] = {"clientId": client_id or self.credentials[0],
                                "secret": secret if secret is not None else self.credentials[1]}
        if max_age is not None:
            body["maxAge"] = max_age
        return await self.http.request("POST", self.base + self.ctx.option("token_path"), json=body, bearer=None,
                                       max_bytes=TOKEN_BYTES)

    async def token(self) -> str:
        """A fresh token from the token endpoint (or the static --token without credentials)."""
        if not all(self.credentials):
            if self.ctx.target.token:
                return self.ctx.target.token
            raise SetupFailed("ws-progress needs --client-id/--client-secret or --token")
        r = await self.request_token()
        if r.status_code != 200:
            raise SetupFailed(f"token endpoint answered {r.status_code}: cannot get a bearer token "
                              f"for client {self.credentials[0]!r}")
        member = self.ctx.option("token_member")
        text = token_from(r, member, self.ctx.evidence.redactor)
        if text is not None and any(c.name == "token-format" for c in self.ctx.checks):
            self.ctx.evidence.redactor.add(text)  # judged once per scenario: how many refreshes a
            return text                           # scenario needed must not change its checks
        self.ctx.require("token-format", text is not None,
                         "the token endpoint answers the bearer token as a plain string body" if member is None
                         else f"the token endpoint answers a JSON object with the token in {member!r} (declared)",
                         expected="the token as text" if member is None else f"{{{member!r}: token}}",
                         observed=body_shape(r), clause=TOKEN_CLAUSE)
        assert text is not None
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

    def job_url(self, job_id: str) -> str:
        return f"{self.base}{self.ctx.option('jobs_path')}/{job_id}"

    def url(self, handed_out: str) -> str:
        """A URL the target handed out (absolute, or a path on the target)."""
        return handed_out if "://" in handed_out else self.base + "/" + handed_out.lstrip("/")

    async def submit_raw(self, body: Any, connection_id: str | None) -> httpx.Response:
        """POST the job request in the declared format; an accepted job is remembered for the cleanup."""
        headers = {"connection-id": connection_id} if connection_id else {}
        url, bearer = self.base + self.ctx.option("jobs_path"), await self.rest_token()
        if self.ctx.option("submit_format") == "multipart":
            boundary = "conformance-" + secrets.token_hex(12)
            content = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{self.ctx.option('multipart_part')}\""
                       f"\r\nContent-Type: application/json\r\n\r\n{json.dumps(body)}\r\n--{boundary}--\r\n")
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
            r = await self.http.request("POST", url, content=content, headers=headers, bearer=bearer)
        else:
            r = await self.http.request("POST", url, json=body, headers=headers, bearer=bearer)
        if 200 <= r.status_code < 300:
            job = json_body(r)
            job_id = job.get("id") if isinstance(job, dict) and job.get("id") else \
                (body.get("id") if isinstance(body, dict) else None)
            if job_id:
                self.jobs.append(str(job_id))
        return r

    async def delete_job(self, job_id: str) -> httpx.Response:
        r = await self.http.request("DELETE", self.job_url(job_id), bearer=await self.rest_token())
        if 200 <= r.status_code < 300 or r.status_code == 404:
            self.deleted.add(job_id)
        return r

    async def fetch(self, handed_out: str, what: str) -> httpx.Response | None:
        """GET a URL the target handed out, with this client's token only if it points to the
        target's origin (or a declared trusted one); None (and a failed SHOULD check) otherwise."""
        full = self.url(handed_out)
        if not self.ctx.trusted(full, what):
            return None
        return await self.http.request("GET", full, bearer=await self.rest_token())

    async def submit(self, sock: ProgressSocket, name: str = "short") -> str:
        body = self.job_body(name)
        r = await self.submit_raw(body, sock.connection_id)
        accepted = [int(s) for s in self.ctx.option("submit_status")]
        self.ctx.check("submit-accepted", r.status_code in accepted,
                       f"a job submitted with the socket's connection-id is accepted ({accepted})",
                       expected=accepted, observed=f"{r.status_code} {self.ctx.evidence.redactor.text_bounded(r.text, 200)}")
        job = json_body(r)
        return str(job.get("id")) if isinstance(job, dict) and job.get("id") else body["id"]

    def is_ack(self, message: Any) -> bool:
        """An acknowledgement of UPDATE_TOKEN of the declared type (not an event of any job)."""
        ack = self.ctx.option("update_token_ack")
        return ack is not None and isinstance(message, dict) and message.get("messageType") == ack

    async def next_event(self, sock: ProgressSocket, timeout: float) -> tuple[float, Any] | None:
        """The socket's next message that is not an UPDATE_TOKEN acknowledgement."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            item = await sock.next_message(left)
            if item is None or not self.is_ack(item[1]):
                return item
        return None

    async def collect(self, sock: ProgressSocket, job_id: str, timeout: float | None = None,
                      answer: bool | None = True) -> list[Any]:
        """Messages of a job until its terminal status (or timeout); answers APP_MESSAGEs if asked
        (``answer`` False answers with interruptSolve: true)."""
        limit = timeout if timeout is not None else float(self.ctx.option("job_timeout"))
        with waiting(f"job {job_id} to end on socket {sock.name}", limit):
            return await self._collect(sock, job_id, limit, answer)

    async def _collect(self, sock: ProgressSocket, job_id: str, limit: float, answer: bool | None) -> list[Any]:
        deadline = time.monotonic() + limit
        got: list[Any] = []
        while (left := deadline - time.monotonic()) > 0:
            item = await self.next_event(sock, left)
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
                    late = sock.messages.get_nowait()[1]
                    if not self.is_ack(late):
                        got.append(late)
                break
        return got

    async def job(self, sock: ProgressSocket, name: str = "short", answer: bool | None = True) -> tuple[str, list[Any]]:
        job_id = await self.submit(sock, name)
        return job_id, await self.collect(sock, job_id, answer=answer)


def message_types(messages: list[Any]) -> list[Any]:
    return [m.get("messageType") for m in messages if isinstance(m, dict)]


def statuses(messages: list[Any]) -> list[str]:
    return [str(payload(m).get("status")) for m in messages if is_status(m)]


def run_log(messages: list[Any]) -> list[dict[str, Any]]:
    return [payload(m) for m in messages if isinstance(m, dict) and m.get("messageType") == "RUNLOG_UPDATED"]
