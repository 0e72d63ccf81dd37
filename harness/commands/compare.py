"""`conformance baseline REPORT` and `conformance diff A B`: reading report.json files back.

The diff matches scenarios by id and checks by name (the n-th check of a name with the n-th); a
check changed when it passed in one run and failed in the other, or its level or stable message
changed. Evidence, timings and run facts are not compared: they differ between any two runs.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from harness.baseline import dump_baseline, from_report
from harness.outcome import EXIT_USAGE
from harness.reporting.report_json import REPORT_SCHEMA
from harness.schemas import registry


def _checks(entry: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    seen: dict[str, int] = {}
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for check in entry.get("checks") or []:
        n = seen.get(check["name"], 0)
        seen[check["name"]] = n + 1
        out[(check["name"], n)] = check
    return out


def _state(check: dict[str, Any]) -> dict[str, Any]:
    return {"passed": check.get("passed"), "level": check.get("level"), "message": check.get("message")}


def diff_reports(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Scenarios added, removed and whose verdict changed, and the checks that changed."""
    old = {e["id"]: e for e in a.get("scenarios") or []}
    new = {e["id"]: e for e in b.get("scenarios") or []}
    not_run_old = {m["id"] for m in a.get("not_run") or []}
    not_run_new = {m["id"] for m in b.get("not_run") or []}
    verdicts, checks = [], []
    for sid in [i for i in old if i in new]:
        before, after = old[sid], new[sid]
        if before["verdict"] != after["verdict"]:
            verdicts.append({"id": sid, "before": before["verdict"], "after": after["verdict"],
                             "reason": after.get("reason", "")})
        c_old, c_new = _checks(before), _checks(after)
        for key in [k for k in c_old if k not in c_new]:
            checks.append({"id": sid, "check": key[0], "change": "removed", "before": _state(c_old[key])})
        for key in [k for k in c_new if k not in c_old]:
            checks.append({"id": sid, "check": key[0], "change": "added", "after": _state(c_new[key])})
        for key in [k for k in c_old if k in c_new and _state(c_old[k]) != _state(c_new[k])]:
            checks.append({"id": sid, "check": key[0], "change": "changed",
                           "before": _state(c_old[key]), "after": _state(c_new[key])})
    return {
        "a": a.get("run", {}).get("id"), "b": b.get("run", {}).get("id"),
        "added": [{"id": i, "verdict": new[i]["verdict"]} for i in new if i not in old],
        "removed": [{"id": i, "verdict": old[i]["verdict"], "not_run_in_b": i in not_run_new}
                    for i in old if i not in new],
        "verdicts": verdicts, "checks": checks,
        "not_run": {"a": sorted(not_run_old), "b": sorted(not_run_new)},
    }


def changed(diff: dict[str, Any]) -> bool:
    return bool(diff["added"] or diff["removed"] or diff["verdicts"] or diff["checks"])


def render_diff(diff: dict[str, Any]) -> str:
    lines = [f"conformance diff {diff['a']} -> {diff['b']}"]
    if not changed(diff):
        return "\n".join(lines + ["no change: the same scenarios, verdicts and checks"]) + "\n"
    for v in diff["verdicts"]:
        lines.append(f"verdict  {v['id']}: {v['before']} -> {v['after']}" + (f"  ({v['reason']})" if v["reason"] else ""))
    for s in diff["added"]:
        lines.append(f"new      {s['id']}: {s['verdict']}")
    for s in diff["removed"]:
        lines.append(f"removed  {s['id']}: was {s['verdict']}" + (" (not run in B)" if s["not_run_in_b"] else ""))
    for c in diff["checks"]:
        if c["change"] == "changed":
            b, a = c["before"], c["after"]
            what = ", ".join(f"{k} {b[k]!r} -> {a[k]!r}" for k in ("passed", "level", "message") if b[k] != a[k])
            lines.append(f"check    {c['id']} / {c['check']}: {what}")
        else:
            lines.append(f"check    {c['id']} / {c['check']}: {c['change']}")
    counts = (f"{len(diff['verdicts'])} verdict(s) changed, {len(diff['added'])} new, {len(diff['removed'])} removed, "
              f"{len(diff['checks'])} check(s) changed")
    return "\n".join(lines + [counts]) + "\n"


class ReportError(Exception):
    """A file that is not a readable report.json (exit 2)."""


def read_report(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), list):
        raise ReportError(f"{path}: not a report.json (no scenarios list)")
    issues = registry().issues(REPORT_SCHEMA, data)
    if issues:  # an older report still diffs; say so
        print(f"conformance: note: {path} is not valid by the current report schema ({issues[0]})", file=sys.stderr)
    return data


def baseline_command(report_path: str, output: str | None) -> int:
    try:
        text = dump_baseline(from_report(read_report(report_path)))
    except ReportError as exc:
        print(f"conformance baseline: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"conformance baseline: {output}: cannot write: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    print(f"baseline written: {output}", file=sys.stderr)
    return 0


def diff_command(a: str, b: str, *, as_json: bool = False) -> int:
    """Exit 0 when nothing changed, 1 when something did, 2 when a file is not a report."""
    try:
        diff = diff_reports(read_report(a), read_report(b))
    except ReportError as exc:
        print(f"conformance diff: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(json.dumps(diff, indent=2) + "\n" if as_json else render_diff(diff))
    return 1 if changed(diff) else 0
