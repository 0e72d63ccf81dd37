"""Allure labels and attachments for one scenario result, while it runs (no-ops when Allure is not on).

The status, times, description and links are set afterwards from report.json, on the controller
(harness/reporting/allure_results.py): allure-pytest alone would call a FAIL "broken", time the
empty call phase instead of the scenario, and overwrite the description with a docstring.
"""
from __future__ import annotations

import json

import allure

from harness.runner import Result

_SEVERITY = {"MUST": allure.severity_level.CRITICAL, "SHOULD": allure.severity_level.NORMAL,
             "MAY": allure.severity_level.MINOR}


def decorate(result: Result, run_id: str) -> None:
    s = result.scenario
    red = result.evidence.redactor
    allure.dynamic.epic(s.profile)
    allure.dynamic.feature(s.requirement)
    allure.dynamic.story(s.title)
    allure.dynamic.severity(_SEVERITY[str(s.level)])
    allure.dynamic.label("scenario_id", s.id)
    allure.dynamic.label("run_id", run_id)  # how the controller finds this run's results
    allure.dynamic.label("verdict", str(result.verdict))
    allure.dynamic.label("source", s.source.seed)
    allure.dynamic.tag(*s.tags, str(s.level))
    allure.attach(result.evidence.transcript_text() or "(no traffic)", name="transcript",
                  attachment_type=allure.attachment_type.TEXT)
    allure.attach(json.dumps(red.json([c.as_dict() for c in result.checks]), indent=2, default=str),
                  name="checks", attachment_type=allure.attachment_type.JSON)
    if result.failure is not None:
        allure.attach(json.dumps(red.json({"expected": result.failure.expected,
                                           "observed": result.failure.observed}), indent=2, default=str),
                      name="expected vs observed", attachment_type=allure.attachment_type.JSON)
    if result.evidence.timings:
        allure.attach(json.dumps(result.evidence.timings, indent=2), name="timeline",
                      attachment_type=allure.attachment_type.JSON)
    for name, text in result.evidence.attachments.items():
        allure.attach(red.text(text), name=name, attachment_type=allure.attachment_type.TEXT)
