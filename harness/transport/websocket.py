"""The harness WebSocket client, on `websockets`: it records every frame with monotonic timestamps
(pings, pongs and the close code included) and, per socket, answers pings normally, stays silent
or answers with the wrong data.

RFC 6455 5.5.2/5.5.3: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
response ... A Pong frame sent in response to a Ping frame must have identical Application data".
The silent and wrong modes break that on purpose, to test the server's idle disconnect.
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
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Close, Frame, Opcode

from harness.evidence import Evidence
from harness.verdicts import TargetUnreachable


class PingMode(StrEnum):
    ANSWER = "answer"
    SILENT = "silent"
    WRONG = "wrong"


@dataclass
class Closed:
    code: int | None
    reason: str
    at: float  # monotonic


@dataclass
class SocketRecorder:
    name: str
    evidence: Evidence
    ping_mode: PingMode = PingMode.ANSWER
    opened_at: float = 0.0
    pings: list[float] = field(default_factory=list)
    pongs: list[float] = field(default_factory=list)
    on_close: Callable[[Closed], None] | None = None

    def record(self, direction: str, kind: str, data: Any = None, code: int | None = None,
               reason: str | None = None, at: float | None = None) -> None:
        entry: dict[str, Any] = {"at": self.evidence.at(at), "socket": self.name,
                                 "direction": direction, "type": kind}
        if data is not None:
            entry["data"] = self.evidence.redactor.json(data)
        if code is not None or kind == "close":
            entry["code"] = code
            entry["reason"] = reason or ""
        self.evidence.frames.append(entry)


def _control_data(data: bytes | bytearray | memoryview) -> str:
    return bytes(data).hex()


class RecordingProtocol(ClientProtocol):
    recorder: SocketRecorder

    def recv_frame(self, frame: Frame) -> None:
        rec, now = self.recorder, time.monotonic()
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
        def __init__(self, protocol: ClientProtocol, **kwargs: Any) -> None:
            protocol.__class__ = RecordingProtocol
            protocol.recorder = recorder  # type: ignore[attr-defined]
            super().__init__(protocol, **kwargs)
    return RecordingConnection


class HandshakeRefused(Exception):
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        super().__init__(f"handshake refused with HTTP {status}")
        self.status, self.headers, self.body = status, headers, body


class ProgressSocket:
    """One socket of the progress API: JSON messages in a queue, the close recorded."""

    def __init__(self, name: str, evidence: Evidence, *, ping_mode: PingMode = PingMode.ANSWER,
                 timeout: float = 5.0) -> None:
        self.rec = SocketRecorder(name, evidence, ping_mode)
        self.evidence = evidence
        self.timeout = timeout
        self.conn: ClientConnection | None = None
        self.connection_id: str | None = None
        self.response_headers: dict[str, str] = {}
        self.messages: asyncio.Queue[tuple[float, Any]] = asyncio.Queue()
        self.received: list[tuple[float, Any]] = []
        self.closed: asyncio.Future[Closed] | None = None
        self._reader: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.rec.name

    async def open(self, url: str, token: str | None, *, compression: str | None = "deflate",
                   headers: dict[str, str] | None = None) -> None:
        """Open the socket; HandshakeRefused when the server answers without upgrading."""
        sent = dict(headers or {})
        if token is not None:
            self.evidence.redactor.add(token)
            sent["Authorization"] = f"Bearer {token}"
        self.rec.record("sent", "handshake", {"url": url, "headers": self.evidence.redactor.headers(sent),
                                              "compression": compression})
        try:
            self.conn = await connect(url, additional_headers=sent, compression=compression,
                                      open_timeout=self.timeout, close_timeout=1.0,
                                      ping_interval=None, max_size=2 ** 22,
                                      create_connection=_connection_class(self.rec))
        except InvalidStatus as exc:
            r = exc.response
            hdrs = dict(r.headers.raw_items())
            self.rec.record("received", "handshake", {"status": r.status_code,
                                                      "headers": self.evidence.redactor.headers(hdrs)})
            raise HandshakeRefused(r.status_code, hdrs, bytes(r.body or b"")) from exc
        except (OSError, TimeoutError, websockets.exceptions.InvalidHandshake) as exc:
            self.rec.record("event", "handshake-error", f"{type(exc).__name__}: {exc}")
            raise TargetUnreachable(f"WebSocket handshake to {url} failed: {type(exc).__name__}: {exc}") from exc
        assert self.conn.response is not None
        self.rec.opened_at = time.monotonic()
        self.response_headers = {k.lower(): v for k, v in self.conn.response.headers.raw_items()}
        self.connection_id = self.response_headers.get("connection-id")
        self.rec.record("received", "handshake", {"status": self.conn.response.status_code,
                                                  "headers": self.evidence.redactor.headers(self.response_headers)})
        self.closed = asyncio.get_running_loop().create_future()
        self.rec.on_close = self._set_closed
        self._reader = asyncio.create_task(self._read())

    def _set_closed(self, closed: Closed) -> None:
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(closed)

    async def _read(self) -> None:
        assert self.conn is not None and self.closed is not None
        try:
            async for raw in self.conn:
                now = time.monotonic()
                try:
                    message: Any = json.loads(raw)
                except ValueError:
                    message = {"unparsable": raw if isinstance(raw, str) else raw.hex()}
                self.rec.record("received", "text" if isinstance(raw, str) else "binary", message, at=now)
                self.received.append((now, message))
                await self.messages.put((now, message))
        except ConnectionClosed:
            pass
        finally:
            rcvd = self.conn.protocol.close_rcvd
            self._set_closed(Closed(rcvd.code if rcvd else None, rcvd.reason if rcvd else "",
                                    time.monotonic()))

    async def send_json(self, message: Any) -> None:
        await self.send_raw(json.dumps(message), record=message)

    async def send_raw(self, data: str | bytes, record: Any = None) -> None:
        assert self.conn is not None
        self.rec.record("sent", "text" if isinstance(data, str) else "binary",
                        record if record is not None else (data[:200] if isinstance(data, str) else data[:64].hex()))
        try:
            await self.conn.send(data)
        except ConnectionClosed:
            self.rec.record("event", "send-after-close")

    async def next_message(self, timeout: float) -> tuple[float, Any] | None:
        try:
            return await asyncio.wait_for(self.messages.get(), timeout)
        except asyncio.TimeoutError:
            return None

    async def wait_closed(self, timeout: float) -> Closed | None:
        if self.closed is None:
            return None
        try:
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
        if self._reader is not None:
            self._reader.cancel()
