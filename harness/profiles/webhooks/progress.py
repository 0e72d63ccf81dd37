"""Executors for the exec API and progress webhooks: errors, lifecycle, verbosity, throttling.

Seed 004: "The purpose of the progress webhook is to update the client when the state of the
pipeline is changed." "If the client specified debug level, every progress from this level and
above will be sent to the client." Notes: default info; progress throttled (about one a second,
first and last of each window kept); errors {"error": {code, message}}, 404, 400, 405 with Allow.
"""
from __future__ import annotations

import asyncio
import secrets
from typing import Any

from harness.profiles.webhooks import LEVELS
from harness.profiles.webhooks.pipelines import (TERMINAL, Exec, allowed, as_number, bodies, decreasing,
                                                 lifecycle_problems, severity)
from harness.runner import Context, executor
from harness.schemas import registry
from harness.transport.http import json_body


def _error_body(ctx: Context, name: str, r: Any, status: int, what: str) -> None:
    body = json_body(r)
    ctx.check(name, r.status_code == status and not registry().issues("webhooks/error", body),
              f"{what}: {status} with an {{error: {{code, message}}}} body", expected=status,
              observed={"status": r.status_code, "body": body})


@executor("webhooks.exec-errors")
async def exec_errors(ctx: Context) -> None:
    ex = Exec(ctx)
    _error_body(ctx, "unknown-status-404", await ex.get("status", "no-such-job:" + secrets.token_hex(4)), 404,
                "the status of an unknown job")
    _error_body(ctx, "unknown-results-404", await ex.get("results", "no-such-job:" + secrets.token_hex(4)), 404,
                "the results of an unknown job")
    run = await ex.start("slow", hooks=False)
    _error_body(ctx, "results-before-end-400", await ex.get("results", run.job_id), 400,
                "results asked for before the run ended")
    r = await ex.http.request("DELETE", f"{ex.base}/exec/status/{run.job_id}", bearer=None)
    ctx.check("other-method-405", r.status_code == 405 and bool(r.headers.get("allow")),
              "another method answers 405 with an Allow header", expected="405 + Allow",
              observed={"status": r.status_code, "allow": r.headers.get("allow")})


@executor("webhooks.progress")
async def progress(ctx: Context) -> None:
    level = ctx.params.get("level", "debug")
    ex = Exec(ctx)
    run = await ex.start("batch", level=level)
    got = await ex.until_terminal(run, ex.within())
    payloads = bodies(got)
    ctx.require("progress-arrives", bool(payloads), "progress webhooks arrive for a run that asked for them",
                observed=len(payloads))
    issues = [f"#{i}: {issue}" for i, p in enumerate(payloads) for issue in registry().issues("webhooks/progress", p)]
    ctx.check("progress-schema", not issues, "every progress payload is valid by its schema", observed=issues[:10])
    ctx.check("progress-json", all(d.header("content-type", ) and "json" in (d.header("content-type") or "")
                                   for d in got), "progress webhooks are POSTed as JSON",
              observed=sorted({d.header("content-type") or "" for d in got}))
    dicts = [p for p in payloads if isinstance(p, dict)]
    kind = ctx.option("progress_type")
    if kind != "either":
        wrong = [p.get("data", {}).get("progress") for p in dicts
                 if not isinstance(p.get("data", {}).get("progress"), float | int if kind == "number" else str)]
        ctx.check("progress-type", not wrong, f"data.progress is a {kind} (declared)", observed=wrong[:5])
    levels = [p.get("level") for p in dicts]
    ctx.check("level-present", all(lv in LEVELS for lv in levels), "every progress webhook carries its level",
              observed=levels)
    ctx.check("level-filter", all(allowed(lv, level, ctx.option("verbosity_compare")) for lv in levels),
              f"only events allowed at the requested level {level!r} are sent", observed=levels)
    statuses = [p.get("status") for p in dicts]
    ctx.equal("lifecycle-order", [], lifecycle_problems(statuses), "statuses follow the lifecycle, nothing after the end")
    values = [as_number(p.get("data", {}).get("progress")) for p in dicts]
    ctx.equal("progress-monotonic", [], decreasing([v for v in values if v is not None]), "progress never goes down")
    stamps = [str(p.get("timestamp")) for p in dicts]
    ctx.equal("timestamps-ordered", [], [i for i, (a, b) in enumerate(zip(stamps, stamps[1:]), 1) if b < a],
              "timestamps never go backwards")
    ctx.check("last-is-terminal", bool(statuses) and statuses[-1] == "completed",
              "the last progress webhook is the terminal status", expected="completed", observed=statuses[-1:])
    r = await ex.get("status", run.job_id)
    polled = json_body(r)
    last = dicts[-1] if dicts else {}
    ctx.equal("status-api-agrees", (last.get("status"), as_number(last.get("data", {}).get("progress"))),
              (polled.get("status"), as_number(polled.get("data", {}).get("progress"))) if isinstance(polled, dict) else None,
              "GET exec/status agrees with the last progress webhook")


