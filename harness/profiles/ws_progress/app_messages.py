"""Executors for solver callbacks: APP_MESSAGE answered (go on, or interruptSolve), unanswered.

Seed 000: "Handle progress event messages from the server via the web socket and respond to
callbacks." Notes: "APP_MESSAGE (a solver callback) {appMessageId, appMessageType, appMessage{...}};
APP_MESSAGE_RESPONSE {appMessageId, appMessage{interruptSolve:bool}}. An APP_MESSAGE must be answered
within 60 s (configurable) or the job fails."
"""
from __future__ import annotations

from typing import Any

from harness.profiles.ws_progress.client import WsClient, is_status, message_types, payload, statuses
from harness.runner import Context, executor

TYPE_CLAUSE = ("docs/ws-progress-jobs.md: the app-message job raises exactly one APP_MESSAGE "
               "(appMessageType: SOLVER_CALLBACK)")


def is_app_message(message: Any) -> bool:
    return isinstance(message, dict) and message.get("messageType") == "APP_MESSAGE"


def check_app_message_type(ctx: Context, messages: list[Any]) -> None:
    """The APP_MESSAGE carries the declared appMessageType (option app_message_type; null: any)."""
    declared = ctx.option("app_message_type")
    if declared is None:
        return
    kinds = [payload(m).get("appMessageType") for m in messages if is_app_message(m)]
    ctx.check("app-message-type", bool(kinds) and all(k == declared for k in kinds),
              f"the APP_MESSAGE carries appMessageType {declared} (declared)",
              expected=declared, observed=kinds, clause=TYPE_CLAUSE)


async def _app_message(ctx: Context, answer: bool | None) -> tuple[list[str], float | None, float | None]:
    """Run the app-message job; its statuses, when the APP_MESSAGE came and when it FAILED.
    ``answer``: True goes on, False answers interruptSolve: true, None leaves it unanswered."""
    async with WsClient(ctx) as ws:
        sock = await ws.open("callbacks")
        job_id = await ws.submit(sock, "app-message")
        limit = float(ctx.option("job_timeout")) + ctx.latest(ctx.timing("app_message_timeout"))
        messages = await ws.collect(sock, job_id, timeout=limit, answer=answer)
        ctx.check("app-message-raised", any(is_app_message(m) for m in messages),
                  "the job raises an APP_MESSAGE callback", expected="an APP_MESSAGE",
                  observed=message_types(messages))
        check_app_message_type(ctx, messages)
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


@executor("ws-progress.app-message-interrupt")
async def app_message_interrupt(ctx: Context) -> None:
    seen, _, _ = await _app_message(ctx, answer=False)
    terminal = [s for s in seen if s in ("COMPLETED", "FAILED", "CANCELLED")]
    ctx.equal("interrupted-job-cancelled", ["CANCELLED"], terminal,
              "an APP_MESSAGE answered with interruptSolve: true ends the job CANCELLED, once")


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
