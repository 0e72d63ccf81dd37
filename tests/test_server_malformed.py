"""Malformed input to the reference server: deep JSON, framework errors, broken HTTP.

Every error is a problem document (application/problem+json) that quotes none of the request,
and a malformed request costs one log line, not a traceback.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from reference_server.app import RunningServer, openapi_document, start_in_thread
from reference_server.config import ServerConfig
from reference_server.json_bodies import json_integer, loads, nesting_exceeds
from reference_server.profiles import ws_progress

TOKEN = "malformed-token"
CLIENT, SECRET = "malformed-client", "malformed-secret"
DEEP = "[" * 1000 + "]" * 1000
MARK = "SECRETBYTES"  # request bytes that must never come back in an error body


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    running = start_in_thread(ServerConfig(tokens=(TOKEN,), clients={CLIENT: SECRET}))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=5.0) as client:
        yield client


def issued_token(http: httpx.Client) -> str:
    r = http.post(ws_progress.TOKEN_PATH, json={"clientId": CLIENT, "secret": SECRET})
    assert r.status_code == 200, r.text
    return r.text


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"] and body["type"]
    assert MARK not in r.text
    return body


# -- JSON nested ~1000 deep -----------------------------------------------------------------

def test_the_depth_prescan_ignores_brackets_in_strings() -> None:
    assert not nesting_exceeds('{"a": "[[[[[[[[[[[[", "b": [[1]]}', 3)
    assert nesting_exceeds('{"a": "\\"[", "b": [[[1]]]}', 3)
    assert loads('{"a": "[[[\\"]]]"}', 2) == {"a": '[[["]]]'}
    assert json_integer(3064.0) == 3064 and json_integer(3064.5) is None
    assert json_integer(True) is None


def test_deep_json_on_the_token_endpoint_is_400(http: httpx.Client) -> None:
    r = http.post(ws_progress.TOKEN_PATH, content=DEEP, headers={"Content-Type": "application/json"})
    assert "nested deeper" in assert_problem(r, 400)["detail"]


def test_deep_json_in_a_job_submission_is_400(http: httpx.Client) -> None:
    r = http.post(ws_progress.JOBS_PATH, content='{"id": "x", "solver": ' + DEEP + "}",
                  headers={"Content-Type": "application/json",
                           "Authorization": f"Bearer {issued_token(http)}"})
    assert "nested deeper" in assert_problem(r, 400)["detail"]


def test_deep_json_on_the_control_hook_is_400(http: httpx.Client) -> None:
    body = '{"events": [{"eventType": "t", "payload": ' + DEEP + "}]}"
    r = http.post("/_control/feeds/journey/events", content=body,
                  headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    assert "nested deeper" in assert_problem(r, 400)["detail"]


def test_json_64_deep_is_still_read(http: httpx.Client) -> None:
    payload = "[" * 60 + "]" * 60  # plus events [ and the event object: 63 levels
    r = http.post("/_control/feeds/document/events",
                  content='{"events": [{"eventType": "t", "payload": ' + payload + "}]}",
                  headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("number", ["1e999", "-1e999"])
def test_a_number_beyond_a_double_is_400_not_an_infinity_served_later(http: httpx.Client,
                                                                       number: str) -> None:
    """1e999 is JSON syntax but no double: read as inf, it went out of next as Infinity (not
    JSON), or made the store fail to re-encode the payload. It is refused like NaN."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = http.post("/_control/feeds/screening/events",
                  content='{"events": [{"eventType": "t", "payload": {"big": ' + number + "}}]}",
                  headers={"Content-Type": "application/json", **auth})
    assert "not valid JSON" in assert_problem(r, 400)["detail"]
    assert http.get("/eventnotifications/v2/screening/next", headers=auth).status_code == 204


async def test_a_deep_websocket_frame_closes_1008_with_a_reason(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        r = await client.post(ws_progress.TOKEN_PATH, json={"clientId": CLIENT, "secret": SECRET})
    url = server.base_url.replace("http://", "ws://") + ws_progress.SOCKET_PATH
    async with connect(url, additional_headers={"Authorization": f"Bearer {r.text}"},
                       ping_interval=None) as ws:
        await ws.send(DEEP)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 1008 and ws.close_reason and "nested" in ws.close_reason


# -- framework errors become problem documents ------------------------------------------------

def test_unknown_route_is_a_problem(http: httpx.Client) -> None:
    assert_problem(http.get(f"/no/such/{MARK}"), 404)


def test_wrong_method_is_a_problem_with_allow(http: httpx.Client) -> None:
    r = http.delete("/openapi.json")
    assert_problem(r, 405)
    assert "GET" in r.headers["allow"]


def test_too_large_body_is_a_problem(http: httpx.Client) -> None:
    r = http.post("/_control/feeds/journey/events", content=MARK.encode() * 30_000,
                  headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    assert_problem(r, 413)


def test_plain_get_of_the_socket_path_is_a_problem(http: httpx.Client) -> None:
    r = http.get(ws_progress.SOCKET_PATH, headers={"Authorization": f"Bearer {issued_token(http)}",
                                                   "Upgrade": MARK})
    assert_problem(r, 400)


def raw_request(server: RunningServer, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


@pytest.mark.parametrize("request_bytes", [
    b"GET /\x01" + MARK.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-A: " + MARK.encode() + b"\x00\r\n\r\n",
    b"POST /api/compute-jobs HTTP/1.1\r\nHost: x\r\nContent-Length: " + MARK.encode() + b"\r\n\r\n",
], ids=["url", "header", "content-length"])
def test_malformed_http_is_a_problem_and_one_log_line(server: RunningServer, request_bytes: bytes,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    answer = raw_request(server, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 400 " in head.split(b"\r\n")[0]
    assert b"content-type: application/problem+json" in head.lower()
    assert MARK.encode() not in answer
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(records) == 1 and records[0].exc_info is None and "\n" not in records[0].getMessage()


def test_openapi_documents_the_common_errors() -> None:
    doc = openapi_document(ServerConfig())
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            assert "400" in responses, (path, method)
            if "requestBody" in operation:
                assert "413" in responses, (path, method)
            for status, response in responses.items():
                if "$ref" in response:
                    response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
                if status.startswith(("4", "5")):  # a problem document, or the protocol's own error body
                    content = response.get("content", {})
                    own = content.get("application/json", {}).get("schema") == {"$ref": "#/components/schemas/webhooks.error"}
                    assert "application/problem+json" in content or (path.startswith("/api/v1/exec") and own), (path, status)
    assert {"NotFound", "MethodNotAllowed"} <= set(doc["components"]["responses"])
