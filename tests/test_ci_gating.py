"""Every way a `conformance run` can end, told truthfully by its exit code and by every report:
nothing executed, scenarios not tested for want of a setting (with and without --strict and
--require), SIGINT and SIGTERM, a baseline's known, new and stale entries, pytest-xdist runs with a
FAIL and with an ERROR; junit.xml valid by tests/data/junit.xsd, Allure statuses and real durations,
`conformance diff` of two runs of one clean target. Real runs in subprocesses, a handful of quick
scenarios each."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reference_server.app import RunningServer, start_in_thread
from reference_server.config import ServerConfig
from tests.test_cli import TOKEN as SERVED_TOKEN, _why, conformance, load_report, run_dir, serve

xmlschema = pytest.importorskip("xmlschema", reason="xmlschema is in the [test] extra")

QUICK = ["fp-empty-feed-204", "fp-unknown-feed-404", "ws-token-issue"]
SLOW = [*QUICK, "ws-idle-disconnect", "ws-keepalive-pings", "ws-token-refresh"]  # for the signal tests
FAULTS = ["--reference-fault", "fp-empty-batch-200", "--reference-fault", "fp-problem-json-media-type"]
TOKEN = "gating-token-5Rk29"
JUNIT_XSD = Path(__file__).resolve().parent / "data" / "junit.xsd"


def junit(out: Path) -> Any:
    """junit.xml of a run, validated against tests/data/junit.xsd."""
    schema = xmlschema.XMLSchema(str(JUNIT_XSD))
    schema.validate(str(out / "junit.xml"))
    return ET.parse(out / "junit.xml").getroot()


def cases(root: Any) -> dict[str, Any]:
    return {c.get("name"): c for c in root.iter("testcase")}


def allure(out: Path) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for path in (out / "allure-results").glob("*-result.json"):
        data = json.loads(path.read_text())
        found.setdefault(data["name"], []).append(data)
    return found


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    """A reference server the runs reach as a foreign target: a token, no control hook given."""
    running = start_in_thread(ServerConfig(tokens=(TOKEN,)))
    try:
        yield running
    finally:
        running.stop()


def foreign(server: RunningServer, reports: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return conformance("run", "-q", "--target", server.base_url, "--token", TOKEN, "--report-dir", str(reports),
                       *args, cwd=reports.parent)


# -- coverage: nothing executed, not tested, --strict, --require ------------------------------------

def test_nothing_executed_is_not_a_success(tmp_path: Path, server: RunningServer) -> None:
    proc = foreign(server, tmp_path / "r", "ws-token-issue", "fp-auth-required")
    assert proc.returncode == 4, _why(proc)
    report = load_report(tmp_path / "r")
    assert report["run"]["exit_code"] == 4 and "nothing was executed" in report["run"]["exit_reasons"][0]
    assert report["coverage"]["executed"] == 0
    assert {(n["id"], n["why"], n["setting"]) for n in report["coverage"]["not_executed"]} == {
        ("ws-token-issue", "not tested", "credentials"), ("fp-auth-required", "not tested", "control")}
    root = junit(run_dir(tmp_path / "r"))
    assert {c.find("skipped").get("type") for c in cases(root).values()} == {"not-tested"}
    assert "exit code 4" in proc.stdout and "nothing was executed" in proc.stdout
    summary = (run_dir(tmp_path / "r") / "summary.md").read_text()
    assert "exit code 4" in summary and "| fp-auth-required | MUST | not tested |" in summary


def test_untested_skips_pass_but_strict_and_require_fail_them(tmp_path: Path, server: RunningServer) -> None:
    chosen = ["fp-empty-feed-204", "fp-unknown-feed-404", "fp-auth-required"]
    lenient = foreign(server, tmp_path / "a", *chosen)
    assert lenient.returncode == 0, _why(lenient)
    report = load_report(tmp_path / "a")
    levels = report["coverage"]["levels"]["MUST"]
    assert (levels["selected"], levels["executed"], levels["not tested"]) == (3, 2, 1)
    entry = next(e for e in report["scenarios"] if e["id"] == "fp-auth-required")
    assert entry["skip"] == {"kind": "not tested", "setting": "control"} and entry["fails_run"] is False
    assert "1 not tested" in lenient.stdout and "control (1)" in lenient.stdout

    strict = foreign(server, tmp_path / "b", "--strict", *chosen)
    assert strict.returncode == 4, _why(strict)
    report = load_report(tmp_path / "b")
    assert report["run"]["exit_reasons"] == [
        "--strict: 1 scenario(s) not tested because a setting was not given: fp-auth-required"]
    failure = cases(junit(run_dir(tmp_path / "b")))["fp-auth-required"].find("failure")
    assert failure is not None and failure.get("type") == "not-tested"

    required = foreign(server, tmp_path / "c", "--require", "feed-polling:MUST", "--require", "ws-progress", *chosen)
    assert required.returncode == 4, _why(required)
    reqs = {r["require"]: r for r in load_report(tmp_path / "c")["coverage"]["requirements"]}
    assert reqs["feed-polling:MUST"]["missing"] == ["fp-auth-required"] and not reqs["feed-polling:MUST"]["met"]
    assert reqs["ws-progress"] == {"require": "ws-progress", "selected": 0, "met": False, "missing": []}


def test_bad_require_and_baseline_are_usage_errors(tmp_path: Path) -> None:
    proc = conformance("run", "--require", "fp-polling", "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert proc.returncode == 2 and "fp-polling" in proc.stderr, _why(proc)
    bad = tmp_path / "baseline.yaml"
    bad.write_text("scenarios: {fp-no-such-scenario: FAIL}\n")
    proc = conformance("run", "--baseline", str(bad), "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert proc.returncode == 2 and "fp-no-such-scenario" in proc.stderr, _why(proc)
    bad.write_text("scenarios: {fp-empty-feed-204: BROKEN}\n")
    proc = conformance("run", "--baseline", str(bad), cwd=tmp_path)
    assert proc.returncode == 2 and "baseline.yaml" in proc.stderr, _why(proc)
    assert not (tmp_path / "r").exists()


# -- SIGINT and SIGTERM ---------------------------------------------------------------------------

@pytest.mark.parametrize(("sig", "code", "extra"), [(signal.SIGINT, 130, []), (signal.SIGTERM, 143, []),
                                                    (signal.SIGTERM, 143, ["--", "-n", "2"])],
                         ids=["SIGINT", "SIGTERM", "SIGTERM-xdist"])
def test_a_signal_stops_the_run_and_every_report_says_so(tmp_path: Path, sig: signal.Signals, code: int,
                                                         extra: list[str]) -> None:
    name = signal.Signals(sig).name
    log = tmp_path / "out.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GITHUB_"))}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "harness", "run", "--report-dir", str(tmp_path / "r"), *SLOW, *extra],
                                cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, env=env | {"PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 60
        while log.read_text().count(" PASSED") < 2:  # a couple of scenarios ran
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        sent = time.monotonic()
        proc.send_signal(sig)
        proc.wait(timeout=30)
        stopped = time.monotonic() - sent
    text = log.read_text()
    assert proc.returncode == code, text[-3000:]
    print(f"{name}{' (xdist)' if extra else ''}: stopped {stopped:.2f} s after the signal")
    assert stopped < 10, f"took {stopped:.1f} s to stop"  # 1-3 s measured; the bound only guards against a hang
    out_dir = run_dir(tmp_path / "r")
    report = load_report(tmp_path / "r")
    run = report["run"]
    assert (run["exit_code"], run["interrupted"], run["signal"]) == (code, True, name)
    done, not_run = {e["id"] for e in report["scenarios"]}, {m["id"] for m in report["not_run"]}
    assert done | not_run == set(SLOW) and not done & not_run and len(done) >= 2 and not_run
    assert all(m["reason"] == f"the run was interrupted by {name}" for m in report["not_run"])
    assert report["summary"]["not_run"] == len(not_run)
    assert {n["id"] for n in report["coverage"]["not_executed"] if n["why"] == "not run"} == not_run
    skipped = {c.get("name"): c.find("skipped") for c in cases(junit(out_dir)).values()}
    assert {i for i, s in skipped.items() if s is not None and s.get("type") == "not-run"} == not_run
    results = allure(out_dir)
    assert set(results) == set(SLOW) and all(len(r) == 1 for r in results.values())  # one result each
    assert {i for i, [r] in results.items() if r["status"] == "skipped"} == not_run
    assert f"This run was interrupted by {name}" in (out_dir / "report.html").read_text()
    assert f"Interrupted by {name}" in (out_dir / "summary.md").read_text()
    assert f"exit code {code}" in text


# -- a baseline of known failures: expected, new, stale ---------------------------------------------

@pytest.fixture(scope="module")
def fault_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The quick scenarios with two faults: fp-empty-feed-204 FAILs, fp-unknown-feed-404 WARNs."""
    root = tmp_path_factory.mktemp("fault")
    proc = conformance("run", "-q", *FAULTS, "--report-dir", str(root / "r"), *QUICK, cwd=root)
    assert proc.returncode == 1, _why(proc)
    return run_dir(root / "r"), load_report(root / "r")


