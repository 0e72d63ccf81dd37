"""Hostile WebSocket targets: RFC 6455 written by hand on the server side (frames unmasked),
one function per misbehaviour. Started by tests/hostile_targets.py."""
from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable

from tests.hostile_http import MIB, SECRET, Peer, _zeros_deflated

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

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
