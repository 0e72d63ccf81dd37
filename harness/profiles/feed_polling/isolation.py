"""Executors for discardAll, independent feeds and tenant isolation.

Seed 002: "Once a feed is cleared the events in the Queue are all moved into the archive and cannot
be retrieved ... call the GET against the feed and ensure it is empty - it will return a HTTP 204".
"""
from __future__ import annotations

from harness.profiles.feed_polling.batches import read_batch
from harness.profiles.feed_polling.feed import FeedClient, check_head
from harness.runner import Context, executor


@executor("feed-polling.discard-all")
def discard_all(ctx: Context) -> None:
    fc = FeedClient(ctx)
    feed = str(ctx.params.get("feed", "journey"))
    fc.fresh(feed, 5)
    read_batch(ctx, fc, feed, "open-batch")
    ctx.equal("discard-200", 200, fc.discard_all(feed).status_code, "discardAll answers 200 OK")
    ctx.equal("discard-then-204", 204, fc.next(feed).status_code, "after discardAll, next answers 204")
    later = fc.emit(feed, 2)
    batch = read_batch(ctx, fc, feed, "after-discard")
    check_head(ctx, "delivered-after-discard", later, batch,
               "events emitted after discardAll are delivered, and only those")


@executor("feed-polling.feeds-independent")
def feeds_independent(ctx: Context) -> None:
    fc = FeedClient(ctx)
    a, b = ctx.params.get("feeds", ["journey", "document"])
    fc.empty(a)
    fc.empty(b)
    marks_a = fc.emit(a, 3)
    marks_b = fc.emit(b, 2)
    batch_a = read_batch(ctx, fc, a, f"{a}-batch")
    check_head(ctx, "own-events-only", marks_a, batch_a, f"{a} delivers only its own events")
    fc.complete(a, batch_a.batch_id)
    batch_b = read_batch(ctx, fc, b, f"{b}-batch")
    check_head(ctx, "other-feed-untouched", marks_b, batch_b, f"completing a batch of {a} leaves {b} untouched")
    fc.empty(a)
    kept = fc.emit(a, 1)
    ctx.equal("discard-200", 200, fc.discard_all(b).status_code, f"discardAll on {b} answers 200")
    after = read_batch(ctx, fc, a, f"{a}-after-discard-of-{b}")
    check_head(ctx, "discard-scoped", kept, after, f"discardAll on {b} does not touch {a}")


@executor("feed-polling.tenant-isolation")
def tenant_isolation(ctx: Context) -> None:
    t1, t2 = ctx.target.tenants[:2]
    one, two = FeedClient(ctx, tenant=t1), FeedClient(ctx, tenant=t2)
    feed = str(ctx.params.get("feed", "journey"))
    one.empty(feed)
    two.empty(feed)
    marks = one.emit(feed, 3)
    r = two.next(feed)
    ctx.equal("other-tenant-empty", 204, r.status_code,
              f"tenant {t2} does not see the events of tenant {t1}")
    ctx.check("no-leak", not any(m in r.text for m in marks), "no event of another tenant leaks",
              expected="none of the other tenant's events", observed=ctx.evidence.redactor.text_bounded(r.text, 300))
    two.discard_all(feed)
    batch = read_batch(ctx, one, feed, f"{t1}-batch")
    check_head(ctx, "discard-scoped-to-tenant", marks, batch, f"discardAll by tenant {t2} leaves tenant {t1}'s events")


@executor("feed-polling.tenant-token-bound")
def tenant_token_bound(ctx: Context) -> None:
    """A token bound to one tenant cannot read, complete, discard or emit for another one."""
    (t1, own), (t2, _) = list(ctx.target.tenant_tokens.items())[:2]
    feed = str(ctx.params.get("feed", "journey"))
    victim = FeedClient(ctx, tenant=t2)
    victim.empty(feed)
    marks = victim.emit(feed, 2)
    intruder = FeedClient(ctx, tenant=t2)  # names tenant t2 in X-TENANT-ID, with t1's token
    refused = (401, 403, 404)
    for what, r in (("next", intruder.next(feed, bearer=own)),
                    ("complete", intruder.complete(feed, "0", bearer=own)),
                    ("discardAll", intruder.discard_all(feed, bearer=own))):
        ctx.check(f"{what}-refused", r.status_code in refused and not any(m in r.text for m in marks),
                  f"{what} with {t1}'s token naming tenant {t2} is refused and leaks nothing",
                  expected="401, 403 or 404", observed={"status": r.status_code, "body": ctx.evidence.redactor.text_bounded(r.text, 200)})
    control = ctx.target.control_url
    r = ctx.http().request("POST", f"{control}/feeds/{feed}/events", bearer=own,
                           json={"events": [{"eventType": "conformance:intruder", "payload": {}}], "tenantId": t2})
    ctx.check("emit-refused", r.status_code in (*refused, 400), f"the control hook refuses {t1}'s token for {t2}",
              expected="4xx", observed=r.status_code)
    batch = read_batch(ctx, victim, feed, f"{t2}-batch")
    check_head(ctx, "victim-untouched", marks, batch, f"tenant {t2}'s events are still there, in order")
