"""Evidence and its Redactor: nothing secret is stored, bodies are bounded, transcripts are readable."""
from __future__ import annotations

import base64
import json

import pytest

from harness.evidence import MAX_BODY, REDACTED, SENSITIVE_HEADERS, Evidence, Redactor

SECRET = "s3cr3t-known-token-value"


@pytest.fixture
def red() -> Redactor:
    return Redactor([SECRET])


# -- text -------------------------------------------------------------------------------------

@pytest.mark.parametrize("header", ["Bearer abc.DEF-123_x~+/=", "bearer abc.DEF", "BEARER   zz9"])
def test_bearer_tokens_are_redacted_in_text(header: str) -> None:
    out = Redactor().text(f"Authorization: {header} trailing")
    token = header.split()[-1]
    assert token not in out
    assert REDACTED in out
    assert out.endswith(" trailing")


def test_known_secret_is_redacted_anywhere_in_text(red: Redactor) -> None:
    out = red.text(f"url?token={SECRET}&x=1 and again {SECRET}")
    assert SECRET not in out
    assert out.count(REDACTED) == 2
    assert "&x=1" in out


def test_longest_secret_wins_when_secrets_overlap() -> None:
    red = Redactor(["abcd", "abcdefgh"])
    assert red.text("xx abcdefgh yy") == f"xx {REDACTED} yy"


@pytest.mark.parametrize("short", ["", None, "abc"])
def test_short_or_empty_secrets_are_ignored(short: str | None) -> None:
    red = Redactor()
    red.add(short)
    assert red.text("abc abcabc") == "abc abcabc"


def test_add_is_idempotent() -> None:
    red = Redactor([SECRET, SECRET])
    red.add(SECRET)
    assert red.text(SECRET) == REDACTED


# -- headers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SENSITIVE_HEADERS) + ["AUTHORIZATION", "Set-Cookie", "X-Api-Key"])
def test_sensitive_headers_are_redacted_whatever_their_case(red: Redactor, name: str) -> None:
    assert red.headers({name: "anything at all"}) == {name: REDACTED}


def test_other_headers_keep_their_value_but_lose_secrets(red: Redactor) -> None:
    out = red.headers([("Content-Type", "application/json"), ("X-Echo", f"got {SECRET}"),
                       ("X-Forwarded-Auth", "Bearer opaque123")])
    assert out["Content-Type"] == "application/json"
    assert out["X-Echo"] == f"got {REDACTED}"
    assert out["X-Forwarded-Auth"] == f"Bearer {REDACTED}"


# -- JSON -------------------------------------------------------------------------------------

def test_sensitive_json_keys_are_redacted_at_any_depth(red: Redactor) -> None:
    doc = {"clientId": "me", "secret": "hunter2", "nested": [{"access_token": "a1", "Password": "p"}],
           "Token": "t", "refresh_token": "r", "client_secret": "cs", "keep": 3}
    out = red.json(doc)
    assert out == {"clientId": "me", "secret": REDACTED,
                   "nested": [{"access_token": REDACTED, "Password": REDACTED}],
                   "Token": REDACTED, "refresh_token": REDACTED, "client_secret": REDACTED, "keep": 3}


def test_empty_sensitive_values_stay_visible(red: Redactor) -> None:
    # an empty or null token is evidence (the target sent none), not a secret
    assert red.json({"token": None, "secret": ""}) == {"token": None, "secret": ""}


def test_known_secret_inside_json_strings_is_redacted(red: Redactor) -> None:
    out = red.json({"message": f"echo {SECRET}", "list": [SECRET, 1, None, True]})
    assert out == {"message": f"echo {REDACTED}", "list": [REDACTED, 1, None, True]}
    assert SECRET not in json.dumps(out)


def test_json_does_not_modify_its_input(red: Redactor) -> None:
    doc = {"token": "x", "a": [SECRET]}
    red.json(doc)
    assert doc == {"token": "x", "a": [SECRET]}


# -- bodies -----------------------------------------------------------------------------------

def test_empty_body_is_none(red: Redactor) -> None:
    assert red.body(b"") is None
    assert red.body(b"", "application/json") is None


def test_json_body_is_parsed_and_redacted(red: Redactor) -> None:
    raw = json.dumps({"token": "t0ken", "events": [{"payload": SECRET}]}).encode()
    assert red.body(raw, "application/json") == {"token": REDACTED, "events": [{"payload": REDACTED}]}


def test_json_body_is_recognised_without_a_content_type(red: Redactor) -> None:
    assert red.body(b'[{"a": 1}]') == [{"a": 1}]


def test_broken_json_falls_back_to_text(red: Redactor) -> None:
    assert red.body(b'{"token": ' + SECRET.encode(), "application/json") == '{"token": ' + REDACTED


