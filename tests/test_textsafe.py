"""Terminal injection: control characters from a target are printed as visible escapes
(issue 10, item "Terminal injection")."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.textsafe import printable


@pytest.mark.parametrize("raw, shown", [
    ("\x9b31mred", "\\x9b31mred"),  # C1 CSI: an ANSI sequence without ESC
    ("\x9d0;title\x9c", "\\x9d0;title\\x9c"),  # C1 OSC ... ST: sets the terminal's title
    ("\x1b[2J\x1b]0;pwned\x07", "\\x1b[2J\\x1b]0;pwned\\x07"),
    ("ok\rFAIL", "ok\\x0dFAIL"),
    ("a\x00b\x7fc\x85d", "a\\x00b\\x7fc\\x85d"),
    ("abc\u202edcba", "abc\\u202edcba"),
])
def test_controls_are_shown_escaped(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_newline_tab_and_ordinary_text_are_kept() -> None:
    text = "line 1\n\tline 2: é ü 日本 ✓ \\x1b stays as typed"
    assert printable(text) == text


@given(st.text())
def test_nothing_printed_is_a_control_character(text: str) -> None:
    out = printable(text)
    assert not any((ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 for c in out)


def test_a_megabyte_is_escaped_in_one_pass() -> None:
    text = "\x9b" * 1_000_000
    assert printable(text) == "\\x9b" * 1_000_000
