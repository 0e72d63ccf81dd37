"""Executors for the socket's timers: keepalive pings, the idle disconnect, token expiry and refresh.

Seed 001: "The server will periodically issue ping messages ... The client should respond with a
pong message echoing back the contents of the ping. If no pong is received after a five-minute
period, the socket is classed as idle and will be disconnected." and "The client needs to send a
message of type UPDATE_TOKEN before the configured (default 15 minutes) expiry time of the bearer
token. If this message is not sent before the current token expires then the socket will be
disconnected on token expiry."
"""
from __future__ import annotations

import asyncio
import time

from harness.profiles.ws_progress.client import WsClient, send_required
from harness.runner import Context, executor
from harness.timing import intervals
from harness.transport.websocket import Closed, PingMode, ProgressSocket


def judge_close(ctx: Context, name: str, closed: Closed | None, since: float, declared: float,
                code_option: str, what: str) -> None:
    """A disconnect must come within the window around ``declared`` seconds after ``since``."""
    observed = closed.at - since if closed else None
    ctx.timer_check(name, declared, observed, f"{what}: the socket is closed",
                    extra={"code": closed.code if closed else None})
    code = ctx.option(code_option)
    if code is not None and closed is not None:
        ctx.equal(f"{name}-code", int(code), closed.code, f"{what}: close code is the declared {code}")


async def _wait_close(ctx: Context, sock: ProgressSocket, since: float, declared: float) -> Closed | None:
    deadline = since + ctx.latest(declared) + 0.5
    return await sock.wait_closed(max(0.0, deadline - time.monotonic()))


@executor("ws-progress.keepalive")
async def keepalive(ctx: Context) -> None:
    idle, interval = ctx.timing("idle_timeout"), ctx.timing("ping_interval")
    stay = ctx.latest(idle) + interval
    ctx.require_wait(stay, "staying connected past the idle timeout")
    async with WsClient(ctx) as ws:
        sock = await ws.open("answering", ping_mode=PingMode.ANSWER, refresh=True)
        closed = await sock.wait_closed(stay)
        pings = sock.rec.pings
        ctx.check("pings-arrive", len(pings) >= 2, "the server sends pings periodically",
                  expected=f">= 2 pings in {stay:.2f}s", observed=len(pings))
        gaps = intervals(pings)
        ctx.schedule_check("ping-interval", [interval] * len(gaps), gaps,
                           f"pings arrive every {interval:g}s (declared)")
        ctx.check("answering-client-stays", closed is None,
                  "a client that answers pings stays connected past the idle timeout",
                  expected=f"open after {stay:.2f}s",
                  observed=f"closed after {closed.at - sock.rec.opened_at:.3f}s with {closed.code}" if closed else "open")


async def _idle(ctx: Context, mode: PingMode, what: str) -> None:
    idle = ctx.timing("idle_timeout")
    ctx.require_wait(ctx.latest(idle), "the idle disconnect")
    async with WsClient(ctx) as ws:
        sock = await ws.open(mode.value, ping_mode=mode, refresh=True)
        if ctx.option("idle_counts_from") == "ping":
            first = await _first_ping(sock, ctx.timing("ping_interval") * 3)
            ctx.require("ping-before-idle", first is not None, "a ping arrives", expected="a ping",
                        observed=None)
            assert first is not None
            since = first
        else:
            since = sock.rec.opened_at
        closed = await _wait_close(ctx, sock, since, idle)
        judge_close(ctx, "idle-close", closed, since, idle, "idle_close_code", what)


async def _first_ping(sock: ProgressSocket, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sock.rec.pings:
            return sock.rec.pings[0]
        await asyncio.sleep(0.01)
    return None


@executor("ws-progress.idle-silent")
async def idle_silent(ctx: Context) -> None:
    await _idle(ctx, PingMode.SILENT, "a client that never answers pings")


@executor("ws-progress.idle-wrong-pong")
async def idle_wrong_pong(ctx: Context) -> None:
    await _idle(ctx, PingMode.WRONG, "a client whose pongs do not echo the ping data")


async def _socket_with_known_token(ctx: Context, ws: WsClient, name: str) -> tuple[ProgressSocket, float]:
    token = await ws.token()
    issued = time.monotonic()
    sock = await ws.open(name, refresh=False, token=token)
    return sock, issued


@executor("ws-progress.token-expiry")
async def token_expiry(ctx: Context) -> None:
    lifetime = ctx.timing("token_lifetime")
    ctx.require_wait(ctx.latest(lifetime), "token expiry")
    async with WsClient(ctx) as ws:
        sock, issued = await _socket_with_known_token(ctx, ws, "no-refresh")
        closed = await _wait_close(ctx, sock, issued, lifetime)
        judge_close(ctx, "token-expiry-close", closed, issued, lifetime, "token_expiry_close_code",
                    "a socket whose token expires without UPDATE_TOKEN")


@executor("ws-progress.token-refresh")
async def token_refresh(ctx: Context) -> None:
    lifetime = ctx.timing("token_lifetime")
    w = ctx.window(lifetime)
    stay = w.upper + (lifetime - w.lower)  # past the latest expiry by the early margin too
    ctx.require_wait(stay, "staying open past the first token expiry")
    async with WsClient(ctx) as ws:
        sock, issued = await _socket_with_known_token(ctx, ws, "refreshed")
        ws.keep_fresh(sock)  # UPDATE_TOKEN with a fresh token every 0.4 x lifetime
        closed = await sock.wait_closed(max(0.0, issued + stay - time.monotonic()))
        ctx.check("refreshed-stays-open", closed is None,
                  "a socket that sent UPDATE_TOKEN with a fresh token in time stays open past the first expiry",
                  expected=f"open {stay:.2f}s after the first token",
                  observed=f"closed after {closed.at - issued:.3f}s with {closed.code}" if closed else "open")


@executor("ws-progress.token-refresh-invalid")
async def token_refresh_invalid(ctx: Context) -> None:
    lifetime = ctx.timing("token_lifetime")
    latest = ctx.latest(lifetime)
    ctx.require_wait(latest, "the first token expiry")
    async with WsClient(ctx) as ws:
        sock, issued = await _socket_with_known_token(ctx, ws, "invalid-refresh")
        await asyncio.sleep(max(0.0, issued + lifetime * 0.5 - time.monotonic()))
        await send_required(ctx, sock, {"messageType": "UPDATE_TOKEN", "messagePayload": {"token": "invalid-" + ctx.run_id}},
                            "an invalid UPDATE_TOKEN")
        closed = await _wait_close(ctx, sock, issued, lifetime)
        ctx.check("invalid-refresh-refused", closed is not None and closed.at - issued <= latest,
                  "an invalid token in UPDATE_TOKEN does not extend the socket: it closes at the latest at the first expiry",
                  expected=f"closed within {latest:.2f}s of the first token",
                  observed=f"closed after {closed.at - issued:.3f}s with {closed.code}" if closed else "still open")
