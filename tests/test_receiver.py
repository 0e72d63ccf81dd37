"""The harness receiver on real loopback sockets: what it records, how it answers, its bounds."""
from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from aiohttp import web

from harness.evidence import REDACTED, Redactor
from harness.transport import receiver as receiver_module
from harness.transport.receiver import Answer, Delivery, Receiver
from harness.transport.serving import serve_in_thread


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rec:
        yield rec


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as c:
        yield c


def raw_socket(url: str) -> socket.socket:
    host, port = httpx.URL(url).host, httpx.URL(url).port
    assert port is not None
    return socket.create_connection((host, port), timeout=5)


# -- what is recorded -------------------------------------------------------------------------

def test_delivery_keeps_method_path_query_headers_and_body_as_sent(receiver: Receiver,
                                                                    client: httpx.Client) -> None:
    inbox = receiver.inbox("records")
    sent = time.monotonic()
    r = client.put(inbox.url + "/progress?seq=1&x=%20y", content=b'{"jobId": "j1"}',
                   headers={"X-Mixed-CASE": "one", "x-mixed-case": "two", "Content-Type": "application/json"})
    assert r.status_code == 200
    client.get(inbox.url)
    first, second = inbox.deliveries()
    assert sent <= first.at <= second.at <= time.monotonic()
    assert (first.method, first.path, first.query) == ("PUT", "/progress", "seq=1&x=%20y")
    names = [k for k, _ in first.headers]
    assert names.index("X-Mixed-CASE") < names.index("x-mixed-case")  # case and order kept
    assert first.header("X-MIXED-case") == "one"
    assert first.header("absent") is None
    assert first.json() == {"jobId": "j1"}
    assert (first.size, first.truncated, first.answer) == (15, False, "200")
    assert (second.method, second.path, second.body) == ("GET", "", b"")
    assert inbox.deliveries("/progress") == [first]
    assert inbox.deliveries("/progress/") == []  # the path filter is exact


def test_every_inbox_has_its_own_unguessable_path(receiver: Receiver, client: httpx.Client) -> None:
    a, b = receiver.inbox("a"), receiver.inbox("b")
    token = a.url.rsplit("/", 1)[1]
    assert a.url != b.url and len(token) >= 24 and a.url.startswith(receiver.base_url + "/")
    client.post(a.url, content=b"for a")
    assert [d.body for d in a.deliveries()] == [b"for a"] and b.deliveries() == []


def test_json_is_strict() -> None:
    def delivery(body: bytes) -> Delivery:
        return Delivery(0.0, "POST", "", "", (), body, len(body), False, "200")
    assert delivery(b'{"p": 1.5}').json() == {"p": 1.5}
    for bad in (b'{"p": NaN}', b"[Infinity]", b"{", b"\xff"):
        with pytest.raises(ValueError):
            delivery(bad).json()


def test_as_evidence_redacts_headers_known_secrets_and_the_token(receiver: Receiver,
                                                                client: httpx.Client) -> None:
    inbox = receiver.inbox()
    red = Redactor(["s3cr3t-value"])
    red.add(inbox.token)  # what an executor does when it hands the URL to a target
    since = time.monotonic()
    client.post(inbox.url + f"/result?k={inbox.token}", json={"note": "s3cr3t-value", "token": "t"},
                headers={"Authorization": "Bearer abc", "Webhook-Signature": "v1,xyz"})
    (d,) = inbox.deliveries()
    ev = d.as_evidence(red, since)
    assert 0 <= ev["at"] < 5 and ev["method"] == "POST" and ev["path"] == "/result"
    assert ev["headers"]["Authorization"] == REDACTED and ev["headers"]["Webhook-Signature"] == REDACTED
    assert ev["body"] == {"note": REDACTED, "token": REDACTED}
    assert inbox.token not in json.dumps(ev) and ev["query"] == f"k={REDACTED}"
    assert (ev["size"], ev["truncated"], ev["answer"]) == (d.size, False, "200")


