"""The feed store on a real SQLite file: what a drained batch writes to the log, the log copied
into the file, batch ids across a restart, and a file of the earlier layout (a table of batches)
opened by this one."""
from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reference_server.store import BATCH_ID_BLOCK, CHECKPOINT_INTERVAL, FeedStore, NewEvent

PAGE = 4096
FRAME_HEADER = 24
WAL_HEADER = 32


def events(n: int) -> list[NewEvent]:
    return [NewEvent("journey:test", {"i": i, "pad": "x" * 32}) for i in range(n)]


@contextmanager
def store_at(path: Path) -> Iterator[FeedStore]:
    store = FeedStore(str(path))
    try:
        yield store
    finally:
        store.close()


def frames(path: Path) -> int:
    return (os.path.getsize(f"{path}-wal") - WAL_HEADER) // (PAGE + FRAME_HEADER)


def test_a_drained_batch_writes_a_few_pages_of_the_log(tmp_path: Path) -> None:
    """Forming a batch and completing it write about 7 pages (frames) of the write-ahead log
    between them, at most 9 on average over ten batches (the earlier layout, with a table of
    batches and two more indexes, wrote 13): with synchronous=NORMAL a frame is a write on the
    event loop, what a file store costs per request beyond the in-memory one."""
    path = tmp_path / "feeds.db"
    with store_at(path) as store:
        store.add_events("t", "journey", events(200))
        store.add_events("t", "entitydata", events(50))
        reader = sqlite3.connect(path)  # a read transaction: the log keeps growing, never restarts
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM events").fetchone()
        try:
            written = []
            for _ in range(10):
                before = frames(path)
                batch = store.next_batch("t", "journey", 10)
                assert batch is not None and batch.fresh and len(batch.notifications) == 10
                assert store.complete("t", "journey", batch.batch_id)
                written.append(frames(path) - before)
        finally:
            reader.close()
    assert sum(written) <= 90, written  # 78 when written (the earlier layout: 127)


def test_the_log_is_copied_into_the_file_while_commits_go_on(tmp_path: Path) -> None:
    """The checkpoint thread copies the log in (the fsyncs a power cut needs) while the event
    loop keeps committing: the log does not wait for the writes to stop."""
    path = tmp_path / "feeds.db"
    with store_at(path) as store:
        before = os.path.getsize(path)  # the header page: everything else is still in the log
        ends = time.monotonic() + CHECKPOINT_INTERVAL + 10  # generous: the machine may be loaded
        while os.path.getsize(path) == before:
            assert time.monotonic() < ends, "the log was not copied in while commits went on"
            store.add_events("t", "journey", events(1))
            time.sleep(0.005)


def test_batch_ids_stay_unique_across_a_restart_when_formed_faster_than_the_clock(
        tmp_path: Path) -> None:
    path = tmp_path / "feeds.db"
    seen: list[int] = []
    for _ in range(2):
        with store_at(path) as store:
            store.add_events("t", "journey", events(300))
            while (batch := store.next_batch("t", "journey", 1)) is not None:
                seen.append(int(batch.batch_id))
                assert store.complete("t", "journey", batch.batch_id)
            seen.append(int(store.new_batch_id()))
    assert seen == sorted(set(seen)), "batch ids repeat or go back"
    with sqlite3.connect(path) as db:
        (ceiling,) = db.execute("SELECT value FROM meta WHERE name = 'batch_id'").fetchone()
    assert seen[-1] <= ceiling <= seen[-1] + BATCH_ID_BLOCK


def test_a_file_of_the_earlier_layout_keeps_its_open_batch(tmp_path: Path) -> None:
    path = tmp_path / "feeds.db"
    with store_at(path) as store:
        store.add_events("t", "journey", events(15))
        open_batch = store.next_batch("t", "journey", 10)
    assert open_batch is not None
    with sqlite3.connect(path) as db:  # what the earlier layout had besides
        db.executescript("""
            CREATE TABLE batches (batch_id TEXT PRIMARY KEY, tenant_key TEXT NOT NULL,
                                  feed_key TEXT NOT NULL, state TEXT NOT NULL);
            CREATE INDEX events_queue ON events (tenant_key, feed_key, state, seq);
            CREATE INDEX events_batch ON events (batch_id);""")
        db.execute("INSERT INTO batches VALUES (?, 't', 'journey', 'open')", (open_batch.batch_id,))
    with store_at(path) as store:
        again = store.next_batch("t", "journey", 10)
        assert again is not None and not again.fresh
        assert (again.batch_id, again.notifications) == (open_batch.batch_id,
                                                         open_batch.notifications)
        assert again.more_available
        assert store.complete("t", "journey", again.batch_id)
        rest = store.next_batch("t", "journey", 10)
        assert rest is not None and len(rest.notifications) == 5 and not rest.more_available
    with sqlite3.connect(path) as db:
        names = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert not names & {"batches", "events_queue", "events_batch"}, names
