"""`pfo3 dead list|requeue|purge`: the operator's tools for `<queue>.dead`, against a real broker.

Dead letters are either made by a real worker (a task type no handler knows is dead at once)
or published straight into `<queue>.dead` in the shape the worker writes (task body + "error").
"""
import json

import pika

from helpers.processes import free_port, read_records, submit_ids, wait_for_results, write_file


def declare(broker, queue):
    """The task queue and its dead-letter queue, declared as pfo3 declares them."""
    conn = broker.connect()
    try:
        ch = conn.channel()
        for name in (queue, f"{queue}.dead"):
            ch.queue_declare(name, durable=True)
    finally:
        conn.close()


def put_dead(broker, queue, task_id, error="handler failed", attempt=5, type_="echo", payload=None):
    """Publishes a dead letter as a worker writes it; returns its body as a dict."""
    body = {"id": task_id, "type": type_, "payload": payload if payload is not None else task_id,
            "submitted_at": "2024-05-01T10:00:00Z", "attempt": attempt, "error": error}
    broker.publish(f"{queue}.dead", json.dumps(body, separators=(",", ":")),
                   pika.BasicProperties(message_id=task_id, type=type_, delivery_mode=2,
                                        content_type="application/json"))
    return body


def dead(pfo3, queue, *args, timeout=60):
    """Runs `pfo3 dead ARGS` against this test's broker and queue."""
    return pfo3.run(["dead", "--amqp", pfo3.amqp_url, "--queue", queue, *args], timeout=timeout)


def rows(listing):
    """The table rows of `dead list` as lists of fields (header dropped)."""
    lines = listing.stdout.splitlines()
    assert lines[0].split("\t") == ["ID", "TYPE", "ATTEMPT", "SUBMITTED_AT", "ERROR"], lines[:1]
    return [line.split("\t") for line in lines[1:]]


def test_list_shows_dead_letters_in_order_without_removing_them(pfo3, queue, broker):
    declare(broker, queue)
    put_dead(broker, queue, "d-1", error="exit status 3", attempt=5)
    put_dead(broker, queue, "d-2", error="line one\nline\ttwo", attempt=2, type_="resize")
    broker.publish(f"{queue}.dead", b"not json\n\xff", pika.BasicProperties(message_id="d-3"))

    first = dead(pfo3, queue, "list")
    again = dead(pfo3, queue, "list")

    assert first.returncode == 0, first.stderr
    assert rows(first) == [
        ["d-1", "echo", "5", "2024-05-01T10:00:00Z", "exit status 3"],
        ["d-2", "resize", "2", "2024-05-01T10:00:00Z", "line one line two"],
        ["d-3", "-", "-", "-", rows(first)[2][4]],
    ]
    assert rows(first)[2][4].startswith("undecodable body: not JSON")
    assert "3 of 3 dead letters" in first.stderr
    assert again.stdout == first.stdout, "listing twice shows the same letters in the same order"
    assert broker.message_count(f"{queue}.dead") == 3


def test_list_json_prints_one_body_per_line_and_limit_bounds_it(pfo3, queue, broker):
    declare(broker, queue)
    bodies = [put_dead(broker, queue, f"j-{n}", attempt=n + 1) for n in range(4)]

    listed = dead(pfo3, queue, "list", "--json")
    limited = dead(pfo3, queue, "list", "--limit", "2")

    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line) for line in listed.stdout.splitlines()] == bodies
    assert limited.returncode == 0 and [r[0] for r in rows(limited)] == ["j-0", "j-1"]
    assert "2 of 4 dead letters" in limited.stderr
    assert broker.message_count(f"{queue}.dead") == 4


