"""Allure results finished from report.json on the controller (also for pytest-xdist runs).

allure-pytest writes one ``*-result.json`` per scenario while it runs (labels and attachments from
allure_labels.py). Afterwards this module sets what only the whole run knows, the same way as
every other report: FAIL is ``failed``, ERROR ``broken``, WARN ``passed`` with a ``WARN:`` message,
SKIP ``skipped`` saying "not tested" or "not applicable", a baseline-expected failure ``failed`` and
marked known; real start and stop times; the clause as the description; no link that a reader of
the report could not open. Scenarios that never ran get a ``skipped`` result of their own.
``environment.properties``, ``executor.json`` and ``categories.json`` describe the run.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.reporting.texts import failure_text, outcome_line

_SEVERITY = {"MUST": "critical", "SHOULD": "normal", "MAY": "minor"}
CATEGORIES = [  # the first that matches names a result's category
    {"name": "Known failures (baseline)", "matchedStatuses": ["failed", "broken"], "messageRegex": ".*expected by the baseline.*"},
    {"name": "Conformance failures (FAIL)", "matchedStatuses": ["failed"], "messageRegex": "^FAIL.*"},
    {"name": "Missed SHOULD/MAY under --strict (WARN)", "matchedStatuses": ["failed"], "messageRegex": "^WARN.*"},
    {"name": "Could not execute (ERROR)", "matchedStatuses": ["broken"]},
    {"name": "Not tested: a setting was not given", "matchedStatuses": ["skipped", "failed"], "messageRegex": "^not tested.*"},
    {"name": "Not applicable to this target", "matchedStatuses": ["skipped"], "messageRegex": "^not applicable.*"},
    {"name": "Not run (interrupted or stopped early)", "matchedStatuses": ["skipped"], "messageRegex": "^not run.*"},
    {"name": "Missed SHOULD/MAY (WARN, passes)", "matchedStatuses": ["passed"], "messageRegex": "^WARN.*"},
]


def _ms(iso: str | None, fallback: float) -> int:
    try:
        return int(datetime.fromisoformat(str(iso)).timestamp() * 1000)
    except ValueError:
        return int(fallback * 1000)


def _status(entry: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    outcome = entry.get("outcome", "not run")
    line = outcome_line(entry)
    details: dict[str, Any] = {"message": line}
    if outcome in ("failed", "error", "known", "warned"):
        details["trace"] = failure_text(entry)
    if outcome == "known":
        details["known"] = True
        return ("broken" if entry["verdict"] == "ERROR" else "failed"), details
    if outcome == "warned":
        return "passed", details  # the message starts "WARN"
    status = {"passed": "passed", "failed": "failed", "error": "broken", "not tested": "skipped",
              "not applicable": "skipped", "not run": "skipped"}[outcome]
    if entry.get("fails_run") and status in ("passed", "skipped"):
        status = "failed"  # not tested under --strict/--require, or a stale baseline entry under --strict
    if outcome == "passed" and not (entry.get("baseline") or {}).get("stale"):
        details = {}
    return status, details


def _description(entry: dict[str, Any]) -> str:
    source = entry.get("source") or {}
    clause = " ".join(str(source.get("clause", "")).split())
    return (f"**{entry.get('level')}** · {entry.get('title', '')}\n\n> {clause}\n\n"
            f"Source: {source.get('seed', '')} · requirement: {entry.get('requirement', '')}")


def _labels(entry: dict[str, Any], run_id: str, existing: list[dict[str, str]]) -> list[dict[str, str]]:
    ours = {"parentSuite": "conformance", "suite": entry["profile"], "epic": entry["profile"],
            "feature": entry.get("requirement", ""), "story": entry.get("title", ""),
            "severity": _SEVERITY.get(str(entry.get("level")), "normal"), "scenario_id": entry["id"],
            "run_id": run_id, "verdict": entry.get("verdict", "NOT RUN"), "outcome": entry.get("outcome", "not run")}
    kept = [lab for lab in existing if lab.get("name") not in ours and lab.get("name") != "subSuite"]
    tags = [] if existing else [{"name": "tag", "value": str(entry.get("level"))}]
    return kept + tags + [{"name": k, "value": str(v)} for k, v in ours.items()]


def _links() -> list[dict[str, str]]:
    """Only links that open for a reader anywhere: the CI run that produced the report."""
    server, repo, run = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repo and run:
        return [{"name": "CI run", "url": f"{server}/{repo}/actions/runs/{run}", "type": "link"}]
    return []


def _finish(entry: dict[str, Any], result: dict[str, Any], run_id: str, now: float) -> dict[str, Any]:
    full_name = f"conformance.{entry['profile']}.{entry['id']}"
    start = _ms(entry.get("started_at"), now)
    status, details = _status(entry)
    result.update({
        "name": entry["id"], "fullName": full_name, "status": status, "statusDetails": details,
        "stage": "finished", "description": _description(entry), "descriptionHtml": None,
        "start": start, "stop": start + int(round(float(entry.get("duration_s") or 0) * 1000)),
        "historyId": hashlib.md5(full_name.encode()).hexdigest(),
        "testCaseId": hashlib.md5(full_name.encode()).hexdigest(),
        "labels": _labels(entry, run_id, result.get("labels") or []), "links": _links(),
    })
    return {k: v for k, v in result.items() if v is not None}


def finish_allure(report: dict[str, Any], directory: Path) -> None:
    run_id = report["run"]["id"]
    now = datetime.now().timestamp()
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    interrupted: list[tuple[str, Path]] = []
    started = _ms(report["run"]["started"], now) - 1000  # report.json keeps whole seconds
    for path in directory.glob("*-result.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        labels = {lab.get("name"): lab.get("value") for lab in data.get("labels") or []}
        if labels.get("run_id") == run_id and labels.get("scenario_id"):
            found[str(labels["scenario_id"])] = (path, data)
        elif "run_id" not in labels and int(data.get("start") or 0) >= started:
            interrupted.append((str(data.get("name")), path))  # the scenario a signal cut short
    entries = list(report.get("scenarios") or []) + [{**m, "outcome": "not run"} for m in report.get("not_run") or []]
    ids = {e["id"] for e in entries}
    for name, path in interrupted:
        if name in ids and name not in found:
            path.unlink()  # written by allure-pytest without our labels; replaced below
    for entry in entries:
        if entry["id"] in found:
            path, data = found[entry["id"]]
        else:
            new = str(uuid.uuid4())
            path, data = directory / f"{new}-result.json", {"uuid": new, "attachments": [], "parameters": []}
        path.write_text(json.dumps(_finish(entry, data, run_id, now), indent=1), encoding="utf-8")
    _describe_run(report, directory)


def _prop(key: str, value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    key = "".join("\\" + c if c in " =:#!\\" else c for c in key)
    return f"{key}={' '.join(str(text).split())}"


def _describe_run(report: dict[str, Any], directory: Path) -> None:
    run, target, tool = report["run"], report.get("target") or {}, report["tool"]
    env: list[tuple[str, Any]] = [
        ("harness", f"{tool['name']} {tool['version']}"), ("python", platform.python_version()),
        ("target", target.get("base_url", "")), ("bundled", target.get("bundled", False)),
        ("control", target.get("control_url") or ""), ("auth", target.get("auth", "")),
        ("faults", target.get("faults") or []), ("profiles", run.get("profiles") or []),
        ("level", run.get("level", "")), ("strict", run.get("strict", False)), ("require", run.get("require") or []),
        ("baseline", run.get("baseline") or ""), ("exit_code", run["exit_code"]), ("interrupted", run.get("interrupted")),
    ]
    for profile, options in sorted((target.get("options") or {}).items()):
        env += [(f"options.{profile}.{name}", value) for name, value in sorted(options.items())]
    for key, value in sorted((target.get("timings") or {}).items()):
        env += ([(f"timings.{key}.{n}", v) for n, v in sorted(value.items())] if isinstance(value, dict)
                else [(f"timings.{key}", value)])
    (directory / "environment.properties").write_text("\n".join(_prop(k, v) for k, v in env) + "\n", encoding="utf-8")
    server, repo, ci_run = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    executor: dict[str, Any] = {"name": f"{tool['name']} {tool['version']}", "type": "local",
                                "buildName": run["id"], "reportName": f"Conformance {run['id']}"}
    if server and repo and ci_run:
        executor.update(name="GitHub Actions", type="github", url=server,
                        buildName=f"{os.environ.get('GITHUB_WORKFLOW', 'workflow')} #{os.environ.get('GITHUB_RUN_NUMBER', ci_run)}",
                        buildUrl=f"{server}/{repo}/actions/runs/{ci_run}")
    (directory / "executor.json").write_text(json.dumps(executor, indent=1), encoding="utf-8")
    (directory / "categories.json").write_text(json.dumps(CATEGORIES, indent=1), encoding="utf-8")
