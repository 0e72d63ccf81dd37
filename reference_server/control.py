"""The control hook: lets the harness make the reference server emit feed events.

``POST {control_prefix}/feeds/{feedId}/events`` with ``{"events": [{"eventType", "payload"}],
"tenantId"?}`` (schemas/feed-polling/control-events-request.schema.json) and the same bearer token as the feeds; answers 201 ``{"ids": [...]}`` in stored
order. An ``Idempotency-Key`` header makes a retry safe: the same key (per tenant) with the same
events answers the first ids again and stores nothing. docs/control-hook.md is the vendor-facing
contract. The hook is test instrumentation:
faults never change its behaviour (only where the events end up, through the store's keys).
"""
from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from reference_server.config import ServerConfig
from reference_server.contract import ref
from reference_server.feed_access import TENANT_HEADER, known_token, tenant_for, unauthorized
from reference_server.json_bodies import JsonError, loads
from reference_server.problems import problem, problem_response
from reference_server.store import FEED_IDS, FeedStore, KeyReused, NewEvent

STORE_KEY: web.AppKey[FeedStore] = web.AppKey("feed_store", FeedStore)
MAX_EVENTS_PER_CALL = 1000
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII


def setup(app: web.Application, config: ServerConfig) -> None:
    """Add the control route; the feed-polling profile owns the store under STORE_KEY."""
    prefix = config.control_prefix.rstrip("/")

    async def emit(request: web.Request) -> web.Response:
        return await _emit(request, config)

    app.router.add_post(prefix + "/feeds/{feedId}/events", emit)


def openapi_paths(config: ServerConfig) -> dict[str, Any]:
    prefix = config.control_prefix.rstrip("/")
    return {
        prefix + "/feeds/{feedId}/events": {
            "post": {
                "operationId": "controlEmitEvents",
                "summary": "Test control hook: append events to a feed (not part of the protocol)",
                "parameters": [
                    {"name": "feedId", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": list(FEED_IDS)}},
                    {"name": TENANT_HEADER, "in": "header", "required": False,
                     "schema": {"type": "string", "enum": list(config.tenants)}},
                    {"name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
                     "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern}},
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "allOf": [ref("feed-polling/control-events-request"), {"properties": {
                        "tenantId": {"enum": [*config.tenants, None],
                                     "description": "a tenant this server is configured with"}}}],
                }}}},
                "responses": {
                    "201": {"description": "Stored, in this order (or the first answer again "
                                           "for a repeated Idempotency-Key)",
                            "content": {"application/json": {"schema": {
                                "type": "object", "required": ["ids"],
                                "properties": {"ids": {"type": "array",
                                                       "items": {"type": "string"}}}}}}},
                    "400": problem_response("Invalid request"),
                    "401": problem_response("Missing or invalid bearer token"),
                    "403": problem_response("Unknown tenant in X-TENANT-ID, or a tenant this "
                                            "token may not use"),
                    "404": problem_response("Unknown feed"),
                    "422": problem_response("Idempotency-Key already used for other events"),
                },
            },
        },
    }


async def _emit(request: web.Request, config: ServerConfig) -> web.Response:
    token = known_token(request, config)
    if token is None:
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
    idempotency_key = request.headers.get(IDEMPOTENCY_HEADER)
    if idempotency_key is not None and not IDEMPOTENCY_KEY.match(idempotency_key):
        return problem(400, f"{IDEMPOTENCY_HEADER} must be 1 to 255 visible ASCII characters")
    tenant = tenant_for(request, config, token)  # X-TENANT-ID, checked even when tenantId wins
    if isinstance(tenant, web.Response):
        return tenant
    named = body.get("tenantId")
    if named is not None:
        if not isinstance(named, str) or named not in config.tenants:
            return problem(400, "unknown tenantId")
        tenant = tenant_for(request, config, token, named)
        if isinstance(tenant, web.Response):
            return tenant
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
    try:
        ids = request.app[STORE_KEY].add_events(tenant, feed, parsed, idempotency_key)
    except KeyReused:
        return problem(422, f"this {IDEMPOTENCY_HEADER} was used before for other events")
    return web.json_response({"ids": ids}, status=201)
