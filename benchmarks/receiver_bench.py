"""Receiver arrival-time accuracy on loopback (run by hand; prints figures, asserts nothing).

For each delivery, the sender takes ``time.monotonic()`` just before sending and the receiver
records ``Delivery.at`` when the request line and headers have arrived (same process, same clock).
The lag ``at - sent`` is printed as p50 / p99 / max over N deliveries, for two senders:

- httpx: one ``httpx.Client`` with keep-alive, ``sent`` taken before ``client.post`` (includes
  httpx's own cost of building and writing the request);
- raw: a prebuilt request written with one ``sendall`` on a kept-alive socket, ``sent`` taken
  just before it (the receiver's own lag: the kernel, the event loop, aiohttp's parser).

    .venv/bin/python benchmarks/receiver_bench.py [--deliveries 200] [--rounds 3]
"""
from __future__ import annotations

import argparse
import socket
import statistics
import time
from collections.abc import Callable

import httpx

from harness.transport.receiver import Inbox, Receiver


def percentiles(lags: list[float]) -> str:
    ms = sorted(x * 1000 for x in lags)
    p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]
    return f"p50 {statistics.median(ms):7.3f} ms   p99 {p99:7.3f} ms   max {ms[-1]:7.3f} ms"


def with_httpx(inbox: Inbox, n: int) -> list[float]:
    sent: list[float] = []
    with httpx.Client() as client:
        for i in range(n):
            sent.append(time.monotonic())
            client.post(inbox.url, json={"n": i})
    return [d.at - s for d, s in zip(inbox.deliveries(), sent, strict=True)]


def with_raw_socket(inbox: Inbox, n: int) -> list[float]:
    url = httpx.URL(inbox.url)
    body = b'{"n": 0}'
    request = (f"POST {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.host}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    sent: list[float] = []
    with socket.create_connection((url.host, url.port or 80)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(n):
            sent.append(time.monotonic())
            sock.sendall(request)
            answer = b""
            while not answer.endswith(b"\r\n\r\n"):  # the 200 answer has an empty body
                answer += sock.recv(4096)
    return [d.at - s for d, s in zip(inbox.deliveries(), sent, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    senders: dict[str, Callable[[Inbox, int], list[float]]] = {"httpx": with_httpx, "raw": with_raw_socket}
    with Receiver() as receiver:
        for name, send in senders.items():
            for r in range(args.rounds):
                lags = send(receiver.inbox(f"{name}-{r}"), args.deliveries)
                print(f"{name:5} round {r + 1}: {args.deliveries} deliveries   {percentiles(lags)}")


if __name__ == "__main__":
    main()
