"""SQLite store behind the feed-polling profile: per tenant and feed, a FIFO queue of events.

An event is ``pending`` until its batch is completed (``completed``) or the feed is discarded
(``archived``). A pending event with a ``batch_id`` belongs to the feed's open batch; at most one
batch per feed is open, and the events say which: there is no table of batches. Batch contents
are fixed when the batch is formed (immutability). Batch ids come from a millisecond-ish counter
whose ceiling is persisted a block ahead (:data:`BATCH_ID_BLOCK`), so they stay unique across
restarts while forming a batch rarely writes the counter.

The store is synchronous and meant to be used from the server's event loop thread only, so a read
followed by a write sees no other writer in between. Each call a fault-free server makes is one
transaction: complete and discardAll a single UPDATE; next its reads and, when it forms a batch, one
UPDATE; an emit its events and idempotency key. One partial index holds the pending events only, so
what a drain writes per batch is a few pages of the log. A database file runs in WAL mode with
synchronous=NORMAL: a commit appends to the write-ahead log and syncs nothing, so it costs little
more than the in-memory store; a committed transaction survives the process being killed (kill -9),
not a power cut. The fsyncs happen when the log is copied into the database (a checkpoint), and that
runs in a thread of its own (:class:`_Checkpointer`), never on the event loop. The database file is
created readable by its owner only (0600; SQLite gives its log and shared-memory file the same
mode). Control-hook idempotency keys are stored with the ids they answered, in the same transaction
as the events, the newest ``idempotency_keys`` kept.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

FEED_IDS: tuple[str, ...] = ("journey", "entitydata", "document", "screening", "digitalidv",
                             "association")
SHARED = "*"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_key     TEXT NOT NULL,
    feed_key       TEXT NOT NULL,
    id             TEXT NOT NULL UNIQUE,
    event_type     TEXT NOT NULL,
    occurred       TEXT NOT NULL,
    tenant_id      TEXT NOT NULL,
    causation_id   TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    relative_url   TEXT NOT NULL,
    payload        TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'pending',
    batch_id       TEXT
);
CREATE INDEX IF NOT EXISTS events_pending ON events (tenant_key, feed_key, batch_id, seq)
    WHERE state = 'pending';
-- a file of an earlier layout: its open batch is found from its events just the same
DROP INDEX IF EXISTS events_queue;
DROP INDEX IF EXISTS events_batch;
DROP TABLE IF EXISTS batches;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    n           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    ids         TEXT NOT NULL,
    UNIQUE (tenant_id, key)
);
"""

CHECKPOINT_INTERVAL = 0.25  # seconds between two checkpoints while writes go on
WAL_PAGES_LIMIT = 10_000  # the loop's connection checkpoints itself only past this (~40 MB)

BATCH_ID_BLOCK = 60_000  # ids (ms) handed out per write of the persisted ceiling: a minute's

# a notification's JSON text, encoded by SQLite (the payload is stored as JSON text already)
_NOTIFICATION = ("json_object('id', id, 'eventType', event_type, 'when', occurred, 'tenantId', "
                 "tenant_id, 'causationId', causation_id, 'correlationId', correlation_id, "
                 "'relativeUrl', relative_url, 'payload', json(payload)) AS notification")
_PENDING = "tenant_key = ? AND feed_key = ? AND state = 'pending'"  # what events_pending indexes


def open_database(path: str) -> tuple[sqlite3.Connection, bool]:
    """An autocommit connection, and whether ``path`` is a file (else an in-memory database).

    A file is created 0600 before SQLite opens it, and runs in WAL mode with synchronous=NORMAL;
    this connection checkpoints by itself only once the log passes WAL_PAGES_LIMIT pages.
    """
    if path != ":memory:" and not path.startswith("file:"):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))  # before SQLite creates it
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    for leftover in (path + "-journal", path + "-wal", path + "-shm"):
        with contextlib.suppress(OSError):  # absent, or not ours to change
            os.chmod(leftover, 0o600)
    (mode,) = conn.execute("PRAGMA journal_mode=WAL").fetchone()
    if mode != "wal":  # an in-memory database keeps its memory journal
        return conn, False
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES_LIMIT}")
    return conn, True


