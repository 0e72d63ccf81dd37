"""A Hypothesis RuleBasedStateMachine of one feed against a model of it.

Random emit / next / re-read / complete / stale complete / discardAll sequences; a mismatch with the
model is a FAIL whose shrunk counterexample (the minimal list of steps) goes into the evidence.
"""
from __future__ import annotations

import time
from typing import Any

from hypothesis import HealthCheck, Phase, assume, settings, strategies as st
from hypothesis.errors import Flaky, Unsatisfiable
from hypothesis import seed as hypothesis_seed
from hypothesis.reporting import with_reporter
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test

from harness.evidence import Evidence
from harness.progress import waiting
from harness.profiles.feed_polling.feed import FeedClient, parse_batch
from harness.runner import Context, executor
from harness.transport.http import HttpClient
from harness.verdicts import HarnessError


DEFAULT_SEED = 20261123


class ModelMismatch(AssertionError):
    """The target disagreed with the model of the feed."""


class Clock:
    """The wall-clock bound: past the deadline, new examples are abandoned (assume(False)),
    unless a mismatch was already found, whose shrinking must be allowed to finish."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.failed = False
        self.cut = False

    def gate(self) -> None:
        if not self.failed and time.monotonic() > self.deadline:
            self.cut = True
            assume(False)


def readable(steps: list[str], mismatch: str) -> str:
    """A counterexample as a numbered step list a person reads, ending with what disagreed."""
    return "\n".join([f"{i}. {step}" for i, step in enumerate(steps, 1)] + [f"-> {mismatch}"])


def machine_for(ctx: Context, feed: str, runs: list[Evidence], clock: Clock,
                failures: list[str] | None = None) -> type[RuleBasedStateMachine]:
    found: list[str] = failures if failures is not None else []
    stale_status = int(ctx.option("stale_complete_status"))

    class FeedMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.evidence = Evidence(ctx.evidence.redactor, started=ctx.evidence.started)
            runs.append(self.evidence)
            self.http = HttpClient(self.evidence, token=ctx.target.token, timeout=ctx.target.request_timeout)
            self.fc = FeedClient(ctx, http=self.http)
            self.pending: list[str | None] = []
            self.open: tuple[str, list[str | None]] | None = None
            self.done_ids: list[str] = []
            self.steps: list[str] = []

        def step(self, label: str) -> None:
            clock.gate()
            self.steps.append(label)

        def teardown(self) -> None:
            self.http.close()

        def expect(self, ok: bool, message: str, expected: Any, observed: Any) -> None:
            if not ok:
                clock.failed = True
                mismatch = f"{message}: expected {expected!r}, observed {observed!r}"
                found.append(readable(self.steps, mismatch))
                raise ModelMismatch(mismatch)

        @initialize()
        def start_empty(self) -> None:
            self.step("start: empty the feed")
            self.fc.empty(feed)

        @rule(n=st.integers(min_value=1, max_value=12))  # over 10 at once: the batch limit is met early
        def emit(self, n: int) -> None:
            self.step(f"emit {n} event(s)")
            self.pending += self.fc.emit(feed, n)

        @rule()
        def next(self) -> None:
            self.step("next (read or re-read the open batch)")
            r = self.fc.next(feed)
            if not self.pending:
                self.expect(r.status_code == 204, "next on an empty feed", 204, r.status_code)
                return
            batch = parse_batch(r) if r.status_code == 200 else None
            self.expect(batch is not None, "next with pending events", "200 with a batch", r.status_code)
            assert batch is not None
            if self.open is None:
                size = len(batch.marks)
                self.expect(1 <= size <= 10, "batch size", "1..10", size)
                self.expect(batch.marks == self.pending[:size], "batch holds the oldest pending events, in order",
                            self.pending[:size], batch.marks)
                self.open = (batch.batch_id, batch.marks)
            else:
                self.expect((batch.batch_id, batch.marks) == self.open, "re-read returns the same batch",
                            self.open, (batch.batch_id, batch.marks))
            assert self.open is not None
            more = len(self.pending) > len(self.open[1])
            self.expect(batch.more_available is more, "moreAvailable", more, batch.more_available)

        @precondition(lambda self: self.open is not None)
        @rule()
        def complete(self) -> None:
            self.step("complete the open batch")
            assert self.open is not None
            batch_id, marks = self.open
            r = self.fc.complete(feed, batch_id)
            self.expect(r.status_code == 200, "complete the open batch", 200, r.status_code)
            self.pending = self.pending[len(marks):]
            self.done_ids.append(batch_id)
            self.open = None

        @precondition(lambda self: bool(self.done_ids))
        @rule(data=st.data())
        def stale_complete(self, data: st.DataObject) -> None:
            self.step("complete an already completed batch")
            batch_id = data.draw(st.sampled_from(self.done_ids), label="completed batchId")
            r = self.fc.complete(feed, batch_id)
            self.expect(r.status_code == stale_status, "complete an already completed batch",
                        stale_status, r.status_code)

        @rule()
        def discard_all(self) -> None:
            self.step("discardAll")
            r = self.fc.discard_all(feed)
            self.expect(r.status_code == 200, "discardAll", 200, r.status_code)
            self.pending, self.open = [], None

    return FeedMachine


@executor("feed-polling.stateful")
def stateful(ctx: Context) -> None:
    feed = str(ctx.params.get("feed", "association"))
    runs: list[Evidence] = []
    clock = Clock(float(ctx.option("stateful_seconds")))
    failures: list[str] = []
    machine = machine_for(ctx, feed, runs, clock, failures)
    # a fixed seed (--seed, or the default) keeps runs reproducible; derandomize would explore
    # "simplest first", which favours one rule (discardAll) and misses re-read bugs
    machine = hypothesis_seed(ctx.seed or DEFAULT_SEED)(machine)
    conf = settings(max_examples=int(ctx.option("stateful_examples")),
                    stateful_step_count=int(ctx.option("stateful_steps")), deadline=None,
                    database=None, derandomize=False, print_blob=False,
                    phases=[p for p in Phase if ctx.option("stateful_shrink") or p is not Phase.shrink],
                    suppress_health_check=list(HealthCheck))
    report: list[object] = []
    started = time.monotonic()
    failure: ModelMismatch | None = None
    flaky = False
    try:
        with with_reporter(report.append), waiting("random feed sequences against the model",
                                                   float(ctx.option("stateful_seconds"))):
            run_state_machine_as_test(machine, settings=conf)
    except ModelMismatch as exc:
        failure = exc
    except Flaky:  # a violation that replaying could not reproduce: a fact about the target
        flaky = True
    except Unsatisfiable as exc:
        raise HarnessError(f"the stateful test's time bound ({ctx.option('stateful_seconds')}s) "
                           "passed before one example completed") from exc
    elapsed = time.monotonic() - started
    if clock.cut:
        ctx.evidence.note(f"time bound {ctx.option('stateful_seconds')}s reached: fewer examples than asked ran")
    ctx.evidence.note(f"{len(runs)} state machine runs in {elapsed:.2f}s "
                      f"(max_examples={conf.max_examples}, steps<={conf.stateful_step_count})")
    if runs:  # the last run is the shrunk counterexample when one failed
        ctx.evidence.exchanges.extend(runs[-1].exchanges[-300:])
    # the shrunk counterexample is the last failing run; when replay could not reproduce the
    # violation (a target that is not deterministic), the first failing sequence is the evidence
    steps = (failures[0] if flaky else failures[-1]) if failures else ""
    if flaky:
        ctx.evidence.note("the target did not behave the same when the failing sequence was replayed "
                          "(not deterministic): the first failing sequence is reported, unshrunk")
    if steps:
        ctx.evidence.attach("counterexample", steps)
    ok = failure is None and not flaky
    ctx.check("feed-model", ok,
              "random sequences of emit, next, re-read, complete, stale complete and discardAll "
              "agree with the model of a FIFO feed",
              expected="no disagreement", observed=None if ok else {"counterexample": steps.splitlines()})