async def _levels_seen(ctx: Context, level: str | None) -> tuple[list[Any], list[Any]]:
    ex = Exec(ctx)
    run = await ex.start("failing", level=level, label=f"{level}-")
    got = await ex.until_terminal(run, ex.within())
    dicts = [p for p in bodies(got) if isinstance(p, dict)]
    return [p.get("level") for p in dicts], [p.get("status") for p in dicts]


@executor("webhooks.verbosity")
async def verbosity(ctx: Context) -> None:
    compare = ctx.option("verbosity_compare")
    seen = await asyncio.gather(*(_levels_seen(ctx, lv) for lv in LEVELS))
    by_level = {lv: levels for lv, (levels, _) in zip(LEVELS, seen)}
    for lv, levels in by_level.items():
        ctx.check(f"{lv}-filter", all(allowed(x, lv, compare) for x in levels),
                  f"at level {lv}, every progress webhook is allowed by the {compare} comparison",
                  expected=f"levels {compare} {lv}", observed=levels)
    kinds = {lv: {x for x in levels if x in LEVELS} for lv, levels in by_level.items()}
    # The run-level events (info and above) outlive the throttle: first and held-last of a window,
    # and the terminal, are always sent. Per-item trace/debug events may be throttled away, so the
    # nesting is compared event kind by kind from info up; below info only the filter applies.
    chain = ["info", "warn", "error", "critical"] if compare == "at-least" else ["warn", "info", "debug", "trace"]
    nested = all(kinds[a] >= kinds[b] for a, b in zip(chain, chain[1:]))
    more = all(kinds[a] > kinds[b] for a, b in zip(chain[:3], chain[1:3]))
    ctx.check("nested-sets", nested and more,
              f"the sets are nested ({' > '.join(chain[:3])}): each lower level sees what the higher sees, and more",
              observed={k: sorted(v, key=severity) for k, v in kinds.items()})
    terminal_seen = {lv: any(s in TERMINAL for s in statuses) for lv, (_, statuses) in zip(LEVELS, seen)}
    ctx.check("terminal-at-trace", terminal_seen["trace" if compare == "at-least" else "critical"],
              "the run's end reaches a client at the most verbose level", observed=terminal_seen)


@executor("webhooks.verbosity-default")
async def verbosity_default(ctx: Context) -> None:
    # the slow pipeline spaces its per-item (debug) events beyond a throttle window, so a target
    # whose default is more verbose than info shows it
    ex = Exec(ctx)
    run = await ex.start("slow")
    assert run.progress is not None
    await run.progress.quiet(ctx.latest(ctx.timing("run_time")))
    levels = [p.get("level") for p in bodies(run.progress.deliveries()) if isinstance(p, dict)]
    ctx.check("default-is-info", bool(levels) and all(allowed(x, "info", ctx.option("verbosity_compare")) for x in levels),
              "without progressVerbosityLevel the level is info", expected="levels allowed at info", observed=levels)


@executor("webhooks.unknown-level")
async def unknown_level(ctx: Context) -> None:
    ex = Exec(ctx)
    r = await ex.submit_raw(ex.descriptor("batch", level="verbose"))
    body = json_body(r)
    if r.status_code == 200 and isinstance(body, dict) and body.get("jobId"):
        ctx.on_close(lambda: ex._stop_quietly(str(body["jobId"])))
    ctx.check("unknown-level-400", r.status_code == 400, "an unknown progressVerbosityLevel is refused at submission",
              expected=400, observed=r.status_code)


@executor("webhooks.throttle")
async def throttle(ctx: Context) -> None:
    if not ctx.option("throttled"):
        ctx.skip("the target declares its progress webhooks are not throttled")
    window = ctx.timing("throttle_window")
    ex = Exec(ctx)
    run = await ex.start("batch", level="trace")
    got = await ex.until_terminal(run, ex.within())
    times = [d.at for d in got]
    # within any window, the first event and the held latest one: at most 2, the terminal may add one
    lower = ctx.window(window).lower
    crowded = [i for i in range(len(times)) if sum(1 for t in times[i:] if t - times[i] < lower) > 3]
    ctx.check("throttled", not crowded, f"no more than the first and the last event of each {window:g}s window",
              expected="<= 3 webhooks in any window (first, held last, terminal)",
              observed={"arrivals_s": [round(t - times[0], 3) for t in times] if times else []})
    statuses = [p.get("status") for p in bodies(got) if isinstance(p, dict)]
    ctx.check("terminal-never-throttled", bool(statuses) and statuses[-1] in TERMINAL,
              "the terminal progress is never throttled away", level="MUST", observed=statuses[-3:])
