"""The harness WebSocket client, on `websockets`: it records every frame with monotonic timestamps
(pings, pongs and the close code included) and, per socket, answers pings normally, stays silent
or answers with the wrong data.

RFC 6455 5.5.2/5.5.3: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
response ... A Pong frame sent in response to a Ping frame must have identical Application data".
The silent and wrong modes break that on purpose, to test the server's idle disconnect.

Whatever a target sends, a socket costs bounded memory and time: one message is at most
MAX_SIZE bytes once decompressed (websockets' ``max_size`` applies after permessage-deflate), the
evidence keeps the first and last frames of each socket (harness/evidence.py), each frame's data
bounded, at most CONTROL_PER_SECOND pings and pongs a second are answered and recorded (the rest
counted), and a socket whose unread messages pass MAX_QUEUE, or whose messages pass
MAX_MESSAGES or MAX_RECEIVED_BYTES, is closed by the harness (1008) with the reason recorded, so
neither a flood nor its ERROR lands on another socket. ``Closed.by`` says who closed.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable

import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed, InvalidStatus, PayloadTooBig
from websockets.frames import Close, Frame, Opcode

from harness.progress import waiting
from harness.evidence import Evidence
from harness.strictjson import InvalidJson, strict_json
from harness.verdicts import TargetUnreachable

MAX_SIZE = 4 * 1024 * 1024  # one message, decompressed
MAX_QUEUE = 1000  # unread messages
MAX_MESSAGES = 20_000  # messages received over the socket's life
MAX_RECEIVED_BYTES = 16 * 1024 * 1024
MAX_FRAME_DATA = 2000  # characters of one frame's data in the evidence
MAX_BINARY = 512  # bytes of a binary frame shown (as hex) in the evidence
CONTROL_PER_SECOND = 20.0  # pings and pongs answered and recorded; the rest are counted
CONTROL_FLOOD = 1000  # dropped pings and pongs after which the harness closes the socket
POLICY_VIOLATION = 1008


class PingMode(StrEnum):
    ANSWER = "answer"
    SILENT = "silent"
    WRONG = "wrong"


@dataclass
class Closed:
    code: int | None
    reason: str
    at: float  # monotonic
    by: str = "target"  # or "harness": it refused a frame, or a bound was reached


@dataclass
class SocketRecorder:
    name: str
    evidence: Evidence
    ping_mode: PingMode = PingMode.ANSWER
    opened_at: float = 0.0
    pings: list[float] = field(default_factory=list)
    pongs: list[float] = field(default_factory=list)
    on_close: Callable[[Closed], None] | None = None
    on_flood: Callable[[str], None] | None = None
    conn: ClientConnection | None = None  # set as soon as it exists, during the handshake
    control_dropped: int = 0  # pings and pongs over CONTROL_PER_SECOND, neither answered nor kept
    _allowance: float = CONTROL_PER_SECOND
    _last_control: float = 0.0
    _unreported: int = 0

    def record(self, direction: str, kind: str, data: Any = None, code: int | None = None,
               reason: str | None = None, at: float | None = None) -> None:
        red = self.evidence.redactor
        entry: dict[str, Any] = {"at": self.evidence.at(at), "socket": self.name,
                                 "direction": direction, "type": kind}
        if data is not None:
            entry["data"] = red.json_bounded(data, MAX_FRAME_DATA)
        if code is not None or kind == "close":
            entry["code"] = code
            entry["reason"] = red.text_bounded(reason or "", 200)
        self.evidence.frames.append(entry)

    def control_allowed(self, now: float) -> bool:
        """Whether a ping or pong arriving now is answered and recorded (a token bucket of
        CONTROL_PER_SECOND a second); a dropped one is counted, and reported once a second."""
        if self._last_control:
            self._allowance = min(CONTROL_PER_SECOND,
                                  self._allowance + (now - self._last_control) * CONTROL_PER_SECOND)
        self._last_control = now
        if self._allowance >= 1.0:
            self._allowance -= 1.0
            if self._unreported:
                self.record("event", "control-frames-dropped", {"count": self._unreported}, at=now)
                self._unreported = 0
            return True
        self.control_dropped += 1
        self._unreported += 1
        if self.control_dropped == CONTROL_FLOOD and self.on_flood is not None:  # once
            self.on_flood(f"harness: ping flood ({CONTROL_FLOOD} pings or pongs over "
                          f"{CONTROL_PER_SECOND:g} a second)")
        return False


def _control_data(data: bytes | bytearray | memoryview) -> str:
    return bytes(data).hex()


def shown(evidence: Evidence, data: str | bytes) -> Any:
    """A frame's payload as the evidence keeps it: text as it is, bytes as hex of their first
    MAX_BINARY bytes once secrets are removed (record() then redacts and bounds the text)."""
    if isinstance(data, str):
        return data
    return {"hex": evidence.redactor.binary(data)[:MAX_BINARY].hex(), "bytes": len(data)}


class RecordingProtocol(ClientProtocol):
    recorder: SocketRecorder

    def recv_frame(self, frame: Frame) -> None:
        rec, now = self.recorder, time.monotonic()
        if frame.opcode in (Opcode.PING, Opcode.PONG) and not rec.control_allowed(now):
            return  # a flood: RFC 6455 5.5.2 asks for a pong "as soon as is practical"
        if frame.opcode is Opcode.PING:
            rec.pings.append(now)
            rec.record("received", "ping", _control_data(frame.data), at=now)
            if rec.ping_mode is PingMode.SILENT:
                rec.record("event", "pong-withheld", at=now)
                return
            if rec.ping_mode is PingMode.WRONG:
                self.send_frame(Frame(Opcode.PONG, (b"wrong:" + bytes(frame.data)[::-1])[:125]))
                return
        elif frame.opcode is Opcode.PONG:
            rec.record("received", "pong", _control_data(frame.data), at=now)
        elif frame.opcode is Opcode.CLOSE:
            close = Close.parse(frame.data) if frame.data else None
            rec.record("received", "close", code=close.code if close else None,
                       reason=close.reason if close else "", at=now)
            if rec.on_close is not None:  # closed when the server's Close frame arrives
                rec.on_close(Closed(close.code if close else None, close.reason if close else "", now))
        super().recv_frame(frame)

    def send_frame(self, frame: Frame) -> None:
        rec = self.recorder
        if frame.opcode is Opcode.PONG:
            rec.pongs.append(time.monotonic())
            rec.record("sent", "pong", _control_data(frame.data))
        elif frame.opcode is Opcode.CLOSE:
            close = Close.parse(frame.data) if frame.data else None
            rec.record("sent", "close", code=close.code if close else None,
                       reason=close.reason if close else "")
        super().send_frame(frame)


def _connection_class(recorder: SocketRecorder) -> type[ClientConnection]:
    class RecordingConnection(ClientConnection):
        _abort: asyncio.TimerHandle | None = None

        def __init__(self, protocol: ClientProtocol, **kwargs: Any) -> None:
            protocol.__class__ = RecordingProtocol
            protocol.recorder = recorder  # type: ignore[attr-defined]
            super().__init__(protocol, **kwargs)
            recorder.conn = self

        def data_received(self, data: bytes) -> None:
            """websockets enforces close_timeout only in a send or close call: once our Close
            frame is out (the harness refused a frame, or answered the target's Close), a target
            that keeps the TCP connection open is cut off after close_timeout all the same."""
            super().data_received(data)
            if self._abort is None and self.close_timeout is not None and self.protocol.close_expected():
                self._abort = self.loop.call_later(self.close_timeout, self.transport.abort)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._abort is not None:
                self._abort.cancel()
            super().connection_lost(exc)
    return RecordingConnection


class HandshakeRefused(Exception):
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        super().__init__(f"handshake refused with HTTP {status}")
        self.status, self.headers, self.body = status, headers, body


class ProgressSocket:
    """One socket of the progress API: JSON messages in a bounded queue, the close recorded."""

    def __init__(self, name: str, evidence: Evidence, *, ping_mode: PingMode = PingMode.ANSWER,
                 timeout: float = 5.0) -> None:
        self.rec = SocketRecorder(name, evidence, ping_mode)
        self.evidence = evidence
        self.timeout = timeout
        self.conn: ClientConnection | None = None
        self.connection_id: str | None = None
        self.response_headers: dict[str, str] = {}
        self.messages: asyncio.Queue[tuple[float, Any]] = asyncio.Queue(MAX_QUEUE)
        self.received: list[tuple[float, Any]] = []
        self.received_bytes = 0
        self.closed: asyncio.Future[Closed] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.rec.name

    async def open(self, url: str, token: str | None, *, compression: str | None = "deflate",
                   headers: dict[str, str] | None = None) -> None:
        """Open the socket; HandshakeRefused when the server answers without upgrading."""
        red = self.evidence.redactor
        sent = dict(headers or {})
        if token is not None:
            red.add(token)
            sent["Authorization"] = f"Bearer {token}"
        self.rec.record("sent", "handshake", {"url": url, "headers": red.headers(sent),
                                              "compression": compression})
        self.closed = asyncio.get_running_loop().create_future()  # a flood may start at once
        self.rec.on_close = self._set_closed
        self.rec.on_flood = self._flooded
        try:
            self.conn = await connect(url, additional_headers=sent, compression=compression,
                                      open_timeout=self.timeout, close_timeout=1.0,
                                      ping_interval=None, max_size=MAX_SIZE,
                                      create_connection=_connection_class(self.rec))
        except InvalidStatus as exc:
            r = exc.response
            hdrs = dict(r.headers.raw_items())
            self.rec.record("received", "handshake", {"status": r.status_code, "headers": red.headers(hdrs)})
            raise HandshakeRefused(r.status_code, hdrs, bytes(r.body or b"")) from exc
        except (OSError, TimeoutError, websockets.exceptions.InvalidHandshake) as exc:
            why = red.text_bounded(f"{type(exc).__name__}: {exc}", 500)
            self.rec.record("event", "handshake-error", why)
            raise TargetUnreachable(f"WebSocket handshake to {red.text_bounded(url, 500)} failed: {why}") from exc
        assert self.conn.response is not None
        self.rec.opened_at = time.monotonic()
        self.response_headers = {k.lower(): v for k, v in self.conn.response.headers.raw_items()}
        self.connection_id = self.response_headers.get("connection-id")
        self.rec.record("received", "handshake", {"status": self.conn.response.status_code,
                                                  "headers": red.headers(self.response_headers)})
        self._reader = asyncio.create_task(self._read())

    def _set_closed(self, closed: Closed) -> None:
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(closed)

    def _close_by_harness(self, why: str) -> None:
        """Close the socket for a bound it broke, with the reason recorded on this socket."""
        now = time.monotonic()
        self.rec.record("event", "closed-by-harness", why, at=now)
        self._set_closed(Closed(POLICY_VIOLATION, why, now, by="harness"))
        if self.rec.conn is not None:
            self._closing = asyncio.create_task(self.rec.conn.close(POLICY_VIOLATION, why[:120]))

    def _flooded(self, why: str) -> None:
        """Stop reading a flood at once (parsing it would starve the other sockets), then close."""
        if self.rec.conn is not None:
            self.rec.conn.transport.pause_reading()
        self._close_by_harness(why)

    def _over_budget(self, size: int) -> str | None:
        self.received_bytes += size
        if len(self.received) >= MAX_MESSAGES or self.received_bytes > MAX_RECEIVED_BYTES:
            return (f"harness: more than {MAX_MESSAGES} messages or {MAX_RECEIVED_BYTES} bytes "
                    f"received ({len(self.received)} messages, {self.received_bytes} bytes)")
        return None

    async def _read(self) -> None:
        assert self.conn is not None and self.closed is not None
        try:
            async for raw in self.conn:
                now = time.monotonic()
                if (why := self._over_budget(len(raw))) is not None:
                    self._close_by_harness(why)
                    return
                try:
                    message: Any = strict_json(raw)
                except InvalidJson:
                    message = {"unparsable": shown(self.evidence, raw)}
                self.rec.record("received", "text" if isinstance(raw, str) else "binary", message, at=now)
                self.received.append((now, message))
                try:
                    self.messages.put_nowait((now, message))
                except asyncio.QueueFull:
                    self._close_by_harness(f"harness: more than {MAX_QUEUE} messages unread")
                    return
        except ConnectionClosed as exc:
            self._refused(exc)
        finally:
            rcvd = self.conn.protocol.close_rcvd
            self._set_closed(Closed(rcvd.code if rcvd else None, rcvd.reason if rcvd else "",
                                    time.monotonic()))

    def _refused(self, exc: ConnectionClosed) -> None:
        """When websockets failed the connection on a frame (too big, not UTF-8, a protocol
        error), record it on this socket as the harness's close, not the target's."""
        cause, sent = exc.__cause__, exc.sent
        if cause is None or sent is None or isinstance(cause, EOFError):
            return  # the target closed, or dropped the connection
        kind = "frame-too-large" if isinstance(cause, PayloadTooBig) else "protocol-error"
        why = self.evidence.redactor.text_bounded(f"{type(cause).__name__}: {cause}", 300)
        self.rec.record("event", kind, why)
        self._set_closed(Closed(sent.code, why, time.monotonic(), by="harness"))

    async def send_json(self, message: Any) -> bool:
        return await self.send_raw(json.dumps(message), record=message)

    async def send_raw(self, data: str | bytes, record: Any = None) -> bool:
        """Send a frame; False (and a "send-after-close" event) when the socket was already
        closed, by either side, so that a check can require that it was open when it acted."""
        assert self.conn is not None
        self.rec.record("sent", "text" if isinstance(data, str) else "binary",
                        record if record is not None else shown(self.evidence, data))
        if self.is_closed:
            self.rec.record("event", "send-after-close")
            return False
        try:
            await self.conn.send(data)
        except ConnectionClosed:
            self.rec.record("event", "send-after-close")
            return False
        return True

    async def next_message(self, timeout: float) -> tuple[float, Any] | None:
        try:
            return await asyncio.wait_for(self.messages.get(), timeout)
        except asyncio.TimeoutError:
            return None

    async def wait_closed(self, timeout: float) -> Closed | None:
        if self.closed is None:
            return None
        try:
            with waiting(f"socket {self.name}: open or closed by the target", timeout):
                return await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        except asyncio.TimeoutError:
            return None

    @property
    def is_closed(self) -> bool:
        return self.closed is not None and self.closed.done()

    async def close(self) -> None:
        if self.conn is not None:
            try:
                await asyncio.wait_for(self.conn.close(), self.timeout)
            except (asyncio.TimeoutError, ConnectionClosed, OSError):
                pass
        for task in (self._reader, self._closing):
            if task is not None:
                task.cancel()
