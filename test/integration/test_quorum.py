"""queue_type = "quorum" on a single node (decision 0013): the queues carry the replicated,
bounded, at-least-once arguments; a queue that exists with other arguments stops serve and work
with exit 2; a handler that kills its worker ends `dead` after delivery_limit - 1 crashes; a
clean shutdown costs the tasks it never started no attempt. The cluster stage (test/cluster)
kills nodes under load."""
import json
import time

import pika

from helpers.processes import REPO, rabbitmqctl, wait_for_results, wait_until, write_file

HANDLERS = REPO / "test" / "data" / "handlers"
DEADLINE_S = 90


def quorum_config(tmp_path, extra=""):
    return write_file(tmp_path / "pfo3.toml", f"""
[amqp]
queue_type = "quorum"
delivery_limit = 3
{extra}
""")


def queue_info(rabbitmq_dir, name):
    out = rabbitmqctl(rabbitmq_dir, "-q", "list_queues", "--no-table-headers", "name", "type", "arguments")
    for line in out.splitlines():
        if line.split("\t")[0] == name:
            return line
    raise AssertionError(f"{name} not listed:\n{out}")


def unacked(rabbitmq_dir, name):
    out = rabbitmqctl(rabbitmq_dir, "-q", "list_queues", "--no-table-headers", "name", "messages_unacknowledged")
    for line in out.splitlines():
        fields = line.split()
        if fields and fields[0] == name:
            return int(fields[1])
    return None


def test_quorum_queues_carry_their_arguments_and_tasks_flow(pfo3, queue, store, raw_client, tmp_path,
                                                            rabbitmq_dir):
    config = quorum_config(tmp_path, "max_length = 5000\n")
    serve = pfo3.serve(queue, config=config)
    pfo3.work(queue, store, config=config, prefetch=8)
    c = raw_client(serve.port)
    ids = [f"q-{i}" for i in range(30)]
    for i in ids:
        assert c.request({"id": i, "type": "echo", "payload": i}, timeout=30)["ok"] is True
    wait_for_results(store, ids, timeout=DEADLINE_S)
    task = queue_info(rabbitmq_dir, queue)
    assert "\tquorum\t" in task, task
    for arg in ("x-delivery-limit", "x-dead-letter-strategy", "at-least-once", "reject-publish",
                "x-max-length", "5000", f"{queue}.dead", "x-quorum-initial-group-size"):
        assert arg in task, (arg, task)
    dead = queue_info(rabbitmq_dir, f"{queue}.dead")
    assert "\tquorum\t" in dead and "reject-publish" in dead, dead


def test_an_existing_classic_queue_under_a_quorum_config_is_exit_2_naming_the_argument(
        pfo3, queue, store, tmp_path, amqp_url, broker):
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    conn.channel().queue_declare(queue, durable=True)  # classic, as the teaching programs declare it
    conn.close()
    config = quorum_config(tmp_path)
    for role in (["serve", "--listen", "127.0.0.1:0"], ["work", "--store", f"file://{store}"]):
        r = pfo3.run(["--config", str(config), *role, "--amqp", amqp_url, "--queue", queue], timeout=60)
        assert r.returncode == 2, (role, r.returncode, r.stderr[-2000:])
        # Every differing argument, not only the first one the broker names.
        for arg in ("x-queue-type: pfo3 declares quorum, the queue has (none)",
                    'x-dead-letter-exchange: pfo3 declares "", the queue has (none)',
                    "x-max-length: pfo3 declares 1000000, the queue has (none)"):
            assert arg in r.stderr, (arg, r.stderr[-3000:])
        assert "x-queue-type=quorum" in r.stderr and f"delete_queue {queue}" in r.stderr, r.stderr[-2000:]
    assert broker.message_count(queue) == 0, "the existing queue is left as it was"


