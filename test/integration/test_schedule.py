"""Delayed tasks (decision 0012): "run_at" / "delay_s" held by RabbitMQ on the delay ladder,
the `scheduled` record serve stores, the order and punctuality of delayed tasks, and a broker
restart while tasks wait. Time is compressed with [schedule] unit_ms = 10."""
import datetime
import json
import random
import shutil
import tempfile
import time
from pathlib import Path
from collections import Counter

import pytest

from helpers.clients import RawClient
from helpers.processes import rabbitmqctl, rss_kib, wait_for_results, wait_until, write_file
from helpers.retries import ladder_message_count, read_record

UNIT_MS = 10


def config_file(tmp_path, extra=""):
    return write_file(tmp_path / "pfo3.toml", f"""
[schedule]
unit_ms = {UNIT_MS}
max_delay_s = 3600
{extra}
""")


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="milliseconds")


def epoch(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_scheduled_task_is_answered_and_recorded_scheduled_then_runs_on_time(
        pfo3, queue, store, tmp_path):
    config = config_file(tmp_path)
    serve = pfo3.serve(queue, config=config, env={"PFO3_STORE": f"file://{store}"})
    with RawClient(serve.port) as c:
        before = datetime.datetime.now(datetime.timezone.utc).timestamp()
        reply = c.request({"id": "later", "type": "echo", "payload": 1, "delay_s": 3})
        assert reply["ok"] and reply["status"] == "scheduled", reply
        assert 2.9 <= epoch(reply["run_at"]) - before <= 4, reply
        status = c.request({"op": "status", "id": "later"})
        assert status["status"] == "scheduled" and status["attempts"] == 0, status
    # No worker yet: the ladder holds it. One starts now and must not run it early.
    pfo3.work(queue, store, config=config)
    record = wait_for_results(store, ["later"], timeout=30)["later"]
    assert record["status"] == "done" and record["result"] == 1
    assert epoch(record["started_at"]) >= epoch(reply["run_at"]) - UNIT_MS / 1000
    assert epoch(record["started_at"]) <= epoch(reply["run_at"]) + 3


def test_schedule_requests_that_break_a_rule_are_refused(pfo3, queue, store, tmp_path):
    serve = pfo3.serve(queue, config=config_file(tmp_path), env={"PFO3_STORE": f"file://{store}"})
    far = rfc3339(datetime.datetime.now().timestamp() + 7200)
    with RawClient(serve.port) as c:
        for bad, words in [
            ({"type": "echo", "run_at": far}, "max_delay_s"),
            ({"type": "echo", "delay_s": 3601}, "max_delay_s"),
            ({"type": "echo", "delay_s": 5, "run_at": far}, "not both"),
            ({"type": "echo", "run_at": "next tuesday"}, "RFC 3339"),
            ({"type": "echo", "priority": 3}, "max_priority"),
        ]:
            reply = c.request(bad)
            assert not reply["ok"] and reply["error"] == "bad_request", (bad, reply)
            assert words in reply["message"], (bad, reply)
        # A run_at in the past runs now: queued, not scheduled.
        reply = c.request({"id": "past", "type": "echo", "payload": 2, "run_at": "2001-01-01T00:00:00Z"})
        assert reply["ok"] and reply["status"] == "queued", reply
    pfo3.work(queue, store, config=config_file(tmp_path))
    assert wait_for_results(store, ["past"], timeout=30)["past"]["result"] == 2


def test_delays_finish_in_delay_order_each_on_time(pfo3, queue, store, tmp_path):
    config = config_file(tmp_path, "[work]\nconcurrency = 4\nprefetch = 4\n")
    serve = pfo3.serve(queue, config=config)
    pfo3.work(queue, store, config=config)
    start = datetime.datetime.now().timestamp() + 1
    # 15 tasks 0.3 s apart, submitted in a shuffled order; the longest waits 5.2 s.
    tasks = [{"id": f"d{k:02}", "type": "echo", "payload": k, "run_at": rfc3339(start + 0.3 * k)}
             for k in range(1, 16)]
    random.Random(7).shuffle(tasks)
    r = pfo3.send(serve.address, tasks, json_mode=True)
    assert r.returncode == 0, r.stderr
    records = wait_for_results(store, [t["id"] for t in tasks], timeout=60)
    late = {}
    for t in tasks:
        started = epoch(records[t["id"]]["started_at"])
        assert started >= epoch(t["run_at"]) - UNIT_MS / 1000, (t, records[t["id"]])
        late[t["id"]] = started - epoch(t["run_at"])
    assert max(late.values()) < 2.0, late
    by_start = sorted(records, key=lambda i: epoch(records[i]["started_at"]))
    assert by_start == sorted(records), "delayed tasks start in run_at order"


def test_a_long_delay_does_not_hold_back_a_short_one(pfo3, queue, store, tmp_path):
    config = config_file(tmp_path)
    serve = pfo3.serve(queue, config=config)
    pfo3.work(queue, store, config=config)
    r = pfo3.send(serve.address, [{"id": "hour", "type": "echo", "delay_s": 3600},
                                  {"id": "second", "type": "echo", "delay_s": 1}], json_mode=True)
    assert r.returncode == 0, r.stderr
    sent = datetime.datetime.now().timestamp()
    record = wait_for_results(store, ["second"], timeout=30)["second"]
    assert epoch(record["finished_at"]) - sent < 4
    assert read_record(store, "hour") is None


def test_send_at_and_in_ask_for_a_delay(pfo3, queue, store, tmp_path):
    config = config_file(tmp_path)
    serve = pfo3.serve(queue, config=config, env={"PFO3_STORE": f"file://{store}"})
    at = rfc3339(datetime.datetime.now().timestamp() + 600)
    ids = []
    for flags in (["--at", at], ["--in", "10m"]):
        r = pfo3.send(serve.address, ["x"], extra=flags)
        assert r.returncode == 0, r.stderr
        ids += r.stdout.split()
    for task_id in ids:
        r = pfo3.run(["status", "--server", serve.address, task_id])
        assert json.loads(r.stdout)["status"] == "scheduled", r.stdout
    for flags, words in [(["--in", "soon"], "duration"), (["--at", "noon"], "RFC 3339"),
                         (["--at", at, "--in", "5"], "not both")]:
        r = pfo3.send(serve.address, ["x"], extra=flags)
        assert r.returncode == 2 and words in r.stderr, (flags, r.stderr)


@pytest.mark.scale
def test_broker_restart_while_10000_tasks_wait_loses_none_and_runs_none_twice(
        pfo3, queue, store, tmp_path, rabbitmq_dir, broker):
    # One line per run in one file (O_APPEND: lines never interleave); a shell builtin each,
    # so 10 000 runs cost 10 000 forks of sh and no more.
    log = tmp_path / "runs.log"
    script = write_file(tmp_path / "count.sh", f"""#!/bin/sh
echo "$PFO3_TASK_ID" >> "{log}"
echo 1
""", 0o755)
    config = config_file(tmp_path, f"""
[work]
concurrency = 8
prefetch = 64
[handlers.count]
command = ["{script}"]
""")
    serve = pfo3.serve(queue, config=config)
    # The figure: 10 000 tasks, due 30 to 60 s from now, all waiting on the ladder
    # when the broker stops; no worker yet, so none has run before the restart.
    n = 10000
    now = datetime.datetime.now().timestamp()
    rng = random.Random(11)
    tasks = [{"id": f"r{k:05}", "type": "count", "payload": k, "run_at": rfc3339(now + 30 + rng.random() * 30)}
             for k in range(n)]
    r = pfo3.send(serve.address, stdin="".join(json.dumps(t) + "\n" for t in tasks), json_mode=True,
                  timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    # None due yet: all are on the ladder (a sum over its levels would race the hops).
    assert broker.message_count(queue) == 0
    rabbitmqctl(rabbitmq_dir, "stop_app")
    rabbitmqctl(rabbitmq_dir, "start_app")
    pfo3.work(queue, store, config=config)
    ids = [t["id"] for t in tasks]
    records = wait_for_results(store, ids, timeout=240)
    assert all(rec["status"] == "done" for rec in records.values())
    counts = Counter(log.read_text().split())
    assert len(counts) == n and set(counts.values()) == {1}, [i for i, c in counts.items() if c != 1][:10]


def test_a_task_that_arrives_before_its_run_at_is_sent_back_for_the_rest(
        pfo3, queue, store, tmp_path, broker):
    config = config_file(tmp_path)
    pfo3.work(queue, store, config=config)
    # Another producer (or a clock ahead of serve's) puts it straight into the task queue.
    run_at = datetime.datetime.now().timestamp() + 3
    broker.publish(queue, json.dumps({"id": "early", "type": "echo", "payload": 5,
                                      "run_at": rfc3339(run_at)}))
    record = wait_for_results(store, ["early"], timeout=30)["early"]
    assert record["result"] == 5 and record["attempts"] == 1, record
    assert epoch(record["started_at"]) >= run_at - UNIT_MS / 1000, record
    assert epoch(record["started_at"]) < run_at + 3, record


def arrival(broker, queue, timeout):
    """Polls `queue` (no worker runs) until a task is there: (monotonic time, its x-death)."""
    conn = broker.connect()
    try:
        ch = conn.channel()
        deadline = time.monotonic() + timeout
        while True:
            method, props, _ = ch.basic_get(queue, auto_ack=True)
            if method is not None:
                return time.monotonic(), (props.headers or {}).get("x-death", [])
            assert time.monotonic() < deadline, f"no task in {queue} after {timeout} s"
            conn.sleep(0.01)  # poll interval, bounded by the deadline above
    finally:
        conn.close()


def hops(deaths):
    """{queue: times dead-lettered from it} of an x-death header; every hop is an expiry."""
    assert all(d["reason"] == b"expired" or d["reason"] == "expired" for d in deaths), deaths
    return {(d["queue"].decode() if isinstance(d["queue"], bytes) else d["queue"]): d["count"] for d in deaths}


def level_name(queue, level, quorum=False):
    return f"{queue}.delay.{'quorum.' if quorum else ''}{UNIT_MS << level}"


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
def test_a_delay_arrives_on_time_through_exactly_the_hops_of_its_bits(pfo3, queue, tmp_path, broker, queue_type):
    quorum = queue_type == "quorum"
    serve = pfo3.serve(queue, config=config_file(tmp_path, f'[amqp]\nqueue_type = "{queue_type}"\n'))
    delay_s = 7  # 700 units = 0b1010111100 over 10 levels: waits at 6 of them, passes 4 straight on
    units = delay_s * 1000 // UNIT_MS
    with RawClient(serve.port) as c:
        sent = time.monotonic()
        reply = c.request({"id": "bits", "type": "echo", "delay_s": delay_s})
        assert reply["ok"] and reply["status"] == "scheduled", reply
    at, deaths = arrival(broker, queue, timeout=60)
    expected = {level_name(queue, level, quorum): 1 for level in range(10) if units >> level & 1}
    assert len(expected) == 6
    assert hops(deaths) == expected
    assert delay_s <= at - sent < delay_s + 3, at - sent


def test_a_30_day_delay_passes_exactly_the_levels_of_its_bits(pfo3, queue, tmp_path, broker, rabbitmq_dir):
    # 30 days at unit_ms = 10 is 259 200 000 units: 7.2 hours of waiting even compressed. A
    # policy caps every level's TTL at 1 ms (the lower of policy and x-message-ttl applies),
    # so the task runs the whole 28-level route at once: the routing is what is proven here,
    # the waiting by the test above (and by broker_delay_test.cpp with the real TTLs).
    policy = f"pfo3-test-{queue}"
    rabbitmqctl(rabbitmq_dir, "set_policy", "--apply-to", "queues", policy, f"^{queue}\\.delay\\.",
                '{"message-ttl": 1}')
    try:
        config = config_file(tmp_path).read_text().replace("max_delay_s = 3600", "max_delay_s = 2592000")
        serve = pfo3.serve(queue, config=write_file(tmp_path / "month.toml", config))
        with RawClient(serve.port) as c:
            reply = c.request({"id": "month", "type": "echo", "delay_s": 30 * 86400})
            assert reply["ok"] and reply["status"] == "scheduled", reply
        _, deaths = arrival(broker, queue, timeout=60)
    finally:
        rabbitmqctl(rabbitmq_dir, "clear_policy", policy)
    units = 30 * 86400 * 1000 // UNIT_MS
    assert units.bit_length() == 28
    expected = {level_name(queue, level): 1 for level in range(28) if units >> level & 1}
    assert len(expected) == bin(units).count("1")
    assert hops(deaths) == expected


@pytest.mark.scale
def test_100000_scheduled_tasks_leave_a_workers_memory_flat(pfo3, queue, store, tmp_path, broker, request):
    config = config_file(tmp_path, "[work]\nconcurrency = 4\nprefetch = 64\n")
    # serve stores a `scheduled` record per task: in SQLite (not 100 000 files) on tmpfs, where
    # its fsync per commit is free (on this disk it made the submits take 2.5 minutes).
    shm = Path(tempfile.mkdtemp(prefix="pfo3-test-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    request.addfinalizer(lambda: shutil.rmtree(shm, ignore_errors=True))
    serve = pfo3.serve(queue, config=config, env={"PFO3_STORE": f"sqlite://{shm / 'serve.db'}"})
    worker = pfo3.work(queue, store, config=config)
    # Warm the worker up (threads, buffers, the ladder it declares) with tasks it runs now.
    warm = [{"id": f"w{k}", "type": "echo", "payload": k} for k in range(200)]
    assert pfo3.send(serve.address, warm, json_mode=True).returncode == 0
    wait_for_results(store, [t["id"] for t in warm], timeout=60)
    before = rss_kib(worker.pid)
    n = 100000
    rng = random.Random(5)
    tasks = "".join(json.dumps({"id": f"m{k:06}", "type": "echo", "delay_s": 600 + rng.randrange(3000)}) + "\n"
                    for k in range(n))
    r = pfo3.send(serve.address, stdin=tasks, json_mode=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    # They wait in the broker, not in the worker: every one is on the ladder...
    wait_until(lambda: ladder_message_count(broker, queue, UNIT_MS) == n, 60, f"{n} tasks on the ladder", every=1)
    after = rss_kib(worker.pid)
    # ...and the worker grew by less than 4 KiB per 100 tasks (a task held costs far more).
    assert after - before < 4096, (before, after)
    assert broker.message_count(queue) == 0
