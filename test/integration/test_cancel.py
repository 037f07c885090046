"""Cancellation (issue 16, decisions 0012 and 0015): `{"op":"cancel"}` / `pfo3 cancel` turn a
task's record into `cancel_requested` (durable before the answer) and send a cancel event to
the workers. A task scheduled, waiting for its retry or queued to run now is acked and stored
`cancelled` without running, also when every worker was offline at the cancel; a running
external handler's process group gets SIGTERM, then SIGKILL after `[cancel] grace_s`. A final
task is `too_late`; an id serve never accepted is `not_found`."""
import json
import os
import socket
import sqlite3
import time
from pathlib import Path

import pytest


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


def status_of(serve, task_id):
    with RawClient(serve.port) as c:
        return c.request({"op": "status", "id": task_id})


def sqlite_record(db, task_id):
    """The row of `task_id` in the SQLite store as {status, error, attempts}, or None."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        row = conn.execute("SELECT status, error, attempts FROM pfo3_tasks WHERE id = ?", (task_id,)).fetchone()
    return None if row is None else {"status": row[0], "error": row[1], "attempts": row[2]}


def wait_sqlite_status(db, task_id, statuses, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Path(db).exists():
            try:
                rec = sqlite_record(db, task_id)
            except sqlite3.OperationalError:  # no table yet
                rec = None
            if rec and rec["status"] in statuses:
                return rec
        time.sleep(0.05)
    raise AssertionError(f"{task_id}: no record in {statuses} within {timeout} s")


def test_a_task_queued_to_run_now_cancelled_while_every_worker_is_stopped_never_runs(pfo3, queue, tmp_path, broker):
    # SQLite, the shipped store: serve's cancel writes through a handle of its own.
    db = tmp_path / "results.db"
    script = counting_script(tmp_path, fails=0)
    config = config_file(tmp_path, script)
    serve = pfo3.serve(queue, config=config, env={"PFO3_STORE": f"sqlite://{db}"})
    r = pfo3.send(serve.address, [{"id": "keep", "type": "count", "payload": 1},
                                  {"id": "drop", "type": "count", "payload": 2}], json_mode=True)
    assert r.returncode == 0, r.stderr
    with RawClient(serve.port) as c:
        reply = c.request({"op": "cancel", "id": "drop", "reason": "changed my mind"})
        assert reply == {"ok": True, "id": "drop", "status": "cancel_requested"}, reply
        reply = c.request({"op": "cancel", "id": "drop"})  # again: the same answer
        assert reply["status"] == "cancel_requested", reply
        reply = c.request({"op": "cancel", "id": "never-sent"})
        assert reply["error"] == "not_found", reply
    status = status_of(serve, "drop")
    assert status["status"] == "cancel_requested" and "changed my mind" in status["error"], status
    assert broker.message_count(queue) == 2, "both tasks still wait in the queue"
    # The worker starts only now: it lists the pending cancel from the store before consuming.
    pfo3.work(queue, config=config, extra=["--store", f"sqlite://{db}"])
    wait_sqlite_status(db, "keep", ("done",))
    rec = wait_sqlite_status(db, "drop", ("cancelled",))
    assert "changed my mind" in rec["error"], rec
    assert runs(tmp_path, "drop") == [], "a cancelled task never runs"
    assert len(runs(tmp_path, "keep")) == 1
    status = status_of(serve, "drop")
    assert status["status"] == "cancelled" and "changed my mind" in status["error"], status
    deadline = time.monotonic() + 30
    while broker.message_count(queue) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert broker.message_count(queue) == 0, "the cancelled task was acked"


def test_a_task_queued_behind_a_busy_worker_is_cancelled_by_the_event(pfo3, queue, store, tmp_path):
    # The worker is up (it listed no pending cancel at its start): only the event tells it.
    gate = tmp_path / "open"
    script = counting_script(tmp_path, fails=0,
                             result=f'while [ ! -e "{gate}" ]; do sleep 0.05; done; cat')
    config = config_file(tmp_path, script)
    serve = pfo3.serve(queue, config=config, env={"PFO3_STORE": f"file://{store}"})
    worker = pfo3.work(queue, store, config=config, prefetch=1, concurrency=1)
    r = pfo3.send(serve.address, [{"id": "blocker", "type": "count", "payload": 1}], json_mode=True)
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 30
    while not runs(tmp_path, "blocker") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runs(tmp_path, "blocker"), "the blocker runs"
    r = pfo3.send(serve.address, [{"id": "behind", "type": "count", "payload": 2}], json_mode=True)
    assert r.returncode == 0, r.stderr
    r = pfo3.run(["cancel", "--server", serve.address, "--reason", "queue too long", "behind"])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "cancel_requested"
    deadline = time.monotonic() + 30
    while "cancel heard task_id=behind" not in worker.stderr() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "cancel heard task_id=behind" in worker.stderr(), "the worker hears the cancel event"
    gate.touch()
    records = wait_for_results(store, ["blocker", "behind"], timeout=30, final=("done", "cancelled"))
    assert records["blocker"]["status"] == "done"
    assert records["behind"]["status"] == "cancelled" and "queue too long" in records["behind"]["error"]
    assert records["behind"]["type"] == "count", "the worker fills in what serve's record lacked"
    assert runs(tmp_path, "behind") == [], "a cancelled task never runs"


def live_members(pgid):
    """Processes of group `pgid` that are not zombies (nobody may reap orphans in a container,
    and os.killpg(pgid, 0) succeeds on zombies)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(entry))
    return out


