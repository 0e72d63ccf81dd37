"""Executors for the result webhook: one per run, equal to GET results, for completed, failed and
stopped runs; and runs without webhooks.

Seed 004: "The purpose of the result webhook is to update the client when the pipeline is
completed." "notice that there is a result for each batch node." "The webhooks are optional".
Notes: "sent for completed, failed and stopped runs"; "A result may be sent more than once".
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from harness.profiles.webhooks.pipelines import TERMINAL, Exec, Run, bodies
from harness.runner import Context, executor
from harness.schemas import registry
from harness.transport.http import json_body


def _entries(result: Any) -> list[Any]:
    data = result.get("data") if isinstance(result, dict) else None
    return data if isinstance(data, list) else []


def _comparable(result: Any) -> Any:
    """A result without the members that may differ between the webhook and the API (timestamp)."""
    return {k: v for k, v in result.items() if k != "timestamp"} if isinstance(result, dict) else result


async def result_of(ctx: Context, ex: Exec, run: Run, status: str) -> Any:
    """The result webhook of an ended run: exactly one (or identical repeats where declared)."""
    assert run.result is not None
    got = await run.result.expect(1, ex.within())
    ctx.require("result-arrives", bool(got), f"a result webhook is sent for a {status} run", observed=len(got))
    await run.result.quiet(ex.settle() + ctx.latest(ctx.timing("retry_delay")))
    results = bodies(run.result.deliveries())
    first = results[0]
    issues = [str(i) for i in registry().issues("webhooks/result", first)]
    ctx.check("result-schema", not issues, "the result payload is valid by its schema", observed=issues)
    ctx.equal("result-status", status, first.get("status") if isinstance(first, dict) else None,
              f"the result names the run's end: {status}")
    same = all(_comparable(r) == _comparable(first) for r in results[1:])
    ctx.check("result-repeats-identical", same, "a repeated result webhook is identical to the first", level="MUST",
              observed=len(results))
    if not ctx.option("result_repeats"):
        ctx.equal("result-once", 1, len(results), "the result webhook is sent once", level="SHOULD")
    r = await ex.get("results", run.job_id)
    ctx.equal("results-api-agrees", _comparable(first), _comparable(json_body(r)),
              "GET exec/results gives the same result as the webhook")
    return first


@executor("webhooks.result")
async def result(ctx: Context) -> None:
    ex = Exec(ctx)
    run = await ex.start("batch")
    first = await result_of(ctx, ex, run, "completed")
    entries = _entries(first)
    ctx.equal("one-entry-per-item", ctx.option("batch_results"), [e.get("result") for e in entries if isinstance(e, dict)],
              "one entry per batch item, with its result, in batch order")


@executor("webhooks.result-failed")
async def result_failed(ctx: Context) -> None:
    ex = Exec(ctx)
    run = await ex.start("failing")
    first = await result_of(ctx, ex, run, "failed")
    ctx.equal("failed-entries", len(ctx.option("batch_results")), len(_entries(first)),
              "a failed run's result still has one entry per batch item")


@executor("webhooks.result-stopped")
async def result_stopped(ctx: Context) -> None:
    ex = Exec(ctx)
    run = await ex.start("slow")
    assert run.progress is not None
    await run.progress.expect(1, ex.within())
    r = await ex.stop(run.job_id)
    ctx.require("stop-accepted", r.status_code == 200, "stopping a running pipeline is accepted",
                expected=200, observed=r.status_code)
    await result_of(ctx, ex, run, "stopped")
    polled = json_body(await ex.get("status", run.job_id))
    ctx.equal("stopped-status", "stopped", polled.get("status") if isinstance(polled, dict) else None,
              "GET exec/status says the run stopped")


@executor("webhooks.optional")
async def optional(ctx: Context) -> None:
    ex = Exec(ctx)
    run = await ex.start("batch", hooks=False)
    deadline = time.monotonic() + ex.within()
    status: Any = None
    while time.monotonic() < deadline:
        status = json_body(await ex.get("status", run.job_id))
        if isinstance(status, dict) and status.get("status") in TERMINAL:
            break
        await asyncio.sleep(0.1)
    ctx.require("run-without-webhooks-ends", isinstance(status, dict) and status.get("status") == "completed",
                "a run without webhooks completes", observed=status)
    ctx.check("status-schema", not registry().issues("webhooks/progress", status), "its status is valid by schema")
    results = json_body(await ex.get("results", run.job_id))
    ctx.check("results-schema", not registry().issues("webhooks/result", results), "its results are valid by schema",
              observed=[str(i) for i in registry().issues("webhooks/result", results)])
    ctx.equal("results-api-entries", ctx.option("batch_results"),
              [e.get("result") for e in _entries(results) if isinstance(e, dict)],
              "GET exec/results has one entry per batch item with its result")
