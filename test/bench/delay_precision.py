#!/usr/bin/env python3
"""Delay precision and the broker's memory under waiting tasks (issue 16, docs/benchmarks.md
"Delayed tasks"). Run through test/bench/delay_precision.sh, which starts the broker.

1. Precision: N tasks (10 000) with run_at spread evenly at random over a window (10 minutes)
   from a few seconds ahead, with the real unit (1 s, not compressed); 2 workers run them and
   store started_at in SQLite; the report gives p50/p99/max of started_at - run_at.
2. Memory: M tasks (100 000) with delays of 1-2 hours wait on the ladder; the broker's memory
   (erlang:memory(total), and rabbitmq-diagnostics memory_breakdown) before and after.
"""
import argparse
import datetime
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="milliseconds")


def epoch(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def log(*a):
    print("==", *a, file=sys.stderr, flush=True)


class Run:
    def __init__(self, args):
        self.a = args
        self.state = Path(args.state)
        self.db = self.state / "results.db"
        self.queue = f"pfo3_delay_{os.getpid()}"
        self.procs = []

    def ctl(self, *cmd, tool="rabbitmqctl"):
        env_file = Path(self.a.rabbitmq_dir) / "env"
        env = dict(os.environ)
        for line in env_file.read_text().splitlines():
            if line.startswith("export "):
                k, _, v = line[len("export "):].partition("=")
                env[k] = v.strip("'\"")
        return subprocess.run([f"/usr/lib/rabbitmq/bin/{tool}", "-n", env["RABBITMQ_NODENAME"], *cmd], env=env,
                              capture_output=True, text=True, timeout=120)

    def start(self):
        port = free_port()
        self.server = f"127.0.0.1:{port}"
        config = self.state / "pfo3.toml"
        config.write_text("[serve]\nmax_unconfirmed = 20000\n[schedule]\nmax_delay_s = 86400\n"
                          "[work]\nconcurrency = 8\nprefetch = 200\n")
        env = {k: v for k, v in os.environ.items() if k not in ("PFO3_AMQP_URL", "PFO3_STORE", "PFO3_SERVER")}
        env["PFO3_CONFIG"] = str(config)
        store = f"sqlite://{self.db}"
        common = ["--amqp", self.a.amqp, "--queue", self.queue]
        self.procs.append(subprocess.Popen(
            [self.a.bin, "serve", "--listen", self.server, *common, "--http-listen", "127.0.0.1:0"],
            env={**env, "PFO3_STORE": store}, stdout=open(self.state / "serve.log", "w"), stderr=subprocess.STDOUT,
            cwd=self.state))
        for i in range(2):
            self.procs.append(subprocess.Popen(
                [self.a.bin, "work", *common, "--store", store], env=env,
                stdout=open(self.state / f"work{i}.log", "w"), stderr=subprocess.STDOUT, cwd=self.state))
        deadline = time.time() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                    s.sendall(b'{"op":"ping"}\n')
                    if b"pong" in s.recv(200):
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit("serve did not start: " + (self.state / "serve.log").read_text())
            time.sleep(0.2)

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()

    def send(self, tasks):
        lines = "".join(json.dumps(t) + "\n" for t in tasks)
        r = subprocess.run([self.a.bin, "--log-level", "warn", "send", "--server", self.server, "--json"],
                           input=lines, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise SystemExit(f"pfo3 send failed ({r.returncode}): {r.stderr[-2000:]}")

    def started(self, prefix):
        if not self.db.exists():
            return {}
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30) as c:
            rows = c.execute("SELECT id, started_at FROM pfo3_tasks WHERE status = 'done' AND id LIKE ?",
                             (prefix + "%",)).fetchall()
        return {i: epoch(s) for i, s in rows if s}

    def precision(self):
        n, window = self.a.tasks, self.a.window_s
        rng = random.Random(16)
        t0 = time.time() + 10
        tasks = [{"id": f"p{k:06}", "type": "echo", "payload": k, "run_at": rfc3339(t0 + rng.random() * window)}
                 for k in range(n)]
        run_at = {t["id"]: epoch(t["run_at"]) for t in tasks}
        log(f"precision: sending {n} tasks due over {window} s")
        self.send(tasks)
        deadline = t0 + window + 300
        while True:
            done = self.started("p")
            if len(done) >= n or time.time() > deadline:
                break
            time.sleep(5)
        late = sorted(done[i] - run_at[i] for i in done)
        return {"tasks": n, "window_s": window, "finished": len(done),
                "p50_s": percentile(late, 50), "p99_s": percentile(late, 99),
                "max_s": late[-1] if late else None, "min_s": late[0] if late else None}

    def broker_memory(self):
        r = self.ctl("eval", "erlang:memory(total).")
        total = int(r.stdout.strip()) if r.returncode == 0 else None
        b = self.ctl("memory_breakdown", "--unit", "MB", tool="rabbitmq-diagnostics")
        return total, b.stdout if b.returncode == 0 else b.stderr

    def waiting(self):
        r = self.ctl("list_queues", "-q", "name", "messages")
        total = 0
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0].startswith(self.queue + ".delay.") and parts[1].isdigit():
                total += int(parts[1])
        return total

    def memory(self):
        m = self.a.waiting
        before, _ = self.broker_memory()
        rng = random.Random(17)
        tasks = [{"id": f"m{k:06}", "type": "echo", "payload": k, "delay_s": 3600 + rng.randrange(3600)}
                 for k in range(m)]
        log(f"memory: sending {m} tasks delayed 1-2 h")
        t = time.time()
        self.send(tasks)
        sent_s = time.time() - t
        deadline = time.time() + 300
        while self.waiting() < m and time.time() < deadline:
            time.sleep(2)
        on_ladder = self.waiting()
        after, breakdown = self.broker_memory()
        return {"waiting": on_ladder, "send_s": round(sent_s, 1), "memory_before_bytes": before,
                "memory_after_bytes": after, "breakdown": breakdown}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True)
    p.add_argument("--amqp", required=True)
    p.add_argument("--rabbitmq-dir", required=True, help="the DIR of test/services/rabbitmq.sh")
    p.add_argument("--state", required=True, help="a temp dir for the store and logs")
    p.add_argument("--tasks", type=int, default=10000)
    p.add_argument("--window-s", type=int, default=600)
    p.add_argument("--waiting", type=int, default=100000)
    p.add_argument("--json", help="write the figures here too")
    a = p.parse_args()
    run = Run(a)
    report = {"load_start": os.getloadavg(), "cores": os.cpu_count()}
    run.start()
    try:
        report["precision"] = run.precision() if a.tasks else None
        report["memory"] = run.memory() if a.waiting else None
    finally:
        run.stop()
    report["load_end"] = os.getloadavg()
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=2))
    pr, mem = report["precision"], report["memory"]
    print(f"load average at start {report['load_start'][0]:.1f}, at end {report['load_end'][0]:.1f} "
          f"on {report['cores']} cores")
    if pr:
        print(f"precision: {pr['finished']}/{pr['tasks']} tasks over {pr['window_s']} s, started_at - run_at: "
              f"p50 {pr['p50_s'] * 1000:.0f} ms, p99 {pr['p99_s'] * 1000:.0f} ms, "
              f"max {pr['max_s'] * 1000:.0f} ms, min {pr['min_s'] * 1000:.0f} ms")
    if mem:
        mib = lambda b: f"{b / 2**20:.0f} MiB" if b else "?"
        print(f"memory: {mem['waiting']} tasks waiting on the ladder (sent in {mem['send_s']} s): broker total "
              f"{mib(mem['memory_before_bytes'])} before, {mib(mem['memory_after_bytes'])} after")
        print(mem["breakdown"])
    ok = (not pr or pr["finished"] == pr["tasks"]) and (not mem or mem["waiting"] == a.waiting)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
