"""feed-polling profile (seed 002): batched FIFO event feeds under /eventnotifications/v2.

Routes: ``GET {feedId}/next``, ``POST {feedId}/{batchId}/complete``, ``PUT {feedId}/discardAll``
plus the control hook (reference_server.control). State lives in reference_server.store.
Every fault is one ``if`` at the spot where the real bug would sit.
"""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from reference_server import control
from reference_server.config import ServerConfig
from reference_server.control import STORE_KEY
from reference_server.feed_access import TENANT_HEADER, UNBOUND_FAULT, known_token, tenant_for, unauthorized
from reference_server.faults import Fault
from reference_server.protocols import ServerProtocol
from reference_server.problems import problem, problem_response
from reference_server.store import FEED_IDS, FeedStore

BASE = "/eventnotifications/v2"
PROFILE = "feed-polling"
BATCH_LIMIT = 10


def _fault(name: str, description: str) -> Fault:
    return Fault(name, PROFILE, description)


FAULTS: list[Fault] = [
    _fault("fp-reordered-events", "a batch lists its events in reverse emission order"),
    _fault("fp-reorder-every-other-read", "every second answer of next (one counter for the whole "
           "server) lists its batch in reverse order: not deterministic per feed"),
    _fault("fp-new-batch-id-on-reread", "re-reading next gives the same events under a new batchId"),
    _fault("fp-case-insensitive-feed-ids", "feed ids are matched case-insensitively"),
    _fault("fp-404-without-problem", "404 responses have a plain-text body, not a problem object"),
    _fault("fp-event-lost-on-complete", "complete also silently drops the first event after the batch"),
    _fault("fp-completed-events-return", "complete closes the batch but keeps its events queued"),
    _fault("fp-eleven-event-batch", "batches hold up to 11 events"),
    _fault("fp-wrong-more-available", "moreAvailable is always false"),
    _fault("fp-discard-all-noop", "discardAll answers 200 but keeps every event"),
    _fault("fp-discard-all-feeds", "discardAll archives every feed of the tenant, not just the one named"),
    _fault("fp-stale-complete-advances", "completing an unknown or old batchId completes the open batch"),
    _fault("fp-empty-batch-200", "an empty feed answers 200 with an empty batch instead of 204"),
    _fault("fp-no-auth-check", "any or no bearer token is accepted"),
    _fault("fp-tenant-leak", "X-TENANT-ID does not separate data: all tenants share one feed set"),
    _fault("fp-feeds-shared", "all six feeds of a tenant share one queue"),
    _fault("fp-problem-json-media-type", "404 problems are served as application/json"),
    _fault("fp-5xx-on-malformed", "a junk batchId or over-long feedId raises an unhandled error"),
    _fault("fp-batch-not-immutable", "a re-read adds newly arrived events to the open batch"),
    _fault(UNBOUND_FAULT, "tokens are not bound to tenants: any token reads and writes any tenant"),
]

MAX_FEED_ID_LENGTH = 64


def setup(app: web.Application, config: ServerConfig) -> None:
    handlers = _Handlers(config)
    app.router.add_get(BASE + "/{feedId}/next", handlers.next)
    app.router.add_post(BASE + "/{feedId}/{batchId}/complete", handlers.complete)
    app.router.add_put(BASE + "/{feedId}/discardAll", handlers.discard_all)
    control.setup(app, config)

    async def open_store(app: web.Application) -> None:
        app[STORE_KEY] = FeedStore(config.db_path,
                                   share_tenants="fp-tenant-leak" in config.faults,
                                   share_feeds="fp-feeds-shared" in config.faults,
                                   idempotency_keys=config.limits.idempotency_keys)

    async def close_store(app: web.Application) -> None:
        app[STORE_KEY].close()

    app.on_startup.append(open_store)
    app.on_cleanup.append(close_store)


