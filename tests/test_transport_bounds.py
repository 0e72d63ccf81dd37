"""The transport's bounds: a total deadline on every HTTP exchange (headers included), decoded
bytes capped, strict JSON in and out, tokens that are short printable strings, and WebSocket
evidence, queues and pings bounded per socket (issue 10)."""
from __future__ import annotations

import asyncio
import json
import math
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from harness.evidence import FRAMES_HEAD, FRAMES_TAIL, Evidence, Redactor
from harness.strictjson import InvalidJson, safe_json, strict_json
from harness.transport.http import (AsyncHttpClient, HttpClient, ResponseTooLarge, issued_token,
                                    json_body, valid_token)
from harness.transport.websocket import (CONTROL_FLOOD, CONTROL_PER_SECOND, MAX_BINARY, MAX_QUEUE,
                                         MAX_RECEIVED_BYTES, MAX_SIZE, ProgressSocket)
from harness.verdicts import TargetUnreachable
from tests.hostile_targets import MIB, SECRET, start_hostile

GUARD_S = 15.0  # against hangs only; the bounds asserted are the client's own


@pytest.fixture
def hostile() -> Iterator[Callable[..., str]]:
    stops: list[Callable[[], None]] = []

    def start(name: str, **params: Any) -> str:
        url, stop = start_hostile(name, **params)
        stops.append(stop)
        return url
    yield start
    for stop in stops:
        stop()


def in_thread(work: Callable[[], Any], guard: float = GUARD_S) -> tuple[Any, float]:
    """(what ``work`` returned or raised, seconds it took); fails the test if it hangs."""
    out: list[Any] = []
    started = time.monotonic()

    def run() -> None:
        try:
            out.append(work())
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            out.append(exc)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(guard)
    assert out, f"still running after {guard}s"
    return out[0], time.monotonic() - started


# -- a total deadline, headers included -----------------------------------------------------

def test_sync_client_gives_up_on_slow_headers_at_its_total_deadline(hostile: Callable[..., str]) -> None:
    url = hostile("slow-headers", interval=0.3)  # every read in time, the headers never complete
    client = HttpClient(Evidence(Redactor()), timeout=1.0)
    outcome, took = in_thread(lambda: client.request("GET", url + "/"))
    assert isinstance(outcome, TargetUnreachable), outcome
    assert "no complete answer within 2s" in str(outcome)
    assert took < client.total + 2.0
    assert client.evidence.exchanges[0]["error"].startswith("no complete answer")


def test_async_client_gives_up_on_slow_headers_at_its_total_deadline(hostile: Callable[..., str]) -> None:
    url = hostile("slow-headers", interval=0.3)

    async def go() -> Any:
        client = AsyncHttpClient(Evidence(Redactor()), timeout=1.0)
        try:
            return await client.request("GET", url + "/")
        finally:
            await client.aclose()
    outcome, took = in_thread(lambda: asyncio.run(go()))
    assert isinstance(outcome, TargetUnreachable) and "no complete answer within 2s" in str(outcome)
    assert took < 2.0 + 2.0


def test_an_answer_within_the_deadline_is_kept(hostile: Callable[..., str]) -> None:
    url = hostile("late-answer", delay=0.6)
    client = HttpClient(Evidence(Redactor()), timeout=1.0)
    response = client.request("GET", url + "/")
    assert response.status_code == 200 and json_body(response) == {"ok": True}
    client.close()


def test_the_client_is_usable_after_a_deadline(hostile: Callable[..., str]) -> None:
    slow, fine = hostile("slow-headers", interval=0.3), hostile("late-answer", delay=0.0)
    client = HttpClient(Evidence(Redactor()), timeout=0.5)
    with pytest.raises(TargetUnreachable):
        client.request("GET", slow + "/")
    assert client.request("GET", fine + "/").status_code == 200


# -- decoded bytes are what is capped -------------------------------------------------------

def peak_mib(work: Callable[[], Any]) -> tuple[Any, float]:
    tracemalloc.start()
    try:
        try:
            out: Any = work()
        except Exception as exc:  # noqa: BLE001
            out = exc
        return out, tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


def test_a_gzip_bomb_is_capped_on_its_decoded_bytes(hostile: Callable[..., str]) -> None:
    url = hostile("gzip-bomb", mib=64)  # 64 KB on the wire
    client = HttpClient(Evidence(Redactor()), timeout=5.0)
    outcome, peak = peak_mib(lambda: client.request("GET", url + "/"))
    assert isinstance(outcome, ResponseTooLarge), outcome
    assert "decoded" in str(outcome) and peak < 40, f"peak {peak:.1f} MiB"


def test_a_compressed_answer_is_decoded_and_keeps_its_headers(hostile: Callable[..., str]) -> None:
    url = hostile("gzip-bomb", mib=2)
    client = HttpClient(Evidence(Redactor()), timeout=5.0)
    response = client.request("GET", url + "/")
    assert response.content == b"\0" * (2 * MIB)
    assert response.headers["content-encoding"] == "gzip"


