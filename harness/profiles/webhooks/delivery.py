"""Executors for webhook delivery: retries after the declared delay up to the declared attempts,
no retry on other 4xx, independent receivers, and the bearer check.

Notes (seed 004's system): "POST with a JSON body; 3 attempts in total with a fixed 5 s delay,
retried on 5xx, 408 and connection errors; other 4xx are not retried."
"""
from __future__ import annotations

import secrets

from harness.profiles.webhooks.pipelines import Exec
from harness.runner import Context, executor
from harness.timing import intervals
from harness.transport.receiver import Answer, failure


@executor("webhooks.retry")
async def retry(ctx: Context) -> None:
    kind = str(ctx.params["answer"])
    attempts = int(ctx.option("attempts"))
    if attempts < 2:
        ctx.skip(f"the target declares {attempts} delivery attempt: there is no retry to test")
    delay, timeout = ctx.timing("retry_delay"), ctx.timing("delivery_timeout")
    ex = Exec(ctx)
    run = await ex.start("batch")
    assert run.result is not None
    run.result.script([failure(kind, timeout)] * (attempts - 1))
    within = ex.within() + (attempts - 1) * (ctx.latest(delay) + (ctx.latest(timeout) if kind == "timeout" else 0))
    got = await run.result.expect(attempts, within)
    ctx.require("retried", len(got) == attempts, f"a result webhook answered {kind} is tried again, "
                f"{attempts} attempts in total", expected=attempts, observed=len(got))
    gaps = intervals([d.at for d in got])
    expected = [delay + (timeout if kind == "timeout" else 0)] * len(gaps)
    ctx.schedule_check("retry-delay", expected, gaps, f"attempts are {delay:g}s apart (declared retry delay)")
    await run.result.quiet(ctx.latest(delay))
    ctx.equal("no-attempt-after-success", attempts, len(run.result.deliveries()),
              "nothing is sent after the delivery succeeded")


@executor("webhooks.attempts")
async def attempts(ctx: Context) -> None:
    total = int(ctx.option("attempts"))
    delay = ctx.timing("retry_delay")
    ex = Exec(ctx)
    run = await ex.start("batch")
    assert run.result is not None
    run.result.script([Answer(status=503)] * (total + 5))
    await run.result.expect(total, ex.within() + total * ctx.latest(delay))
    await run.result.quiet(ctx.latest(delay) * 2)
    ctx.equal("attempt-count", total, len(run.result.deliveries()),
              f"a result webhook that always fails is tried {total} times in total, then given up")


@executor("webhooks.no-retry")
async def no_retry(ctx: Context) -> None:
    kind = str(ctx.params["answer"])
    ex = Exec(ctx)
    run = await ex.start("batch")
    assert run.result is not None
    run.result.script([Answer(status=int(kind))] * 3)
    got = await run.result.expect(1, ex.within())
    ctx.require("result-arrives", bool(got), "the result webhook arrives", observed=len(got))
    await run.result.quiet(ctx.latest(ctx.timing("retry_delay")) * 2)
    ctx.equal("not-retried", 1, len(run.result.deliveries()), f"a {kind} answer is not retried (other 4xx are final)")


@executor("webhooks.receivers-independent")
async def receivers_independent(ctx: Context) -> None:
    timeout = ctx.timing("delivery_timeout")
    ex = Exec(ctx)
    slow = await ex.start("batch", label="hanging-")
    assert slow.result is not None and slow.progress is not None
    slow.progress.script([Answer(status=200, delay=timeout * 3 + 1)] * 50)
    slow.result.script([Answer(status=200, delay=timeout * 3 + 1)] * 3)
    # the other run starts once the hanging call is under way: started together, its webhooks
    # could all go out before the first hanging call, and a one-queue sender would pass
    first = await slow.progress.expect(1, ex.within())
    ctx.require("hanging-called", bool(first), "the hanging receiver is called", observed=len(first))
    fast = await ex.start("batch", label="prompt-")
    assert fast.result is not None
    got = await fast.result.expect(1, ex.within())
    held = got[0].at - first[0].at if got else None
    ctx.check("not-held-back", held is not None and held < timeout,
              "another run's webhooks are not held back while one receiver hangs",
              expected=f"its result within {timeout:.2f}s of the hanging receiver's first call (before its timeout)",
              observed={"after_s": None if held is None else round(held, 4)})


@executor("webhooks.auth")
async def auth(ctx: Context) -> None:
    if not ctx.target.token:
        ctx.skip("the target declares no bearer token (--token): whether a wrong one is refused is not tested")
    ex = Exec(ctx)
    r = await ex.http.request("POST", ex.base + "/exec/raw", json=ex.descriptor("batch"),
                              bearer="wrong-" + secrets.token_hex(8))
    ctx.check("wrong-token-401", r.status_code == 401, "a wrong bearer token is refused with 401",
              expected=401, observed=r.status_code)
