"""The harness and the reference server are mypy-clean (type hints everywhere)."""
from __future__ import annotations

from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api", reason="mypy is in the [test] extra")
ROOT = Path(__file__).resolve().parents[1]


def test_mypy_clean() -> None:
    out, err, status = mypy_api.run([str(ROOT / "harness"), str(ROOT / "reference_server"), str(ROOT / "benchmarks"),
                                     "--config-file", str(ROOT / "pyproject.toml")])
    assert status == 0, out + err