# -- how it answers ---------------------------------------------------------------------------

def test_scripted_answers_in_order_then_200(receiver: Receiver, client: httpx.Client) -> None:
    inbox = receiver.inbox()
    inbox.script([Answer(500), Answer(503, body=b"busy", headers=(("Retry-After", "2"),))])
    inbox.script([Answer(410)], path="/result")
    statuses = [client.post(inbox.url + p).status_code for p in ("/result", "", "/progress", "", "")]
    assert statuses == [410, 500, 503, 200, 200]
    assert [d.answer for d in inbox.deliveries()] == ["410", "500", "503", "200", "200"]


def test_answer_headers_and_body_reach_the_target(receiver: Receiver, client: httpx.Client) -> None:
    inbox = receiver.inbox()
    inbox.script([Answer(429, body=b"slow down", headers=(("Retry-After", "7"),))])
    r = client.post(inbox.url)
    assert (r.status_code, r.headers["retry-after"], r.content) == (429, "7", b"slow down")


def test_delay_past_the_targets_timeout_is_a_timeout(receiver: Receiver) -> None:
    inbox = receiver.inbox()
    inbox.script([Answer(200, delay=1.0)])
    with httpx.Client(timeout=0.3) as slow, pytest.raises(httpx.TimeoutException):
        slow.post(inbox.url, content=b"x")
    (d,) = inbox.deliveries()  # recorded on arrival, before the answer
    assert d.answer == "200 after 1s"


def test_close_without_answer_is_a_connection_error(receiver: Receiver, client: httpx.Client) -> None:
    inbox = receiver.inbox()
    inbox.script([Answer(close=True)])
    with pytest.raises(httpx.TransportError) as caught:
        client.post(inbox.url, content=b"x")
    assert not isinstance(caught.value, httpx.TimeoutException)
    assert client.post(inbox.url).status_code == 200  # the next one is answered
    assert [d.answer for d in inbox.deliveries()] == ["closed", "200"]


def test_unknown_path_is_404_and_kept_as_stray(receiver: Receiver, client: httpx.Client) -> None:
    inbox = receiver.inbox()
    assert client.post(receiver.base_url + "/not-a-token/progress", content=b"lost").status_code == 404
    assert client.get(receiver.base_url + "/").status_code == 404
    assert inbox.deliveries() == []
    first, second = receiver.strays()
    assert (first.path, first.body, first.answer) == ("/not-a-token/progress", b"lost", "404 unknown path")
    assert second.path == "/"


def test_closed_inbox_answers_404_and_keeps_strays_bounded(receiver: Receiver,
                                                          client: httpx.Client) -> None:
    inbox = receiver.inbox()
    client.post(inbox.url)
    inbox.close()
    assert client.post(inbox.url + "/late").status_code == 404
    assert len(inbox.deliveries()) == 1
    assert receiver.strays()[-1].answer == "404 closed inbox"
    for _ in range(receiver_module.MAX_STRAYS + 5):
        client.get(receiver.base_url + "/x")
    assert len(receiver.strays()) == receiver_module.MAX_STRAYS
    assert receiver.stray_count == receiver_module.MAX_STRAYS + 6


# -- waiting for deliveries -------------------------------------------------------------------

async def _post_later(url: str, delay: float, n: int = 1) -> None:
    await asyncio.sleep(delay)
    async with httpx.AsyncClient(timeout=5) as c:
        for _ in range(n):
            await c.post(url)


async def test_expect_returns_as_soon_as_enough_arrived(receiver: Receiver) -> None:
    inbox = receiver.inbox()
    sender = asyncio.create_task(_post_later(inbox.url + "/progress", 0.2, 2))
    started = time.monotonic()
    got = await inbox.expect(2, within=10, path="/progress")
    assert len(got) == 2 and time.monotonic() - started < 5
    await sender


