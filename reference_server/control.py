"""The control hook: lets the harness make the reference server emit feed events.

``POST {control_prefix}/feeds/{feedId}/events`` with ``{"events": [{"eventType", "payload"}],
"tenantId"?}`` and the same bearer token as the feeds; answers 201 ``{"ids": [...]}`` in stored
order. docs/control-hook.md is the vendor-facing contract. The hook is test instrumentation:
faults never change its behaviour (only where the events end up, through the store's keys).
"""
from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from reference_server.config import ServerConfig
from reference_server.json_bodies import JsonError, loads
from reference_server.problems import bearer_token, problem, problem_response
from reference_server.store import FEED_IDS, FeedStore, NewEvent

STORE_KEY: web.AppKey[FeedStore] = web.AppKey("feed_store", FeedStore)
MAX_EVENTS_PER_CALL = 1000
TENANT_HEADER = "X-TENANT-ID"


def authorized(request: web.Request, config: ServerConfig) -> bool:
    """True when the request carries ``Authorization: Bearer <t>`` with t in config.tokens."""
    token = bearer_token(request)
    if token is None:
        return False
    return any(hmac.compare_digest(token.encode(), known.encode()) for known in config.tokens)


def unauthorized() -> web.Response:
    return problem(401, "missing or invalid bearer token",
                   headers={"WWW-Authenticate": 'Bearer realm="eventnotifications"'})


def header_tenant(request: web.Request, config: ServerConfig) -> str | None:
    """The tenant named by X-TENANT-ID (default: the first configured), or None if unknown."""
    tenant = request.headers.get(TENANT_HEADER)
    if tenant is None:
        return config.tenants[0]
    return tenant if tenant in config.tenants else None


def setup(app: web.Application, config: ServerConfig) -> None:
    """Add the control route; the feed-polling profile owns the store under STORE_KEY."""
    prefix = config.control_prefix.rstrip("/")

    async def emit(request: web.Request) -> web.Response:
        return await _emit(request, config)

    app.router.add_post(prefix + "/feeds/{feedId}/events", emit)


def openapi_paths(prefix: str) -> dict[str, Any]:
    prefix = prefix.rstrip("/")
    event = {
        "type": "object",
        "required": ["eventType"],
        "properties": {"eventType": {"type": "string", "minLength": 1}, "payload": {}},
    }
    return {
        prefix + "/feeds/{feedId}/events": {
            "post": {
                "operationId": "controlEmitEvents",
                "summary": "Test control hook: append events to a feed (not part of the protocol)",
                "parameters": [
                    {"name": "feedId", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": list(FEED_IDS)}},
                    {"name": TENANT_HEADER, "in": "header", "required": False,
                     "schema": {"type": "string"}},
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["events"],
                    "properties": {
                        "events": {"type": "array", "minItems": 1,
                                   "maxItems": MAX_EVENTS_PER_CALL, "items": event},
                        "tenantId": {"type": "string"},
                    },
                }}}},
                "responses": {
                    "201": {"description": "Stored, in this order",
                            "content": {"application/json": {"schema": {
                                "type": "object", "required": ["ids"],
                                "properties": {"ids": {"type": "array",
                                                       "items": {"type": "string"}}}}}}},
                    "400": problem_response("Invalid request"),
                    "401": problem_response("Missing or invalid bearer token"),
                    "403": problem_response("Unknown tenant in X-TENANT-ID"),
                    "404": problem_response("Unknown feed"),
                },
            },
        },
    }


async def _emit(request: web.Request, config: ServerConfig) -> web.Response:
    if not authorized(request, config):
        return unauthorized()
    feed = request.match_info["feedId"]
    if feed not in FEED_IDS:
        return problem(404, "unknown feed")
    try:
        body = loads(await request.read(), config.limits.json_depth)
    except JsonError as exc:
        return problem(400, f"the body is {exc}")
    if not isinstance(body, dict):
        return problem(400, "body must be a JSON object")
    tenant = body.get("tenantId")
    if tenant is None:
        tenant = header_tenant(request, config)
        if tenant is None:
            return problem(403, "unknown tenant")
    elif not isinstance(tenant, str) or tenant not in config.tenants:
        return problem(400, "unknown tenantId")
    events = body.get("events")
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS_PER_CALL:
        return problem(400, f"events must be a list of 1..{MAX_EVENTS_PER_CALL} objects")
    parsed: list[NewEvent] = []
    for index, item in enumerate(events):
        if not isinstance(item, dict):
            return problem(400, f"events[{index}] is not an object")
        event_type = item.get("eventType")
        if not isinstance(event_type, str) or not event_type:
            return problem(400, f"events[{index}].eventType must be a non-empty string")
        parsed.append(NewEvent(event_type, item.get("payload", {})))  # loads() refused NaN
    ids = request.app[STORE_KEY].add_events(tenant, feed, parsed)
    return web.json_response({"ids": ids}, status=201)
