"""Redaction: linear in its input whatever a target sends, complete for every form of a registered
secret, and applied before anything is cut (issue 10, items "Redaction is quadratic" and
"Secrets reach reports")."""
from __future__ import annotations

import base64
import json
import multiprocessing
from collections.abc import Callable
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from harness.evidence import MAX_BODY, REDACTED, Evidence, Redactor
from harness.redaction import looks_like_token, redact_bearer, redact_userinfo, secret_forms

SECRET = "s3cr3t-known-token-value"
GUARD_S = 5.0  # only against a hang: 200 KB takes milliseconds (benchmarks/redaction_bench.py)


def finishes_within(seconds: float, work: Callable[[], object]) -> bool:
    """Whether ``work`` ends within ``seconds``. It runs in a forked process, killed when late: a
    regular expression holds the GIL, so a thread could not be given up on."""
    process = multiprocessing.get_context("fork").Process(target=work, daemon=True)
    process.start()
    process.join(seconds)
    if process.is_alive():
        process.kill()
        process.join()
        return False
    return process.exitcode == 0


def leaks(text: str, secret: str = SECRET, window: int = 10) -> list[str]:
    """Every piece of ``secret`` at least ``window`` characters long found in ``text``."""
    return [secret[i:i + window] for i in range(len(secret) - window + 1) if secret[i:i + window] in text]


# -- linear time ----------------------------------------------------------------------------

