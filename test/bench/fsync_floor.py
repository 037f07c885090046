#!/usr/bin/env python3
"""The disk's floor under submit -> stored: latency of a 4 KiB append + fdatasync in DIR.

A result is stored once its group's WAL append is synced, so no pfo3 latency to "stored" can
be lower than this on the same disk; the broker's publish -> delivered involves no sync at all.
Usage: fsync_floor.py DIR OUT.json [N]
"""
import json
import os
import sys
import time


def main():
    directory, out = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    path = os.path.join(directory, "fsync-floor.tmp")
    block = b"x" * 4096
    samples = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for _ in range(n):
            t = time.perf_counter()
            os.write(fd, block)
            os.fdatasync(fd)
            samples.append((time.perf_counter() - t) * 1000.0)
    finally:
        os.close(fd)
        os.unlink(path)
    samples.sort()

    def q(f):
        return samples[min(len(samples) - 1, int(f * len(samples)))]

    report = {"samples": n, "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": samples[-1]}
    with open(out, "w") as f:
        json.dump(report, f)
    print(f"fdatasync of a 4 KiB append in {directory}: p50 {report['p50']:.2f} ms, p99 {report['p99']:.2f} ms "
          f"({n} samples)")


if __name__ == "__main__":
    main()
