"""Run one scenario against a target: pick its executor by kind, collect checks, decide the verdict.

pytest is the engine (see plugin.py); this module is the part that needs no pytest, so the kill
matrix and the project's tests can call it directly.
"""
from __future__ import annotations

import asyncio
import inspect
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from harness import progress
from harness.catalog import Scenario
from harness.evidence import Evidence, Redactor
from harness.transport.http import AsyncHttpClient, HttpClient
from harness.transport.receiver import Inbox, Receiver
from harness.target import Target
from harness.timing import TimingVerdict, Window, off_schedule, round_or_none
from harness.verdicts import (Check, ConformanceFailure, HarnessError, Level, NotApplicable,
                              SetupFailed, StopScenario, Verdict, combine)

Executor = Callable[["Context"], None] | Callable[["Context"], Awaitable[None]]
_EXECUTORS: dict[str, Executor] = {}


def executor(kind: str) -> Callable[[Executor], Executor]:
    """Register the executor of a scenario kind; a duplicate name is refused."""
    def register(fn: Executor) -> Executor:
        if kind in _EXECUTORS:
            raise ValueError(f"executor for kind {kind!r} is already registered")
        _EXECUTORS[kind] = fn
        return fn
    return register


def executors() -> dict[str, Executor]:
    from harness.profile import profiles
    profiles()  # importing every profile package registers its kinds
    return _EXECUTORS


