"""Retries with backoff through RabbitMQ's own retry queues, dead letters after the last
attempt, tasks that kill their worker, and per-task time limits (decision 0005)."""
import json

from helpers.processes import submit_ids, wait_for_results, wait_until, write_file
from helpers.retries import (WorkerKeeper, counting_script, ladder_message_count, ladder_names,
                             queues_of, read_record, runs)


def test_task_failing_twice_then_succeeding_is_done_after_three_attempts_with_backoff(
        pfo3, queue, store, tmp_path, broker):
    script = counting_script(tmp_path, fails=2)
    config = write_file(tmp_path / "pfo3.toml", f"""
[retry]
backoff_base_s = 0.3
backoff_factor = 2
jitter = 0.2
[handlers.flaky]
command = ["{script}"]
""")
    serve = pfo3.serve(queue)
    pfo3.work(queue, store, config=config)

    ids = submit_ids(pfo3.send(serve.address, [{"type": "flaky", "payload": {"n": 1}}],
                               json_mode=True), 1)

    r = wait_for_results(store, ids, timeout=30)[ids[0]]
    assert r["status"] == "done", r
    assert r["attempts"] == 3
    assert r["result"] == {"n": 1}
    log = runs(tmp_path, ids[0])
    assert [attempt for _, _, attempt in log] == [1, 2, 3], "the attempt travels in the message"
    gaps = [b[1] - a[1] for a, b in zip(log, log[1:])]
    # Lower bounds only (base delay minus the jitter): a retry never comes early.
    assert gaps[0] >= 0.8 * 0.3, gaps
    assert gaps[1] >= 0.8 * 0.6, gaps
    # The waits were held by RabbitMQ on the delay ladder, which is empty again.
    assert broker.message_count(f"{queue}.delay.1000") == 0, "the ladder held the retries"
    assert ladder_message_count(broker, queue) == 0
    assert broker.message_count(f"{queue}.dead") == 0


def test_request_max_attempts_overrides_config_and_last_failure_is_dead_lettered(
        pfo3, queue, store, tmp_path, broker):
    script = counting_script(tmp_path, fails=1000)
    config = write_file(tmp_path / "pfo3.toml", f"""
[retry]
max_attempts = 4
backoff_base_s = 0.1
backoff_factor = 2
[handlers.fail]
command = ["{script}"]
""")
    serve = pfo3.serve(queue)
    pfo3.work(queue, store, config=config)

    ids = submit_ids(pfo3.send(serve.address, [
        {"id": "fewer", "type": "fail", "payload": 1, "max_attempts": 2},
        {"id": "more", "type": "fail", "payload": 2, "max_attempts": 5},
        {"id": "default", "type": "fail", "payload": 3},
    ], json_mode=True), 3)

    records = wait_for_results(store, ids, timeout=30)
    expected = {"fewer": 2, "more": 5, "default": 4}
    for task_id, attempts in expected.items():
        r = records[task_id]
        assert r["status"] == "dead", r
        assert r["attempts"] == attempts, r
        assert "failing run" in r["error"], "the last error is kept"
        assert len(runs(tmp_path, task_id)) == attempts, "ran once per attempt"
    dead = {json.loads(body)["id"]: json.loads(body)
            for _, body in broker.get_messages(f"{queue}.dead", 3)}
    assert set(dead) == set(expected)
    for task_id, attempts in expected.items():
        assert dead[task_id]["attempt"] == attempts, dead[task_id]
        assert f"failing run {attempts}" in dead[task_id]["error"], dead[task_id]
    assert broker.message_count(queue) == 0


def test_waiting_retry_survives_a_worker_restart(pfo3, queue, store, tmp_path, broker, amqp_url,
                                                rabbitmq_dir):
    script = counting_script(tmp_path, fails=1)
    config = write_file(tmp_path / "pfo3.toml", f"""
[retry]
backoff_base_s = 5
jitter = 0
[handlers.flaky]
command = ["{script}"]
""")
    serve = pfo3.serve(queue)
    worker = pfo3.work(queue, store, config=config)
    ids = submit_ids(pfo3.send(serve.address, [{"type": "flaky", "payload": "x"}],
                               json_mode=True), 1)

    # The first attempt failed and was stored as such; the task now waits in RabbitMQ.
    failed = wait_for_results(store, ids, timeout=20, final=("failed",))[ids[0]]
    assert failed["attempts"] == 1 and "failing run 1" in failed["error"], failed
    worker.proc.kill()
    worker.wait_exit()
    assert ladder_message_count(broker, queue) == 1, "held by the delay ladder"
    # No per-delay retry queue of the releases before the ladder (decision 0012), whatever its
    # delay: the broker's list of this queue's queues holds the task queue, its dead queue and
    # delay-ladder levels, nothing else. The list is the right one: it shows the queues in use.
    listed = queues_of(rabbitmq_dir, amqp_url, queue)
    assert {queue, f"{queue}.dead"} <= set(listed), listed
    assert [name for name in listed if ".delay." in name], f"the ladder's levels are listed: {listed}"
    assert set(listed) - {queue, f"{queue}.dead"} <= set(ladder_names(queue)), listed
    assert not [name for name in listed if ".retry" in name], listed
    assert read_record(store, ids[0])["status"] == "failed"

    pfo3.work(queue, store, config=config)
    r = wait_for_results(store, ids, timeout=30)[ids[0]]
    assert r["status"] == "done", r
    assert r["attempts"] == 2
    assert len(runs(tmp_path, ids[0])) == 2


