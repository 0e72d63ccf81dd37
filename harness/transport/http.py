"""HTTP clients (sync and async, on httpx) that time out, translate errors and keep a transcript."""
from __future__ import annotations

import json as jsonlib
import time
from typing import Any

import httpx

from harness.evidence import Evidence
from harness.verdicts import TargetUnreachable

DEFAULT = object()  # "use the client's bearer token"
MAX_RESPONSE = 8 * 1024 * 1024


class TotalTimeout(httpx.TimeoutException):
    """The whole response took too long (or grew too large), though each read was in time."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


def _complete(streamed: httpx.Response, raw: bytes) -> httpx.Response:
    """A fully read response from the raw bytes of a streamed one (decoded as usual)."""
    response = httpx.Response(streamed.status_code, headers=streamed.headers, content=raw,
                              request=streamed.request, extensions=streamed.extensions)
    return response


class _Base:
    def __init__(self, evidence: Evidence, *, token: str | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 5.0) -> None:
        self.evidence = evidence
        self.token = token
        self.headers = dict(headers or {})
        self.timeout = timeout
        if token:
            evidence.redactor.add(token)

    def _build(self, method: str, url: str, json: Any, content: bytes | str | None,
               headers: dict[str, str] | None, bearer: Any) -> tuple[dict[str, str], bytes | None]:
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
                started: float, response: httpx.Response | None, error: str | None) -> None:
        red = self.evidence.redactor
        entry: dict[str, Any] = {
            "at": self.evidence.at(started), "method": method, "url": red.text(url),
            "request_headers": red.headers(headers),
            "request_body": red.body(body or b"", headers.get("Content-Type", "")),
        }
        if response is None:
            entry["error"] = error or "no response"
        else:
            entry.update({
                "status": response.status_code,
                "elapsed_ms": round((time.monotonic() - started) * 1000, 2),
                "response_headers": red.headers(list(response.headers.items())),
                "response_body": red.body(response.content, response.headers.get("content-type", "")),
            })
        self.evidence.exchanges.append(entry)

    def _check_deadline(self, started: float, size: int) -> None:
        """httpx times out each read; a target that trickles bytes must still stop in time."""
        if time.monotonic() - started > self.timeout * 2:
            raise TotalTimeout(f"response not complete after {self.timeout * 2:g}s ({size} bytes so far)")
        if size > MAX_RESPONSE:
            raise TotalTimeout(f"response larger than {MAX_RESPONSE} bytes")

    def _unreachable(self, method: str, url: str, exc: httpx.HTTPError) -> TargetUnreachable:
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
        return TargetUnreachable(f"{method} {self.evidence.redactor.text(url)} {kind} "
                                 f"(timeout {self.timeout:g}s): {type(exc).__name__}: {exc}")


class HttpClient(_Base):
    """Blocking client: one per scenario (or per thread)."""

    def __init__(self, evidence: Evidence, **kwargs: Any) -> None:
        super().__init__(evidence, **kwargs)
        self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)

    def request(self, method: str, url: str, *, json: Any = None, content: bytes | str | None = None,
                headers: dict[str, str] | None = None, bearer: Any = DEFAULT) -> httpx.Response:
        merged, body = self._build(method, url, json, content, headers, bearer)
        started = time.monotonic()
        try:
            with self._client.stream(method, url, content=body, headers=merged) as streamed:
                raw = b""
                for chunk in streamed.iter_raw():
                    raw += chunk
                    self._check_deadline(started, len(raw))
                response = _complete(streamed, raw)
        except httpx.HTTPError as exc:
            self._record(method, url, merged, body, started, None, f"{type(exc).__name__}: {exc}")
            raise self._unreachable(method, url, exc) from exc
        self._record(method, url, merged, body, started, response, None)
        return response

    def close(self) -> None:
        self._client.close()


class AsyncHttpClient(_Base):
    """Async client for executors that also drive sockets or receivers."""

    def __init__(self, evidence: Evidence, **kwargs: Any) -> None:
        super().__init__(evidence, **kwargs)
        self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)

    async def request(self, method: str, url: str, *, json: Any = None,
                      content: bytes | str | None = None, headers: dict[str, str] | None = None,
                      bearer: Any = DEFAULT) -> httpx.Response:
        merged, body = self._build(method, url, json, content, headers, bearer)
        started = time.monotonic()
        try:
            async with self._client.stream(method, url, content=body, headers=merged) as streamed:
                raw = b""
                async for chunk in streamed.aiter_raw():
                    raw += chunk
                    self._check_deadline(started, len(raw))
                response = _complete(streamed, raw)
        except httpx.HTTPError as exc:
            self._record(method, url, merged, body, started, None, f"{type(exc).__name__}: {exc}")
            raise self._unreachable(method, url, exc) from exc
        self._record(method, url, merged, body, started, response, None)
        return response

    async def aclose(self) -> None:
        await self._client.aclose()


def json_body(response: httpx.Response) -> Any:
    """The JSON body, or None when it is empty or not JSON."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None
