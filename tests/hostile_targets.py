"""Hostile targets: loopback servers that misbehave in one named way each, for the project's tests.

They speak raw TCP (HTTP/1.1 and RFC 6455 written by hand), because HTTP and WebSocket libraries
refuse to misbehave. Each runs on 127.0.0.1 on a port of its own, one thread per connection:

    url, stop = start_hostile("slow-headers")
    try: ... finally: stop()

Every target that answers at all puts ``SECRET`` in what it sends, in several forms (plain, base64,
percent-encoded, straddling the evidence cut at 16 KiB), so a test can grep the evidence for it.
"""
from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

from tests.hostile_http import HTTP, MIB, SECRET, Peer, gzip_bomb_body
from tests.hostile_websocket import WEBSOCKET

__all__ = ["BEHAVIOURS", "HTTP", "MIB", "SECRET", "WEBSOCKET", "start_hostile"]

BEHAVIOURS = {**HTTP, **WEBSOCKET}


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