def test_requeue_by_id_moves_only_those_with_attempt_reset(pfo3, queue, broker):
    declare(broker, queue)
    put_dead(broker, queue, "r-1")
    wanted = put_dead(broker, queue, "r-2", payload={"n": [1, 2.5]})
    put_dead(broker, queue, "r-3")

    moved = dead(pfo3, queue, "requeue", "r-2")

    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.split() == ["r-2"]
    [(props, body)] = broker.get_messages(queue, 1)
    expected = {k: v for k, v in wanted.items() if k != "error"}
    expected["attempt"] = 1
    expected["requeues"] = 1  # a new run: its records replace the dead one
    assert json.loads(body) == expected
    assert props.message_id == "r-2" and props.delivery_mode == 2
    assert props.content_type == "application/json"
    listing = dead(pfo3, queue, "list")
    assert [r[0] for r in rows(listing)] == ["r-1", "r-3"], "the others stay, in order"


def test_requeue_reports_unknown_ids_and_leaves_undecodable_letters(pfo3, queue, broker):
    declare(broker, queue)
    put_dead(broker, queue, "u-1")
    broker.publish(f"{queue}.dead", b"{broken", pika.BasicProperties(message_id="u-2"))

    r = dead(pfo3, queue, "requeue", "u-1", "u-2", "nope")

    assert r.returncode == 1, r
    assert r.stdout.split() == ["u-1"]
    assert "u-2: cannot be a task again" in r.stderr
    assert "nope: no such dead letter" in r.stderr
    assert broker.message_count(queue) == 1
    assert broker.message_count(f"{queue}.dead") == 1


def test_dead_letters_of_a_missing_handler_are_processed_after_the_fix(pfo3, queue, store, broker,
                                                                      tmp_path):
    serve = pfo3.serve(queue)
    first = pfo3.work(queue, store)
    ids = submit_ids(pfo3.send(serve.address, [{"id": f"m-{n}", "type": "later", "payload": n}
                                               for n in range(3)], json_mode=True), 3)
    records = wait_for_results(store, ids)
    assert {r["status"] for r in records.values()} == {"dead"}, records
    listing = dead(pfo3, queue, "list")
    assert sorted(r[0] for r in rows(listing)) == ids
    assert all(r[1] == "later" and r[2] == "1" and r[4] != "-" for r in rows(listing)), rows(listing)
    assert first.terminate() == 0

    # The operator deploys the missing handler, then sends the dead letters back.
    config = write_file(tmp_path / "pfo3.toml", '[handlers.later]\ncommand = ["/bin/cat"]\n')
    second = pfo3.work(queue, store, config=config)
    moved = dead(pfo3, queue, "requeue", "--all")
    assert moved.returncode == 0, moved.stderr
    assert sorted(moved.stdout.split()) == ids

    records = wait_for_results(store, ids, final=("done",))
    assert all(r["result"] == int(r["id"][2:]) and r["attempts"] == 1 for r in records.values()), records
    assert second.terminate() == 0
    assert broker.message_count(queue) == 0 and broker.message_count(f"{queue}.dead") == 0
    assert len(read_records(store)) == 3


def test_purge_needs_yes_and_reports_the_count(pfo3, queue, broker):
    declare(broker, queue)
    for n in range(3):
        put_dead(broker, queue, f"p-{n}")

    refused = dead(pfo3, queue, "purge")
    assert refused.returncode == 2 and "3 dead letters" in refused.stderr
    assert broker.message_count(f"{queue}.dead") == 3

    purged = dead(pfo3, queue, "purge", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.strip() == f"purged 3 dead letters from {queue}.dead"
    assert broker.message_count(f"{queue}.dead") == 0


def test_dead_without_a_broker_exits_3_and_usage_errors_exit_2(pfo3, queue):
    nobody = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2f"
    for action in (["list"], ["requeue", "--all"], ["purge", "--yes"]):
        r = pfo3.run(["dead", "--amqp", nobody, "--queue", queue, *action], timeout=30)
        assert r.returncode == 3, (action, r)
        assert "error: broker:" in r.stderr and "guest:***@" in r.stderr

    assert pfo3.run(["dead"]).returncode == 2
    assert pfo3.run(["dead", "requeue", "--amqp", nobody]).returncode == 2, "ids or --all"
    assert pfo3.run(["dead", "requeue", "x", "--all", "--amqp", nobody]).returncode == 2
    assert pfo3.run(["dead", "list", "--amqp", "http://nope"]).returncode == 2