class _Handlers:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.faults = config.faults
        self.reads = 0

    # -- shared checks -----------------------------------------------------------------------

    def not_found(self, detail: str) -> web.Response:
        if "fp-404-without-problem" in self.faults:
            return web.Response(status=404, text="Not Found")
        if "fp-problem-json-media-type" in self.faults:
            return problem(404, detail, content_type="application/json")
        return problem(404, detail)

    def resolve(self, request: web.Request) -> tuple[str, str] | web.Response:
        """(tenant, feed) of an authorised request, or the error response to send."""
        token = known_token(request, self.config)
        if token is None and "fp-no-auth-check" not in self.faults:
            return unauthorized()
        tenant = tenant_for(request, self.config, token)
        if isinstance(tenant, web.Response):
            return tenant
        feed = request.match_info["feedId"]
        if "fp-5xx-on-malformed" in self.faults and len(feed) > MAX_FEED_ID_LENGTH:
            raise ValueError("feed id longer than the feed column")
        if "fp-case-insensitive-feed-ids" in self.faults:
            feed = feed.lower()
        if feed not in FEED_IDS:
            return self.not_found("unknown feed; feed ids are case-sensitive")
        return tenant, feed

    # -- routes ------------------------------------------------------------------------------

    async def next(self, request: web.Request) -> web.Response:
        resolved = self.resolve(request)
        if isinstance(resolved, web.Response):
            return resolved
        tenant, feed = resolved
        store = request.app[STORE_KEY]
        limit = BATCH_LIMIT + 1 if "fp-eleven-event-batch" in self.faults else BATCH_LIMIT
        if "fp-batch-not-immutable" in self.faults:
            store.top_up_open_batch(tenant, feed, limit)
        batch = store.next_batch(tenant, feed, limit)
        if batch is None:
            if "fp-empty-batch-200" in self.faults:
                return web.json_response({"batchId": store.new_batch_id(), "notifications": [],
                                          "moreAvailable": False})
            return web.Response(status=204)
        if not batch.fresh and "fp-new-batch-id-on-reread" in self.faults:
            batch = store.renumber_open_batch(tenant, feed) or batch
        notifications = batch.notifications
        if "fp-reordered-events" in self.faults:
            notifications = notifications[::-1]
        self.reads += 1
        if "fp-reorder-every-other-read" in self.faults and self.reads % 2 == 0:
            notifications = notifications[::-1]
        more = batch.more_available
        if "fp-wrong-more-available" in self.faults:
            more = False
        # the store's notifications are JSON texts (SQLite encodes them): joined, not re-encoded
        body = (f'{{"batchId":{json.dumps(batch.batch_id)},"notifications":['
                f'{",".join(notifications)}],"moreAvailable":{"true" if more else "false"}}}')
        return web.Response(text=body, content_type="application/json")

    async def complete(self, request: web.Request) -> web.Response:
        resolved = self.resolve(request)
        if isinstance(resolved, web.Response):
            return resolved
        tenant, feed = resolved
        store = request.app[STORE_KEY]
        batch_id = request.match_info["batchId"]
        if "fp-5xx-on-malformed" in self.faults:
            int(batch_id)  # the bug: parses before validating, junk raises ValueError -> 500
        if "fp-completed-events-return" in self.faults:
            done = store.release(tenant, feed, batch_id)
        else:
            done = store.complete(tenant, feed, batch_id)
        if not done and "fp-stale-complete-advances" in self.faults:
            current = store.open_batch_id(tenant, feed)
            done = current is not None and store.complete(tenant, feed, current)
        if not done:
            return self.stale(batch_id)
        if "fp-event-lost-on-complete" in self.faults:
            store.drop_oldest_pending(tenant, feed)
        return web.Response(status=200)

    def stale(self, batch_id: str) -> web.Response:
        status = self.config.stale_complete_status
        if not batch_id.isdigit() or len(batch_id) > 40:
            return self.not_found("no such batch (malformed batchId)")
        if status == 404:
            return self.not_found("no open batch with this batchId")
        return problem(status, "no open batch with this batchId")

    async def discard_all(self, request: web.Request) -> web.Response:
        resolved = self.resolve(request)
        if isinstance(resolved, web.Response):
            return resolved
        tenant, feed = resolved
        if "fp-discard-all-noop" not in self.faults:
            for target in (FEED_IDS if "fp-discard-all-feeds" in self.faults else (feed,)):
                request.app[STORE_KEY].discard_all(tenant, target)
        return web.Response(status=200)


# -- OpenAPI -------------------------------------------------------------------------------

_NOTIFICATION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "eventType", "when", "tenantId", "causationId", "correlationId",
                 "relativeUrl", "payload"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "eventType": {"type": "string"},
        "when": {"type": "string", "format": "date-time"},
        "tenantId": {"type": "string"},
        "causationId": {"type": "string", "format": "uuid"},
        "correlationId": {"type": "string", "format": "uuid"},
        "relativeUrl": {"type": "string"},
        "payload": {},
    },
}
_BATCH = {
    "type": "object",
    "required": ["batchId", "notifications", "moreAvailable"],
    "properties": {"batchId": {"type": "string", "pattern": "^[0-9]+$"},
                   "notifications": {"type": "array", "minItems": 1, "maxItems": BATCH_LIMIT,
                                     "items": _NOTIFICATION},
                   "moreAvailable": {"type": "boolean"}},
}


def _operation(operation_id: str, summary: str, ok: dict[str, Any],
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    responses: dict[str, Any] = dict(ok)
    responses["401"] = problem_response("Missing or invalid bearer token")
    responses["403"] = problem_response("Unknown tenant, or one this token may not use")
    responses["404"] = problem_response("Unknown feed (feed ids are case-sensitive)")
    responses.update(extra or {})
    return {"operationId": operation_id, "summary": summary, "responses": responses}


def openapi_paths(config: ServerConfig) -> dict[str, Any]:
    feed_param = {"name": "feedId", "in": "path", "required": True,
                  "schema": {"type": "string", "enum": list(FEED_IDS)}}
    tenant_param = {"name": TENANT_HEADER, "in": "header", "required": False,
                    "schema": {"type": "string", "enum": list(config.tenants)}}
    batch_param = {"name": "batchId", "in": "path", "required": True,
                   "schema": {"type": "string"}}
    paths: dict[str, Any] = {
        BASE + "/{feedId}/next": {
            "parameters": [feed_param, tenant_param],
            "get": _operation("nextBatch", "Read the open batch, forming one if needed", {
                "200": {"description": "The open batch (identical on every re-read)",
                        "content": {"application/json": {"schema": _BATCH}}},
                "204": {"description": "No events pending"}}),
        },
        BASE + "/{feedId}/{batchId}/complete": {
            "parameters": [feed_param, batch_param, tenant_param],
            "post": _operation("completeBatch", "Mark the open batch complete", {
                "200": {"description": "Completed; its events are gone for good"}}),
        },
        BASE + "/{feedId}/discardAll": {
            "parameters": [feed_param, tenant_param],
            "put": _operation("discardAll", "Archive every pending event of the feed", {
                "200": {"description": "Feed emptied; next answers 204"}}),
        },
    }
    paths.update(control.openapi_paths(config))
    return paths


def declared(config: ServerConfig) -> dict[str, Any]:
    return {"options": {"stale_complete_status": config.stale_complete_status}}


PROTOCOL = ServerProtocol(PROFILE, tuple(FAULTS), setup, openapi_paths, declared)
