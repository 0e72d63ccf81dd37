"""Reports of a small real run: report.json valid by its schema, HTML written, no secret anywhere."""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.reporting.html import render, write_html
from harness.reporting.report_json import REPORT_SCHEMA, build_report, write_report
from harness.catalog import catalog, select
from harness.schemas import registry
from harness.session import RunSession
from harness.verdicts import Verdict
from reference_server.app import RunningServer, start_in_thread
from reference_server.config import ServerConfig

CHOSEN = ["fp-auth-required", "fp-batch-shape", "fp-empty-feed-204"]
KNOWN_TOKEN = "report-test-token-Zx81qLw0"
KNOWN_CLIENT_SECRET = "report-test-client-secret-93jd"


def _run_in_process(report_root: Path, faults: tuple[str, ...] = ()) -> tuple[RunSession, dict[str, Any]]:
    session = RunSession(settings={}, report_root=report_root, faults=faults, seed=3)
    try:
        for scenario in select(catalog(), patterns=CHOSEN):
            session.run(scenario)
    finally:
        session.stop()
    report = build_report(session.results, session.target, run_id=session.run_id,
                          started=session.started, exit_code=session.exit_code(),
                          strict=session.strict, level=session.level, seed=session.seed)
    out = session.report_dir()
    assert out is not None
    write_report(report, out / "report.json")
    write_html(report, out / "report.html")
    session.link_latest()
    return session, report


def _secrets_of(session: RunSession) -> list[str]:
    assert session.target is not None
    found = [s for s in (session.target.token, session.target.client_secret) if s]
    assert found, "the bundled target has a token and a client secret"
    return found


def _grep(root: Path, needles: list[str]) -> list[str]:
    """Every file under root (and the needle) that contains a needle."""
    hits = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {n}" for n in needles if n.encode() in data]
    return hits


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunSession, dict[str, Any], Path]:
    root = tmp_path_factory.mktemp("reports")
    session, report = _run_in_process(root)
    return session, report, root


def test_small_run_passes(clean_run: tuple[RunSession, dict[str, Any], Path]) -> None:
    session, report, _ = clean_run
    assert [r.scenario.id for r in session.results] == CHOSEN
    assert {r.scenario.id: str(r.verdict) for r in session.results} == dict.fromkeys(CHOSEN, "PASS")
    assert session.exit_code() == 0
    assert report["summary"] == {"total": 3, "PASS": 3, "FAIL": 0, "WARN": 0, "SKIP": 0, "ERROR": 0}
    assert report["run"]["exit_code"] == 0 and report["run"]["seed"] == 3


def test_report_json_is_valid_by_its_schema(clean_run: tuple[RunSession, dict[str, Any], Path]) -> None:
    session, _, root = clean_run
    written = json.loads((root / session.run_id / "report.json").read_text())
    assert registry().issues(REPORT_SCHEMA, written) == []
    assert written["run"]["id"] == session.run_id
    assert written["target"]["bundled"] is True and written["target"]["auth"] == "token"


def test_every_scenario_carries_clause_checks_and_transcript(
        clean_run: tuple[RunSession, dict[str, Any], Path]) -> None:
    _, report, _ = clean_run
    for entry in report["scenarios"]:
        assert entry["source"]["clause"] and entry["source"]["seed"]
        assert entry["checks"] and all(c["passed"] for c in entry["checks"])
        exchanges = entry["evidence"]["exchanges"]
        assert exchanges
        for e in exchanges:
            assert {"at", "method", "url", "status", "elapsed_ms", "request_headers",
                    "response_headers"} <= set(e)
            auth = e["request_headers"].get("Authorization")
            assert auth in (None, "[REDACTED]")


def test_no_secret_in_the_run_directory(clean_run: tuple[RunSession, dict[str, Any], Path]) -> None:
    session, _, root = clean_run
    assert _grep(root, _secrets_of(session)) == []


def test_html_is_written(clean_run: tuple[RunSession, dict[str, Any], Path]) -> None:
    session, report, root = clean_run
    html = (root / session.run_id / "report.html").read_text()
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    for scenario_id in CHOSEN:
        assert scenario_id in html
    assert "total: 3 PASS: 3" in html
    assert render(report) == html


