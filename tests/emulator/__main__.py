"""Command line: start the emulated Windows fleet and write an Ansible inventory for it.

    PYTHONPATH=tests python -m emulator serve --inventory .work/fleet/hosts.yml
    PYTHONPATH=tests python -m emulator list

`serve` runs until it gets SIGTERM or SIGINT. With --processes N the hosts are shared out over N worker
processes (each host lives in one), so that the hosts' PowerShell runs on several cores. With --pidfile it writes its pid there, and it
creates --ready-file once every listener is up, so scripts can wait for it.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import signal
import sys
import threading

from emulator.fleet import fixture_configs, serve_fleet
from emulator.windows import load_fleet


def _serve(args: argparse.Namespace) -> int:
    names = [name for name in args.hosts.split(",") if name] if args.hosts else None
    fleet = serve_fleet(fixture_configs, (names, args.distinct_addresses), args.processes)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with fleet:
        inventory = fleet.inventory(args.inventory, operation_timeout_sec=args.operation_timeout,
                                    read_timeout_sec=args.operation_timeout + 10)
        if args.pidfile:
            pathlib.Path(args.pidfile).write_text(f"{os.getpid()}\n", encoding="ascii")
        print(f"emulated Windows fleet: {len(fleet)} hosts; inventory {inventory}", flush=True)
        if args.ready_file:
            pathlib.Path(args.ready_file).write_text("ready\n", encoding="ascii")
        stop.wait()
    if args.pidfile:
        pathlib.Path(args.pidfile).unlink(missing_ok=True)
    return 0


def _list(_args: argparse.Namespace) -> int:
    for host in load_fleet():
        expected = host.expect.get("status") or ("unreachable" if host.expect.get("unreachable") else "failed")
        print(f"{host.name:28} {host.caption:48} PS {host.powershell or '-':4} {expected:22} {host.description}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__.split("\n", maxsplit=1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the fleet and write an inventory")
    serve.add_argument("--inventory", required=True, help="where to write the YAML inventory")
    serve.add_argument("--hosts", help="comma-separated fixture names (default: all)")
    serve.add_argument("--distinct-addresses", action="store_true", help="one 127.0.0.x address per host")
    serve.add_argument("--operation-timeout", type=int, default=10, help="ansible_winrm_operation_timeout_sec")
    serve.add_argument("--processes", type=int, default=1,
                       help="serve the hosts from this many worker processes, each host in one (default: 1, this one)")
    serve.add_argument("--pidfile")
    serve.add_argument("--ready-file")
    serve.set_defaults(func=_serve)
    listing = commands.add_parser("list", help="list the fixture hosts and what each should be judged")
    listing.set_defaults(func=_list)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
