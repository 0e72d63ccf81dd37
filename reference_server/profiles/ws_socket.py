"""ws-progress socket (seed 001): handshake, client frames, keepalive pings, idle and token closes.

One :class:`SocketSession` per ``GET /api/compute-job-messages``. Its outbound queue is bounded
(``Limits.socket_outbound_bytes``): a client that does not read is closed with 1008, and its
transport aborted if even the Close frame cannot leave. SUBSCRIBE is bounded per frame and per
socket (``Limits.subscriptions_per_message`` / ``subscriptions_per_socket``). Timers are precise
``call_later`` handles: the idle watchdog counts from the last valid pong (or the opening), the
token timer fires at the socket's current token expiry. Events that are queued together leave in
one write (:func:`text_frames`) when the socket has no permessage-deflate; with it, aiohttp
compresses and sends them one by one. Pongs are ours to check (autoping off):
RFC 6455 5.5.3 "A Pong frame sent in response to a Ping frame must have identical 'Application
data' as found in the message body of the Ping frame being replied to."
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import struct
import time
import uuid
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.abc import AbstractStreamWriter

from reference_server.json_bodies import JsonError, loads
from reference_server.problems import bearer_token, problem
from reference_server.profiles.ws_job_request import Json
from reference_server.profiles.ws_jobs import JobRegistry, dumps

MAX_FRAME = 64 * 1024  # larger client frames: 1009 (aiohttp's max_msg_size)
OUTSTANDING_PINGS = 32  # pings whose data a pong may still echo
CLOSE_TIMEOUT = 2.0  # how long ws.close() waits for the client's Close frame
POLICY_VIOLATION, UNSUPPORTED_DATA, INTERNAL_ERROR, GOING_AWAY = 1008, 1003, 1011, 1001
WRITE_BATCH_BYTES = 64 * 1024  # queued events taken together into one write, at least one
_TEXT_FIN = 0x81  # FIN, opcode 1 (text)
_LEN1, _LEN2, _LEN3 = struct.Struct("!BB").pack, struct.Struct("!BBH").pack, struct.Struct("!BBQ").pack


def text_frames(texts: list[str]) -> bytes:
    """The texts as unfragmented, unmasked (server-to-client) text frames, RFC 6455 5.2."""
    parts: list[bytes] = []
    for text in texts:
        data = text.encode()
        size = len(data)
        if size < 126:
            parts.append(_LEN1(_TEXT_FIN, size))
        elif size < 65536:
            parts.append(_LEN2(_TEXT_FIN, 126, size))
        else:
            parts.append(_LEN3(_TEXT_FIN, 127, size))
        parts.append(data)
    return b"".join(parts)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class SocketSession:
    """One open socket: an outbox for job events plus its keepalive and token timers."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None,
                 connection_id: str, registry: JobRegistry, token: str | None,
                 token_expiry: float) -> None:
        self.connection_id = connection_id
        self.token = token
        self.client = registry.tokens.client(token)  # whose socket: only its jobs reach it
        self._ws = ws
        self._registry = registry
        self._config = registry.config
        self._transport = transport
        self._queue: collections.deque[str] = collections.deque()
        self._queued = asyncio.Event()  # set when the queue may hold something
        self._queued_bytes = 0
        self._subscribed: set[str] = set()  # job ids named in this socket's SUBSCRIBEs
        self._closing = False
        self._close_task: asyncio.Task[bool] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pings: collections.deque[bytes] = collections.deque(maxlen=OUTSTANDING_PINGS)
        self._last_pong = time.monotonic()
        self._token_expiry = token_expiry
        self._idle_timer: asyncio.TimerHandle | None = None
        self._token_timer: asyncio.TimerHandle | None = None

    def _fault(self, name: str) -> bool:
        return name in self._config.faults

    # --- Outbox ---------------------------------------------------------------------------------
    @property
    def open(self) -> bool:
        return not self._closing and not self._ws.closed

    def deliver(self, frame: Json) -> None:
        if not self.open:
            return
        text = dumps(frame)
        limit = self._config.limits.socket_outbound_bytes
        if self._queued_bytes + len(text) > limit:
            self.close(POLICY_VIOLATION, f"client too slow: over {limit} bytes of events unread")
            return
        self._queued_bytes += len(text)
        self._queue.append(text)
        self._queued.set()

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake now (from a timer, a frame handler or the server)."""
        if self._closing:
            return
        self._closing = True
        self._cancel_timers()
        if not self._ws.closed:
            loop = asyncio.get_running_loop()
            self._close_task = loop.create_task(
                self._ws.close(code=code, message=reason.encode()[:123]))
            # a client that does not read never lets the Close frame out: drop it after a while
            loop.call_later(2 * CLOSE_TIMEOUT, self._abort)

    def _abort(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.abort()

    # --- lifetime -------------------------------------------------------------------------------
    async def run(self, stream: AbstractStreamWriter) -> None:
        """Serve the socket until it closes; ``stream`` is what preparing the response gave."""
        loop = asyncio.get_running_loop()
        self._last_pong = time.monotonic()
        self._tasks.append(loop.create_task(self._sender(stream)))
        if not self._fault("ws-no-pings"):
            self._tasks.append(loop.create_task(self._pinger()))
        self._schedule_idle()
        self._schedule_token(self._token_expiry)
        try:
            while not self._ws.closed:
                msg = await self._ws.receive()
                if msg.type is WSMsgType.TEXT:
                    self._on_text(msg.data)
                elif msg.type is WSMsgType.BINARY:
                    self.close(UNSUPPORTED_DATA, "binary frames are not accepted")
                elif msg.type is WSMsgType.PING:
                    with contextlib.suppress(Exception):
                        await self._ws.pong(msg.data)
                elif msg.type is WSMsgType.PONG:
                    self._on_pong(msg.data)
                else:  # CLOSE, CLOSING, CLOSED, ERROR (aiohttp has answered or closed already)
                    break
        finally:
            self._closing = True
            self._cancel_timers()
            for task in self._tasks:
                task.cancel()
            self._registry.socket_closed(self)
            if self._close_task is not None:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await self._close_task
            elif not self._ws.closed:
                with contextlib.suppress(Exception):
                    await self._ws.close()

    async def _sender(self, stream: AbstractStreamWriter) -> None:
        while True:
            if not self._queue:
                self._queued.clear()
                await self._queued.wait()
                continue
            texts = [self._queue.popleft()]
            size = len(texts[0])
            while size < WRITE_BATCH_BYTES and self._queue:
                texts.append(self._queue.popleft())
                size += len(texts[-1])
            self._queued_bytes -= size
            if not self.open:
                return
            try:
                await self._send(texts, stream)
            except Exception:  # the transport went away: events are dropped from now on
                return

    async def _send(self, texts: list[str], stream: AbstractStreamWriter) -> None:
        transport = self._transport
        if self._ws.compress or transport is None:
            for text in texts:  # aiohttp's compressor keeps its context from message to message
                await self._ws.send_str(text)
            return
        if transport.is_closing():
            raise ConnectionResetError("the transport is closing")
        transport.write(text_frames(texts))
        await stream.drain()  # waits while the transport's buffer is over its high-water mark

    async def _pinger(self) -> None:
        while True:
            await asyncio.sleep(self._config.timings.ping_interval)
            data = os.urandom(8)  # fresh per ping: a pong must echo one we sent
            self._pings.append(data)
            try:
                await self._ws.ping(data)
            except Exception:
                return

    # --- timers ---------------------------------------------------------------------------------
    def _cancel_timers(self) -> None:
        for timer in (self._idle_timer, self._token_timer):
            if timer is not None:
                timer.cancel()

    def _schedule_idle(self) -> None:
        if self._closing or self._fault("ws-no-idle-close"):
            return
        timeout = self._config.timings.idle_timeout
        if self._fault("ws-idle-close-early"):
            timeout /= 2
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        delay = max(0.0, self._last_pong + timeout - time.monotonic())
        self._idle_timer = asyncio.get_running_loop().call_later(
            delay, self.close, self._config.idle_close_code, "idle: no pong received")

    def _schedule_token(self, expiry: float) -> None:
        if self._closing or self._fault("ws-token-expiry-ignored"):
            return
        if self._token_timer is not None:
            self._token_timer.cancel()
        delay = max(0.0, expiry - time.monotonic())
        self._token_timer = asyncio.get_running_loop().call_later(
            delay, self.close, self._config.token_expiry_close_code, "bearer token expired")

    def _on_pong(self, data: bytes) -> None:
        if data in self._pings:
            self._pings.remove(data)
        elif not self._fault("ws-wrong-pong-accepted"):
            return  # unsolicited or wrong data: not a sign of life
        self._last_pong = time.monotonic()
        self._schedule_idle()

    # --- client frames --------------------------------------------------------------------------
    def _on_text(self, data: str) -> None:
        try:
            frame = loads(data, self._config.limits.json_depth)
        except JsonError as exc:
            if self._fault("ws-malformed-frame-crash"):
                # the parse error escapes into the shared broadcaster and takes every socket down
                self._registry.close_all(INTERNAL_ERROR, "internal error")
                return
            self.close(POLICY_VIOLATION, f"the frame is {exc}")
            return
        error = self._dispatch(frame)
        if error:
            self.close(POLICY_VIOLATION, error)

    def _dispatch(self, frame: Any) -> str | None:
        """Handle one client message; the reason to close with 1008, or None."""
        if not isinstance(frame, dict):
            return "frame is not a JSON object"
        kind, payload = frame.get("messageType"), frame.get("messagePayload")
        if not isinstance(kind, str):
            return "messageType missing"
        if not isinstance(payload, dict):
            return "messagePayload missing or not an object"
        if kind == "UPDATE_TOKEN":
            return self._update_token(payload)
        if kind == "APP_MESSAGE_RESPONSE":
            message = payload.get("appMessage")
            if not isinstance(payload.get("appMessageId"), str) or not isinstance(message, dict) \
                    or not isinstance(message.get("interruptSolve"), bool):
                return "APP_MESSAGE_RESPONSE needs appMessageId and appMessage.interruptSolve"
            self._registry.answer_app_message(payload["appMessageId"], message["interruptSolve"], self.client)
            return None
        if kind == "SUBSCRIBE":
            subs = payload.get("subscriptions")
            if not isinstance(subs, list) or not all(
                    isinstance(s, dict) and isinstance(s.get("computeJobId"), str)
                    and _is_int(s.get("lastRunLogLine")) and s["lastRunLogLine"] >= 0
                    and _is_int(s.get("executionAttempts", 1)) for s in subs):
                return "SUBSCRIBE needs subscriptions [{computeJobId, executionAttempts, lastRunLogLine}]"
            limits = self._config.limits
            if len(subs) > limits.subscriptions_per_message:
                return f"SUBSCRIBE names more than {limits.subscriptions_per_message} jobs"
            self._subscribed.update(s["computeJobId"] for s in subs)
            if len(self._subscribed) > limits.subscriptions_per_socket:
                return f"more than {limits.subscriptions_per_socket} jobs subscribed on one socket"
            self._registry.subscribe(self, subs)
            return None
        return f"unknown messageType {kind[:40]!r}"

    def _update_token(self, payload: Json) -> str | None:
        token = payload.get("token")
        if not isinstance(token, str):
            return "UPDATE_TOKEN needs a token"
        tokens = self._registry.tokens
        expiry = tokens.expiry(token)
        if expiry is None or not tokens.valid(token):
            if not self._fault("ws-update-token-unchecked"):
                return "UPDATE_TOKEN: invalid or expired token"
            expiry = time.monotonic() + self._config.timings.token_lifetime
        self.token = token
        if not self._fault("ws-update-token-ignored"):
            self._schedule_token(expiry)
        ack = self._config.update_token_ack
        if ack is not None and not self._fault("ws-update-token-no-ack"):
            self.deliver({"messageType": ack, "messagePayload": {}})
        return None


async def handle_socket(request: web.Request, registry: JobRegistry) -> web.StreamResponse:
    """``GET /api/compute-job-messages``: 401 without a valid bearer token, else 101 and serve."""
    token = bearer_token(request)
    expiry = registry.tokens.expiry(token)
    now = time.monotonic()
    accepted = expiry is not None and (expiry > now or registry.fault("ws-expired-token-accepted"))
    if not accepted:
        if not registry.fault("ws-handshake-no-auth"):
            return problem(401, "a valid, unexpired bearer token is required",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        expiry = now + registry.config.timings.token_lifetime
    assert expiry is not None
    connection_id = registry.shared_connection_id if registry.fault("ws-connection-id-reused") \
        else str(uuid.uuid5(uuid.NAMESPACE_URL, token or "")) if registry.fault("ws-connection-id-per-token") \
        else str(uuid.uuid4())
    ws = web.WebSocketResponse(autoping=False, max_msg_size=MAX_FRAME, timeout=CLOSE_TIMEOUT,
                               compress=not registry.fault("ws-no-permessage-deflate"))
    if not ws.can_prepare(request).ok:
        return problem(400, "this path only answers a WebSocket upgrade (GET, Upgrade: websocket)")
    if not registry.fault("ws-no-connection-id"):
        ws.headers["connection-id"] = connection_id
    session = SocketSession(ws, request.transport, connection_id, registry, token, expiry)
    registry.socket_opened(session)  # before the 101 leaves: a submission may follow at once
    try:
        stream = await ws.prepare(request)
    except BaseException:
        registry.socket_closed(session)
        raise
    await session.run(stream)
    return ws
