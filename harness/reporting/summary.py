"""The terminal's conformance summary, printed once (by the controller of a parallel run) from
report.json: every scenario, the counts, coverage by level, the exit code and why."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from harness.outcome import NOT_APPLICABLE, NOT_RUN, NOT_TESTED

_SHOWN = {"known": "known", "not tested": "untested", "not applicable": "n/a"}


def _line(entry: dict[str, Any], width: int) -> str:
    verdict = entry.get("verdict", "NOT RUN")
    note = _SHOWN.get(str(entry.get("outcome")), "")
    if (entry.get("baseline") or {}).get("stale"):
        note = "stale"
    reason = "" if verdict == "PASS" else " ".join(str(entry.get("reason_raw") or entry.get("reason", "")).split())
    duration = f"{float(entry['duration_s']):6.2f}s" if "duration_s" in entry else "      -"
    return f"{entry['id']:<{width}}  {verdict:<7}  {entry.get('level', ''):<6}  {duration}  {note:<8}  {reason[:100]}".rstrip()


def coverage_lines(report: dict[str, Any]) -> list[str]:
    coverage = report.get("coverage") or {}
    lines = []
    for level, row in (coverage.get("levels") or {}).items():
        parts = [f"{row.get(k)} {k}" for k in (NOT_TESTED, NOT_APPLICABLE, "error", NOT_RUN) if row.get(k)]
        lines.append(f"  {level:<6} {row['executed']} of {row['selected']} executed" + (f" ({', '.join(parts)})" if parts else ""))
    settings = Counter(n.get("setting") for n in coverage.get("not_executed") or [] if n.get("why") == NOT_TESTED)
    if settings:
        lines.append("  not tested for want of: " + ", ".join(f"{s} ({n})" for s, n in settings.most_common()))
    for req in coverage.get("requirements") or []:
        lines.append(f"  --require {req['require']}: " + ("met" if req["met"] else f"NOT met, {len(req['missing'])} not executed"))
    return lines


def terminal_summary(tr: Any, report: dict[str, Any], out: Path | None, written: list[Path]) -> None:
    entries = list(report.get("scenarios") or []) + [{**m, "verdict": "NOT RUN"} for m in report.get("not_run") or []]
    run, summary = report["run"], report.get("summary") or {}
    tr.section("conformance summary")
    width = max((len(e["id"]) for e in entries), default=10)
    for entry in entries:
        tr.write_line(_line(entry, width))
    counts = "  ".join(f"{v}: {summary.get(v, 0)}" for v in ("PASS", "FAIL", "WARN", "SKIP", "ERROR"))
    tr.write_line(counts + (f"  not run: {summary['not_run']}" if summary.get("not_run") else ""))
    tr.write_line("coverage:")
    for line in coverage_lines(report):
        tr.write_line(line)
    base = report.get("baseline")
    if base:
        tr.write_line(f"baseline: {len(base['known'])} known, {len(base['new'])} new, {len(base['stale'])} stale, "
                      f"{len(base['unused'])} unused")
    red = run["exit_code"] != 0
    tr.write_line(f"exit code {run['exit_code']}: {run['exit_meaning']}", bold=True, red=red, green=not red)
    for reason in run.get("exit_reasons") or []:
        tr.write_line(f"  - {reason}", red=red)
    if out is not None:
        tr.write_line(f"reports: {out}")
    elif written:
        tr.write_line("reports: " + ", ".join(str(p) for p in written))
