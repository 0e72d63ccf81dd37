"""HTTP clients (sync and async, on httpx) that time out, translate errors and keep a transcript.

Whatever a target does, an exchange ends within ``total`` seconds (twice the per-read timeout),
headers included, and holds at most ``max_bytes`` of DECODED body (8 MiB unless the caller asks
for less): a slow-header target raises TargetUnreachable("no complete answer within ..."), an
oversized or decompression-bomb answer ResponseTooLarge (a TargetUnreachable), a garbled one
TargetUnreachable. Every exchange is recorded in the evidence, redacted and bounded.
"""
from __future__ import annotations

import asyncio
import json as jsonlib
import time
import zlib
from typing import Any

import httpx

from harness.evidence import SENSITIVE_KEYS, Evidence, Redactor
from harness.strictjson import InvalidJson, strict_json
from harness.transport.deadline import deadline, deadline_transport, tls_context
from harness.transport.decoding import BoundedDecoder, TooLarge
from harness.verdicts import TargetUnreachable

__all__ = ["DEFAULT", "MAX_RESPONSE", "MAX_TOKEN", "TOKEN_BYTES", "AsyncHttpClient", "HttpClient",
           "ResponseTooLarge", "issued_token", "json_body", "strict_json", "valid_token"]

DEFAULT = object()  # "use the client's bearer token"
MAX_RESPONSE = 8 * 1024 * 1024
MAX_TOKEN = 4096
TOKEN_BYTES = 64 * 1024  # max_bytes for reading a token endpoint
MAX_ERROR = 500
ACCEPT_ENCODING = {"Accept-Encoding": "gzip, deflate"}  # the codings decoding.py bounds


class ResponseTooLarge(TargetUnreachable):
    """The answer's decoded body is larger than the limit (``status`` is the answer's status)."""

    def __init__(self, message: str, status: int, limit: int) -> None:
        super().__init__(message)
        self.status, self.limit = status, limit


def json_body(response: httpx.Response) -> Any:
    """The JSON body, or None when it is empty or not JSON (NaN and Infinity are not JSON)."""
    if not response.content:
        return None
    try:
        return strict_json(response.content)
    except InvalidJson:
        return None


def valid_token(body: bytes | str) -> str | None:
    """The token in a token endpoint's answer, or None when it is not one: a token is 1 to
    MAX_TOKEN printable ASCII characters without spaces (surrounding whitespace and one pair of
    double quotes are allowed around it)."""
    if isinstance(body, bytes):
        if len(body) > MAX_TOKEN + 64:
            return None
        try:
            body = body.decode("ascii")
        except UnicodeDecodeError:
            return None
    text = body.strip(" \t\r\n")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    if not 0 < len(text) <= MAX_TOKEN or not all("!" <= c <= "~" for c in text):
        return None
    return text


def issued_token(response: httpx.Response, redactor: Redactor, key: str | None = None) -> str | None:
    """The token in a token endpoint's answer (the body itself, or its JSON object's ``key``),
    or None when it is not one (``valid_token``). Whatever the status or the shape of the answer,
    every candidate is registered as a secret first: it is one from the moment it is read. The
    caller judges the status; read the answer with ``max_bytes=TOKEN_BYTES``."""
    body = json_body(response)
    candidates: list[str] = []
    if isinstance(body, dict):
        candidates += [str(v) for k, v in body.items()
                       if isinstance(v, (str, int)) and not isinstance(v, bool)
                       and (k == key or str(k).lower() in SENSITIVE_KEYS)]
    elif isinstance(body, (str, int)) and not isinstance(body, bool):
        candidates.append(str(body))
    text = response.content[:TOKEN_BYTES].decode("utf-8", "replace").strip(" \t\r\n")
    candidates += [text, text.strip('"')]
    for candidate in candidates:
        redactor.add(candidate)
    if key is not None:
        value = body.get(key) if isinstance(body, dict) else None
        return valid_token(value) if isinstance(value, str) else None
    return valid_token(response.content)


def _complete(streamed: httpx.Response, content: bytes) -> httpx.Response:
    """A read response with the decoded ``content`` and the target's own headers."""
    plain = streamed.headers.copy()
    plain.pop("content-encoding", None)  # content is decoded already
    response = httpx.Response(streamed.status_code, headers=plain, content=content,
                              request=streamed.request, extensions=streamed.extensions)
    response.headers = streamed.headers
    return response


