"""report.json: the whole run as data, valid against schemas/harness/report.schema.json."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import __version__
from harness.runner import Result
from harness.schemas import registry
from harness.target import Target
from harness.verdicts import Level, Verdict

REPORT_SCHEMA = "harness/report"


def scenario_entry(result: Result) -> dict[str, Any]:
    s = result.scenario
    failure = None
    if result.failure is not None:
        failure = {"check": result.failure.name, "message": result.failure.message,
                   "expected": result.failure.expected, "observed": result.failure.observed}
    entry = {
        "id": s.id, "title": s.title, "profile": s.profile, "level": str(s.level),
        "requirement": s.requirement, "kind": s.kind, "tags": list(s.tags),
        "source": {"seed": s.source.seed, "clause": s.source.clause},
        "verdict": str(result.verdict), "reason": result.reason, "started_at": result.started_at,
        "duration_s": result.duration, "checks": [c.as_dict() for c in result.checks],
        "failure": failure, "evidence": result.evidence.as_dict(),
    }
    redacted: dict[str, Any] = result.evidence.redactor.json(entry)
    return redacted


def build_report(results: list[Result], target: Target | None, *, run_id: str, started: float,
                 exit_code: int, strict: bool, level: Level, seed: int) -> dict[str, Any]:
    summary: dict[str, int] = {"total": len(results)}
    for v in Verdict:
        summary[str(v)] = sum(1 for r in results if r.verdict is v)
    now = datetime.now(timezone.utc)
    return {
        "tool": {"name": "progress-conformance", "version": __version__},
        "run": {
            "id": run_id,
            "started": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
            "finished": now.isoformat(timespec="seconds"),
            "duration_s": round(now.timestamp() - started, 3),
            "exit_code": exit_code, "strict": strict, "level": str(level), "seed": seed,
        },
        "target": target.described() if target else {"base_url": "", "bundled": False},
        "summary": summary,
        "scenarios": [scenario_entry(r) for r in results],
    }


def write_report(report: dict[str, Any], path: Path) -> None:
    issues = registry().issues(REPORT_SCHEMA, report)
    if issues:
        raise ValueError(f"report.json would be invalid: {issues[0]}")
    path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