async def test_expect_ends_on_time_when_too_few_arrive(receiver: Receiver) -> None:
    inbox = receiver.inbox()
    await _post_later(inbox.url, 0)
    started = time.monotonic()
    got = await inbox.expect(3, within=0.5)
    elapsed = time.monotonic() - started
    assert len(got) == 1 and 0.5 <= elapsed < 1.5


def test_expect_from_other_threads_and_loops(receiver: Receiver, client: httpx.Client) -> None:
    inboxes = [receiver.inbox(str(i)) for i in range(3)]
    results: dict[int, int] = {}

    def scenario(i: int) -> None:  # each scenario runs under its own asyncio.run
        results[i] = len(asyncio.run(inboxes[i].expect(i + 1, within=10)))

    threads = [threading.Thread(target=scenario, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for i, inbox in enumerate(inboxes):
        for _ in range(i + 1):
            client.post(inbox.url)
    for t in threads:
        t.join(15)
    assert results == {0: 1, 1: 2, 2: 3}


async def test_quiet_waits_the_whole_time_and_reports_arrivals(receiver: Receiver) -> None:
    inbox = receiver.inbox()
    await _post_later(inbox.url, 0)  # before: not reported
    sender = asyncio.create_task(_post_later(inbox.url + "/progress", 0.1))
    started = time.monotonic()
    got = await inbox.quiet(0.6)
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 1.6
    assert [d.path for d in got] == ["/progress"] and len(inbox.deliveries()) == 2
    assert await inbox.quiet(0.1, path="/other") == []
    await sender


# -- bounds -----------------------------------------------------------------------------------

def test_body_is_capped_and_marked_truncated(client: httpx.Client) -> None:
    with Receiver(max_body=1000) as rec:
        inbox = rec.inbox()
        client.post(inbox.url, content=b"a" * 1000)
        client.post(inbox.url, content=b"{" + b"b" * 4999)
        whole, cut = inbox.deliveries()
    assert (len(whole.body), whole.size, whole.truncated) == (1000, 1000, False)
    assert (len(cut.body), cut.size, cut.truncated, cut.answer) == (1000, 5000, True, "200")
    with pytest.raises(ValueError, match="truncated"):
        cut.json()


def test_body_over_the_hard_cap_closes_the_connection(monkeypatch: pytest.MonkeyPatch,
                                                       client: httpx.Client) -> None:
    monkeypatch.setattr(receiver_module, "HARD_CAP", 100_000)
    with Receiver(max_body=100) as rec:
        inbox = rec.inbox()
        with pytest.raises(httpx.TransportError):
            client.post(inbox.url, content=b"z" * 1_000_000)
        (d,) = inbox.deliveries()
    assert d.size > 100_000 and d.size < 1_000_000 and len(d.body) == 100 and d.truncated
    assert d.answer == "closed: body over 100000 bytes"


def test_deliveries_past_the_cap_are_answered_and_counted(client: httpx.Client) -> None:
    with Receiver(max_deliveries=5) as rec:
        inbox = rec.inbox()
        assert {client.post(inbox.url).status_code for _ in range(8)} == {200}
        assert len(inbox.deliveries()) == 5 and inbox.overflow == 3


async def test_a_thousand_concurrent_deliveries_are_all_recorded(receiver: Receiver) -> None:
    inbox = receiver.inbox()
    # ten clients of 100 connections each: all 1000 in flight at once (one client would queue
    # them in its own pool, and an httpx pool slows down with a long queue)
    clients = [httpx.AsyncClient(timeout=30) for _ in range(10)]
    try:
        answers = await asyncio.gather(*(clients[n % 10].post(inbox.url, json={"n": n})
                                         for n in range(1000)))
    finally:
        for c in clients:
            await c.aclose()
    assert {r.status_code for r in answers} == {200}
    got = inbox.deliveries()
    assert sorted(d.json()["n"] for d in got) == list(range(1000))
    assert [d.at for d in got] == sorted(d.at for d in got)  # arrival order


def test_slowloris_does_not_block_another_delivery_and_is_cut_off(client: httpx.Client) -> None:
    with Receiver(read_timeout=0.5) as rec:
        inbox = rec.inbox()
        slow_headers = raw_socket(rec.base_url)
        slow_headers.sendall(f"POST /{inbox.token} HTTP/1.1\r\nHost: x\r\n".encode())
        slow_body = raw_socket(rec.base_url)
        slow_body.sendall(f"POST /{inbox.token}/body HTTP/1.1\r\nHost: x\r\n"
                          "Content-Length: 100\r\n\r\n0123456789".encode())
        kept = raw_socket(rec.base_url)  # one request, then a trickle of the next one's headers
        kept.sendall(f"GET /{inbox.token}/kept HTTP/1.1\r\nHost: x\r\n\r\nGET /".encode())
        started = time.monotonic()
        assert client.post(inbox.url + "/fast", content=b"ok").status_code == 200
        assert time.monotonic() - started < 0.4  # well before any slow sender is cut off
        assert kept.recv(1024).startswith(b"HTTP/1.1 200")
        for sock in (slow_headers, slow_body, kept):  # cut off with no (further) answer
            with sock:
                assert sock.recv(1024) == b""
        assert time.monotonic() - started < 4  # read_timeout 0.5 s, then a sweep
        (cut,) = inbox.deliveries("/body")
    assert (cut.body, cut.size, cut.truncated) == (b"0123456789", 10, True)
    assert cut.answer == "closed: body not complete within 0.5s"
    assert sorted(d.path for d in inbox.deliveries()) == ["/body", "/fast", "/kept"]


def test_the_sweep_alone_cuts_off_a_new_connection_that_sends_no_request() -> None:
    """Without aiohttp's keep-alive timer (aiohttp < 3.14 starts none on a new connection)."""
    async def ok(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()
    served = serve_in_thread(ok, "127.0.0.1", 0, idle_timeout=0.5, name="sweep-test",
                             keepalive_timeout=0)
    try:
        with raw_socket(served.url) as silent, raw_socket(served.url) as trickle:
            started = time.monotonic()
            trickle.sendall(b"GET / HTTP/1.1\r\n")
            for sock in (silent, trickle):
                assert sock.recv(1024) == b""
            assert 0.5 <= time.monotonic() - started < 4
    finally:
        served.stop()


def test_expect_100_continue_is_honoured(receiver: Receiver) -> None:
    inbox = receiver.inbox()
    with raw_socket(receiver.base_url) as sock:
        sock.sendall(f"POST /{inbox.token} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                     "Expect: 100-continue\r\n\r\n".encode())
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"hi")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")
    assert inbox.deliveries()[0].body == b"hi"


# -- addresses --------------------------------------------------------------------------------

def test_public_url_is_the_base_of_every_inbox(client: httpx.Client) -> None:
    with Receiver(public_url="https://hooks.example.test/recv/") as rec:
        assert rec.base_url == "https://hooks.example.test/recv"
        inbox = rec.inbox()
        assert inbox.url == f"https://hooks.example.test/recv/{inbox.token}"
        local = rec._served.url if rec._served else ""
        client.post(f"{local}/recv/{inbox.token}/progress")  # a proxy that keeps the prefix
        client.post(f"{local}/{inbox.token}/result")  # one that strips it
        assert [d.path for d in inbox.deliveries()] == ["/progress", "/result"]


def test_bind_to_port_zero_takes_a_free_port_and_a_taken_port_raises() -> None:
    with Receiver("127.0.0.1:0") as rec:
        port = httpx.URL(rec.base_url).port
        assert port and port > 0
        assert httpx.get(rec.base_url + "/x").status_code == 404
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            Receiver(f"127.0.0.1:{port}").start()
    with pytest.raises(ValueError):
        Receiver("localhost")