def test_a_token_read_is_capped_far_below_a_body(hostile: Callable[..., str]) -> None:
    url = hostile("nul-token")  # 1 GB of NUL bytes
    client = HttpClient(Evidence(Redactor()), timeout=5.0)
    outcome, peak = peak_mib(lambda: client.request("POST", url + "/token", max_bytes=64 * 1024))
    assert isinstance(outcome, ResponseTooLarge) and outcome.limit == 64 * 1024 and outcome.status == 200
    assert peak < 10, f"peak {peak:.1f} MiB"


# -- strict JSON ----------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [b"NaN", b'{"a": Infinity}', b"[-Infinity]", b'{"big": 1e999}',
                                 b"[" * 100_000, b'{"a": 1', b"\xff", b"1" * 5000])
def test_strict_json_refuses_what_rfc_8259_refuses(raw: bytes) -> None:
    with pytest.raises(InvalidJson):
        strict_json(raw)


def test_strict_json_reads_json() -> None:
    assert strict_json(b'{"a": [1, 2.5, -3e2, true, null, "x"]}') == {"a": [1, 2.5, -300.0, True, None, "x"]}


def test_nan_from_a_target_is_not_json(hostile: Callable[..., str]) -> None:
    url = hostile("nan-json")
    client = HttpClient(Evidence(Redactor([SECRET])), timeout=5.0)
    response = client.request("GET", url + "/")
    assert json_body(response) is None
    stored = client.evidence.as_dict()["exchanges"][0]["response_body"]
    assert isinstance(stored, str) and "NaN" in stored and SECRET not in stored
    json.dumps(client.evidence.as_dict(), allow_nan=False)


def test_safe_json_makes_any_value_strict() -> None:
    value = {"a": math.nan, "b": [math.inf, -math.inf, 1.5], "c": (1, 2), 3: "x"}
    assert safe_json(value) == {"a": "NaN", "b": ["Infinity", "-Infinity", 1.5], "c": [1, 2], "3": "x"}
    json.dumps(safe_json(value), allow_nan=False)


def test_evidence_is_strict_json_whatever_was_recorded() -> None:
    ev = Evidence(Redactor())
    ev.timing("interval", math.nan, 0.0, math.inf, "LATE")
    json.dumps(ev.as_dict(), allow_nan=False)


# -- tokens ---------------------------------------------------------------------------------

@pytest.mark.parametrize("body, token", [
    (b"eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9.e30.sig"),
    (b'  "abc-DEF_123~+/="\n', "abc-DEF_123~+/="),
    ("t0ken", "t0ken"),
    (b"", None), (b"\0" * 100, None), (b"two words", None), (b"x" * 4097, None),
    (b"caf\xc3\xa9", None), (b"tab\there", None), (b"\x9b31m", None), (b'""', None),
])
def test_a_token_is_a_short_printable_string(body: bytes | str, token: str | None) -> None:
    assert valid_token(body) == token


@pytest.mark.parametrize("status, body, key, token", [
    (201, b"plain-t0ken-123", None, "plain-t0ken-123"),
    (200, b'{"access_token": "json-t0ken-123", "expires_in": 60}', "access_token", "json-t0ken-123"),
    (500, b'{"token": "error-t0ken-123"}', None, None),
    (200, b'{"access_token": 12345678}', "access_token", None),
])
def test_an_issued_token_is_a_secret_whatever_the_answer(status: int, body: bytes, key: str | None,
                                                        token: str | None) -> None:
    red = Redactor()
    response = httpx.Response(status, content=body)
    assert issued_token(response, red, key) == token
    assert "t0ken-123" not in red.text(body.decode()) and "12345678" not in red.text(body.decode())


# -- WebSocket: frames, queues and pings bounded per socket ---------------------------------

def frames_of(ev: Evidence, socket: str) -> list[dict[str, Any]]:
    return [f for f in ev.frames if f["socket"] == socket]


def test_a_frame_flood_keeps_the_first_and_last_frames_and_closes_that_socket(hostile: Callable[..., str]) -> None:
    url = hostile("ws-frame-flood")

    async def go() -> tuple[Evidence, Any]:
        ev = Evidence(Redactor([SECRET]))
        sock = ProgressSocket("flooded", ev, timeout=2.0)
        await sock.open(url, None)
        closed = await sock.wait_closed(GUARD_S / 2)  # nobody reads: the unread queue overflows
        await sock.close()
        return ev, closed
    (ev, closed), peak = peak_mib(lambda: asyncio.run(go()))
    assert closed is not None and closed.by == "harness" and closed.code == 1008
    assert f"more than {MAX_QUEUE} messages unread" in closed.reason
    kept = frames_of(ev, "flooded")
    assert len(kept) <= FRAMES_HEAD + FRAMES_TAIL
    assert ev.as_dict()["frames_dropped"]["flooded"] > 0
    assert any(f["type"] == "closed-by-harness" for f in kept)
    assert SECRET not in json.dumps(ev.as_dict()) and peak < 100, f"peak {peak:.1f} MiB"


