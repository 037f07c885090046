#!/usr/bin/env python3
"""Serve's memory while it holds many connections (docs/benchmarks.md, issue 5's RSS target).

    test/bench/hold_connections.py --server 127.0.0.1:5000 --serve-pid PID [--connections 1000]

Opens N connections to a running `pfo3 serve`, submits one echo task on each (so every session
has parsed, published and answered once), keeps them all open, and prints serve's VmRSS and
VmHWM (peak) from /proc before and while holding them. Exit 1 if any task was not accepted.
"""
import argparse
import json
import resource
import socket
import sys


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields["VmRSS"], fields["VmHWM"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", required=True, help="HOST:PORT of pfo3 serve")
    ap.add_argument("--serve-pid", type=int, required=True)
    ap.add_argument("--connections", type=int, default=1000)
    args = ap.parse_args()
    host, _, port = args.server.rpartition(":")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.connections + 64)), hard))

    rss, hwm = memory(args.serve_pid)
    print(f"serve before: VmRSS {rss}, VmHWM {hwm}")
    conns = [socket.create_connection((host, int(port)), timeout=60) for _ in range(args.connections)]
    for c in conns:
        c.sendall(json.dumps({"type": "echo", "payload": "x" * 54}).encode() + b"\n")
    accepted = sum(bool(json.loads(c.makefile("rb").readline())["ok"]) for c in conns)
    rss, hwm = memory(args.serve_pid)
    print(f"serve holding {len(conns)} connections ({accepted} tasks accepted): VmRSS {rss}, VmHWM {hwm}")
    for c in conns:
        c.close()
    return 0 if accepted == len(conns) else 1


if __name__ == "__main__":
    sys.exit(main())
