"""SQLite store behind the callbacks profile: executions, the run-id counter and the callback
deliveries that are still pending.

A delivery row is written when an execution ends with a callback subscription; it stays
``pending`` (with its attempt count and the wall-clock time the next attempt is due) until it is
``delivered`` or ``given_up``. With a database file the server resumes pending rows at start-up,
so a callback is not lost when the server restarts between two attempts. The body is rendered
once, when the execution ends, and stored: every attempt sends the same bytes.

Like reference_server.store, it is synchronous and used from the event loop thread only; each
public call is one short autocommit statement or transaction. The file is opened as the feed
store opens it (reference_server.store.open_database: created 0600, WAL mode, which lets the
two stores share it); the feed store's checkpointer thread copies the log into the file.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from reference_server.store import open_database

FIRST_RUN_ID = 1005000  # seed 003 shows run ids such as 1005016 and 2303535

_SCHEMA = """
CREATE TABLE IF NOT EXISTS callback_executions (
    run_id   INTEGER PRIMARY KEY,
    client   TEXT NOT NULL,
    record   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS callback_deliveries (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id    INTEGER NOT NULL,
    url       TEXT NOT NULL,
    headers   TEXT NOT NULL,
    body      TEXT NOT NULL,
    settings  TEXT NOT NULL,
    failed    INTEGER NOT NULL DEFAULT 0,
    due       REAL NOT NULL,
    state     TEXT NOT NULL DEFAULT 'pending'
);
CREATE INDEX IF NOT EXISTS callback_deliveries_pending ON callback_deliveries (state, due);
CREATE TABLE IF NOT EXISTS callback_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass
class Delivery:
    """One callback to send: where, what, under which retry settings, and how far it got."""

    id: int
    run_id: int
    url: str
    headers: list[tuple[str, str]]  # in request order, names and values exactly as submitted
    body: str
    settings: dict[str, Any]  # attempts, interval, mode, timeout at the time it was created
    failed: int  # failed attempts so far
    due: float  # time.time() of the next attempt


class CallbackStore:
    def __init__(self, path: str = ":memory:") -> None:
        self._conn, _ = open_database(path)
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        self._conn.close()

    # -- run ids and executions ----------------------------------------------------------------

    def next_run_id(self) -> int:
        """A run id never handed out before by this database."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            row = self._conn.execute(
                "SELECT value FROM callback_meta WHERE name = 'run_id'").fetchone()
            value = int(row[0]) + 1 if row else FIRST_RUN_ID
            self._conn.execute("INSERT INTO callback_meta (name, value) VALUES ('run_id', ?) "
                               "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (value,))
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return value

    def save_execution(self, run_id: int, client: str, record: dict[str, Any]) -> None:
        self._conn.execute(
            "INSERT INTO callback_executions (run_id, client, record) VALUES (?, ?, ?) "
            "ON CONFLICT(run_id) DO UPDATE SET record = excluded.record",
            (run_id, client, json.dumps(record)))

    def executions(self) -> list[tuple[int, str, dict[str, Any]]]:
        rows = self._conn.execute(
            "SELECT run_id, client, record FROM callback_executions ORDER BY run_id").fetchall()
        return [(int(r[0]), str(r[1]), json.loads(r[2])) for r in rows]

    # -- deliveries ----------------------------------------------------------------------------

    def add_delivery(self, run_id: int, url: str, headers: list[tuple[str, str]], body: str,
                     settings: dict[str, Any], due: float) -> Delivery:
        cur = self._conn.execute(
            "INSERT INTO callback_deliveries (run_id, url, headers, body, settings, due) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (run_id, url, json.dumps(headers), body, json.dumps(settings), due))
        assert cur.lastrowid is not None
        return Delivery(cur.lastrowid, run_id, url, headers, body, settings, 0, due)

    def reschedule(self, delivery: Delivery) -> None:
        """Record a failed attempt: the new failure count and when the next attempt is due."""
        self._conn.execute("UPDATE callback_deliveries SET failed = ?, due = ? WHERE id = ?",
                           (delivery.failed, delivery.due, delivery.id))

    def finish(self, delivery: Delivery, state: str) -> None:
        """``delivered`` or ``given_up``: the row is no longer resumed."""
        self._conn.execute("UPDATE callback_deliveries SET state = ?, failed = ? WHERE id = ?",
                           (state, delivery.failed, delivery.id))

    def pending(self) -> list[Delivery]:
        rows = self._conn.execute(
            "SELECT id, run_id, url, headers, body, settings, failed, due FROM callback_deliveries"
            " WHERE state = 'pending' ORDER BY due, id").fetchall()
        return [Delivery(int(r[0]), int(r[1]), str(r[2]),
                         [(str(n), str(v)) for n, v in json.loads(r[3])], str(r[4]),
                         json.loads(r[5]), int(r[6]), float(r[7])) for r in rows]
