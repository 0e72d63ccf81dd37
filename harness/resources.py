"""Where the shipped data lives: inside the wheel (harness/_data) or in the source tree."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    shipped = _PACKAGE / "_data" / name
    if shipped.is_dir():
        return shipped
    source = _PACKAGE.parent / name
    if source.is_dir():
        return source
    raise FileNotFoundError(f"cannot find the {name}/ directory (looked in {shipped} and {source})")


def schemas_dir() -> Path:
    return _data_dir("schemas")


def scenarios_dir() -> Path:
    return _data_dir("scenarios")
