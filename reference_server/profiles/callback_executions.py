"""Executions of the callbacks profile: the conformance objects, the request, the runner.

Three objects exist in every client and run for real (asyncio tasks):

- ``SCRI.CONFORMANCE.OK``   waits, runs, ends 1900 ENDED_OK      (fast 0.2 s, spec 5 s)
- ``SCRI.CONFORMANCE.FAIL`` waits, runs, ends 1800 ENDED_NOT_OK  (same), with a last error
- ``SCRI.CONFORMANCE.LONG`` waits, runs 60 s (fast 3 s), ends 1900

An execution shows a waiting status (1700) for the first fifth of its run, then 1550 (active).
When it ends, its callback (if any) goes to the sender. A recurring execution runs
``RECURRING_CYCLES`` cycles (ended at the end of each, waiting again in between) and sends no
callback (seed 003: "the execution is carried out but the callback does not take effect"). Executions are kept in the store; one that was running when
the server stopped shows 1810 ENDED_VANISHED after a restart, without a callback.
"""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from yarl import URL

from reference_server.config import ServerConfig
from reference_server.profiles.callback_delivery import CallbackSender, CallbackSettings
from reference_server.profiles.callback_payload import (Outcome, default_payload, fill_template,
                                                        variable_name)
from reference_server.profiles.callback_store import CallbackStore

WAITING, ACTIVE, ENDED_NOT_OK, ENDED_VANISHED, ENDED_OK = 1700, 1550, 1800, 1810, 1900
STATUS_TEXT = {
    WAITING: "Waiting for start",
    ACTIVE: "Active",
    ENDED_NOT_OK: "ENDED_NOT_OK - aborted",
    ENDED_VANISHED: "ENDED_VANISHED - disappeared",
    ENDED_OK: "ENDED_OK - ended normally",
}
RECURRING_CYCLES = 2
MAX_HEADERS = 32
MAX_HEADER_VALUE_BYTES = 4096
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")  # RFC 9110 field-name
# set by the server on every request: a copied value would corrupt the framing
RESERVED_HEADERS = frozenset({"content-length", "transfer-encoding", "host", "connection",
                              "keep-alive", "upgrade", "te", "trailer", "proxy-connection"})


@dataclass(frozen=True)
class ConformanceObject:
    name: str
    type: str
    end_status: int
    seconds: dict[str, float]  # by timings name
    archive_key1: str = "Conformance"
    error: tuple[str, str, str] = ("", "00000000", "")  # last error message, code, insert


OBJECTS = {o.name: o for o in (
    ConformanceObject("SCRI.CONFORMANCE.OK", "SCRI", ENDED_OK, {"fast": 0.2, "spec": 5.0}),
    ConformanceObject("SCRI.CONFORMANCE.FAIL", "SCRI", ENDED_NOT_OK, {"fast": 0.2, "spec": 5.0},
                      error=("U00011409 job failed", "00011409", "exit code 3")),
    ConformanceObject("SCRI.CONFORMANCE.LONG", "SCRI", ENDED_OK, {"fast": 3.0, "spec": 60.0}),
)}


@dataclass(frozen=True)
class Callback:
    url: str
    headers: list[tuple[str, str]]


@dataclass(frozen=True)
class ExecutionRequest:
    """A POST .../executions body that passed the schema and the checks below."""

    object_name: str
    alias: str
    queue: str
    inputs: dict[str, str]
    recurring: bool
    callback: Callback | None


def _header_value_ok(value: str) -> bool:
    """Visible characters and inner spaces or tabs: no CR, LF, NUL or other controls."""
    if value != value.strip(" \t"):
        return False
    return all(ch in " \t" or ch.isprintable() for ch in value)


def parse_execution_request(body: dict[str, Any], *, https_only: bool,
                            crlf_accepted: bool = False) -> ExecutionRequest:
    """The checks the schema cannot make; ValueError names the first problem (answered 400)."""
    inputs: dict[str, str] = {}
    for name, value in body.get("inputs", {}).items():
        if isinstance(value, (dict, list)) or value is None:
            raise ValueError(f"inputs.{name} must be a string, a number or a boolean")
        inputs[variable_name(name)] = value if isinstance(value, str) else json.dumps(value)
    callback = None
    if "callback" in body:
        http = body["callback"]["http"]
        url = URL(http["url"])
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("callback.http.url must be an absolute http or https URL")
        if https_only and url.scheme != "https":
            raise ValueError("the callback settings allow https callback URLs only")
        headers = list(http.get("headers", {}).items())
        if len(headers) > MAX_HEADERS:
            raise ValueError(f"callback.http.headers: at most {MAX_HEADERS} headers")
        seen: set[str] = set()
        for name, value in headers:
            if not TOKEN.fullmatch(name) or name.lower() in RESERVED_HEADERS:
                raise ValueError(f"callback.http.headers: {name!r} is not a header name a "
                                 "callback may carry")
            if name.lower() in seen:
                raise ValueError(f"callback.http.headers: {name!r} appears twice")
            seen.add(name.lower())
            if len(value.encode()) > MAX_HEADER_VALUE_BYTES:
                raise ValueError(f"callback.http.headers.{name}: longer than "
                                 f"{MAX_HEADER_VALUE_BYTES} bytes")
            checked = value.replace("\r", "").replace("\n", "") if crlf_accepted else value
            if not _header_value_ok(checked):
                raise ValueError(f"callback.http.headers.{name}: control characters (CR, LF...)"
                                 " or surrounding spaces are not allowed")
        callback = Callback(str(http["url"]), headers)
    return ExecutionRequest(object_name=body["object_name"], alias=body.get("alias", ""),
                            queue=body.get("queue", ""), inputs=inputs,
                            recurring=body.get("execution_option", "once") == "recurring",
                            callback=callback)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(eq=False)
