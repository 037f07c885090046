"""Faults injected for real: a worker SIGKILLed mid-task, the broker stopped and started while a
client streams, serve SIGKILLed while streaming, a second SIGTERM. Each test asserts by counting:
every task answered ok:true is stored exactly once (one record per id, none missing), nothing is
left in the queues, and the processes that were not killed are still alive.

Also: a broker that nacks (a max-length policy with reject-publish), an unroutable task (the
queue deleted under serve) and a full file store (a small tmpfs; needs root, skipped otherwise).

Each test prints a `faults:` line with its counts (sent, accepted, stored, duplicate runs, lost);
run with `-s` to see them. The store outages of PostgreSQL and S3 are in test_stores.py.
"""
import errno
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pika
import pytest

from helpers.clients import RawClient
from helpers.processes import (child_env, rabbitmqctl, read_records, wait_for_results, wait_until,
                               write_file)

#: Bound on every wait for a process or an event in this file.
DEADLINE_S = 90


def report(name, **counts):
    print(f"\nfaults: {name}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


def run_log_handler(tmp_path, seconds=0.3, variant="a"):
    """An external handler `slow` that logs `start N` when it starts and `end N` when done
    (payload N), so the log counts how often each task ran; returns (config path, log path).
    Variants of it (other `seconds`) log to the same file."""
    name = "slow"
    runs = tmp_path / f"{name}.log"
    script = write_file(tmp_path / f"{name}-{variant}.sh",
                        f"#!/bin/sh\np=$(cat)\necho \"start $p\" >> {runs}\nsleep {seconds}\n"
                        f"echo \"end $p\" >> {runs}\necho \"$p\"\n", 0o755)
    config = write_file(tmp_path / f"pfo3-{variant}.toml",
                        f"[handlers.{name}]\ncommand = [\"{script}\"]\n")
    runs.touch()
    return config, runs


def runs_of(log, what="start"):
    """{payload: how many times the handler logged `what` for it}."""
    counts = {}
    for line in log.read_text().splitlines():
        kind, _, payload = line.partition(" ")
        if kind == what:
            counts[int(payload)] = counts.get(int(payload), 0) + 1
    return counts


def submit_all(serve, requests):
    """Pipelines `requests` on one connection; returns their responses in order."""
    with RawClient(serve.port, timeout=DEADLINE_S) as c:
        c.send("".join(json.dumps(r) + "\n" for r in requests))
        return c.read_n(len(requests))


def assert_queues_empty(broker, queue):
    assert broker.message_count(queue) == 0, "every task was acked"
    # 0, not None: the dead queue is declared with the task queue, so None is a wrong name.
    assert broker.message_count(f"{queue}.dead") == 0, "nothing was dead-lettered"


def test_worker_sigkilled_mid_task_loses_nothing_and_stores_each_task_once(
        pfo3, queue, store, broker, tmp_path):
    config, runs = run_log_handler(tmp_path)
    serve = pfo3.serve(queue)
    n = 24
    responses = submit_all(serve, [{"id": f"k-{i:02d}", "type": "slow", "payload": i}
                                   for i in range(n)])
    ids = [r["id"] for r in responses if r["ok"]]
    assert len(ids) == n, responses
    victim = pfo3.work(queue, store, prefetch=4, concurrency=2, config=config)
    victim_name = f":{victim.pid}"

    def mid_task():
        # At least two results stored, and a task started whose result is not stored yet.
        stored = {int(k[2:]) for k in read_records(store)}
        running = set(runs_of(runs)) - stored
        return len(stored) >= 2 and running

    in_hand = wait_until(mid_task, DEADLINE_S, "the victim to be in the middle of a task")
    victim.signal(signal.SIGKILL)
    assert victim.wait_exit() == -signal.SIGKILL

    rescuer = pfo3.work(queue, store, prefetch=4, concurrency=2, config=config)
    records = wait_for_results(store, ids, timeout=DEADLINE_S)
    assert rescuer.terminate() == 0

    assert sorted(read_records(store)) == sorted(ids), "one record per task, no other"
    assert all(r["status"] == "done" and r["result"] == int(r["id"][2:]) for r in records.values())
    started = runs_of(runs)
    assert set(started) == set(range(n)), "every task ran"
    for i in in_hand:
        assert not records[f"k-{i:02d}"]["worker"].endswith(victim_name), \
            f"task {i} was running in the killed worker and must have been redelivered"
    assert_queues_empty(broker, queue)
    assert serve.proc.poll() is None, "serve is alive"
    report("worker SIGKILL", sent=n, accepted=len(ids), stored=len(records),
           in_hand_at_kill=len(in_hand), handler_reruns=sum(c - 1 for c in started.values()),
           stored_twice=0, lost=len(set(ids) - set(records)))


def test_broker_stopped_and_started_while_a_client_streams(pfo3, queue, store, broker,
                                                           rabbitmq_dir):
    total = 3000
    serve = pfo3.serve(queue)
    workers = [pfo3.work(queue, store, prefetch=50, concurrency=4) for _ in range(2)]
    send = subprocess.Popen([pfo3.bin, "send", "--server", serve.address, "--json"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=child_env(), cwd=pfo3.cwd, text=True, bufsize=1)
    printed, errors = [], []

    def collect(stream, into):
        for line in stream:
            into.append(line.rstrip("\n"))

    readers = [threading.Thread(target=collect, args=(send.stdout, printed), daemon=True),
               threading.Thread(target=collect, args=(send.stderr, errors), daemon=True)]
    for t in readers:
        t.start()

    outage_seen, outage_batch_written, recovered = (threading.Event() for _ in range(3))
    in_outage = (2000, 2500)  # these tasks are written while the broker is known to be down

    def feed():
        # A steady 200 tasks/s, so tasks are in flight when the broker goes away; the gates make
        # sure some are written during the outage and some after it, however slow rabbitmqctl is.
        for i in range(total):
            if i == in_outage[0] and not outage_seen.wait(DEADLINE_S):
                break
            if i == in_outage[1]:
                outage_batch_written.set()
                if not recovered.wait(DEADLINE_S):
                    break
            send.stdin.write(json.dumps({"id": f"b-{i:04d}", "type": "echo", "payload": i}) + "\n")
            if i % 10 == 9:
                send.stdin.flush()
                time.sleep(0.05)
        send.stdin.close()

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    probe = RawClient(serve.port, timeout=DEADLINE_S)
    probes = []

    def probe_accepted():
        r = probe.request({"id": f"probe-{len(probes)}", "type": "echo", "payload": 0})
        assert r["ok"] or r["error"] == "unavailable", r
        probes.append(r["id"] if r["ok"] else None)
        return r["ok"]

    # send's stdout is a pipe, so it arrives at the end; stored results show the progress.
    wait_until(lambda: len(list(store.glob("b-*.json"))) >= 300, DEADLINE_S,
               "the first tasks to be accepted and stored")
    rabbitmqctl(rabbitmq_dir, "stop_app")
    try:
        wait_until(lambda: not probe_accepted(), DEADLINE_S, "serve to notice the outage")
        outage_seen.set()
        assert outage_batch_written.wait(DEADLINE_S), "the client streamed during the outage"
    finally:
        rabbitmqctl(rabbitmq_dir, "start_app")
    wait_until(probe_accepted, DEADLINE_S, "serve to publish again after the broker restart")
    recovered.set()
    back_at = in_outage[1]
    feeder.join(timeout=DEADLINE_S)
    try:
        rc = send.wait(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        send.kill()
        raise AssertionError("pfo3 send never finished: some task got no answer") from None
    for t in readers:
        t.join(timeout=10)

    # Every task got an answer: its id (accepted) or `unavailable` (not accepted, retryable).
    assert rc == 1, (rc, errors[:3])
    assert all(e.startswith("error: unavailable:") for e in errors), \
        [e for e in errors if not e.startswith("error: unavailable:")][:3]
    assert len(printed) + len(errors) == total, (len(printed), len(errors))
    assert errors, "tasks written during the outage were rejected"
    accepted = printed + [p for p in probes if p]
    assert len(set(accepted)) == len(accepted)
    assert any(int(i[2:]) >= back_at for i in printed), "accepted again after the restart"

    records = wait_for_results(store, accepted, timeout=DEADLINE_S)
    stored = read_records(store)
    sent_ids = {f"b-{i:04d}" for i in range(total)} | {f"probe-{i}" for i in range(len(probes))}
    assert set(stored) <= sent_ids, "nothing stored that was never sent"
    # A task answered `unavailable` may still have reached the queue (its confirm was lost with
    # the connection): it is then processed too. Never the other way round.
    extra = set(stored) - set(accepted)
    for w in workers:
        assert w.proc.poll() is None, "workers recovered without a restart"
    assert serve.proc.poll() is None, "serve recovered without a restart"
    for w in workers:
        assert w.terminate() == 0
    assert_queues_empty(broker, queue)
    assert serve.terminate() == 0
    report("broker restart", sent=total + len(probes), accepted=len(accepted),
           rejected_unavailable=len(errors) + probes.count(None), stored=len(stored),
           stored_though_rejected=len(extra), stored_twice=0,
           redelivered=sum(1 for r in stored.values() if r["attempts"] > 1),
           lost=len(set(accepted) - set(records)))


def test_serve_sigkilled_while_streaming_keeps_every_accepted_task(pfo3, queue, store, broker):
    serve = pfo3.serve(queue)
    worker = pfo3.work(queue, store, prefetch=50, concurrency=4)
    sock = socket.create_connection(("127.0.0.1", serve.port), timeout=DEADLINE_S)

    def writer():
        try:
            for batch in range(100):
                sock.sendall("".join(
                    json.dumps({"id": f"s-{i:05d}", "type": "echo", "payload": i}) + "\n"
                    for i in range(batch * 50, batch * 50 + 50)).encode())
        except OSError:
            pass  # serve died: that is the fault under test

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    responses = []
    try:
        for line in sock.makefile("rb"):
            responses.append(json.loads(line))
            if len(responses) == 500:
                serve.signal(signal.SIGKILL)
    except (ConnectionResetError, socket.timeout):
        pass
    thread.join(timeout=DEADLINE_S)
    sock.close()
    assert serve.wait_exit() == -signal.SIGKILL
    assert len(responses) >= 500

    accepted = [r["id"] for r in responses if r["ok"]]
    assert all(r.get("error") in (None, "unavailable") for r in responses)
    records = wait_for_results(store, accepted, timeout=DEADLINE_S)
    # Unconfirmed publishes at the kill may have reached the queue: wait until it is drained.
    wait_until(lambda: broker.message_count(queue) == 0, DEADLINE_S, "the queue to drain")
    assert worker.terminate() == 0
    stored = read_records(store)
    assert set(stored) <= {f"s-{i:05d}" for i in range(5000)}
    assert_queues_empty(broker, queue)
    report("serve SIGKILL", sent_at_least=len(responses), accepted=len(accepted),
           stored=len(stored), stored_though_unanswered=len(set(stored) - set(accepted)),
           stored_twice=0, lost=len(set(accepted) - set(records)))


def test_second_sigterm_stops_a_busy_worker_at_once_and_loses_nothing(pfo3, queue, store, broker,
                                                                     tmp_path):
    config, runs = run_log_handler(tmp_path, seconds=5)
    serve = pfo3.serve(queue)
    n = 6
    responses = submit_all(serve, [{"id": f"t-{i}", "type": "slow", "payload": i} for i in range(n)])
    ids = [r["id"] for r in responses if r["ok"]]
    assert len(ids) == n
    worker = pfo3.work(queue, store, prefetch=2, concurrency=2, config=config)
    wait_until(lambda: len(runs_of(runs)) >= 2, DEADLINE_S, "two tasks to be running")

    worker.signal(signal.SIGTERM)
    worker.wait_notified("STOPPING=1")
    stopped_at = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait_exit(timeout=DEADLINE_S) == 0
    assert time.monotonic() - stopped_at < 4, "the second signal does not wait for 5 s tasks"
    assert len(read_records(store)) == 0, "nothing finished before the exit"

    fast_config, _ = run_log_handler(tmp_path, seconds=0, variant="fast")
    rescuer = pfo3.work(queue, store, prefetch=2, concurrency=2, config=fast_config)
    records = wait_for_results(store, ids, timeout=DEADLINE_S)
    assert rescuer.terminate() == 0
    assert sorted(read_records(store)) == sorted(ids)
    assert all(r["status"] == "done" for r in records.values())
    assert_queues_empty(broker, queue)
    report("second SIGTERM", sent=n, accepted=len(ids), stored=len(records), stored_twice=0,
           lost=len(set(ids) - set(records)))


def queue_column(rabbitmq_dir, queue, column):
    """One column of `rabbitmqctl list_queues` for `queue` (as text; None if not listed)."""
    out = rabbitmqctl(rabbitmq_dir, "-q", "list_queues", "--no-table-headers", "name", column)
    for line in out.splitlines():
        fields = line.split()
        if fields and fields[0] == queue:
            return fields[1] if len(fields) > 1 else ""
    return None


def broker_nacks(broker, queue):
    """True if the broker nacks a publish to `queue` now (a probe it accepts is taken back)."""
    conn = broker.connect()
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        try:
            ch.basic_publish("", queue, b"probe", mandatory=True)
        except pika.exceptions.NackError:
            return True
        ch.queue_purge(queue)
        return False
    finally:
        conn.close()


def test_broker_nack_is_answered_unavailable_never_ok(pfo3, queue, broker, rabbitmq_dir):
    serve = pfo3.serve(queue)
    # A policy (not a queue argument: the queue is declared without any) that makes the broker
    # nack every publish to this queue.
    policy = f"pfo3-nack-{queue}"
    rabbitmqctl(rabbitmq_dir, "set_policy", "--apply-to", "queues", policy, f"^{queue}$",
                '{"max-length":0,"overflow":"reject-publish"}')
    try:
        wait_until(lambda: broker_nacks(broker, queue), DEADLINE_S, "the broker to nack")
        refused = submit_all(serve, [{"id": f"n-{i}", "type": "echo", "payload": i}
                                     for i in range(10)])
    finally:
        rabbitmqctl(rabbitmq_dir, "clear_policy", policy)
    wait_until(lambda: not broker_nacks(broker, queue), DEADLINE_S, "the broker to accept again")
    accepted = submit_all(serve, [{"id": f"a-{i}", "type": "echo", "payload": i} for i in range(5)])

    assert all(not r["ok"] and r["error"] == "unavailable" and "nack" in r["message"]
               for r in refused), refused
    assert all(r["ok"] for r in accepted), accepted
    in_queue = sorted(props.message_id for props, _ in broker.drain(queue))
    assert in_queue == [f"a-{i}" for i in range(5)], "exactly the accepted tasks are in the queue"
    assert serve.proc.poll() is None
    report("broker nack", sent=15, accepted=len(accepted), rejected_unavailable=len(refused),
           in_queue=len(in_queue), lost=0)


def test_unroutable_task_is_answered_unavailable_never_ok(pfo3, queue, broker, raw_client):
    serve = pfo3.serve(queue)
    c = raw_client(serve.port)
    assert c.request({"id": "u-0", "type": "echo", "payload": 0})["ok"] is True
    broker.delete_queues([queue])

    r = c.request({"id": "u-1", "type": "echo", "payload": 1}, timeout=DEADLINE_S)

    assert r["ok"] is False and r["error"] == "unavailable", r
    assert "does not exist" in r["message"]
    assert broker.message_count(queue) is None, "no queue took it"
    assert c.request({"op": "ping"})["ok"] is True, "serve goes on"
    assert "unroutable" in serve.stderr()


def test_worker_consuming_again_after_the_broker_cancels_its_consumer(pfo3, queue, store, broker,
                                                                      raw_client):
    """The queue deleted under a worker: RabbitMQ cancels the consumer (basic.cancel) while the
    connection stays up. The worker must notice, declare the queue again and consume again,
    rather than sit on a live connection that no longer delivers anything."""
    serve = pfo3.serve(queue)
    worker = pfo3.work(queue, store)
    wait_until(lambda: broker.consumer_count(queue) == 1, DEADLINE_S, "the worker to consume")
    broker.delete_queues([queue])

    def consumers():
        try:
            return broker.consumer_count(queue)
        except pika.exceptions.ChannelClosedByBroker:  # 404: not declared again yet
            return None

    # Only the worker declares the queue again (serve declares at its own connect only).
    wait_until(lambda: consumers() == 1, DEADLINE_S,
               "the worker to declare the queue again and consume from it")
    c = raw_client(serve.port)
    r = c.request({"id": "after-cancel", "type": "echo", "payload": "still here"}, timeout=DEADLINE_S)
    assert r["ok"] is True, r
    records = wait_for_results(store, ["after-cancel"], timeout=DEADLINE_S)
    assert records["after-cancel"]["result"] == "still here"
    assert "cancelled the consumer" in worker.stderr()
    assert worker.proc.poll() is None and serve.proc.poll() is None
    assert_queues_empty(broker, queue)


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (root only; the test is skipped otherwise); unmounted at the end."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory):
    """Writes a file until the file system is full; returns its path."""
    filler = directory / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    return filler


def test_full_store_keeps_tasks_unacked_until_space_returns(pfo3, queue, broker, small_disk,
                                                            rabbitmq):
    store = small_disk / "results"
    store.mkdir()
    filler = fill(small_disk)
    serve = pfo3.serve(queue)
    worker = pfo3.work(queue, store, prefetch=50, concurrency=2)
    n = 20
    responses = submit_all(serve, [{"id": f"f-{i:02d}", "type": "echo", "payload": "x" * 2000}
                                   for i in range(n)])
    ids = [r["id"] for r in responses if r["ok"]]
    assert len(ids) == n, "serve accepts while the store is full"
    wait_until(lambda: "result store write failed" in worker.stderr(), DEADLINE_S,
               "the worker to report the full store")

    assert read_records(store) == {}
    if rabbitmq[1]:
        unacked = int(queue_column(rabbitmq[1], queue, "messages_unacknowledged"))
        assert unacked == n, "every task is held unacked, none acked without its record"
    filler.unlink()
    records = wait_for_results(store, ids, timeout=DEADLINE_S)
    assert worker.proc.poll() is None, "the worker recovered without a restart"
    assert worker.terminate() == 0
    assert sorted(read_records(store)) == sorted(ids)
    assert all(r["status"] == "done" for r in records.values())
    assert_queues_empty(broker, queue)
    report("store full", sent=n, accepted=len(ids), stored=len(records), stored_twice=0,
           lost=len(set(ids) - set(records)))
