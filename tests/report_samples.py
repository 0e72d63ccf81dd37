"""report.json dicts built by hand for the HTML tests: a FAIL with expected/observed, a WARN, a timing
FAIL with a retry schedule, a PASS, and a hostile scenario whose target text tries to run script."""
from __future__ import annotations

from typing import Any

HOSTILE = ("<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">"
           "<a href=\"javascript:window.__pwned=3\">click</a> \u202Egnp.exe \"'><svg onload=window.__pwned=4>")


def _scenario(sid: str, verdict: str, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": sid, "title": f"title of {sid}", "profile": "feed-polling", "level": "MUST",
        "requirement": "batch", "kind": "feed-polling.x", "tags": ["next"],
        "source": {"seed": "002_e3bd9b87737f08a2.txt", "clause": f"the clause of {sid}"},
        "verdict": verdict, "reason": f"{verdict.lower()} reason of {sid}", "started_at": "2025-01-01T00:00:00Z",
        "duration_s": 0.25, "checks": [{"name": "shape", "passed": True, "level": "MUST", "message": "ok"}],
        "failure": None, "evidence": {"exchanges": []},
    }
    entry.update(extra)
    return entry


def fail_scenario() -> dict[str, Any]:
    check = {"name": "empty feed answers 204", "passed": False, "level": "MUST",
             "message": "next on an empty feed answered 200", "expected": 204, "observed": 200,
             "clause": "If there are no events the response is 204 No Content."}
    return _scenario(
        "fp-empty-feed-204", "FAIL", reason="next on an empty feed answered 200 with an empty batch (expected 204)",
        checks=[check], failure={"check": check["name"], "message": check["message"],
                                 "expected": 204, "observed": {"status": 200, "body": {"batchId": "b-1", "notifications": []}}},
        evidence={"exchanges": [{
            "at": 0.012, "method": "GET", "url": "http://127.0.0.1:8080/api/feeds/journey/next",
            "request_headers": {"Authorization": "[REDACTED]", "X-TENANT-ID": "t1"}, "status": 200,
            "elapsed_ms": 3.2, "response_headers": {"Content-Type": "application/json"},
            "response_body": {"batchId": "b-1", "notifications": []}}]})


def warn_scenario() -> dict[str, Any]:
    check = {"name": "problem details", "passed": False, "level": "SHOULD",
             "message": "the 404 body is not application/problem+json", "expected": "application/problem+json",
             "observed": "text/plain"}
    return _scenario("fp-problem-details", "WARN", level="SHOULD", tags=["errors"],
                     reason="the 404 body is not application/problem+json (text/plain)", checks=[check])


def timing_fail_scenario() -> dict[str, Any]:
    """A callback retry schedule: the third gap came far too early, the fourth never came."""
    timing = {"name": "retry-backoff", "declared": 1.0, "lower": [0.9, 1.8, 3.6, 7.2],
              "upper": [1.3, 2.4, 4.6, 9.0], "expected": [1.0, 2.0, 4.0, 8.0],
              "observed": [1.02, 2.05, 0.4], "verdict": "early"}
    idle = {"name": "idle-close", "declared": 2.0, "lower": 1.9, "upper": 2.6, "observed": 4.8,
            "verdict": "late"}
    check = {"name": "retry schedule", "passed": False, "level": "MUST",
             "message": "retry 3 came 0.4 s after retry 2; the window was 3.6-4.6 s",
             "expected": [1.0, 2.0, 4.0, 8.0], "observed": [1.02, 2.05, 0.4]}
    return _scenario(
        "cb-retry-backoff", "FAIL", profile="callbacks", requirement="retries", tags=["timing", "retries"],
        reason="retry 3 came 0.4 s after retry 2; the window was 3.6-4.6 s", checks=[check],
        failure={"check": check["name"], "message": check["message"], "expected": check["expected"],
                 "observed": check["observed"]},
        evidence={"exchanges": [], "timings": [timing, idle], "deliveries": [
            {"at": 0.5, "method": "POST", "path": "/callbacks/job-1", "headers": {"Content-Type": "application/json"},
             "body": {"executionId": "job-1", "status": "RUNNING"}, "answer": 500},
            {"at": 1.52, "method": "POST", "path": "/callbacks/job-1", "headers": {}, "body": {"executionId": "job-1"},
             "answer": 500}]})


