"""RFC 9457 problem responses: the profiles' own, aiohttp's (through one middleware) and their
OpenAPI description; plus the bearer-token reading shared by the profiles.

No error body quotes the request: details are fixed sentences chosen by the server.
"""
from __future__ import annotations

import json
import uuid
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

_STATUS_TYPES = {
    400: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
    401: "https://tools.ietf.org/html/rfc7235#section-3.1",
    403: "https://tools.ietf.org/html/rfc7231#section-6.5.3",
    404: "https://tools.ietf.org/html/rfc7231#section-6.5.4",
    405: "https://tools.ietf.org/html/rfc7231#section-6.5.5",
    409: "https://tools.ietf.org/html/rfc7231#section-6.5.8",
    413: "https://www.rfc-editor.org/rfc/rfc9110#section-15.5.14",
    415: "https://tools.ietf.org/html/rfc7231#section-6.5.13",
    422: "https://tools.ietf.org/html/rfc4918#section-11.2",
}
# what the server says when aiohttp itself refuses a request
_FRAMEWORK_DETAILS = {
    400: "malformed request",
    404: "no such resource",
    405: "method not allowed on this resource; see the Allow header",
    413: "request body too large",
}
_KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")
MEDIA_TYPE = "application/problem+json"


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(status: int, detail: str | None = None, *,
            content_type: str = MEDIA_TYPE,
            headers: dict[str, str] | None = None) -> web.Response:
    body: dict[str, object] = {
        "type": _STATUS_TYPES.get(status, "about:blank"),
        "title": _title(status),
        "status": status,
        "traceId": "|" + uuid.uuid4().hex[:17] + ".",
    }
    if detail:
        body["detail"] = detail
    return web.Response(status=status, text=json.dumps(body), content_type=content_type,
                        headers=headers)


def framework_problem(status: int, headers: dict[str, str] | None = None) -> web.Response:
    """The problem for an error aiohttp raised (routing, body size, WebSocket handshake, HTTP)."""
    detail = _FRAMEWORK_DETAILS.get(status, "internal server error" if status >= 500 else None)
    return problem(status, detail, headers=headers)


@web.middleware
async def problem_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every HTTP error aiohttp raises (404, 405, 413, a refused upgrade...) into a problem."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kept = {name: exc.headers[name] for name in _KEPT_HEADERS if name in exc.headers}
        return framework_problem(exc.status, kept)


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


# -- OpenAPI ----------------------------------------------------------------------------------

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["type", "title", "status"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                   "status": {"type": "integer"}, "detail": {"type": "string"},
                   "traceId": {"type": "string"}}}


def problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}}


COMMON_RESPONSES: dict[str, Any] = {
    "BadRequest": problem_response("Malformed request: broken HTTP, a body that is not JSON or "
                                   "nests deeper than the server reads"),
    "ContentTooLarge": problem_response("Request body larger than the server accepts"),
    "NotFound": problem_response("No such resource (any path not listed here)"),
    "MethodNotAllowed": problem_response("Method not allowed here (any method not listed for a "
                                         "path); the Allow header lists the methods that are"),
}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def with_common_errors(paths: dict[str, Any]) -> dict[str, Any]:
    """Add the errors any request may get (400; 413 with a body) to every operation."""
    for item in paths.values():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            responses.setdefault("400", {"$ref": "#/components/responses/BadRequest"})
            if "requestBody" in operation:
                responses.setdefault("413", {"$ref": "#/components/responses/ContentTooLarge"})
    return paths
