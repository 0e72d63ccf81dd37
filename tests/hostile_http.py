"""Hostile HTTP targets: one function per misbehaviour, each given the accepted connection (a
``Peer``) and speaking HTTP/1.1 by hand. Started by tests/hostile_targets.py."""
from __future__ import annotations

import base64
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
