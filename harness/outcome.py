"""How a run ended, judged once from its scenarios: coverage, the baseline, and the exit code.

Pure functions over the report.json scenario entries (plain data), so the controller of a
parallel run judges exactly as a single process does, and the tests need no sockets.

- A scenario is *executed* when it has a PASS, FAIL or WARN verdict.
- A SKIP is *not tested* when a setting was not given (no control hook, one tenant, no client
  credentials, a wait over --max-wait): the harness could have tested it. It is *not applicable*
  when the target's declared options rule the behaviour out. ``UNTESTED`` below is the one table
  that tells them apart.
- A scenario selected but never run (the run was interrupted or stopped early) is *not run*.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.verdicts import Level

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_ERROR, EXIT_COVERAGE = 0, 1, 2, 3, 4
EXIT_SIGINT, EXIT_SIGTERM = 130, 143
SIGNAL_EXIT = {"SIGINT": EXIT_SIGINT, "SIGTERM": EXIT_SIGTERM}

# code -> meaning; the README's table, `conformance --help` and report.json say the same
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "every applicable scenario passed (SKIP and WARN allowed) and at least one was executed",
    EXIT_FAIL: "at least one FAIL not expected by --baseline; with --strict also a WARN (a missed SHOULD) "
               "or a stale baseline entry",
    EXIT_USAGE: "usage or configuration error (the message names the bad setting)",
    EXIT_ERROR: "an ERROR: target unreachable, a setup step failed, or a scenario could not run "
                "(outranks 1 and 4: the run is incomplete)",
    EXIT_COVERAGE: "coverage short: nothing was executed, or scenarios were not tested for want of a "
                   "setting under --strict, or a --require scope did not run in full (outranks 1)",
    EXIT_SIGINT: "interrupted by SIGINT (Ctrl-C); every report is written and lists what did not run",
    EXIT_SIGTERM: "terminated by SIGTERM (e.g. a CI timeout); every report is written and lists what did not run",
}

# SKIP reasons that mean "not tested: a setting was not given", and the setting. They come from
# harness/runner.py (_needs_reason, Context.require_wait) and the callbacks settings hook.
UNTESTED: tuple[tuple[str, str], ...] = (
    ("no --control URL was given", "control"),
    ("needs two declared tenants", "tenants"),
    ("needs a client id and secret", "credentials"),
    ("over --max-wait", "max_wait"),
    ("needs the callback settings hook", "control"),
    ("needs a token per tenant", "tenant_tokens"),
    ("needs two declared clients", "clients"),
    ("declares no bearer token", "token"),
)
NOT_TESTED, NOT_APPLICABLE, NOT_RUN, ERROR = "not tested", "not applicable", "not run", "error"
BASELINE_VERDICTS = ("FAIL", "WARN", "ERROR")


def classify_skip(reason: str) -> dict[str, Any]:
    """``{"kind": "not tested", "setting": ...}`` or ``{"kind": "not applicable"}`` for a SKIP."""
    for marker, setting in UNTESTED:
        if marker in reason:
            return {"kind": NOT_TESTED, "setting": setting}
    return {"kind": NOT_APPLICABLE}


@dataclass(frozen=True)
class Requirement:
    """``--require PROFILE``, ``--require LEVEL`` or ``--require PROFILE:LEVEL``: every selected
    scenario in scope (the level and stronger) must be executed or declared not applicable."""

    text: str
    profile: str | None
    level: Level

    @classmethod
    def parse(cls, text: str, profiles: list[str]) -> Requirement:
        head, _, tail = text.partition(":")
        if head in Level.__members__ and not tail:
            return cls(text, None, Level(head))
        if head not in profiles:
            raise ValueError(f"require: {text!r}: not a profile ({', '.join(profiles)}) or level (MUST, SHOULD, MAY)")
        if tail and tail not in Level.__members__:
            raise ValueError(f"require: {text!r}: {tail!r} is not a level (MUST, SHOULD, MAY)")
        return cls(text, head, Level(tail or "MAY"))

    def covers(self, meta: dict[str, Any]) -> bool:
        return (self.profile in (None, meta["profile"])
                and Level(meta["level"]).strength <= self.level.strength)


@dataclass
class Judgement:
    exit_code: int
    reasons: list[str]                     # why the run is not a success, most serious first
    scenarios: list[dict[str, Any]]        # the entries, in selection order, with outcome and fails_run
    not_run: list[dict[str, Any]]          # selected scenarios that produced no verdict
    coverage: dict[str, Any]
    baseline: dict[str, Any] | None = None
    summary: dict[str, int] = field(default_factory=dict)

    @property
    def exit_reason(self) -> str:
        return self.reasons[0] if self.reasons else EXIT_CODES[EXIT_OK]


def _outcome(entry: dict[str, Any], strict: bool, expected: str | None) -> str:
    verdict = entry["verdict"]
    if expected is not None and verdict == expected:
        return "known"
    if verdict == "SKIP":
        return str(entry.get("skip", classify_skip(entry.get("reason", "")))["kind"])
    return {"PASS": "passed", "FAIL": "failed", "WARN": "failed" if strict else "warned",
            "ERROR": "error"}[verdict]


def _why_not(entry: dict[str, Any], outcome: str) -> str | None:
    """How an entry counts in coverage when it was not executed (None: it was executed)."""
    if entry["verdict"] in ("PASS", "FAIL", "WARN"):
        return None
    if entry["verdict"] == "ERROR":
        return ERROR
    return outcome if outcome in (NOT_TESTED, NOT_APPLICABLE) else NOT_APPLICABLE


def _counts(metas: list[dict[str, Any]], why: dict[str, str | None], key: str) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for meta in metas:
        row = table.setdefault(meta[key], {"selected": 0, "executed": 0, NOT_TESTED: 0, NOT_APPLICABLE: 0,
                                           ERROR: 0, NOT_RUN: 0})
        row["selected"] += 1
        row[why[meta["id"]] or "executed"] += 1
    return table


def judge(selected: list[dict[str, Any]], entries: dict[str, dict[str, Any]], *, strict: bool = False,
          require: list[Requirement] | None = None, expected: dict[str, str] | None = None,
          stopped: str | None = None, other_failures: int = 0) -> Judgement:
    """Judge a run. ``selected``: every selected scenario's metadata in order; ``entries``: the
    report.json entries by id (a selected id without one did not run); ``expected``: the
    baseline's verdicts by id; ``stopped``: SIGINT, SIGTERM or why the run stopped early."""
    expected = expected or {}
    scenarios: list[dict[str, Any]] = []
    not_run: list[dict[str, Any]] = []
    why: dict[str, str | None] = {}
    for meta in selected:
        entry = entries.get(meta["id"])
        if entry is None:
            why[meta["id"]] = NOT_RUN
            reason = f"the run was {'interrupted by ' + stopped if stopped in SIGNAL_EXIT else 'stopped early'}"
            not_run.append({**meta, "reason": reason})
            continue
        outcome = _outcome(entry, strict, expected.get(meta["id"]))
        entry = {**entry, "outcome": outcome, "fails_run": outcome in ("failed", "error")}
        if meta["id"] in expected:
            entry["baseline"] = {"expected": expected[meta["id"]],
                                 "stale": entry["verdict"] not in ("SKIP", expected[meta["id"]])}
        why[meta["id"]] = _why_not(entry, outcome)
        scenarios.append(entry)

    requirements: list[dict[str, Any]] = []
    for req in require or []:
        scope = [m for m in selected if req.covers(m)]
        missing = [m["id"] for m in scope if why[m["id"]] in (NOT_TESTED, ERROR, NOT_RUN)]
        requirements.append({"require": req.text, "selected": len(scope), "met": bool(scope) and not missing,
                             "missing": missing})
    required_missing = {i for r in requirements for i in r["missing"]}
    for entry in scenarios:
        if entry["outcome"] == NOT_TESTED and (strict or entry["id"] in required_missing):
            entry["fails_run"] = True
        if strict and entry.get("baseline", {}).get("stale"):
            entry["fails_run"] = True

    executed = sum(1 for w in why.values() if w is None)
    details = {e["id"]: _detail(e) for e in scenarios} | {n["id"]: {"reason": n["reason"]} for n in not_run}
    not_tested = [e for e in scenarios if e["outcome"] == NOT_TESTED]
    stale = [e for e in scenarios if e.get("baseline", {}).get("stale")]
    coverage = {
        "selected": len(selected), "executed": executed,
        "levels": _counts(selected, why, "level"), "profiles": _counts(selected, why, "profile"),
        "not_executed": [{"id": m["id"], "profile": m["profile"], "level": m["level"], "why": why[m["id"]],
                          **details[m["id"]]}
                         for m in selected if why[m["id"]] is not None],
        "requirements": requirements,
    }
    baseline = None
    if expected:
        ids = {m["id"] for m in selected}
        baseline = {"entries": len(expected),
                    "known": [e["id"] for e in scenarios if e["outcome"] == "known"],
                    "new": [e["id"] for e in scenarios if e["outcome"] in ("failed", "error")],
                    "stale": [{"id": e["id"], "expected": e["baseline"]["expected"], "verdict": e["verdict"]}
                              for e in stale],
                    "unused": sorted(i for i in expected if i not in ids or why.get(i) in (NOT_RUN, NOT_TESTED,
                                                                                         NOT_APPLICABLE))}

    reasons: list[tuple[int, str]] = []
    if stopped in SIGNAL_EXIT:
        reasons.append((SIGNAL_EXIT[stopped], f"the run was {'interrupted' if stopped == 'SIGINT' else 'terminated'} "
                                              f"by {stopped}: {len(not_run)} of {len(selected)} selected scenarios did not run"))
    errors = [e["id"] for e in scenarios if e["outcome"] == "error"]
    if errors:
        reasons.append((EXIT_ERROR, f"{len(errors)} scenario(s) could not execute (ERROR): {_ids(errors)}"))
    if selected and not executed:
        reasons.append((EXIT_COVERAGE, f"nothing was executed: none of the {len(selected)} selected scenarios "
                                       "has a PASS, FAIL or WARN verdict"))
    if strict and not_tested:
        reasons.append((EXIT_COVERAGE, f"--strict: {len(not_tested)} scenario(s) not tested because a setting was "
                                       f"not given: {_ids([e['id'] for e in not_tested])}"))
    for r in requirements:
        if not r["met"]:
            what = f"{len(r['missing'])} not executed: {_ids(r['missing'])}" if r["missing"] else "no scenario selected"
            reasons.append((EXIT_COVERAGE, f"--require {r['require']}: {what}"))
    failed = [e["id"] for e in scenarios if e["outcome"] == "failed"]
    if failed:
        what = "FAIL (or WARN under --strict)" if strict else "FAIL"
        reasons.append((EXIT_FAIL, f"{len(failed)} scenario(s) {what}{' not in the baseline' if expected else ''}: "
                                   f"{_ids(failed)}"))
    if strict and stale:
        reasons.append((EXIT_FAIL, f"--strict: {len(stale)} stale baseline entr{'y' if len(stale) == 1 else 'ies'} "
                                   f"(the verdict changed; update the baseline): {_ids([e['id'] for e in stale])}"))
    if other_failures:
        reasons.append((EXIT_FAIL, f"{other_failures} test(s) outside the scenarios failed"))
    rank = [EXIT_SIGTERM, EXIT_SIGINT, EXIT_ERROR, EXIT_COVERAGE, EXIT_FAIL]
    reasons.sort(key=lambda r: rank.index(r[0]))
    summary = {"total": len(scenarios), **{v: sum(1 for e in scenarios if e["verdict"] == v)
                                           for v in ("PASS", "FAIL", "WARN", "SKIP", "ERROR")},
               "not_run": len(not_run)}
    return Judgement(reasons[0][0] if reasons else EXIT_OK, [text for _, text in reasons], scenarios, not_run,
                     coverage, baseline, summary)


def _detail(entry: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"reason": entry.get("reason", "")}
    if entry.get("skip", {}).get("setting"):
        out["setting"] = entry["skip"]["setting"]
    return out


def _ids(ids: list[str], limit: int = 8) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
