"""webhooks profile (seed 004): pipeline descriptors, algorithms, runs and their progress events.

A run is a real asyncio task. Each batch item of a node is a task (``pending -> active ->
succeed | failed | stopped``) that runs its algorithm; at most ``PARALLELISM`` tasks of a run are
active at once (the seed's "2 active, 4 pending"). Every state change is a progress event with a
level (see ``EVENT_LEVELS``); the run hands each event and its end to a :class:`RunListener` (the
webhooks dispatcher). Faults that change what a run reports are single ``if``s marked ``fault:``.
"""
from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

Json = dict[str, Any]
LEVELS = ("trace", "debug", "info", "warn", "error", "critical")  # ascending severity (seed 004)
DEFAULT_LEVEL = "info"
TERMINAL = frozenset({"completed", "failed", "stopped"})
TASK_STATES = ("succeed", "failed", "stopped", "active", "pending")  # order of the details text
PARALLELISM = 2
# Which change is reported at which level. critical is reserved for failures of the system
# itself, which the reference server never has: a critical receiver gets no progress webhook.
EVENT_LEVELS = {"task_created": "trace", "task_active": "debug", "task_succeed": "debug",
                "task_failed": "warn", "run_pending": "info", "run_active": "info",
                "run_completed": "info", "run_stopped": "info", "run_failed": "error"}


def severity(level: str) -> int:
    return LEVELS.index(level)


class DescriptorError(ValueError):
    """An invalid pipeline descriptor (the API answers 400 with this message)."""


@dataclass(frozen=True)
class Algorithm:
    name: str
    seconds: dict[str, tuple[float, float]]  # timings name -> (shortest, longest) per item
    compute: Callable[[Any], Any]  # the result of one item, or raises AlgorithmError


class AlgorithmError(Exception):
    pass


def _times_ten(item: Any) -> Any:
    if isinstance(item, bool) or not isinstance(item, (int, float)):
        raise AlgorithmError(f"input {json.dumps(item)} is not a number")
    return item * 10


def _fail(item: Any) -> Any:
    raise AlgorithmError(f"fail-alg failed on input {json.dumps(item)}")


ALGORITHMS = {a.name: a for a in (
    Algorithm("green-alg", {"fast": (0.05, 0.1), "spec": (0.9, 1.1)}, _times_ten),
    Algorithm("fail-alg", {"fast": (0.05, 0.1), "spec": (0.9, 1.1)}, _fail),
    Algorithm("slow-alg", {"fast": (2.0, 2.0), "spec": (60.0, 60.0)}, _times_ten),
)}


@dataclass(frozen=True)
class Node:
    name: str
    algorithm: str
    items: tuple[Any, ...]  # one per batch item; a node without a batch input has one item
    batch: bool


@dataclass(frozen=True)
class PipelineRequest:
    name: str
    nodes: tuple[Node, ...]
    progress_url: str | None
    result_url: str | None
    level: str


