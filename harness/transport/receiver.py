"""The harness receiver: an HTTP server the target calls back (callbacks, webhooks).

One receiver runs for the length of a run, in a thread of its own with its own event loop. Each
scenario takes an :class:`Inbox`: a path under the receiver's public URL that ends in an
unguessable token, so concurrent scenarios, late retries and replayed deliveries never mix. Every
request to an inbox (any method, any sub-path below the token) is a :class:`Delivery`, recorded
with its headers as received and answered as the scenario scripted (:class:`Answer`), else 200.
A request to any other path is answered 404 and kept as a stray.

The inbox token is a capability: whoever knows the URL can post to the inbox. The receiver does
not register it with any redactor; an executor that hands ``inbox.url`` to a target registers the
token (``evidence.redactor.add(inbox.token)``) so that reports never carry it.

Bounds: bodies are kept up to ``max_body`` bytes (the rest is read and discarded up to 8 MiB, past
which the connection is closed); each inbox keeps ``max_deliveries`` deliveries and counts the
rest; strays are the last 200; a request whose body is not complete within ``read_timeout``
seconds, and a connection that sends no complete request for as long, are closed. At worst an
inbox holds max_deliveries x max_body bytes (64 MiB with the defaults) until it is dropped.

Behind a proxy, ``public_url`` is what targets are given; a request reaches its inbox whether the
proxy passes the public URL's path prefix through or strips it.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from harness.evidence import Redactor
from harness.progress import waiting
from harness.transport.serving import ServedThread, serve_in_thread

__all__ = ["Answer", "Delivery", "Inbox", "Receiver"]

HARD_CAP = 8 * 1024 * 1024  # body bytes read (and discarded) before the connection is closed
MAX_STRAYS = 200
RECHECK = 0.05  # a waiting scenario is woken by each delivery, and looks again this often anyway


@dataclass(frozen=True)
class Answer:
    """How the receiver answers one delivery.

    ``delay`` longer than the target's own timeout makes a timeout; ``close`` drops the connection
    (after the delay) without any answer; ``headers`` are sent with the answer (e.g. Retry-After).
    """

    status: int = 200
    delay: float = 0.0
    close: bool = False
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not 200 <= self.status <= 599:
            raise ValueError(f"an answer's status must be 200..599, not {self.status}")
        if self.delay < 0:
            raise ValueError(f"an answer's delay must be >= 0, not {self.delay}")

    def describe(self) -> str:
        """As recorded in a delivery: "200", "503", "408 after 1.5s", "closed"."""
        what = "closed" if self.close else str(self.status)
        return f"{what} after {self.delay:g}s" if self.delay else what


def failure(kind: str, timeout: float, location: str | None = None) -> Answer:
    """How the receiver fails one delivery: ``timeout`` (answer after twice the target's delivery
    timeout), ``close`` (no answer), ``redirect`` (302 to ``location``) or an HTTP status."""
    if kind == "timeout":
        return Answer(status=200, delay=timeout * 2 + 0.5)
    if kind == "close":
        return Answer(close=True)
    if kind == "redirect":
        return Answer(status=302, headers=(("Location", location or "/"),))
    return Answer(status=int(kind))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


@dataclass(frozen=True)
class Delivery:
    """One request received by an inbox (or a stray)."""

    at: float  # time.monotonic() when the request line and headers had arrived
    method: str
    path: str  # below the inbox token: "" or "/progress"; a stray's whole path
    query: str
    headers: tuple[tuple[str, str], ...]  # as received: original case and order (latin-1)
    body: bytes  # at most the receiver's max_body bytes
    size: int  # body bytes read (reading stops past the receiver's hard cap)
    truncated: bool  # body is not the whole body: over max_body, or not received in full
    answer: str  # how it was (or, when delayed, will be) answered: "200", "closed: ..."

    def json(self) -> Any:
        """The body as strict JSON (UTF-8, no NaN or Infinity); ValueError when it is not."""
        if self.truncated:
            raise ValueError(f"body truncated ({self.size} bytes received, {len(self.body)} kept)")
        return json.loads(self.body.decode("utf-8"), parse_constant=_no_constant)

    def header(self, name: str) -> str | None:
        """The first value of a header, whatever the case of its name."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def as_evidence(self, redactor: Redactor, since: float) -> dict[str, Any]:
        """For a scenario's evidence: ``at`` in seconds since ``since`` (monotonic), sensitive
        headers and every known secret redacted, the body parsed and bounded by the redactor."""
        out: dict[str, Any] = {
            "at": round(self.at - since, 6), "method": self.method, "path": redactor.text(self.path),
            "headers": redactor.headers(list(self.headers)),
            "body": redactor.body(self.body, self.header("content-type") or ""),
            "size": self.size, "truncated": self.truncated, "answer": self.answer,
        }
        if self.query:
            out["query"] = redactor.text(self.query)
        return out