def test_text_body_is_redacted(red: Redactor) -> None:
    assert red.body(f"Bearer abcdef12 {SECRET}".encode(), "text/plain") == f"Bearer {REDACTED} {REDACTED}"
    # a short word after "Bearer" in the middle of prose is not a credential (test_redaction.py)
    assert red.body(b"Bearer abc is refused", "text/plain") == "Bearer abc is refused"


def test_long_text_body_is_truncated_with_a_count(red: Redactor) -> None:
    raw = b"x" * (MAX_BODY + 123)
    out = red.body(raw, "text/plain")
    assert isinstance(out, str)
    assert out.startswith("x" * MAX_BODY)
    assert out.endswith("... [123 more characters]")
    assert len(out) < MAX_BODY + 40


def test_text_body_of_exactly_max_is_kept_whole(red: Redactor) -> None:
    assert red.body(b"y" * MAX_BODY, "text/plain") == "y" * MAX_BODY


def test_binary_body_is_base64_and_bounded(red: Redactor) -> None:
    raw = bytes([0xFF, 0xFE, 0x00, 0x80]) * (MAX_BODY // 2)  # twice MAX_BODY, not UTF-8
    out = red.body(raw, "application/octet-stream")
    assert isinstance(out, dict)
    assert out["bytes"] == len(raw)
    assert len(out["base64"]) <= MAX_BODY
    decoded = base64.b64decode(out["base64"])
    assert decoded == raw[:MAX_BODY // 4 * 3]


# -- Evidence ---------------------------------------------------------------------------------

def _exchange(at: float, **extra: object) -> dict[str, object]:
    entry: dict[str, object] = {"at": at, "method": "GET", "url": "http://t/feeds/journey/next",
                                "request_headers": {"Authorization": REDACTED}, "request_body": None}
    entry.update(extra)
    return entry


def test_notes_and_attachments_are_redacted(red: Redactor) -> None:
    ev = Evidence(red)
    ev.note(f"emitted with {SECRET}")
    ev.attach("traceback", f"Authorization: Bearer {SECRET}")
    assert ev.notes == [f"emitted with {REDACTED}"]
    assert SECRET not in ev.attachments["traceback"]
    assert set(ev.as_dict()) == {"exchanges", "notes", "attachments"}


def test_as_dict_leaves_out_empty_sections(red: Redactor) -> None:
    assert Evidence(red).as_dict() == {"exchanges": []}


def test_timing_is_recorded(red: Redactor) -> None:
    ev = Evidence(red)
    ev.timing("ping_interval", 0.26, 0.2, 0.9, "PASS")
    assert ev.as_dict()["timings"] == [{"name": "ping_interval", "declared": None, "observed": 0.26,
                                        "lower": 0.2, "upper": 0.9, "verdict": "PASS"}]


def test_at_is_relative_to_the_start(red: Redactor) -> None:
    ev = Evidence(red, started=100.0)
    assert ev.at(101.25) == 1.25


def test_transcript_text_orders_http_and_ws_by_time(red: Redactor) -> None:
    ev = Evidence(red)
    ev.exchanges.append(_exchange(
        0.5, status=200, elapsed_ms=1.5, response_headers={"content-type": "application/json"},
        response_body={"batchId": "b1", "events": []}))
    ev.exchanges.append(_exchange(0.1, method="POST", url="http://t/x", request_body={"a": 1},
                                  error="ConnectError: refused"))
    ev.frames.append({"at": 0.3, "socket": "s1", "direction": "<", "type": "text",
                      "data": {"messageType": "PING"}})
    text = ev.transcript_text()
    lines = text.splitlines()
    assert lines[0].endswith("POST http://t/x")
    assert "    > Authorization: [REDACTED]" in lines
    assert '    > {"a": 1}' in lines
    assert "    ! ConnectError: refused" in lines
    ws = next(i for i, line in enumerate(lines) if " ws s1 < text " in line)
    get = next(i for i, line in enumerate(lines) if line.endswith("GET http://t/feeds/journey/next"))
    assert 0 < ws < get
    assert "    < 200 (1.5 ms)" in lines
    assert "    < content-type: application/json" in lines
    assert '    < {"batchId": "b1", "events": []}' in lines
    # the errored exchange shows no status line
    assert sum(1 for line in lines if line.startswith("    < ") and "ms)" in line) == 1


def test_transcript_text_of_nothing_is_empty(red: Redactor) -> None:
    assert Evidence(red).transcript_text() == ""


def test_transcript_bounds_long_bodies(red: Redactor) -> None:
    ev = Evidence(red)
    ev.exchanges.append(_exchange(0.0, status=200, elapsed_ms=1, response_headers={},
                                  response_body="z" * 10_000))
    body_line = [line for line in ev.transcript_text().splitlines() if line.startswith("    < \"")][0]
    assert body_line.endswith(f"... [{10_002 - 2000} more characters]")
    assert len(body_line) <= 6 + 2000 + len("... [8002 more characters]")
