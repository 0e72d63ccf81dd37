"""Abuse of the reference server in its own process: it stays small and keeps answering others.

Each test prints the figures issue 11 asks for (run with ``-s`` to see them): the server's peak
RSS and the latency of a normal request while the abuse goes on.
"""
from __future__ import annotations

import resource
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.abuse import LatencyProbe, RawSocket, ServedProcess, served

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")

JOBS = "/api/compute-jobs"
BIG_LINES = 10_000
RSS_GROWTH_MB = 100  # the bound for "RSS stays bounded"
NORMAL_LATENCY = 2.0  # generous: a normal request answered in tens of ms when nothing is wrong


def figures(what: str, server: ServedProcess, baseline_mb: float, probe: LatencyProbe) -> None:
    print(f"\n[{what}] peak RSS {server.peak_rss_mb():.0f} MB (baseline {baseline_mb:.0f} MB); "
          f"{probe.summary()}")


def submit(server: ServedProcess, token: str, job_id: str, lines: int) -> None:
    body = {"id": job_id, "conformanceJob": {"runLogLines": lines, "lineIntervalMs": 0}}
    r = httpx.post(server.base + JOBS, json=body, timeout=10,
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in (200, 201), r.text


def wait_finished(server: ServedProcess, token: str, job_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{server.base}{JOBS}/{job_id}", timeout=10,
                      headers={"Authorization": f"Bearer {token}"})
        if r.status_code == 200 and r.json()["status"] == "COMPLETED":
            return
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def subscribe(job_id: str, times: int) -> dict[str, Any]:
    sub = {"computeJobId": job_id, "executionAttempts": 1, "lastRunLogLine": 0}
    return {"messageType": "SUBSCRIBE", "messagePayload": {"subscriptions": [sub] * times}}


def test_subscribe_flood_from_a_client_that_does_not_read(tmp_path: Path) -> None:
    """Three ~62 KB SUBSCRIBE frames naming a finished 10,000-line job 600 times each."""
    with served(tmp_path) as server:
        token = server.token()
        submit(server, token, "big", BIG_LINES)
        wait_finished(server, token, "big")
        baseline = server.rss_mb()
        client = RawSocket(server.port, token)
        with LatencyProbe(server.base) as probe:
            for _ in range(3):
                if not client.send_json(subscribe("big", 600)):
                    break
            time.sleep(3)
            close = client.drain(timeout=10)
        figures("SUBSCRIBE 3 x 600", server, baseline, probe)
        assert server.peak_rss_mb() - baseline < RSS_GROWTH_MB
        assert not probe.failures and probe.worst < NORMAL_LATENCY, probe.summary()
        assert close is not None and close.code == 1008 and close.reason, close


def test_a_reader_that_does_not_read_is_disconnected(tmp_path: Path) -> None:
    """SUBSCRIBE frames within the per-message cap, each replaying 100 x 10,000 lines."""
    with served(tmp_path) as server:
        token = server.token()
        submit(server, token, "big", BIG_LINES)
        wait_finished(server, token, "big")
        baseline = server.rss_mb()
        client = RawSocket(server.port, token)
        t0 = time.monotonic()
        with LatencyProbe(server.base) as probe:
            sent = 0
            while sent < 10 and client.send_json(subscribe("big", 100)):
                sent += 1
                time.sleep(0.2)
            close = client.drain(timeout=15)
        ended = time.monotonic() - t0
        figures(f"SUBSCRIBE {sent} x 100, never read", server, baseline, probe)
        assert server.peak_rss_mb() - baseline < RSS_GROWTH_MB
        assert not probe.failures and probe.worst < NORMAL_LATENCY, probe.summary()
        # disconnected: a Close frame 1008/1013 if it got through, else the connection was reset
        assert close is None or close.code in (1008, 1013), close
        assert ended < 20


def _slow_headers(port: int, n: int) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        socks.append(s)
    return socks


def _our_open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"needs {needed} open files, the hard limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def test_the_open_file_limit_is_raised_at_start(tmp_path: Path) -> None:
    """1,100 slow-header connections against a 1024 soft limit that may be raised."""
    _our_open_files(2400)
    with served(tmp_path, nofile=(1024, 4096)) as server:
        assert server.soft_nofile() == 4096
        baseline = server.rss_mb()
        socks = _slow_headers(server.port, 1100)
        try:
            with LatencyProbe(server.base) as probe:
                time.sleep(2)
        finally:
            for s in socks:
                s.close()
        figures("1,100 slow headers, limit raisable", server, baseline, probe)
        assert not probe.failures and probe.worst < NORMAL_LATENCY, probe.summary()


def test_slow_headers_time_out_and_the_accept_storm_is_logged_once(tmp_path: Path) -> None:
    """1,100 slow-header connections when 1024 open files is a hard limit."""
    _our_open_files(2400)
    header_timeout = 5.0  # long enough for 1,100 connections to exhaust the 1024 files
    with served(tmp_path, limits={"header_timeout": header_timeout}, nofile=(1024, 1024)) as server:
        baseline = server.rss_mb()
        socks = _slow_headers(server.port, 1100)
        try:
            with LatencyProbe(server.base, period=0.2, timeout=20) as probe:
                time.sleep(header_timeout + 3)
            closed = 0
            for s in socks[:50]:  # the first ones were accepted: they must have been closed
                s.settimeout(0.5)
                try:
                    closed += s.recv(1) == b""
                except TimeoutError:  # still open
                    pass
                except OSError:  # reset
                    closed += 1
        finally:
            for s in socks:
                s.close()
        figures("1,100 slow headers, hard limit 1024", server, baseline, probe)
        log = server.log()
        assert closed == 50
        assert probe.latencies and probe.worst < header_timeout + 10, probe.summary()
        assert 1 <= log.count("out of system resource") <= 2, log[-2000:]
        assert len(log) < 50_000


def test_finished_jobs_are_not_kept_forever(tmp_path: Path) -> None:
    """200 finished 10,000-line jobs: only the newest ``finished_jobs`` stay, then none."""
    with served(tmp_path, limits={"finished_jobs": 10, "finished_job_retention": 30.0}) as server:
        token = server.token()
        baseline = server.rss_mb()
        with LatencyProbe(server.base) as probe:
            for i in range(200):
                submit(server, token, f"job-{i}", BIG_LINES)
                if i % 20 == 19:
                    wait_finished(server, token, f"job-{i}")
            wait_finished(server, token, "job-199")
        figures("200 jobs of 10,000 lines", server, baseline, probe)
        auth = {"Authorization": f"Bearer {token}"}
        kept = [i for i in range(200)
                if httpx.get(f"{server.base}{JOBS}/job-{i}", headers=auth).status_code == 200]
        assert len(kept) == 10 and min(kept) >= 180, kept
        assert server.peak_rss_mb() - baseline < RSS_GROWTH_MB
        assert not probe.failures and probe.worst < NORMAL_LATENCY, probe.summary()
