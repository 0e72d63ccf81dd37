"""Pure run-log rules (seed 001: RUNLOG_UPDATED carries {startLine, endLine, lines}): no I/O,
unit-tested with Hypothesis, used by the executors that judge what a socket streamed."""
from __future__ import annotations

from typing import Any


def contiguity_problems(ranges: list[dict[str, Any]], first: int = 1) -> tuple[list[str], int]:
    """Problems of a sequence of run-log ranges that must continue from line ``first`` without a
    gap or an overlap, each carrying exactly its lines; and the last line delivered."""
    expected_next, problems = first, []
    for r in ranges:
        start, end, lines = r.get("startLine"), r.get("endLine"), r.get("lines")
        lines = lines if isinstance(lines, list) else []
        if start != expected_next:
            problems.append(f"range {start}-{end} after line {expected_next - 1}")
        if not isinstance(start, int) or not isinstance(end, int) or end < start:
            problems.append(f"range {start}-{end} is not a range of line numbers")
        elif end - start + 1 != len(lines):
            problems.append(f"range {start}-{end} carries {len(lines)} lines")
        expected_next = (end if isinstance(end, int) else expected_next) + 1
    return problems, expected_next - 1
