"""Helpers for the retry tests: the delay ladder's names, handler scripts that
count their runs, and a keeper that restarts workers a poison task kills.
"""
import json
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from helpers.processes import POLL_S, rabbitmqctl, write_file

#: The delay ladder's levels the suite may use (decision 0012): [schedule] unit_ms 1000 (the
#: default) and 10 (test_schedule.py), 2^0 .. 2^29 units.
LADDER_UNITS_MS = (1000, 10)
LADDER_LEVELS = 30


def ladder_names(queue):
    """Every delay-ladder queue/exchange name pfo3 may have declared for `queue` (classic
    `<queue>.delay.<ms>`, quorum `<queue>.delay.quorum.<ms>`)."""
    names = [f"{queue}.delay.{kind}{unit << level}" for kind in ("", "quorum.")
             for unit in LADDER_UNITS_MS for level in range(LADDER_LEVELS)]
    return sorted(set(names)) + [f"{queue}.delay.due"]


def ladder_message_count(broker, queue, unit_ms=1000, quorum=False):
    """Tasks waiting on `queue`'s delay ladder of `unit_ms` (retries and delayed tasks)."""
    kind = "quorum." if quorum else ""
    counts = (broker.message_count(f"{queue}.delay.{kind}{unit_ms << level}") for level in range(LADDER_LEVELS))
    return sum(c for c in counts if c)


def queues_of(rabbitmq_dir, amqp_url, queue):
    """{name: messages} of every queue the broker lists for `queue` (itself and `<queue>.*`) in
    the virtual host of `amqp_url`: the broker's own list, not a guess at names."""
    vhost = unquote(urlsplit(amqp_url).path[1:]) or "/"
    out = rabbitmqctl(rabbitmq_dir, "-q", "list_queues", "-p", vhost, "--no-table-headers", "name", "messages")
    listed = {}
    for line in out.splitlines():
        name, messages = line.rsplit(None, 1)
        if name == queue or name.startswith(queue + "."):
            listed[name] = int(messages)
    return listed


def counting_script(directory, fails, result="cat", name="flaky.sh"):
    """A handler that appends `<run> <epoch seconds> <PFO3_TASK_ATTEMPT>` to `<id>.log` in
    `directory` on every run, fails its first `fails` runs per task (exit 1), then runs
    `result` (default: echo the payload). Returns its Path."""
    directory = Path(directory)
    return write_file(directory / name, f"""#!/bin/sh
log="{directory}/$PFO3_TASK_ID.log"
n=$(( $(cat "$log" 2>/dev/null | wc -l) + 1 ))
echo "$n $(date +%s.%N) $PFO3_TASK_ATTEMPT" >> "$log"
if [ "$n" -le {fails} ]; then echo "failing run $n on purpose" >&2; exit 1; fi
{result}
""", 0o755)


def runs(directory, task_id):
    """The runs a counting_script logged for `task_id`: [(run, started_at, attempt)]."""
    path = Path(directory) / f"{task_id}.log"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        n, at, attempt = line.split()
        out.append((int(n), float(at), int(attempt)))
    return out


def read_record(store, task_id):
    """The stored record of `task_id`, or None."""
    try:
        return json.loads((Path(store) / f"{task_id}.json").read_text())
    except FileNotFoundError:
        return None


class WorkerKeeper:
    """Keeps `count` workers running: each check() replaces the ones that died (at most
    `max_restarts` in all, so a task that kills every worker cannot loop the test forever)."""

    def __init__(self, pfo3, count, max_restarts, **work_args):
        self.pfo3 = pfo3
        self.work_args = work_args
        self.max_restarts = max_restarts
        self.deaths = 0
        self.workers = [pfo3.work(**work_args) for _ in range(count)]

    def check(self):
        for i, w in enumerate(self.workers):
            if w.proc.poll() is not None:
                self.deaths += 1
                assert self.deaths <= self.max_restarts, \
                    f"{self.deaths} workers died; bound is {self.max_restarts}"
                self.workers[i] = self.pfo3.work(**self.work_args)

    def wait(self, condition, timeout, what):
        """Polls `condition` (restarting dead workers meanwhile) until true; fails at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            self.check()
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what} "
                                     f"({self.deaths} worker deaths)")
            time.sleep(POLL_S)
