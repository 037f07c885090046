"""SIGTERM: a worker finishes what it holds and loses nothing; serve answers what it accepted."""
import json
import socket
import threading
import time

from helpers.processes import read_records, submit_ids, wait_for_results, wait_until, write_file


def test_sigterm_of_busy_worker_loses_and_duplicates_nothing(pfo3, queue, store, broker, tmp_path):
    # Each run of the handler appends the task's payload to a log once it finished, so the log
    # counts the runs: a clean shutdown runs every task exactly once.
    runs = tmp_path / "runs.log"
    script = write_file(tmp_path / "slow.sh",
                        f"#!/bin/sh\np=$(cat)\nsleep 0.3\necho \"$p\" >> {runs}\necho \"$p\"\n",
                        0o755)
    config = write_file(tmp_path / "pfo3.toml", f"[handlers.slow]\ncommand = [\"{script}\"]\n")
    serve = pfo3.serve(queue)
    ids = submit_ids(pfo3.send(serve.address, [{"id": f"sd-{n:02d}", "type": "slow", "payload": n}
                                               for n in range(20)], json_mode=True), 20)
    first = pfo3.work(queue, store, prefetch=4, config=config)
    wait_until(lambda: len(read_records(store)) >= 2, 30, "the first worker to store results")

    started = time.monotonic()
    assert first.terminate(timeout=30) == 0, first.stderr()[-3000:]

    assert time.monotonic() - started < 10, "4 tasks of 0.3 s in hand finish well within the grace"
    assert "STOPPING=1" in first.notifications
    by_first = len(read_records(store))
    assert by_first < 20, "the first worker was stopped while busy"
    second = pfo3.work(queue, store, prefetch=4, config=config)
    records = wait_for_results(store, ids)
    assert second.terminate() == 0

    assert sorted(records) == sorted(ids) and len(read_records(store)) == 20
    assert all(r["status"] == "done" and r["result"] == int(r["id"][3:]) for r in records.values())
    assert sorted(int(line) for line in runs.read_text().split()) == list(range(20)), \
        "every task ran exactly once"
    workers = {r["worker"] for r in records.values()}
    assert len(workers) == 2, workers
    assert broker.message_count(queue) == 0, "every task was acked"


def test_sigterm_of_serve_while_client_pipelines_keeps_every_accepted_task(pfo3, queue, broker):
    serve = pfo3.serve(queue)
    sock = socket.create_connection(("127.0.0.1", serve.port), timeout=30)

    def request_id(index):
        return f"pp-{index // 50:03d}-{index % 50:02d}"

    def writer():
        # Batches of 50 until the server closes; TCP backpressure paces this thread.
        try:
            for batch in range(200):
                requests = ({"id": request_id(i), "type": "echo", "payload": i}
                            for i in range(batch * 50, batch * 50 + 50))
                sock.sendall("".join(json.dumps(r) + "\n" for r in requests).encode())
        except OSError:
            pass  # the server closed the connection: shutdown is what we test

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    stream = sock.makefile("rb")
    responses = []
    try:
        for line in stream:
            responses.append(json.loads(line))
            if len(responses) == 300:
                serve.signal()
    except (ConnectionResetError, socket.timeout):
        pass
    thread.join(timeout=30)
    sock.close()

    assert serve.wait_exit(timeout=30) == 0, serve.stderr()[-3000:]
    assert len(responses) >= 300
    assert all(r.get("id", request_id(i)) == request_id(i) for i, r in enumerate(responses)), \
        "responses in request order"
    accepted = [r["id"] for r in responses if r.get("ok")]
    assert all(r.get("error") in (None, "unavailable") for r in responses), \
        [r for r in responses if not r.get("ok")][:3]
    in_queue = [props.message_id for props, _ in broker.drain(queue)]
    assert len(in_queue) == len(set(in_queue)), "no task published twice"
    missing = set(accepted) - set(in_queue)
    assert not missing, f"{len(missing)} accepted tasks are not in the queue"
