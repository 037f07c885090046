"""Every record tells the truth (issue 11): what a worker stores is never undone by what the
broker does afterwards, and no single task can stall a worker.

- Acks lost after the results were stored (a proxy holds the worker's bytes to the broker,
  then cuts the connection): the redelivered tasks are recognised from the store, neither run
  again nor turned `dead`.
- A redelivered task whose attempt already failed and whose retry is already published is not
  run a third time.
- A task resubmitted with its id after `unavailable` whose first copy reached the queue anyway
  (the broker's confirms were lost: a proxy mutes serve's connection) runs its handler once:
  serve's publisher marks the resubmission as a possible copy and the worker finds the record
  (issue 15).
- A record the store refuses as such is dead-lettered; the tasks behind it complete.
- A task whose `type` is too long for an AMQP property can still be dead-lettered.
- A task id that looks like a file store temporary is never deleted as one.
"""
import collections
import json
import os
import time

import pika
import pytest

from helpers.clients import RawClient
from helpers.processes import (REPO, rabbitmqctl, read_records, submit_ids, wait_for_results,
                               wait_until, write_file)
from helpers.proxy import TcpProxy, amqp_url_via, broker_address
from helpers.retries import counting_script, ladder_message_count, read_record, runs
from helpers.stores import PostgresDatabase, statuses

#: Bound on every wait in this file.
DEADLINE_S = 60
HANDLERS = REPO / "test" / "data" / "handlers"


@pytest.fixture
def proxy(amqp_url):
    """A TCP proxy in front of the test broker; the worker connects through it. (Ask for it
    before `pfo3`, so that the worker is stopped before the proxy closes.)"""
    p = TcpProxy(*broker_address(amqp_url))
    yield p
    p.close()


def queue_state(rabbitmq_dir, queue):
    """(ready, unacked, consumers) of `queue`, as the broker counts them."""
    out = rabbitmqctl(rabbitmq_dir, "-q", "list_queues", "--no-table-headers", "name",
                      "messages_ready", "messages_unacknowledged", "consumers")
    for line in out.splitlines():
        fields = line.split()
        if fields and fields[0] == queue:
            return tuple(int(f) for f in fields[1:4])
    raise AssertionError(f"queue {queue} not listed by the broker:\n{out}")


def wait_settled(rabbitmq_dir, queue, timeout=DEADLINE_S):
    """Waits until `queue` holds nothing (ready or unacked) and one consumer (the worker,
    connected again) reads it."""
    try:
        wait_until(lambda: queue_state(rabbitmq_dir, queue) == (0, 0, 1), timeout,
                   f"{queue}: 0 ready, 0 unacked, 1 consumer")
    except AssertionError as e:
        raise AssertionError(f"{e}; (ready, unacked, consumers) now "
                             f"{queue_state(rabbitmq_dir, queue)}") from None


def dead_letter_count(broker, queue):
    return broker.message_count(f"{queue}.dead") or 0


def count_config(tmp_path, runs_file, extra=""):
    """A config with the handler `count` (test/data/handlers/count_runs.sh logging to runs_file)."""
    runs_file.touch()
    return write_file(tmp_path / "pfo3.toml", f"""
[handlers.count]
command = ["{HANDLERS / 'count_runs.sh'}", "{runs_file}"]
{extra}""")


