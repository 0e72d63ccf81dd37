"""Hostile-target benchmark for the transport (run by hand; prints figures, asserts nothing).

For every target of tests/hostile_targets.py, one exchange through the harness's transport (the
sync HttpClient with timeout 1 s, 5 s for late-answer; ProgressSocket for WebSocket targets, left
open 1.5 s then closed) and, per target: the outcome, the wall time, the tracemalloc peak (Python
allocations, the target's thread included) and the growth of the process's peak RSS.

    .venv/bin/python benchmarks/hostile_bench.py [name ...]
"""
from __future__ import annotations

import asyncio
import resource
import sys
import time
import tracemalloc
from typing import Any

from harness.evidence import Evidence, Redactor
from harness.transport.http import HttpClient
from harness.transport.websocket import ProgressSocket
from tests.hostile_targets import BEHAVIOURS, MIB, SECRET, WEBSOCKET, start_hostile


def exchange(name: str, url: str) -> str:
    ev = Evidence(Redactor([SECRET]))
    if name not in WEBSOCKET:
        client = HttpClient(ev, timeout=5.0 if name == "late-answer" else 1.0, token=SECRET)
        try:
            return f"HTTP {client.request('GET', url + '/').status_code}"
        finally:
            client.close()

    async def go() -> str:
        sock = ProgressSocket("s", ev, timeout=2.0)
        await sock.open(url, SECRET)
        closed = await sock.wait_closed(1.5)
        await sock.close()
        dropped = sum(ev.frames.dropped().values())
        shown = f"closed by {closed.by} ({closed.code})" if closed else "open"
        return f"{shown}, {len(ev.frames)} frames kept, {dropped} dropped"
    return asyncio.run(go())


def main() -> None:
    names = sys.argv[1:] or list(BEHAVIOURS)
    print(f"{'target':<20}{'wall s':>8}{'peak MiB':>10}{'RSS +MiB':>10}  outcome")
    for name in names:
        url, stop = start_hostile(name)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        started = time.monotonic()
        try:
            outcome: Any = exchange(name, url)
        except Exception as exc:  # noqa: BLE001 - the outcome measured
            outcome = f"{type(exc).__name__}: {str(exc)[:70]}"
        took = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1] / MIB
        tracemalloc.stop()
        stop()
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
        print(f"{name:<20}{took:>8.2f}{peak:>10.1f}{grown:>10.1f}  {outcome}")


if __name__ == "__main__":
    main()
