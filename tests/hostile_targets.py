"""Hostile targets: loopback servers that misbehave in one named way each, for the project's tests.

They speak raw TCP (HTTP/1.1 and RFC 6455 written by hand), because HTTP and WebSocket libraries
refuse to misbehave. Each runs on 127.0.0.1 on a port of its own, one thread per connection:

    url, stop = start_hostile("slow-headers")
    try: ... finally: stop()

Every target that answers at all puts ``SECRET`` in what it sends, in several forms (plain, base64,
percent-encoded, straddling the evidence cut at 16 KiB), so a test can grep the evidence for it.
"""
from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import zlib
from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import quote

SECRET = "hostile-S3cret-t0ken-5f2e9a7c41"
CUT = 16 * 1024  # harness.evidence.MAX_BODY: a secret is placed across it
MIB = 1024 * 1024
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Peer:
    """One accepted connection: sends and reads that give up when the target is stopped."""

    def __init__(self, sock: socket.socket, stop: threading.Event, params: dict[str, Any]) -> None:
        self.sock, self.stop, self.params = sock, stop, params
        sock.settimeout(0.2)
        self.buffer = b""

    def send(self, data: bytes) -> bool:
        """All of ``data``; False once the client has gone or the target is stopped."""
        view = memoryview(data)
        while view and not self.stop.is_set():
            try:
                view = view[self.sock.send(view[:256 * 1024]):]
            except TimeoutError:
                continue
            except OSError:
                return False
        return not view

    def _fill(self) -> bool:
        """One read into the buffer; False when the client closed or the target is stopped."""
        while not self.stop.is_set():
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return False
            self.buffer += chunk
            return bool(chunk)
        return False

    def read(self, n: int) -> bytes | None:
        """Exactly ``n`` bytes, or None."""
        while len(self.buffer) < n:
            if not self._fill():
                return None
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_head(self) -> bytes | None:
        """A request's line and headers (up to the blank line), or None."""
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > 64 * 1024 or not self._fill():
                return None
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        return head

    def idle(self) -> None:
        """Read and discard until the client closes or the target is stopped."""
        while self._fill():
            self.buffer = b""

    def pause(self, seconds: float) -> bool:
        return not self.stop.wait(seconds)


# -- HTTP -------------------------------------------------------------------------------------

