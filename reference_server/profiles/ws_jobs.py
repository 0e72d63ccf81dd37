"""ws-progress jobs: bearer tokens, the job request, the job registry and the conformance job runner.

The runner plays a solver: it stays QUEUED for ``startDelayMs``, then EXECUTING while it writes
``runLogLines`` run-log lines one every ``lineIntervalMs``, raises ``appMessages`` solver callbacks
(APP_MESSAGE) spread over the run and waits for each answer, and ends COMPLETING -> COMPLETED or
FAILED. Events go to the socket named by the submission's connection-id and to sockets that
SUBSCRIBEd to the job. Faults are single ``if``s where the real bug would sit.
"""
from __future__ import annotations

import asyncio
import collections
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from reference_server.config import ServerConfig
from reference_server.profiles.ws_job_request import Json, JobRequest

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
MIN_FLUSH_PERIOD = 0.05  # run-log lines that accumulate faster than this are batched
LINES_PER_TURN = 64  # with lineIntervalMs 0 every line is due at once: this many per loop turn


class Outbox(Protocol):
    """One open socket as the registry sees it: somewhere to drop server-to-client frames."""

    connection_id: str
    client: str | None  # the client whose token opened the socket

    @property
    def open(self) -> bool: ...

    def deliver(self, frame: Json) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


