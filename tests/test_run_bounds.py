"""Every scenario ends within its bound whatever happens inside it, and a run has a total budget
after which the scenarios left are ERROR 'not run' and the reports are written (issue 10)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from aiohttp import web

from harness.catalog import Scenario, Source
from harness.runner import Context, executor
from harness.session import RunSession
from harness.verdicts import Level, Verdict
from reference_server.app import start_app_in_thread


@executor("test.sync-hangs")
def _hangs(ctx: Context) -> None:
    time.sleep(60)  # CPU-free, but a synchronous executor no asyncio limit can interrupt


@pytest.fixture
def answers() -> Iterator[str]:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", ok)
    served = start_app_in_thread(app)
    yield served.base_url
    served.stop()


def test_a_hanging_synchronous_executor_is_abandoned_at_its_bound(answers: str) -> None:
    scenario = Scenario(id="t-sync-hangs", title="a synchronous executor that hangs", profile="feed-polling",
                        level=Level.MUST, requirement="testing", source=Source("protocol-notes.md", "a clause here"),
                        kind="test.sync-hangs", path=Path("x.yaml"))
    run = RunSession(settings={"target": answers, "max_wait": 0.1, "request_timeout": 0.05})
    t0 = time.monotonic()
    result = run.run(scenario)
    run.stop()
    assert result.verdict is Verdict.ERROR and "did not end within its bound" in result.reason
    assert time.monotonic() - t0 < 30  # the bound is 10.6 s; generous for a loaded machine


def test_the_run_budget_turns_the_rest_into_errors_and_the_reports_are_written(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "-q", "-j", "1", "--run-budget", "1.5",
                           "fp-stateful-model", "fp-fifo-drain", "ws-keepalive-pings", "ws-token-issue",
                           "--report-dir", str(tmp_path)], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 3, proc.stderr[-2000:]
    report = json.loads(next(p for p in tmp_path.glob("*/report.json") if p.parent.name != "latest").read_text())
    verdicts = {s["id"]: (s["verdict"], s["reason"]) for s in report["scenarios"]}
    assert verdicts["fp-stateful-model"][0] == "PASS"
    assert verdicts["ws-token-issue"][0] == "ERROR" and "run budget" in verdicts["ws-token-issue"][1]


def test_a_run_leaves_nothing_of_hypothesis_in_the_current_folder(tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "-q", "fp-stateful-model",
                           "--report-dir", str(tmp_path / "r")], capture_output=True, text=True, timeout=180, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list(cwd.iterdir()) == []


@executor("test.raises-memory-error")
def _oom(ctx: Context) -> None:
    raise MemoryError()


def test_a_crash_while_describing_a_crash_still_gives_a_verdict(answers: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The crash handler can crash (traceback.format_exc raising MemoryError again): the scenario
    still appears with an ERROR, never goes missing from the reports."""
    import traceback

    def fails(*args: object, **kwargs: object) -> str:
        raise MemoryError()

    monkeypatch.setattr(traceback, "format_exc", fails)
    scenario = Scenario(id="t-oom", title="an executor that runs out of memory", profile="feed-polling",
                        level=Level.MUST, requirement="testing", source=Source("protocol-notes.md", "a clause here"),
                        kind="test.raises-memory-error", path=Path("x.yaml"))
    run = RunSession(settings={"target": answers})
    result = run.run(scenario)
    run.stop()
    assert result.verdict is Verdict.ERROR and "MemoryError" in result.reason
    assert [r.scenario.id for r in run.results] == ["t-oom"]
