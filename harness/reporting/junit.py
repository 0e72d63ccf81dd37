"""junit.xml from report.json, valid against the JUnit schema CI viewers read (tests/data/junit.xsd).

One ``<testsuite>`` per profile; each scenario is a ``<testcase classname="conformance.PROFILE"
name="SCENARIO-ID">`` with its redacted transcript in ``<system-out>``. What the run made of it:

- FAIL (and WARN under --strict): ``<failure type="FAIL|WARN">``; ERROR: ``<error type="ERROR">``;
- WARN without --strict passes, with ``<system-err>`` starting ``WARN:`` and the missed checks;
- SKIP: ``<skipped type="not-tested|not-applicable">``; a not-tested scenario that fails the run
  (--strict, --require) is ``<failure type="not-tested">``; a scenario that never ran (interrupted,
  stopped early) is ``<skipped type="not-run">``;
- a verdict the baseline expects: ``<skipped type="known-failure">`` (as pytest does for xfail);
  a stale entry under --strict: ``<failure type="stale-baseline">``.

Run facts (exit code and why, interrupted, coverage) are suite ``<properties>``. When pytest wrote
a junit.xml of its own (``--junitxml``), :func:`merge_into` rewrites it: its scenario testcases are
replaced by these and anything else it recorded is kept, without per-testcase properties.
"""
from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from harness.reporting.texts import failure_text, outcome_line, transcript

_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: Any) -> str:
    """Text XML 1.0 can carry: characters it forbids are shown as ``\\xNN``."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: Any) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: _xml(v) for k, v in attrs.items()})
    if text:
        el.text = _xml(text)
    return el


def _testcase(suite: ET.Element, entry: dict[str, Any]) -> str | None:
    """Add one testcase; return what it counts as: failure, error, skipped or None (passed)."""
    case = _sub(suite, "testcase", classname=f"conformance.{entry['profile']}", name=entry["id"],
                time=f"{float(entry.get('duration_s') or 0):.3f}")
    outcome = entry.get("outcome", "not run")
    line = outcome_line(entry)
    counted: str | None = None
    base = entry.get("baseline") or {}
    if outcome == "failed":
        _sub(case, "failure", failure_text(entry), type=entry["verdict"], message=line)
        counted = "failure"
    elif outcome == "error":
        _sub(case, "error", failure_text(entry), type="ERROR", message=line)
        counted = "error"
    elif outcome == "not tested" and entry.get("fails_run"):
        _sub(case, "failure", line, type="not-tested", message=line)
        counted = "failure"
    elif outcome in ("not tested", "not applicable", "not run"):
        _sub(case, "skipped", type=outcome.replace(" ", "-"), message=line)
        counted = "skipped"
    elif outcome == "known":
        _sub(case, "skipped", type="known-failure", message=line)
        counted = "skipped"
    elif base.get("stale") and entry.get("fails_run"):
        _sub(case, "failure", line, type="stale-baseline", message=line)
        counted = "failure"
    text = transcript(entry.get("evidence") or {})
    if text:
        _sub(case, "system-out", text)
    if outcome in ("warned", "known") or base.get("stale"):
        _sub(case, "system-err", line + "\n\n" + failure_text(entry))  # a WARN's line starts "WARN"
    return counted


def _properties(suite: ET.Element, report: dict[str, Any], profile: str) -> None:
    run, target = report["run"], report.get("target") or {}
    coverage = report.get("coverage", {}).get("profiles", {}).get(profile, {})
    props = _sub(suite, "properties")
    rows = [("run.id", run["id"]), ("run.exit_code", run["exit_code"]), ("run.exit_meaning", run.get("exit_meaning", "")),
            ("run.interrupted", str(run.get("interrupted", False)).lower()), ("run.signal", run.get("signal") or ""),
            ("run.strict", str(run.get("strict", False)).lower()), ("run.level", run.get("level", "")),
            ("target.base_url", target.get("base_url", "")), ("target.bundled", str(target.get("bundled", False)).lower()),
            ("tool.version", report["tool"]["version"])]
    rows += [(f"run.exit_reason.{i + 1}", r) for i, r in enumerate(run.get("exit_reasons") or [])]
    rows += [(f"coverage.{k}", v) for k, v in coverage.items()]
    for name, value in rows:
        _sub(props, "property", name=name, value=value)


def junit_tree(report: dict[str, Any]) -> ET.Element:
    entries = list(report.get("scenarios") or []) + [{**m, "outcome": "not run"} for m in report.get("not_run") or []]
    profiles: list[str] = []
    for e in entries:
        if e["profile"] not in profiles:
            profiles.append(e["profile"])
    run = report["run"]
    root = ET.Element("testsuites", name="conformance", time=f"{float(run.get('duration_s') or 0):.3f}")
    totals = {"tests": 0, "failure": 0, "error": 0}
    for profile in profiles:
        mine = [e for e in entries if e["profile"] == profile]
        suite = _sub(root, "testsuite", name=f"conformance.{profile}", timestamp=run["started"],
                     hostname=socket.gethostname())
        _properties(suite, report, profile)
        counts = {"failure": 0, "error": 0, "skipped": 0}
        for entry in mine:
            counted = _testcase(suite, entry)
            if counted:
                counts[counted] += 1
        suite.set("tests", str(len(mine)))
        suite.set("failures", str(counts["failure"]))
        suite.set("errors", str(counts["error"]))
        suite.set("skipped", str(counts["skipped"]))
        suite.set("time", f"{sum(float(e.get('duration_s') or 0) for e in mine):.3f}")
        lines = [f"exit code {run['exit_code']}: {run.get('exit_meaning', '')}", *run.get("exit_reasons", [])]
        _sub(suite, "system-out", "\n".join(lines))
        totals["tests"] += len(mine)
        totals["failure"] += counts["failure"]
        totals["error"] += counts["error"]
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failure"]))
    root.set("errors", str(totals["error"]))
    return root


def write_junit(report: dict[str, Any], path: Path) -> None:
    tree = ET.ElementTree(junit_tree(report))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def merge_into(report: dict[str, Any], path: Path) -> None:
    """Rewrite a junit.xml pytest wrote: its scenario testcases become ours, the rest is kept."""
    ours = junit_tree(report)
    ids = {e["id"] for e in report.get("scenarios") or []} | {m["id"] for m in report.get("not_run") or []}
    try:
        theirs = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        theirs = ET.Element("testsuites")
    suites = [theirs] if theirs.tag == "testsuite" else list(theirs.iter("testsuite"))
    for suite in suites:
        kept = [c for c in suite.findall("testcase") if c.get("name") not in ids]
        if not kept:
            continue
        other = _sub(ours, "testsuite", name=suite.get("name", "pytest"), tests=len(kept),
                     failures=sum(1 for c in kept if c.find("failure") is not None),
                     errors=sum(1 for c in kept if c.find("error") is not None),
                     skipped=sum(1 for c in kept if c.find("skipped") is not None))
        for case in kept:
            for props in case.findall("properties"):  # not allowed inside a testcase by the JUnit schema
                case.remove(props)
            other.append(case)
        for key in ("tests", "failures", "errors"):
            ours.set(key, str(int(ours.get(key, "0")) + int(other.get(key, "0"))))
    tree = ET.ElementTree(ours)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
