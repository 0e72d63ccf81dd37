"""ws-progress benchmark (run by hand; prints figures, asserts nothing).

1. Run-log throughput: a job of N lines with no pacing, one line per frame; the reference server's RUNLOG_UPDATED
   frames are timed from the first to RUNLOG_COMPLETED, then a bare `websockets` server sends the
   very same frames back-to-back to the same client loop. Prints lines/s and frames/s of both and
   the ratio reference/bare.
2. The ws-progress suite's wall time at fast timings (`conformance run --profile ws-progress`).

    .venv/bin/python benchmarks/ws_progress_bench.py [--lines 10000] [--no-suite]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import httpx
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from reference_server.app import start_in_thread
from reference_server.config import ServerConfig


async def _drain(url: str, headers: dict[str, str], submit: "Callable[[str], None] | None") -> tuple[float, int, int, list[str]]:
    frames: list[str] = []
    lines = 0
    async with connect(url, additional_headers=headers, compression=None, max_size=2 ** 24) as ws:
        if submit is not None:
            assert ws.response is not None
            submit(ws.response.headers["connection-id"])
        start = None
        async for raw in ws:
            message = json.loads(raw)
            kind = message.get("messageType")
            if kind == "RUNLOG_UPDATED":
                start = start or time.perf_counter()
                frames.append(raw if isinstance(raw, str) else raw.decode())
                lines += len(message["messagePayload"]["lines"])
            elif kind == "RUNLOG_COMPLETED":
                frames.append(raw if isinstance(raw, str) else raw.decode())
                break
        elapsed = time.perf_counter() - (start or time.perf_counter())
    return elapsed, lines, len(frames), frames


async def reference(n: int) -> tuple[float, int, int, list[str]]:
    config = ServerConfig()
    server = start_in_thread(config)
    try:
        cid, secret = next(iter(config.clients.items()))
        token = httpx.post(f"{server.base_url}/api/authentication/token",
                           json={"clientId": cid, "secret": secret, "maxAge": 600}).text.strip('"')
        body = {"id": "bench-job", "runLogMessages": True,
                "conformanceJob": {"runLogLines": n, "lineIntervalMs": 0, "runLogBatchLines": 1}}

        def submit(connection_id: str) -> None:
            r = httpx.post(f"{server.base_url}/api/compute-jobs", json=body,
                           headers={"Authorization": f"Bearer {token}", "connection-id": connection_id})
            r.raise_for_status()

        url = server.base_url.replace("http", "ws", 1) + "/api/compute-job-messages"
        return await _drain(url, {"Authorization": f"Bearer {token}"}, submit)
    finally:
        server.stop()


async def bare(frames: list[str]) -> tuple[float, int, int, list[str]]:
    async def handler(ws: ServerConnection) -> None:
        for frame in frames:
            await ws.send(frame)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=None) as srv:
        port = next(iter(srv.sockets)).getsockname()[1]
        return await _drain(f"ws://127.0.0.1:{port}/", {}, None)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=10000)
    ap.add_argument("--no-suite", action="store_true")
    args = ap.parse_args()
    ref_t, ref_lines, ref_frames, frames = asyncio.run(reference(args.lines))
    bare_t, bare_lines, bare_frames, _ = asyncio.run(bare(frames))
    ref_rate, bare_rate = ref_lines / ref_t, bare_lines / bare_t
    print(f"reference server: {ref_lines} lines in {ref_frames} frames, {ref_t:.3f}s: "
          f"{ref_rate:,.0f} lines/s, {ref_frames / ref_t:,.1f} frames/s")
    print(f"bare websockets:  {bare_lines} lines in {bare_frames} frames, {bare_t:.3f}s: "
          f"{bare_rate:,.0f} lines/s, {bare_frames / bare_t:,.1f} frames/s")
    print(f"throughput ratio reference/bare: {ref_rate / bare_rate:.3f}")
    if not args.no_suite:
        with tempfile.TemporaryDirectory() as reports:
            t0 = time.perf_counter()
            code = subprocess.call([sys.executable, "-m", "harness", "run", "--profile", "ws-progress",
                                    "-q", "--report-dir", reports], stdout=subprocess.DEVNULL)
            print(f"ws-progress suite wall time (fast timings): {time.perf_counter() - t0:.1f}s, exit code {code}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