def test_task_that_kills_its_worker_is_dead_after_max_attempts_and_others_complete(
        pfo3, queue, store, tmp_path, broker):
    poison = write_file(tmp_path / "poison.sh", "#!/bin/sh\necho x >> \"$0.runs\"\nkill -9 $PPID\n",
                        0o755)
    config = write_file(tmp_path / "pfo3.toml", f'[handlers.poison]\ncommand = ["{poison}"]\n')
    serve = pfo3.serve(queue)
    keeper = WorkerKeeper(pfo3, 2, max_restarts=6, queue=queue, store=store, config=config,
                          prefetch=1, concurrency=1)

    ids = submit_ids(pfo3.send(serve.address,
                               [{"id": "poison-1", "type": "poison", "max_attempts": 3}] +
                               [{"type": "echo", "payload": i} for i in range(20)],
                               json_mode=True), 21)

    def all_final():
        recs = [read_record(store, i) for i in ids]
        return all(r and r["status"] in ("done", "dead") for r in recs)
    keeper.wait(all_final, 90, "every task final")
    keeper.check()  # the last crash may have come after the last look

    r = read_record(store, "poison-1")
    assert r["status"] == "dead", r
    assert r["attempts"] == 3, r
    assert "redelivered" in r["error"], r
    assert keeper.deaths == 3, "one crash per attempt, then no more"
    assert len((tmp_path / "poison.sh.runs").read_text().split()) == 3
    for task_id in ids[1:]:
        assert read_record(store, task_id)["status"] == "done"
    [(_, body)] = broker.get_messages(f"{queue}.dead", 1)
    assert json.loads(body)["id"] == "poison-1" and json.loads(body)["attempt"] == 3


def test_task_time_limit_overrides_the_handler_timeout_and_kills_it(pfo3, queue, store, tmp_path):
    slow = write_file(tmp_path / "slow.sh", "#!/bin/sh\nsleep 30\necho late\n", 0o755)
    config = write_file(tmp_path / "pfo3.toml",
                        f'[handlers.slow]\ncommand = ["{slow}"]\ntimeout_s = 60\n')
    serve = pfo3.serve(queue)
    pfo3.work(queue, store, config=config)

    ids = submit_ids(pfo3.send(serve.address, [
        {"id": "slow-1", "type": "slow", "timeout_ms": 300, "max_attempts": 1},
        {"id": "sleepy-1", "type": "sleep", "payload": 20000, "timeout_ms": 100, "max_attempts": 2},
        {"id": "quick-1", "type": "sleep", "payload": 10, "timeout_ms": 1000},
    ], json_mode=True), 3)

    records = wait_for_results(store, ids, timeout=20)
    assert records["slow-1"]["status"] == "dead", records["slow-1"]
    assert "timed out after 300 ms" in records["slow-1"]["error"]
    sleepy = records["sleepy-1"]
    assert sleepy["status"] == "dead" and sleepy["attempts"] == 2, "a timeout is retried"
    assert "timed out after 100 ms" in sleepy["error"]
    assert records["quick-1"]["status"] == "done"


def test_bad_timeout_ms_is_a_bad_request(pfo3, queue, raw_client):
    serve = pfo3.serve(queue)
    c = raw_client(serve.port)
    for bad in (0, -1, 86400001, "1000", 1.5):
        r = c.request({"type": "echo", "timeout_ms": bad})
        assert r["ok"] is False and r["error"] == "bad_request", (bad, r)
    assert c.request({"type": "echo", "timeout_ms": 86400000})["ok"] is True


def test_worker_refuses_a_handler_that_may_outlive_the_consumer_timeout(pfo3, queue, store, tmp_path,
                                                                        amqp_url):
    # A handler's timeout plus the shutdown grace at or over the broker's consumer_timeout would
    # let RabbitMQ close the channel under a running task: a configuration error (exit 2).
    config = write_file(tmp_path / "pfo3.toml",
                        '[handlers.long]\ncommand = ["/bin/true"]\ntimeout_s = 1770\n')
    r = pfo3.run(["--config", str(config), "work", "--amqp", amqp_url, "--queue", queue,
                  "--store", f"file://{store}"])
    assert r.returncode == 2, r
    assert "handlers.long.timeout_s" in r.stderr and "amqp.consumer_timeout_s (1800 s)" in r.stderr, r.stderr
    # Raised together with the broker's consumer_timeout, the same handler is fine.
    raised = write_file(tmp_path / "raised.toml",
                        '[amqp]\nconsumer_timeout_s = 7200\n'
                        '[handlers.long]\ncommand = ["/bin/true"]\ntimeout_s = 3600\n')
    pfo3.work(queue, store, config=raised)