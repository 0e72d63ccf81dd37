"""Redaction benchmark (run by hand; prints figures, asserts nothing).

Times ``Redactor.text`` (every rule, two registered secrets) on inputs of 16 KB, 200 KB and 1 MB
of several shapes a target can send: one long word (the shape that made the old URL-userinfo
rule backtrack), hex, base64, prose with tokens and URLs, and runs of each rule's anchor. Linear
redaction shows as a time that grows with the size, not with its square.

    .venv/bin/python benchmarks/redaction_bench.py [--sizes 16384,204800,1048576] [--rounds 3]
"""
from __future__ import annotations

import argparse
import base64
import os
import time
from collections.abc import Callable

from harness.redaction import Redactor

SECRETS = ["s3cr3t-known-token-value", "another-registered-secret-42"]


def shapes() -> dict[str, Callable[[int], str]]:
    prose = ("The job ran; a wrong bearer token gives 401. Authorization: Bearer t0ken12345678 "
             "see https://user:pa55word@host.test/x?access_token=abc123 and {\"token\": \"v\"} ")
    return {
        "word": lambda n: "a" * n,
        "hex": lambda n: os.urandom(n // 2 + 1).hex()[:n],
        "base64": lambda n: base64.b64encode(os.urandom(n)).decode()[:n],
        "prose": lambda n: (prose * (n // len(prose) + 1))[:n],
        "schemes": lambda n: ("a://b:" * (n // 6 + 1))[:n],
        "bearers": lambda n: ("bearer " * (n // 7 + 1))[:n],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="16384,204800,1048576")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    red = Redactor(SECRETS)
    print(f"{'shape':<10}" + "".join(f"{size:>14,d} B" for size in sizes))
    for name, make in shapes().items():
        cells = []
        for size in sizes:
            text = make(size)
            best = float("inf")
            for _ in range(args.rounds):
                started = time.perf_counter()
                red.text(text)
                best = min(best, time.perf_counter() - started)
            cells.append(f"{best * 1000:>14.1f} ms")
        print(f"{name:<10}" + "".join(cells))


if __name__ == "__main__":
    main()
