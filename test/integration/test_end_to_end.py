"""Tasks go from `pfo3 send` through serve, RabbitMQ and workers into the result store."""
import json
from collections import Counter

from helpers.processes import read_records, submit_ids, wait_for_results, write_file


def test_thousand_echo_tasks_from_stdin_are_each_stored_once(pfo3, queue, store, broker):
    serve = pfo3.serve(queue)
    pfo3.work(queue, store, prefetch=20, concurrency=2)
    pfo3.work(queue, store, prefetch=20, concurrency=2)
    payloads = [f"task-{i:04d}" for i in range(1000)]

    ids = submit_ids(pfo3.send(serve.address, stdin="\n".join(payloads) + "\n"), 1000)

    assert len(set(ids)) == 1000, "ids must be unique"
    records = wait_for_results(store, ids, timeout=120)
    assert len(read_records(store)) == 1000, "exactly one file per task"
    for task_id, payload in zip(ids, payloads):
        r = records[task_id]
        assert r["id"] == task_id
        assert r["type"] == "echo"
        assert r["status"] == "done", r
        assert r["payload"] == payload
        assert r["result"] == payload
        assert r["attempts"] == 1
        for field in ("error", "worker", "submitted_at", "started_at", "finished_at"):
            assert field in r, f"record lacks {field}: {r}"
    # Both workers took part (each has 20 tasks in hand at a time, 1000 to share).
    workers = Counter(r["worker"] for r in records.values())
    assert len(workers) == 2, workers
    assert broker.message_count(queue) == 0


def test_builtin_handlers_compute_their_results(pfo3, queue, store):
    serve = pfo3.serve(queue)
    pfo3.work(queue, store, prefetch=4, concurrency=2)
    requests = [
        ({"type": "sum", "payload": [1, 2, 3.5]}, 6.5),
        ({"type": "sumar", "payload": [10, -4]}, 6),
        ({"type": "multiply", "payload": [2, 3, 4]}, 24),
        ({"type": "multiplicar", "payload": [1.5, 2]}, 3),
        ({"type": "echo", "payload": {"nested": [1, "x", None]}}, {"nested": [1, "x", None]}),
    ]

    ids = submit_ids(pfo3.send(serve.address, [r for r, _ in requests] +
                               [{"type": "sleep", "payload": 50}], json_mode=True),
                     len(requests) + 1)

    records = wait_for_results(store, ids)
    for task_id, (request, expected) in zip(ids, requests):
        assert records[task_id]["status"] == "done", records[task_id]
        assert records[task_id]["result"] == expected, (request, records[task_id])
    assert records[ids[-1]]["status"] == "done", records[ids[-1]]


def test_unknown_type_is_dead_at_once_and_dead_lettered(pfo3, queue, store, broker):
    serve = pfo3.serve(queue)
    pfo3.work(queue, store)

    ids = submit_ids(pfo3.send(serve.address, [
        {"id": "unknown-type-1", "type": "no_such_handler", "payload": 1},
        {"id": "bad-payload-1", "type": "sum", "payload": "not numbers"},
    ], json_mode=True), 2)

    records = wait_for_results(store, ids)
    for task_id in ids:
        r = records[task_id]
        assert r["status"] == "dead", r
        assert r["attempts"] == 1, "a permanent failure is not retried"
        assert r["error"], "a dead task says why"
    dead = broker.get_messages(f"{queue}.dead", 2)
    assert sorted(json.loads(body)["id"] for _, body in dead) == sorted(ids)


def test_external_handler_from_config_gets_payload_on_stdin(pfo3, queue, store, tmp_path):
    script = write_file(tmp_path / "wrap.sh", "#!/bin/sh\nprintf '{\"got\":'\ncat\nprintf '}'\n",
                        0o755)
    text_script = write_file(tmp_path / "text.sh", "#!/bin/sh\necho 'plain words'\n", 0o755)
    config = write_file(tmp_path / "pfo3.toml", f"""
[handlers.wrap]
command = ["{script}"]
timeout_s = 10
[handlers.text]
command = ["/bin/sh", "{text_script}"]
""")
    serve = pfo3.serve(queue)
    pfo3.work(queue, store, config=config)

    ids = submit_ids(pfo3.send(serve.address, [
        {"type": "wrap", "payload": {"a": [1, 2]}},
        {"type": "text", "payload": None},
    ], json_mode=True), 2)

    records = wait_for_results(store, ids)
    assert records[ids[0]]["status"] == "done", records[ids[0]]
    assert records[ids[0]]["result"] == {"got": {"a": [1, 2]}}
    assert records[ids[1]]["result"].strip() == "plain words", "non-JSON stdout is a string"


def test_failure_on_last_attempt_is_dead_and_dead_lettered(pfo3, queue, store, tmp_path, broker):
    fail_script = write_file(tmp_path / "fail.sh", "#!/bin/sh\necho boom >&2\nexit 3\n", 0o755)
    config = write_file(tmp_path / "pfo3.toml", f'[handlers.fail]\ncommand = ["{fail_script}"]\n')
    serve = pfo3.serve(queue)
    pfo3.work(queue, store, config=config)

    ids = submit_ids(pfo3.send(serve.address, [{"type": "fail", "payload": 1, "max_attempts": 1}],
                               json_mode=True), 1)

    r = wait_for_results(store, ids, timeout=20)[ids[0]]
    assert r["status"] == "dead", r
    assert r["attempts"] == 1
    assert r["error"]
    [(_, body)] = broker.get_messages(f"{queue}.dead", 1)
    assert json.loads(body)["id"] == ids[0]


def test_failed_task_is_retried_with_backoff_then_succeeds(pfo3, queue, store, tmp_path):
    # Fails on its first run only: a marker file remembers the first run.
    marker = tmp_path / "ran-once"
    script = write_file(tmp_path / "flaky.sh",
                        f"#!/bin/sh\nif [ -e {marker} ]; then cat; exit 0; fi\n"
                        f"touch {marker}\nexit 1\n", 0o755)
    config = write_file(tmp_path / "pfo3.toml", f"""
[retry]
backoff_base_s = 0.2
jitter = 0
[handlers.flaky]
command = ["{script}"]
""")
    serve = pfo3.serve(queue)
    pfo3.work(queue, store, config=config)

    ids = submit_ids(pfo3.send(serve.address, [{"type": "flaky", "payload": [7]}],
                               json_mode=True), 1)

    r = wait_for_results(store, ids, timeout=20)[ids[0]]
    assert r["status"] == "done", r
    assert r["attempts"] == 2
    assert r["result"] == [7]
