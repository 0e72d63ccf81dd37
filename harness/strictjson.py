"""Strict JSON in both directions.

RFC 8259 section 6: "Numeric values that cannot be represented in the grammar below (such as
Infinity and NaN) are not permitted." Python's json module reads and writes them by default, so a
target's ``{"x": NaN}`` or ``1e999`` would pass as JSON and then make the harness's own reports
unreadable by strict parsers. Here a target's body is read strictly (``strict_json``), and whatever
the harness writes is first made strict (``safe_json``).
"""
from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64  # deeper than this, evidence keeps a body as text (the writers recurse on it)


class InvalidJson(ValueError):
    """The bytes are not JSON as RFC 8259 defines it."""


def _no_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJson(f"{text[:40]} is out of the range of a JSON number")
    return value


def strict_json(raw: bytes | str) -> Any:
    """The JSON value of ``raw``; InvalidJson for anything RFC 8259 refuses: NaN, Infinity,
    numbers that overflow to infinity, invalid UTF-8, or nesting too deep to parse."""
    try:
        return json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except InvalidJson:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, int limits
        raise InvalidJson(f"{type(exc).__name__}: {str(exc)[:200]}") from exc


def safe_json(value: Any) -> Any:
    """``value`` with every non-finite float replaced by its name ("NaN", "Infinity",
    "-Infinity"), tuples as lists and keys as strings, so that
    ``json.dumps(safe_json(v), allow_nan=False)`` never fails on a number."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): safe_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [safe_json(v) for v in value]
    return value


def deeper_than(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests containers more than ``limit`` deep (iterative: any depth is safe)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False