def test_resubmission_after_unavailable_whose_first_copy_ran_is_acked_without_a_run(
        proxy, pfo3, queue, store, rabbitmq_dir, tmp_path):
    runs_file = tmp_path / "runs"
    config = count_config(tmp_path, runs_file, "\n[serve]\nconfirm_timeout_ms = 500\n")
    serve = pfo3.serve(queue, config=config, amqp=amqp_url_via(pfo3.amqp_url, proxy.port))
    worker = pfo3.work(queue, store, prefetch=10, concurrency=2, config=config)
    c = RawClient(serve.port, timeout=DEADLINE_S)
    assert c.request({"id": "plain", "type": "count", "payload": 0})["ok"] is True
    # The broker takes serve's publishes but its confirms never reach serve.
    muted = proxy.mute(consumers_only=False)
    assert muted, "serve's broker connection goes through the proxy"
    ids = [f"dup-{i:02d}" for i in range(20)]
    for i in ids:
        c.send({"id": i, "type": "count", "payload": int(i[4:])})
    answers = [c.read(DEADLINE_S) for _ in ids]
    assert all(a and a.get("error") == "unavailable" for a in answers), answers
    # The first copies were in the queue all the same: the worker ran and stored them.
    wait_for_results(store, ids + ["plain"], timeout=DEADLINE_S)
    for m in muted:
        m.close()  # serve connects again (through the proxy, not muted now)

    def resubmitted(task_id):
        return c.request({"id": task_id, "type": "count", "payload": int(task_id[4:])},
                         timeout=DEADLINE_S).get("ok") is True

    for i in ids:
        wait_until(lambda: resubmitted(i), DEADLINE_S, f"{i} accepted again", every=0.2)
    wait_settled(rabbitmq_dir, queue)
    ran = collections.Counter(line.split()[0] for line in runs_file.read_text().splitlines())
    assert {i: ran[i] for i in ids} == {i: 1 for i in ids}, "each resubmitted id ran its handler once"
    records = read_records(store)
    assert all(records[i]["status"] == "done" and records[i]["result"] == int(i[4:]) for i in ids), records
    assert worker.stderr().count("acked without running it") == len(ids)


@pytest.mark.parametrize("max_attempts", [None, 1], ids=["default_attempts", "max_attempts_1"])
def test_acks_lost_after_the_results_were_stored_neither_rerun_nor_kill_the_tasks(
        proxy, pfo3, queue, store, broker, rabbitmq_dir, tmp_path, max_attempts):
    runs_file = tmp_path / "runs"
    config = count_config(tmp_path, runs_file)
    serve = pfo3.serve(queue)
    worker = pfo3.work(queue, store, prefetch=50, concurrency=4, config=config,
                       amqp=amqp_url_via(pfo3.amqp_url, proxy.port))
    wait_until(lambda: broker.consumer_count(queue) == 1, DEADLINE_S, "the worker to consume")
    held = proxy.hold()
    assert any(c.consumes for c in held), "the worker's consuming connection is held"

    n = 40
    extra = {} if max_attempts is None else {"max_attempts": max_attempts}
    ids = submit_ids(pfo3.send(serve.address, [dict({"id": f"r-{i:02d}", "type": "count",
                                                     "payload": i}, **extra) for i in range(n)],
                               json_mode=True), n)
    stored = wait_for_results(store, ids, timeout=DEADLINE_S)
    assert {r["status"] for r in stored.values()} == {"done"}, stored
    # The acks really are lost: the broker still counts every task as delivered and unacked.
    assert queue_state(rabbitmq_dir, queue)[:2] == (0, n), f"{n} unacked, none ready while held"
    proxy.cut()
    wait_settled(rabbitmq_dir, queue)

    records = read_records(store)
    seen = {
        "records": len(records),
        "statuses": dict(collections.Counter(r["status"] for r in records.values())),
        "attempts": dict(collections.Counter(r["attempts"] for r in records.values())),
        "handler_runs": len(runs_file.read_text().splitlines()),
        "dead_letters": dead_letter_count(broker, queue),
    }
    assert seen == {"records": n, "statuses": {"done": n}, "attempts": {1: n},
                    "handler_runs": n, "dead_letters": 0}, f"after the cut: {seen}"
    assert all(records[f"r-{i:02d}"]["result"] == i for i in range(n))
    assert worker.proc.poll() is None, "the worker reconnected by itself"