UNKNOWN = Answer(404, body=b"unknown path\n")


class Inbox:
    """The deliveries to one unguessable path, and the answers scripted for them."""

    def __init__(self, receiver: Receiver, token: str, label: str) -> None:
        self.token, self.label = token, label
        self.url = f"{receiver.base_url}/{token}"
        self.overflow = 0  # deliveries past max_deliveries: answered, counted, not kept
        self._receiver = receiver
        self._max = receiver.max_deliveries
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._scripts: dict[str | None, deque[Answer]] = {}
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def __repr__(self) -> str:
        return f"<Inbox {self.label!r}: {len(self._deliveries)} deliveries>"

    def deliveries(self, path: str | None = None) -> list[Delivery]:
        """A snapshot, in arrival order; only those to ``path`` (exact) when given."""
        with self._lock:
            return [d for d in self._deliveries if path is None or d.path == path]

    def script(self, answers: Sequence[Answer], path: str | None = None) -> None:
        """Answer the next deliveries (to ``path``, or to any path) with ``answers`` in order,
        after any answers scripted before; then 200. A path's own script goes first."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(answers)

    async def expect(self, count: int, within: float, path: str | None = None) -> list[Delivery]:
        """All deliveries (to ``path``) as soon as there are ``count`` of them, else what arrived
        when ``within`` seconds have passed; never later."""
        plural = "delivery" if count == 1 else "deliveries"
        with waiting(f"{count} {plural} at {self.label or 'the inbox'}{path or ''}", within):
            return await self._expect(count, within, path)

    async def _expect(self, count: int, within: float, path: str | None) -> list[Delivery]:
        deadline = time.monotonic() + within
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(waiter)
        try:
            while True:
                waiter[1].clear()  # before looking: a delivery recorded after this wakes us
                got = self.deliveries(path)
                left = deadline - time.monotonic()
                if len(got) >= count or left <= 0:
                    return got
                try:
                    await asyncio.wait_for(waiter[1].wait(), min(left, RECHECK))
                except asyncio.TimeoutError:
                    pass
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    async def quiet(self, during: float, path: str | None = None) -> list[Delivery]:
        """Wait ``during`` seconds; the deliveries (to ``path``) that arrived meanwhile."""
        start = time.monotonic()
        with waiting(f"no delivery expected at {self.label or 'the inbox'}{path or ''}", during):
            await asyncio.sleep(during)
        end = time.monotonic()
        return [d for d in self.deliveries(path) if start <= d.at < end]

    def close(self) -> None:
        """Unregister: later deliveries to this inbox are answered 404 and kept as strays."""
        self._receiver._forget(self.token)

    # -- called on the receiver's loop ------------------------------------------------------------

    def _next_answer(self, path: str) -> Answer:
        with self._lock:
            for key in (path, None):
                queue = self._scripts.get(key)
                if queue:
                    return queue.popleft()
        return Answer()

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            if len(self._deliveries) >= self._max:
                self.overflow += 1
                return
            at = delivery.at  # arrival order, though a long body may finish after a short one
            i = len(self._deliveries)
            while i and self._deliveries[i - 1].at > at:
                i -= 1
            self._deliveries.insert(i, delivery)
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that scenario's loop is closed
                pass


def _parse_bind(bind: str) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"receiver bind address must be host:port, not {bind!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class Receiver:
    """The HTTP server targets call back; ``start()`` before use, ``stop()`` at the end."""

    def __init__(self, bind: str = "127.0.0.1:0", public_url: str | None = None, *,
                 max_body: int = 64 * 1024, max_deliveries: int = 1000,
                 read_timeout: float = 10.0) -> None:
        self.host, self.port = _parse_bind(bind)
        self.bind = bind
        self.public_url = public_url.rstrip("/") if public_url else None
        self.max_body, self.max_deliveries, self.read_timeout = max_body, max_deliveries, read_timeout
        self.stray_count = 0
        self._prefix = urlsplit(self.public_url).path if self.public_url else ""
        self._served: ServedThread | None = None
        self._lock = threading.Lock()
        self._inboxes: dict[str, Inbox] = {}
        self._closed: set[str] = set()
        self._strays: deque[Delivery] = deque(maxlen=MAX_STRAYS)

    def start(self) -> None:
        """Bind the socket and serve; OSError (with the address) when it cannot listen."""
        if self._served is not None:
            return
        try:
            self._served = serve_in_thread(self._handle, self.host, self.port,
                                           idle_timeout=self.read_timeout, name="harness-receiver")
        except OSError as exc:
            raise OSError(exc.errno, f"the receiver cannot listen on {self.bind}: "
                                     f"{exc.strerror or exc}") from exc

    def stop(self) -> None:
        served, self._served = self._served, None
        if served is not None:
            served.stop()

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url
        if self._served is None:
            raise RuntimeError("the receiver is not started and has no public_url")
        return self._served.url

    def inbox(self, label: str = "") -> Inbox:
        """A new inbox at an unguessable path under ``base_url``."""
        inbox = Inbox(self, secrets.token_urlsafe(18), label)
        with self._lock:
            self._inboxes[inbox.token] = inbox
        return inbox

    def strays(self) -> list[Delivery]:
        """The last deliveries to unknown or closed inboxes (each answered 404)."""
        with self._lock:
            return list(self._strays)

    def _forget(self, token: str) -> None:
        with self._lock:
            if self._inboxes.pop(token, None) is not None:
                self._closed.add(token)

    # -- serving ----------------------------------------------------------------------------------

    def _route(self, raw_path: str) -> tuple[Inbox | None, str, str]:
        """(inbox, path below its token, why it is a stray)."""
        path = raw_path
        if self._prefix and (path == self._prefix or path.startswith(self._prefix + "/")):
            path = path[len(self._prefix):]  # a proxy may pass the public prefix through, or not
        token, slash, rest = path.lstrip("/").partition("/")
        with self._lock:
            inbox = self._inboxes.get(token)
            if inbox is not None:
                return inbox, slash + rest, ""
            return None, raw_path, "closed inbox" if token in self._closed else "unknown path"

    async def _read_body(self, request: web.BaseRequest, deadline: float) -> tuple[bytes, int, str]:
        """(the first max_body+1 bytes, bytes read, why the connection must close or "")."""
        kept, size = bytearray(), 0
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                while chunk := await request.content.readany():
                    size += len(chunk)
                    if len(kept) <= self.max_body:
                        kept += chunk[: self.max_body + 1 - len(kept)]
                    if size > HARD_CAP:
                        return bytes(kept), size, f"body over {HARD_CAP} bytes"
        except TimeoutError:
            return bytes(kept), size, f"body not complete within {self.read_timeout:g}s"
        except Exception as exc:  # the sender vanished or broke its framing mid-body
            return bytes(kept), size, f"body unreadable ({type(exc).__name__})"
        return bytes(kept), size, ""

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        at = time.monotonic()
        inbox, path, stray = self._route(request.rel_url.raw_path)
        if inbox is not None and request.version >= (1, 1) \
                and request.headers.get("Expect", "").lower() == "100-continue":
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body, size, broken = await self._read_body(request, at + self.read_timeout)
        if broken:
            answer, said = Answer(close=True), f"closed: {broken}"
        elif inbox is None:
            answer, said = UNKNOWN, f"404 {stray}"
        else:
            answer = inbox._next_answer(path)
            said = answer.describe()
        delivery = Delivery(
            at=at, method=request.method, path=path, query=request.rel_url.raw_query_string,
            headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers),
            body=body[: self.max_body], size=size, truncated=bool(broken) or len(body) > self.max_body,
            answer=said)
        if inbox is None:
            with self._lock:
                self._strays.append(delivery)
                self.stray_count += 1
        else:
            inbox._record(delivery)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.close:
            request.protocol.force_close()  # aiohttp then finds no transport and writes nothing
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)
