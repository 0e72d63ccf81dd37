"""`conformance diff A B`: what changed between two report.json files.

Scenarios are matched by id and checks by name (the n-th check of a name with the n-th); a check
changed when it passed in one run and failed in the other, or its level or stable message changed.
Evidence, timings and run facts are not compared: they differ between any two runs.
"""
from __future__ import annotations

from typing import Any


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