ADVERSARIAL = {
    "word": "a" * 200_000,  # the userinfo rule used to backtrack on this: 16 KB 0.8 s, 200 KB 157 s
    "hex": "0123456789abcdef" * 12_500,
    "schemes": "a://" * 50_000,
    "userinfo-no-at": "a://b:" * 33_000,
    "colons": "x://" + ":" * 200_000,
    "bearers": "bearer " * 28_000,
    "bearer-spaces": "Bearer" + " " * 200_000,
    "bearer-run": "Bearer " + "A" * 200_000,
    "keys": "token=" * 33_000,
    "json-keys": '"token": "' * 20_000,
    "ats": "@" * 200_000,
    "percent": "%" * 200_000,
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_every_rule_is_linear_on_adversarial_input(name: str) -> None:
    red = Redactor([SECRET, "another-secret-42"])
    assert finishes_within(GUARD_S, lambda: red.text(ADVERSARIAL[name])), f"{name}: redaction hung"


def test_userinfo_rule_is_linear_on_a_long_word() -> None:
    text = "x" * 200_000 + f" https://user:{SECRET}@host/"
    assert finishes_within(GUARD_S, lambda: Redactor().text(text))
    out = Redactor().text(text)
    assert SECRET not in out and "https://user:" + REDACTED + "@host/" in out


# -- every form of a registered secret ------------------------------------------------------

@pytest.mark.parametrize("prefix", [b"", b"u", b"us", b"user:"])
def test_secret_inside_base64_is_redacted_at_any_alignment(prefix: bytes) -> None:
    red = Redactor([SECRET])
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        blob = encode(prefix + SECRET.encode() + b"-tail").decode()
        inside = blob[-(-8 * len(prefix) // 6):8 * (len(prefix) + len(SECRET)) // 6]  # the secret's bits only
        out = red.text(f"Basic {blob}")
        assert REDACTED in out and inside not in out, (prefix, out)


@pytest.mark.parametrize("encode", [lambda s: quote(s, safe=""), quote_plus,
                                    lambda s: quote(s, safe="").lower()])
def test_secret_percent_encoded_is_redacted(encode: Callable[[str], str]) -> None:
    secret = "p@ss w/rd+100%"
    out = Redactor([secret]).text(f"callback?state={encode(secret)}&x=1")
    assert encode(secret) not in out and REDACTED in out and out.endswith("&x=1")


def test_short_derived_forms_are_not_redacted() -> None:
    # base64 fragments of a 4-character secret are too short to be told from chance
    assert all(len(f) >= 8 for f in secret_forms("abcd") if f != "abcd")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.text(max_size=60), after=st.text(max_size=60),
       secret=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=4, max_size=40))
def test_redaction_never_contains_a_registered_secret(before: str, after: str, secret: str) -> None:
    # a secret that overlaps the marker itself ("D]x" after "[REDACTE") would reappear beside it
    assume(not any(REDACTED.endswith(secret[:i]) or REDACTED.startswith(secret[-i:])
                   for i in range(1, len(secret) + 1)))
    out = Redactor([secret]).text(before + secret + after)
    assert secret not in out


@settings(max_examples=100, deadline=None)
@given(prefix=st.binary(max_size=5), secret=st.text(alphabet="abcdefXYZ0123456789-_.~", min_size=8, max_size=40))
def test_redaction_never_contains_the_base64_of_a_secret(prefix: bytes, secret: str) -> None:
    blob = base64.b64encode(prefix + secret.encode() + b"!").decode()
    out = Redactor([secret]).text(blob)
    assert base64.b64encode(secret.encode()).decode().rstrip("=")[1:-2] not in out


# -- bearer, userinfo, keys -----------------------------------------------------------------

@pytest.mark.parametrize("prose", ["a wrong bearer token gives 401", "Bearer tokens expire.",
                                   "the bearer authentication scheme", "use the Bearer scheme here"])
def test_bearer_rule_leaves_prose_alone(prose: str) -> None:
    assert Redactor().text(prose) == prose


@pytest.mark.parametrize("text, token", [
    ("Authorization: Bearer abc", "abc"),
    ('{"authorization": "Bearer zz"}', "zz"),
    ("Bearer opaque", "opaque"),
    ("sent Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "eyJhbGciOiJIUzI1NiJ9.e30.x"),
    ("a bearer t0ken123 was sent", "t0ken123"),
    ("Bearer abcdefghijklmnopqrstuvwxyz and more", "abcdefghijklmnopqrstuvwxyz"),
])
def test_bearer_rule_redacts_credentials(text: str, token: str) -> None:
    out = redact_bearer(text)
    assert token not in out and REDACTED in out


def test_looks_like_token() -> None:
    assert looks_like_token("t0ken123") and looks_like_token("a" * 20)
    assert not looks_like_token("token") and not looks_like_token("abcdefgh") and not looks_like_token("ab1")


@pytest.mark.parametrize("text, kept", [
    ("see https://user:pa55@host.test/x", "https://user:[REDACTED]@host.test/x"),
    ("ws://u:p@ss:word@h:1/", "ws://u:[REDACTED]@h:1/"),
    ("http://host.test:8080/a@b", "http://host.test:8080/a@b"),
    ("http://user@host/", "http://user@host/"),
    ("x://y:z://a:b@c", "x://y:z://a:[REDACTED]@c"),
])
def test_userinfo_password_is_redacted_and_nothing_else(text: str, kept: str) -> None:
    assert kept in redact_userinfo(text)


@pytest.mark.parametrize("text", ["GET /x?access_token=abc123&y=1", "grant_type=x&client_secret=s3cr",
                                  '{"token": "abc\\"def", "a": 1', '{"password": 123456}'])
def test_sensitive_key_values_are_redacted_in_text(text: str) -> None:
    out = Redactor().text(text)
    assert REDACTED in out
    assert not any(v in out for v in ("abc123", "s3cr", "abc", "def", "123456"))


# -- redaction happens before the cut (one redaction point) ---------------------------------

@pytest.mark.parametrize("offset", range(-len(SECRET), 1))
def test_text_bounded_never_keeps_part_of_a_secret_at_the_cut(offset: int) -> None:
    text = "a" * (200 + offset) + SECRET + "b" * 100
    out = Redactor([SECRET]).text_bounded(text, 200)
    assert not leaks(out, window=4)


def test_body_is_cut_after_redaction() -> None:
    raw = ("a" * (MAX_BODY - 12) + SECRET + " tail").encode()
    out = Redactor([SECRET]).body(raw, "text/plain")
    assert isinstance(out, str) and not leaks(out, window=6)


def test_binary_body_loses_secrets_before_base64() -> None:
    raw = b"\xff\xfe" + SECRET.encode() + b"\x80"
    out = Redactor([SECRET]).body(raw, "application/octet-stream")
    assert isinstance(out, dict) and SECRET.encode() not in base64.b64decode(out["base64"])


def test_large_json_body_is_bounded_and_redacted() -> None:
    doc = {"events": [{"n": i, "payload": f"x{SECRET}"} for i in range(5000)]}
    out = Redactor([SECRET]).body(json.dumps(doc).encode(), "application/json")
    text = out if isinstance(out, str) else json.dumps(out)
    assert len(text) < MAX_BODY + 64 and not leaks(text, window=6)


def test_transcript_cuts_after_redacting_a_secret_learned_late() -> None:
    red = Redactor()
    ev = Evidence(red)
    ev.exchanges.append({"at": 0.0, "method": "POST", "url": "http://t/issue", "request_headers": {},
                         "status": 200, "elapsed_ms": 1, "response_headers": {},
                         "response_body": "z" * 1990 + SECRET})
    red.add(SECRET)  # the token is learned after the exchange was recorded
    assert not leaks(ev.transcript_text(), window=4)
    assert not leaks(json.dumps(ev.as_dict()), window=4)


def test_redacting_200_kb_finishes_within_the_guard() -> None:
    red = Redactor([SECRET])
    text = ("word " * 20 + f"Bearer {SECRET} https://u:{SECRET}@h/ ") * 1000
    assert finishes_within(GUARD_S, lambda: red.text_bounded(text, MAX_BODY))
