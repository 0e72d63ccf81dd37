"""Content-Encoding decoded with a cap on the DECODED size (RFC 9110 8.4).

httpx decodes each received chunk whole: 64 KiB of gzip can inflate to 64 MiB at once, and a
cap that counts bytes on the wire lets a 1 MB body become 1 GiB. Here zlib is asked for at most
what is left under the cap (``decompress(data, max_length)``), so the decoded body never exceeds
``limit`` by more than one byte, whatever the ratio.

gzip and deflate are decoded, as httpx does (deflate with or without its zlib wrapper); identity
and codings httpx does not decode either (br, zstd without their packages) are passed through.
"""
from __future__ import annotations

import zlib


class TooLarge(Exception):
    """The decoded body grew past the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"answer larger than {limit} bytes (decoded)")
        self.limit = limit


class _Stage:
    """One coding, decoding into a bounded buffer."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.first = True
        self.inflate: zlib._Decompress | None = None
        if coding in ("gzip", "x-gzip"):
            self.inflate = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif coding == "deflate":
            self.inflate = zlib.decompressobj()

    def feed(self, data: bytes, room: int) -> bytes:
        """Decoded bytes of ``data``, at most ``room + 1`` (one more says "over the limit")."""
        if self.inflate is None:
            return data
        try:
            out = self._inflate(data, room)
        except zlib.error:
            if not (self.first and self.coding == "deflate"):
                raise
            self.inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, no zlib wrapper
            out = self._inflate(data, room)
        self.first = False
        return out

    def _inflate(self, data: bytes, room: int) -> bytes:
        assert self.inflate is not None
        return self.inflate.decompress(data, room + 1)  # stops there; the rest stays unread

    def flush(self) -> bytes:
        return self.inflate.flush() if self.inflate is not None else b""


class BoundedDecoder:
    """Decodes a body chunk by chunk into at most ``limit`` bytes; TooLarge past that."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        self.stages = [_Stage(c) for c in reversed(codings)]  # the last applied is undone first
        self.limit = limit
        self.body = bytearray()

    def feed(self, raw: bytes) -> None:
        data = raw
        for stage in self.stages:
            data = stage.feed(data, self.limit - len(self.body))
        if len(self.body) + len(data) > self.limit:
            raise TooLarge(self.limit)
        self.body += data

    def finish(self) -> bytes:
        """The decoded body, once the last chunk was fed."""
        for i, stage in enumerate(self.stages):
            data = stage.flush()
            for later in self.stages[i + 1:]:
                data = later.feed(data, self.limit - len(self.body))
            if len(self.body) + len(data) > self.limit:
                raise TooLarge(self.limit)
            self.body += data
        return bytes(self.body)
