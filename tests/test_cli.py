"""The `conformance` command end to end, in subprocesses: every exit code, reports, and the flow
against a separately started `conformance serve` (a foreign target as far as the harness knows)."""
from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
import contextlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.catalog import catalog
from harness.schemas import registry
from reference_server.faults import all_faults

REPORT_SCHEMA = "harness/report"
FP_SCENARIOS = sorted(s.id for s in catalog() if s.profile == "feed-polling")


def conformance(*args: str, cwd: Path, timeout: float = 120, stdin: str | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GITHUB_"))} | (env or {})
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=timeout, env=environ)


def _why(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_dir(report_dir: Path) -> Path:
    runs = [p for p in report_dir.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1, runs
    return runs[0]


def load_report(report_dir: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((run_dir(report_dir) / "report.json").read_text())
    assert registry().issues(REPORT_SCHEMA, report) == []
    return report


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {e["id"]: e["verdict"] for e in report["scenarios"]}


# -- run against the bundled server -----------------------------------------------------------

def test_clean_run_exits_0_and_writes_every_report(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = conformance("run", "--profile", "feed-polling", "--report-dir", str(reports), cwd=tmp_path)
    assert proc.returncode == 0, _why(proc)
    out = run_dir(reports)
    assert (out / "junit.xml").is_file()
    junit = (out / "junit.xml").read_text()
    assert "<testsuite" in junit and 'failures="0"' in junit and 'errors="0"' in junit
    assert any((out / "allure-results").iterdir())
    assert (out / "report.html").is_file()
    latest = reports / "latest"
    assert latest.is_symlink() and latest.resolve() == out.resolve()
    report = load_report(reports)
    assert verdicts(report) == dict.fromkeys(FP_SCENARIOS, "PASS")
    assert report["run"]["exit_code"] == 0
    assert "conformance summary" in proc.stdout
    assert f"PASS: {len(FP_SCENARIOS)}" in proc.stdout


def test_fault_exits_1(tmp_path: Path) -> None:
    proc = conformance("run", "-q", "--profile", "feed-polling", "--reference-fault", "fp-discard-all-noop",
                       "--report-dir", str(tmp_path), "fp-discard-all", "fp-empty-feed-204", cwd=tmp_path)
    assert proc.returncode == 1, _why(proc)
    report = load_report(tmp_path)
    assert verdicts(report) == {"fp-discard-all": "FAIL", "fp-empty-feed-204": "PASS"}
    failure = report["scenarios"][0]["failure"] or report["scenarios"][1]["failure"]
    assert failure and "expected" in failure and "observed" in failure
    assert report["target"]["faults"] == ["fp-discard-all-noop"]
    # the summary wraps the reason (never cut mid-word) and shows what was observed in a FAIL's line
    summary = proc.stdout[proc.stdout.index("conformance summary"):]
    assert "after discardAll, next answers 204" in summary and "observed: 200" in summary


def test_default_report_dir_is_reports_in_the_cwd(tmp_path: Path) -> None:
    proc = conformance("run", "-q", "fp-empty-feed-204", cwd=tmp_path)
    assert proc.returncode == 0, _why(proc)
    assert (tmp_path / "reports" / "latest" / "report.json").is_file()


# -- usage and configuration errors: exit 2 ---------------------------------------------------

def test_bad_config_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "target.yaml"
    config.write_text("target: http://127.0.0.1:9\nrequest_timout: 0.5\n")
    proc = conformance("run", "--config", str(config), "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert proc.returncode == 2, _why(proc)
    assert "request_timout" in proc.stderr and str(config) in proc.stderr
    assert not (tmp_path / "r").exists()  # nothing ran, nothing written


def test_bad_toml_value_exits_2_naming_the_setting(tmp_path: Path) -> None:
    config = tmp_path / "target.toml"
    config.write_text('target = "http://127.0.0.1:9"\n[timings]\nscale = -1\n')
    proc = conformance("run", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 2, _why(proc)
    assert "timings.scale" in proc.stderr


def test_unknown_profile_option_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "target.yaml"
    config.write_text("options:\n  feed-polling:\n    stale_status: 409\n")
    proc = conformance("run", "--config", str(config), "--target", "http://127.0.0.1:9", cwd=tmp_path)
    assert proc.returncode == 2, _why(proc)
    assert "options.feed-polling.stale_status" in proc.stderr


def test_unknown_fault_exits_2(tmp_path: Path) -> None:
    proc = conformance("run", "--reference-fault", "fp-no-such-fault", cwd=tmp_path)
    assert proc.returncode == 2, _why(proc)
    assert "fp-no-such-fault" in proc.stderr and "--reference-fault" in proc.stderr
    serve = conformance("serve", "--fault", "fp-no-such-fault", cwd=tmp_path, timeout=30)
    assert serve.returncode == 2 and "fp-no-such-fault" in serve.stderr


def test_control_without_target_exits_2(tmp_path: Path) -> None:
    proc = conformance("run", "--control", "http://127.0.0.1:9/_control", cwd=tmp_path)
    assert proc.returncode == 2, _why(proc)
    assert "--target" in proc.stderr and "control" in proc.stderr


def test_unknown_profile_exits_2(tmp_path: Path) -> None:
    proc = conformance("run", "--profile", "smoke-signals", cwd=tmp_path)
    assert proc.returncode == 2, _why(proc)
    assert "smoke-signals" in proc.stderr


def test_fault_with_a_foreign_target_exits_2(tmp_path: Path) -> None:
    proc = conformance("run", "--target", "http://127.0.0.1:9", "--reference-fault", "fp-discard-all-noop",
                       cwd=tmp_path)
    assert proc.returncode == 2, _why(proc)
    assert "--reference-fault" in proc.stderr


def test_selection_matching_nothing_exits_2(tmp_path: Path) -> None:
    proc = conformance("run", "--report-dir", str(tmp_path), "no-such-scenario-*", cwd=tmp_path)
    assert proc.returncode == 2, _why(proc)


def test_help_documents_the_exit_codes(tmp_path: Path) -> None:
    for args in (["--help"], ["run", "--help"]):
        proc = conformance(*args, cwd=tmp_path, timeout=30)
        assert proc.returncode == 0
        for code in ("0  every applicable", "1  at least one FAIL", "2  usage", "3  an ERROR"):
            assert code in proc.stdout


# -- unreachable targets: exit 3 --------------------------------------------------------------

def test_closed_port_exits_3(tmp_path: Path) -> None:
    port = free_port()  # bound then closed: nothing listens there now
    started = time.monotonic()
    proc = conformance("run", "--target", f"http://127.0.0.1:{port}", "--profile", "feed-polling",
                       "--report-dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 3, _why(proc)
    assert time.monotonic() - started < 30
    report = load_report(tmp_path)
    assert set(verdicts(report).values()) == {"ERROR"}
    assert all("unreachable" in e["reason"] for e in report["scenarios"])


@contextmanager
def raw_server(handle: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A loopback TCP server that hands every connection to ``handle`` in a thread of its own."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.1)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=handle, args=(conn, stop), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        server.close()


def _say_nothing(conn: socket.socket, stop: threading.Event) -> None:
    """Accept the connection and never answer."""
    with conn:
        stop.wait()


def silent_server() -> "contextlib.AbstractContextManager[int]":
    return raw_server(_say_nothing)


def test_target_that_never_answers_exits_3_quickly(tmp_path: Path) -> None:
    config = tmp_path / "target.yaml"
    config.write_text("request_timeout: 0.5\n")
    with silent_server() as port:
        started = time.monotonic()
        proc = conformance("run", "--config", str(config), "--target", f"http://127.0.0.1:{port}",
                           "--control", f"http://127.0.0.1:{port}/_control", "--token", "t0ken-x",
                           "--profile", "feed-polling", "--report-dir", str(tmp_path / "r"),
                           cwd=tmp_path, timeout=60)
        elapsed = time.monotonic() - started
    assert proc.returncode == 3, _why(proc)
    assert elapsed < 20, f"took {elapsed:.1f}s"
    report = load_report(tmp_path / "r")
    assert set(verdicts(report).values()) == {"ERROR"}
    assert all("timed out (timeout 0.5s)" in e["reason"] for e in report["scenarios"])


def _trickle(conn: socket.socket, stop: threading.Event) -> None:
    """Answer with a long body, one byte every 0.2 s: no single read ever waits longer than the
    request timeout, yet no response ever ends."""
    with conn:
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            while not stop.wait(0.2):
                conn.sendall(b"x")
        except OSError:
            pass


def trickling_server() -> "contextlib.AbstractContextManager[int]":
    return raw_server(_trickle)


def test_target_that_trickles_exits_3_quickly(tmp_path: Path) -> None:
    config = tmp_path / "target.yaml"
    config.write_text("request_timeout: 0.5\n")
    with trickling_server() as port:
        proc = conformance("run", "-q", "--config", str(config), "--target", f"http://127.0.0.1:{port}",
                           "--profile", "feed-polling", "fp-empty-feed-204", "fp-batch-shape",
                           "--report-dir", str(tmp_path / "r"), cwd=tmp_path, timeout=10)
    assert proc.returncode == 3, _why(proc)


# -- list, validate, serve --list-faults ------------------------------------------------------

def test_list_has_a_header_and_tags_and_a_json_form(tmp_path: Path) -> None:
    proc = conformance("list", cwd=tmp_path, timeout=30)
    assert proc.returncode == 0, _why(proc)
    head = proc.stdout.splitlines()[1]
    assert all(name in head for name in ("id", "profile", "level", "tags", "title", "clause"))
    assert proc.stdout.rstrip().endswith(f"{len(catalog())} scenarios")
    proc = conformance("list", "--format", "json", cwd=tmp_path, timeout=30)
    assert proc.returncode == 0, _why(proc)
    listed = {item["id"]: item for item in json.loads(proc.stdout)}
    assert set(listed) == {s.id for s in catalog()}
    for s in catalog():  # nothing cut: the whole clause, the tags, the level
        item = listed[s.id]
        assert (item["profile"], item["level"], item["title"]) == (s.profile, str(s.level), s.title)
        assert item["tags"] == list(s.tags)
        assert item["source"]["clause"] == " ".join(s.source.clause.split())
    proc = conformance("list", "--format", "json", "tag:security", cwd=tmp_path, timeout=30)
    assert {i["id"] for i in json.loads(proc.stdout)} == {s.id for s in catalog() if "security" in s.tags}


def test_serve_list_faults(tmp_path: Path) -> None:
    proc = conformance("serve", "--list-faults", cwd=tmp_path, timeout=30)
    assert proc.returncode == 0, _why(proc)
    names = [line.split("\t")[0] for line in proc.stdout.splitlines()]
    assert sorted(names) == sorted(all_faults())
    assert "fp-discard-all-noop" in names


# -- the foreign-target flow: `conformance serve` in its own process --------------------------

TOKEN = "cli-foreign-token-7Hq2"


@contextmanager
def serve(tmp_path: Path, *faults: str) -> Iterator[str]:
    port = free_port()
    args = [sys.executable, "-m", "harness", "serve", "--port", str(port), "--token", TOKEN,
            "--timings", "fast", "--client", f"{CLIENT_ID}:{CLIENT_SECRET}", "--client", f"{OTHER_ID}:{OTHER_SECRET}"]
    for fault in faults:
        args += ["--fault", fault]
    log = (tmp_path / f"serve-{port}.log").open("w")
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail(f"serve exited with {proc.returncode}: {(tmp_path / log.name).read_text()}")
            try:
                if httpx.get(base + "/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("serve did not answer within 20 s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def test_foreign_target_with_a_fault_exits_1(tmp_path: Path) -> None:
    with serve(tmp_path, "fp-discard-all-noop") as base:
        proc = conformance("run", "-q", "--target", base, "--control", base + "/_control", "--token", TOKEN,
                           "--profile", "feed-polling", "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert proc.returncode == 1, _why(proc)
    report = load_report(tmp_path / "r")
    v = verdicts(report)
    assert v["fp-discard-all"] == "FAIL"
    assert v["fp-tenant-isolation"] == "SKIP"  # only one tenant declared
    # the no-op discardAll is caught by the discardAll scenario, and may be by the stateful model
    # (its random sequences include discardAll); nothing else is affected, and nothing is an ERROR
    others = {i: x for i, x in v.items() if x not in ("PASS", "SKIP")}
    assert set(others.values()) == {"FAIL"}
    assert set(others) <= {"fp-discard-all", "fp-stateful-model"}
    assert report["target"]["bundled"] is False and report["target"]["base_url"] == base
    assert TOKEN not in (run_dir(tmp_path / "r") / "report.json").read_text()


def test_foreign_target_without_fault_exits_0(tmp_path: Path) -> None:
    with serve(tmp_path) as base:
        proc = conformance("run", "-q", "--target", base, "--control", base + "/_control", "--token", TOKEN,
                           "--tenant", "tenant-a", "--tenant", "tenant-b", "--profile", "feed-polling",
                           "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert proc.returncode == 0, _why(proc)
    # no token per tenant was declared: fp-tenant-token-bound is "not tested", everything else passes
    expected = {**dict.fromkeys(FP_SCENARIOS, "PASS"), "fp-tenant-token-bound": "SKIP"}
    assert verdicts(load_report(tmp_path / "r")) == expected


def test_foreign_target_without_control_skips_what_needs_it(tmp_path: Path) -> None:
    with serve(tmp_path) as base:
        proc = conformance("run", "-q", "--target", base, "--token", TOKEN, "--profile", "feed-polling",
                           "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert proc.returncode == 0, _why(proc)
    report = load_report(tmp_path / "r")
    skipped = [e for e in report["scenarios"] if e["verdict"] == "SKIP"]
    assert skipped and all("control" in e["reason"] or "tenants" in e["reason"] for e in skipped)
    assert set(verdicts(report).values()) <= {"PASS", "SKIP"}


def test_foreign_target_with_a_wrong_token_is_not_a_pass(tmp_path: Path) -> None:
    with serve(tmp_path) as base:
        proc = conformance("run", "-q", "--target", base, "--control", base + "/_control", "--token", "wrong-token",
                           "--profile", "feed-polling", "fp-empty-feed-204", "fp-batch-shape",
                           "--report-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert proc.returncode in (1, 3), _why(proc)
    assert "PASS" not in verdicts(load_report(tmp_path / "r")).values()


CLIENT_ID, CLIENT_SECRET = "vendor-client", "vendor-secret-0123456789"
OTHER_ID, OTHER_SECRET = "vendor-client-2", "vendor-secret-2-9876543210"
# what a vendor declares for `conformance serve --timings fast` (reference_server/config.py)
WS_FAST_CONFIG = f"""
clients: [{{client_id: {OTHER_ID}, client_secret: {OTHER_SECRET}}}]
timings: {{ping_interval: 0.25, idle_timeout: 1.2, token_lifetime: 1.6, app_message_timeout: 0.8,
          tolerance: 0.15, slack: 0.6}}
options:
  ws-progress: {{idle_close_code: 4000, token_expiry_close_code: 4001, submit_status: [201],
                unknown_connection_status: [422], job_timeout: 5, update_token_ack: TOKEN_UPDATED}}
"""


def test_foreign_ws_target_with_a_fault_exits_1(tmp_path: Path) -> None:
    config = tmp_path / "ws.yaml"
    config.write_text(WS_FAST_CONFIG)
    with serve(tmp_path, "ws-no-pings") as base:
        proc = conformance("run", "-q", "--target", base, "--client-id", CLIENT_ID, "--client-secret",
                           CLIENT_SECRET, "--config", str(config), "--profile", "ws-progress",
                           "--report-dir", str(tmp_path / "r"), cwd=tmp_path, timeout=180)
    assert proc.returncode == 1, _why(proc)
    report = load_report(tmp_path / "r")
    failed = {i for i, x in verdicts(report).items() if x != "PASS"}
    assert failed == {"ws-keepalive-pings", "ws-token-expiry-close", "ws-token-refresh"}
    text = (run_dir(tmp_path / "r") / "report.json").read_text()
    assert CLIENT_SECRET not in text and OTHER_SECRET not in text
