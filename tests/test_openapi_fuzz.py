"""Schemathesis against the reference server on loopback, with credentials: /openapi.json and the
server must agree (no server error, only documented statuses, bodies and media types, schema-valid
requests accepted, invalid ones refused).

Bounded: a few examples per operation (the whole module stays well under a minute).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import ChecksConfig

from reference_server.app import RunningServer, openapi_document, start_in_thread
from reference_server.config import ServerConfig, Timings
from reference_server.profiles import ws_progress

FEED_TOKEN = "fuzz-feed-token"
CLIENT, SECRET = "fuzz-client", "fuzz-secret-0123456789"
MAX_EXAMPLES = 12
CONFIG = ServerConfig(tokens=(FEED_TOKEN,), clients={CLIENT: SECRET},
                      timings=Timings.named("spec"))  # tokens outlive the run
# the document the server serves at /openapi.json (test_served_document_is_this_one checks)
schema = schemathesis.openapi.from_dict(openapi_document(CONFIG))
# a body over the server's size limit is refused with the 413 every operation documents, whether
# or not it is schema-valid (a generated list of many events can pass 256 KiB)
_LIMITS = ChecksConfig.from_dict({
    check: {"expected-statuses": [*getattr(schema.config.checks, check).expected_statuses, "413"]}
    for check in ("negative_data_rejection", "positive_data_acceptance")})
schema.config.checks.negative_data_rejection = _LIMITS.negative_data_rejection
schema.config.checks.positive_data_acceptance = _LIMITS.positive_data_acceptance


@pytest.fixture(scope="module")
def reference() -> Iterator[RunningServer]:
    running = start_in_thread(CONFIG)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def issued_token(reference: RunningServer) -> str:
    r = httpx.post(reference.base_url + ws_progress.TOKEN_PATH,
                   json={"clientId": CLIENT, "secret": SECRET})
    r.raise_for_status()
    return r.text


def test_served_document_is_this_one(reference: RunningServer) -> None:
    assert httpx.get(reference.base_url + "/openapi.json").json() == openapi_document(CONFIG)


# the socket is a WebSocket upgrade, which an HTTP fuzzer cannot hold open; its plain-GET 400 is
# checked in test_server_malformed.py, its protocol in test_reference_ws_progress.py
@schema.exclude(path=ws_progress.SOCKET_PATH).parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_the_server_keeps_to_its_openapi_document(case: schemathesis.Case[Any],
                                                  reference: RunningServer,
                                                  issued_token: str) -> None:
    if (case.media_type or "").startswith("multipart/"):
        # schemathesis' multipart encoding of a JSON part is not the one documented (the part's
        # Content-Type under `encoding`); multipart submission is covered by the ws-progress tests
        return
    # the /api/* calls take an issued token, the feeds and the control hook the static one
    token = issued_token if case.path.startswith("/api/") else FEED_TOKEN
    headers = case.headers
    if headers:
        # a connection-id must name a socket open now: the fuzz has none to name
        headers.pop("connection-id", None)
        if "Idempotency-Key" in headers:  # a key names one request; a repeat would be a reuse
            headers["Idempotency-Key"] = uuid.uuid4().hex
    case.call_and_validate(base_url=reference.base_url,
                           headers={"Authorization": f"Bearer {token}"})
