"""Executors for batches: empty feed, shape, size, FIFO, immutable re-read, complete, moreAvailable.

Seed 002: "a batch can contain between 1... to ... 10 Events"; "Repeated calls against the Polling
Feed will continue to return the same response immutably until the client marks the batch as
complete"; "Once a batch is marked as complete the events can no longer be retrieved."
"""
from __future__ import annotations

from harness.profiles.feed_polling.feed import EVENT_TYPE, Batch, FeedClient, check_head, mark_of, parse_batch
from harness.runner import Context, executor
from harness.schemas import registry


def _feed(ctx: Context) -> str:
    return str(ctx.params.get("feed", "journey"))


def read_batch(ctx: Context, fc: FeedClient, feed: str, what: str) -> Batch:
    """GET next, which must answer 200 with a batch."""
    r = fc.next(feed)
    batch = parse_batch(r) if r.status_code == 200 else None
    ctx.require(f"{what}-is-batch", batch is not None, f"{what}: next answers 200 with a batch",
              expected="200 with {batchId, notifications, moreAvailable}",
              observed=f"{r.status_code} {ctx.evidence.redactor.text_bounded(r.text, 300)}")
    assert batch is not None
    return batch


@executor("feed-polling.empty-feed")
def empty_feed(ctx: Context) -> None:
    fc = FeedClient(ctx)
    feed = _feed(ctx)
    fc.empty(feed)
    r = fc.next(feed)
    ctx.equal("empty-is-204", 204, r.status_code, "an empty feed answers 204 No Content")
    ctx.equal("empty-has-no-body", b"", r.content, "a 204 carries no body")


@executor("feed-polling.batch-shape")
def batch_shape(ctx: Context) -> None:
    fc = FeedClient(ctx)
    feed = _feed(ctx)
    marks = fc.fresh(feed, int(ctx.params.get("events", 3)))
    batch = read_batch(ctx, fc, feed, "batch")
    issues = [str(i) for i in registry().issues("feed-polling/batch", batch.raw)]
    ctx.check("batch-schema", not issues, "the batch is valid by the feed-polling/batch schema",
              expected="no schema violations", observed=issues)
    for n in batch.notifications:
        if mark_of(n) in marks:
            ctx.equal("event-type-kept", EVENT_TYPE, n.get("eventType"), "eventType is the emitted one")
    if ctx.target.tenants:
        ctx.check("tenant-id", all(n.get("tenantId") in (fc.tenant, None) for n in batch.notifications),
                  "tenantId names the tenant that polls", expected=fc.tenant,
                  observed=[n.get("tenantId") for n in batch.notifications])
    check_head(ctx, "batch-holds-emitted", marks, batch, "the batch holds the oldest emitted events, in order")


@executor("feed-polling.batch-size")
def batch_size(ctx: Context) -> None:
    fc = FeedClient(ctx)
    feed = _feed(ctx)
    fc.fresh(feed, int(ctx.params.get("events", 25)))
    sizes = [len(b.notifications) for b in fc.drain(feed)]
    ctx.check("batch-size-bounds", bool(sizes) and all(1 <= s <= 10 for s in sizes),
              "every batch holds between 1 and 10 events", expected="1 <= size <= 10", observed=sizes)


@executor("feed-polling.fifo")
def fifo(ctx: Context) -> None:
    fc = FeedClient(ctx)
    feed = _feed(ctx)
    marks = fc.fresh(feed, int(ctx.params.get("events", 37)))
    batches = fc.drain(feed, limit=len(marks) + 5)
    seen = [m for b in batches for m in b.marks if m in set(marks)]
    ctx.equal("fifo-order", marks, seen, "events are delivered once each, in emission order (FIFO)")
    ids = [b.batch_id for b in batches]
    ctx.equal("batch-ids-unique", len(ids), len(set(ids)), "every batch has its own batchId")


@executor("feed-polling.immutable-reread")
def immutable_reread(ctx: Context) -> None:
    fc = FeedClient(ctx)
    feed = _feed(ctx)
    fc.fresh(feed, int(ctx.params.get("events", 3)))
    first = read_batch(ctx, fc, feed, "first-read")
    second = read_batch(ctx, fc, feed, "second-read")
    ctx.equal("reread-batch-id", first.batch_id, second.batch_id, "a re-read returns the same batchId")
    ctx.equal("reread-notifications", first.notifications, second.notifications,
              "a re-read returns the identical notifications")
    fc.emit(feed, int(ctx.params.get("later_events", 2)))
    third = read_batch(ctx, fc, feed, "read-after-new-events")
    ctx.equal("reread-after-new-batch-id", first.batch_id, third.batch_id,
              "new events do not change the open batch's batchId")
    ctx.equal("reread-after-new-notifications", first.notifications, third.notifications,
              "new events do not change the open batch's notifications")


@executor("feed-polling.complete-advances")
def complete_advances(ctx: Context) -> None:
    fc = FeedClient(ctx)
    feed = _feed(ctx)
    marks = fc.fresh(feed, 12)
    first = read_batch(ctx, fc, feed, "first-batch")
    r = fc.complete(feed, first.batch_id)
    ctx.equal("complete-200", 200, r.status_code, "completing the open batch answers 200 OK")
    rest = fc.drain(feed)
    delivered = first.marks + [m for b in rest for m in b.marks]
    ctx.equal("complete-advances", marks, delivered,
              "after complete, the next batch starts after the completed events; nothing lost")
    late = fc.emit(feed, 1)
    again = fc.drain(feed)
    ctx.equal("completed-never-return", late, [m for b in again for m in b.marks],
              "completed events can no longer be retrieved; only the new event is delivered")


@executor("feed-polling.more-available")
def more_available(ctx: Context) -> None:
    fc = FeedClient(ctx)
    feed = _feed(ctx)
    for total in ctx.params.get("totals", [15, 10, 3]):
        fc.fresh(feed, int(total))
        remaining = int(total)
        while remaining > 0:
            batch = read_batch(ctx, fc, feed, f"batch-of-{total}")
            remaining -= len(batch.notifications)
            ctx.equal("more-available", remaining > 0, batch.more_available,
                      f"moreAvailable is true exactly when events remain ({remaining} left of {total})")
            if not batch.notifications:
                break
            fc.complete(feed, batch.batch_id)
