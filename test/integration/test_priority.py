"""Priorities (decision 0012): [amqp] max_priority declares the task queue with
x-max-priority, a request's "priority" travels as the AMQP priority, and a backlog is served
highest first."""
from helpers.processes import wait_until, write_file
from helpers.retries import counting_script, runs


def test_high_priority_tasks_overtake_a_backlog(pfo3, queue, store, tmp_path):
    script = counting_script(tmp_path, fails=0)
    config = write_file(tmp_path / "pfo3.toml", f"""
[amqp]
max_priority = 10
[work]
prefetch = 1
concurrency = 1
[handlers.count]
command = ["{script}"]
""")
    serve = pfo3.serve(queue, config=config)
    low = [{"id": f"low{k:04}", "type": "count", "payload": k} for k in range(1000)]
    high = [{"id": f"high{k}", "type": "count", "payload": k, "priority": 5} for k in range(10)]
    r = pfo3.send(serve.address, low, json_mode=True)
    assert r.returncode == 0, r.stderr
    r = pfo3.send(serve.address, high, json_mode=True)
    assert r.returncode == 0, r.stderr
    # Workers start only now, with the whole backlog waiting.
    worker = pfo3.work(queue, store, config=config)

    def started():
        out = []
        for t in low + high:
            log = runs(tmp_path, t["id"])
            if log:
                out.append((log[0][1], t["id"]))
        return sorted(out)

    wait_until(lambda: all(runs(tmp_path, t["id"]) for t in high), 120, "the high-priority tasks")
    order = [task_id for _, task_id in started()]
    positions = [order.index(t["id"]) for t in high]
    assert max(positions) < 20, f"high-priority tasks ran at positions {positions}"
    worker.close()


def test_priority_is_refused_when_the_server_has_none(pfo3, queue, tmp_path):
    serve = pfo3.serve(queue)
    r = pfo3.send(serve.address, ["x"], extra=["--priority", "3"])
    assert r.returncode == 1 and "max_priority" in r.stderr, (r.stdout, r.stderr)


def test_max_priority_on_the_teaching_queue_is_a_config_error(pfo3, tmp_path):
    config = write_file(tmp_path / "pfo3.toml", "[amqp]\nmax_priority = 4\n")
    r = pfo3.run(["--config", str(config), "serve"])
    assert r.returncode == 2 and "teaching queue" in r.stderr, r.stderr