class Context:
    """What an executor sees: the scenario, the target, clients that record evidence, checks."""

    def __init__(self, scenario: Scenario, target: Target, run_id: str, seed: int,
                 receiver: Receiver | None = None, release: Callable[[str], None] | None = None) -> None:
        self.scenario = scenario
        self.target = target
        self.run_id = run_id
        self.seed = seed
        self.evidence = Evidence(Redactor(target.secrets))
        self.checks: list[Check] = []
        self.params: dict[str, Any] = dict(scenario.parameters)
        self._http: HttpClient | None = None
        self._ahttp: AsyncHttpClient | None = None
        self._marks = 0
        self._receiver = receiver
        self._inboxes: list[Inbox] = []
        self._cleanups: list[Callable[[], None]] = []
        self._release = release

    # -- settings -------------------------------------------------------------------------
    def option(self, name: str) -> Any:
        return self.target.option(self.scenario.profile, name)

    def timing(self, name: str) -> float:
        """A declared timer of this scenario's profile, multiplied by the scale."""
        return self.target.timings.get(self.scenario.profile, name)

    def window(self, declared: float) -> Window:
        return self.target.timings.window(declared)

    def latest(self, declared: float) -> float:
        """How long to wait for a timer declared at ``declared`` s before calling it NEVER."""
        return self.target.timings.latest(declared)

    def marker(self) -> str:
        """A unique mark for things this scenario emits, so foreign data can be told apart."""
        self._marks += 1
        return f"{self.run_id}/{self.scenario.id}/{self._marks}"

    # -- clients --------------------------------------------------------------------------
    def http(self) -> HttpClient:
        if self._http is None:
            self._http = HttpClient(self.evidence, token=self.target.token,
                                    timeout=self.target.request_timeout)
        return self._http

    def ahttp(self) -> AsyncHttpClient:
        if self._ahttp is None:
            self._ahttp = AsyncHttpClient(self.evidence, token=self.target.token,
                                          timeout=self.target.request_timeout)
        return self._ahttp

    def inbox(self, label: str = "") -> Inbox:
        """A fresh inbox on the run's receiver: its URL is what the target is told to call.
        The inbox token is a capability, redacted from every report; its deliveries become
        evidence and it is closed when the scenario ends, whatever the verdict."""
        if self._receiver is None:
            raise SetupFailed("the receiver is not running (a scenario needing it must declare needs: [receiver])")
        box = self._receiver.inbox(label or self.scenario.id)
        self.evidence.redactor.add(box.token)
        self._inboxes.append(box)
        return box

    def release(self, resource: str) -> None:
        """This scenario no longer uses ``resource`` (one of its declared resources): it has put
        back what it changed, so scenarios waiting for it may start before this one ends."""
        if resource not in self.scenario.resources:
            raise SetupFailed(f"{resource!r} is not a resource this scenario declares")
        if self._release is not None:
            self._release(resource)

    def on_close(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` when the scenario ends, whatever its verdict (errors are noted)."""
        self._cleanups.append(cleanup)

    # -- verdict building -----------------------------------------------------------------
    def check(self, name: str, ok: bool, message: str, *, expected: Any = None,
              observed: Any = None, level: Level | str | None = None, clause: str | None = None) -> bool:
        """Record one check at its own level (default: the scenario's) citing its clause (default:
        the scenario's); a failed MUST check ends the scenario with a FAIL. A failed SHOULD/MAY
        check returns False and the scenario goes on: code after it must not rely on it (use
        :meth:`require` for a precondition)."""
        lvl = Level(level) if level else self.scenario.level
        check = Check(name, bool(ok), lvl, message, self.evidence.redactor.json(expected),
                      self.evidence.redactor.json(observed), clause)
        self.checks.append(check)
        if not ok and lvl is Level.MUST:
            raise ConformanceFailure(check)
        return bool(ok)

    def require(self, name: str, ok: bool, message: str, **kwargs: Any) -> None:
        """A check that is also a precondition: when it fails the scenario stops, whatever its
        level (FAIL at MUST, WARN at SHOULD/MAY), instead of running on a false premise."""
        if not self.check(name, ok, message, **kwargs):
            raise StopScenario(self.checks[-1])

    def equal(self, name: str, expected: Any, observed: Any, message: str,
              level: Level | str | None = None, clause: str | None = None) -> bool:
        return self.check(name, expected == observed, message, expected=expected,
                          observed=observed, level=level, clause=clause)

    # -- timing checks: one helper records the window with the verdict, for the reports ----
    def timer_check(self, name: str, declared: float, observed: float | None, what: str, *,
                    clause: str | None = None, extra: dict[str, Any] | None = None) -> bool:
        """``observed`` seconds (None: never) against the window around ``declared`` (scaled)."""
        w = self.window(declared)
        verdict = w.judge(observed)
        self.evidence.timing(name, round_or_none(observed), round(w.lower, 4), round(w.upper, 4),
                             str(verdict), declared=round(declared, 4))
        text = {TimingVerdict.EARLY: f"{what}: too early (the target is too eager)",
                TimingVerdict.LATE: f"{what}: later than the declared time plus slack",
                TimingVerdict.NEVER: f"{what}: never happened (not enforced)",
                TimingVerdict.ON_TIME: f"{what}: within the declared window"}[verdict]
        return self.check(name, verdict is TimingVerdict.ON_TIME, text, clause=clause,
                          expected={"declared_s": round(declared, 4), "lower_s": round(w.lower, 4),
                                    "upper_s": round(w.upper, 4)},
                          observed={"after_s": round_or_none(observed), "verdict": str(verdict), **(extra or {})})

    def schedule_check(self, name: str, expected: list[float], observed: list[float], what: str, *,
                       clause: str | None = None, level: Level | str | None = None) -> bool:
        """Observed gaps against the expected gaps of a schedule, each with its own window."""
        timings = self.target.timings
        off = off_schedule(observed, expected, timings)
        windows = [timings.window(e) for e in expected]
        self.evidence.timing(name, [round(o, 4) for o in observed], [round(w.lower, 4) for w in windows],
                             [round(w.upper, 4) for w in windows], "on-time" if not off else "off",
                             declared=[round(e, 4) for e in expected])
        return self.check(name, not off, what, clause=clause, level=level,
                          expected=[f"{w.lower:.3f}..{w.upper:.3f}s" for w in windows],
                          observed={"gaps_s": [round(o, 4) for o in observed], "off_at": off})

    async def sleep(self, seconds: float, what: str) -> None:
        """A deliberate protocol wait, shown as progress when it is long."""
        with progress.waiting(what, seconds):
            await asyncio.sleep(seconds)

    def trusted(self, url: str, what: str) -> bool:
        """May credentials go to ``url``, a URL the target handed out? Only to the target's own
        origins and the declared trusted ones; elsewhere it is a failed SHOULD check naming the
        URL, and the caller sends nothing there."""
        if self.target.trusts(url):
            return True
        self.check("credentials-stay-at-origin", False,
                   f"{what} points to another origin: the harness sent no credentials there "
                   "(declare the origin with --trusted-origin if it belongs to the target)",
                   expected="a URL on the target's own origin or a declared trusted origin",
                   observed=url, level=Level.SHOULD)
        return False

    def skip(self, reason: str) -> None:
        raise NotApplicable(reason)

    def require_wait(self, seconds: float, what: str) -> None:
        """SKIP when the scenario must wait longer than the run's --max-wait."""
        if seconds > self.target.max_wait:
            raise NotApplicable(f"{what} needs a wait of {seconds:g}s, over --max-wait "
                                f"{self.target.max_wait:g}s")

    def close(self) -> None:
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Exception as exc:  # a failed cleanup is noted, it does not change the verdict
                self.evidence.note(f"cleanup failed: {type(exc).__name__}: {exc}")
        for box in self._inboxes:
            box.close()
            self.evidence.deliveries += [d.as_evidence(self.evidence.redactor, self.evidence.started)
                                         for d in box.deliveries()]
        if self._http is not None:
            self._http.close()


@dataclass
class Result:
    scenario: Scenario
    verdict: Verdict
    reason: str
    checks: list[Check]
    evidence: Evidence
    started_at: str
    duration: float
    failure: Check | None = None


def _needs_reason(scenario: Scenario, target: Target) -> str | None:
    if "control" in scenario.needs and not target.control_url:
        return "needs the control hook to emit events, and no --control URL was given"
    if "tenants" in scenario.needs and len(target.tenants) < 2:
        return "needs two declared tenants (--config tenants: [a, b]); fewer were declared"
    if "tenant-tokens" in scenario.needs and len(target.tenant_tokens) < 2:
        return "needs a token per tenant (--config tenant_tokens: {tenant: token}); fewer than two were declared"
    if "credentials" in scenario.needs and not (target.client_id and target.client_secret):
        return "needs a client id and secret (--client-id/--client-secret), none were given"
    if "clients" in scenario.needs and len(target.all_clients) < 2:
        return ("needs two declared clients (client_id/client_secret and --config clients: "
                "[{client_id, client_secret}]); fewer were declared")
    return None


async def _run_async(fn: Callable[[Context], Awaitable[None]], ctx: Context, limit: float) -> None:
    try:
        await asyncio.wait_for(fn(ctx), timeout=limit)
    finally:
        if ctx._ahttp is not None:
            await ctx._ahttp.aclose()


def run_scenario(scenario: Scenario, target: Target, *, run_id: str = "run", seed: int = 0,
                 receiver: Receiver | None = None, release: Callable[[str], None] | None = None) -> Result:
    started_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    t0 = time.monotonic()
    ctx = Context(scenario, target, run_id, seed, receiver, release)
    progress.SCENARIO.set(scenario.id)  # waits in this thread (and its event loop) name the scenario
    verdict: Verdict
    reason = ""
    failing: Check | None = None
    limit = target.max_wait + 10 * target.request_timeout
    try:
        skip = _needs_reason(scenario, target)
        if skip:
            raise NotApplicable(skip)
        fn = executors().get(scenario.kind)
        if fn is None:
            raise HarnessError(f"no executor for kind {scenario.kind!r}")
        if inspect.iscoroutinefunction(fn):
            asyncio.run(_run_async(fn, ctx, limit))
        else:
            fn(ctx)
        verdict = combine(ctx.checks)
        if not ctx.checks:
            verdict, reason = Verdict.ERROR, "the executor recorded no check: nothing was verified"
    except ConformanceFailure as exc:
        verdict, reason = Verdict.FAIL, str(exc)
        failing = exc.check
    except StopScenario as exc:  # a failed precondition at SHOULD/MAY: the misses decide
        verdict, reason = combine(ctx.checks), str(exc)
        failing = exc.check
    except NotApplicable as exc:
        verdict, reason = Verdict.SKIP, str(exc)
    except HarnessError as exc:
        verdict, reason = Verdict.ERROR, ctx.evidence.redactor.text(str(exc))
    except asyncio.TimeoutError:
        verdict, reason = Verdict.ERROR, f"scenario did not finish within {limit:g}s"
    except Exception as exc:  # a harness bug must surface as ERROR, never as PASS or FAIL
        verdict = Verdict.ERROR
        reason = f"harness error: {type(exc).__name__}"
        try:  # describing the error may fail too (a MemoryError again): the verdict stands
            reason = ctx.evidence.redactor.text_bounded(f"harness error: {type(exc).__name__}: {exc}", 2000)
            ctx.evidence.attach("traceback", traceback.format_exc(limit=20))
        except Exception:
            pass
    finally:
        ctx.close()
    failed = [c for c in ctx.checks if not c.passed]
    if verdict is Verdict.WARN and not reason:
        reason = "; ".join(c.message for c in failed)
    # the check that decided the verdict: the MUST that ended a FAIL, else the first miss
    failing = failing or (failed[0] if failed else None)
    return Result(scenario, verdict, reason, ctx.checks, ctx.evidence, started_at,
                  round(time.monotonic() - t0, 4), failing)
