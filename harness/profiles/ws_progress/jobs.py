"""Executors for job events and the REST job API: schemas, routing, lifecycle, run log, DELETE.

Seed 000: "Submit job with the REST API, including the connection-id header to associate the job
with the web socket connection. Handle progress event messages from the server via the web socket
and respond to callbacks. Retrieve the results for the job with the REST API. Delete the job."
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from harness.profiles.ws_progress.runlog import contiguity_problems
from harness.profiles.ws_progress.client import (TERMINAL, WsClient, is_status, message_types, payload, run_log,
                                                 statuses)
from harness.profiles.ws_progress.subscribe import stream_until
from harness.runner import Context, executor
from harness.schemas import registry
from harness.transport.http import json_body
from harness.transport.websocket import ProgressSocket
from harness.verdicts import HarnessError

# a status may only move forward through these ranks; terminal ones end the job
RANK = {"QUEUED": 0, "CONNECTING": 1, "EXECUTING": 2, "COMPLETING": 3, "CANCELLING": 3,
        "DELETING": 3, "COMPLETED": 4, "FAILED": 4, "CANCELLED": 4}


ACK_CLAUSE = "Silent in the sources (declare them): ... whether UPDATE_TOKEN is acknowledged"


async def _acknowledged(ws: WsClient, sock: ProgressSocket, before: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for _, m in sock.received if ws.is_ack(m)) > before:
            return True
        await asyncio.sleep(0.01)
    return False


@executor("ws-progress.message-schema")
async def message_schema(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        sock = await ws.open("schema")
        for name in ctx.params.get("jobs", ["short", "app-message"]):
            await ws.job(sock, name)
        ack = ctx.option("update_token_ack")
        before = sum(1 for _, m in sock.received if ws.is_ack(m))
        await sock.send_json({"messageType": "UPDATE_TOKEN", "messagePayload": {"token": await ws.token()}})
        if ack is None:
            await asyncio.sleep(float(ctx.option("settle_s")))  # an undeclared acknowledgement shows here
        else:
            ctx.check("update-token-acknowledged", await _acknowledged(ws, sock, before, ctx.target.request_timeout),
                      f"UPDATE_TOKEN is acknowledged with a {ack} message (declared)", clause=ACK_CLAUSE,
                      expected=f"a {ack} message within {ctx.target.request_timeout:g}s", observed="none")
        # a declared acknowledgement is the target's own message type: its envelope is all we know
        bad_in = [(m.get("messageType") if isinstance(m, dict) else None,
                   [str(i) for i in registry().issues("ws-progress/envelope" if ws.is_ack(m)
                                                      else "ws-progress/server-message", m)])
                  for _, m in sock.received]
        bad_in = [b for b in bad_in if b[1]]
        events = [m for _, m in sock.received if not ws.is_ack(m)]  # acknowledgements alone prove nothing
        ctx.check("server-messages-valid", not bad_in and bool(events),
                  "every server message is {computeJobId?, messageType, messagePayload} and valid by its schema "
                  "(an acknowledgement of UPDATE_TOKEN is valid once declared: options.ws-progress.update_token_ack)",
                  expected="no schema violations, and the jobs' messages",
                  observed=bad_in[:5] or f"{len(events)} job messages, {len(sock.received)} in all")
        sent = [f.get("data") for f in ctx.evidence.frames if f["direction"] == "sent" and f["type"] == "text"]
        bad_out = [b for b in ([str(i) for i in registry().issues("ws-progress/client-message", m)] for m in sent) if b]
        if bad_out:  # the harness's own messages: a harness bug, not the target's
            raise HarnessError(f"the harness sent client messages invalid by their schema: {bad_out[:3]}")


@executor("ws-progress.routing")
async def routing(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        mine = await ws.open("mine")
        other = await ws.open("other")
        job_id, messages = await ws.job(mine, "short")
        ctx.check("events-reach-socket", any(is_status(m, job_id) for m in messages),
                  "the job's events reach the socket named by its connection-id",
                  expected="JOB_STATUS_UPDATED messages", observed=len(messages))
        await asyncio.sleep(0.2)
        leaked = [m for _, m in other.received if isinstance(m, dict) and m.get("computeJobId") == job_id]
        ctx.check("no-events-elsewhere", not leaked, "no other socket receives the job's events",
                  expected=[], observed=leaked[:3])


@executor("ws-progress.lifecycle")
async def lifecycle(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        sock = await ws.open("lifecycle")
        for name, end in (("short", "COMPLETED"), ("failing", "FAILED")):
            job_id, messages = await ws.job(sock, name)
            seen = statuses(messages)
            ranks = [RANK.get(s, -1) for s in seen]
            ctx.check(f"{name}-known-statuses", -1 not in ranks, "every status is a known job status",
                      expected=sorted(RANK), observed=seen)
            ctx.check(f"{name}-forward-order", ranks == sorted(ranks),
                      "statuses follow the lifecycle order QUEUED, EXECUTING, COMPLETING, terminal",
                      expected="non-decreasing lifecycle order", observed=seen)
            terminal = [s for s in seen if s in TERMINAL]
            ctx.equal(f"{name}-one-terminal", [end], terminal, f"the {name} job ends in exactly one terminal status")
            ctx.check(f"{name}-terminal-last", bool(seen) and seen[-1] in TERMINAL, "the terminal status is the last",
                      expected="terminal last", observed=seen)


@executor("ws-progress.runlog")
async def runlog(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        sock = await ws.open("runlog")
        job_id, messages = await ws.job(sock, ctx.params.get("job", "short"))
        ranges = run_log(messages)
        problems, delivered = contiguity_problems(ranges)
        ctx.check("runlog-contiguous", bool(ranges) and not problems,
                  "run-log ranges are contiguous from line 1, without gaps or overlaps",
                  expected="1..n in order", observed=problems or f"{len(ranges)} ranges")
        totals = [payload(m).get("totalLines") for m in messages
                  if isinstance(m, dict) and m.get("messageType") == "RUNLOG_COMPLETED"]
        ctx.equal("runlog-completed-total", [delivered], totals,
                  "RUNLOG_COMPLETED is sent once and its totalLines equals the lines delivered")


@executor("ws-progress.rest-get-delete")
async def rest_get_delete(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        sock = await ws.open("rest")
        job_id, messages = await ws.job(sock, "short")
        seen = statuses(messages)
        last = seen[-1] if seen else None
        ctx.check("job-finished", last in TERMINAL, "the job reaches a terminal status",
                  expected=sorted(TERMINAL), observed=last)
        url = ws.job_url(job_id)
        r = await ws.http.request("GET", url, bearer=await ws.rest_token())
        body = json_body(r)
        ctx.equal("get-200", 200, r.status_code, "GET of the job answers 200")
        ctx.equal("get-agrees", last, body.get("status") if isinstance(body, dict) else None,
                  "GET of the job agrees with the last status message")
        final = next((payload(m) for m in reversed(messages) if is_status(m)), {})
        results_url = final.get("resultsUrl") or final.get("resultUrl")
        if results_url:  # notes: resultsUrl/resultUrl drift; either may point at the results
            res = await ws.fetch(results_url, "the resultsUrl of the terminal status")
            if res is not None:
                ctx.check("results-available", res.status_code == 200 and json_body(res) is not None,
                          "the results the terminal status points at can be retrieved (200, JSON)",
                          expected="200 with a JSON body", observed=f"{res.status_code} {ctx.evidence.redactor.text_bounded(res.text, 200)}")
        else:
            ctx.evidence.note("the terminal status names no resultsUrl: results not checked")
        d = await ws.delete_job(job_id)
        ctx.check("delete-2xx", 200 <= d.status_code < 300, "DELETE of the job succeeds",
                  expected="2xx", observed=d.status_code)
        g = await ws.http.request("GET", url, bearer=await ws.rest_token())
        ctx.equal("get-after-delete-404", 404, g.status_code, "after DELETE, GET of the job answers 404")


def _lines_of(response: httpx.Response) -> list[Any]:
    """The lines of a run-log answer: text, one per line (a JSON array, or {lines}, also taken)."""
    if "json" in response.headers.get("content-type", ""):
        body = json_body(response)
        if isinstance(body, dict):
            body = body.get("lines")
        if isinstance(body, list):
            return body
    return response.text.splitlines()


@executor("ws-progress.runlog-url")
async def runlog_url(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        sock = await ws.open("runlog-url")
        job_id, messages = await ws.job(sock, ctx.params.get("job", "short"))
        named = [payload(m).get("runLogUrl") for m in messages if is_status(m) and payload(m).get("runLogUrl")]
        url = named[-1] if named else None
        if not url:
            body = json_body(await ws.http.request("GET", ws.job_url(job_id), bearer=await ws.rest_token()))
            url = body.get("runLogUrl") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url:
            ctx.skip("the target names no runLogUrl (in JOB_STATUS_UPDATED or GET of the job): nothing to fetch")
            return
        streamed = [line for r in run_log(messages) for line in (r.get("lines") or [])]
        ctx.require("runlog-streamed", bool(streamed), "the job streams its run log on the socket",
                    expected="RUNLOG_UPDATED lines", observed=message_types(messages))
        res = await ws.fetch(url, "the runLogUrl of the job")
        if res is None:
            return
        ctx.equal("runlog-url-200", 200, res.status_code, "GET of the runLogUrl answers 200")
        fetched = _lines_of(res)
        first_diff = next((i for i, (a, b) in enumerate(zip(fetched, streamed)) if a != b),
                          min(len(fetched), len(streamed)))
        ctx.check("runlog-url-agrees", fetched == streamed,
                  "the run log at runLogUrl holds the lines streamed on the socket, in order",
                  expected={"lines": len(streamed), "at_difference": streamed[first_diff:first_diff + 1]},
                  observed={"lines": len(fetched), "at_difference": fetched[first_diff:first_diff + 1],
                            "first_difference_line": first_diff + 1})


@executor("ws-progress.delete-running")
async def delete_running(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        sock = await ws.open("running")
        job_id = await ws.submit(sock, "long")
        seen = await stream_until(ws, sock, job_id, 1, float(ctx.option("job_timeout")))
        ctx.require("job-running", seen >= 1, "the long job runs and streams its run log",
                    expected="a RUNLOG_UPDATED", observed=f"{seen} lines")
        d = await ws.delete_job(job_id)
        ctx.check("delete-2xx", 200 <= d.status_code < 300, "DELETE of a running job succeeds",
                  expected="2xx", observed=f"{d.status_code} {ctx.evidence.redactor.text_bounded(d.text, 200)}")
        messages = await ws.collect(sock, job_id, timeout=ctx.target.request_timeout)
        kinds = message_types(messages)
        ends = [s for s in statuses(messages) if s in TERMINAL]
        ctx.equal("cancelled-on-socket", ["CANCELLED"], ends,
                  "the deleted job stops: it ends CANCELLED on its socket, once")
        cancelled = next((i for i, m in enumerate(messages)
                          if is_status(m) and payload(m).get("status") == "CANCELLED"), None)
        ctx.check("runlog-completed-on-delete", "RUNLOG_COMPLETED" in message_types(messages[:cancelled]),
                  "RUNLOG_COMPLETED closes the run log before the CANCELLED status",
                  expected="RUNLOG_COMPLETED, then JOB_STATUS_UPDATED CANCELLED", observed=kinds[-8:])
        g = await ws.http.request("GET", ws.job_url(job_id), bearer=await ws.rest_token())
        ctx.equal("get-after-delete-404", 404, g.status_code, "after DELETE, GET of the job answers 404")


@executor("ws-progress.malformed-frames")
async def malformed_frames(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        bystander = await ws.open("bystander")
        for label, data in (("not JSON", "{not json"), ("unknown messageType", '{"messageType": "NO_SUCH_TYPE", "messagePayload": {}}'),
                            ("oversized", '{"messageType": "UPDATE_TOKEN", "messagePayload": {"token": "' + "x" * 70000 + '"}}')):
            bad = await ws.open("bad-" + label.split()[0].lower())
            await bad.send_raw(data, record=f"{label} ({len(data)} bytes)")
            closed = await bad.wait_closed(float(ctx.option("refusal_wait_s")))  # a close comes at once, or never
            ctx.check(f"refused-{label}", closed is None or closed.code in (1002, 1003, 1007, 1008, 1009) or
                      (closed.code is not None and 4000 <= closed.code <= 4999),
                      f"a {label} frame is refused (a policy close, or ignored), not a server error",
                      expected="open, or closed with 1002/1003/1007/1008/1009/4xxx",
                      observed=closed.code if closed else "open")
        ctx.check("bystander-open", not bystander.is_closed, "another socket is not disturbed",
                  expected="open", observed=bystander.closed.result().code if bystander.is_closed and bystander.closed else "open")
        job_id, messages = await ws.job(bystander, "short")
        ctx.check("server-still-serves", any(is_status(m, job_id) for m in messages),
                  "the server still runs jobs and routes their events", expected="job events", observed=len(messages))


@executor("ws-progress.submit-errors")
async def submit_errors(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        sock = await ws.open("errors")
        url = ws.base + ctx.option("jobs_path")
        token = await ws.rest_token()
        cases: list[tuple[str, list[int], Any, dict[str, str], str | None]] = [
            ("no bearer token", [401], ws.job_body("short"), {}, None),
            ("a text/plain body", [415], None, {"Content-Type": "text/plain"}, token),
            ("an id of 61 characters", [400, 422], {**ws.job_body("short"), "id": "x" * 61}, {}, token),
            ("execution.threads 0", [400, 422], {**ws.job_body("short"), "execution": {"threads": 0}}, {}, token),
        ]
        for label, wanted, body, headers, bearer in cases:
            headers = {**headers, "connection-id": sock.connection_id or ""}
            if body is None:
                r = await ws.http.request("POST", url, content="id=plain", headers=headers, bearer=bearer)
            else:
                r = await ws.http.request("POST", url, json=body, headers=headers, bearer=bearer)
            ctx.check(f"refused-{label}", r.status_code in wanted, f"a submission with {label} is refused",
                      expected=wanted, observed=f"{r.status_code} {ctx.evidence.redactor.text_bounded(r.text, 200)}")
        body = ws.job_body("short")
        first = await ws.submit_raw(body, sock.connection_id)
        ctx.check("first-accepted", first.status_code in [int(s) for s in ctx.option("submit_status")],
                  "the first submission of an id is accepted", expected=ctx.option("submit_status"),
                  observed=first.status_code)
        again = await ws.submit_raw(body, sock.connection_id)
        ctx.equal("duplicate-409", 409, again.status_code, "a second submission of the same id gives 409 Conflict")