def test_baseline_expected_new_and_stale(tmp_path: Path, fault_run: tuple[Path, dict[str, Any]]) -> None:
    out, _ = fault_run
    written = conformance("baseline", str(out / "report.json"), "-o", str(tmp_path / "baseline.yaml"), cwd=tmp_path)
    assert written.returncode == 0, _why(written)
    text = (tmp_path / "baseline.yaml").read_text()
    assert "fp-empty-feed-204:\n    verdict: FAIL" in text and "fp-unknown-feed-404:\n    verdict: WARN" in text
    assert "ws-token-issue" not in text

    expected = conformance("run", "-q", *FAULTS, "--baseline", str(tmp_path / "baseline.yaml"),
                           "--report-dir", str(tmp_path / "expected"), *QUICK, cwd=tmp_path)
    assert expected.returncode == 0, _why(expected)
    report = load_report(tmp_path / "expected")
    assert report["baseline"]["known"] == ["fp-empty-feed-204", "fp-unknown-feed-404"]
    assert report["baseline"]["new"] == [] and report["baseline"]["stale"] == []
    known = cases(junit(run_dir(tmp_path / "expected")))["fp-empty-feed-204"].find("skipped")
    assert known is not None and known.get("type") == "known-failure"
    [result] = allure(run_dir(tmp_path / "expected"))["fp-empty-feed-204"]
    assert result["status"] == "failed" and result["statusDetails"]["known"] is True
    assert "1 xfailed" in expected.stdout or "2 xfailed" in expected.stdout

    only_warn = tmp_path / "only-warn.yaml"
    only_warn.write_text("scenarios:\n  fp-unknown-feed-404: WARN\n")
    new = conformance("run", "-q", *FAULTS, "--baseline", str(only_warn), "--report-dir", str(tmp_path / "new"),
                      *QUICK, cwd=tmp_path)
    assert new.returncode == 1, _why(new)
    report = load_report(tmp_path / "new")
    assert report["baseline"]["new"] == ["fp-empty-feed-204"] and report["baseline"]["known"] == ["fp-unknown-feed-404"]
    assert report["run"]["exit_reasons"] == ["1 scenario(s) FAIL not in the baseline: fp-empty-feed-204"]

    stale = conformance("run", "-q", "--baseline", str(tmp_path / "baseline.yaml"),
                        "--report-dir", str(tmp_path / "stale"), *QUICK, cwd=tmp_path)
    assert stale.returncode == 0, _why(stale)
    report = load_report(tmp_path / "stale")
    assert [s["id"] for s in report["baseline"]["stale"]] == ["fp-empty-feed-204", "fp-unknown-feed-404"]
    assert "2 stale" in stale.stdout
    strict = conformance("run", "-q", "--strict", "--baseline", str(tmp_path / "baseline.yaml"),
                         "--report-dir", str(tmp_path / "strict"), *QUICK, cwd=tmp_path)
    assert strict.returncode == 1, _why(strict)
    report = load_report(tmp_path / "strict")
    assert "stale baseline entries" in report["run"]["exit_reasons"][0]
    stale_case = cases(junit(run_dir(tmp_path / "strict")))["fp-empty-feed-204"].find("failure")
    assert stale_case is not None and stale_case.get("type") == "stale-baseline"


