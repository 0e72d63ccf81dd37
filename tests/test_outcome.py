"""The run's judgement as pure functions: how a SKIP is classified (from the real sources of the
reasons), which exit code wins, the baseline's two sides, --require, and report.json's stable
messages. No sockets: the end-to-end runs are in test_ci_gating.py."""
from __future__ import annotations

from typing import Any

import pytest

from harness.catalog import catalog
from harness.commands.compare import changed, diff_reports
from harness.outcome import (EXIT_CODES, NOT_APPLICABLE, NOT_TESTED, Requirement, classify_skip, judge)
from harness.profiles.callbacks.executions import Settings
from harness.reporting.summary import render_markdown
from harness.reporting.report_json import stable
from harness.runner import Context, _needs_reason
from harness.target import Target
from harness.verdicts import NotApplicable
from tests import report_samples

BARE = Target(base_url="http://127.0.0.1:9")  # no control hook, no tenants, no credentials
PROFILES = ["callbacks", "feed-polling", "ws-progress"]


@pytest.mark.parametrize("need", ["control", "tenants", "credentials"])
def test_every_missing_setting_reason_is_not_tested(need: str) -> None:
    scenario = next(s for s in catalog() if need in s.needs)
    reason = _needs_reason(scenario, BARE)
    assert reason is not None
    assert classify_skip(reason)["kind"] == NOT_TESTED


def test_max_wait_and_the_settings_hook_are_not_tested_but_declared_choices_are_not_applicable() -> None:
    scenario = next(s for s in catalog() if s.profile == "callbacks")
    ctx = Context(scenario, BARE, "run", 0)
    with pytest.raises(NotApplicable) as waited:
        ctx.require_wait(BARE.max_wait + 1, "a long timer")
    assert classify_skip(str(waited.value)) == {"kind": NOT_TESTED, "setting": "max_wait"}
    with pytest.raises(NotApplicable) as hook:
        Settings(ctx).require("changing the retry mode")
    assert classify_skip(str(hook.value)) == {"kind": NOT_TESTED, "setting": "control"}
    declared = "the target declares no template payloads (options.callbacks.template: false)"
    assert classify_skip(declared) == {"kind": NOT_APPLICABLE}


def _meta(sid: str, level: str = "MUST", profile: str = "feed-polling") -> dict[str, Any]:
    return {"id": sid, "title": sid, "profile": profile, "level": level, "requirement": "r", "kind": "k",
            "tags": [], "source": {"seed": "s", "clause": "c"}}


def _entry(sid: str, verdict: str, reason: str = "", **meta: str) -> dict[str, Any]:
    entry = {**_meta(sid, **meta), "verdict": verdict, "reason": reason, "duration_s": 0.1, "checks": [],
             "evidence": {"exchanges": []}}
    if verdict == "SKIP":
        entry["skip"] = classify_skip(reason)
    return entry


UNTESTED = "needs the control hook to emit events, and no --control URL was given"
NA = "the target declares no HTTPS-only setting"


def _judge(entries: list[dict[str, Any]], extra: tuple[str, ...] = (), **kwargs: Any) -> Any:
    selected = [_meta(e["id"], e["level"], e["profile"]) for e in entries] + [_meta(i) for i in extra]
    return judge(selected, {e["id"]: e for e in entries}, **kwargs)


@pytest.mark.parametrize(("entries", "kwargs", "code"), [
    ([_entry("a", "PASS"), _entry("b", "SKIP", UNTESTED)], {}, 0),
    ([_entry("a", "PASS"), _entry("b", "WARN")], {}, 0),
    ([_entry("a", "PASS"), _entry("b", "WARN")], {"strict": True}, 1),
    ([_entry("a", "FAIL"), _entry("b", "PASS")], {}, 1),
    ([_entry("a", "FAIL"), _entry("b", "ERROR")], {}, 3),
    ([_entry("a", "SKIP", UNTESTED), _entry("b", "SKIP", NA)], {}, 4),           # nothing executed
    ([_entry("a", "PASS"), _entry("b", "SKIP", UNTESTED)], {"strict": True}, 4),
    ([_entry("a", "FAIL"), _entry("b", "SKIP", UNTESTED)], {"strict": True}, 4),  # incomplete outranks FAIL
    ([_entry("a", "PASS"), _entry("b", "SKIP", NA)], {"strict": True}, 0),       # not applicable is fine
    ([_entry("a", "ERROR"), _entry("b", "SKIP", UNTESTED)], {"strict": True}, 3),
    ([_entry("a", "FAIL")], {"stopped": "SIGTERM"}, 143),
    ([_entry("a", "ERROR")], {"stopped": "SIGINT"}, 130),
])
def test_exit_code_precedence(entries: list[dict[str, Any]], kwargs: dict[str, Any], code: int) -> None:
    judged = _judge(entries, **kwargs)
    assert judged.exit_code == code
    assert (judged.reasons == []) == (code == 0)
    assert code in EXIT_CODES


