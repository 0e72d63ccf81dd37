"""report.json: the whole run as data, valid against schemas/harness/report.schema.json.

Every other report (report.html, junit.xml, Allure results, the Markdown summary) is written from
this dict, so they cannot disagree. Values that change from run to run (the bundled server's port,
ids the harness generates, timestamps) are kept apart from what identifies a check: a check's
``message`` has them replaced by ``{target}``, ``{uuid}``, ``{time}`` placeholders (the text as
observed is in ``message_raw``), so two runs of one target compare line by line.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import __version__
from harness.strictjson import safe_json
from harness.catalog import Scenario
from harness.outcome import EXIT_CODES, Judgement, classify_skip
from harness.reporting.allure_results import finish_allure
from harness.reporting.html import write_html
from harness.reporting.junit import merge_into, write_junit
from harness.reporting.summary import write_markdown
from harness.runner import Result
from harness.schemas import registry
from harness.target import Target
from harness.verdicts import Verdict

REPORT_SCHEMA = "harness/report"
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?\b")
_RUN_ID = re.compile(r"\b\d{8}T\d{6}Z-[0-9a-f]{6}\b")
_LOOPBACK = re.compile(r"\bhttps?://(?:127\.0\.0\.1|localhost|\[::1\]):\d+")


def volatile_values(target: Target | None, run_id: str = "") -> list[tuple[str, str]]:
    """(text, placeholder) pairs of this run's own volatile strings, longest first."""
    pairs = [(run_id, "{run}")] if run_id else []
    if target is not None:
        pairs += [(u, p) for u, p in ((target.control_url, "{control}"), (target.base_url, "{target}")) if u]
    return sorted(pairs, key=lambda p: len(p[0]), reverse=True)


def stable(text: str, volatile: list[tuple[str, str]]) -> str:
    """``text`` with run-specific values replaced by placeholders."""
    for value, placeholder in volatile:
        text = text.replace(value, placeholder)
    text = _RUN_ID.sub("{run}", text)
    text = _UUID.sub("{uuid}", text)
    text = _TIME.sub("{time}", text)
    return _LOOPBACK.sub("{loopback}", text)


def _stable_fields(item: dict[str, Any], key: str, volatile: list[tuple[str, str]]) -> None:
    raw = item.get(key)
    if isinstance(raw, str):
        fixed = stable(raw, volatile)
        if fixed != raw:
            item[key], item[f"{key}_raw"] = fixed, raw


def scenario_meta(s: Scenario) -> dict[str, Any]:
    """What identifies a scenario, with or without a verdict."""
    return {"id": s.id, "title": s.title, "profile": s.profile, "level": str(s.level),
            "requirement": s.requirement, "kind": s.kind, "tags": list(s.tags),
            "source": {"seed": s.source.seed, "clause": s.source.clause}}


def scenario_entry(result: Result, target: Target | None = None, run_id: str = "") -> dict[str, Any]:
    """One scenario's report.json entry, redacted, with stable check messages."""
    failure = None
    if result.failure is not None:
        failure = {"check": result.failure.name, "message": result.failure.message,
                   "expected": result.failure.expected, "observed": result.failure.observed}
    observed: dict[str, Any] = {
        "verdict": str(result.verdict), "reason": result.reason, "started_at": result.started_at,
        "duration_s": result.duration, "checks": [c.as_dict() for c in result.checks],
        "failure": failure, "evidence": result.evidence.as_dict(),
    }
    if result.verdict is Verdict.SKIP:
        observed["skip"] = classify_skip(result.reason)
    # the scenario's own words (title, clause) come from its file, not the target: only what was
    # observed passes the redactor, which would take "bearer token" in a title for a credential
    redacted: dict[str, Any] = {**scenario_meta(result.scenario),
                                **json.loads(json.dumps(result.evidence.redactor.json(observed), default=str))}
    volatile = volatile_values(target, run_id)
    for item in [redacted, *redacted["checks"], *([redacted["failure"]] if redacted["failure"] else [])]:
        _stable_fields(item, "message", volatile)
    _stable_fields(redacted, "reason", volatile)
    return redacted


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="seconds")


def build_report(judgement: Judgement, target: dict[str, Any] | None, *, run_id: str, started: float,
                 strict: bool, level: str, seed: int, signal: str | None = None,
                 require: list[str] | None = None, baseline: str | None = None,
                 profiles: list[str] | None = None, in_progress: bool = False) -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    report: dict[str, Any] = {
        "tool": {"name": "progress-conformance", "version": __version__},
        "run": {
            "id": run_id, "started": _iso(started), "finished": now.isoformat(timespec="seconds"),
            "duration_s": round(now.timestamp() - started, 3),
            "exit_code": judgement.exit_code, "exit_meaning": EXIT_CODES[judgement.exit_code],
            "exit_reasons": judgement.reasons,
            "interrupted": signal is not None, "signal": signal, "in_progress": in_progress,
            "strict": strict, "level": level, "seed": seed,
            "profiles": list(profiles or []), "require": list(require or []), "baseline": baseline,
        },
        "target": target or {"base_url": "", "bundled": False},
        "summary": judgement.summary,
        "coverage": judgement.coverage,
        "scenarios": judgement.scenarios,
        "not_run": judgement.not_run,
    }
    if judgement.baseline is not None:
        report["baseline"] = judgement.baseline
    strict_report: dict[str, Any] = safe_json(report)  # every writer gets strict JSON: no NaN from a target
    return strict_report


def write_report(report: dict[str, Any], path: Path, *, provisional: bool = False) -> None:
    """report.json, refused when it would not be valid by its schema (a harness bug). A
    provisional one (rewritten after each scenario, built by the same code) is written compact
    and not validated: validating and indenting the whole report after every scenario made a run
    quadratic (7 s of an 86-scenario run's main thread)."""
    if provisional:
        path.write_text(json.dumps(report, default=str, allow_nan=False, separators=(",", ":")), encoding="utf-8")
        return
    issues = registry().issues(REPORT_SCHEMA, report)
    if issues:
        raise ValueError(f"report.json would be invalid: {issues[0]}")
    path.write_text(json.dumps(report, indent=2, default=str, allow_nan=False), encoding="utf-8")


def write_reports(report: dict[str, Any], out: Path | None, *, pytest_junit: Path | None = None,
                  allure_dir: Path | None = None, summary: Path | None = None) -> list[Path]:
    """Every report of a run, from this one dict (so they cannot disagree):
    report.json, report.html, junit.xml and summary.md in ``out`` (when there is one); pytest's
    own ``--junitxml`` file rewritten; Allure results finished; the Markdown summary also to
    ``summary`` and $GITHUB_STEP_SUMMARY. Returns what was written."""
    written: list[Path] = []
    markdown = [summary] if summary else []
    if out is not None:
        write_report(report, out / "report.json")  # first: it refuses an invalid report
        write_html(report, out / "report.html")
        write_junit(report, out / "junit.xml")
        written += [out / "report.json", out / "report.html", out / "junit.xml"]
        markdown.append(out / "summary.md")
    if pytest_junit is not None and pytest_junit.exists() and pytest_junit not in written:
        merge_into(report, pytest_junit)
        written.append(pytest_junit)
    if allure_dir is not None and allure_dir.is_dir():
        finish_allure(report, allure_dir)
        written.append(allure_dir)
    return written + write_markdown(report, *markdown)
