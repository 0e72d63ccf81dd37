"""Executors for SUBSCRIBE: replay of a running job's run log on a new socket, then its later
events there too; the current status of a finished job.

Notes: "SUBSCRIBE {subscriptions:[{computeJobId, executionAttempts, lastRunLogLine}]} (newer
versions: replay after a reconnect)" and "CURRENT_JOB_STATUS (reply to SUBSCRIBE)".
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from harness.profiles.ws_progress.runlog import contiguity_problems
from harness.profiles.ws_progress.client import TERMINAL, WsClient, message_types, payload, run_log, statuses, send_required
from harness.runner import Context, executor
from harness.transport.websocket import ProgressSocket


def subscription(job_id: str, last_line: int) -> dict[str, Any]:
    return {"messageType": "SUBSCRIBE", "messagePayload": {"subscriptions": [
        {"computeJobId": job_id, "executionAttempts": 1, "lastRunLogLine": last_line}]}}


async def stream_until(ws: WsClient, sock: ProgressSocket, job_id: str, lines: int, timeout: float) -> int:
    """Read the job's messages on ``sock`` until its run log reaches line ``lines`` (or the
    timeout, or a terminal status); the last line number seen."""
    deadline, seen = time.monotonic() + timeout, 0
    while seen < lines and (left := deadline - time.monotonic()) > 0:
        item = await ws.next_event(sock, left)
        if item is None:
            break
        message = item[1]
        if not isinstance(message, dict) or message.get("computeJobId") != job_id:
            continue
        if message.get("messageType") == "RUNLOG_UPDATED" and isinstance(payload(message).get("endLine"), int):
            seen = max(seen, payload(message)["endLine"])
        if message.get("messageType") == "JOB_STATUS_UPDATED" and payload(message).get("status") in TERMINAL:
            break
    return seen


def contiguous_from(first_line: int, ranges: list[dict[str, Any]]) -> tuple[bool, list[Any]]:
    problems, _ = contiguity_problems(ranges, first_line)
    return bool(ranges) and not problems, [(r.get("startLine"), r.get("endLine")) for r in ranges]


@executor("ws-progress.subscribe-replay")
async def subscribe_replay(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        first = await ws.open("first")
        job_id = await ws.submit(first, "long")
        last, ahead = int(ctx.params.get("read_lines", 5)), int(ctx.params.get("ahead_lines", 3))
        seen = await stream_until(ws, first, job_id, last + ahead, float(ctx.option("job_timeout")))
        ctx.require("long-job-streams", seen >= last + ahead,
                    "the long job streams its run log to the socket named by its connection-id",
                    expected=f"at least {last + ahead} lines", observed=f"{seen} lines")
        # a client that saw lines 1..last is lost; the job has streamed past it: a new socket
        # must get lines last+1.. replayed, then the job's later events as they happen
        second = await ws.open("second")
        await send_required(ctx, second, subscription(job_id, last), "SUBSCRIBE")
        await asyncio.sleep(float(ctx.params.get("pause_s", 0.3)))
        d = await ws.delete_job(job_id)  # its end is a later event the subscriber must get
        ctx.require("delete-accepted", 200 <= d.status_code < 300,
                    "DELETE of the running job is accepted (its end is a later event to watch for)",
                    expected="2xx", observed=f"{d.status_code} {ctx.evidence.redactor.text_bounded(d.text, 200)}")
        messages = await ws.collect(second, job_id, timeout=ctx.target.request_timeout)
        ctx.evidence.note(f"lastRunLogLine sent in SUBSCRIBE: {last}; the job had streamed {seen} lines")
        types = message_types(messages)
        ctx.check("current-status-first", bool(types) and types[0] == "CURRENT_JOB_STATUS",
                  "SUBSCRIBE is answered with CURRENT_JOB_STATUS", expected="CURRENT_JOB_STATUS first",
                  observed=types[:5])
        ok, lines = contiguous_from(last + 1, run_log(messages))
        ctx.check("replay-from-last-line", ok,
                  f"the run log is replayed from line {last + 1} (after lastRunLogLine {last}) and goes "
                  "on live, contiguously", expected=f"ranges from {last + 1}, contiguous", observed=lines[:8])
        ends = [s for s in statuses(messages) if s in TERMINAL]
        ctx.check("later-events-reach-subscriber", bool(ends),
                  "the job's later events reach the subscribing socket: its end after the DELETE",
                  expected="a terminal JOB_STATUS_UPDATED on the subscribing socket",
                  observed={"message_types": types[:12], "run_log_ranges": len(lines)})


@executor("ws-progress.subscribe-finished")
async def subscribe_finished(ctx: Context) -> None:
    async with WsClient(ctx) as ws:
        sock = await ws.open("runner")
        job_id, messages = await ws.job(sock, "short")
        final: list[str | None] = [*statuses(messages)[-1:]] or [None]
        ctx.require("job-finished", final[0] in TERMINAL, "the job reaches a terminal status",
                    expected=sorted(TERMINAL), observed=final[0])
        later = await ws.open("later")
        await send_required(ctx, later, subscription(job_id, 0), "SUBSCRIBE")
        item = await ws.next_event(later, ctx.target.request_timeout)
        message = item[1] if item else None
        ctx.check("finished-current-status", isinstance(message, dict)
                  and message.get("messageType") == "CURRENT_JOB_STATUS" and payload(message).get("status") == final[0],
                  "SUBSCRIBE to a finished job answers CURRENT_JOB_STATUS with its terminal status",
                  expected={"messageType": "CURRENT_JOB_STATUS", "status": final[0]}, observed=message)
