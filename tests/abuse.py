"""Hostile clients against a reference server in its own process, and the figures the hardening
issue asks for: the server's peak RSS and the latency of a normal request during the abuse.

`python -m tests.abuse '{"port": N, ...}'` is the server side: ``serve_forever`` (the path of
``conformance serve``) with the limits given, so a test can cap its open files or read its RSS.
"""
from __future__ import annotations

import json
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.client import ClientProtocol
from websockets.frames import Close
from websockets.http11 import Response
from websockets.uri import parse_uri

TOKEN = "abuse-feed-token"
CLIENT_ID, SECRET = "abuse-client", "abuse-secret-0123456789"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ServedProcess:
    """A reference server in a child process; its memory is read from /proc."""

    proc: "subprocess.Popen[bytes]"
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _status_kb(self, key: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    def rss_mb(self) -> float:
        return self._status_kb("VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        return self._status_kb("VmHWM") / 1024

    def soft_nofile(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
        raise KeyError("Max open files")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def token(self) -> str:
        r = httpx.post(self.base + "/api/authentication/token",
                       json={"clientId": CLIENT_ID, "secret": SECRET}, timeout=10)
        r.raise_for_status()
        return r.text


@contextmanager
def served(tmp_path: Path, limits: dict[str, Any] | None = None,
           nofile: tuple[int, int] | None = None, db: str = ":memory:") -> Iterator[ServedProcess]:
    """Start ``python -m tests.abuse`` (feeds in the SQLite file ``db``) and wait until it answers."""
    port = free_port()
    spec = json.dumps({"port": port, "limits": limits or {}, "db": db})
    log_path = tmp_path / f"server-{port}.log"

    def cap_open_files() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tests.abuse", spec], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, preexec_fn=cap_open_files)
    server = ServedProcess(proc, port, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}: {server.log()}")
            try:
                if httpx.get(server.base + "/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not answer within 30 s")
            time.sleep(0.1)
        yield server
    finally:
        proc.kill()
        proc.wait(10)


@dataclass
class LatencyProbe:
    """A normal client: a feed ``next`` on a fresh connection every ``period`` seconds."""

    base: str
    period: float = 0.1
    timeout: float = 30.0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def once(self) -> float:
        t0 = time.monotonic()
        r = httpx.get(self.base + "/eventnotifications/v2/journey/next", timeout=self.timeout,
                      headers={"Authorization": f"Bearer {TOKEN}"})
        elapsed = time.monotonic() - t0
        if r.status_code not in (200, 204):
            raise RuntimeError(f"normal request answered {r.status_code}")
        return elapsed

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.latencies.append(self.once())
            except Exception as exc:  # a lock-out shows here
                self.failures.append(repr(exc))
            self._stop.wait(self.period)

    def __enter__(self) -> "LatencyProbe":
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(self.timeout + 5)

    @property
    def worst(self) -> float:
        return max(self.latencies, default=float("inf"))

    def summary(self) -> str:
        if not self.latencies:
            return f"no normal request answered ({len(self.failures)} failed)"
        return (f"normal request: {len(self.latencies)} answered, median "
                f"{statistics.median(self.latencies) * 1000:.0f} ms, worst {self.worst * 1000:.0f} ms,"
                f" {len(self.failures)} failed")


class RawSocket:
    """A WebSocket client on a plain socket that reads only when told to (a slow reader)."""

    def __init__(self, port: int, token: str, receive_buffer: int = 4096) -> None:
        self.protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/api/compute-job-messages"),
                                       max_size=None)
        request = self.protocol.connect()
        request.headers["Authorization"] = f"Bearer {token}"
        self.protocol.send_request(request)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.connect(("127.0.0.1", port))
        self._flush()
        while not any(isinstance(e, Response) for e in self.protocol.events_received()):
            self.protocol.receive_data(self.sock.recv(4096))
        if self.protocol.handshake_exc is not None:
            raise self.protocol.handshake_exc

    def _flush(self) -> None:
        self.sock.sendall(b"".join(self.protocol.data_to_send()))

    def send_json(self, frame: Any) -> bool:
        """Send one text frame; False once the server has dropped the connection."""
        self.protocol.send_text(json.dumps(frame).encode())
        try:
            self._flush()
        except OSError:
            return False
        return True

    def drain(self, timeout: float) -> Close | None:
        """Read until the connection ends; the server's Close frame, or None if it reset or hung."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                break
            if not data:
                break
            self.protocol.receive_data(data)
            self.protocol.events_received()
        self.protocol.receive_eof()
        return self.protocol.close_rcvd

    def close(self) -> None:
        self.sock.close()


def main(argv: list[str]) -> None:
    from reference_server.app import serve_forever
    from reference_server.config import Limits, ServerConfig, Timings

    spec = json.loads(argv[0])
    config = ServerConfig(tokens=(TOKEN,), clients={CLIENT_ID: SECRET},
                          timings=Timings.named("spec"), limits=Limits(**spec["limits"]),
                          db_path=spec.get("db", ":memory:"))
    serve_forever(config, "127.0.0.1", spec["port"])


if __name__ == "__main__":
    main(sys.argv[1:])
