"""Evidence of one scenario: HTTP exchanges, WebSocket frames, timings, notes; secrets redacted
(harness/redaction.py) and every part bounded, whatever a target sends.

Frames are kept per socket, the first FRAMES_HEAD and the last FRAMES_TAIL of each; exchanges the
first and last EXCHANGES_KEPT. What falls between is counted (``frames_dropped``,
``exchanges_dropped``), so a flood costs a counter, not memory.
"""
from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any, overload

from harness.redaction import (MAX_BODY, REDACTED, SENSITIVE_HEADERS, SENSITIVE_KEYS, Redactor,
                               cut)
from harness.strictjson import safe_json

__all__ = ["MAX_BODY", "REDACTED", "SENSITIVE_HEADERS", "SENSITIVE_KEYS", "BoundedLog", "Evidence",
           "Redactor"]

FRAMES_HEAD = FRAMES_TAIL = 200
EXCHANGES_KEPT = 500
MAX_NOTE = 4000
MAX_ATTACHMENT = 64 * 1024
MAX_TRANSCRIPT_BODY = 2000
MAX_TRANSCRIPT_FRAME = 500

Entry = dict[str, Any]


@dataclass
class _Kept:
    head: list[tuple[int, Entry]] = field(default_factory=list)
    tail: deque[tuple[int, Entry]] = field(default_factory=deque)
    dropped: int = 0


class BoundedLog(Sequence[Entry]):
    """A list of entries that keeps, per group (``entry[key]``, e.g. the socket), the first
    ``head`` and the last ``tail`` entries in the order they were added, and counts the rest."""

    def __init__(self, head: int, tail: int, key: str | None = None) -> None:
        self._head, self._tail, self._key = head, tail, key
        self._groups: dict[str, _Kept] = {}
        self._seq = count()
        self._ordered: list[Entry] | None = []

    def append(self, entry: Entry) -> None:
        group = str(entry.get(self._key, "")) if self._key else ""
        kept = self._groups.setdefault(group, _Kept())
        item = (next(self._seq), entry)
        if len(kept.head) < self._head:
            kept.head.append(item)
        else:
            if len(kept.tail) >= self._tail:
                kept.tail.popleft()
                kept.dropped += 1
            kept.tail.append(item)
        self._ordered = None

    def extend(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self.append(entry)

    def dropped(self) -> dict[str, int]:
        """How many entries were left out, per group that lost any."""
        return {g: k.dropped for g, k in self._groups.items() if k.dropped}

    def _items(self) -> list[Entry]:
        if self._ordered is None:
            items = [i for k in self._groups.values() for i in (*k.head, *k.tail)]
            self._ordered = [entry for _, entry in sorted(items, key=lambda i: i[0])]
        return self._ordered

    @overload
    def __getitem__(self, index: int) -> Entry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Entry]: ...
    def __getitem__(self, index: int | slice) -> Entry | Sequence[Entry]:
        return self._items()[index]

    def __len__(self) -> int:
        return sum(len(k.head) + len(k.tail) for k in self._groups.values())

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._items())


@dataclass
class Evidence:
    """Everything observed while a scenario ran, in the order it happened."""

    redactor: Redactor
    started: float = field(default_factory=time.monotonic)
    exchanges: BoundedLog = field(default_factory=lambda: BoundedLog(EXCHANGES_KEPT, EXCHANGES_KEPT))
    frames: BoundedLog = field(default_factory=lambda: BoundedLog(FRAMES_HEAD, FRAMES_TAIL, "socket"))
    notes: list[str] = field(default_factory=list)
    timings: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)  # requests the target made to us
    attachments: dict[str, str] = field(default_factory=dict)

    def at(self, moment: float | None = None) -> float:
        """Seconds since the scenario started, for a monotonic timestamp."""
        return round((time.monotonic() if moment is None else moment) - self.started, 6)

    def note(self, text: str) -> None:
        if len(self.notes) < EXCHANGES_KEPT:
            self.notes.append(self.redactor.text_bounded(text, MAX_NOTE))

    def timing(self, name: str, observed: Any, lower: Any, upper: Any, verdict: str,
               declared: Any = None) -> None:
        """A timing verdict with its window: numbers for one timer, lists for a schedule's gaps."""
        self.timings.append({"name": name, "declared": declared, "observed": observed,
                             "lower": lower, "upper": upper, "verdict": verdict})

    def attach(self, name: str, text: str) -> None:
        self.attachments[name] = self.redactor.text_bounded(text, MAX_ATTACHMENT)

    def as_dict(self) -> dict[str, Any]:
        """Everything, redacted again with every secret known by now (a token is often learned
        only from the response that carried it, after that exchange was recorded), and strict
        JSON (no NaN or Infinity)."""
        out: dict[str, Any] = {"exchanges": list(self.exchanges)}
        if self.exchanges.dropped():
            out["exchanges_dropped"] = self.exchanges.dropped()[""]
        if self.frames:
            out["frames"] = list(self.frames)
        if self.frames.dropped():
            out["frames_dropped"] = self.frames.dropped()
        if self.timings:
            out["timings"] = self.timings
        if self.deliveries:
            out["deliveries"] = self.deliveries
        if self.notes:
            out["notes"] = self.notes
        if self.attachments:
            out["attachments"] = self.attachments
        redacted: dict[str, Any] = self.redactor.json(safe_json(out))
        return redacted

    def _shown(self, value: Any, limit: int) -> str:
        """One body or frame for the transcript: redacted, serialized, and only then cut."""
        return cut(json.dumps(self.redactor.json(safe_json(value)), allow_nan=False, default=str), limit)

    def transcript_text(self) -> str:
        """A human-readable transcript of every exchange and frame, for Allure and HTML."""
        lines: list[str] = []
        events = [(e["at"], "http", e) for e in self.exchanges]
        events += [(f["at"], "ws", f) for f in self.frames]
        for _, kind, e in sorted(events, key=lambda t: t[0]):
            if kind == "http":
                lines.append(f"[{e['at']:9.3f}s] {e['method']} {e['url']}")
                for k, v in (e.get("request_headers") or {}).items():
                    lines.append(f"    > {k}: {v}")
                if e.get("request_body") is not None:
                    lines.append("    > " + self._shown(e["request_body"], MAX_TRANSCRIPT_BODY))
                if "error" in e:
                    lines.append(f"    ! {e['error']}")
                    continue
                lines.append(f"    < {e['status']} ({e['elapsed_ms']} ms)")
                for k, v in (e.get("response_headers") or {}).items():
                    lines.append(f"    < {k}: {v}")
                if e.get("response_body") is not None:
                    lines.append("    < " + self._shown(e["response_body"], MAX_TRANSCRIPT_BODY))
            else:
                data = e.get("data")
                shown = self._shown(data, MAX_TRANSCRIPT_FRAME) if data is not None else ""
                lines.append(f"[{e['at']:9.3f}s] ws {e['socket']} {e['direction']} {e['type']} {shown}")
        for socket, dropped in self.frames.dropped().items():
            lines.append(f"[ws {socket}: {dropped} frames between the first {FRAMES_HEAD} and the "
                         f"last {FRAMES_TAIL} not kept]")
        if self.exchanges.dropped():
            lines.append(f"[{self.exchanges.dropped()['']} exchanges between the first and the last "
                         f"{EXCHANGES_KEPT} not kept]")
        return self.redactor.text("\n".join(lines))
