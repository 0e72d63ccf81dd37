"""feed-polling benchmark (run by hand; prints figures, asserts nothing).

1. Suite wall time: `conformance run --profile feed-polling` in a subprocess against the bundled
   reference server, several runs; prints each, the min and the median.
2. Drain rate: N events are emitted through the control hook into one feed of the reference server,
   then a client drains it with GET next + POST complete in batches of 10 (events/s). The same client
   loop then drives a bare aiohttp endpoint (same framework, no store, no auth) that answers GET with
   a fixed 10-event batch (the very bytes of the reference server's first batch) and POST complete
   with 200, for the same number of batches. Prints both rates and the ratio reference/bare.

3. Concurrent emits: --emits control-hook calls of one event each, all sent at once over
   --connections connections (aiohttp's client); the wall time until the last has answered.

Both servers run in a thread of this process with their own event loop; the client is one
httpx.Client with keep-alive, so both figures include the same client and GIL costs. With
--db FILE the reference server keeps its feeds in that SQLite file (deleted before each round and
at the end) instead of in memory.

    .venv/bin/python benchmarks/feed_polling_bench.py [--events 2000] [--rounds 3] [--runs 3] [--no-suite]
        [--db FILE] [--emits 1000] [--connections 100]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import aiohttp
import httpx
from aiohttp import web

from reference_server.app import start_app_in_thread, start_in_thread
from reference_server.config import ServerConfig

BASE = "/eventnotifications/v2"
FEED = "journey"
BATCH = 10
EMIT_CHUNK = 1000  # the control hook takes at most 1000 events per call


# -- the client loop (the same for both servers) ----------------------------------------------

def drain(client: httpx.Client, base_url: str, max_batches: int | None = None) -> tuple[int, int, float]:
    """Read and complete batches until 204 (or max_batches); (events, batches, seconds)."""
    events = batches = 0
    started = time.perf_counter()
    while max_batches is None or batches < max_batches:
        r = client.get(f"{base_url}{BASE}/{FEED}/next")
        if r.status_code == 204:
            break
        r.raise_for_status()
        body = r.json()
        events += len(body["notifications"])
        batches += 1
        done = client.post(f"{base_url}{BASE}/{FEED}/{body['batchId']}/complete")
        done.raise_for_status()
    return events, batches, time.perf_counter() - started


# -- the reference server ---------------------------------------------------------------------

def emit(client: httpx.Client, control_url: str, n: int) -> None:
    sent = 0
    while sent < n:
        count = min(EMIT_CHUNK, n - sent)
        body = {"events": [{"eventType": "journey:benchmark", "payload": {"i": sent + i, "pad": "x" * 32}}
                           for i in range(count)]}
        r = client.post(f"{control_url}/feeds/{FEED}/events", json=body)
        r.raise_for_status()
        sent += count


def remove_db(db: str) -> None:
    for path in (db, db + "-journal", db + "-wal", db + "-shm"):
        if os.path.exists(path):
            os.remove(path)


@contextmanager
def reference_server(db: str) -> Iterator[tuple[str, str, str]]:
    """A fresh reference server (a fresh database file, if db is one): (base, control, token)."""
    token = secrets.token_urlsafe(24)
    if db != ":memory:":
        remove_db(db)
    server = start_in_thread(ServerConfig(tokens=(token,), db_path=db))
    try:
        yield server.base_url, server.control_url, token
    finally:
        server.stop()
        if db != ":memory:":
            remove_db(db)


def reference_round(n: int, db: str) -> tuple[int, int, float, bytes]:
    """Emit n events, then drain them; also return the bytes of the first batch."""
    with reference_server(db) as (base_url, control_url, token):
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            emit(client, control_url, n)
            first = client.get(f"{base_url}{BASE}/{FEED}/next")  # a re-read gives the same batch
            first.raise_for_status()
            events, batches, seconds = drain(client, base_url)
    if events != n:
        raise RuntimeError(f"drained {events} events, emitted {n}")
    return events, batches, seconds, first.content


def concurrent_emits(emits: int, connections: int, db: str) -> float:
    """Seconds for `emits` one-event control-hook calls sent at once; all must answer 201.

    The client is aiohttp's (httpx's pool grows quadratically slow with a thousand waiting requests)."""
    async def post(session: aiohttp.ClientSession, url: str, i: int) -> int:
        async with session.post(url, json={"events": [{"eventType": "journey:benchmark",
                                                       "payload": {"i": i}}]}) as r:
            await r.read()
            return r.status

    async def run(control_url: str, token: str) -> float:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"},
                                         connector=aiohttp.TCPConnector(limit=connections),
                                         timeout=aiohttp.ClientTimeout(total=300)) as session:
            url = f"{control_url}/feeds/{FEED}/events"
            started = time.perf_counter()
            statuses = await asyncio.gather(*(post(session, url, i) for i in range(emits)))
            seconds = time.perf_counter() - started
        if any(status != 201 for status in statuses):
            raise RuntimeError("an emit was refused")
        return seconds

    with reference_server(db) as (_, control_url, token):
        return asyncio.run(run(control_url, token))


# -- the bare endpoint ------------------------------------------------------------------------

@contextmanager
def bare_server(batch: bytes) -> Iterator[str]:
    """A minimal aiohttp app in a thread: GET next answers `batch`, POST complete answers 200."""
    async def next_batch(request: web.Request) -> web.Response:
        return web.Response(body=batch, content_type="application/json")

    async def complete(request: web.Request) -> web.Response:
        return web.Response(status=200)

    app = web.Application()
    app.router.add_get(BASE + "/{feedId}/next", next_batch)
    app.router.add_post(BASE + "/{feedId}/{batchId}/complete", complete)

    server = start_app_in_thread(app, name="bare-aiohttp")
    try:
        yield server.base_url
    finally:
        server.stop()


def bare_round(batch: bytes, batches: int) -> tuple[int, int, float]:
    with bare_server(batch) as base_url, httpx.Client(timeout=30) as client:
        return drain(client, base_url, max_batches=batches)


# -- the suite --------------------------------------------------------------------------------

def suite_wall_times(runs: int) -> list[tuple[float, int]]:
    times: list[tuple[float, int]] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as reports:
            started = time.perf_counter()
            code = subprocess.call([sys.executable, "-m", "harness", "run", "--profile", "feed-polling", "-q",
                                    "--report-dir", reports], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append((time.perf_counter() - started, code))
    return times


Round = tuple[int, int, float]


def best_of_alternating(rounds: int, first: Callable[[], Round],
                        second: Callable[[], Round]) -> tuple[Round, Round]:
    """The fastest round of each side (the least disturbed by the rest of the machine), the
    sides taking turns so that a busy spell on a shared machine does not fall on one side only."""
    runs = [(first(), second()) for _ in range(rounds)]
    return (min((a for a, _ in runs), key=lambda r: r[2]),
            min((b for _, b in runs), key=lambda r: r[2]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=2000, help="events emitted and drained (default 2000)")
    ap.add_argument("--rounds", type=int, default=3, help="drain rounds per server; the best counts (default 3)")
    ap.add_argument("--runs", type=int, default=3, help="suite runs (default 3)")
    ap.add_argument("--no-suite", action="store_true", help="skip the suite wall time")
    ap.add_argument("--db", default=":memory:", help="the reference server's SQLite file (default: in memory)")
    ap.add_argument("--emits", type=int, default=1000, help="concurrent one-event emits (default 1000; 0: skip)")
    ap.add_argument("--connections", type=int, default=100, help="connections the emits share (default 100)")
    args = ap.parse_args()

    if not args.no_suite:
        times = suite_wall_times(args.runs)
        shown = ", ".join(f"{t:.2f}s (exit {c})" for t, c in times)
        walls = [t for t, _ in times]
        print(f"feed-polling suite wall time, {args.runs} runs: {shown}")
        print(f"  min {min(walls):.2f}s, median {statistics.median(walls):.2f}s")

    first_batch = b""

    def ref() -> tuple[int, int, float]:
        nonlocal first_batch
        events, batches, seconds, first_batch = reference_round(args.events, args.db)
        return events, batches, seconds

    batches = args.events // BATCH + (args.events % BATCH > 0)
    (ref_events, ref_batches, ref_s), (bare_events, bare_batches, bare_s) = best_of_alternating(
        args.rounds, ref, lambda: bare_round(first_batch, batches))
    ref_rate, bare_rate = ref_events / ref_s, bare_events / bare_s
    store = "in memory" if args.db == ":memory:" else f"in the file {args.db}"
    print(f"drain rate, batches of {BATCH}, next + complete, best of {args.rounds}, feeds {store}:")
    print(f"  reference server: {ref_events} events in {ref_batches} batches, {ref_s:.3f}s: "
          f"{ref_rate:,.0f} events/s ({ref_batches / ref_s:,.0f} batches/s)")
    print(f"  bare aiohttp:     {bare_events} events in {bare_batches} batches, {bare_s:.3f}s: "
          f"{bare_rate:,.0f} events/s ({bare_batches / bare_s:,.0f} batches/s)")
    print(f"  ratio reference/bare: {ref_rate / bare_rate:.3f}")
    if args.emits:
        seconds = concurrent_emits(args.emits, args.connections, args.db)
        print(f"concurrent emits, feeds {store}: {args.emits} one-event emits over {args.connections} "
              f"connections in {seconds:.2f}s ({args.emits / seconds:,.0f} emits/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