def test_a_running_external_handler_is_stopped_its_group_killed_after_the_grace(pfo3, queue, store, tmp_path):
    grace_s = 2
    # Ignores SIGTERM, and so does its child: only the SIGKILL after the grace ends the group.
    script = counting_script(
        tmp_path, fails=0,
        result=f'echo $$ > "{tmp_path}/$PFO3_TASK_ID.pgid"; trap "" TERM; sleep 60 & wait; wait')
    config = config_file(tmp_path, script, f"[cancel]\ngrace_s = {grace_s}\n")
    serve = pfo3.serve(queue, config=config, env={"PFO3_STORE": f"file://{store}"})
    pfo3.work(queue, store, config=config)
    r = pfo3.send(serve.address, [{"id": "long", "type": "count", "payload": 1}], json_mode=True)
    assert r.returncode == 0, r.stderr
    pgid_file = tmp_path / "long.pgid"
    deadline = time.monotonic() + 30
    while not (pgid_file.exists() and pgid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    pgid = int(pgid_file.read_text())
    deadline = time.monotonic() + 10
    while len(live_members(pgid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(live_members(pgid)) >= 2, "the handler and its sleep run"
    with RawClient(serve.port) as c:
        reply = c.request({"op": "cancel", "id": "long", "reason": "took too long"})
    answered = time.monotonic()
    assert reply["status"] == "cancel_requested", reply
    # SIGTERM is ignored: the group lives through most of the grace.
    time.sleep(grace_s / 2)
    assert live_members(pgid), "SIGKILL only after the grace"
    while live_members(pgid) and time.monotonic() < answered + grace_s + 1:
        time.sleep(0.02)
    assert live_members(pgid) == [], f"the process group is gone within grace + 1 s ({grace_s + 1} s)"
    record = wait_for_results(store, ["long"], timeout=30, final=("cancelled", "done", "dead", "failed"))["long"]
    assert record["status"] == "cancelled" and "took too long" in record["error"], record
    assert record["attempts"] == 1
    status = status_of(serve, "long")
    assert status["status"] == "cancelled" and "took too long" in status["error"], status
    assert len(runs(tmp_path, "long")) == 1, "no retry"
    with RawClient(serve.port) as c:
        reply = c.request({"op": "cancel", "id": "long"})
        assert (reply["error"], reply["status"]) == ("too_late", "cancelled"), reply


def test_an_accepted_task_is_forgotten_by_a_restarted_serve(pfo3, queue, store, tmp_path):
    # What the decision record says: serve remembers accepted ids in memory only. No worker
    # runs, so the tasks stay queued without a record: only serve's memory knows them.
    script = counting_script(tmp_path, fails=0)
    config = config_file(tmp_path, script)
    env = {"PFO3_STORE": f"file://{store}"}
    first = pfo3.serve(queue, config=config, env=env)
    r = pfo3.send(first.address, [{"id": "earlier", "type": "count", "payload": 1},
                                  {"id": "control", "type": "count", "payload": 2}], json_mode=True)
    assert r.returncode == 0, r.stderr
    with RawClient(first.port) as c:
        # Before the restart an accepted id is known: the not_found below is the restart's doing.
        reply = c.request({"op": "cancel", "id": "control"})
        assert reply == {"ok": True, "id": "control", "status": "cancel_requested"}, reply
    assert first.terminate() == 0

    second = pfo3.serve(queue, config=config, env=env)
    assert second.pid != first.pid and first.proc.poll() == 0, "a new serve process"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", first.port), timeout=10).close()
    with RawClient(second.port) as c:
        reply = c.request({"op": "cancel", "id": "earlier"})
        assert (reply["ok"], reply.get("id"), reply.get("error")) == (False, "earlier", "not_found"), reply
        # The new serve does answer cancels: from the store for the id with a record, from its
        # memory for one it accepted itself.
        reply = c.request({"op": "cancel", "id": "control"})
        assert reply == {"ok": True, "id": "control", "status": "cancel_requested"}, reply
        assert c.request({"id": "later", "type": "count", "payload": 3})["ok"] is True
        reply = c.request({"op": "cancel", "id": "later"})
        assert reply == {"ok": True, "id": "later", "status": "cancel_requested"}, reply


@pytest.mark.parametrize("kind", ["file", "sqlite", "postgresql", "s3"])
def test_every_store_lists_a_pending_cancel_to_a_worker_that_starts_later(pfo3, queue, tmp_path, kind):
    # The store's listing (index, scan or markers) is what keeps the task from running.
    from test_stores import _databases, store_uri
    uri = store_uri(kind, tmp_path)
    try:
        script = counting_script(tmp_path, fails=0)
        config = config_file(tmp_path, script)
        serve = pfo3.serve(queue, config=config, env={"PFO3_STORE": uri})
        r = pfo3.send(serve.address, [{"id": "drop", "type": "count", "payload": 2},
                                      {"id": "keep", "type": "count", "payload": 1}], json_mode=True)
        assert r.returncode == 0, r.stderr
        with RawClient(serve.port) as c:
            reply = c.request({"op": "cancel", "id": "drop", "reason": f"on {kind}"})
            assert reply["status"] == "cancel_requested", reply
        pfo3.work(queue, config=config, extra=["--store", uri])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            keep, drop = status_of(serve, "keep"), status_of(serve, "drop")
            if keep["status"] == "done" and drop["status"] == "cancelled":
                break
            time.sleep(0.1)
        assert (keep["status"], drop["status"]) == ("done", "cancelled"), (keep, drop)
        assert f"on {kind}" in drop["error"], drop
        assert runs(tmp_path, "drop") == [], "a cancelled task never runs"
    finally:
        db = _databases.pop(uri, None)
        if db:
            db.close()
