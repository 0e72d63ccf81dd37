"""Verdict logic and the runner's honesty: a scenario that verified nothing, or could not run, is
never a PASS or a FAIL. Fake executors are registered under test-only kinds ("test.*")."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from harness.catalog import Scenario, Source
from harness.evidence import REDACTED
from harness.runner import Context, Result, executor, executors, run_scenario
from harness.target import Target
from harness.timing import Timings
from harness.verdicts import (Check, ConformanceFailure, HarnessError, Level, SetupFailed,
                              TargetUnreachable, Verdict, combine)

TOKEN = "tok-very-secret-0042"
# nothing listens on port 9 (discard) on loopback: connections are refused at once
TARGET = Target(base_url="http://127.0.0.1:9", token=TOKEN, request_timeout=0.5, max_wait=2.0)
CALLS: list[str] = []


# -- combine ----------------------------------------------------------------------------------

def _check(passed: bool, level: str = "MUST", name: str = "c") -> Check:
    return Check(name, passed, Level(level), f"{name} {'ok' if passed else 'broken'}")


@pytest.mark.parametrize(("checks", "verdict"), [
    ([], Verdict.PASS),
    ([_check(True)], Verdict.PASS),
    ([_check(True), _check(True, "SHOULD"), _check(True, "MAY")], Verdict.PASS),
    ([_check(False)], Verdict.FAIL),
    ([_check(True), _check(False)], Verdict.FAIL),
    ([_check(False, "SHOULD")], Verdict.WARN),
    ([_check(False, "MAY")], Verdict.WARN),
    ([_check(False, "SHOULD"), _check(True)], Verdict.WARN),
    ([_check(False, "SHOULD"), _check(False, "MUST")], Verdict.FAIL),
    ([_check(False, "MAY"), _check(False, "SHOULD"), _check(False, "MUST")], Verdict.FAIL),
])
def test_combine(checks: list[Check], verdict: Verdict) -> None:
    assert combine(checks) is verdict


def test_check_as_dict_shows_expected_and_observed_only_when_failed() -> None:
    ok = Check("n", True, Level.MUST, "m", 1, 1).as_dict()
    assert ok == {"name": "n", "passed": True, "level": "MUST", "message": "m"}
    bad = Check("n", False, Level.SHOULD, "m", 204, 200).as_dict()
    assert bad["expected"] == 204 and bad["observed"] == 200 and bad["level"] == "SHOULD"


def test_level_strength_orders_must_should_may() -> None:
    assert Level.MUST.strength < Level.SHOULD.strength < Level.MAY.strength


# -- fake executors ---------------------------------------------------------------------------

@executor("test.no-check")
def _no_check(ctx: Context) -> None:
    CALLS.append("no-check")


@executor("test.harness-error")
def _harness_error(ctx: Context) -> None:
    ctx.check("before", True, "a check that passed before setup broke")
    raise SetupFailed(f"control hook answered 500 (token {TOKEN})")


@executor("test.random-exception")
def _random_exception(ctx: Context) -> None:
    ctx.check("before", True, "passed")
    {"a": 1}["missing-" + TOKEN]


@executor("test.should-fails")
def _should_fails(ctx: Context) -> None:
    ctx.check("status", True, "status is 404")
    ctx.check("media-type", False, "problem bodies should be application/problem+json",
              expected="application/problem+json", observed="application/json", level="SHOULD")
    ctx.check("may", True, "optional thing", level=Level.MAY)


@executor("test.must-fails")
def _must_fails(ctx: Context) -> None:
    ctx.check("first", True, "batch shape ok")
    ctx.equal("status", 204, 200, "an empty feed answers 204")
    CALLS.append("after-must")  # never reached


@executor("test.must-swallowed")
def _must_swallowed(ctx: Context) -> None:
    try:
        ctx.check("status", False, "an empty feed answers 204", expected=204, observed=200)
    except ConformanceFailure:
        pass  # a sloppy executor: the recorded check still decides
    ctx.check("other", True, "other ok")


@executor("test.should-then-must")
def _should_then_must(ctx: Context) -> None:
    ctx.check("media-type", False, "problem media type", expected="a", observed="b", level="SHOULD")
    ctx.check("status", False, "status is 404", expected=404, observed=500)


@executor("test.needs-control")
def _needs_control(ctx: Context) -> None:
    CALLS.append("needs-control ran")
    ctx.check("x", True, "x")


@executor("test.long-wait")
def _long_wait(ctx: Context) -> None:
    ctx.require_wait(ctx.target.max_wait + 1, "the idle timeout")
    CALLS.append("long-wait ran")
    ctx.check("x", True, "x")


@executor("test.short-wait")
def _short_wait(ctx: Context) -> None:
    ctx.require_wait(ctx.target.max_wait, "a wait of exactly max_wait")
    ctx.check("x", True, "x")


@executor("test.skip")
def _skip(ctx: Context) -> None:
    ctx.skip("the target declared no such feature")


@executor("test.passes")
def _passes(ctx: Context) -> None:
    ctx.check("a", True, "a")
    ctx.equal("b", [1, 2], [1, 2], "b")


@executor("test.unreachable")
def _unreachable(ctx: Context) -> None:
    ctx.http().request("GET", ctx.target.base_url + "/eventnotifications/v2/journey/next")
    ctx.check("never", True, "never reached")


@executor("test.async-passes")
async def _async_passes(ctx: Context) -> None:
    await asyncio.sleep(0)
    ctx.check("a", True, "async check")


@executor("test.async-hangs")
async def _async_hangs(ctx: Context) -> None:
    ctx.check("a", True, "started")
    await asyncio.sleep(30)


@executor("test.secret-in-check")
def _secret_in_check(ctx: Context) -> None:
    ctx.check("echo", False, "the body echoed the token", expected={"token": None},
              observed={"token": TOKEN, "note": f"Bearer {TOKEN}"})


@executor("test.context")
def _context(ctx: Context) -> None:
    ctx.check("marker", ctx.marker() != ctx.marker(), "markers are unique")
    ctx.check("timing", ctx.timing("ping_interval") == 3.0, "timings are scaled")
    ctx.check("option", ctx.option("stale_complete_status") == 404, "option defaults")
    ctx.check("params", ctx.params == {"feed": "journey"}, "parameters reach the executor")


def _scenario(kind: str, *, level: str = "MUST", needs: tuple[str, ...] = (),
              profile: str = "feed-polling") -> Scenario:
    return Scenario(id=f"t-{kind.split('.')[1]}", title=f"fake scenario {kind}", profile=profile,
                    level=Level(level), requirement="testing",
                    source=Source("protocol-notes.md", "A clause the fake scenario quotes."),
                    kind=kind, path=Path("/nonexistent.yaml"), needs=needs,
                    parameters={"feed": "journey"})


def _run(kind: str, target: Target = TARGET, **kwargs: Any) -> Result:
    return run_scenario(_scenario(kind, **kwargs), target, run_id="r1")


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    CALLS.clear()


# -- the runner -------------------------------------------------------------------------------

def test_duplicate_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="test.passes"):
        executor("test.passes")(_passes)
    assert executors()["test.passes"] is _passes


def test_real_profiles_register_their_kinds() -> None:
    assert any(k.startswith("feed-polling.") for k in executors())


def test_pass() -> None:
    result = _run("test.passes")
    assert result.verdict is Verdict.PASS
    assert result.reason == "" and result.failure is None
    assert [c.name for c in result.checks] == ["a", "b"]
    assert result.duration >= 0 and result.started_at.endswith("+00:00")


def test_no_check_is_an_error() -> None:
    result = _run("test.no-check")
    assert CALLS == ["no-check"]
    assert result.verdict is Verdict.ERROR
    assert "no check" in result.reason


def test_harness_error_is_an_error_with_its_reason_redacted() -> None:
    result = _run("test.harness-error")
    assert result.verdict is Verdict.ERROR
    assert result.reason.startswith("control hook answered 500")
    assert TOKEN not in result.reason and REDACTED in result.reason


def test_random_exception_is_an_error_with_a_reason_and_traceback() -> None:
    result = _run("test.random-exception")
    assert result.verdict is Verdict.ERROR
    assert result.reason.startswith("harness error: KeyError:")
    assert TOKEN not in result.reason
    assert "Traceback" in result.evidence.attachments["traceback"]
    assert TOKEN not in result.evidence.attachments["traceback"]


def test_unreachable_target_is_an_error_with_evidence() -> None:
    result = _run("test.unreachable")
    assert result.verdict is Verdict.ERROR
    assert "GET http://127.0.0.1:9/eventnotifications/v2/journey/next failed" in result.reason
    [exchange] = result.evidence.exchanges
    assert "error" in exchange and "status" not in exchange
    assert exchange["request_headers"]["Authorization"] == REDACTED


def test_target_unreachable_is_a_harness_error() -> None:
    assert issubclass(TargetUnreachable, HarnessError) and issubclass(SetupFailed, HarnessError)


def test_failed_should_is_a_warn() -> None:
    result = _run("test.should-fails")
    assert result.verdict is Verdict.WARN
    assert result.reason == "problem bodies should be application/problem+json"
    assert result.failure is not None and result.failure.name == "media-type"
    assert (result.failure.expected, result.failure.observed) == ("application/problem+json", "application/json")
    assert len(result.checks) == 3  # a SHOULD miss does not stop the scenario


def test_failed_must_is_a_fail_with_expected_and_observed() -> None:
    result = _run("test.must-fails")
    assert result.verdict is Verdict.FAIL
    assert result.reason == "an empty feed answers 204"
    assert result.failure is not None
    assert (result.failure.name, result.failure.expected, result.failure.observed) == ("status", 204, 200)
    assert "after-must" not in CALLS  # a failed MUST stops the scenario


def test_swallowed_must_failure_is_still_a_fail() -> None:
    result = _run("test.must-swallowed")
    assert result.verdict is Verdict.FAIL
    assert result.failure is not None and result.failure.observed == 200


def test_fail_shows_the_must_check_that_failed() -> None:
    result = _run("test.should-then-must")
    assert result.verdict is Verdict.FAIL
    assert result.reason == "status is 404"
    assert result.failure is not None and result.failure.name == "status"


def test_expected_and_observed_are_redacted() -> None:
    result = _run("test.secret-in-check")
    assert result.verdict is Verdict.FAIL
    assert result.failure is not None
    assert result.failure.observed == {"token": REDACTED, "note": f"Bearer {REDACTED}"}
    assert TOKEN not in repr(result.checks)


def test_needs_control_without_control_url_is_a_skip() -> None:
    result = _run("test.needs-control", needs=("control",))
    assert result.verdict is Verdict.SKIP
    assert "control" in result.reason
    assert CALLS == []  # the executor did not run
    with_control = Target(base_url=TARGET.base_url, control_url=TARGET.base_url + "/_control")
    assert _run("test.needs-control", with_control, needs=("control",)).verdict is Verdict.PASS


@pytest.mark.parametrize(("needs", "target", "word"), [
    (("tenants",), Target(base_url="http://127.0.0.1:9", tenants=("only-one",)), "tenants"),
    (("credentials",), Target(base_url="http://127.0.0.1:9", client_id="me"), "client id"),
])
def test_other_needs_are_skips(needs: tuple[str, ...], target: Target, word: str) -> None:
    result = _run("test.needs-control", target, needs=needs)
    assert result.verdict is Verdict.SKIP and word in result.reason
    assert CALLS == []


def test_require_wait_beyond_max_wait_is_a_skip() -> None:
    result = _run("test.long-wait")
    assert result.verdict is Verdict.SKIP
    assert "the idle timeout" in result.reason and "--max-wait 2s" in result.reason
    assert CALLS == []


def test_require_wait_up_to_max_wait_runs() -> None:
    assert _run("test.short-wait").verdict is Verdict.PASS


def test_skip_from_the_executor() -> None:
    result = _run("test.skip")
    assert result.verdict is Verdict.SKIP and result.reason == "the target declared no such feature"


def test_unknown_kind_is_an_error() -> None:
    result = _run("test.not-registered")
    assert result.verdict is Verdict.ERROR and "no executor for kind 'test.not-registered'" in result.reason


def test_async_executor() -> None:
    assert _run("test.async-passes").verdict is Verdict.PASS


def test_async_executor_that_hangs_is_an_error_within_the_limit() -> None:
    quick = Target(base_url="http://127.0.0.1:9", max_wait=0.2, request_timeout=0.02)
    result = _run("test.async-hangs", quick)
    assert result.verdict is Verdict.ERROR
    assert "did not finish within 0.4s" in result.reason
    assert result.duration < 5


def test_context_helpers() -> None:
    target = Target(base_url="http://127.0.0.1:9", timings=Timings({"feed-polling": {"ping_interval": 6.0}}, scale=0.5))
    result = _run("test.context", target)
    assert [c.name for c in result.checks if not c.passed] == []
    assert result.verdict is Verdict.PASS