def test_a_handler_that_kills_its_worker_is_dead_after_delivery_limit_minus_one_crashes(
        pfo3, queue, store, raw_client, tmp_path, broker):
    config = quorum_config(tmp_path, """
[handlers.killer]
command = ["/bin/sh", "-c", "kill -9 $PPID; sleep 5"]
""")
    serve = pfo3.serve(queue, config=config)
    assert raw_client(serve.port).request({"id": "loop-1", "type": "killer", "payload": 1})["ok"] is True
    crashes = 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and crashes <= 5:
        worker = pfo3.work(queue, store, config=config, ready=False)
        wait_until(lambda: worker.proc.poll() is not None or (store / "loop-1.json").exists(), 120,
                   "the worker to die or store the task")
        if worker.proc.poll() is None:
            break  # alive: it stored the task instead of running it
        crashes += 1
    records = wait_for_results(store, ["loop-1"], timeout=DEADLINE_S)
    rec = records["loop-1"]
    assert crashes == 2, f"{crashes} workers died (delivery_limit 3 allows 2)"
    assert rec["status"] == "dead", rec
    assert "killed its worker" in rec["error"] and "delivery_limit is 3" in rec["error"], rec
    wait_until(lambda: broker.message_count(f"{queue}.dead") == 1, 30, "the dead letter")


def test_a_clean_shutdown_costs_unstarted_tasks_no_attempt(pfo3, queue, store, raw_client, tmp_path,
                                                           rabbitmq_dir):
    gate = tmp_path / "gate"
    config = write_file(tmp_path / "pfo3.toml", f"""
[handlers.gated]
command = ["/bin/sh", "-c", "while [ ! -e '{gate}' ]; do sleep 0.05; done; cat"]
""")
    serve = pfo3.serve(queue, config=config)
    first = pfo3.work(queue, store, config=config, prefetch=5, concurrency=1)
    c = raw_client(serve.port)
    ids = [f"g-{i}" for i in range(5)]
    for i in ids:
        assert c.request({"id": i, "type": "gated", "payload": i})["ok"] is True
    wait_until(lambda: unacked(rabbitmq_dir, queue) == 5, DEADLINE_S, "the worker to hold all five")
    first.signal()
    gate.write_text("go")  # the one running task finishes within the grace period
    assert first.wait_exit(timeout=60) == 0
    pfo3.work(queue, store, config=config, prefetch=5, concurrency=1)
    records = wait_for_results(store, ids, timeout=DEADLINE_S)
    attempts = {i: r["attempts"] for i, r in records.items()}
    assert all(r["status"] == "done" for r in records.values()), records
    assert set(attempts.values()) == {1}, f"a clean shutdown counted attempts: {attempts}"


def test_quorum_ladder_levels_are_quorum_and_a_classic_ladder_left_behind_still_drains(
        pfo3, queue, store, tmp_path, rabbitmq_dir, broker):
    # A task waits on the classic ladder of a classic configuration...
    classic = write_file(tmp_path / "classic.toml", "[schedule]\nunit_ms = 10\n")
    serve = pfo3.serve(queue, config=classic)
    r = pfo3.send(serve.address, [{"id": "old", "type": "echo", "payload": 1, "delay_s": 20}], json_mode=True)
    assert r.returncode == 0, r.stderr
    serve.terminate()
    # ...when the operator moves the queue to quorum (the task queue must be deleted for that:
    # test_an_existing_classic_queue_under_a_quorum_config_is_exit_2_naming_the_argument).
    rabbitmqctl(rabbitmq_dir, "delete_queue", queue)
    rabbitmqctl(rabbitmq_dir, "delete_queue", f"{queue}.dead")
    config = quorum_config(tmp_path, "[schedule]\nunit_ms = 10\n")
    serve = pfo3.serve(queue, config=config)
    pfo3.work(queue, store, config=config)
    r = pfo3.send(serve.address, [{"id": "new", "type": "echo", "payload": 2, "delay_s": 1}], json_mode=True)
    assert r.returncode == 0, r.stderr
    records = wait_for_results(store, ["new", "old"], timeout=DEADLINE_S)
    assert records["new"]["result"] == 2 and records["old"]["result"] == 1, records
    # The quorum ladder has its own names (no 406 against the classic levels left behind).
    for level in (0, 6):  # 1 s = 100 units: levels 6, 5 and 2 wait; 0 is declared on the way
        info = queue_info(rabbitmq_dir, f"{queue}.delay.quorum.{10 << level}")
        assert "\tquorum\t" in info, info
        for arg in ("x-dead-letter-strategy", "at-least-once", "reject-publish", "x-message-ttl",
                    f"{10 << level}", "x-max-length", "x-quorum-initial-group-size"):
            assert arg in info, (arg, info)
    old = queue_info(rabbitmq_dir, f"{queue}.delay.{10 << 10}")  # 20 s = 2000 units: top level 10
    assert "\tclassic\t" in old, old
