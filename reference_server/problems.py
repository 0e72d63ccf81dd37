"""RFC 9457 problem responses and bearer-token checks shared by the profiles."""
from __future__ import annotations

import json
import uuid

from aiohttp import web

_STATUS_TYPES = {
    400: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
    401: "https://tools.ietf.org/html/rfc7235#section-3.1",
    403: "https://tools.ietf.org/html/rfc7231#section-6.5.3",
    404: "https://tools.ietf.org/html/rfc7231#section-6.5.4",
    405: "https://tools.ietf.org/html/rfc7231#section-6.5.5",
    409: "https://tools.ietf.org/html/rfc7231#section-6.5.8",
    415: "https://tools.ietf.org/html/rfc7231#section-6.5.13",
    422: "https://tools.ietf.org/html/rfc4918#section-11.2",
}
_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 415: "Unsupported Media Type",
           422: "Unprocessable Entity"}


def problem(status: int, detail: str | None = None, *,
            content_type: str = "application/problem+json",
            headers: dict[str, str] | None = None) -> web.Response:
    body: dict[str, object] = {
        "type": _STATUS_TYPES.get(status, "about:blank"),
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "traceId": "|" + uuid.uuid4().hex[:17] + ".",
    }
    if detail:
        body["detail"] = detail
    return web.Response(status=status, text=json.dumps(body), content_type=content_type,
                        headers=headers)


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