class _Base:
    def __init__(self, evidence: Evidence, *, token: str | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 5.0) -> None:
        self.evidence = evidence
        self.token = token
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.total = 2 * timeout  # the whole exchange, headers and body
        if token:
            evidence.redactor.add(token)

    def _build(self, json: Any, content: bytes | str | None, headers: dict[str, str] | None,
               bearer: Any) -> tuple[dict[str, str], bytes | None]:
        merged = dict(self.headers)
        token = self.token if bearer is DEFAULT else bearer
        if token:
            self.evidence.redactor.add(token)
            merged["Authorization"] = f"Bearer {token}"
        merged.update(headers or {})
        body: bytes | None = None
        if json is not None:
            body = jsonlib.dumps(json).encode()
            merged.setdefault("Content-Type", "application/json")
        elif content is not None:
            body = content.encode() if isinstance(content, str) else content
        return merged, body

    def _record(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
                started: float, response: httpx.Response | None, error: str | None = None) -> None:
        red = self.evidence.redactor
        entry: dict[str, Any] = {
            "at": self.evidence.at(started), "method": method, "url": red.text_bounded(url, 2000),
            "request_headers": red.headers(headers),
            "request_body": red.body(body or b"", headers.get("Content-Type", "")),
        }
        if response is not None:
            entry.update({"status": response.status_code,
                          "elapsed_ms": round((time.monotonic() - started) * 1000, 2),
                          "response_headers": red.headers(list(response.headers.items()))})
            if error is None:
                entry["response_body"] = red.body(response.content, response.headers.get("content-type", ""))
        if error is not None:
            entry["error"] = red.text_bounded(error, MAX_ERROR)
        self.evidence.exchanges.append(entry)

    def _failed(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
                started: float, exc: Exception, streamed: httpx.Response | None) -> TargetUnreachable:
        """Record why the exchange failed; the harness error to raise."""
        where = f"{method} {self.evidence.redactor.text_bounded(url, 2000)}"
        if isinstance(exc, TooLarge):
            error = str(exc)
            assert streamed is not None
            self._record(method, url, headers, body, started, streamed, error)
            return ResponseTooLarge(f"{where}: {error}", streamed.status_code, exc.limit)
        late = time.monotonic() - started >= self.total * 0.99
        if late or isinstance(exc, TimeoutError):
            error = f"no complete answer within {self.total:g}s (each read within {self.timeout:g}s)"
            self._record(method, url, headers, body, started, None, error)
            return TargetUnreachable(f"{where}: {error}")
        error = f"{type(exc).__name__}: {exc}"
        self._record(method, url, headers, body, started, None, error)
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
        return TargetUnreachable(self.evidence.redactor.text_bounded(
            f"{where} {kind} (timeout {self.timeout:g}s): {error}", MAX_ERROR + 2100))


class HttpClient(_Base):
    """Blocking client: one per scenario (or per thread)."""

    def __init__(self, evidence: Evidence, **kwargs: Any) -> None:
        super().__init__(evidence, **kwargs)
        self._client = httpx.Client(timeout=self.timeout, follow_redirects=False, headers=ACCEPT_ENCODING,
                                    transport=deadline_transport())

    def request(self, method: str, url: str, *, json: Any = None, content: bytes | str | None = None,
                headers: dict[str, str] | None = None, bearer: Any = DEFAULT,
                max_bytes: int = MAX_RESPONSE) -> httpx.Response:
        merged, body = self._build(json, content, headers, bearer)
        started = time.monotonic()
        streamed: httpx.Response | None = None
        try:
            with deadline(self.total), self._client.stream(method, url, content=body, headers=merged) as streamed:
                decoder = BoundedDecoder(streamed.headers.get("content-encoding", ""), max_bytes)
                for chunk in streamed.iter_raw():
                    decoder.feed(chunk)
                response = _complete(streamed, decoder.finish())
        except (httpx.HTTPError, TooLarge, zlib.error) as exc:
            raise self._failed(method, url, merged, body, started, exc, streamed) from exc
        self._record(method, url, merged, body, started, response)
        return response

    def close(self) -> None:
        self._client.close()


class AsyncHttpClient(_Base):
    """Async client for executors that also drive sockets or receivers."""

    def __init__(self, evidence: Evidence, **kwargs: Any) -> None:
        super().__init__(evidence, **kwargs)
        self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False, headers=ACCEPT_ENCODING,
                                         verify=tls_context())

    async def request(self, method: str, url: str, *, json: Any = None,
                      content: bytes | str | None = None, headers: dict[str, str] | None = None,
                      bearer: Any = DEFAULT, max_bytes: int = MAX_RESPONSE) -> httpx.Response:
        merged, body = self._build(json, content, headers, bearer)
        started = time.monotonic()
        streamed: httpx.Response | None = None
        try:
            async with asyncio.timeout(self.total):
                async with self._client.stream(method, url, content=body, headers=merged) as streamed:
                    decoder = BoundedDecoder(streamed.headers.get("content-encoding", ""), max_bytes)
                    async for chunk in streamed.aiter_raw():
                        decoder.feed(chunk)
                    response = _complete(streamed, decoder.finish())
        except (httpx.HTTPError, TooLarge, zlib.error, TimeoutError) as exc:
            raise self._failed(method, url, merged, body, started, exc, streamed) from exc
        self._record(method, url, merged, body, started, response)
        return response

    async def aclose(self) -> None:
        await self._client.aclose()
