"""A check about what a socket does needs the socket open when the harness acted: against a
target that closes every socket at once (1011), ws-token-refresh-invalid must not PASS on a close
it did not cause (issue 10's false PASS: the invalid UPDATE_TOKEN was sent after the close)."""
from __future__ import annotations

from typing import Iterator

import pytest
from aiohttp import WSCloseCode, web

from harness.catalog import catalog
from harness.runner import run_scenario
from harness.target import build_target
from harness.verdicts import Verdict
from reference_server.app import start_app_in_thread


@pytest.fixture
def closes_at_once() -> Iterator[str]:
    async def token(request: web.Request) -> web.Response:
        return web.Response(text="tok-closing-target-0001")

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"bye")
        return ws

    app = web.Application()
    app.router.add_post("/api/authentication/token", token)
    app.router.add_get("/api/compute-job-messages", socket)
    served = start_app_in_thread(app)
    yield served.base_url
    served.stop()


def test_a_socket_closed_before_the_harness_acted_is_no_pass(closes_at_once: str) -> None:
    target = build_target({"target": closes_at_once, "client_id": "c", "client_secret": "s",
                           "timings": {"ws-progress": {"token_lifetime": 1.0}}})
    scenario = next(s for s in catalog() if s.id == "ws-token-refresh-invalid")
    result = run_scenario(scenario, target)
    assert result.verdict is not Verdict.PASS, result.reason
    assert any(c.name == "socket-open-when-sent" and not c.passed for c in result.checks)
