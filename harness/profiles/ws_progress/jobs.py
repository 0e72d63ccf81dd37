"""Executors for job events: schemas, routing, lifecycle, run log, APP_MESSAGE, SUBSCRIBE, REST.

Seed 000: "Submit job with the REST API, including the connection-id header to associate the job
with the web socket connection. Handle progress event messages from the server via the web socket
and respond to callbacks. Retrieve the results for the job with the REST API. Delete the job."
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from harness.profiles.ws_progress.client import TERMINAL, WsClient, is_status, payload, run_log, statuses
from harness.runner import Context, executor
from harness.schemas import registry
from harness.transport.http import json_body
from harness.verdicts import HarnessError, SetupFailed

# a status may only move forward through these ranks; terminal ones end the job
RANK = {"QUEUED": 0, "CONNECTING": 1, "EXECUTING": 2, "COMPLETING": 3, "CANCELLING": 3,
        "DELETING": 3, "COMPLETED": 4, "FAILED": 4, "CANCELLED": 4}


@executor("ws-progress.message-schema")
async def message_schema(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        sock = await ws.open("schema")
        for name in ctx.params.get("jobs", ["short", "app-message"]):
            await ws.job(sock, name)
        await sock.send_json({"messageType": "UPDATE_TOKEN", "messagePayload": {"token": await ws.token()}})
        await asyncio.sleep(0.05)
        bad_in = [(m.get("messageType") if isinstance(m, dict) else None, [str(i) for i in registry().issues("ws-progress/server-message", m)])
                  for _, m in sock.received]
        bad_in = [b for b in bad_in if b[1]]
        ctx.check("server-messages-valid", not bad_in and bool(sock.received),
                  "every server message is {computeJobId?, messageType, messagePayload} and valid by its schema",
                  expected="no schema violations", observed=bad_in[:5] or f"{len(sock.received)} messages")
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
        expected_next, problems = 1, []
        for r in ranges:
            start, end, lines = r.get("startLine"), r.get("endLine"), r.get("lines") or []
            if start != expected_next:
                problems.append(f"range {start}-{end} after line {expected_next - 1}")
            if isinstance(start, int) and isinstance(end, int) and end - start + 1 != len(lines):
                problems.append(f"range {start}-{end} carries {len(lines)} lines")
            expected_next = (end if isinstance(end, int) else expected_next) + 1
        ctx.check("runlog-contiguous", bool(ranges) and not problems,
                  "run-log ranges are contiguous from line 1, without gaps or overlaps",
                  expected="1..n in order", observed=problems or f"{len(ranges)} ranges")
        delivered = expected_next - 1
        totals = [payload(m).get("totalLines") for m in messages
                  if isinstance(m, dict) and m.get("messageType") == "RUNLOG_COMPLETED"]
        ctx.equal("runlog-completed-total", [delivered], totals,
                  "RUNLOG_COMPLETED is sent once and its totalLines equals the lines delivered")


async def _app_message(ctx: Context, answer: bool | None) -> tuple[list[str], float | None, float | None]:
    """Run the app-message job; its statuses, when the APP_MESSAGE came and when it FAILED."""
    async with WsClient(ctx) as ws:
        sock = await ws.open("callbacks")
        job_id = await ws.submit(sock, "app-message")
        limit = float(ctx.option("job_timeout")) + ctx.latest(ctx.timing("app_message_timeout"))
        messages = await ws.collect(sock, job_id, timeout=limit, answer=answer)
        ctx.check("app-message-raised", any(isinstance(m, dict) and m.get("messageType") == "APP_MESSAGE"
                                            for m in messages), "the job raises an APP_MESSAGE callback",
                  expected="an APP_MESSAGE", observed=[m.get("messageType") for m in messages if isinstance(m, dict)])
        mine = [(at, m) for at, m in sock.received if isinstance(m, dict) and m.get("computeJobId") == job_id]
        asked = next((at for at, m in mine if m.get("messageType") == "APP_MESSAGE"), None)
        failed = next((at for at, m in mine if is_status(m) and payload(m).get("status") == "FAILED"), None)
        return statuses(messages), asked, failed


@executor("ws-progress.app-message-answered")
async def app_message_answered(ctx: Context) -> None:
    seen, _, _ = await _app_message(ctx, answer=True)
    ctx.check("answered-job-goes-on", bool(seen) and seen[-1] == "COMPLETED",
              "an APP_MESSAGE answered in time lets the job go on to COMPLETED",
              expected="... COMPLETED", observed=seen)


@executor("ws-progress.app-message-timeout")
async def app_message_timeout(ctx: Context) -> None:
    ctx.require_wait(ctx.timing("app_message_timeout") * 2, "an unanswered APP_MESSAGE")
    seen, asked, failed = await _app_message(ctx, answer=None)
    ctx.check("unanswered-job-fails", bool(seen) and seen[-1] == "FAILED",
              "an unanswered APP_MESSAGE fails the job after the timeout", expected="... FAILED", observed=seen)
    declared = ctx.timing("app_message_timeout")
    gap = failed - asked if failed is not None and asked is not None else None
    ctx.timer_check("fails-after-timeout", declared, gap,
                    f"the job fails {declared:g}s (declared) after the unanswered APP_MESSAGE")


@executor("ws-progress.subscribe-replay")
async def subscribe_replay(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        first = await ws.open("first")
        job_id = await ws.submit(first, "long")
        want, ahead = int(ctx.params.get("read_lines", 5)), int(ctx.params.get("ahead_lines", 3))
        last, seen = 0, 0  # last: what the "lost" client saw; seen: how far the job has streamed
        deadline = time.monotonic() + float(ctx.option("job_timeout"))
        while seen < want + ahead and time.monotonic() < deadline:
            item = await first.next_message(deadline - time.monotonic())
            if item and isinstance(item[1], dict) and item[1].get("messageType") == "RUNLOG_UPDATED":
                seen = int(payload(item[1]).get("endLine", seen))
                last = last or (seen if seen >= want else 0)
        ctx.check("events-reach-socket", seen > 0, "the job's run log reaches the socket named by its connection-id",
                  expected="RUNLOG_UPDATED messages", observed=f"{seen} lines")
        if not last or seen <= last:
            raise SetupFailed(f"the long job streamed {seen} lines; replay needs more than {want + ahead}")
        # the job has streamed past `last`: a new socket must get lines last+1.. replayed
        second = await ws.open("second")
        await second.send_json({"messageType": "SUBSCRIBE", "messagePayload": {"subscriptions": [
            {"computeJobId": job_id, "executionAttempts": 1, "lastRunLogLine": last}]}})
        messages = await ws.collect(second, job_id)
        types = [m.get("messageType") for m in messages if isinstance(m, dict)]
        ctx.evidence.note(f"lastRunLogLine sent in SUBSCRIBE: {last}; the job had streamed {seen} lines")
        ctx.check("current-status-first", bool(types) and types[0] == "CURRENT_JOB_STATUS",
                  "SUBSCRIBE is answered with CURRENT_JOB_STATUS", expected="CURRENT_JOB_STATUS first", observed=types[:5])
        ranges = run_log(messages)
        lines = [(r.get("startLine"), r.get("endLine")) for r in ranges]
        numbers = [(s, e) for s, e in lines if isinstance(s, int) and isinstance(e, int)]
        contiguous = bool(numbers) and len(numbers) == len(lines) and numbers[0][0] == last + 1 and \
            all(b[0] == a[1] + 1 for a, b in zip(numbers, numbers[1:]))
        ctx.check("replay-from-last-line", contiguous,
                  f"the run log is replayed from line {last + 1} (after lastRunLogLine {last}), contiguously",
                  expected=f"ranges from {last + 1}, contiguous", observed=lines[:8])


@executor("ws-progress.subscribe-finished")
async def subscribe_finished(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        sock = await ws.open("runner")
        job_id, messages = await ws.job(sock, "short")
        final: list[str | None] = [*statuses(messages)[-1:]] or [None]
        ctx.check("job-finished", final[0] in TERMINAL, "the job reaches a terminal status",
                  expected=sorted(TERMINAL), observed=final[0])
        later = await ws.open("later")
        await later.send_json({"messageType": "SUBSCRIBE", "messagePayload": {"subscriptions": [
            {"computeJobId": job_id, "executionAttempts": 1, "lastRunLogLine": 0}]}})
        item = await later.next_message(ctx.target.request_timeout)
        message = item[1] if item else None
        ctx.check("finished-current-status", isinstance(message, dict) and message.get("messageType") == "CURRENT_JOB_STATUS"
                  and payload(message).get("status") == final[0],
                  "SUBSCRIBE to a finished job answers CURRENT_JOB_STATUS with its terminal status",
                  expected={"messageType": "CURRENT_JOB_STATUS", "status": final[0]}, observed=message)


@executor("ws-progress.rest-get-delete")
async def rest_get_delete(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        sock = await ws.open("rest")
        job_id, messages = await ws.job(sock, "short")
        seen = statuses(messages)
        last = seen[-1] if seen else None
        ctx.check("job-finished", last in TERMINAL, "the job reaches a terminal status",
                  expected=sorted(TERMINAL), observed=last)
        url = ws.base + ctx.option("jobs_path") + "/" + job_id
        r = await ws.http.request("GET", url, bearer=await ws.rest_token())
        body = json_body(r)
        ctx.equal("get-200", 200, r.status_code, "GET of the job answers 200")
        ctx.equal("get-agrees", last, body.get("status") if isinstance(body, dict) else None,
                  "GET of the job agrees with the last status message")
        final = next((payload(m) for m in reversed(messages) if is_status(m)), {})
        results_url = final.get("resultsUrl") or final.get("resultUrl")
        if results_url:  # notes: resultsUrl/resultUrl drift; either may point at the results
            full = results_url if "://" in results_url else ws.base + "/" + results_url.lstrip("/")
            res = await ws.http.request("GET", full, bearer=await ws.rest_token())
            ctx.check("results-available", res.status_code == 200 and json_body(res) is not None,
                      "the results the terminal status points at can be retrieved (200, JSON)",
                      expected="200 with a JSON body", observed=f"{res.status_code} {res.text[:200]}")
        else:
            ctx.evidence.note("the terminal status names no resultsUrl: results not checked")
        d = await ws.http.request("DELETE", url, bearer=await ws.rest_token())
        ctx.check("delete-2xx", 200 <= d.status_code < 300, "DELETE of the job succeeds",
                  expected="2xx", observed=d.status_code)
        g = await ws.http.request("GET", url, bearer=await ws.rest_token())
        ctx.equal("get-after-delete-404", 404, g.status_code, "after DELETE, GET of the job answers 404")


@executor("ws-progress.malformed-frames")
async def malformed_frames(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        bystander = await ws.open("bystander")
        for label, data in (("not JSON", "{not json"), ("unknown messageType", '{"messageType": "NO_SUCH_TYPE", "messagePayload": {}}'),
                            ("oversized", '{"messageType": "UPDATE_TOKEN", "messagePayload": {"token": "' + "x" * 70000 + '"}}')):
            bad = await ws.open("bad-" + label.split()[0].lower())
            await bad.send_raw(data, record=f"{label} ({len(data)} bytes)")
            closed = await bad.wait_closed(ctx.target.request_timeout)
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
                      expected=wanted, observed=f"{r.status_code} {r.text[:200]}")
        body = ws.job_body("short")
        first = await ws.submit_raw(body, sock.connection_id)
        ctx.check("first-accepted", first.status_code in [int(s) for s in ctx.option("submit_status")],
                  "the first submission of an id is accepted", expected=ctx.option("submit_status"),
                  observed=first.status_code)
        again = await ws.submit_raw(body, sock.connection_id)
        ctx.equal("duplicate-409", 409, again.status_code, "a second submission of the same id gives 409 Conflict")
