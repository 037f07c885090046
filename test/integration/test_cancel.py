"""Cancellation (issue 16, first part): `{"op":"cancel"}` / `pfo3 cancel` turn a scheduled or
retry-waiting task's record into `cancel_requested` (durable before the answer); the worker
that receives it acks it, stores `cancelled` and never runs it, even when every worker was
offline at the cancel. A final task is `too_late`; an id with no record is `not_found`."""
import json

from helpers.clients import RawClient
from helpers.processes import wait_for_results, write_file
from helpers.retries import counting_script, ladder_message_count, runs


def config_file(tmp_path, script, extra=""):
    return write_file(tmp_path / "pfo3.toml", f"""
[schedule]
unit_ms = 10
[handlers.count]
command = ["{script}"]
{extra}
""")


def test_a_scheduled_task_cancelled_while_every_worker_is_offline_never_runs(
        pfo3, queue, store, tmp_path, broker):
    script = counting_script(tmp_path, fails=0)
    config = config_file(tmp_path, script)
    serve = pfo3.serve(queue, config=config, env={"PFO3_STORE": f"file://{store}"})
    with RawClient(serve.port) as c:
        for task_id in ("keep", "drop"):
            reply = c.request({"id": task_id, "type": "count", "payload": 1, "delay_s": 2})
            assert reply["status"] == "scheduled", reply
    r = pfo3.run(["cancel", "--server", serve.address, "--reason", "not needed", "drop"])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"ok": True, "id": "drop", "status": "cancel_requested"}
    with RawClient(serve.port) as c:
        status = c.request({"op": "status", "id": "drop"})
        assert status["status"] == "cancel_requested" and "not needed" in status["error"], status
    # Workers start only now: the cancel was stored, not sent to anyone.
    pfo3.work(queue, store, config=config)
    records = wait_for_results(store, ["keep", "drop"], timeout=30, final=("done", "cancelled"))
    assert records["keep"]["status"] == "done"
    assert records["drop"]["status"] == "cancelled" and "not needed" in records["drop"]["error"]
    assert runs(tmp_path, "drop") == [], "a cancelled task never runs"
    assert len(runs(tmp_path, "keep")) == 1
    assert ladder_message_count(broker, queue, unit_ms=10) == 0
    assert broker.message_count(queue) == 0, "the cancelled task was acked"


def test_a_task_waiting_for_its_retry_is_cancelled_and_not_run_again(pfo3, queue, store, tmp_path):
    script = counting_script(tmp_path, fails=1000)
    config = config_file(tmp_path, script, "[retry]\nbackoff_base_s = 3\njitter = 0\n")
    serve = pfo3.serve(queue, config=config, env={"PFO3_STORE": f"file://{store}"})
    pfo3.work(queue, store, config=config)
    r = pfo3.send(serve.address, [{"id": "flaky", "type": "count", "payload": 1}], json_mode=True)
    assert r.returncode == 0, r.stderr
    wait_for_results(store, ["flaky"], timeout=30, final=("failed",))
    r = pfo3.run(["cancel", "--server", serve.address, "flaky"])
    assert r.returncode == 0, r.stderr
    record = wait_for_results(store, ["flaky"], timeout=30, final=("cancelled",))["flaky"]
    assert record["attempts"] == 1, record
    assert len(runs(tmp_path, "flaky")) == 1, "the retry never ran"


def test_cancel_of_a_final_or_unknown_task_is_refused(pfo3, queue, store, tmp_path):
    script = counting_script(tmp_path, fails=0)
    config = config_file(tmp_path, script)
    serve = pfo3.serve(queue, config=config, env={"PFO3_STORE": f"file://{store}"})
    pfo3.work(queue, store, config=config)
    r = pfo3.send(serve.address, [{"id": "over", "type": "count", "payload": 1}], json_mode=True)
    assert r.returncode == 0, r.stderr
    wait_for_results(store, ["over"], timeout=30)
    with RawClient(serve.port) as c:
        reply = c.request({"op": "cancel", "id": "over"})
        assert (reply["ok"], reply["error"], reply["status"]) == (False, "too_late", "done"), reply
        reply = c.request({"op": "cancel", "id": "never-submitted"})
        assert (reply["ok"], reply["error"]) == (False, "not_found"), reply
        reply = c.request({"op": "cancel"})
        assert reply["error"] == "bad_request", reply
        reply = c.request({"op": "cancel", "id": "over", "reason": "x" * 501})
        assert reply["error"] == "bad_request", reply
    r = pfo3.run(["cancel", "--server", serve.address, "over", "never-submitted"])
    assert r.returncode == 1 and "too_late" in r.stderr and "not_found" in r.stderr, (r.stdout, r.stderr)
