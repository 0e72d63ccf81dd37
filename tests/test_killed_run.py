"""A run killed from outside (kill -9: nothing can be caught) still leaves report.json with what
it did: it is rewritten after each scenario, marked in_progress, listing what had not run."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_kill_9_leaves_a_report_of_what_ran(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", "-q", "-j", "1", "--report-dir", str(tmp_path),
                             "fp-empty-feed-204", "fp-unknown-feed-404", "ws-token-issue", "fp-stateful-model",
                             "ws-keepalive-pings"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    report = None
    while time.monotonic() < deadline:
        found = [p for p in tmp_path.glob("*/report.json") if p.parent.name != "latest"]
        if found:
            data = json.loads(found[0].read_text())
            if len(data["scenarios"]) >= 2:
                report = data
                break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert report is not None, "no report.json appeared while the run was going"
    final = json.loads(next(p for p in tmp_path.glob("*/report.json") if p.parent.name != "latest").read_text())
    assert final["run"]["in_progress"] is True
    ran = {s["id"] for s in final["scenarios"]}
    assert len(ran) >= 2 and all(s["verdict"] == "PASS" for s in final["scenarios"])
    assert ran | {n["id"] for n in final["not_run"]} == {"fp-empty-feed-204", "fp-unknown-feed-404", "ws-token-issue",
                                                         "fp-stateful-model", "ws-keepalive-pings"}
