"""How the reference server meets the network: its runner, the open-file limit, slow headers, and
the errors aiohttp answers before any route or middleware sees the request.

- ``raise_open_file_limit`` lifts the soft RLIMIT_NOFILE to the hard one: a 1024 soft limit is
  used up by ~1000 idle clients, and then nobody can connect.
- A connection that has not sent complete request headers within ``Limits.header_timeout`` is
  closed (aiohttp's keep-alive timer, which also ends idle keep-alive connections).
- ``AcceptStormFilter`` reports "socket.accept() out of system resource" once per interval with a
  count, instead of one traceback per failed accept.
- Malformed HTTP (a broken request line or header) gets a problem document that quotes none of
  the request, and one log line.
"""
from __future__ import annotations

import logging
import resource
import threading
import time
from typing import Any

from aiohttp import web

from reference_server.config import Limits
from reference_server.problems import framework_problem

logger = logging.getLogger("reference_server")
ACCEPT_STORM_INTERVAL = 30.0


def raise_open_file_limit() -> int:
    """Set the soft RLIMIT_NOFILE to the hard limit; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == soft:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:  # e.g. an unlimited hard limit the kernel caps lower
        logger.warning("could not raise the open-file limit from %d: %s", soft, exc)
        return soft
    return hard


class AcceptStormFilter(logging.Filter):
    """On the ``asyncio`` logger: one accept-error record per ``interval``, with a count."""

    MESSAGE = "socket.accept() out of system resource"

    def __init__(self, interval: float = ACCEPT_STORM_INTERVAL) -> None:
        super().__init__()
        self.interval = interval
        self._lock = threading.Lock()
        self._next = 0.0
        self._suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.MESSAGE):
            return True
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                self._suppressed += 1
                return False
            self._next = now + self.interval
            suppressed, self._suppressed = self._suppressed, 0
        error = record.exc_info[1] if record.exc_info else None
        record.msg = ("%s (%s); %d more since the last report; the next report in %.0f s at the "
                      "earliest")
        record.args = (self.MESSAGE, error, suppressed, self.interval)
        record.exc_info = record.exc_text = None
        return True


def quiet_accept_storms() -> None:
    """Install one AcceptStormFilter on the ``asyncio`` logger (idempotent)."""
    target = logging.getLogger("asyncio")
    if not any(isinstance(f, AcceptStormFilter) for f in target.filters):
        target.addFilter(AcceptStormFilter())


class _ProblemRequestHandler(web.RequestHandler):
    """aiohttp's per-connection protocol, answering the errors it raises itself as problems."""

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if status >= 500:
            self.logger.error("error handling request from %s", request.remote, exc_info=exc)
        else:  # a malformed request: one line, no request bytes, no traceback
            reason = (message or str(exc or "")).strip().split("\n", 1)[0][:80]
            self.logger.warning("malformed request from %s: %s %s", request.remote,
                                type(exc).__name__ if exc else status, reason)
        if request.writer.output_size > 0:
            raise ConnectionError("a response was partly sent; cannot send an error now")
        response = framework_problem(status)
        response.force_close()
        return response


class _ProblemServer(web.Server):
    def __call__(self) -> web.RequestHandler:
        return _ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class ServerRunner(web.AppRunner):
    """An AppRunner whose connections answer malformed HTTP with problem documents."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # aiohttp builds the Server (after the app's startup); only its protocol factory changes
        server.__class__ = _ProblemServer
        return server


def runner_for(app: web.Application, limits: Limits | None, **kwargs: Any) -> ServerRunner:
    """The runner for ``app``; ``limits`` (when given) sets the slow-header timeout."""
    if limits is not None:
        kwargs.setdefault("keepalive_timeout", limits.header_timeout)
    kwargs.setdefault("shutdown_timeout", 1.0)
    return ServerRunner(app, **kwargs)