class Execution:
    run_id: int
    client: str
    request: ExecutionRequest
    settings: CallbackSettings  # in force at submission: they apply to this execution's callback
    status: int = WAITING
    activation_time: str = field(default_factory=_now)
    start_time: str | None = None
    end_time: str | None = None
    task: "asyncio.Task[None] | None" = None

    @property
    def object(self) -> ConformanceObject:
        return OBJECTS[self.request.object_name]

    @property
    def ended(self) -> bool:
        return self.status >= ENDED_NOT_OK

    def view(self) -> dict[str, Any]:
        """The polling answer (schemas/callbacks/execution-status.schema.json)."""
        return {"run_id": self.run_id, "name": self.request.object_name, "type": self.object.type,
                "status": self.status, "status_text": STATUS_TEXT[self.status],
                "activation_time": self.activation_time, "start_time": self.start_time,
                "end_time": self.end_time}

    def outcome(self, status: int | None = None) -> Outcome:
        shown = self.status if status is None else status
        failed = self.status == ENDED_NOT_OK
        message, code, insert = self.object.error if failed else ("", "00000000", "")
        return Outcome(self.run_id, self.client, self.request.object_name, self.object.type,
                       shown, STATUS_TEXT[shown], message, code, insert,
                       self.object.archive_key1, self.request.alias, self.request.queue)


class Executions:
    """Every execution by run id; runs them and hands their callbacks to the sender."""

    def __init__(self, config: ServerConfig, store: CallbackStore, sender: CallbackSender) -> None:
        self.config = config
        self.store = store
        self.sender = sender
        self.runs: dict[int, Execution] = {}
        self._earlier: dict[int, tuple[str, dict[str, Any]]] = {}
        for run_id, client, record in store.executions():
            if record["status"] < ENDED_NOT_OK:
                record.update(status=ENDED_VANISHED, status_text=STATUS_TEXT[ENDED_VANISHED],
                              end_time=_now())
                store.save_execution(run_id, client, record)
            self._earlier[run_id] = (client, record)

    def fault(self, name: str) -> bool:
        return name in self.config.faults

    def view(self, client: str, run_id: int) -> dict[str, Any] | None:
        """The status of a run of this client, or None (another client's runs are not found)."""
        leak = self.fault("cb-client-leak")
        execution = self.runs.get(run_id)
        if execution is not None and (leak or execution.client == client):
            view = execution.view()
            if self.fault("cb-status-stuck-running"):  # the poll never sees the end
                view.update(status=1550, status_text=STATUS_TEXT.get(1550, "ACTIVE"), end_time=None)
            return view
        old = self._earlier.get(run_id)
        if old is not None and (leak or old[0] == client):
            return old[1]
        return None

    def submit(self, client: str, request: ExecutionRequest, settings: CallbackSettings) -> Execution:
        execution = Execution(self.store.next_run_id(), client, request, settings)
        self.runs[execution.run_id] = execution
        self._save(execution)
        execution.task = asyncio.get_running_loop().create_task(
            self._run(execution), name=f"execution {execution.run_id}")
        return execution

    async def shutdown(self) -> None:
        tasks = [e.task for e in self.runs.values() if e.task is not None and not e.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _save(self, execution: Execution) -> None:
        self.store.save_execution(execution.run_id, execution.client, execution.view())

    def _status(self, execution: Execution, status: int) -> None:
        execution.status = status
        if status == ACTIVE and execution.start_time is None:
            execution.start_time = _now()
        if execution.ended:
            execution.end_time = _now()
        self._save(execution)

    async def _run(self, execution: Execution) -> None:
        seconds = execution.object.seconds[self.config.timings.name]
        cycles = RECURRING_CYCLES if execution.request.recurring else 1
        for cycle in range(cycles):
            if cycle:
                self._status(execution, WAITING)
            await asyncio.sleep(seconds / 5)
            self._status(execution, ACTIVE)
            if cycle == 0 and self.fault("cb-callback-before-end"):
                self._callback(execution)  # fired by the start hook, status still running
            await asyncio.sleep(seconds * 4 / 5)
            self._status(execution, execution.object.end_status)
            if execution.request.recurring and self.fault("cb-recurring-callback"):
                self._callback(execution)  # the subscription is not dropped for recurring runs
        if not execution.request.recurring and not self.fault("cb-callback-before-end"):
            self._callback(execution)
            if self.fault("cb-double-callback"):
                self._callback(execution)  # both the end hook and the status listener fire

    def _callback(self, execution: Execution) -> None:
        callback = execution.request.callback
        if callback is None:
            return
        settings = execution.settings
        status = execution.status
        if self.fault("cb-wrong-status") and execution.ended:
            status = ENDED_OK
        outcome = execution.outcome(status)
        if settings.template is None:
            payload = default_payload(outcome, settings.default_payload)
        elif self.fault("cb-placeholders-unfilled"):
            payload = settings.template
        else:
            payload = fill_template(settings.template, outcome, execution.request.inputs)
        self.sender.send(execution.run_id, callback.url, callback.headers, json.dumps(payload),
                         settings)
