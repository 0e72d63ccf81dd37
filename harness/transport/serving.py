"""Serve a low-level aiohttp server from a daemon thread with its own event loop.

The harness owns servers that targets call (the receiver): they must keep answering while each
scenario runs under its own ``asyncio.run`` in another thread. The reference server has its own
copy of this idea; the harness never imports the reference server.

A connection may stay silent, or trickle its request line and headers (slowloris), for at most
``idle_timeout`` seconds: aiohttp's keep-alive timer closes kept-alive connections, and a sweep
closes new connections (aiohttp before 3.14 starts no timer until a first request is complete).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class _IdleSweep:
    """Closes connections that sent no complete request within ``idle_timeout`` of being opened.

    Once a connection has carried a request, aiohttp's own keep-alive timer (set to the same
    timeout) closes it when it idles or trickles the next request; this sweep never touches it,
    so it cannot race a request that has been parsed and not yet handed to the handler."""

    def __init__(self, idle_timeout: float) -> None:
        self.idle_timeout = idle_timeout
        self._opened: dict[RequestHandler, float] = {}  # connections yet to carry a request
        self._used: set[RequestHandler] = set()

    def wrap(self, handler: Handler) -> Handler:
        async def tracked(request: web.BaseRequest) -> web.StreamResponse:
            self._used.add(request.protocol)
            self._opened.pop(request.protocol, None)
            return await handler(request)
        return tracked

    def sweep(self, connections: list[RequestHandler]) -> None:
        now, live = time.monotonic(), set(connections)
        self._used &= live
        for conn in [c for c in self._opened if c not in live]:
            del self._opened[conn]
        for conn in live - self._used:
            if now - self._opened.setdefault(conn, now) > self.idle_timeout:
                conn.force_close()
                del self._opened[conn]

    async def run(self, server: web.Server) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.idle_timeout / 4))
            self.sweep(server.connections)


class ServedThread:
    """A running server: ``host``/``port`` of the bound socket, ``stop()`` to shut it down."""

    def __init__(self, host: str, port: int, loop: asyncio.AbstractEventLoop,
                 runner: web.BaseRunner, thread: threading.Thread) -> None:
        self.host, self.port = host, port
        self._loop, self._runner, self._thread = loop, runner, thread

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        async def shutdown() -> None:
            await self._runner.cleanup()
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in rest:  # the idle sweep, answers still waiting out their delay
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        if not self._thread.is_alive():
            return
        fut = asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        try:
            fut.result(timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)


def serve_in_thread(handler: Handler, host: str, port: int, *, idle_timeout: float,
                    name: str, backlog: int = 1024, boot_timeout: float = 10.0,
                    **server_kwargs: Any) -> ServedThread:
    """Serve ``handler`` for every request on ``host:port`` (0: a free port) from a daemon thread.

    Errors while binding (the port is taken, the address is not local) reach the caller as the
    original OSError."""
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[tuple[web.BaseRunner, int]] = concurrent.futures.Future()
    sweep = _IdleSweep(idle_timeout)

    async def boot() -> None:
        try:
            kwargs = {"keepalive_timeout": idle_timeout, **server_kwargs}
            server = web.Server(sweep.wrap(handler), **kwargs)
            runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=1.0)
            await runner.setup()
            try:
                await web.TCPSite(runner, host, port, backlog=backlog).start()
            except BaseException:
                await runner.cleanup()
                raise
            bound = int(runner.addresses[0][1])
        except BaseException as exc:  # surface boot errors to the caller, not a timeout
            ready.set_exception(exc)
            return
        loop.create_task(sweep.run(server))
        ready.set_result((runner, bound))

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.create_task(boot())
        loop.run_forever()
        loop.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        runner, bound = ready.result(boot_timeout)
    except concurrent.futures.TimeoutError as exc:
        raise RuntimeError(f"{name} did not start within {boot_timeout:g}s") from exc
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(boot_timeout)
        raise
    return ServedThread(host, bound, loop, runner, thread)