class TokenStore:
    """Opaque bearer tokens, their expiry instants on the time.monotonic() clock and their clients."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}
        self._client: dict[str, str] = {}

    def issue(self, lifetime: float, client: str = "") -> str:
        now = time.monotonic()
        # forget tokens that expired an hour ago; recent ones stay to tell "expired" from "unknown"
        for old in [t for t, e in self._expiry.items() if e < now - 3600]:
            del self._expiry[old]
            self._client.pop(old, None)
        token = secrets.token_urlsafe(32)
        self._expiry[token] = now + lifetime
        self._client[token] = client
        return token

    def client(self, token: str | None) -> str | None:
        """The client the token was issued to (None for a token never issued)."""
        return None if token is None else self._client.get(token)

    def expiry(self, token: str | None) -> float | None:
        """When the token expires (or expired), or None for a token never issued."""
        return None if token is None else self._expiry.get(token)

    def valid(self, token: str | None) -> bool:
        expiry = self.expiry(token)
        return expiry is not None and expiry > time.monotonic()


@dataclass(eq=False)
class Job:
    id: str
    request: JobRequest
    connection_id: str | None
    owner: str | None = None  # the submitting client: only its tokens and sockets reach the job
    status: str = "QUEUED"
    execution_attempts: int = 1
    lines: list[str] = field(default_factory=list)
    streamed: int = 0  # lines already passed to RUNLOG_UPDATED (the stream's cursor)
    batches: int = 0
    last_flush: float = 0.0
    run_log_done: bool = False
    result: Json | None = None
    subscribers: set[Outbox] = field(default_factory=set)
    task: "asyncio.Task[None] | None" = None
    results_origin: str = ""  # fault ws-results-url-foreign-origin: resultsUrl on another origin

    @property
    def runlog_url(self) -> str:
        return f"/api/compute-jobs/{self.id}/run-log"

    @property
    def results_url(self) -> str:
        return f"{self.results_origin}/api/compute-jobs/{self.id}/results"

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def view(self, status: str | None = None) -> Json:
        """The job object of REST answers and of JOB_STATUS_UPDATED / CURRENT_JOB_STATUS payloads."""
        shown = status or self.status
        out: Json = {"id": self.id, "status": shown, "executionAttempts": self.execution_attempts,
                     "runLogUrl": self.runlog_url}
        if shown in TERMINAL:
            out["resultsUrl"] = self.results_url
        return out


AppAnswer = Literal["continue", "cancel", "fail"]


class JobRegistry:
    """Jobs by id, open sockets by connection-id, pending APP_MESSAGEs, and event routing.

    Retention (``config.limits``): a finished job is forgotten ``finished_job_retention`` seconds
    after it finished, or sooner when more than ``finished_jobs`` have finished (oldest first);
    only the newest ``closed_connection_ids`` closed connection ids are remembered.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.tokens = TokenStore()
        self.jobs: dict[str, Job] = {}
        self.sockets: dict[str, Outbox] = {}  # open sockets by connection-id
        self.open_sockets: set[Outbox] = set()
        self.closed_ids: dict[str, None] = {}  # insertion-ordered: the oldest go first
        self.shared_connection_id = str(uuid.uuid4())  # fault ws-connection-id-reused
        self._pending: dict[str, tuple["asyncio.Future[bool]", str | None]] = {}  # with the job's owner
        self._finished: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._sweep: asyncio.TimerHandle | None = None

    def fault(self, name: str) -> bool:
        return name in self.config.faults

    # --- sockets -------------------------------------------------------------------------------
    def connection_accepted(self, connection_id: str, client: str | None) -> bool:
        """May a submission by ``client`` name this connection-id (one of its own open sockets)?"""
        if connection_id in self.sockets:
            return self.sockets[connection_id].client == client or self.fault("ws-connection-id-any-client")
        if self.fault("ws-unknown-connection-accepted"):
            return True
        return self.fault("ws-old-connection-routes") and connection_id in self.closed_ids

    def socket_opened(self, outbox: Outbox) -> None:
        self.sockets[outbox.connection_id] = outbox
        self.open_sockets.add(outbox)

    def socket_closed(self, outbox: Outbox) -> None:
        self.open_sockets.discard(outbox)
        if self.sockets.get(outbox.connection_id) is outbox:
            del self.sockets[outbox.connection_id]
        self.closed_ids[outbox.connection_id] = None
        while len(self.closed_ids) > self.config.limits.closed_connection_ids:
            del self.closed_ids[next(iter(self.closed_ids))]
        for job in self.jobs.values():
            job.subscribers.discard(outbox)

    def close_all(self, code: int, reason: str) -> None:
        for outbox in list(self.open_sockets):
            outbox.close(code, reason)

    # --- events --------------------------------------------------------------------------------
    def _targets(self, job: Job) -> list[Outbox]:
        if self.fault("ws-events-leak"):
            return [s for s in self.open_sockets if s.open]
        owner = self.sockets.get(job.connection_id) if job.connection_id else None
        if not job.subscribers:
            return [owner] if owner is not None and owner.open else []
        found: list[Outbox] = []
        for outbox in ([owner] if owner else []) + list(job.subscribers):
            if outbox.open and outbox not in found:
                found.append(outbox)
        return found

    def frame(self, job: Job, message_type: str, payload: Json) -> Json:
        if message_type in ("JOB_STATUS_UPDATED", "CURRENT_JOB_STATUS") \
                and self.fault("ws-missing-message-payload"):
            return {"computeJobId": job.id, "messageType": message_type, **payload}
        return {"computeJobId": job.id, "messageType": message_type, "messagePayload": payload}

    def emit(self, job: Job, message_type: str, payload: Json) -> None:
        frame = self.frame(job, message_type, payload)
        for outbox in self._targets(job):
            outbox.deliver(frame)

    @staticmethod
    def status_payload(job: Job, status: str | None = None) -> Json:
        view = job.view(status)
        del view["id"]
        return view

    def _status(self, job: Job, status: str) -> None:
        job.status = status
        self.emit(job, "JOB_STATUS_UPDATED", self.status_payload(job))

    def _flush(self, job: Job) -> None:
        """Send the run-log lines written since the last RUNLOG_UPDATED as one batch."""
        job.last_flush = time.monotonic()
        if job.streamed >= len(job.lines):
            return
        start, lines = job.streamed + 1, job.lines[job.streamed:]
        if job.request.run_log_messages:
            self.emit(job, "RUNLOG_UPDATED",
                      {"startLine": start, "endLine": start + len(lines) - 1, "lines": lines})
        job.streamed = len(job.lines)
        job.batches += 1
        if job.batches == 1 and self.fault("ws-runlog-gap"):
            job.streamed += 1  # cursor off by one: the next line is never streamed

    def _close_run_log(self, job: Job) -> None:
        """Flush the last lines, then RUNLOG_COMPLETED (once)."""
        if job.run_log_done:
            return
        self._flush(job)
        job.run_log_done = True
        total = len(job.lines) - (1 if self.fault("ws-runlog-total-wrong") else 0)
        if job.request.run_log_messages:
            self.emit(job, "RUNLOG_COMPLETED", {"totalLines": total})

    def _terminal(self, job: Job, status: str, result: Json) -> None:
        job.result = result
        self._status(job, status)
        if self.fault("ws-two-terminal-statuses"):
            self._status(job, status)  # the "finished" hook fires twice
        self._finished[job.id] = time.monotonic()
        self._finished.move_to_end(job.id)
        self._forget_finished()

    # --- retention -----------------------------------------------------------------------------
    def _forget_finished(self) -> None:
        """Drop finished jobs over the count or past their retention; re-arm the sweep timer."""
        limits = self.config.limits
        expired = time.monotonic() - limits.finished_job_retention
        while self._finished and (len(self._finished) > limits.finished_jobs
                                  or next(iter(self._finished.values())) <= expired):
            job_id, _ = self._finished.popitem(last=False)
            job = self.jobs.get(job_id)
            if job is not None and job.terminal:
                del self.jobs[job_id]
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        if self._finished:
            due = next(iter(self._finished.values())) + limits.finished_job_retention
            self._sweep = asyncio.get_running_loop().call_later(
                max(0.0, due - time.monotonic()), self._forget_finished)

    def _finish(self, job: Job, status: str, result: Json) -> None:
        self._close_run_log(job)
        self._terminal(job, status, result)

    # --- REST operations -----------------------------------------------------------------------
    def submit(self, request: JobRequest, connection_id: str | None, owner: str | None = None) -> Job:
        """Register and start a job (the caller has checked the id is free)."""
        job = Job(request.id, request, connection_id, owner)
        self.jobs[job.id] = job
        if self.fault("ws-status-out-of-order"):
            self._status(job, "EXECUTING")
        self._status(job, "QUEUED")
        job.task = asyncio.get_running_loop().create_task(self._run(job), name=f"job {job.id}")
        return job

    def delete(self, job_id: str) -> bool:
        """Cancel (CANCELLED to its sockets) if running, and forget the job; False if unknown."""
        job = self.jobs.get(job_id)
        if job is None:
            return False
        if self.fault("ws-delete-ignored"):
            return True
        if not job.terminal and self.fault("ws-delete-running-continues"):
            return self.jobs.pop(job_id) is job  # forgotten, but its task runs on
        if job.task is not None and not job.task.done():
            job.task.cancel()
        if not job.terminal:
            self._finish(job, "CANCELLED", {"cancelled": True, "reason": "deleted"})
        self.jobs.pop(job_id, None)
        self._finished.pop(job_id, None)
        return True

    def answer_app_message(self, app_message_id: str, interrupt: bool, client: str | None) -> None:
        """An APP_MESSAGE_RESPONSE; unknown or late ids, and another client's answers, are ignored."""
        pending = self._pending.get(app_message_id)
        if pending is None or self.fault("ws-app-message-response-ignored"):
            return
        future, owner = pending
        if (owner == client or self.fault("ws-app-message-any-client")) and not future.done():
            future.set_result(interrupt)

    def subscribe(self, outbox: Outbox, subscriptions: list[Json]) -> None:
        """SUBSCRIBE: current status, replay of the lines after lastRunLogLine, then live events."""
        for sub in subscriptions:
            if not outbox.open:  # e.g. closed because its client does not read
                return
            job = self.jobs.get(sub["computeJobId"])
            if job is None or self.fault("ws-subscribe-ignored") or \
                    (job.owner != outbox.client and not self.fault("ws-subscribe-any-client")):
                continue  # unknown, or another client's job (as if unknown)
            outbox.deliver(self.frame(job, "CURRENT_JOB_STATUS", self.status_payload(job)))
            first = sub["lastRunLogLine"] + 1
            lines = job.lines[first - 1:job.streamed]  # up to the live stream's cursor
            if lines and not self.fault("ws-subscribe-no-replay"):
                outbox.deliver(self.frame(job, "RUNLOG_UPDATED", {
                    "startLine": first, "endLine": first + len(lines) - 1, "lines": lines}))
            if job.run_log_done:
                outbox.deliver(self.frame(job, "RUNLOG_COMPLETED", {"totalLines": len(job.lines)}))
            if not self.fault("ws-subscribe-no-live-events"):
                job.subscribers.add(outbox)

    async def shutdown(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
        tasks = [job.task for job in self.jobs.values() if job.task and not job.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- the runner ----------------------------------------------------------------------------
    async def _run(self, job: Job) -> None:
        req = job.request
        await asyncio.sleep(req.start_delay)
        self._status(job, "EXECUTING")
        n, k = req.run_log_lines, req.app_messages
        # APP_MESSAGE j (1..k) is raised after line round(n*j/(k+1)): one alone comes at half-way
        due: dict[int, list[int]] = {}  # line -> the APP_MESSAGE iterations raised after it
        for j in range(1, k + 1):
            due.setdefault(round(n * j / (k + 1)), []).append(j)
        flush_period = max(req.line_interval, MIN_FLUSH_PERIOD)
        for line_no in range(0, n + 1):
            if line_no:
                if req.line_interval or line_no % LINES_PER_TURN == 1:
                    await asyncio.sleep(req.line_interval)
                job.lines.append(f"[{job.id}] run log line {line_no} of {n}")
                batch_full = 0 < req.batch_lines <= len(job.lines) - job.streamed
                if line_no == 1 or batch_full or time.monotonic() - job.last_flush >= flush_period:
                    self._flush(job)
            for iteration in due.get(line_no, ()):
                self._flush(job)
                answer = await self._app_message(job, iteration)
                if answer == "cancel":
                    self._finish(job, "CANCELLED", {"cancelled": True, "reason": "interruptSolve",
                                                    "iteration": iteration})
                    return
                if answer == "fail":
                    self._finish(job, "FAILED", {"error": f"APP_MESSAGE {iteration} was not "
                                                          "answered in time"})
                    return
        if req.outcome == "FAILED":
            self._finish(job, "FAILED", {"error": "the conformance job was asked to fail"})
            return
        self._close_run_log(job)
        self._status(job, "COMPLETING")
        await asyncio.sleep(min(req.line_interval, MIN_FLUSH_PERIOD))
        self._terminal(job, "COMPLETED", {"objective": float(n), "runLogLines": n, "appMessages": k})

    async def _app_message(self, job: Job, iteration: int) -> AppAnswer:
        app_message_id = str(uuid.uuid4())
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending[app_message_id] = (future, job.owner)
        kind = "INTSOL" if self.fault("ws-app-message-type-wrong") else "SOLVER_CALLBACK"
        self.emit(job, "APP_MESSAGE", {"appMessageId": app_message_id, "appMessageType": kind,
                                       "appMessage": {"iteration": iteration}})
        try:
            interrupt = await asyncio.wait_for(future, self.config.timings.app_message_timeout)
        except TimeoutError:
            return "continue" if self.fault("ws-app-message-timeout-ignored") else "fail"
        finally:
            del self._pending[app_message_id]
        return "cancel" if interrupt and not self.fault("ws-interrupt-solve-ignored") else "continue"


_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def _c_encoder() -> Any:
    """What ``_ENCODER.encode`` calls, json's C encoder, built once: ``encode`` builds one per
    call, half the cost of a small frame. None where the accelerator is missing or differs."""
    make = getattr(json.encoder, "c_make_encoder", None)
    try:
        encode = make(None, _ENCODER.default, json.encoder.encode_basestring_ascii, None,  # type: ignore[misc]
                      ":", ",", False, False, True)
        return encode if "".join(encode({"a": [1.5, None]}, 0)) == '{"a":[1.5,null]}' else None
    except Exception:
        return None


_ENCODE_C = _c_encoder()


def dumps(frame: Json) -> str:
    if _ENCODE_C is None:
        return _ENCODER.encode(frame)
    return "".join(_ENCODE_C(frame, 0))
