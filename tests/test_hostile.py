"""The harness's transport against every hostile target (tests/hostile_targets.py): each exchange
returns or raises a harness error in bounded time, with bounded memory, and leaves evidence that is
strict JSON, bounded, and free of the target's secret in any form (issue 10, "Bounds to hold").

The bounds asserted are the clients' own (``total``, ``close_timeout``) plus slack for a loaded
machine; memory is the tracemalloc peak of the whole exchange, server thread included.
"""
from __future__ import annotations

import asyncio
import base64
import json
import time
import tracemalloc
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from harness.evidence import FRAMES_HEAD, FRAMES_TAIL, MAX_BODY, Evidence, Redactor
from harness.transport.http import AsyncHttpClient, HttpClient, ResponseTooLarge
from harness.transport.websocket import ProgressSocket
from harness.verdicts import TargetUnreachable
from tests.hostile_targets import HTTP, MIB, SECRET, WEBSOCKET, start_hostile

SLACK_S = 3.0
PEAK_MIB = 100
TIMEOUT = 1.0  # the clients' per-read timeout; their total deadline is twice that

# what each HTTP target makes of an exchange: an answer, TargetUnreachable, or ResponseTooLarge
HTTP_OUTCOME: dict[str, type[Any]] = {
    "never-answers": TargetUnreachable, "slow-headers": TargetUnreachable, "trickle": TargetUnreachable,
    "late-answer": httpx.Response, "endless-body": ResponseTooLarge, "huge-body": ResponseTooLarge,
    "nul-token": ResponseTooLarge, "gzip-bomb": ResponseTooLarge, "word-1mb": httpx.Response,
    "nan-json": httpx.Response, "junk-json": httpx.Response, "wrong-content-type": httpx.Response,
    "reset": TargetUnreachable, "redirect-loop": httpx.Response, "huge-headers": TargetUnreachable,
    "secret-echo": httpx.Response,
}
# who closes each WebSocket: the harness (it refused something), the target, or nobody
WS_CLOSED_BY: dict[str, str | None] = {
    "ws-frame-flood": "harness", "ws-ping-flood": "harness", "ws-huge-frame": "harness",
    "ws-deflate-bomb": "harness", "ws-invalid-frame": "harness", "ws-binary": None,
    "ws-word-1mb": None, "ws-close-1011": "target", "ws-never-closes": None, "ws-quiet": None,
}


def test_every_target_is_covered() -> None:
    assert set(HTTP_OUTCOME) == set(HTTP) and set(WS_CLOSED_BY) == set(WEBSOCKET)


def secret_forms_in(text: str) -> list[str]:
    """The secret, or any 10 characters of it, or its base64 or percent-encoded form, in ``text``."""
    pieces = [SECRET[i:i + 10] for i in range(len(SECRET) - 9)]
    pieces += [base64.b64encode(SECRET.encode()).decode()[:-4], quote(SECRET, safe=""), SECRET.encode().hex()]
    return [p for p in pieces if p in text]


def measured(work: Callable[[], Any]) -> tuple[Any, float, float]:
    """(what ``work`` returned or raised, seconds, tracemalloc peak in MiB)."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        try:
            out: Any = work()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            out = exc
        return out, time.monotonic() - started, tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


def check_evidence(ev: Evidence) -> None:
    document = ev.as_dict()
    text = json.dumps(document, allow_nan=False) + ev.transcript_text()
    assert not secret_forms_in(text), secret_forms_in(text)
    for exchange in document["exchanges"]:
        for key in ("request_body", "response_body"):
            assert len(json.dumps(exchange.get(key))) <= MAX_BODY + 100
    for socket in {f["socket"] for f in document.get("frames", [])}:
        assert sum(f["socket"] == socket for f in document["frames"]) <= FRAMES_HEAD + FRAMES_TAIL


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", sorted(HTTP))
def test_http_client_against(name: str, mode: str) -> None:
    timeout = 5.0 if name == "late-answer" else TIMEOUT  # the answer comes 4.5 s late
    url, stop = start_hostile(name)
    ev = Evidence(Redactor([SECRET]))
    try:
        if mode == "sync":
            client = HttpClient(ev, timeout=timeout, token=SECRET)
            outcome, took, peak = measured(lambda: client.request("GET", url + "/feeds/x/next"))
            client.close()
        else:
            async def go() -> httpx.Response:
                aclient = AsyncHttpClient(ev, timeout=timeout, token=SECRET)
                try:
                    return await aclient.request("GET", url + "/feeds/x/next")
                finally:
                    await aclient.aclose()
            outcome, took, peak = measured(lambda: asyncio.run(go()))
    finally:
        stop()
    assert type(outcome) is HTTP_OUTCOME[name], repr(outcome)
    assert took < 2 * timeout + SLACK_S, f"{took:.1f}s"
    assert peak < PEAK_MIB, f"peak {peak:.1f} MiB"
    check_evidence(ev)


@pytest.mark.parametrize("name", sorted(WEBSOCKET))
def test_websocket_client_against(name: str) -> None:
    url, stop = start_hostile(name)
    ev = Evidence(Redactor([SECRET]))

    async def go() -> ProgressSocket:
        sock = ProgressSocket("hostile", ev, timeout=2.0)
        await sock.open(url, SECRET)
        await sock.wait_closed(1.5)
        await sock.send_json({"messageType": "UPDATE_TOKEN", "messagePayload": {"token": SECRET}})
        await sock.close()
        return sock

    try:
        sock, took, peak = measured(lambda: asyncio.run(go()))
    finally:
        stop()
    assert isinstance(sock, ProgressSocket), repr(sock)
    expected = WS_CLOSED_BY[name]
    closed = sock.closed.result() if sock.closed is not None and sock.closed.done() else None
    if expected is not None:
        assert closed is not None and closed.by == expected, closed
        assert any(f["type"] == "send-after-close" for f in ev.frames)
    assert took < 1.5 + 2.0 + SLACK_S, f"{took:.1f}s"
    assert peak < PEAK_MIB, f"peak {peak:.1f} MiB"
    check_evidence(ev)

