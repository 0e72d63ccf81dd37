"""JSON request bodies and WebSocket frames, read with a nesting limit.

Python's parser recurses once per level: a body nested ~1000 deep raises RecursionError (a 500
and a traceback). A cheap pre-scan counts bracket depth outside strings and refuses deeper input
before the parser sees it. NaN and Infinity are refused too: they are not JSON; so is a number
beyond a double (1e999), which would be read as infinity and written back as Infinity.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

# a JSON string, written without nested quantifiers so an unterminated one cannot backtrack
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class JsonError(ValueError):
    """The input is not JSON the server will read; ``str()`` says why without quoting it."""


def nesting_exceeds(text: str, limit: int) -> bool:
    """True when arrays and objects nest deeper than ``limit`` (brackets in strings don't count)."""
    depth = 0
    for char in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("a number beyond a double")
    return value


def loads(data: str | bytes, max_depth: int) -> Any:
    """The parsed value, or JsonError: not UTF-8, nested deeper than ``max_depth``, or not JSON.

    The error reads after "the body is" or "the frame is": "not valid JSON" and so on.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise JsonError("not UTF-8") from None
    if nesting_exceeds(text, max_depth):
        raise JsonError(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        raise JsonError("not valid JSON") from None


def json_integer(value: Any) -> int | None:
    """``value`` as an int if JSON Schema calls it an integer (3064 and 3064.0 alike), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