def pass_scenario() -> dict[str, Any]:
    return _scenario(
        "ws-ping-interval", "PASS", profile="ws-progress", requirement="ping", tags=["timing"],
        reason="", evidence={"exchanges": [], "frames": [
            {"at": 0.01, "socket": "main", "direction": "sent", "type": "text",
             "data": {"messageType": "SUBSCRIBE", "messagePayload": {}}},
            {"at": 1.0, "socket": "main", "direction": "received", "type": "ping"},
            {"at": 2.4, "socket": "main", "direction": "event", "type": "close", "code": 4000, "reason": "idle"}],
            "timings": [{"name": "ping-interval", "declared": 1.0, "lower": 0.9, "upper": 1.5,
                         "observed": 1.01, "verdict": "on-time"}]})


def hostile_scenario() -> dict[str, Any]:
    """Everything the target controls carries script, markup, a javascript: URL and a bidi override."""
    check = {"name": HOSTILE, "passed": False, "level": "MUST", "message": HOSTILE,
             "expected": 200, "observed": HOSTILE, "clause": HOSTILE}
    return _scenario(
        "ws-hostile-body", "FAIL", profile="ws-progress", reason="target said: " + HOSTILE, checks=[check],
        failure={"check": HOSTILE, "message": HOSTILE, "expected": 200, "observed": {HOSTILE: HOSTILE}},
        evidence={"exchanges": [{
            "at": 0.1, "method": "GET", "url": "javascript:window.__pwned=5//" + HOSTILE + "Z" * 900,
            "request_headers": {"X-Evil": HOSTILE, "X-Long": "Y" * 3000}, "status": 200, "elapsed_ms": 1.0,
            "response_headers": {HOSTILE: HOSTILE}, "response_body": {"token-like": "Q" * 5000, "e": HOSTILE}}],
            "frames": [{"at": 0.2, "socket": HOSTILE, "direction": "received", "type": HOSTILE,
                        "data": HOSTILE, "reason": HOSTILE}],
            "deliveries": [{"at": 0.3, "method": "POST", "path": HOSTILE, "headers": {HOSTILE: HOSTILE},
                            "body": HOSTILE, "answer": HOSTILE}],
            "notes": [HOSTILE], "attachments": {HOSTILE: HOSTILE},
            "timings": [{"name": HOSTILE, "declared": 1, "lower": 0.9, "upper": 1.2, "observed": 1.0,
                         "verdict": HOSTILE}]})


def report(scenarios: list[dict[str, Any]], **run: Any) -> dict[str, Any]:
    summary = {"total": len(scenarios), **{v: 0 for v in ("PASS", "FAIL", "WARN", "SKIP", "ERROR")}}
    for s in scenarios:
        summary[s["verdict"]] += 1
    return {
        "tool": {"name": "progress-conformance", "version": "0.1.0"},
        "run": {"id": "20250101-000000-abcd", "started": "2025-01-01T00:00:00+00:00",
                "finished": "2025-01-01T00:00:09+00:00", "duration_s": 9.1,
                "exit_code": 1 if summary["FAIL"] else 0, "strict": False, "level": "MUST", "seed": 7, **run},
        "target": {"base_url": "http://127.0.0.1:8080", "control_url": "http://127.0.0.1:8080/_control",
                   "bundled": False, "tenants": ["t1"], "faults": [], "auth": "token",
                   "timings": {"ws-progress": {"ping_interval": 1.0, "idle_timeout": 2.0,
                                               "token_lifetime": 6.0, "app_message_timeout": 3.0},
                               "callbacks": {"retry_initial": 1.0, "retry_factor": 2.0},
                               "scale": 1.0, "tolerance": 0.1, "slack": 0.5},
                   "options": {"ws-progress": {"idle_close_code": 4000, "submit_status": [201]},
                               "feed-polling": {"stale_complete_status": 409}},
                   "request_timeout": 10.0, "max_wait": 120.0},
        "coverage": {"selected": 5, "executed": 4, "not_executed": [], "profiles": {}, "levels": {
            "MUST": {"selected": 4, "executed": 3, "not tested": 1, "not applicable": 0, "error": 0, "not run": 0},
            "SHOULD": {"selected": 1, "executed": 1, "not tested": 0, "not applicable": 0, "error": 0, "not run": 0}}},
        "summary": summary,
        "scenarios": scenarios,
    }


def mixed_report() -> dict[str, Any]:
    """One FAIL, one WARN, one timing FAIL, one PASS (in an order the page must rearrange)."""
    return report([pass_scenario(), warn_scenario(), fail_scenario(), timing_fail_scenario()])
