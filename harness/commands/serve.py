"""`conformance serve`: the reference server on its own."""
from __future__ import annotations

import argparse
import secrets
import sys
from typing import Any

import yaml

from reference_server.app import serve_forever
from reference_server.config import ServerConfig, Timings
from reference_server.faults import all_faults, check_names
from reference_server.protocols import declared_settings


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
    if not 0 <= args.port <= 65535:
        print(f"conformance serve: --port {args.port}: must be 0..65535", file=sys.stderr)
        return 2
    host = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{host}:{args.port}"
    declared = declared_settings(config)
    if args.print_config:
        if not args.token or not args.client:
            print("conformance serve: --print-config needs --token and --client ID:SECRET (the same flags as "
                  "the server you run): generated credentials differ on every call", file=sys.stderr)
            return 2  # the --config a harness run against this server declares
        print(yaml.safe_dump(run_config(base, config, declared, tokens[0]), sort_keys=False), end="")
        return 0
    print(f"reference server on {base} (timings {args.timings}, faults: {', '.join(sorted(faults)) or 'none'})")
    print(f"  control hook: {base}{config.control_prefix}")
    if not args.token:
        print(f"  bearer token (generated; pass --token to choose): {tokens[0]}")
    if not args.client:
        for cid, secret in clients.items():
            print(f"  ws-progress client (generated; pass --client ID:SECRET): {cid}:{secret}")
    print(f"  tenants: {', '.join(config.tenants)}")
    for profile, timers in declared["timings"].items():
        print(f"  {profile} timings: " + ", ".join(f"{k}={v:g}s" for k, v in timers.items()))
    for profile, options in declared["options"].items():
        print(f"  {profile} options: " + ", ".join(f"{k}={v!r}" for k, v in options.items()
                                                     if not isinstance(v, dict)))
    print("  the config to declare for it: conformance serve --print-config with the same flags "
          "(and --token, --client ID:SECRET twice, so that it names these credentials)", flush=True)
    try:
        serve_forever(config, args.host, args.port)
    except OSError as exc:
        print(f"conformance serve: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


def run_config(base: str, config: ServerConfig, declared: dict[str, Any], token: str) -> dict[str, Any]:
    """A `conformance run --config` file describing this server: URLs, credentials, tenants, and
    the timings and options it declares, so that it is checked exactly as it runs."""
    (client_id, secret), *others = config.clients.items()
    out: dict[str, Any] = {"target": base, "control": base + config.control_prefix, "token": token,
                           "client_id": client_id, "client_secret": secret}
    if others:  # a second client enables the job-ownership scenarios
        out["clients"] = [{"client_id": c, "client_secret": s} for c, s in others]
    return {**out, "tenants": list(config.tenants), "timings": declared["timings"], "options": declared["options"]}
