"""Run scenarios concurrently: up to ``jobs`` at once, never two that share a resource of the target.

A scenario declares the shared resources it uses (a feed, the callback settings; see
catalog.Scenario.resources). ``read:NAME`` uses NAME without changing it: readers of one resource
may run together, never beside a scenario that uses NAME itself (a writer). Waiting on protocol timers dominates a run, so scenarios run in
threads (each executor has its own event loop); the dispatcher starts, in catalog order, the first
waiting scenario whose resources are all free. A stopped scheduler starts nothing new: the
scenarios it did not start are reported as not run.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


class NotRun(Exception):
    """The scheduler was stopped before this scenario started."""


@dataclass
class Job(Generic[T]):
    key: str
    resources: frozenset[str]
    future: "Future[T]" = field(default_factory=Future)


READ = "read:"


def split(resources: frozenset[str]) -> tuple[set[str], set[str]]:
    """(the resources written, the resources only read)."""
    return ({r for r in resources if not r.startswith(READ)},
            {r[len(READ):] for r in resources if r.startswith(READ)})


def conflicts(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two scenarios may not run at the same time: one writes what the other uses."""
    wa, ra = split(a)
    wb, rb = split(b)
    return bool(wa & (wb | rb) or wb & ra)


class Scheduler(Generic[T]):
    def __init__(self, jobs: int, run: Callable[[str], T], may_start: Callable[[], bool] = lambda: True) -> None:
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.jobs = jobs
        self._run = run
        self._may_start = may_start  # e.g. the run budget is not spent
        self._lock = threading.Condition()
        self._waiting: list[Job[T]] = []
        self._busy: list[frozenset[str]] = []
        self._running = 0
        self._stopped = False
        self.peak = 0  # the most jobs that ran at once (for the benchmark and the tests)

    def submit_all(self, items: Sequence[tuple[str, frozenset[str]]]) -> dict[str, "Future[T]"]:
        with self._lock:
            new = [Job[T](key, resources) for key, resources in items]
            self._waiting.extend(new)
            self._dispatch()
        return {job.key: job.future for job in new}

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
            if any(conflicts(job.resources, other) for other in self._busy):
                i += 1
                continue
            self._waiting.pop(i)
            self._busy.append(job.resources)
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
                self._busy.remove(job.resources)
                self._running -= 1
                self._dispatch()
                self._lock.notify_all()