def test_latest_points_at_the_run(clean_run: tuple[RunSession, dict[str, Any], Path]) -> None:
    session, _, root = clean_run
    latest = root / "latest"
    assert latest.is_symlink() and latest.resolve() == (root / session.run_id).resolve()


def test_fail_shows_expected_and_observed(tmp_path: Path) -> None:
    session, report = _run_in_process(tmp_path, faults=("fp-empty-batch-200",))
    verdicts = {e["id"]: e["verdict"] for e in report["scenarios"]}
    assert verdicts["fp-empty-feed-204"] == "FAIL"
    assert report["run"]["exit_code"] == 1 and report["target"]["faults"] == ["fp-empty-batch-200"]
    entry = next(e for e in report["scenarios"] if e["id"] == "fp-empty-feed-204")
    failure = entry["failure"]
    assert failure["expected"] != failure["observed"]
    assert {"check", "message", "expected", "observed"} <= set(failure)
    written = json.loads((tmp_path / session.run_id / "report.json").read_text())
    assert registry().issues(REPORT_SCHEMA, written) == []
    html = (tmp_path / session.run_id / "report.html").read_text()
    assert "<th>expected</th><th>observed</th>" in html and "class='FAIL'" in html
    assert _grep(tmp_path, _secrets_of(session)) == []


def test_write_report_refuses_an_invalid_report(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="report.json would be invalid"):
        write_report({"tool": {}}, tmp_path / "report.json")
    assert not (tmp_path / "report.json").exists()


def test_error_results_make_a_valid_report(tmp_path: Path) -> None:
    # an unreachable target: every scenario ERROR, still a valid report without secrets
    session = RunSession(settings={"target": "http://127.0.0.1:9", "token": KNOWN_TOKEN,
                                   "request_timeout": 0.5}, report_root=tmp_path)
    for scenario in select(catalog(), patterns=CHOSEN[:2]):
        session.run(scenario)
    assert {r.verdict for r in session.results} == {Verdict.ERROR}
    assert session.exit_code() == 3
    report = build_report(session.results, session.target, run_id=session.run_id, started=session.started,
                          exit_code=3, strict=False, level=session.level, seed=0)
    out = session.report_dir()
    assert out is not None
    write_report(report, out / "report.json")
    assert report["summary"]["ERROR"] == 2
    assert all("unreachable" in e["reason"] for e in report["scenarios"])
    assert _grep(tmp_path, [KNOWN_TOKEN]) == []


# -- the whole pipeline (pytest, JUnit, Allure) with a known token ---------------------------

@pytest.fixture
def server_with_known_secrets() -> Iterator[RunningServer]:
    config = ServerConfig(tokens=(KNOWN_TOKEN,), clients={"me": KNOWN_CLIENT_SECRET},
                          faults=frozenset({"fp-empty-batch-200"}))
    server = start_in_thread(config)
    try:
        yield server
    finally:
        server.stop()


def test_no_secret_in_junit_allure_or_json(tmp_path: Path, server_with_known_secrets: RunningServer) -> None:
    server = server_with_known_secrets
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "run", "-q", "--target", server.base_url,
         "--control", server.control_url, "--token", KNOWN_TOKEN, "--client-id", "me",
         "--client-secret", KNOWN_CLIENT_SECRET, "--report-dir", str(tmp_path), *CHOSEN],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    [run_dir] = [p for p in tmp_path.iterdir() if p.is_dir() and not p.is_symlink()]
    files = {p.name for p in run_dir.iterdir()}
    assert {"junit.xml", "allure-results", "report.json", "report.html"} <= files
    allure = list((run_dir / "allure-results").iterdir())
    assert any(p.name.endswith("-result.json") for p in allure)
    assert any("attachment" in p.name for p in allure)
    # the token did go over the wire (the server checked it) but nowhere into the reports
    assert _grep(tmp_path, [KNOWN_TOKEN, KNOWN_CLIENT_SECRET]) == []
    assert KNOWN_TOKEN not in proc.stdout + proc.stderr
    report = json.loads((run_dir / "report.json").read_text())
    assert registry().issues(REPORT_SCHEMA, report) == []
    assert {e["id"]: e["verdict"] for e in report["scenarios"]} == {
        "fp-auth-required": "PASS", "fp-batch-shape": "PASS", "fp-empty-feed-204": "FAIL"}