@dataclass(frozen=True)
class NewEvent:
    """What the control hook asks for; the store fills in the rest."""

    event_type: str
    payload: Any


class KeyReused(Exception):
    """The idempotency key was first used for a different request."""


@dataclass(frozen=True)
class Batch:
    batch_id: str
    notifications: list[str]  # each one's JSON text, oldest first
    more_available: bool
    fresh: bool  # formed by this call rather than re-read


class FeedStore:
    """Feeds of all tenants in one SQLite database.

    ``share_tenants`` / ``share_feeds`` collapse the storage keys so that every tenant (or every
    feed of a tenant) uses one queue; they exist only for the faults fp-tenant-leak and
    fp-feeds-shared.
    """

    def __init__(self, path: str = ":memory:", *, share_tenants: bool = False,
                 share_feeds: bool = False, idempotency_keys: int = 10_000) -> None:
        self._conn, in_file = open_database(path)
        self._idempotency_keys = idempotency_keys
        self._conn.row_factory = sqlite3.Row
        self._share_tenants = share_tenants
        self._share_feeds = share_feeds
        self._checkpointer = _Checkpointer(path) if in_file else None
        self._conn.executescript(_SCHEMA)
        self._load_batch_id_ceiling()

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._conn.close()  # the last connection: SQLite checkpoints and removes the log

    # -- helpers -----------------------------------------------------------------------------

    def _key(self, tenant: str, feed: str) -> tuple[str, str]:
        if self._share_tenants:  # fp-tenant-leak
            tenant = SHARED
        if self._share_feeds:  # fp-feeds-shared
            feed = SHARED
        return tenant, feed

    def _tx(self, begin: str = "BEGIN IMMEDIATE") -> "_Transaction":
        return _Transaction(self._conn, self._checkpointer, begin)

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        """One statement, its own transaction outside _tx (autocommit); the rows it changed."""
        changed = int(self._conn.execute(sql, params).rowcount)
        if self._checkpointer is not None:
            self._checkpointer.due()
        return changed

    def _load_batch_id_ceiling(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE name = 'batch_id'").fetchone()
        self._batch_id_ceiling = self._last_batch_id = int(row["value"]) if row else 0

    def _next_batch_id(self) -> str:
        """A new batch id, above every id handed out before, also before a restart: the
        persisted ceiling is raised (in the caller's transaction) before an id passes it."""
        value = max(int(time.time() * 1000), self._last_batch_id + 1)
        if value > self._batch_id_ceiling:
            ceiling = value + BATCH_ID_BLOCK
            self._write("INSERT INTO meta (name, value) VALUES ('batch_id', ?) "
                        "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (ceiling,))
            self._batch_id_ceiling = ceiling
        self._last_batch_id = value
        return str(value)

    def _open_batch_id(self, key: tuple[str, str]) -> str | None:
        row = self._conn.execute(f"SELECT batch_id FROM events WHERE {_PENDING} "
                                 "AND batch_id IS NOT NULL LIMIT 1", key).fetchone()
        return str(row["batch_id"]) if row else None

    def _unbatched(self, key: tuple[str, str], limit: int) -> list[sqlite3.Row]:
        """The oldest ``limit`` pending events in no batch, oldest first."""
        return self._conn.execute(f"SELECT seq, {_NOTIFICATION} FROM events WHERE {_PENDING} "
                                  "AND batch_id IS NULL ORDER BY seq LIMIT ?",
                                  (*key, limit)).fetchall()

    def _assign(self, key: tuple[str, str], batch_id: str, rows: list[sqlite3.Row]) -> None:
        """Put ``rows`` (the oldest events in no batch, as _unbatched gave them) in the batch:
        one UPDATE."""
        if rows:
            self._write(f"UPDATE events SET batch_id = ? WHERE {_PENDING} AND batch_id IS NULL "
                        "AND seq <= ?", (batch_id, *key, rows[-1]["seq"]))

    def _reread(self, key: tuple[str, str]) -> Batch | None:
        """The open batch as it was formed, or None when no batch is open."""
        rows = self._conn.execute(f"SELECT batch_id, {_NOTIFICATION} FROM events WHERE {_PENDING} "
                                  "AND batch_id IS NOT NULL ORDER BY batch_id, seq",
                                  key).fetchall()
        if not rows:
            return None
        more = bool(self._unbatched(key, 1))
        return Batch(rows[0]["batch_id"], [r["notification"] for r in rows], more, fresh=False)

    # -- public API --------------------------------------------------------------------------

    def add_events(self, tenant: str, feed: str, events: list[NewEvent],
                   idempotency_key: str | None = None) -> list[str]:
        """Append events in order; returns their ids.

        With ``idempotency_key``: a repeat of the tenant's key returns the first call's ids and
        stores nothing; the key used before for other events raises KeyReused.
        """
        key = self._key(tenant, feed)
        fingerprint = _fingerprint(feed, events) if idempotency_key is not None else ""
        ids: list[str] = []
        with self._tx():
            if idempotency_key is not None:
                row = self._conn.execute(
                    "SELECT fingerprint, ids FROM idempotency WHERE tenant_id = ? AND key = ?",
                    (tenant, idempotency_key)).fetchone()
                if row is not None:
                    if row["fingerprint"] != fingerprint:
                        raise KeyReused(idempotency_key)
                    first: list[str] = json.loads(row["ids"])
                    return first
            for event in events:
                event_id = str(uuid.uuid4())
                self._conn.execute(
                    "INSERT INTO events (tenant_key, feed_key, id, event_type, occurred, tenant_id,"
                    " causation_id, correlation_id, relative_url, payload)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*key, event_id, event.event_type, datetime.now(timezone.utc).isoformat(),
                     tenant, str(uuid.uuid4()), str(uuid.uuid4()),
                     f"{feed}query/api/{feed}/{event_id}",
                     json.dumps(event.payload, allow_nan=False)))
                ids.append(event_id)
            if idempotency_key is not None:
                self._remember(tenant, idempotency_key, fingerprint, ids)
        return ids

    def _remember(self, tenant: str, idempotency_key: str, fingerprint: str,
                  ids: list[str]) -> None:
        self._conn.execute("INSERT INTO idempotency (tenant_id, key, fingerprint, ids) "
                           "VALUES (?, ?, ?, ?)", (tenant, idempotency_key, fingerprint,
                                                    json.dumps(ids)))
        self._conn.execute("DELETE FROM idempotency WHERE n <= "
                           "(SELECT MAX(n) FROM idempotency) - ?", (self._idempotency_keys,))

    def next_batch(self, tenant: str, feed: str, max_size: int) -> Batch | None:
        """The open batch, or a new one of the oldest ``max_size`` pending events, or None.

        One transaction (a file's locks taken once, not per statement): re-reading the open
        batch writes nothing; forming one is one UPDATE that names the batch on its events (and
        now and then raises the batch id ceiling)."""
        key = self._key(tenant, feed)
        with self._tx("BEGIN"):  # deferred: a write lock only when a batch is formed
            batch = self._reread(key)
            if batch is not None:
                return batch
            rows = self._unbatched(key, max_size + 1)  # one more: whether more are available
            if not rows:
                return None
            more, rows = len(rows) > max_size, rows[:max_size]
            batch_id = self._next_batch_id()
            self._assign(key, batch_id, rows)
        return Batch(batch_id, [r["notification"] for r in rows], more, fresh=True)

    def new_batch_id(self) -> str:
        """A fresh batch id that names no batch (fp-empty-batch-200)."""
        return self._next_batch_id()

    def open_batch_id(self, tenant: str, feed: str) -> str | None:
        return self._open_batch_id(self._key(tenant, feed))

    def complete(self, tenant: str, feed: str, batch_id: str) -> bool:
        """Complete the open batch ``batch_id``: its events are gone. False changes nothing."""
        return self._write(f"UPDATE events SET state = 'completed' WHERE {_PENDING} "
                           "AND batch_id = ?", (*self._key(tenant, feed), batch_id)) > 0

    def release(self, tenant: str, feed: str, batch_id: str) -> bool:
        """Close the open batch but put its events back in the queue (fp-completed-events-return)."""
        return self._write(f"UPDATE events SET batch_id = NULL WHERE {_PENDING} "
                           "AND batch_id = ?", (*self._key(tenant, feed), batch_id)) > 0

    def drop_oldest_pending(self, tenant: str, feed: str) -> None:
        """Silently mark the oldest unbatched event completed (fp-event-lost-on-complete)."""
        for row in self._unbatched(self._key(tenant, feed), 1):
            self._write("UPDATE events SET state = 'completed' WHERE seq = ?", (row["seq"],))

    def renumber_open_batch(self, tenant: str, feed: str) -> Batch | None:
        """Give the open batch a new id (fp-new-batch-id-on-reread)."""
        key = self._key(tenant, feed)
        old = self._open_batch_id(key)
        if old is None:
            return None
        self._write(f"UPDATE events SET batch_id = ? WHERE {_PENDING} AND batch_id = ?",
                    (self._next_batch_id(), *key, old))
        return self._reread(key)

    def top_up_open_batch(self, tenant: str, feed: str, max_size: int) -> None:
        """Add newer pending events to the open batch while it has room (fp-batch-not-immutable)."""
        key = self._key(tenant, feed)
        batch_id = self._open_batch_id(key)
        if batch_id is None:
            return
        (size,) = self._conn.execute(f"SELECT COUNT(*) FROM events WHERE {_PENDING} "
                                     "AND batch_id = ?", (*key, batch_id)).fetchone()
        if size < max_size:
            self._assign(key, batch_id, self._unbatched(key, max_size - size))

    def discard_all(self, tenant: str, feed: str) -> int:
        """Archive every pending event, the open batch's too; returns how many were archived."""
        return self._write(f"UPDATE events SET state = 'archived' WHERE {_PENDING}",
                           self._key(tenant, feed))


class _Transaction:
    """BEGIN [IMMEDIATE] ... COMMIT/ROLLBACK around one public call (autocommit connection)."""

    def __init__(self, conn: sqlite3.Connection, checkpointer: "_Checkpointer | None",
                 begin: str) -> None:
        self._conn = conn
        self._checkpointer = checkpointer
        self._begin = begin

    def __enter__(self) -> None:
        self._conn.execute(self._begin)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
        if self._checkpointer is not None and exc_type is None:
            self._checkpointer.due()


class _Checkpointer:
    """Copies the write-ahead log into the database file from a thread with its own connection.

    A PASSIVE checkpoint neither waits for nor blocks the event loop's writer; at most one runs
    per CHECKPOINT_INTERVAL, so a burst of commits shares one checkpoint (and its two fsyncs).
    """

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._due = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed-store-checkpoints",
                                        daemon=True)
        self._thread.start()

    def due(self) -> None:
        """A transaction was committed: checkpoint soon."""
        self._due.set()

    def _run(self) -> None:
        while True:
            self._due.wait()
            if self._closing.is_set():
                return
            self._due.clear()
            with contextlib.suppress(sqlite3.Error):  # busy or failing: the next one catches up
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            if self._closing.wait(CHECKPOINT_INTERVAL):
                return

    def close(self) -> None:
        self._closing.set()
        self._due.set()
        self._thread.join()
        self._conn.close()


def _fingerprint(feed: str, events: list[NewEvent]) -> str:
    canonical = json.dumps([feed, [[e.event_type, e.payload] for e in events]], sort_keys=True,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()