def _response(status: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    if "Content-Length" not in (headers or {}) and "Transfer-Encoding" not in (headers or {}):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def secret_text(total: int) -> bytes:
    """``total`` bytes of text with SECRET plain, base64, percent-encoded and across CUT."""
    forms = (f"token {SECRET} base64 {base64.b64encode(SECRET.encode()).decode()} "
             f"url {quote(SECRET, safe='')} Authorization: Bearer {SECRET} ")
    head = forms.ljust(CUT - len(SECRET) // 2, "a") + SECRET + " "
    return (head + "x" * max(0, total - len(head))).encode()


def _answer(peer: Peer, status: str, body: bytes, headers: dict[str, str] | None = None) -> None:
    if peer.read_head() is not None and peer.send(_response(status, body, headers)):
        peer.idle()


def never_answers(peer: Peer) -> None:
    peer.idle()


def slow_headers(peer: Peer) -> None:
    """A status line, then header bytes one per ``interval`` (1 s), never the blank line."""
    if peer.read_head() is None or not peer.send(b"HTTP/1.1 200 OK\r\nX-Slow: "):
        return
    while peer.pause(float(peer.params.get("interval", 1.0))) and peer.send(b"a"):
        pass


def trickle(peer: Peer) -> None:
    """Headers at once, then a 100 000-byte body one byte per 0.2 s."""
    if peer.read_head() is None or not peer.send(_response("200 OK", headers={"Content-Length": "100000"})):
        return
    while peer.pause(0.2) and peer.send(b"x"):
        pass


def late_answer(peer: Peer) -> None:
    """A correct JSON answer, ``delay`` (4.5 s) late."""
    if peer.read_head() is not None and peer.pause(float(peer.params.get("delay", 4.5))):
        if peer.send(_response("200 OK", b'{"ok": true}', {"Content-Type": "application/json"})):
            peer.idle()


def endless_body(peer: Peer) -> None:
    if peer.read_head() is None or not peer.send(_response("200 OK", headers={"Transfer-Encoding": "chunked"})):
        return
    chunk = b"%x\r\n" % (64 * 1024) + secret_text(64 * 1024)[-64 * 1024:] + b"\r\n"
    while peer.send(chunk):
        pass


def _long_body(peer: Peer, size: int, block: bytes, headers: dict[str, str]) -> None:
    if peer.read_head() is None or not peer.send(_response("200 OK", headers={"Content-Length": str(size), **headers})):
        return
    sent = 0
    while sent < size and peer.send(block[:size - sent]):
        sent += len(block)


def huge_body(peer: Peer) -> None:
    """50 MB of text (with the secret in its first 16 KiB)."""
    if peer.read_head() is None:
        return
    first = secret_text(64 * 1024)
    size = 50 * 1000 * 1000
    if peer.send(_response("200 OK", headers={"Content-Length": str(size), "Content-Type": "text/plain"}) + first):
        sent, block = len(first), b"y" * (256 * 1024)
        while sent < size and peer.send(block[:size - sent]):
            sent += len(block)


def nul_token(peer: Peer) -> None:
    """A 1 GB body of NUL bytes where a token is expected."""
    _long_body(peer, 1000 * MIB, b"\0" * (256 * 1024), {"Content-Type": "text/plain"})


@cache
def _zeros_deflated() -> bytes:
    """Raw deflate of 1 MiB of zeros, ending in a full flush: repeated N times it is the deflate
    stream of N MiB of zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(b"\0" * MIB) + compressor.flush(zlib.Z_FULL_FLUSH)


@cache
def gzip_bomb_body(mib: int = 1024) -> bytes:
    """About 1 KB of gzip per MiB of zeros it decodes to: 1 GiB by default (RFC 1952, one member)."""
    crc, zeros = 0, b"\0" * MIB
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    block = _zeros_deflated()
    trailer = crc.to_bytes(4, "little") + (mib * MIB % 2 ** 32).to_bytes(4, "little")
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + block * mib + b"\x03\x00" + trailer


def gzip_bomb(peer: Peer) -> None:
    """A gzip body that decodes to ``mib`` (1024) MiB."""
    _answer(peer, "200 OK", gzip_bomb_body(int(peer.params.get("mib", 1024))),
            {"Content-Encoding": "gzip", "Content-Type": "application/json"})


def word_1mb(peer: Peer) -> None:
    """A text body: the secret in every form, then one word of 1 MB (word characters only)."""
    _answer(peer, "200 OK", secret_text(CUT + 64) + b" " + b"w" * MIB + b"\n", {"Content-Type": "text/plain"})


def nan_json(peer: Peer) -> None:
    body = ('{"batchId": NaN, "events": [], "score": Infinity, "low": -Infinity, "big": 1e999, '
            f'"token": "{SECRET}", "note": "Bearer {SECRET}"}}').encode()
    _answer(peer, "200 OK", body, {"Content-Type": "application/json"})


def junk_json(peer: Peer) -> None:
    body = b'{"events": [' + bytes(range(256)) + SECRET.encode() + b"\xff\xfe" + b"[" * 100000
    _answer(peer, "200 OK", body, {"Content-Type": "application/json"})


def wrong_content_type(peer: Peer) -> None:
    _answer(peer, "200 OK", json.dumps({"batchId": "b1", "events": [], "token": SECRET}).encode(),
            {"Content-Type": "text/html; charset=utf-8"})


def reset(peer: Peer) -> None:
    """Read the request, then abort the connection (RST)."""
    if peer.read_head() is not None:
        peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        peer.sock.close()


def redirect_loop(peer: Peer) -> None:
    head = peer.read_head()
    while head is not None:
        path = head.split(b" ")[1].decode() if head.count(b" ") >= 2 else "/"
        if not peer.send(_response("302 Found", headers={"Location": path, "X-Token": SECRET})):
            return
        head = peer.read_head()


def huge_headers(peer: Peer) -> None:
    """A status line and then 10 MB of headers (the secret in the first)."""
    if peer.read_head() is None or not peer.send(f"HTTP/1.1 200 OK\r\nX-Echo: Bearer {SECRET}\r\n".encode()):
        return
    line = b"X-Pad: " + b"p" * 1000 + b"\r\n"
    for _ in range(10 * 1000):
        if not peer.send(line):
            return
    peer.send(b"Content-Length: 0\r\n\r\n")
    peer.idle()


def secret_echo(peer: Peer) -> None:
    """A correct answer that echoes the secret in headers, JSON and text."""
    body = json.dumps({"access_token": SECRET, "echo": f"Authorization: Bearer {SECRET}",
                       "url": f"https://user:{SECRET}@example.test/x?token={SECRET}"}).encode()
    _answer(peer, "201 Created", body, {"Content-Type": "application/json", "X-Echo": SECRET,
                                         "Set-Cookie": f"session={SECRET}"})


HTTP: dict[str, Callable[[Peer], None]] = {
    "never-answers": never_answers, "slow-headers": slow_headers, "trickle": trickle,
    "late-answer": late_answer, "endless-body": endless_body, "huge-body": huge_body,
    "nul-token": nul_token, "gzip-bomb": gzip_bomb, "word-1mb": word_1mb, "nan-json": nan_json,
    "junk-json": junk_json, "wrong-content-type": wrong_content_type, "reset": reset,
    "redirect-loop": redirect_loop, "huge-headers": huge_headers, "secret-echo": secret_echo,
}


# -- WebSocket (RFC 6455, server side, frames unmasked) ---------------------------------------

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def frame(opcode: int, payload: bytes, *, rsv1: bool = False, length: int | None = None) -> bytes:
    """One final frame; ``length`` declares another payload length than the one sent."""
    n = len(payload) if length is None else length
    first = bytes([0x80 | (0x40 if rsv1 else 0) | opcode])
    if n < 126:
        size = bytes([n])
    elif n < 65536:
        size = bytes([126]) + n.to_bytes(2, "big")
    else:
        size = bytes([127]) + n.to_bytes(8, "big")
    return first + size + payload


def read_frame(peer: Peer) -> tuple[int, bytes] | None:
    """One (masked) frame from the client: (opcode, payload), or None when it is gone."""
    head = peer.read(2)
    if head is None:
        return None
    n = head[1] & 0x7F
    extra = peer.read({126: 2, 127: 8}.get(n, 0)) or b""
    n = int.from_bytes(extra, "big") if extra else n
    mask = peer.read(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = peer.read(n) if n else b""
    if mask is None or data is None:
        return None
    return head[0] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def handshake(peer: Peer, *, deflate: bool = False) -> bool:
    """Read the client's upgrade request and accept it (with permessage-deflate if asked)."""
    head = peer.read_head()
    if head is None:
        return False
    fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
    headers = {k.strip().lower().decode(): v.strip().decode() for k, v in fields.items()}
    accept = base64.b64encode(hashlib.sha1((headers.get("sec-websocket-key", "") + WS_GUID).encode()).digest())
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Accept: {accept.decode()}", f"X-Echo: Bearer {SECRET}"]
    if deflate and "permessage-deflate" in headers.get("sec-websocket-extensions", ""):
        lines.append("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover")
    return peer.send(("\r\n".join(lines) + "\r\n\r\n").encode())


def _flood(peer: Peer, batch: bytes) -> None:
    if handshake(peer):
        while peer.send(batch):
            pass


def ws_frame_flood(peer: Peer) -> None:
    message = json.dumps({"messageType": "PROGRESS", "messagePayload": {"token": SECRET}}).encode()
    _flood(peer, frame(TEXT, message) * 1000)


def ws_ping_flood(peer: Peer) -> None:
    _flood(peer, frame(PING, SECRET.encode()[:16]) * 4000)


def ws_huge_frame(peer: Peer) -> None:
    """A text frame that declares 1 GiB, and sends it."""
    if handshake(peer) and peer.send(frame(TEXT, b"", length=1024 * MIB)):
        block = b"h" * (256 * 1024)
        while peer.send(block):
            pass


def ws_deflate_bomb(peer: Peer) -> None:
    """One compressed message of about 1 MB that inflates to 1 GiB (RFC 7692 7.2.1: the final
    00 00 ff ff of the deflate stream is left out)."""
    if handshake(peer, deflate=True):
        if peer.send(frame(TEXT, (_zeros_deflated() * 1024)[:-4], rsv1=True)):
            peer.idle()


def ws_invalid_frame(peer: Peer) -> None:
    """A text frame that is not UTF-8 (with the secret in it), then a reserved opcode."""
    if handshake(peer) and peer.send(frame(TEXT, SECRET.encode() + b"\xff\xfe\xc0") + frame(0x3, b"x")):
        peer.idle()


def ws_binary(peer: Peer) -> None:
    """Binary frames: bytes that are not text, the secret among them."""
    if handshake(peer):
        data = bytes(range(256)) * 64 + SECRET.encode() + bytes(range(255, -1, -1)) * 64
        for _ in range(50):
            if not peer.send(frame(BINARY, data)):
                return
        peer.idle()


def ws_word_1mb(peer: Peer) -> None:
    """``count`` (1) text frames of a single 1 MB word after the secret."""
    if handshake(peer):
        data = frame(TEXT, f"Bearer {SECRET} ".encode() + b"w" * MIB)
        for _ in range(int(peer.params.get("count", 1))):
            if not peer.send(data):
                return
        peer.idle()


def ws_close_1011(peer: Peer) -> None:
    """Accept, then close at once with 1011 (internal error)."""
    if handshake(peer) and peer.send(frame(CLOSE, (1011).to_bytes(2, "big") + b"internal error")):
        read_frame(peer)


def ws_never_closes(peer: Peer) -> None:
    """Accept, then ignore everything, Close frames included, and keep the connection open."""
    if handshake(peer):
        peer.idle()


def ws_quiet(peer: Peer) -> None:
    """A well-behaved idle endpoint: answers pings and the closing handshake, sends nothing."""
    if not handshake(peer):
        return
    while (got := read_frame(peer)) is not None:
        opcode, data = got
        if opcode == PING:
            peer.send(frame(PONG, data))
        elif opcode == CLOSE:
            peer.send(frame(CLOSE, data[:2]))
            return


WEBSOCKET: dict[str, Callable[[Peer], None]] = {
    "ws-frame-flood": ws_frame_flood, "ws-ping-flood": ws_ping_flood, "ws-huge-frame": ws_huge_frame,
    "ws-deflate-bomb": ws_deflate_bomb, "ws-invalid-frame": ws_invalid_frame, "ws-binary": ws_binary,
    "ws-word-1mb": ws_word_1mb, "ws-close-1011": ws_close_1011, "ws-never-closes": ws_never_closes,
    "ws-quiet": ws_quiet,
}
BEHAVIOURS = {**HTTP, **WEBSOCKET}


# -- the server -------------------------------------------------------------------------------

def start_hostile(name: str, **params: Any) -> tuple[str, Callable[[], None]]:
    """Start the named hostile target on 127.0.0.1:0: (its base URL, a function that stops it).

    ``params`` tune a behaviour (``interval`` of slow-headers, ``delay`` of late-answer)."""
    behaviour = BEHAVIOURS[name]
    if name == "gzip-bomb":
        gzip_bomb_body(int(params.get("mib", 1024)))  # built once, before any client is timed
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.1)
    stop = threading.Event()
    peers: list[socket.socket] = []

    def serve(conn: socket.socket) -> None:
        try:
            behaviour(Peer(conn, stop, params))
        finally:
            conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            peers.append(conn)
            threading.Thread(target=serve, args=(conn,), name=f"hostile-{name}", daemon=True).start()

    thread = threading.Thread(target=accept, name=f"hostile-{name}-accept", daemon=True)
    thread.start()

    def stop_target() -> None:
        stop.set()
        thread.join(2)
        server.close()
        for conn in peers:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    scheme = "ws" if name in WEBSOCKET else "http"
    return f"{scheme}://127.0.0.1:{server.getsockname()[1]}", stop_target
