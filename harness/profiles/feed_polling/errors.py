"""Executors for errors: miscased and unknown feeds, stale completes, malformed input, auth.

Seed 002: "FeedID's are "Case Sensitive" and must be populated in the URL as listed. If written
incorrectly the API will return an Error." with an HTTP 404 problem body {type, title, status}.
"""
from __future__ import annotations

from typing import Any

import httpx

from harness.profiles.feed_polling.batches import read_batch
from harness.profiles.feed_polling.feed import FeedClient, check_head
from harness.runner import Context, executor
from harness.schemas import registry
from harness.transport.http import json_body
from harness.verdicts import Level


def check_problem_404(ctx: Context, r: httpx.Response, what: str) -> None:
    ctx.equal(f"{what}-404", 404, r.status_code, f"{what} answers 404 Not Found")
    body = json_body(r)
    issues = [str(i) for i in registry().issues("feed-polling/problem", body)] if body is not None else ["no JSON body"]
    ctx.check(f"{what}-problem-body", not issues and isinstance(body, dict) and body.get("status") == 404,
              f"{what}: the 404 carries a problem body (type, title, status 404)",
              expected={"type": "...", "title": "...", "status": 404}, observed=body if body is not None else ctx.evidence.redactor.text_bounded(r.text, 200))
    media = r.headers.get("content-type", "").split(";")[0].strip()
    wanted = ctx.option("problem_media_type")
    ctx.equal(f"{what}-problem-media-type", wanted, media,
              f"{what}: the problem body is served as {wanted}", level=Level.SHOULD)


def _unchanged(ctx: Context, fc: FeedClient, feed: str, marks: list[str], what: str) -> None:
    batch = read_batch(ctx, fc, feed, f"{what}-feed-intact")
    check_head(ctx, f"{what}-feed-unchanged", marks, batch, f"after {what}, the feed still holds its events, unchanged")


@executor("feed-polling.case-sensitive")
def case_sensitive(ctx: Context) -> None:
    fc = FeedClient(ctx)
    feed = str(ctx.params.get("feed", "journey"))
    miscased = str(ctx.params.get("miscased", "Journey"))
    marks = fc.fresh(feed, 2)
    batch = read_batch(ctx, fc, feed, "open-batch")
    check_problem_404(ctx, fc.next(miscased), f"GET {miscased}/next")
    check_problem_404(ctx, fc.complete(miscased, batch.batch_id), f"POST {miscased}/{{batchId}}/complete")
    check_problem_404(ctx, fc.discard_all(miscased), f"PUT {miscased}/discardAll")
    _unchanged(ctx, fc, feed, marks, "miscased calls")


@executor("feed-polling.unknown-feed")
def unknown_feed(ctx: Context) -> None:
    fc = FeedClient(ctx)
    for feed in ctx.params.get("feeds", ["no-such-feed"]):
        check_problem_404(ctx, fc.next(str(feed)), f"GET {feed}/next")


@executor("feed-polling.stale-complete")
def stale_complete(ctx: Context) -> None:
    fc = FeedClient(ctx)
    feed = str(ctx.params.get("feed", "journey"))
    status = int(ctx.option("stale_complete_status"))
    marks = fc.fresh(feed, 12)
    first = read_batch(ctx, fc, feed, "first-batch")
    ctx.equal("complete-200", 200, fc.complete(feed, first.batch_id).status_code,
              "completing the open batch answers 200")
    second = read_batch(ctx, fc, feed, "second-batch")
    unknown = str(ctx.params.get("unknown_batch_id", "999999999999999"))
    for label, batch_id in (("already-completed", first.batch_id), ("unknown", unknown)):
        r = fc.complete(feed, batch_id)
        ctx.equal(f"{label}-status", status, r.status_code,
                  f"completing an {label} batch answers the declared status {status}")
        again = read_batch(ctx, fc, feed, f"after-{label}")
        ctx.equal(f"{label}-no-advance", second.batch_id, again.batch_id,
                  f"completing an {label} batch does not advance the feed")
        ctx.equal(f"{label}-no-loss", second.marks, again.marks,
                  f"completing an {label} batch loses no event")
    fc.complete(feed, second.batch_id)
    rest = [m for b in fc.drain(feed) for m in b.marks]
    ctx.equal("all-delivered", marks, first.marks + second.marks + rest, "all 12 events are delivered once, in order")


