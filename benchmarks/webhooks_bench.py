"""webhooks benchmark (run by hand; prints figures, asserts nothing).

Retry delay error of the reference server's webhook delivery on loopback: ``--runs`` batch runs
(default 50) go to a receiver that answers every result webhook 503, so each run's result is
tried ``attempts`` times (default 3) with the declared fixed ``retry_delay`` between them. The gap
between two attempts' arrivals minus retry_delay is the delay error (it includes the 503's own
round trip). Runs start ``--stagger`` seconds apart (default 0.02) so several retry at once.
Prints p50, p99 and max of the error in milliseconds, and the number of gaps measured.

    .venv/bin/python benchmarks/webhooks_bench.py [--runs 50] [--timings fast|spec] [--stagger 0.02]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import httpx
from aiohttp import web

from reference_server.app import start_in_thread
from reference_server.config import ServerConfig, Timings
from reference_server.profiles.webhooks import BASE_PATH, declared


async def measure(runs: int, timings: str, stagger: float) -> tuple[float, list[float]]:
    arrivals: dict[str, list[float]] = {}

    async def result(request: web.Request) -> web.Response:
        arrivals.setdefault(request.match_info["key"], []).append(time.monotonic())
        await request.read()
        return web.Response(status=503)

    app = web.Application()
    app.router.add_post("/result/{key}", result)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    bound: Any = site._server
    base = f"http://127.0.0.1:{bound.sockets[0].getsockname()[1]}"
    config = ServerConfig(timings=Timings.named("spec" if timings == "spec" else "fast"))
    delay = float(declared(config)["timings"]["retry_delay"])
    attempts = int(declared(config)["options"]["attempts"])
    server = start_in_thread(config)
    try:
        async with httpx.AsyncClient(base_url=server.base_url + BASE_PATH) as client:
            for i in range(runs):
                body = {"name": "batch", "nodes": [{"nodeName": "green", "algorithmName": "green-alg",
                                                    "input": ["#[1,2,3]"]}],
                        "webhooks": {"result": f"{base}/result/{i}"}}
                assert (await client.post("/exec/raw", json=body)).status_code == 200
                await asyncio.sleep(stagger)
        deadline = time.monotonic() + 60 + attempts * delay * 2
        while sum(len(a) for a in arrivals.values()) < runs * attempts and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        server.stop()
        await runner.cleanup()
    errors = [b - a - delay for times in arrivals.values() for a, b in zip(times, times[1:])]
    return delay, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--timings", choices=("fast", "spec"), default="fast")
    parser.add_argument("--stagger", type=float, default=0.02)
    args = parser.parse_args()
    delay, errors = asyncio.run(measure(args.runs, args.timings, args.stagger))
    ms = sorted(e * 1000 for e in errors)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    print(f"retry_delay {delay:.3f} s, {len(ms)} gaps: delay error p50 {statistics.median(ms):.1f} ms, "
          f"p99 {p99:.1f} ms, max {ms[-1]:.1f} ms, min {ms[0]:.1f} ms")


if __name__ == "__main__":
    main()