def test_redelivered_task_whose_failed_attempt_was_stored_and_retried_is_not_run_again(
        proxy, pfo3, queue, store, broker, rabbitmq_dir, tmp_path):
    # The retry waits longer than the test needs to stage the cut, so it is still waiting on
    # the delay ladder when the first attempt is redelivered.
    retry_s = 20
    script = counting_script(tmp_path, fails=1)
    config = write_file(tmp_path / "pfo3.toml", f"""
[retry]
backoff_base_s = {retry_s}
jitter = 0
[handlers.flaky]
command = ["{script}"]
""")
    serve = pfo3.serve(queue)
    worker = pfo3.work(queue, store, prefetch=4, config=config,
                       amqp=amqp_url_via(pfo3.amqp_url, proxy.port))
    wait_until(lambda: broker.consumer_count(queue) == 1, DEADLINE_S, "the worker to consume")
    # Only the consuming connection: the retry must still be published (and confirmed).
    held = proxy.hold(consumers_only=True)
    assert len(held) == 1, f"{len(held)} consuming connections held"

    [task_id] = submit_ids(pfo3.send(serve.address, [{"id": "flaky-1", "type": "flaky",
                                                      "payload": "x"}], json_mode=True), 1)
    failed = wait_for_results(store, [task_id], timeout=DEADLINE_S, final=("failed",))[task_id]
    assert failed["attempts"] == 1, failed
    wait_until(lambda: ladder_message_count(broker, queue) == 1, DEADLINE_S,
               "the retry to wait on the delay ladder")
    assert queue_state(rabbitmq_dir, queue)[:2] == (0, 1), "attempt 1 is unacked while held"
    assert len(runs(tmp_path, task_id)) == 1, \
        f"the retry came back before the cut: raise retry_s ({runs(tmp_path, task_id)})"
    proxy.cut()

    # Settled: the retry left its queue and was processed; nothing else waits.
    wait_until(lambda: ladder_message_count(broker, queue) == 0, retry_s + DEADLINE_S,
               "the retry to leave the delay ladder")
    # A final record ends the wait: between the ladder and the task queue the retry is in
    # neither for a moment, and the queue looks settled then (seen on a loaded machine).
    wait_for_results(store, [task_id], timeout=DEADLINE_S, final=("done", "dead"))
    wait_settled(rabbitmq_dir, queue)
    record = read_record(store, task_id)
    seen = {"status": record["status"], "attempts": record["attempts"],
            "handler_runs_by_attempt": [attempt for _, _, attempt in runs(tmp_path, task_id)],
            "dead_letters": dead_letter_count(broker, queue)}
    assert seen == {"status": "done", "attempts": 2, "handler_runs_by_attempt": [1, 2],
                    "dead_letters": 0}, f"after the cut: {seen}"
    assert worker.proc.poll() is None


def last_log_line(daemon, word):
    """The last line `daemon` logged that contains `word` (for failure messages)."""
    lines = [line for line in daemon.stderr().splitlines() if word in line]
    return lines[-1] if lines else f"(no line with {word!r})"


def publish_task(broker, queue, body):
    """Publishes a task body straight to the queue (as another producer would)."""
    broker.publish(queue, json.dumps(body).encode(),
                   pika.BasicProperties(content_type="application/json", delivery_mode=2,
                                        message_id=body["id"]))


@pytest.fixture
def pg_database():
    admin = os.environ.get("PFO3_TEST_POSTGRES_URL")
    if not admin:
        pytest.skip("needs PFO3_TEST_POSTGRES_URL (test/run starts a PostgreSQL)")
    db = PostgresDatabase(admin)
    yield db
    db.close()


