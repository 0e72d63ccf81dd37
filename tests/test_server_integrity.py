"""The feed store's integrity: a private database file, and a control hook safe to retry."""
from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reference_server.app import start_in_thread
from tests import abuse
from reference_server.config import Limits, ServerConfig

TOKEN = "integrity-token"
EMIT = "/_control/feeds/journey/events"
NEXT = "/eventnotifications/v2/journey/next"
COMPLETE = "/eventnotifications/v2/journey"


def client_of(tmp_path: Path, **limits: Any) -> Iterator[httpx.Client]:
    running = start_in_thread(ServerConfig(tokens=(TOKEN,), db_path=str(tmp_path / "feeds.db"),
                                           limits=Limits(**limits)))
    try:
        with httpx.Client(base_url=running.base_url, timeout=5.0,
                          headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            yield client
    finally:
        running.stop()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    yield from client_of(tmp_path)


def events(*marks: int) -> dict[str, Any]:
    return {"events": [{"eventType": "t", "payload": {"mark": m}} for m in marks]}


def test_the_database_file_is_private(tmp_path: Path) -> None:
    """The database, and while the server runs its write-ahead log and shared-memory file."""
    old = os.umask(0o022)
    try:
        for client in client_of(tmp_path):
            assert client.post(EMIT, json=events(1)).status_code == 201
            for name in ("feeds.db-wal", "feeds.db-shm"):
                mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
                assert mode == 0o600, (name, oct(mode))
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "feeds.db").stat().st_mode)
    assert mode == 0o600, oct(mode)


def test_a_killed_server_loses_nothing_and_redelivers_nothing(tmp_path: Path) -> None:
    """kill -9 (no shutdown, no final checkpoint), then a new server on the same file: every
    answered emit is there, completed batches stay gone, the open batch is unchanged."""
    db = str(tmp_path / "feeds.db")
    auth = {"Authorization": f"Bearer {abuse.TOKEN}"}
    with abuse.served(tmp_path, db=db) as server:
        with httpx.Client(base_url=server.base, headers=auth, timeout=10.0) as client:
            emitted: list[str] = []
            for n in range(30):  # 30 commits of 10 events
                r = client.post(EMIT, json=events(*range(10 * n, 10 * n + 10)))
                assert r.status_code == 201, r.text
                emitted += r.json()["ids"]
            delivered: list[str] = []
            for _ in range(12):
                batch = client.get(NEXT).json()
                delivered += [e["id"] for e in batch["notifications"]]
                assert client.post(f"{COMPLETE}/{batch['batchId']}/complete").status_code == 200
            open_batch = client.get(NEXT).json()
        server.proc.kill()  # SIGKILL
        server.proc.wait(10)
    with abuse.served(tmp_path, db=db) as server:
        with httpx.Client(base_url=server.base, headers=auth, timeout=10.0) as client:
            assert client.get(NEXT).json() == open_batch
            while (r := client.get(NEXT)).status_code == 200:
                batch = r.json()
                delivered += [e["id"] for e in batch["notifications"]]
                assert client.post(f"{COMPLETE}/{batch['batchId']}/complete").status_code == 200
            assert r.status_code == 204
    assert delivered == emitted


def test_a_retried_emit_answers_the_first_ids_and_stores_nothing(client: httpx.Client) -> None:
    key = {"Idempotency-Key": "emit-1"}
    first = client.post(EMIT, json=events(1, 2), headers=key)
    again = client.post(EMIT, json=events(1, 2), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    batch = client.get(NEXT).json()
    assert [n["id"] for n in batch["notifications"]] == first.json()["ids"]


def test_a_key_reused_for_other_events_is_422(client: httpx.Client) -> None:
    key = {"Idempotency-Key": "emit-2"}
    assert client.post(EMIT, json=events(1), headers=key).status_code == 201
    r = client.post(EMIT, json=events(9), headers=key)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert len(client.get(NEXT).json()["notifications"]) == 1


def test_keys_are_per_tenant_and_malformed_keys_are_400(client: httpx.Client) -> None:
    key = {"Idempotency-Key": "emit-3"}
    a = client.post(EMIT, json=events(1), headers=key)
    b = client.post(EMIT, json=events(1), headers={**key, "X-TENANT-ID": "tenant-b"})
    assert a.status_code == b.status_code == 201 and a.json() != b.json()
    assert client.post(EMIT, json=events(1), headers={"Idempotency-Key": "x" * 256}).status_code == 400


def test_keys_survive_a_restart_and_only_the_newest_are_kept(tmp_path: Path) -> None:
    answers = {}
    for client in client_of(tmp_path, idempotency_keys=2):
        for n in range(3):
            r = client.post(EMIT, json=events(n), headers={"Idempotency-Key": f"k{n}"})
            answers[n] = r.json()["ids"]
    for client in client_of(tmp_path, idempotency_keys=2):  # the same file, a new server
        newest = client.post(EMIT, json=events(2), headers={"Idempotency-Key": "k2"})
        assert newest.json()["ids"] == answers[2]
        oldest = client.post(EMIT, json=events(0), headers={"Idempotency-Key": "k0"})
        assert oldest.status_code == 201 and oldest.json()["ids"] != answers[0]  # forgotten
