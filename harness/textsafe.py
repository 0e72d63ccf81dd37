"""Text that is safe to print on a terminal, whatever a target put in it.

A target controls much of what the harness prints (reasons quote its headers and bodies). ECMA-48
control functions in that text would act on the user's terminal: ESC starts an ANSI sequence,
U+009B is CSI and U+009D OSC on their own (C1 controls), and a carriage return or a bidirectional
override can hide or reorder what is shown. ``printable`` shows each of them as a visible escape
(``\\x1b``, ``\\x9b``, ``\\u202e``), keeping newlines and tabs, in one linear pass.
"""
from __future__ import annotations

_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]


def _table() -> dict[int, str]:
    table = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if chr(c) not in "\n\t"}
    table.update({c: f"\\u{c:04x}" for c in _BIDI})
    return table


_ESCAPES = _table()


def printable(text: str) -> str:
    """``text`` with C0 controls (but newline and tab), DEL, C1 controls and bidirectional
    formatting characters shown as visible escapes; everything else unchanged."""
    return text.translate(_ESCAPES)
