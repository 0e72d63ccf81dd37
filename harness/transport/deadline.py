"""A total deadline on a blocking HTTP exchange, headers included.

httpx's timeouts bound each socket operation: a target that sends one header byte a second never
lets a read time out, and the exchange never ends. Async clients bound the whole exchange with
``asyncio.timeout``; a blocking client cannot be cancelled, so every socket operation it makes is
given ``min(its own timeout, time left before the deadline)`` instead: the network backend of
httpcore's pool (``network_backend``, its documented extension point) wraps each stream. Past the
deadline the next operation raises ``httpcore.ReadTimeout`` at once.

The deadline is a context variable, so one client used from several threads keeps each thread's.
"""
from __future__ import annotations

import contextlib
import functools
import ssl
import time
import typing
from collections.abc import Iterator
from contextvars import ContextVar

import httpcore
import httpx

_deadline: ContextVar[float | None] = ContextVar("harness_http_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Every socket operation of the blocking clients inside ends by now + ``seconds``."""
    at = time.monotonic() + seconds
    token = _deadline.set(at)
    try:
        yield at
    finally:
        _deadline.reset(token)


def _left(timeout: float | None) -> float | None:
    at = _deadline.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the exchange's total deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _left(timeout)))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_tcp(host, port, _left(timeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _left(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CAs, or SSL_CERT_FILE/SSL_CERT_DIR), made once per
    process: loading the CA file costs ~27 ms of CPU, and every HTTP client needed two. A context
    is safe to share between threads and connections."""
    return httpx.create_ssl_context()


def deadline_transport() -> httpx.HTTPTransport:
    """httpx's own transport (its defaults, its exception mapping) over a pool whose sockets
    honour ``deadline``."""
    transport = httpx.HTTPTransport(verify=tls_context())
    limits = httpx.Limits()
    transport._pool = httpcore.ConnectionPool(  # the one private name used; tests/test_transport_bounds.py guards it
        ssl_context=tls_context(), max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry, network_backend=_Backend())
    return transport