def _junk_requests(fc: FeedClient, feed: str, batch_id: str) -> list[tuple[str, str, Any]]:
    long_feed = "j" * 5000
    return [
        ("POST", fc.url(feed, "not-a-batch", "complete"), None),
        ("POST", fc.url(feed, "%00" + batch_id, "complete"), None),
        ("POST", fc.url(feed, "9" * 2000, "complete"), None),
        ("POST", fc.url(feed, batch_id + "'; DROP TABLE events;--", "complete"), None),
        ("GET", fc.url(long_feed, "next"), None),
        ("DELETE", fc.url(feed, "next"), None),
        ("GET", fc.url(feed, batch_id, "complete"), None),
        ("POST", fc.url(feed, "discardAll"), None),
        ("PUT", fc.url(feed, "next"), b"\x00\xffjunk{"),
        ("POST", fc.url(feed, "x", "complete"), b"{\"batchId\": [}"),
    ]


@executor("feed-polling.malformed-input")
def malformed_input(ctx: Context) -> None:
    fc = FeedClient(ctx)
    feed = str(ctx.params.get("feed", "journey"))
    marks = fc.fresh(feed, 2)
    batch = read_batch(ctx, fc, feed, "open-batch")
    stale = int(ctx.option("stale_complete_status"))
    for method, url, body in _junk_requests(fc, feed, batch.batch_id):
        r = fc.http.request(method, url, content=body, headers=fc.headers)
        # completing a junk batchId is completing an unknown batch: the declared status is fine too
        allowed = 400 <= r.status_code < 500 or (url.endswith("/complete") and method == "POST"
                                                 and r.status_code == stale)
        ctx.check("malformed-4xx", allowed,
                  f"{method} {url[:120]} is refused with a 4xx (never a 5xx or a success)",
                  expected=f"4xx (or the declared {stale} for an unknown batch)", observed=r.status_code)
    again = read_batch(ctx, fc, feed, "after-malformed")
    ctx.equal("malformed-batch-intact", batch.batch_id, again.batch_id, "the open batch is unchanged")
    _unchanged(ctx, fc, feed, marks, "malformed input")


@executor("feed-polling.auth-required")
def auth_required(ctx: Context) -> None:
    fc = FeedClient(ctx)
    feed = str(ctx.params.get("feed", "journey"))
    marks = fc.fresh(feed, 2)
    batch = read_batch(ctx, fc, feed, "open-batch")
    bad: list[tuple[str, dict[str, str]]] = [
        ("missing", {}), ("malformed", {"Authorization": "Bearer"}),
        ("basic", {"Authorization": "Basic Zm9vOmJhcg=="}),
        ("wrong", {"Authorization": "Bearer wrong-" + ctx.run_id}),
    ]
    calls = [("GET", fc.url(feed, "next")), ("POST", fc.url(feed, batch.batch_id, "complete")),
             ("PUT", fc.url(feed, "discardAll"))]
    for label, auth in bad:
        for method, url in calls:
            r = fc.http.request(method, url, headers={**fc.headers, **auth}, bearer=None)
            ctx.equal("unauthorized-401", 401, r.status_code,
                      f"{method} with a {label} bearer token answers 401")
            leaked = [m for m in marks if m in r.text] or ("notifications" in r.text and ["notifications"])
            ctx.check("no-data-in-401", not leaked, "a 401 carries no feed data",
                      expected="no notifications", observed=ctx.evidence.redactor.text_bounded(r.text, 300))
    _unchanged(ctx, fc, feed, marks, "unauthorized calls")
