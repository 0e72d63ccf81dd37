"""The reference server's feed-polling profile over real loopback HTTP, with and without faults."""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from reference_server.app import openapi_document, start_in_thread
from reference_server.config import ServerConfig
from reference_server.profiles.feed_polling import FAULTS

TOKEN = "test-token"
BASE = "/eventnotifications/v2"
FEEDS = ("journey", "entitydata", "document", "screening", "digitalidv", "association")
FIELDS = {"id", "eventType", "when", "tenantId", "causationId", "correlationId", "relativeUrl",
          "payload"}


class Feeds:
    """A thin client for one running server."""

    def __init__(self, client: httpx.Client) -> None:
        self.http = client

    def emit(self, feed: str, n: int, tenant: str | None = None, start: int = 0) -> list[str]:
        body: dict[str, Any] = {"events": [{"eventType": f"{feed}:test", "payload": {"i": i}}
                                           for i in range(start, start + n)]}
        if tenant is not None:
            body["tenantId"] = tenant
        r = self.http.post(f"/_control/feeds/{feed}/events", json=body)
        assert r.status_code == 201, r.text
        ids: list[str] = r.json()["ids"]
        assert len(ids) == n
        return ids

    def next(self, feed: str = "journey", **headers: str) -> httpx.Response:
        return self.http.get(f"{BASE}/{feed}/next", headers=headers)

    def batch(self, feed: str = "journey", **headers: str) -> dict[str, Any]:
        r = self.next(feed, **headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def complete(self, batch_id: str, feed: str = "journey", **headers: str) -> httpx.Response:
        return self.http.post(f"{BASE}/{feed}/{batch_id}/complete", headers=headers)

    def discard(self, feed: str = "journey", content: bytes | None = None,
                **headers: str) -> httpx.Response:
        return self.http.put(f"{BASE}/{feed}/discardAll", content=content, headers=headers)


@contextmanager
def server(*faults: str, **options: Any) -> Iterator[Feeds]:
    config = ServerConfig(tokens=(TOKEN,), faults=frozenset(faults), **options)
    running = start_in_thread(config)
    try:
        with httpx.Client(base_url=running.base_url, timeout=5.0,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            yield Feeds(client)
    finally:
        running.stop()


@pytest.fixture
def feeds() -> Iterator[Feeds]:
    with server() as f:
        yield f


def ids_of(batch: dict[str, Any]) -> list[str]:
    return [n["id"] for n in batch["notifications"]]


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert {"type", "title", "status", "traceId"} <= body.keys()
    assert body["status"] == status
    assert "notifications" not in body and "batchId" not in body
    return body


# -- happy paths -------------------------------------------------------------------------------

def test_batch_shape_complete_and_empty(feeds: Feeds) -> None:
    r = feeds.next()
    assert r.status_code == 204 and r.content == b""
    ids = feeds.emit("journey", 3)
    batch = feeds.batch()
    assert set(batch) == {"batchId", "notifications", "moreAvailable"}
    assert re.fullmatch(r"[0-9]+", batch["batchId"])
    assert ids_of(batch) == ids and batch["moreAvailable"] is False
    for n, i in zip(batch["notifications"], range(3)):
        assert set(n) == FIELDS
        assert n["eventType"] == "journey:test" and n["payload"] == {"i": i}
        assert n["tenantId"] == "tenant-a"
        for key in ("id", "causationId", "correlationId"):
            uuid.UUID(n[key])
        assert datetime.fromisoformat(n["when"]).utcoffset() is not None
        assert isinstance(n["relativeUrl"], str) and n["relativeUrl"]
    r = feeds.complete(batch["batchId"])
    assert r.status_code == 200
    assert feeds.next().status_code == 204


def test_payloads_and_event_types_read_back_as_emitted(feeds: Feeds) -> None:
    """The store's SQLite encodes the notifications: every kind of JSON payload, and event types
    with quotes, backslashes, control characters and non-ASCII, read back equal."""
    payloads: list[Any] = [None, True, False, 0, -7, 2**70, 1.5, 1.0, -2.5e-300, "",
                           'q"\\\n\t\u2028\u00e9\U0001f600', [], {},
                           {"a": [1, {"b": None}], "\u00e9": "x"}]
    types = ['document:"quoted"', "document:back\\slash", "document:\x01", "document:\u00e9"]
    events = [{"eventType": types[i % len(types)], "payload": p} for i, p in enumerate(payloads)]
    assert feeds.http.post("/_control/feeds/document/events",
                           json={"events": events}).status_code == 201
    read: list[dict[str, Any]] = []
    while (r := feeds.next("document")).status_code == 200:
        read += r.json()["notifications"]
        assert feeds.complete(r.json()["batchId"], "document").status_code == 200
    assert [(n["eventType"], n["payload"]) for n in read] == [
        (e["eventType"], e["payload"]) for e in events]


def test_batch_is_immutable_until_completed(feeds: Feeds) -> None:
    first = feeds.emit("journey", 3)
    batch = feeds.batch()
    assert ids_of(batch) == first and batch["moreAvailable"] is False
    later = feeds.emit("journey", 12, start=3)
    again = feeds.batch()
    assert again["batchId"] == batch["batchId"]
    assert again["notifications"] == batch["notifications"]
    assert again["moreAvailable"] is True
    assert feeds.complete(batch["batchId"]).status_code == 200
    second = feeds.batch()
    assert ids_of(second) == later[:10] and second["moreAvailable"] is True
    assert second["batchId"] != batch["batchId"]


def test_fifo_over_37_events(feeds: Feeds) -> None:
    emitted = feeds.emit("journey", 37)
    seen: list[str] = []
    batch_ids: list[str] = []
    sizes: list[int] = []
    mores: list[bool] = []
    while (r := feeds.next()).status_code == 200:
        batch = r.json()
        seen += ids_of(batch)
        batch_ids.append(batch["batchId"])
        sizes.append(len(batch["notifications"]))
        mores.append(batch["moreAvailable"])
        assert feeds.complete(batch["batchId"]).status_code == 200
    assert r.status_code == 204
    assert seen == emitted
    assert sizes == [10, 10, 10, 7] and mores == [True, True, True, False]
    assert len(set(batch_ids)) == 4


def test_discard_all(feeds: Feeds) -> None:
    feeds.emit("journey", 15)
    feeds.emit("document", 2)
    old = feeds.batch()
    r = feeds.discard(content=b"junk")
    assert r.status_code == 200
    assert feeds.next().status_code == 204
    assert feeds.complete(old["batchId"]).status_code == 404
    assert feeds.next("document").status_code == 200  # other feeds untouched
    fresh = feeds.emit("journey", 2)
    assert ids_of(feeds.batch()) == fresh


def test_feeds_are_independent(feeds: Feeds) -> None:
    for feed in FEEDS:
        feeds.emit(feed, 1)
    for feed in FEEDS:
        batch = feeds.batch(feed)
        assert len(batch["notifications"]) == 1
        assert batch["notifications"][0]["eventType"] == f"{feed}:test"


# -- errors ------------------------------------------------------------------------------------

def test_case_sensitive_and_unknown_feeds_give_404_problems(feeds: Feeds) -> None:
    feeds.emit("journey", 2)
    batch = feeds.batch()
    for feed in ("Journey", "JOURNEY", "all", "x" * 5000):
        assert_problem(feeds.next(feed), 404)
        assert_problem(feeds.complete(batch["batchId"], feed), 404)
        assert_problem(feeds.discard(feed), 404)
    assert feeds.batch() == batch


def test_stale_unknown_and_junk_batch_ids_change_nothing(feeds: Feeds) -> None:
    feeds.emit("journey", 12)
    batch = feeds.batch()
    for junk in ("1", "not-a-number", "9" * 3000, "-5", str(int(batch["batchId"]) + 1)):
        r = feeds.complete(junk)
        assert r.status_code in (400, 404), (junk, r.status_code)
        assert_problem(r, r.status_code)
        assert feeds.batch() == batch
    assert feeds.complete(batch["batchId"]).status_code == 200
    assert_problem(feeds.complete(batch["batchId"]), 404)  # already completed
    assert len(feeds.batch()["notifications"]) == 2


def test_stale_complete_status_is_configurable() -> None:
    with server(stale_complete_status=409) as feeds:
        feeds.emit("journey", 1)
        batch = feeds.batch()
        assert_problem(feeds.complete("12345"), 409)
        assert feeds.batch() == batch


def test_wrong_methods_give_405(feeds: Feeds) -> None:
    assert feeds.http.delete(f"{BASE}/journey/next").status_code == 405
    assert feeds.http.get(f"{BASE}/journey/1/complete").status_code == 405
    assert feeds.http.get(f"{BASE}/journey/discardAll").status_code == 405
    assert feeds.http.post(f"{BASE}/journey/next").status_code == 405


def test_auth_required_everywhere(feeds: Feeds) -> None:
    feeds.emit("journey", 2)
    batch = feeds.batch()
    for auth in (None, "", "Bearer", "Bearer wrong", f"Basic {TOKEN}", TOKEN):
        headers = {} if auth is None else {"Authorization": auth}
        with httpx.Client(base_url=str(feeds.http.base_url), headers=headers) as anon:
            calls = [anon.get(f"{BASE}/journey/next"),
                     anon.post(f"{BASE}/journey/{batch['batchId']}/complete"),
                     anon.put(f"{BASE}/journey/discardAll"),
                     anon.post("/_control/feeds/journey/events",
                               json={"events": [{"eventType": "a:b"}]})]
        for r in calls:
            assert_problem(r, 401)
            assert "journey:test" not in r.text
    assert feeds.batch() == batch


def test_tenants_have_their_own_feeds(feeds: Feeds) -> None:
    b_ids = feeds.emit("journey", 2, tenant="tenant-b")
    assert feeds.next().status_code == 204
    assert feeds.next(**{"X-TENANT-ID": "tenant-a"}).status_code == 204
    batch = feeds.batch(**{"X-TENANT-ID": "tenant-b"})
    assert ids_of(batch) == b_ids
    assert {n["tenantId"] for n in batch["notifications"]} == {"tenant-b"}
    assert_problem(feeds.next(**{"X-TENANT-ID": "tenant-z"}), 403)
    a_ids = feeds.emit("journey", 1)  # no tenant: the default
    assert ids_of(feeds.batch()) == a_ids
    r = feeds.http.post("/_control/feeds/journey/events", headers={"X-TENANT-ID": "tenant-b"},
                        json={"events": [{"eventType": "journey:x", "payload": None}]})
    assert r.status_code == 201
    assert feeds.complete(batch["batchId"], **{"X-TENANT-ID": "tenant-b"}).status_code == 200
    assert ids_of(feeds.batch(**{"X-TENANT-ID": "tenant-b"})) == r.json()["ids"]


@pytest.mark.parametrize("body, status", [
    (b"not json", 400), (b"[]", 400), (b"{}", 400), (b'{"events": []}', 400),
    (b'{"events": [{"payload": 1}]}', 400), (b'{"events": [{"eventType": 5}]}', 400),
    (b'{"events": [1]}', 400), (b'{"events": [{"eventType": "a:b"}], "tenantId": "nope"}', 400),
])
def test_control_hook_validation(feeds: Feeds, body: bytes, status: int) -> None:
    r = feeds.http.post("/_control/feeds/journey/events", content=body,
                        headers={"Content-Type": "application/json"})
    assert_problem(r, status)
    assert feeds.next().status_code == 204


def test_control_hook_unknown_feed(feeds: Feeds) -> None:
    r = feeds.http.post("/_control/feeds/Journey/events", json={"events": [{"eventType": "a"}]})
    assert_problem(r, 404)


def test_state_survives_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "feeds.sqlite")
    with server(db_path=db) as feeds:
        emitted = feeds.emit("journey", 25)
        first = feeds.batch()
        assert feeds.complete(first["batchId"]).status_code == 200
        open_batch = feeds.batch()
    with server(db_path=db) as feeds:
        assert feeds.batch() == open_batch
        assert_problem(feeds.complete(first["batchId"]), 404)
        assert feeds.complete(open_batch["batchId"]).status_code == 200
        last = feeds.batch()
        assert ids_of(last) == emitted[20:]
        assert last["batchId"] not in (first["batchId"], open_batch["batchId"])


def test_openapi_paths() -> None:
    paths = openapi_document()["paths"]
    assert {f"{BASE}/{{feedId}}/next", f"{BASE}/{{feedId}}/{{batchId}}/complete",
            f"{BASE}/{{feedId}}/discardAll", "/_control/feeds/{feedId}/events"} <= paths.keys()


# -- faults: each one observable ---------------------------------------------------------------

def test_fault_names() -> None:
    assert {f.name for f in FAULTS} == {
        "fp-reordered-events", "fp-new-batch-id-on-reread", "fp-case-insensitive-feed-ids",
        "fp-404-without-problem", "fp-event-lost-on-complete", "fp-completed-events-return",
        "fp-eleven-event-batch", "fp-wrong-more-available", "fp-discard-all-noop", "fp-discard-all-feeds",
        "fp-stale-complete-advances", "fp-empty-batch-200", "fp-no-auth-check", "fp-tenant-leak",
        "fp-feeds-shared", "fp-problem-json-media-type", "fp-5xx-on-malformed",
        "fp-batch-not-immutable", "fp-tenant-unbound", "fp-reorder-every-other-read"}
    assert all(f.profile == "feed-polling" and f.description for f in FAULTS)


def test_fault_reordered_events() -> None:
    with server("fp-reordered-events") as feeds:
        ids = feeds.emit("journey", 3)
        assert ids_of(feeds.batch()) == ids[::-1]


def test_fault_new_batch_id_on_reread() -> None:
    with server("fp-new-batch-id-on-reread") as feeds:
        feeds.emit("journey", 2)
        a, b = feeds.batch(), feeds.batch()
        assert a["batchId"] != b["batchId"] and ids_of(a) == ids_of(b)


def test_fault_case_insensitive_feed_ids() -> None:
    with server("fp-case-insensitive-feed-ids") as feeds:
        assert feeds.next("Journey").status_code == 204


def test_fault_404_without_problem() -> None:
    with server("fp-404-without-problem") as feeds:
        r = feeds.next("Journey")
        assert r.status_code == 404
        assert not r.headers.get("content-type", "").startswith("application/problem+json")
        assert not r.text.startswith("{")


def test_fault_event_lost_on_complete() -> None:
    with server("fp-event-lost-on-complete") as feeds:
        ids = feeds.emit("journey", 12)
        assert feeds.complete(feeds.batch()["batchId"]).status_code == 200
        assert ids_of(feeds.batch()) == ids[11:]


def test_fault_completed_events_return() -> None:
    with server("fp-completed-events-return") as feeds:
        ids = feeds.emit("journey", 2)
        first = feeds.batch()
        assert feeds.complete(first["batchId"]).status_code == 200
        again = feeds.batch()
        assert ids_of(again) == ids and again["batchId"] != first["batchId"]


def test_fault_eleven_event_batch() -> None:
    with server("fp-eleven-event-batch") as feeds:
        feeds.emit("journey", 12)
        assert len(feeds.batch()["notifications"]) == 11


def test_fault_wrong_more_available() -> None:
    with server("fp-wrong-more-available") as feeds:
        feeds.emit("journey", 12)
        assert feeds.batch()["moreAvailable"] is False


def test_fault_discard_all_noop() -> None:
    with server("fp-discard-all-noop") as feeds:
        feeds.emit("journey", 2)
        assert feeds.discard().status_code == 200
        assert feeds.next().status_code == 200


def test_fault_discard_all_feeds() -> None:
    with server("fp-discard-all-feeds") as feeds:
        feeds.emit("journey", 2)
        assert feeds.discard("document").status_code == 200
        assert feeds.next("journey").status_code == 204


def test_fault_stale_complete_advances() -> None:
    with server("fp-stale-complete-advances") as feeds:
        ids = feeds.emit("journey", 12)
        feeds.batch()
        assert feeds.complete("1").status_code == 200
        assert ids_of(feeds.batch()) == ids[10:]


def test_fault_empty_batch_200() -> None:
    with server("fp-empty-batch-200") as feeds:
        body = feeds.batch()
        assert body["notifications"] == [] and body["moreAvailable"] is False


def test_fault_no_auth_check() -> None:
    with server("fp-no-auth-check") as feeds:
        feeds.emit("journey", 1)
        r = httpx.get(f"{feeds.http.base_url}{BASE}/journey/next")
        assert r.status_code == 200 and len(r.json()["notifications"]) == 1


def test_fault_tenant_leak() -> None:
    with server("fp-tenant-leak") as feeds:
        ids = feeds.emit("journey", 1, tenant="tenant-b")
        assert ids_of(feeds.batch(**{"X-TENANT-ID": "tenant-a"})) == ids


def test_fault_feeds_shared() -> None:
    with server("fp-feeds-shared") as feeds:
        ids = feeds.emit("journey", 1)
        assert ids_of(feeds.batch("document")) == ids


def test_fault_problem_json_media_type() -> None:
    with server("fp-problem-json-media-type") as feeds:
        r = feeds.next("Journey")
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
        assert r.json()["status"] == 404


def test_fault_5xx_on_malformed() -> None:
    with server("fp-5xx-on-malformed") as feeds:
        feeds.emit("journey", 1)
        feeds.batch()
        assert feeds.complete("not-a-number").status_code == 500
        assert feeds.next("x" * 5000).status_code == 500


def test_fault_batch_not_immutable() -> None:
    with server("fp-batch-not-immutable") as feeds:
        ids = feeds.emit("journey", 3)
        first = feeds.batch()
        ids += feeds.emit("journey", 2, start=3)
        again = feeds.batch()
        assert again["batchId"] == first["batchId"] and ids_of(again) == ids
