"""Every report of a run, written once from one report.json dict (so they cannot disagree)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.reporting.allure_results import finish_allure
from harness.reporting.html import write_html
from harness.reporting.junit import merge_into, write_junit
from harness.reporting.markdown import write_markdown
from harness.reporting.report_json import write_report


def write_reports(report: dict[str, Any], out: Path | None, *, pytest_junit: Path | None = None,
                  allure_dir: Path | None = None, summary: Path | None = None) -> list[Path]:
    """report.json, report.html, junit.xml and summary.md in ``out`` (when there is one); pytest's
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
