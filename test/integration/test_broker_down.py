"""Without RabbitMQ, serve stays up and refuses tasks promptly; after an outage everything resumes.

Decision (docs): serve reports READY=1 once it listens, whether or not the broker is up, so
clients get a clear `unavailable` instead of a refused connection.
"""
import time

from helpers.processes import free_port, rabbitmqctl, wait_for_results, wait_until

CONFIRM_TIMEOUT_S = 5  # serve.confirm_timeout_ms default


def test_serve_without_broker_is_ready_and_answers_unavailable(pfo3, queue, raw_client):
    serve = pfo3.serve(queue, amqp=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2f")
    c = raw_client(serve.port)
    assert c.request({"op": "ping"}) == {"ok": True, "op": "pong"}

    started = time.monotonic()
    r = c.request({"id": "nobroker-1", "type": "echo", "payload": 1}, timeout=30)

    assert time.monotonic() - started < CONFIRM_TIMEOUT_S + 3, "no hang without a broker"
    assert r["ok"] is False and r["error"] == "unavailable", r
    assert c.request({"op": "ping"})["ok"] is True, "the connection stays usable"

    sent = pfo3.send(serve.address, ["x"], timeout=30)
    assert sent.returncode == 1, sent
    assert sent.stderr.count("error: unavailable") == 1, sent.stderr
    assert serve.terminate() == 0


def test_serve_and_worker_recover_after_broker_outage(pfo3, queue, store, raw_client, rabbitmq_dir):
    serve = pfo3.serve(queue)
    pfo3.work(queue, store)
    c = raw_client(serve.port)
    assert c.request({"id": "before", "type": "echo", "payload": "b"})["ok"] is True
    wait_for_results(store, ["before"])
    attempt = iter(range(100000))

    def submit(expect_ok):
        r = c.request({"id": f"try-{next(attempt)}", "type": "echo", "payload": "x"}, timeout=30)
        assert r["ok"] or r["error"] == "unavailable", r
        return r["id"] if r["ok"] == expect_ok else None

    rabbitmqctl(rabbitmq_dir, "stop_app")
    try:
        wait_until(lambda: submit(expect_ok=False), 30, "serve to notice the outage")
    finally:
        rabbitmqctl(rabbitmq_dir, "start_app")

    accepted = wait_until(lambda: submit(expect_ok=True), 90, "serve to publish again")
    wait_for_results(store, [accepted], timeout=90)
    assert serve.terminate() == 0