# -- JUnit and Allure as CI tools read them -----------------------------------------------------------

def test_junit_names_scenarios_by_profile_and_shows_fail_warn_and_transcript(fault_run: tuple[Path, dict[str, Any]]) -> None:
    out, report = fault_run
    root = junit(out)
    by_name = cases(root)
    assert set(by_name) == set(QUICK)
    assert {c.get("classname") for c in by_name.values()} == {"conformance.feed-polling", "conformance.ws-progress"}
    assert [s.get("name") for s in root.iter("testsuite")] == ["conformance.feed-polling", "conformance.ws-progress"]
    fail = by_name["fp-empty-feed-204"].find("failure")
    assert fail is not None and fail.get("type") == "FAIL" and "expected: 204" in (fail.text or "")
    warn = by_name["fp-unknown-feed-404"]
    assert warn.find("failure") is None and (warn.find("system-err").text or "").startswith("WARN")
    for case in by_name.values():
        assert "GET " in (case.find("system-out").text or "") or "POST " in (case.find("system-out").text or "")
    assert root.get("failures") == "1" and root.get("errors") == "0" and root.get("tests") == "3"
    assert TOKEN not in (out / "junit.xml").read_text()


def test_allure_statuses_durations_description_and_run_facts(fault_run: tuple[Path, dict[str, Any]]) -> None:
    out, report = fault_run
    results = {name: r for name, [r] in allure(out).items()}
    assert {n: r["status"] for n, r in results.items()} == {
        "fp-empty-feed-204": "failed", "fp-unknown-feed-404": "passed", "ws-token-issue": "passed"}
    assert results["fp-unknown-feed-404"]["statusDetails"]["message"].startswith("WARN")
    entries = {e["id"]: e for e in report["scenarios"]}
    for name, result in results.items():
        assert result["stop"] - result["start"] == round(entries[name]["duration_s"] * 1000) > 0
        assert entries[name]["source"]["clause"].split()[0] in result["description"]
        assert all(link["url"].startswith(("http://", "https://")) for link in result.get("links", []))
    env = (out / "allure-results" / "environment.properties").read_text()
    assert "target=http\\://127.0.0.1" in env or "target=http://127.0.0.1" in env
    assert "options.feed-polling.stale_complete_status=" in env and "harness=progress-conformance" in env
    assert json.loads((out / "allure-results" / "executor.json").read_text())["buildName"] == report["run"]["id"]
    assert any(c["name"].startswith("Conformance failures") for c in
               json.loads((out / "allure-results" / "categories.json").read_text()))


