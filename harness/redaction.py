"""The one redaction point: every text, header, JSON value and body the harness stores, prints or
writes passes through a ``Redactor`` first, and is cut to size only after (``text_bounded``).

Every rule is linear in the length of its input, whatever a target sends:

- registered secrets, and the forms in which a target echoes them (base64 at each byte alignment,
  standard and URL-safe; percent-encoded; JSON-escaped; hex), are replaced with ``str.replace``;
- the other rules are scans anchored on a literal (``bearer``, ``://``, a sensitive key) that
  resume where the previous match ended, with regular expressions made only of a literal followed
  by runs of disjoint character classes, which cannot backtrack across the input.
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote, quote_plus

from harness.strictjson import MAX_DEPTH, InvalidJson, deeper_than, safe_json, strict_json

REDACTED = "[REDACTED]"
MAX_BODY = 16 * 1024
MIN_SECRET = 4  # shorter "secrets" would redact ordinary words
MIN_DERIVED = 8  # an encoded fragment shorter than this could occur by chance
SENSITIVE_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie",
                     "x-api-key", "webhook-signature"}
SENSITIVE_KEYS = {"token", "secret", "client_secret", "clientsecret", "password",
                  "access_token", "refresh_token", "id_token", "api_key", "apikey"}

_KEYS = "|".join(sorted(SENSITIVE_KEYS, key=len, reverse=True))
# key=value (query strings, form bodies) and "key": "value" (JSON seen as text, e.g. cut or broken)
_KEY_VALUE = re.compile(rf"(?i)\b(?:{_KEYS})=([^&\s#\"']+)")
_KEY_JSON = re.compile(rf"(?i)\"(?:{_KEYS})\"[ \t]{{0,16}}:[ \t]{{0,16}}"
                       r"(?:\"((?:[^\"\\]|\\.)+)|([^\s\",}\]{\[]+))")
_BEARER = re.compile(r"(?i)\bbearer[ \t]+")
_TOKEN68 = re.compile(r"[A-Za-z0-9._~+/-]+=*")  # RFC 6750 section 2.1 b64token
_AUTHORITY = re.compile(r"[^/?#\s]*")  # RFC 3986 3.2: the authority ends at "/", "?" or "#"
_AUTH_LABEL = re.compile(r"(?i)auth\w*[\"']?[ \t]*[:=][ \t]*[\"']?[ \t]*$")
_QUOTES = " \t\"'"


def secret_forms(secret: str) -> list[str]:
    """``secret`` and the forms in which a target may echo it, longest first (hex is how the
    evidence shows binary frames).

    Base64 of a longer text puts the secret at one of three byte alignments; for each, only the
    characters made of the secret's bits alone are the same whatever surrounds it, so those
    fragments are what is searched for (plus the whole encoding, padding included)."""
    forms = {secret}
    raw = secret.encode()
    encoded = [base64.b64encode(raw).decode()]
    for k in range(3):
        aligned = base64.b64encode(b"\0" * k + raw).decode()
        encoded.append(aligned[-(-8 * k // 6):(8 * (k + len(raw))) // 6])
    for text in encoded:
        forms.update({text, text.translate(str.maketrans("+/", "-_")), text.rstrip("=")})
    for text in (quote(secret, safe=""), quote(secret), quote_plus(secret)):
        forms.update({text, re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)})
    forms.update({json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
                  raw.hex(), raw.hex().upper()})
    derived = {f for f in forms if f != secret and len(f) >= MIN_DERIVED}
    return sorted(derived | {secret}, key=len, reverse=True)


def _replace_group(pattern: re.Pattern[str], text: str) -> str:
    """In every match, the group that matched (the value) replaced by REDACTED; the rest kept."""
    def value(m: re.Match[str]) -> str:
        group = next(g for g in range(1, (m.lastindex or 1) + 1) if m.start(g) != -1)
        return m.group()[:m.start(group) - m.start()] + REDACTED + m.group()[m.end(group) - m.start():]
    return pattern.sub(value, text)


def _header_context(text: str, start: int, end: int) -> bool:
    """Whether the "Bearer" at ``start`` (its token ending at ``end``) is a credential by where it
    stands: after an Authorization-like label on its line, or alone as a whole value."""
    line_start = text.rfind("\n", max(0, start - 64), start) + 1
    before = text[max(line_start, start - 64):start]
    if _AUTH_LABEL.search(before):
        return True
    if before.strip(_QUOTES):
        return False
    after = text[end:end + 16].lstrip(_QUOTES)
    return after == "" or after[0] in "\r\n,;"


def looks_like_token(candidate: str) -> bool:
    """A bearer credential rather than a word: 20 characters or more, or 8 or more with a digit."""
    return len(candidate) >= 20 or (len(candidate) >= 8 and any(c.isdigit() for c in candidate))


def redact_bearer(text: str) -> str:
    """The credential after "Bearer " replaced by REDACTED, prose left alone.

    RFC 6750 section 2.1: ``credentials = "Bearer" 1*SP b64token``. After "Bearer", a run of
    b64token characters is redacted when it looks like a token (``looks_like_token``) or stands
    where a credential stands (``_header_context``: "Authorization: Bearer x", or the whole value
    "Bearer x"). "a wrong bearer token gives 401" is kept as it is."""
    out: list[str] = []
    copied = searched = 0
    while (m := _BEARER.search(text, searched)) is not None:
        token = _TOKEN68.match(text, m.end())
        searched = m.end()
        if token is None:
            continue
        if looks_like_token(token.group()) or _header_context(text, m.start(), token.end()):
            out += [text[copied:token.start()], REDACTED]
            copied = searched = token.end()
    out.append(text[copied:])
    return "".join(out)


def redact_userinfo(text: str) -> str:
    """The password of every ``scheme://user:password@host`` replaced by REDACTED (RFC 3986
    3.2.1: "Use of the format user:password in the userinfo field is deprecated"; targets and
    users still write it). The user name is kept; a raw "@" inside the password is allowed for
    (the userinfo ends at the authority's last "@")."""
    out: list[str] = []
    copied = 0
    at = text.find("://")
    while at != -1:
        start = at + 3
        end = _AUTHORITY.match(text, start).end()  # type: ignore[union-attr]  # "*" always matches
        last_at = text.rfind("@", start, end)
        colon = text.find(":", start, last_at) if last_at != -1 else -1
        if colon != -1 and colon + 1 < last_at:
            out += [text[copied:colon + 1], REDACTED]
            copied = last_at
        at = text.find("://", start)
    out.append(text[copied:])
    return "".join(out)


def cut(text: str, limit: int) -> str:
    """``text`` bounded to ``limit`` characters, with a count of what was left out."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"... [{len(text) - limit} more characters]"


class Redactor:
    """Removes every known secret from text, headers and JSON before it is stored."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self._secrets: set[str] = set()
        self._forms: list[str] = []
        for s in secrets or []:
            self.add(s)

    def add(self, secret: str | None) -> None:
        """Register a secret (and its encoded forms); shorter than MIN_SECRET is ignored."""
        if secret and len(secret) >= MIN_SECRET and secret not in self._secrets:
            self._secrets.add(secret)
            forms = set(self._forms) | set(secret_forms(secret))
            self._forms = sorted(forms, key=len, reverse=True)

    def text(self, value: str) -> str:
        for form in self._forms:
            if form in value:
                value = value.replace(form, REDACTED)
        value = _replace_group(_KEY_VALUE, value)
        value = _replace_group(_KEY_JSON, value)
        return redact_userinfo(redact_bearer(value))

    def text_bounded(self, value: str, limit: int) -> str:
        """Redacted, then cut to ``limit`` characters: a secret is never half-kept at the cut."""
        return cut(self.text(value), limit)

    def binary(self, raw: bytes) -> bytes:
        """Registered secrets (in every form) removed from bytes that are not text."""
        for form in self._forms:
            encoded = form.encode()
            if encoded in raw:
                raw = raw.replace(encoded, REDACTED.encode())
        return raw

    def headers(self, headers: dict[str, str] | list[tuple[str, str]]) -> dict[str, str]:
        items = headers.items() if isinstance(headers, dict) else headers
        out: dict[str, str] = {}
        for key, value in items:
            name = self.text_bounded(str(key), 256)
            out[name] = REDACTED if name.lower() in SENSITIVE_HEADERS else self.text_bounded(str(value), 4096)
        return out

    def json(self, value: Any, _depth: int = 0) -> Any:
        """A copy of ``value`` with sensitive keys' values and secrets in strings redacted."""
        if _depth > MAX_DEPTH:
            return f"[nested deeper than {MAX_DEPTH} levels]"
        if isinstance(value, dict):
            return {self.text(str(k)): (REDACTED if str(k).lower() in SENSITIVE_KEYS and v not in (None, "")
                                        else self.json(v, _depth + 1)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.json(v, _depth + 1) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def json_bounded(self, value: Any, limit: int) -> Any:
        """``value`` redacted and strict (``safe_json``) when its JSON text fits in ``limit``;
        else that text, redacted as text (sensitive keys included), then cut to ``limit``."""
        if isinstance(value, str):
            return self.text_bounded(value, limit)
        if deeper_than(value):
            return f"[a JSON value nested deeper than {MAX_DEPTH} levels]"
        strict = safe_json(value)
        text = json.dumps(strict, allow_nan=False, default=str)
        return self.json(strict) if len(text) <= limit else self.text_bounded(text, limit)

    def body(self, raw: bytes, content_type: str = "", limit: int = MAX_BODY) -> Any:
        """A body as stored in evidence: its JSON value if it is strict JSON, else text; always
        redacted, then bounded to ``limit`` characters. Bytes that are not UTF-8 are kept as
        base64 (``limit`` characters of it at most), secrets removed before encoding."""
        if not raw:
            return None
        if "json" in content_type or raw[:1] in (b"{", b"["):
            try:
                value = strict_json(raw)
            except InvalidJson:
                pass
            else:
                if not deeper_than(value):
                    return self.json_bounded(value, limit)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(self.binary(raw)[:limit // 4 * 3]).decode(), "bytes": len(raw)}
        return self.text_bounded(text, limit)
