"""Executors for job ownership: a job belongs to the client that submitted it.

The seeds are silent on who may see a job; these are SHOULD scenarios (tag ``security``) run with
two declared clients: the owner (client_id/client_secret) and another (the first of ``clients``).
The other client's token must not reach the owner's job through the REST API, SUBSCRIBE or an
APP_MESSAGE_RESPONSE, nor put its own job on the owner's socket by naming its connection-id.
"""
from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack

from harness.profiles.ws_progress.client import WsClient, is_status, message_types, payload, statuses, send_required
from harness.profiles.ws_progress.subscribe import stream_until, subscription
from harness.runner import Context, executor
from harness.transport.websocket import ProgressSocket


async def _two_clients(ctx: Context, stack: AsyncExitStack) -> tuple[WsClient, WsClient]:
    """The owner and the other client (the scenario declares needs: [clients])."""
    owner = await stack.enter_async_context(WsClient(ctx))
    other = await stack.enter_async_context(WsClient(ctx, ctx.target.clients[0]))
    return owner, other


def _refused(ctx: Context) -> list[int]:
    return [int(s) for s in ctx.option("not_owner_status")]


def _foreign(sock: ProgressSocket, job_id: str) -> list[object]:
    """What the other client's socket received about the owner's job."""
    return [m for _, m in sock.received if isinstance(m, dict) and m.get("computeJobId") == job_id]


@executor("ws-progress.owner-rest")
async def owner_rest(ctx: Context) -> None:
    async with AsyncExitStack() as stack:
        owner, other = await _two_clients(ctx, stack)
        sock = await owner.open("owner")
        job_id, messages = await owner.job(sock, "short")
        final = next((payload(m) for m in reversed(messages) if is_status(m)), {})
        ctx.require("job-finished", bool(statuses(messages)), "the owner's job runs",
                    expected="status messages", observed=message_types(messages))
        refused = _refused(ctx)
        reads = [("GET the job", owner.job_url(job_id))]
        for what, key in (("GET its results", "resultsUrl"), ("GET its run log", "runLogUrl")):
            if isinstance(final.get(key), str) and ctx.trusted(owner.url(final[key]), f"the {key} of the job"):
                reads.append((what, owner.url(final[key])))
        for what, url in reads:
            r = await other.http.request("GET", url, bearer=await other.rest_token())
            ctx.check(f"other-client-{what.lower().replace(' ', '-')}", r.status_code in refused,
                      f"another client's token cannot {what} of a job it did not submit",
                      expected=refused, observed=f"{r.status_code} {ctx.evidence.redactor.text_bounded(r.text, 200)}")
        d = await other.http.request("DELETE", owner.job_url(job_id), bearer=await other.rest_token())
        ctx.check("other-client-delete", d.status_code in refused,
                  "another client's token cannot DELETE a job it did not submit",
                  expected=refused, observed=f"{d.status_code} {ctx.evidence.redactor.text_bounded(d.text, 200)}")
        g = await owner.http.request("GET", owner.job_url(job_id), bearer=await owner.rest_token())
        ctx.equal("owner-still-has-job", 200, g.status_code, "the owner's job is still there for its owner")


@executor("ws-progress.owner-subscribe")
async def owner_subscribe(ctx: Context) -> None:
    async with AsyncExitStack() as stack:
        owner, other = await _two_clients(ctx, stack)
        sock = await owner.open("owner")
        job_id = await owner.submit(sock, "long")
        seen = await stream_until(owner, sock, job_id, 1, float(ctx.option("job_timeout")))
        ctx.require("job-running", seen >= 1, "the owner's long job runs and streams its run log",
                    expected="a RUNLOG_UPDATED", observed=f"{seen} lines")
        spy = await other.open("other")
        await send_required(ctx, spy, subscription(job_id, 0), "another client's SUBSCRIBE")
        await spy.wait_closed(float(ctx.option("refusal_wait_s")))  # a close (1008) refuses it too
        leaked = _foreign(spy, job_id)
        ctx.check("other-client-subscribe", not leaked,
                  "SUBSCRIBE from another client's socket gets nothing of the job (no status, no run log)",
                  expected=[], observed=leaked[:3])


@executor("ws-progress.owner-app-message")
async def owner_app_message(ctx: Context) -> None:
    async with AsyncExitStack() as stack:
        owner, other = await _two_clients(ctx, stack)
        sock, spy = await owner.open("owner"), await other.open("other")
        job_id = await owner.submit(sock, "app-message")
        deadline = time.monotonic() + float(ctx.option("job_timeout"))
        asked = None
        while asked is None and (item := await owner.next_event(sock, deadline - time.monotonic())):
            if isinstance(item[1], dict) and item[1].get("messageType") == "APP_MESSAGE":
                asked = item[1]
        ctx.require("app-message-raised", asked is not None, "the owner's job raises an APP_MESSAGE",
                    expected="an APP_MESSAGE", observed=None)
        assert asked is not None
        # the other client answers first (to interrupt the solve), then the owner lets it go on
        answer_id = payload(asked).get("appMessageId")
        await spy.send_json({"computeJobId": job_id, "messageType": "APP_MESSAGE_RESPONSE",
                             "messagePayload": {"appMessageId": answer_id, "appMessage": {"interruptSolve": True}}})
        await asyncio.sleep(min(0.1, ctx.timing("app_message_timeout") / 4))
        await sock.send_json({"computeJobId": job_id, "messageType": "APP_MESSAGE_RESPONSE",
                              "messagePayload": {"appMessageId": answer_id, "appMessage": {"interruptSolve": False}}})
        seen = statuses(await owner.collect(sock, job_id, answer=True))
        ctx.check("other-client-answer-ignored", bool(seen) and seen[-1] == "COMPLETED",
                  "an APP_MESSAGE_RESPONSE from another client's socket is ignored: the owner's answer "
                  "(go on) decides", expected="... COMPLETED", observed=seen)


@executor("ws-progress.owner-connection-id")
async def owner_connection_id(ctx: Context) -> None:
    async with AsyncExitStack() as stack:
        owner, other = await _two_clients(ctx, stack)
        sock = await owner.open("owner")
        r = await other.submit_raw(other.job_body("short"), sock.connection_id)
        refused = sorted({*_refused(ctx), *(int(s) for s in ctx.option("unknown_connection_status"))})
        ctx.check("other-client-connection-id", r.status_code in refused,
                  "a submission naming another client's socket in connection-id is refused",
                  expected=refused, observed=f"{r.status_code} {ctx.evidence.redactor.text_bounded(r.text, 200)}")
        if other.jobs:  # accepted: watch whether its events reach the owner's socket
            await asyncio.sleep(float(ctx.option("refusal_wait_s")))
        foreign = [m for _, m in sock.received if isinstance(m, dict) and m.get("computeJobId") in other.jobs]
        ctx.check("no-foreign-job-events", not foreign,
                  "the owner's socket receives no events of another client's job",
                  expected=[], observed=foreign[:3])
