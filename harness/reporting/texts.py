"""Plain-text pieces every CI-facing writer shares, made from a report.json entry (already redacted):
the transcript, the failure text, and one line saying what the run made of a scenario."""
from __future__ import annotations

import json
from typing import Any

from harness.evidence import Evidence, Redactor

# outcome -> how a CI reader is told (report.json `outcome`, plus "not run")
OUTCOME_TEXT = {
    "passed": "PASS", "failed": "FAIL", "warned": "WARN (a SHOULD/MAY check missed; passes without --strict)",
    "error": "ERROR (could not execute)", "known": "known failure (expected by the baseline)",
    "not tested": "not tested (a setting was not given)", "not applicable": "not applicable (declared by the target)",
    "not run": "not run",
}


def transcript(evidence: dict[str, Any]) -> str:
    """The exchanges, frames, deliveries and notes of one scenario, in order, as text."""
    ev = Evidence(Redactor())
    ev.exchanges.extend(evidence.get("exchanges") or [])
    ev.frames.extend(evidence.get("frames") or [])
    lines = [ev.transcript_text()] if ev.exchanges or ev.frames else []
    for d in evidence.get("deliveries") or []:
        body = json.dumps(d.get("body"))[:2000] if d.get("body") is not None else ""
        lines.append(f"[{float(d.get('at') or 0):9.3f}s] delivered to the harness: {d.get('method')} "
                     f"{d.get('path')} -> answered {d.get('answer')} {body}".rstrip())
    lines += [f"note: {n}" for n in evidence.get("notes") or []]
    return "\n".join(line for line in lines if line)


def failure_text(entry: dict[str, Any]) -> str:
    """Verdict, clause, reason, and expected beside observed for every failed check."""
    source = entry.get("source") or {}
    lines = [f"{entry.get('verdict')}: {entry['id']} ({entry.get('level')}) {entry.get('title', '')}",
             f"clause ({source.get('seed', '')}): {' '.join(str(source.get('clause', '')).split())}",
             f"reason: {entry.get('reason_raw') or entry.get('reason', '')}"]
    for check in entry.get("checks") or []:
        if not check.get("passed"):
            lines.append(f"[{check.get('level')}] {check.get('name')}: {check.get('message_raw') or check.get('message')}")
            if check.get("clause"):
                lines.append(f"    clause: {' '.join(str(check['clause']).split())}")
            lines.append(f"    expected: {json.dumps(check.get('expected'), default=str)}")
            lines.append(f"    observed: {json.dumps(check.get('observed'), default=str)}")
    return "\n".join(lines)


def outcome_line(entry: dict[str, Any]) -> str:
    """One line: what happened to the scenario and why, for a message attribute or a status."""
    outcome = str(entry.get("outcome", "not run"))
    head = OUTCOME_TEXT.get(outcome, outcome)
    reason = entry.get("reason_raw") or entry.get("reason") or ""
    base = entry.get("baseline") or {}
    if outcome == "known":
        head = f"{entry['verdict']} expected by the baseline"
    elif outcome == "failed" and entry.get("verdict") == "WARN":
        head = "WARN (a SHOULD/MAY check missed; fails under --strict)"
    elif base.get("stale"):
        head += f"; stale baseline entry (expected {base['expected']}, got {entry['verdict']})"
    if entry.get("fails_run") and outcome == "not tested":
        head += "; fails the run (--strict or --require)"
    return f"{head}: {reason}" if reason else head