# -- pytest-xdist: one report set, one summary, the right exit code ------------------------------------

def test_xdist_with_a_fail_gives_one_report_set_and_exit_1(tmp_path: Path) -> None:
    proc = conformance("run", "-q", *FAULTS[:2], "--report-dir", str(tmp_path / "r"), *QUICK, "fp-batch-shape",
                       "--", "-n", "2", cwd=tmp_path)
    assert proc.returncode == 1, _why(proc)
    assert proc.stdout.count("conformance summary") == 1
    report = load_report(tmp_path / "r")  # exactly one run folder
    assert [e["id"] for e in report["scenarios"]] == ["fp-batch-shape", "fp-empty-feed-204", "fp-unknown-feed-404",
                                                       "ws-token-issue"]  # the selection's order, not the workers'
    assert {e["id"]: e["verdict"] for e in report["scenarios"]}["fp-empty-feed-204"] == "FAIL"
    assert report["run"]["exit_code"] == 1 and report["target"]["bundled"] is True
    out = run_dir(tmp_path / "r")
    assert cases(junit(out))["fp-empty-feed-204"].find("failure") is not None
    assert sorted(allure(out)) == sorted([*QUICK, "fp-batch-shape"])


def test_plain_pytest_xdist_with_errors_exits_3_with_one_report_set(tmp_path: Path) -> None:
    scenarios = Path(__file__).resolve().parents[1] / "scenarios"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GITHUB_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(scenarios), "-n", "2", "-p", "no:cacheprovider", "-q",
         "--conformance-target=http://127.0.0.1:9", "--conformance-request-timeout=0.5",
         f"--conformance-report-dir={tmp_path / 'r'}", "--junitxml", str(tmp_path / "pytest-junit.xml"),
         *(f"--conformance-select={s}" for s in QUICK)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 3, _why(proc)
    report = load_report(tmp_path / "r")
    assert {e["verdict"] for e in report["scenarios"]} == {"ERROR"} and len(report["scenarios"]) == 3
    assert report["run"]["exit_code"] == 3 and proc.stdout.count("conformance summary") == 1
    # pytest's own --junitxml is rewritten: the scenarios as ours, no properties inside a testcase
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(tmp_path / "pytest-junit.xml"))
    root = ET.parse(tmp_path / "pytest-junit.xml").getroot()
    assert root.get("errors") == "3" and {c.get("classname") for c in root.iter("testcase")} == {
        "conformance.feed-polling", "conformance.ws-progress"}


# -- conformance diff, --version, run -- <pytest args> ------------------------------------------------

