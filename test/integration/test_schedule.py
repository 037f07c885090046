"""Delayed tasks (decision 0012): "run_at" / "delay_s" held by RabbitMQ on the delay ladder,
the `scheduled` record serve stores, the order and punctuality of delayed tasks, and a broker
restart while tasks wait. Time is compressed with [schedule] unit_ms = 10."""
import datetime
import json
import random
from collections import Counter

from helpers.clients import RawClient
from helpers.processes import rabbitmqctl, wait_for_results, write_file
from helpers.retries import counting_script, read_record, runs

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


def test_broker_restart_while_tasks_wait_loses_none_and_runs_none_twice(
        pfo3, queue, store, tmp_path, rabbitmq_dir):
    script = counting_script(tmp_path, fails=0)
    config = config_file(tmp_path, f"""
[work]
concurrency = 4
prefetch = 8
[handlers.count]
command = ["{script}"]
""")
    serve = pfo3.serve(queue, config=config)
    pfo3.work(queue, store, config=config)
    # 300 tasks due 4 to 16 s from now, many of them while the broker is down.
    now = datetime.datetime.now().timestamp()
    rng = random.Random(11)
    tasks = [{"id": f"r{k:03}", "type": "count", "payload": k, "run_at": rfc3339(now + 4 + rng.random() * 12)}
             for k in range(300)]
    r = pfo3.send(serve.address, tasks, json_mode=True)
    assert r.returncode == 0, r.stderr
    rabbitmqctl(rabbitmq_dir, "stop_app")
    rabbitmqctl(rabbitmq_dir, "start_app")
    ids = [t["id"] for t in tasks]
    records = wait_for_results(store, ids, timeout=120)
    assert all(rec["status"] == "done" for rec in records.values())
    counts = Counter({task_id: len(runs(tmp_path, task_id)) for task_id in ids})
    assert set(counts.values()) == {1}, [i for i, n in counts.items() if n != 1][:10]


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