def _url(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")) or " " in value:
        raise DescriptorError(f"{where} must be an http(s) URL")
    return value


def _node(raw: Any, index: int) -> Node:
    where = f"nodes[{index}]"
    if not isinstance(raw, dict):
        raise DescriptorError(f"{where} must be an object")
    name, algorithm = raw.get("nodeName"), raw.get("algorithmName")
    if not isinstance(name, str) or not name:
        raise DescriptorError(f"{where}.nodeName must be a non-empty string")
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        raise DescriptorError(f"{where}.algorithmName: algorithm {algorithm!r} Not Found; "
                              f"known: {', '.join(ALGORITHMS)}")
    args = raw.get("input", [])
    if not isinstance(args, list):
        raise DescriptorError(f"{where}.input must be an array")
    for arg in args:  # "#[1,2,3]" is a batch: one task per element
        if isinstance(arg, str) and arg.startswith("#"):
            try:
                items = json.loads(arg[1:])
            except ValueError:
                items = None
            if not isinstance(items, list) or not items:
                raise DescriptorError(f"{where}.input: batch {arg!r} is not '#' + a non-empty JSON array")
            return Node(name, algorithm, tuple(items), True)
    return Node(name, algorithm, (args[0] if args else None,), False)


def parse_descriptor(body: Any, *, default_level: str = DEFAULT_LEVEL,
                     unknown_level_as: str | None = None) -> PipelineRequest:
    """A validated ``POST /exec/raw`` body, or DescriptorError naming the first problem.

    ``unknown_level_as``: fault wh-unknown-level-accepted (an unknown level is taken as this one).
    """
    if not isinstance(body, dict):
        raise DescriptorError("the pipeline descriptor must be a JSON object")
    name = body.get("name")
    if not isinstance(name, str) or not name or ":" in name:
        raise DescriptorError("name must be a non-empty string without ':'")
    raw_nodes = body.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise DescriptorError("nodes must be a non-empty array")
    nodes = tuple(_node(raw, i) for i, raw in enumerate(raw_nodes))
    if len({n.name for n in nodes}) != len(nodes):
        raise DescriptorError("nodeName values must be unique")
    hooks = body.get("webhooks", {})
    options = body.get("options", {})
    if not isinstance(hooks, dict) or not isinstance(options, dict):
        raise DescriptorError("webhooks and options must be objects")
    level = options.get("progressVerbosityLevel", default_level)
    if level not in LEVELS:
        if unknown_level_as is None:
            raise DescriptorError(f"options.progressVerbosityLevel must be one of {', '.join(LEVELS)}")
        level = unknown_level_as
    return PipelineRequest(name, nodes, _url(hooks.get("progress"), "webhooks.progress"),
                           _url(hooks.get("result"), "webhooks.result"), level)


def utc_timestamp(moment: float | None = None) -> str:
    """RFC 3339 UTC with milliseconds, as the seed: 2018-01-16T14:47:04.142Z."""
    when = datetime.fromtimestamp(time.time() if moment is None else moment, timezone.utc)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(eq=False)
class Task:
    node: Node
    batch_index: int  # 1-based, as the seed's batchID "green#1"
    item: Any
    status: str = "pending"
    started: float = 0.0  # wall clock
    result: Any = None
    error: str | None = None

    def entry(self) -> Json:
        out: Json = {"nodeName": self.node.name, "algorithmName": self.node.algorithm}
        if self.node.batch:
            out.update(batchIndex=self.batch_index, batchID=f"{self.node.name}#{self.batch_index}")
        if self.status == "succeed":
            out["result"] = self.result
        else:
            out["error"] = self.error or f"task {self.status}"
        return out


@dataclass(eq=False)
class Run:
    job_id: str
    request: PipelineRequest
    tasks: list[Task]
    status: str = "pending"
    started: float = field(default_factory=time.monotonic)
    last_wall: float = 0.0  # timestamps never go back within a run
    error: str | None = None
    progress: Json | None = None  # the last progress payload, whatever its level
    active_progress: Json | None = None  # fault wh-status-api-stale
    result: Json | None = None  # set when the run has ended
    runner: "asyncio.Task[None] | None" = None

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    def states(self) -> dict[str, int]:
        counts = {s: sum(1 for t in self.tasks if t.status == s) for s in TASK_STATES}
        return {s: n for s, n in counts.items() if n}

    def percent(self, uncounted: int = 0) -> float:
        done = sum(1 for t in self.tasks if t.status in ("succeed", "failed")) - uncounted
        return round(100.0 * max(done, 0) / len(self.tasks), 2)

    def entries(self) -> list[Json]:
        return [t.entry() for t in self.tasks if t.status in ("succeed", "failed", "stopped")]


class RunListener(Protocol):
    def progress(self, run: Run, payload: Json, level: str, terminal: bool) -> None: ...

    def ended(self, run: Run) -> None: ...


class Pipelines:
    """Runs by jobId, the runner, and the progress and result payloads."""

    def __init__(self, timings_name: str, faults: frozenset[str], listener: RunListener) -> None:
        self.timings_name = timings_name
        self.faults = faults
        self.listener = listener
        self.runs: dict[str, Run] = {}

    def fault(self, name: str) -> bool:
        return name in self.faults

    # --- payloads ------------------------------------------------------------------------------
    def _stamp(self, run: Run, moment: float | None = None) -> str:
        now = max(time.time(), run.last_wall)
        run.last_wall = now
        return utc_timestamp(now if moment is None else moment)

    def _emit(self, run: Run, event: str, *, moment: float | None = None, uncounted: int = 0) -> None:
        level = EVENT_LEVELS[event]
        percent = run.percent(uncounted)
        states = run.states()
        details = f"{percent:.2f}% completed" + "".join(f", {n} {s}" for s, n in states.items())
        payload: Json = {"jobId": run.job_id, "timestamp": self._stamp(run, moment),
                         "pipeline": run.request.name, "status": run.status, "level": level,
                         "data": {"progress": f"{percent:.2f}" if self.fault("wh-progress-string") else percent,
                                  "states": states, "details": details}}
        if run.error and run.status == "failed":
            payload["error"] = run.error
        if self.fault("wh-level-missing"):
            del payload["level"]
        run.progress = payload
        if event == "run_active":
            run.active_progress = payload
        self.listener.progress(run, payload, level, terminal=run.ended)

    def result_payload(self, run: Run) -> Json:
        entries = run.entries()
        if self.fault("wh-missing-batch-entry"):
            entries = entries[:-1]  # fault: the entries loop stops one short
        out: Json = {"jobId": run.job_id, "timestamp": self._stamp(run), "pipeline": run.request.name,
                     "status": run.status, "data": entries,
                     "timeTook": round(time.monotonic() - run.started, 3)}
        if run.error:
            out["error"] = run.error
        return out

    # --- operations ----------------------------------------------------------------------------
    def submit(self, request: PipelineRequest) -> Run:
        tasks = [Task(node, i, item) for node in request.nodes for i, item in enumerate(node.items, 1)]
        run = Run(f"{request.name}:{uuid.uuid4()}", request, tasks)
        self.runs[run.job_id] = run
        self._emit(run, "run_pending")
        run.runner = asyncio.get_running_loop().create_task(self._run(run), name=f"run {run.job_id}")
        return run

    def stop(self, run: Run, reason: str) -> None:
        """Stop a running pipeline: unfinished tasks and the run become stopped (the caller checked)."""
        if run.runner is not None and not run.runner.done():
            run.runner.cancel()
        for task in run.tasks:
            if task.status in ("pending", "active"):
                task.status, task.error = "stopped", f"stopped: {reason}"
        self._end(run, "stopped")

    async def shutdown(self) -> None:
        runners = [r.runner for r in self.runs.values() if r.runner and not r.runner.done()]
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)

    # --- the runner ----------------------------------------------------------------------------
    async def _run(self, run: Run) -> None:
        for _ in run.tasks:
            self._emit(run, "task_created")
        run.status = "active"
        self._emit(run, "run_active")
        slots = asyncio.Semaphore(PARALLELISM)
        await asyncio.gather(*(self._task(run, task, slots) for task in run.tasks))
        failed = [t for t in run.tasks if t.status == "failed"]
        if failed and not self.fault("wh-failed-run-reported-completed"):
            run.error = f"{len(failed)} of {len(run.tasks)} tasks failed: {failed[0].error}"
            self._end(run, "failed")
        else:
            self._end(run, "completed")

    async def _task(self, run: Run, task: Task, slots: asyncio.Semaphore) -> None:
        async with slots:
            algorithm = ALGORITHMS[task.node.algorithm]
            task.status, task.started = "active", time.time()
            self._emit(run, "task_active")
            await asyncio.sleep(random.uniform(*algorithm.seconds[self.timings_name]))
            try:
                task.result, task.status = algorithm.compute(task.item), "succeed"
            except AlgorithmError as exc:
                task.status, task.error = "failed", str(exc)
            self._emit(run, "task_succeed" if task.status == "succeed" else "task_failed")

    def _end(self, run: Run, status: str) -> None:
        run.status = status
        moment: float | None = None
        uncounted = 0
        if status == "completed" and self.fault("wh-timestamps-backwards"):
            moment = max(t.started for t in run.tasks)  # fault: stamped with the last task's start
        if status == "completed" and self.fault("wh-progress-backwards"):
            uncounted = 1  # fault: progress read before the last task's result was counted
        self._emit(run, f"run_{status}", moment=moment, uncounted=uncounted)
        run.result = self.result_payload(run)
        self.listener.ended(run)