def test_diff_of_two_clean_runs_reports_no_change(tmp_path: Path, fault_run: tuple[Path, dict[str, Any]]) -> None:
    for name in ("a", "b"):
        proc = conformance("run", "-q", "--report-dir", str(tmp_path / name), *QUICK, cwd=tmp_path)
        assert proc.returncode == 0, _why(proc)
    a, b = (str(run_dir(tmp_path / n) / "report.json") for n in ("a", "b"))
    same = conformance("diff", a, b, cwd=tmp_path)
    assert same.returncode == 0 and "no change" in same.stdout, _why(same)
    changed = conformance("diff", a, str(fault_run[0] / "report.json"), "--json", cwd=tmp_path)
    assert changed.returncode == 1, _why(changed)
    diff = json.loads(changed.stdout)
    assert {(v["id"], v["before"], v["after"]) for v in diff["verdicts"]} == {
        ("fp-empty-feed-204", "PASS", "FAIL"), ("fp-unknown-feed-404", "PASS", "WARN")}
    assert any(c["id"] == "fp-empty-feed-204" and c["change"] == "changed" for c in diff["checks"])


def test_version_pytest_arguments_and_the_step_summary(tmp_path: Path) -> None:
    version = conformance("--version", cwd=tmp_path, timeout=30)
    assert version.returncode == 0 and "0.1.0" in version.stdout
    step = tmp_path / "step-summary.md"
    step.write_text("earlier step\n")
    proc = conformance("run", "-q", "--report-dir", str(tmp_path / "r"), "--summary", str(tmp_path / "mine.md"),
                       *QUICK, "--", "-k", "fp-empty", cwd=tmp_path, env={"GITHUB_STEP_SUMMARY": str(step)})
    assert proc.returncode == 0, _why(proc)
    assert [e["id"] for e in load_report(tmp_path / "r")["scenarios"]] == ["fp-empty-feed-204"]  # -k reached pytest
    text = step.read_text()
    assert text.startswith("earlier step\n## ✅ Conformance: exit code 0")
    assert "| MUST | 1 | 1 | 0 | 0 | 0 | 0 |" in text
    assert (tmp_path / "mine.md").read_text() == text.removeprefix("earlier step\n")


def test_the_documented_github_actions_step_gates_as_it_says(tmp_path: Path) -> None:
    workflow = yaml.safe_load((Path(__file__).resolve().parents[1] / "docs" / "github-actions.yml").read_text())
    steps = {s.get("name"): s for s in workflow["jobs"]["conformance"]["steps"]}
    assert steps["Upload the reports"]["if"] == "always()" and "reports/" in steps["Upload the reports"]["with"]["path"]
    script = steps["Conformance"]["run"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GITHUB_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    step_summary = tmp_path / "step-summary.md"
    with serve(tmp_path) as base:
        proc = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                              env=env | {"TARGET": base, "CONFORMANCE_TOKEN": SERVED_TOKEN,
                                         "GITHUB_STEP_SUMMARY": str(step_summary)})
    assert proc.returncode == 0, _why(proc)
    report = load_report(tmp_path / "reports")
    assert report["coverage"]["requirements"][0]["met"]
    assert "Conformance: exit code 0" in step_summary.read_text()


def test_the_junit_schema_refuses_what_the_issue_found_wrong(tmp_path: Path) -> None:
    """<properties> inside a <testcase> (what the old report wrote) and a testcase without
    classname are invalid by tests/data/junit.xsd: the validation above can fail."""
    import xmlschema
    schema = xmlschema.XMLSchema(str(JUNIT_XSD))
    bad = tmp_path / "bad.xml"
    bad.write_text('<testsuites><testsuite name="s" tests="1"><testcase name="t" classname="c">'
                   '<properties><property name="level" value="MUST"/></properties></testcase>'
                   '</testsuite></testsuites>')
    assert not schema.is_valid(str(bad))
    bad.write_text('<testsuites><testsuite name="s" tests="1"><testcase name="t"/></testsuite></testsuites>')
    assert not schema.is_valid(str(bad))
    good = tmp_path / "good.xml"
    good.write_text('<testsuites><testsuite name="s" tests="1"><properties><property name="a" value="b"/>'
                    '</properties><testcase name="t" classname="conformance.feed-polling"><failure message="m">x'
                    '</failure><system-out>transcript</system-out></testcase></testsuite></testsuites>')
    assert schema.is_valid(str(good))
