"""OAuth2 client credentials from --token-url: the token is read bounded, is a secret whatever the
answer, and anything but a 200 with an access_token is a setup failure (an ERROR), never a crash."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from aiohttp import web

from harness.evidence import Redactor
from harness.session import client_credentials_token
from harness.target import build_target
from reference_server.app import start_app_in_thread

TOKEN = "tok-AAAA-1234567890-secret"


@pytest.fixture
def token_server() -> Iterator[tuple[str, dict[str, Any]]]:
    seen: dict[str, Any] = {"status": 200}

    async def issue(request: web.Request) -> web.Response:
        seen["auth"] = request.headers.get("Authorization")
        seen["body"] = await request.text()
        return web.json_response({"access_token": TOKEN, "token_type": "bearer"}, status=seen["status"])

    app = web.Application()
    app.router.add_post("/oauth/token", issue)
    served = start_app_in_thread(app)
    yield served.base_url, seen
    served.stop()


def test_a_token_is_fetched_with_basic_auth(token_server: tuple[str, dict[str, Any]]) -> None:
    base, seen = token_server
    target = build_target({"target": base, "token_url": base + "/oauth/token", "client_id": "cid",
                           "client_secret": "s3cr3t-value"})
    token, why = client_credentials_token(target, Redactor(target.secrets))
    assert (token, why) == (TOKEN, None)
    assert seen["auth"].startswith("Basic ") and seen["body"] == "grant_type=client_credentials"


def test_a_201_answer_is_a_setup_failure_and_its_token_still_a_secret(token_server: tuple[str, dict[str, Any]]) -> None:
    base, seen = token_server
    seen["status"] = 201
    target = build_target({"target": base, "token_url": base + "/oauth/token", "client_id": "cid",
                           "client_secret": "s3cr3t-value"})
    redactor = Redactor(target.secrets)
    token, why = client_credentials_token(target, redactor)
    assert token is None and why is not None and "answered 201" in why
    assert TOKEN not in redactor.text(f"the answer was {TOKEN}")