@pytest.mark.parametrize("refused", ["result", "submitted_at"])
def test_record_the_store_refuses_is_dead_lettered_and_the_tasks_behind_it_complete(
        pfo3, queue, broker, pg_database, tmp_path, refused):
    """`result`: the handler answers a number with 20000 fractional digits (valid JSON, kept
    verbatim; PostgreSQL's numeric refuses it: value overflows numeric format) and the dead
    record (no result) can be stored. `submitted_at`: a message from another producer whose
    submitted_at is no time (timestamptz refuses it); that field may make even the dead record
    unstorable, so the dead letter is what must exist."""
    config = write_file(tmp_path / "pfo3.toml", f"""
[handlers.overflow]
command = ["{HANDLERS / 'numeric_overflow.sh'}"]
""")
    uri = pg_database.url
    serve = pfo3.serve(queue, env={"PFO3_STORE": uri})
    worker = pfo3.work(queue, extra=["--store", uri], prefetch=8, concurrency=2, config=config)
    if refused == "result":
        bad_id = submit_ids(pfo3.send(serve.address, [{"id": "bad-result", "type": "overflow",
                                                       "payload": "overflow"}],
                                      json_mode=True), 1)[0]
    else:
        bad_id = "bad-time"
        publish_task(broker, queue, {"id": bad_id, "type": "overflow", "payload": 1,
                                     "submitted_at": "not a time", "attempt": 1})
    good = submit_ids(pfo3.send(serve.address, [{"id": f"good-{i}", "type": "overflow",
                                                 "payload": i} for i in range(5)],
                                json_mode=True), 5)

    def good_done():
        return all(a["status"] == "done" for a in statuses(pfo3, serve.address, good).values())
    try:
        wait_until(good_done, DEADLINE_S, "the 5 tasks behind the refused one to be done")
    except AssertionError as e:
        raise AssertionError(f"{e}; statuses: {statuses(pfo3, serve.address, good)}; worker: "
                             f"{last_log_line(worker, 'store')}") from None

    [(_, body)] = broker.get_messages(f"{queue}.dead", 1, timeout=DEADLINE_S)
    letter = json.loads(body)
    assert letter["id"] == bad_id, letter
    cause = "numeric" if refused == "result" else "timestamp"
    assert cause in letter["error"], f"the dead letter names the store's reason: {letter}"
    answer = statuses(pfo3, serve.address, [bad_id])[bad_id]
    if refused == "result":
        assert answer["status"] == "dead", answer
        assert "value overflows numeric format" in answer["error"], answer
    else:
        assert answer["status"] in ("dead", "pending"), answer
    assert worker.proc.poll() is None


def test_task_with_a_300_byte_type_is_dead_lettered_and_the_next_task_is_done(
        pfo3, queue, store, broker):
    serve = pfo3.serve(queue)
    worker = pfo3.work(queue, store)
    wait_until(lambda: broker.consumer_count(queue) == 1, DEADLINE_S, "the worker to consume")
    long_type = "t" * 300  # an AMQP short string (the `type` property) holds 255 bytes
    publish_task(broker, queue, {"id": "long-type", "type": long_type, "payload": 1, "attempt": 1})
    ids = submit_ids(pfo3.send(serve.address, [{"id": "after-long-type", "type": "echo",
                                                "payload": 2}], json_mode=True), 1)

    try:
        records = wait_for_results(store, ["long-type"] + ids, timeout=DEADLINE_S)
    except AssertionError as e:
        raise AssertionError(f"{e}; worker: {last_log_line(worker, 'encode')}") from None
    assert records["long-type"]["status"] == "dead", records["long-type"]
    assert records["long-type"]["type"] == long_type
    assert records["after-long-type"]["status"] == "done", records["after-long-type"]
    [(_, body)] = broker.get_messages(f"{queue}.dead", 1, timeout=DEADLINE_S)
    letter = json.loads(body)
    assert letter["id"] == "long-type" and letter["type"] == long_type, letter
    assert broker.message_count(queue) == 0
    assert worker.proc.poll() is None


def test_task_id_that_looks_like_a_temp_file_is_kept_across_a_worker_restart(
        pfo3, queue, store):
    serve = pfo3.serve(queue)
    worker = pfo3.work(queue, store)
    task_id = ".a.json.tmp.b"  # valid: [A-Za-z0-9._:-], not "." or ".."
    submit_ids(pfo3.send(serve.address, [{"id": task_id, "type": "echo", "payload": "kept"}],
                         json_mode=True), 1)
    wait_for_results(store, [task_id], timeout=DEADLINE_S)
    path = store / f"{task_id}.json"
    # Old enough for any stale-temp rule (pfo3 removes temps older than 60 s at start).
    old = time.time() - 120
    os.utime(path, (old, old))
    assert worker.terminate() == 0

    pfo3.work(queue, store)  # ready: its store is open, any start-up cleaning is over

    assert path.exists(), f"{path.name} was deleted at the worker's start"
    record = read_record(store, task_id)
    assert record["status"] == "done" and record["result"] == "kept", record
