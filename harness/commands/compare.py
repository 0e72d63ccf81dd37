"""`conformance baseline REPORT` and `conformance diff A B`: reading report.json files back."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from harness.baseline import dump_baseline, from_report
from harness.outcome import EXIT_USAGE
from harness.reporting.diff import changed, diff_reports, render_diff
from harness.reporting.report_json import REPORT_SCHEMA
from harness.schemas import registry


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
