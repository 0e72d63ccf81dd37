"""Run scenarios concurrently: up to ``jobs`` at once, never two that share a resource of the target.

A scenario declares the shared resources it uses (a feed, the callback settings; see
catalog.Scenario.resources):

- ``NAME``: the scenario changes NAME; nothing else that uses NAME runs beside it.
- ``read:NAME``: it uses NAME without changing it; readers of one resource may run together,
  never beside a scenario that changes NAME.
- ``NAME=VALUE``: it sets NAME to VALUE (the same settings as every other holder of that value,
  which the scenario checks when it applies them); holders of one value may run together, never
  beside a holder of another value, a reader or a writer of NAME.

Waiting on protocol timers dominates a run, so scenarios run in threads (each executor has its own
event loop). The dispatcher starts the first waiting scenario whose resources are all free, the
most contended first (those that conflict with the most others: a chain of scenarios that must
take turns on one resource is the critical path of a run), then in catalog order. A stopped
scheduler starts nothing new: the scenarios it did not start are reported as not run.
"""
from __future__ import annotations

import functools
import hashlib
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Generic, TypeVar

T = TypeVar("T")


class NotRun(Exception):
    """The scheduler was stopped before this scenario started."""


@dataclass
class Job(Generic[T]):
    key: str
    resources: frozenset[str]
    future: "Future[T]" = field(default_factory=Future)


READ = "read:"
VALUE = "="


@dataclass(frozen=True)
class Uses:
    """How one scenario uses the target's shared resources."""

    writes: frozenset[str]
    reads: frozenset[str]
    sets: dict[str, str]  # NAME -> the VALUE it sets

    @property
    def names(self) -> frozenset[str]:
        return self.writes | self.reads | frozenset(self.sets)


@functools.cache  # the dispatcher compares every waiting scenario with every running one, under its lock
def uses(resources: frozenset[str]) -> Uses:
    writes: set[str] = set()
    reads: set[str] = set()
    sets: dict[str, str] = {}
    for r in resources:
        if r.startswith(READ):
            reads.add(r[len(READ):])
        elif VALUE in r:
            name, value = r.split(VALUE, 1)
            if sets.setdefault(name, value) != value:
                raise ValueError(f"resources set {name} to two values: {sets[name]} and {value}")
        else:
            writes.add(r)
    return Uses(frozenset(writes), frozenset(reads), sets)


def conflicts(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two scenarios may not run at the same time: one changes what the other uses, or
    both set one resource to different values."""
    ua, ub = uses(a), uses(b)
    if ua.writes & ub.names or ub.writes & ua.names:
        return True
    if ua.reads & frozenset(ub.sets) or ub.reads & frozenset(ua.sets):
        return True
    return any(ua.sets[n] != ub.sets[n] for n in frozenset(ua.sets) & frozenset(ub.sets))


def contention_first(items: Sequence[tuple[str, frozenset[str]]]) -> list[tuple[str, frozenset[str]]]:
    """The items, those that conflict with the most others first (stable: catalog order otherwise)."""
    counts = [sum(1 for j, (_, other) in enumerate(items) if j != i and conflicts(res, other))
              for i, (_, res) in enumerate(items)]
    order = sorted(range(len(items)), key=lambda i: -counts[i])
    return [items[i] for i in order]


class Scheduler(Generic[T]):
    def __init__(self, jobs: int, run: Callable[[str], T], may_start: Callable[[], bool] = lambda: True) -> None:
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.jobs = jobs
        self._run = run
        self._may_start = may_start  # e.g. the run budget is not spent
        self._lock = threading.Condition()
        self._waiting: list[Job[T]] = []
        self._busy: dict[str, frozenset[str]] = {}  # running job -> the resources it still holds
        self._running = 0
        self._stopped = False
        self.peak = 0  # the most jobs that ran at once (for the benchmark and the tests)

    def submit_all(self, items: Sequence[tuple[str, frozenset[str]]]) -> dict[str, "Future[T]"]:
        with self._lock:
            new = [Job[T](key, resources) for key, resources in contention_first(items)]
            self._waiting.extend(new)
            self._dispatch()
        return {job.key: job.future for job in new}

    def release(self, key: str, resource: str) -> None:
        """The running job ``key`` no longer uses ``resource`` (it has put back what it changed):
        others waiting for it may start before the job ends."""
        with self._lock:
            held = self._busy.get(key)
            if held is not None and resource in held:
                self._busy[key] = held - {resource}
                self._dispatch()

    def stop(self) -> None:
        """Start nothing new; every job not started fails with NotRun."""
        with self._lock:
            self._stopped = True
            for job in self._waiting:
                job.future.set_exception(NotRun(job.key))
            self._waiting.clear()

    def _dispatch(self) -> None:  # holds the lock
        if self._waiting and not self._stopped and not self._may_start():
            self._stopped = True
            for job in self._waiting:
                job.future.set_exception(NotRun(job.key))
            self._waiting.clear()
            return
        i = 0
        while i < len(self._waiting) and self._running < self.jobs and not self._stopped:
            job = self._waiting[i]
            if any(conflicts(job.resources, other) for other in self._busy.values()):
                i += 1
                continue
            self._waiting.pop(i)
            self._busy[job.key] = job.resources
            self._running += 1
            self.peak = max(self.peak, self._running)
            threading.Thread(target=self._work, args=(job,), name=f"scenario-{job.key}", daemon=True).start()

    def _work(self, job: Job[T]) -> None:
        try:
            job.future.set_result(self._run(job.key))
        except BaseException as exc:  # the runner reports its own errors; this is a last resort
            job.future.set_exception(exc)
        finally:
            with self._lock:
                self._busy.pop(job.key, None)
                self._running -= 1
                self._dispatch()
                self._lock.notify_all()


@contextmanager
def held_across_processes(target: str, resources: frozenset[str]) -> Iterator[None]:
    """Hold the scenario's resources of ``target`` against other processes (pytest-xdist workers
    run scenarios one at a time each, with no scheduler between them): an exclusive file lock per
    resource changed or set (two values of one resource never meet, one value is not shared
    across processes), a shared one per resource only read. Locks are taken in name order."""
    import fcntl

    u = uses(resources)
    changed = u.writes | frozenset(u.sets)
    wanted = sorted([(n, fcntl.LOCK_EX) for n in changed] + [(n, fcntl.LOCK_SH) for n in u.reads - changed])
    if not wanted:
        yield
        return
    folder = Path(tempfile.gettempdir()) / ("conformance-locks-" + hashlib.sha256(target.encode()).hexdigest()[:16])
    folder.mkdir(mode=0o700, exist_ok=True)
    with ExitStack() as stack:
        for name, mode in wanted:
            handle: IO[str] = stack.enter_context(
                open(folder / hashlib.sha256(name.encode()).hexdigest()[:16], "a", encoding="utf-8"))
            fcntl.flock(handle, mode)  # released when the file is closed
        yield
