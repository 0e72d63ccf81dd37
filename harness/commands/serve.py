"""`conformance serve`: the reference server on its own."""
from __future__ import annotations

import argparse
import secrets
import sys

from reference_server.app import serve_forever
from reference_server.config import ServerConfig, Timings
from reference_server.faults import all_faults, check_names


def serve_command(args: argparse.Namespace) -> int:
    if args.list_faults:
        for fault in all_faults().values():
            print(f"{fault.name}\t{fault.profile}\t{fault.description}")
        return 0
    try:
        faults = check_names(args.fault)
    except ValueError as exc:
        print(f"conformance serve: --fault: {exc}", file=sys.stderr)
        return 2
    clients: dict[str, str] = {}
    for pair in args.client:
        cid, sep, secret = pair.partition(":")
        if not sep or not cid or not secret:
            print(f"conformance serve: --client {pair!r}: expected ID:SECRET", file=sys.stderr)
            return 2
        clients[cid] = secret
    tokens = tuple(args.token) or (secrets.token_urlsafe(18),)
    if not clients:
        # two clients: the job-ownership scenarios need a second one (--config clients: [...])
        clients = {"conformance-client": secrets.token_urlsafe(18), "conformance-client-2": secrets.token_urlsafe(18)}
    config = ServerConfig(faults=faults, timings=Timings.named(args.timings), db_path=args.db,
                          tokens=tokens, clients=clients)
    base = f"http://{args.host}:{args.port}"
    print(f"reference server on {base} (timings {args.timings}, faults: {', '.join(sorted(faults)) or 'none'})")
    print(f"  control hook: {base}{config.control_prefix}")
    if not args.token:
        print(f"  bearer token (generated; pass --token to choose): {tokens[0]}")
    if not args.client:
        for cid, secret in clients.items():
            print(f"  ws-progress client (generated; pass --client ID:SECRET): {cid}:{secret}")
    print(f"  tenants: {', '.join(config.tenants)}", flush=True)
    try:
        serve_forever(config, args.host, args.port)
    except OSError as exc:
        print(f"conformance serve: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0