def test_a_scenario_never_reported_is_not_run() -> None:
    judged = _judge([_entry("a", "PASS")], extra=("b", "c"), stopped="SIGINT")
    assert [m["id"] for m in judged.not_run] == ["b", "c"]
    assert judged.coverage["levels"]["MUST"] == {"selected": 3, "executed": 1, "not tested": 0,
                                                 "not applicable": 0, "error": 0, "not run": 2}
    assert judged.reasons == ["the run was interrupted by SIGINT: 2 of 3 selected scenarios did not run"]


def test_baseline_is_two_sided() -> None:
    entries = [_entry("known", "FAIL"), _entry("new", "FAIL"), _entry("fixed", "PASS"), _entry("warned", "WARN"),
               _entry("skipped", "SKIP", UNTESTED)]
    expected = {"known": "FAIL", "fixed": "FAIL", "warned": "FAIL", "skipped": "FAIL", "gone": "WARN"}
    judged = _judge(entries, expected=expected)
    assert judged.baseline == {"entries": 5, "known": ["known"], "new": ["new"],
                               "stale": [{"id": "fixed", "expected": "FAIL", "verdict": "PASS"},
                                         {"id": "warned", "expected": "FAIL", "verdict": "WARN"}],
                               "unused": ["gone", "skipped"]}
    assert judged.exit_code == 1
    only_known = _judge([_entry("known", "FAIL"), _entry("fixed", "PASS")], expected=expected)
    assert only_known.exit_code == 0
    assert _judge([_entry("known", "FAIL"), _entry("fixed", "PASS")], expected=expected, strict=True).exit_code == 1


def test_require_scopes() -> None:
    entries = [_entry("m", "PASS"), _entry("s", "SKIP", UNTESTED, level="SHOULD"),
               _entry("w", "SKIP", UNTESTED, profile="ws-progress")]
    must = Requirement.parse("MUST", PROFILES)
    assert _judge(entries, require=[must]).exit_code == 4  # w is a MUST not tested
    feed_must = Requirement.parse("feed-polling:MUST", PROFILES)
    assert _judge(entries, require=[feed_must]).exit_code == 0
    feed = Requirement.parse("feed-polling", PROFILES)
    judged = _judge(entries, require=[feed])
    assert judged.exit_code == 4 and judged.coverage["requirements"][0]["missing"] == ["s"]
    assert _judge(entries, require=[Requirement.parse("callbacks", PROFILES)]).coverage["requirements"][0] == {
        "require": "callbacks", "selected": 0, "met": False, "missing": []}
    for bad in ("fp-polling", "feed-polling:SHALL", "MUST:feed-polling"):
        with pytest.raises(ValueError, match="require"):
            Requirement.parse(bad, PROFILES)


def test_stable_messages_hide_run_specific_values() -> None:
    volatile = [("http://127.0.0.1:35045/_control", "{control}"), ("http://127.0.0.1:35045", "{target}")]
    text = ("POST http://127.0.0.1:35045/eventnotifications/x/complete for 0b7f3c1e-9a2d-4c55-8e1f-2a3b4c5d6e7f "
            "at 2026-11-23T16:18:46.123Z via http://127.0.0.1:40001/inbox of run 20261123T161846Z-e84a21")
    assert stable(text, volatile) == ("POST {target}/eventnotifications/x/complete for {uuid} at {time} via "
                                      "{loopback}/inbox of run {run}")


def test_diff_matches_checks_by_name() -> None:
    a = report_samples.mixed_report()
    assert not changed(diff_reports(a, a))
    b = report_samples.mixed_report()
    b["scenarios"][0]["checks"][0]["passed"] = False
    b["scenarios"][1]["verdict"] = "PASS"
    diff = diff_reports(a, b)
    assert [(v["id"], v["after"]) for v in diff["verdicts"]] == [("fp-problem-details", "PASS")]
    assert [(c["id"], c["change"]) for c in diff["checks"]] == [("ws-ping-interval", "changed")]


def test_markdown_escapes_target_text() -> None:
    report = report_samples.report([report_samples.hostile_scenario()])
    report["run"].update(exit_code=1, exit_meaning=EXIT_CODES[1], exit_reasons=["x | y"])
    report["scenarios"][0]["outcome"] = "failed"
    text = render_markdown(report)
    assert "<script>" not in text and "\\<script\\>" in text and "x \\| y" in text