def test_a_socket_past_its_byte_budget_is_closed_by_the_harness(hostile: Callable[..., str]) -> None:
    url = hostile("ws-word-1mb", count=40)  # 40 messages of 1 MB, fewer than MAX_QUEUE

    async def go() -> ProgressSocket:
        sock = ProgressSocket("big", Evidence(Redactor([SECRET])), timeout=2.0)
        await sock.open(url, None)
        await sock.wait_closed(GUARD_S / 2)
        await sock.close()
        return sock
    sock, peak = peak_mib(lambda: in_thread(lambda: asyncio.run(go()))[0])
    assert isinstance(sock, ProgressSocket), sock
    closed = sock.closed.result() if sock.closed else None
    assert closed is not None and closed.by == "harness" and "bytes received" in closed.reason
    assert sock.received_bytes <= MAX_RECEIVED_BYTES + MAX_SIZE and len(sock.received) < 20
    assert SECRET not in json.dumps(sock.evidence.as_dict()) and peak < 100, f"peak {peak:.1f} MiB"


def test_a_ping_flood_neither_grows_nor_starves_another_handshake(hostile: Callable[..., str]) -> None:
    flood, quiet = hostile("ws-ping-flood"), hostile("ws-quiet")

    async def go() -> tuple[ProgressSocket, float]:
        ev = Evidence(Redactor([SECRET]))
        flooded = ProgressSocket("flooded", ev, timeout=2.0)
        await flooded.open(flood, None)
        await asyncio.sleep(0.5)
        other = ProgressSocket("other", ev, timeout=2.0)
        started = time.monotonic()
        await other.open(quiet, None)  # TargetUnreachable if starved
        took = time.monotonic() - started
        await asyncio.sleep(1.0)
        await other.close()
        await flooded.close()
        return flooded, took
    (flooded, took), peak = peak_mib(lambda: asyncio.run(go()))
    assert not isinstance(flooded, Exception), flooded
    assert took < 2.0
    closed = flooded.closed.result() if flooded.closed else None
    assert closed is not None and closed.by == "harness" and "ping flood" in closed.reason
    assert flooded.rec.control_dropped >= CONTROL_FLOOD
    assert len(flooded.rec.pings) <= CONTROL_PER_SECOND * 3 + 1  # ~1.6 s of pings at the cap
    assert any(f["type"] == "control-frames-dropped" for f in flooded.evidence.frames)
    assert peak < 100, f"peak {peak:.1f} MiB"


@pytest.mark.parametrize("name, event, code", [("ws-deflate-bomb", "frame-too-large", 1009),
                                               ("ws-huge-frame", "frame-too-large", 1009),
                                               ("ws-invalid-frame", "protocol-error", 1002)])
def test_a_frame_the_harness_refuses_is_a_recorded_event(hostile: Callable[..., str], name: str,
                                                          event: str, code: int) -> None:
    url = hostile(name)

    async def go() -> tuple[Evidence, Any]:
        ev = Evidence(Redactor([SECRET]))
        sock = ProgressSocket("s", ev, timeout=2.0)
        await sock.open(url, None, compression="deflate")
        closed = await sock.wait_closed(5.0)
        await sock.close()
        return ev, closed
    (ev, closed), peak = peak_mib(lambda: asyncio.run(go()))
    assert closed is not None and closed.by == "harness" and closed.code == code, closed
    assert any(f["type"] == event for f in ev.frames)
    assert SECRET not in json.dumps(ev.as_dict()) and peak < 100, f"peak {peak:.1f} MiB"


def test_binary_frames_are_kept_bounded_and_without_secrets(hostile: Callable[..., str]) -> None:
    url = hostile("ws-binary")

    async def go() -> ProgressSocket:
        sock = ProgressSocket("bin", Evidence(Redactor([SECRET])), timeout=2.0)
        await sock.open(url, None)
        await sock.next_message(2.0)
        await sock.send_raw(b"\x00\x01" + SECRET.encode())
        await sock.close()
        return sock
    sock, _ = in_thread(lambda: asyncio.run(go()))
    frames = [f for f in sock.evidence.frames if f["type"] == "binary"]
    assert frames and all(len(json.dumps(f["data"])) <= 2 * MAX_BINARY + 100 for f in frames)
    text = json.dumps(sock.evidence.as_dict())
    assert SECRET not in text and SECRET.encode().hex() not in text


def test_a_target_that_never_closes_is_left_in_bounded_time(hostile: Callable[..., str]) -> None:
    url = hostile("ws-never-closes")

    async def go() -> float:
        sock = ProgressSocket("s", Evidence(Redactor()), timeout=2.0)
        await sock.open(url, None)
        started = time.monotonic()
        await sock.close()
        return time.monotonic() - started
    took, _ = in_thread(lambda: asyncio.run(go()))
    assert took < 2.0 + 1.0
