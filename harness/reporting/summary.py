"""The run's summary for people: on the terminal (printed once, by the controller of a parallel
run) and in Markdown for $GITHUB_STEP_SUMMARY (or any file, with --summary). Both from report.json:
the exit code and why, coverage by level, what needs a look and what was not executed. Target text
in the Markdown is escaped so it cannot break a table or inject markup.
"""
from __future__ import annotations

import json
import os
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

from harness.textsafe import printable

from harness.outcome import NOT_APPLICABLE, NOT_RUN, NOT_TESTED
from harness.reporting.texts import OUTCOME_TEXT

_SHOWN = {"known": "known", "not tested": "untested", "not applicable": "n/a"}


def _line(entry: dict[str, Any], width: int, columns: int = 120) -> list[str]:
    """One scenario: its verdict line, then (not for a PASS) the reason wrapped, never cut, and for
    a FAIL what was observed. Target text is shown with its control characters escaped."""
    verdict = entry.get("verdict", "NOT RUN")
    note = _SHOWN.get(str(entry.get("outcome")), "")
    if (entry.get("baseline") or {}).get("stale"):
        note = "stale"
    duration = f"{float(entry['duration_s']):6.2f}s" if "duration_s" in entry else "      -"
    lines = [printable(f"{entry['id']:<{width}}  {verdict:<7}  {entry.get('level', ''):<6}  {duration}  {note}").rstrip()]
    if verdict == "PASS":
        return lines
    indent = " " * 4
    reason = " ".join(str(entry.get("reason_raw") or entry.get("reason", "")).split())
    failure = entry.get("failure") or {}
    if reason:
        lines += textwrap.wrap(printable(reason), columns, initial_indent=indent, subsequent_indent=indent)
    if verdict in ("FAIL", "WARN") and "observed" in failure:
        observed = json.dumps(failure.get("observed"), ensure_ascii=False, default=str)
        observed = observed if len(observed) <= 600 else observed[:600] + " ..."
        lines += textwrap.wrap(printable(f"observed: {observed}"), columns, initial_indent=indent,
                               subsequent_indent=indent + "  ")
    return lines


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
    writer = getattr(tr, "_tw", None)
    columns = max(60, int(getattr(writer, "fullwidth", 124)) - 4)
    for entry in entries:
        for line in _line(entry, width, columns):
            tr.write_line(line)
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


# -- Markdown --------------------------------------------------------------------------------

_ICON = {0: "✅", 1: "❌", 3: "⚠️", 4: "⚠️", 130: "⏹️", 143: "⏹️"}
LIMIT = 60  # rows per table; the rest is in report.html


def _cell(value: Any, width: int = 160) -> str:
    text = " ".join(str(value).split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    for ch in "\\|`*_<>[]":
        text = text.replace(ch, "\\" + ch)
    return text


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows[:LIMIT]]
    if len(rows) > LIMIT:
        out.append(f"| … {len(rows) - LIMIT} more in report.html |" + " |" * (len(head) - 1))
    return out


def render_markdown(report: dict[str, Any]) -> str:
    run, target, summary = report["run"], report.get("target") or {}, report.get("summary") or {}
    code = run["exit_code"]
    lines = [f"## {_ICON.get(code, '')} Conformance: exit code {code}", "",
             f"**{_cell(run.get('exit_meaning', ''), 300)}**"]
    reasons = [f"- {_cell(r, 400)}" for r in run.get("exit_reasons") or []]
    lines += ["", *reasons] if reasons else []
    where = _cell(target.get("base_url", "")) + (" (bundled reference server)" if target.get("bundled") else "")
    facts = [f"target {where}", f"level {run.get('level')}{' strict' if run.get('strict') else ''}",
             f"run `{_cell(run['id'])}`", f"{tool_version(report)}"]
    if run.get("require"):
        facts.append("require " + ", ".join(_cell(r) for r in run["require"]))
    if run.get("baseline"):
        facts.append(f"baseline {_cell(run['baseline'])}")
    lines += ["", " · ".join(facts), ""]
    if run.get("interrupted"):
        lines += [f"> **Interrupted by {run.get('signal')}**: {summary.get('not_run', 0)} selected scenario(s) did not run.", ""]
    counts = " · ".join(f"{v} {summary.get(v, 0)}" for v in ("PASS", "FAIL", "WARN", "SKIP", "ERROR"))
    lines += [f"{summary.get('total', 0)} scenarios with a verdict: {counts}"
              + (f" · not run {summary['not_run']}" if summary.get("not_run") else ""), ""]
    coverage = report.get("coverage") or {}
    levels = coverage.get("levels") or {}
    if levels:
        lines += ["### Coverage", ""]
        lines += _table(["level", "selected", "executed", NOT_TESTED, NOT_APPLICABLE, "error", NOT_RUN],
                        [[lv, *(levels[lv].get(k, 0) for k in ("selected", "executed", NOT_TESTED, NOT_APPLICABLE,
                                                               "error", NOT_RUN))]
                         for lv in ("MUST", "SHOULD", "MAY") if lv in levels])
        lines.append("")
    for req in coverage.get("requirements") or []:
        state = "met" if req["met"] else f"NOT met ({len(req['missing'])} not executed)"
        lines.append(f"- `--require {_cell(req['require'])}`: {state}")
    attention = [e for e in report.get("scenarios") or []
                 if e.get("outcome") in ("failed", "error", "warned", "known") or e.get("fails_run")
                 or (e.get("baseline") or {}).get("stale")]
    if attention:
        lines += ["", "### Needs a look", ""]
        lines += _table(["scenario", "level", "verdict", "outcome", "reason"],
                        [[e["id"], e.get("level"), e["verdict"], _outcome(e), e.get("reason_raw") or e.get("reason", "")]
                         for e in attention])
    missing = [n for n in coverage.get("not_executed") or [] if n.get("why") != "error"]
    if missing:
        lines += ["", "### Not executed", ""]
        lines += _table(["scenario", "level", "why", "reason"],
                        [[n["id"], n["level"], n["why"], n.get("reason", "")] for n in missing])
    base = report.get("baseline")
    if base:
        lines += ["", f"Baseline: {len(base['known'])} known, {len(base['new'])} new, {len(base['stale'])} stale, "
                      f"{len(base['unused'])} unused of {base['entries']} entries."]
        lines += [f"- stale: `{_cell(s['id'])}` expected {s['expected']}, got {s['verdict']}" for s in base["stale"]]
    return "\n".join(lines).rstrip() + "\n"


def _outcome(entry: dict[str, Any]) -> str:
    text = OUTCOME_TEXT.get(str(entry.get("outcome")), str(entry.get("outcome"))).split(" (")[0]
    if (entry.get("baseline") or {}).get("stale"):
        text += ", stale baseline entry"
    return text + (" — fails the run" if entry.get("fails_run") else "")


def tool_version(report: dict[str, Any]) -> str:
    tool = report.get("tool") or {}
    return f"{tool.get('name', '')} {tool.get('version', '')}".strip()


def write_markdown(report: dict[str, Any], *paths: Path) -> list[Path]:
    """Write the summary to each path, and append it to $GITHUB_STEP_SUMMARY when that is set."""
    text = render_markdown(report)
    written = []
    for path in paths:
        path.write_text(text, encoding="utf-8")
        written.append(path)
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        with open(step, "a", encoding="utf-8") as fh:
            fh.write(text)
        written.append(Path(step))
    return written
