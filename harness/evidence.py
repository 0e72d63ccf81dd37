"""Evidence of one scenario: HTTP exchanges, WebSocket frames, timings, notes; secrets redacted."""
from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

REDACTED = "[REDACTED]"
MAX_BODY = 16 * 1024
SENSITIVE_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie",
                     "x-api-key", "webhook-signature"}
SENSITIVE_KEYS = {"token", "secret", "client_secret", "clientsecret", "password",
                  "access_token", "refresh_token"}


class Redactor:
    """Removes every known secret from text, headers and JSON before it is stored."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self._secrets: list[str] = []
        for s in secrets or []:
            self.add(s)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, REDACTED)
        value = re.sub(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+", r"\1" + REDACTED, value)
        return re.sub(r"(\w+://[^/:@\s]+:)[^@/\s]+@", r"\1" + REDACTED + "@", value)  # user:password@

    def headers(self, headers: dict[str, str] | list[tuple[str, str]]) -> dict[str, str]:
        items = headers.items() if isinstance(headers, dict) else headers
        out: dict[str, str] = {}
        for key, value in items:
            out[key] = REDACTED if key.lower() in SENSITIVE_HEADERS else self.text(str(value))
        return out

    def json(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (REDACTED if str(k).lower() in SENSITIVE_KEYS and v not in (None, "")
                        else self.json(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def body(self, raw: bytes, content_type: str = "") -> Any:
        """A body as stored in evidence: parsed JSON if it is JSON, else (truncated) text."""
        if not raw:
            return None
        if "json" in content_type or raw[:1] in (b"{", b"["):
            try:
                return self.json(json.loads(raw))
            except ValueError:
                pass
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(raw[:MAX_BODY]).decode(), "bytes": len(raw)}
        if len(text) > MAX_BODY:
            text = text[:MAX_BODY] + f"... [{len(text) - MAX_BODY} more characters]"
        return self.text(text)


@dataclass
class Evidence:
    """Everything observed while a scenario ran, in the order it happened."""

    redactor: Redactor
    started: float = field(default_factory=time.monotonic)
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)  # requests the target made to us
    attachments: dict[str, str] = field(default_factory=dict)

    def at(self, moment: float | None = None) -> float:
        """Seconds since the scenario started, for a monotonic timestamp."""
        return round((time.monotonic() if moment is None else moment) - self.started, 6)

    def note(self, text: str) -> None:
        self.notes.append(self.redactor.text(text))

    def timing(self, name: str, observed: Any, lower: Any, upper: Any, verdict: str,
               declared: Any = None) -> None:
        """A timing verdict with its window: numbers for one timer, lists for a schedule's gaps."""
        self.timings.append({"name": name, "declared": declared, "observed": observed,
                             "lower": lower, "upper": upper, "verdict": verdict})

    def attach(self, name: str, text: str) -> None:
        self.attachments[name] = self.redactor.text(text)

    def as_dict(self) -> dict[str, Any]:
        """Everything, redacted again with every secret known by now (a token is often learned
        only from the response that carried it, after that exchange was recorded)."""
        out: dict[str, Any] = {"exchanges": self.exchanges}
        if self.frames:
            out["frames"] = self.frames
        if self.timings:
            out["timings"] = self.timings
        if self.deliveries:
            out["deliveries"] = self.deliveries
        if self.notes:
            out["notes"] = self.notes
        if self.attachments:
            out["attachments"] = self.attachments
        redacted: dict[str, Any] = self.redactor.json(out)
        return redacted

    def transcript_text(self) -> str:
        """A human-readable transcript of every exchange and frame, for Allure and HTML."""
        lines: list[str] = []
        events = [(e["at"], "http", e) for e in self.exchanges]
        events += [(f["at"], "ws", f) for f in self.frames]
        for _, kind, e in sorted(events, key=lambda t: t[0]):
            if kind == "http":
                lines.append(f"[{e['at']:9.3f}s] {e['method']} {e['url']}")
                for k, v in (e.get("request_headers") or {}).items():
                    lines.append(f"    > {k}: {v}")
                if e.get("request_body") is not None:
                    lines.append("    > " + json.dumps(e["request_body"])[:2000])
                if "error" in e:
                    lines.append(f"    ! {e['error']}")
                    continue
                lines.append(f"    < {e['status']} ({e['elapsed_ms']} ms)")
                for k, v in (e.get("response_headers") or {}).items():
                    lines.append(f"    < {k}: {v}")
                if e.get("response_body") is not None:
                    lines.append("    < " + json.dumps(e["response_body"])[:2000])
            else:
                data = e.get("data")
                shown = json.dumps(data)[:500] if data is not None else ""
                lines.append(f"[{e['at']:9.3f}s] ws {e['socket']} {e['direction']} {e['type']} {shown}")
        return self.redactor.text("\n".join(lines))
