"""Tokens bound to tenants (ServerConfig.token_tenants) on the feeds and the control hook."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from reference_server.app import start_in_thread
from reference_server.config import ServerConfig

BASE = "/eventnotifications/v2"
ALL, ONLY_A, ONLY_B, NONE = "token-all", "token-a", "token-b", "token-none"
BINDING = {ALL: ("tenant-a", "tenant-b"), ONLY_A: ("tenant-a",), ONLY_B: ("tenant-b",)}


@contextmanager
def feeds(*faults: str, **options: Any) -> Iterator[httpx.Client]:
    running = start_in_thread(ServerConfig(faults=frozenset(faults), **options))
    try:
        with httpx.Client(base_url=running.base_url, timeout=5.0) as client:
            yield client
    finally:
        running.stop()


def call(client: httpx.Client, token: str, method: str, path: str, tenant: str | None = None,
         **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if tenant is not None:
        headers["X-TENANT-ID"] = tenant
    return client.request(method, path, headers=headers, **kw)


def emit(client: httpx.Client, token: str, tenant: str | None = None,
         named: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"events": [{"eventType": "t", "payload": {"to": tenant or named}}]}
    if named is not None:
        body["tenantId"] = named
    return call(client, token, "POST", "/_control/feeds/journey/events", tenant, json=body)


def assert_forbidden(r: httpx.Response) -> None:
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_without_a_binding_every_token_uses_every_tenant() -> None:
    with feeds(tokens=("t1", "t2")) as client:
        for token in ("t1", "t2"):
            for tenant in ("tenant-a", "tenant-b"):
                assert emit(client, token, tenant).status_code == 201
                assert call(client, token, "GET", f"{BASE}/journey/next", tenant).status_code == 200


def test_a_bound_token_is_refused_the_other_tenant() -> None:
    with feeds(tokens=(), token_tenants=BINDING) as client:
        assert emit(client, ALL, "tenant-b").status_code == 201
        for method, path in (("GET", f"{BASE}/journey/next"),
                             ("POST", f"{BASE}/journey/123/complete"),
                             ("PUT", f"{BASE}/journey/discardAll")):
            assert_forbidden(call(client, ONLY_A, method, path, "tenant-b"))
        assert_forbidden(emit(client, ONLY_A, "tenant-b"))  # the control hook: header
        assert_forbidden(emit(client, ONLY_A, named="tenant-b"))  # and body tenantId
        # tenant-b's event is still there, for tenant-b
        batch = call(client, ONLY_B, "GET", f"{BASE}/journey/next", "tenant-b").json()
        assert [n["payload"] for n in batch["notifications"]] == [{"to": "tenant-b"}]


def test_without_x_tenant_id_a_token_acts_for_its_first_tenant() -> None:
    with feeds(tokens=(), token_tenants=BINDING) as client:
        assert emit(client, ONLY_B).status_code == 201
        batch = call(client, ALL, "GET", f"{BASE}/journey/next", "tenant-b").json()
        assert batch["notifications"][0]["tenantId"] == "tenant-b"
        assert call(client, ONLY_A, "GET", f"{BASE}/journey/next").status_code == 204


def test_a_token_the_binding_does_not_list_may_use_no_tenant() -> None:
    with feeds(tokens=(NONE,), token_tenants=BINDING) as client:
        assert_forbidden(call(client, NONE, "GET", f"{BASE}/journey/next"))
        assert_forbidden(call(client, NONE, "GET", f"{BASE}/journey/next", "tenant-a"))
        assert call(client, "unknown", "GET", f"{BASE}/journey/next").status_code == 401


def test_the_fault_ignores_the_binding() -> None:
    with feeds("fp-tenant-unbound", tokens=(), token_tenants=BINDING) as client:
        assert emit(client, ONLY_A, "tenant-b").status_code == 201
        assert call(client, ONLY_A, "GET", f"{BASE}/journey/next", "tenant-b").status_code == 200


def test_a_binding_to_an_unknown_tenant_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="unknown tenants"):
        ServerConfig(token_tenants={"t": ("tenant-z",)})
