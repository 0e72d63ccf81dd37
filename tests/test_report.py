"""Reports of a small real run: report.json valid by its schema, HTML written, no secret anywhere."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from harness.reporting import timing_chart as chart_module
from harness.reporting.html import render, write_html
from harness.reporting.timing_chart import chart
from harness.reporting.report_json import REPORT_SCHEMA, build_report, write_report
from harness.catalog import catalog, select
from harness.schemas import registry
from harness.session import RunSession
from harness.verdicts import Verdict
from reference_server.app import RunningServer, start_in_thread
from reference_server.config import ServerConfig
from tests import report_samples

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
    report = build_report(session.judge(), session.target.described() if session.target else None,
                          run_id=session.run_id, started=session.started, strict=session.strict,
                          level=str(session.level), seed=session.seed)
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
    assert report["summary"] == {"total": 3, "PASS": 3, "FAIL": 0, "WARN": 0, "SKIP": 0, "ERROR": 0, "not_run": 0}
    assert report["run"]["exit_code"] == 0 and report["run"]["seed"] == 3
    assert report["run"]["exit_reasons"] == [] and report["run"]["interrupted"] is False
    assert report["coverage"]["levels"]["MUST"] == {"selected": 3, "executed": 3, "not tested": 0,
                                                    "not applicable": 0, "error": 0, "not run": 0}


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
    assert '<span class="count">3 scenarios</span>' in html and '<span class="count PASS">PASS 3</span>' in html
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
    assert 'data-verdict="FAIL"' in html and '<pre class="expected">204</pre>' in html
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
    report = build_report(session.judge(), None, run_id=session.run_id, started=session.started,
                          strict=False, level=str(session.level), seed=0)
    out = session.report_dir()
    assert out is not None
    write_report(report, out / "report.json")
    assert report["summary"]["ERROR"] == 2 and report["run"]["exit_code"] == 3
    assert all("unreachable" in e["reason"] for e in report["scenarios"])
    assert [n["why"] for n in report["coverage"]["not_executed"]] == ["error", "error"]
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


# -- report.html from hand-built report.json dicts (the browser facts are in test_html_browser.py) --

def _csp_sources(html: str) -> dict[str, str]:
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy is not None
    return {d.split()[0]: d.split(None, 1)[1] if " " in d else "" for d in
            policy.group(1).replace("&#39;", "'").split("; ")}


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_html_is_self_contained_and_allows_only_its_own_script() -> None:
    html = render(report_samples.mixed_report())
    assert not re.search(r"""(?i)\b(?:src|href|action)\s*=\s*(?!["']?#)""", html), "only in-page links"
    assert "@import" not in html and "url(" not in html
    csp = _csp_sources(html)
    assert csp["default-src"] == "'none'" and csp["img-src"] == "'none'"
    [script] = re.findall(r"<script>(.*?)</script>", html, re.S)
    [style] = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert csp["script-src"] == _sha256(script) and csp["style-src"] == _sha256(style)
    assert "unsafe-inline" not in html


def test_html_puts_failures_first_with_the_declared_settings() -> None:
    html = render(report_samples.mixed_report())
    order = [html.index(f'<span class="sid">{sid}</span>') for sid in
             ("fp-empty-feed-204", "cb-retry-backoff", "fp-problem-details", "ws-ping-interval")]
    assert order == sorted(order)
    for row in ("<td>ws-progress</td><td>idle_timeout</td><td>2.0</td>",
                "<td>callbacks</td><td>retry_initial</td><td>1.0</td>",
                '<td class="dim">all</td><td>tolerance</td><td>0.1</td>',
                "<td>feed-polling</td><td>stale_complete_status</td><td>409</td>",
                "<td>MUST</td><td>4</td><td>3</td><td>1</td><td>0</td><td>0</td><td>0</td>"):
        assert row in html
    assert "interrupted" not in html
    assert "This run was interrupted" in render(report_samples.report([], interrupted=True))


class _Tags(HTMLParser):
    """Every start tag and attribute of a page, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def test_html_escapes_and_shows_every_hostile_character() -> None:
    html = render(report_samples.report([report_samples.hostile_scenario()]))
    parsed = _Tags()
    parsed.feed(html)
    names = [tag for tag, _ in parsed.tags]
    assert names.count("script") == 1 and "img" not in names and "a" in names
    attributes = {name for _, attrs in parsed.tags for name, _ in attrs}
    assert not [a for a in attributes if a.startswith("on")]
    assert all(value.startswith("#") for _, attrs in parsed.tags for name, value in attrs
               if name == "href" and value is not None)
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "\u202e" not in html and "&lt;U+202E&gt;gnp.exe" in html


def test_html_renders_an_old_minimal_report() -> None:
    """A report.json from before the added fields (no coverage, flat timings, no deliveries)."""
    entry = report_samples.fail_scenario()
    del entry["checks"][0]["clause"], entry["tags"]
    minimal = report_samples.report([entry])
    del minimal["coverage"], minimal["target"]["options"]
    minimal["target"]["timings"] = {"idle_timeout": 2.0, "scale": 1.0}
    html = render(minimal)
    assert '<td class="dim">all</td><td>idle_timeout</td><td>2.0</td>' in html
    assert 'id="coverage"' not in html and "<pre class=\"expected\">204</pre>" in html


@pytest.mark.parametrize(("item", "rows"), [
    ({"name": "idle", "declared": 2, "lower": 1.9, "upper": 2.6, "observed": 4.8, "verdict": "late"},
     [("", 4.8, False)]),
    ({"name": "idle", "declared": 2, "lower": 1.9, "upper": 2.6, "observed": None, "verdict": "never"},
     [("", None, False)]),
    ({"name": "pings", "lower": 0.9, "upper": 1.5, "expected": [1, 1, 1], "observed": [1.0, 1.2],
      "verdict": "early"}, [("gap 1", 1.0, True), ("gap 2", 1.2, True), ("gap 3", None, False)]),
    ({"name": "odd", "lower": "x", "upper": True, "observed": "soon", "verdict": "on-time"},
     [("", None, False)]),
])
def test_timing_chart_rows(item: dict[str, Any], rows: list[tuple[str, float | None, bool]]) -> None:
    drawn = chart(item)
    assert [(r.label, r.observed, r.within) for r in drawn.rows] == rows
    assert drawn.failed
    for r in drawn.rows:
        assert chart_module.LABEL_W <= r.band_x <= r.band_x + r.band_w <= chart_module.LABEL_W + chart_module.PLOT_W + 1
