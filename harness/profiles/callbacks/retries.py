"""Executors for delivery retries: the schedule of each mode graded in time, the exact attempt
count, and each kind of failed delivery retried.

Seed 003: "the number of retry attempts (in case the initial try fails) and their interval, which
can be constant, linear, or exponential"; notes: "what counts as a failed delivery (non-2xx,
timeout)" is declared, and so is whether attempts include the first try.
"""
from __future__ import annotations

from typing import Any

from harness.profiles.callbacks.executions import Executions, Settings, retry_settings
from harness.profiles.callbacks.schedule import MODE_NAMES, backoff_delays, total_tries
from harness.runner import Context, executor
from harness.timing import intervals
from harness.transport.receiver import Answer, failure


async def _set_retries(ctx: Context, mode: int) -> tuple[int, float, int] | None:
    """Through the hook, the retry settings of ``mode``: options.callbacks.attempts, the
    retry_interval and delivery_timeout timers. Every scenario of one mode applies exactly these,
    so they run side by side (resources: [callbacks.retry=constant]). (attempts, interval, mode),
    or None without the hook."""
    settings = Settings(ctx)
    if not settings.usable:
        return None
    attempts, interval = int(ctx.option("attempts")), ctx.timing("retry_interval")
    await settings.apply(mode=mode, interval=interval, attempts=attempts, timeout=ctx.timing("delivery_timeout"))
    return attempts, interval, mode


async def _schedule(ctx: Context, mode: int | None, retries: int, kind: str = "503") -> tuple[list[float], float, int, float]:
    """Set the mode (through the hook, or take the declared one), fail ``retries`` tries, then 200.
    (the gaps between arrivals, the interval, the mode, the delivery timeout)."""
    timeout = ctx.timing("delivery_timeout")
    applied = await _set_retries(ctx, 0 if mode is None else mode)
    if applied is not None:
        _, interval, mode = applied
    else:
        attempts, interval, declared_mode = retry_settings(ctx)
        if mode is not None and mode != declared_mode:
            ctx.skip(f"the {MODE_NAMES[mode]} schedule needs the callback settings hook; the target declares "
                     f"mode {declared_mode} ({MODE_NAMES.get(declared_mode, '?')})")
        mode, retries = declared_mode, min(retries, attempts)
    span = sum(backoff_delays(mode, interval, retries)) + retries * (timeout if kind == "timeout" else 0)
    within = ctx.latest(ctx.timing("execution_time")) + ctx.latest(span) + ctx.latest(timeout)
    ctx.require_wait(within, f"{retries} retries on the {MODE_NAMES[mode]} schedule")
    inbox = ctx.inbox(f"retry-{MODE_NAMES[mode]}")
    inbox.script([failure(kind, timeout, inbox.url + "/moved")] * retries)
    await Executions(ctx).submit("ok", inbox)
    got = await inbox.expect(retries + 1, within, path="")
    ctx.require("retried-until-delivered", len(got) == retries + 1,
                f"a callback whose first {retries} tries fail ({kind}) is tried again until it is delivered",
                expected=retries + 1, observed=len(got))
    await inbox.quiet(ctx.latest(interval))  # a duplicate after success: see cb-callback-on-*
    after = inbox.deliveries(path="")[retries + 1:]
    ctx.equal("none-after-2xx", [], [d.answer for d in after], "no try follows a 2xx answer")
    return intervals([d.at for d in got]), interval, mode, timeout


@executor("callbacks.retry-schedule")
async def retry_schedule(ctx: Context) -> None:
    mode = int(ctx.params["mode"])
    retries = int(ctx.option("attempts"))
    gaps, interval, mode, _ = await _schedule(ctx, mode, retries)
    expected = backoff_delays(mode, interval, len(gaps))
    ctx.schedule_check("retry-gaps", expected, gaps,
                       f"retries follow the {MODE_NAMES[mode]} schedule of {interval:g}s: "
                       + ", ".join(f"{e:g}s" for e in expected))


@executor("callbacks.retry-on-failure")
async def retry_on_failure(ctx: Context) -> None:
    kind = str(ctx.params["answer"])
    if kind in ("404", "408", "redirect") and ctx.option("failed_answers") == "5xx":
        ctx.skip(f"the target declares that only 5xx answers fail a delivery; {kind} is not tested")
    gaps, interval, mode, timeout = await _schedule(ctx, None, 1, kind)
    wait = backoff_delays(mode, interval, 1)[0]
    if kind == "timeout":  # the try fails when the target's timeout expires; then the delay
        w = ctx.window(wait)
        ctx.check("retry-after-timeout", bool(gaps) and w.lower <= gaps[0] <= ctx.latest(timeout) + w.upper,
                  f"the retry follows the timed-out try after the delivery timeout and the interval",
                  expected=f"{w.lower:.3f}..{ctx.latest(timeout) + w.upper:.3f}s", observed=gaps)
    else:
        ctx.schedule_check("retry-gap", [wait], gaps, f"the retry after a {kind} answer waits the interval")


@executor("callbacks.attempts-exact")
async def attempts_exact(ctx: Context) -> None:
    attempts, interval, mode = await _set_retries(ctx, 0) or retry_settings(ctx)
    tries = total_tries(attempts, bool(ctx.option("attempts_include_first")))
    span = sum(backoff_delays(mode, interval, tries - 1))
    within = ctx.latest(ctx.timing("execution_time")) + ctx.latest(span)
    # every try is answered at once (503): a try too many would come one backoff after the last
    listen = ctx.latest(backoff_delays(mode, interval, tries)[-1])
    ctx.require_wait(within + listen, f"{tries} failing tries")
    inbox = ctx.inbox("attempts")
    inbox.script([Answer(status=503)] * (tries + 5))
    await Executions(ctx).submit("ok", inbox)
    await inbox.expect(tries, within)
    await inbox.quiet(listen)
    ctx.equal("attempt-count", tries, len(inbox.deliveries()),
              f"a callback that always fails is tried exactly {tries} times "
              f"({attempts} attempts, first try {'included' if ctx.option('attempts_include_first') else 'not included'})")


@executor("callbacks.receivers-independent")
async def receivers_independent(ctx: Context) -> None:
    """A hanging subscriber must not hold back another execution's callback."""
    timeout = ctx.timing("delivery_timeout")
    ex = Executions(ctx)
    slow, fast = ctx.inbox("hanging"), ctx.inbox("prompt")
    slow.script([Answer(status=200, delay=timeout * 3 + 1.0)] * 3)
    await ex.submit("ok", slow)
    within = ctx.latest(ctx.timing("execution_time")) + ctx.latest(timeout)
    first = await slow.expect(1, within)
    ctx.require("hanging-receiver-called", bool(first), "the first execution's callback reaches its subscriber",
                observed=len(first))
    # the second execution starts once the hanging call is under way: submitted together, its
    # callback could go out first, and a sender with one queue would pass
    await ex.submit("ok", fast)
    got = await fast.expect(1, within)
    held = got[0].at - first[0].at if got else None
    ctx.check("not-held-back", bool(got) and held is not None and held < timeout,
              "the second execution's callback is not held back while the first subscriber hangs",
              expected=f"within {timeout:.2f}s of the first callback (before its timeout)",
              observed={"after_s": None if held is None else round(held, 4)})


