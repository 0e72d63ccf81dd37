"""A feed client for executors: next, complete, discardAll, emit through the control hook, drain.

Setup steps (emit, empty a feed) raise SetupFailed: a scenario whose setup failed is an ERROR.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from harness.runner import Context
from harness.transport.http import DEFAULT, HttpClient, json_body
from harness.verdicts import SetupFailed

MARK_KEY = "conformanceMark"
EVENT_TYPE = "conformance:emitted"


@dataclass(frozen=True)
class Batch:
    batch_id: str
    notifications: list[dict[str, Any]]
    more_available: Any
    raw: Any

    @property
    def marks(self) -> list[str | None]:
        return [mark_of(n) for n in self.notifications]


def mark_of(notification: Any) -> str | None:
    payload = notification.get("payload") if isinstance(notification, dict) else None
    return payload.get(MARK_KEY) if isinstance(payload, dict) else None


def check_head(ctx: Context, name: str, expected: list[str], batch: Batch, message: str) -> bool:
    """The batch holds the oldest of ``expected``, in order: a non-empty prefix (seed 002: "a batch
    can contain between 1... to ... 10 Events", so it need not hold them all). Unmarked (foreign)
    events are ignored."""
    ours = [m for m in batch.marks if m is not None]
    return ctx.check(name, bool(ours) and ours == expected[:len(ours)], message,
                     expected=f"a non-empty prefix of {expected}", observed=batch.marks)


def parse_batch(response: httpx.Response) -> Batch | None:
    """The batch of a 200 answer, or None if the body is not a batch object at all."""
    body = json_body(response)
    if not isinstance(body, dict) or not isinstance(body.get("notifications"), list):
        return None
    return Batch(str(body.get("batchId")), body["notifications"], body.get("moreAvailable"), body)


class FeedClient:
    def __init__(self, ctx: Context, tenant: str | None = None, http: HttpClient | None = None) -> None:
        self.ctx = ctx
        self.http = http or ctx.http()
        self.base = ctx.target.base_url + ctx.option("base_path")
        tenants = ctx.target.tenants
        self.tenant = tenant if tenant is not None else (tenants[0] if tenants else None)
        self.headers = {ctx.option("tenant_header"): self.tenant} if self.tenant else {}

    def url(self, feed: str, *parts: str) -> str:
        return "/".join([self.base, quote(feed, safe="")] + [quote(p, safe="") for p in parts])

    def next(self, feed: str, bearer: Any = DEFAULT) -> httpx.Response:
        return self.http.request("GET", self.url(feed, "next"), headers=self.headers, bearer=bearer)

    def complete(self, feed: str, batch_id: str, bearer: Any = DEFAULT) -> httpx.Response:
        return self.http.request("POST", self.url(feed, batch_id, "complete"), headers=self.headers,
                                 bearer=bearer)

    def discard_all(self, feed: str, bearer: Any = DEFAULT) -> httpx.Response:
        return self.http.request("PUT", self.url(feed, "discardAll"), headers=self.headers, bearer=bearer)

    # -- setup steps ------------------------------------------------------------------------
    def emit(self, feed: str, count: int) -> list[str]:
        """Emit ``count`` marked events through the control hook; their marks in emission order."""
        control = self.ctx.target.control_url
        if not control:
            raise SetupFailed("emitting events needs the control hook (--control URL)")
        marks = [self.ctx.marker() for _ in range(count)]
        body: dict[str, Any] = {"events": [{"eventType": EVENT_TYPE, "payload": {MARK_KEY: m, "seq": i}}
                                           for i, m in enumerate(marks)]}
        if self.tenant:
            body["tenantId"] = self.tenant
        r = self.http.request("POST", f"{control}/feeds/{quote(feed, safe='')}/events", json=body)
        ids = (json_body(r) or {}).get("ids") if r.status_code == 201 else None
        if r.status_code != 201 or not isinstance(ids, list) or len(ids) != count:
            raise SetupFailed(f"control hook did not store {count} events on {feed!r}: "
                              f"status {r.status_code}, body {self.ctx.evidence.redactor.text_bounded(r.text, 200)!r}")
        return marks

    def fresh(self, feed: str, count: int) -> list[str]:
        """Empty the feed, then emit ``count`` marked events into it; their marks."""
        self.empty(feed)
        return self.emit(feed, count)

    def empty(self, feed: str) -> None:
        """Discard, then drain whatever is left, until the feed reads as empty."""
        r = self.discard_all(feed)
        if r.status_code >= 500:
            raise SetupFailed(f"discardAll on {feed!r} answered {r.status_code}")
        for _ in range(int(self.ctx.option("drain_limit"))):
            r = self.next(feed)
            batch = parse_batch(r) if r.status_code == 200 else None
            if r.status_code == 204 or (batch is not None and not batch.notifications):
                return
            if batch is None:
                raise SetupFailed(f"emptying {feed!r}: next answered {r.status_code} {self.ctx.evidence.redactor.text_bounded(r.text, 200)!r}")
            self.complete(feed, batch.batch_id)
        raise SetupFailed(f"{feed!r} still held events after {self.ctx.option('drain_limit')} batches")

    def drain(self, feed: str, limit: int = 100) -> list[Batch]:
        """Read and complete batches until the feed is empty; the batches in order."""
        batches: list[Batch] = []
        for _ in range(limit):
            r = self.next(feed)
            if r.status_code == 204:
                return batches
            batch = parse_batch(r) if r.status_code == 200 else None
            self.ctx.require("next-answers-batch", batch is not None,
                           "next answers 200 with a batch or 204 when empty",
                           expected="200 with a batch, or 204", observed=f"{r.status_code} {self.ctx.evidence.redactor.text_bounded(r.text, 200)}")
            assert batch is not None
            if not batch.notifications:
                return batches
            batches.append(batch)
            self.complete(feed, batch.batch_id)
        return batches
