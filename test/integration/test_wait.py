"""`pfo3 send --wait` and `pfo3 status`: results read back through serve (SPEC 2, 4.2)."""
import json

import pytest


@pytest.fixture
def system(pfo3, queue, store):
    """serve and one worker sharing the file store `store`."""
    serve = pfo3.serve(queue, env={"PFO3_STORE": f"file://{store.resolve()}"})
    pfo3.work(queue, store)
    return serve


def status_lines(result):
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_wait_prints_each_result_in_order_and_exits_0_when_all_done(pfo3, system):
    r = pfo3.send(system.address, ["uno", "dos", "tres"], extra=["--wait=30"])

    assert r.returncode == 0, r.stderr
    lines = status_lines(r)
    assert [(l["status"], l["result"]) for l in lines] == [("done", "uno"), ("done", "dos"), ("done", "tres")]
    assert len({l["id"] for l in lines}) == 3


def test_wait_without_value_does_not_swallow_the_next_argument(pfo3, system):
    r = pfo3.send(system.address, ["7"], extra=["--wait"])

    assert r.returncode == 0, r.stderr
    assert [l["result"] for l in status_lines(r)] == ["7"], "the payload is the string 7, not a wait time"


def test_wait_exits_1_when_a_task_ends_dead(pfo3, system):
    r = pfo3.send(system.address, ["x"], type_="no-such-type", extra=["--wait=30"])

    assert r.returncode == 1
    [line] = status_lines(r)
    assert line["status"] == "dead" and "no-such-type" in line["error"]


def test_wait_times_out_with_pending_status_and_exit_1(pfo3, system):
    # An integer payload: the string "5000" would be refused by `sleep` at once (dead), and
    # the test would then depend on how fast that is stored.
    r = pfo3.send(system.address, ['{"type":"sleep","payload":5000}'], extra=["--json", "--wait=0.3"])

    assert r.returncode == 1
    assert [l["status"] for l in status_lines(r)] == ["pending"]


def test_negative_wait_is_a_usage_error(pfo3, system):
    r = pfo3.send(system.address, ["x"], extra=["--wait=-1"])

    assert r.returncode == 2


def test_status_command_reports_done_and_pending(pfo3, system):
    ids = pfo3.send(system.address, ["hola"], extra=["--wait=30"])
    done_id = status_lines(ids)[0]["id"]

    r = pfo3.run(["status", "--server", system.address, done_id, "never-submitted"])

    assert r.returncode == 0, r.stderr
    lines = status_lines(r)
    assert (lines[0]["id"], lines[0]["status"], lines[0]["result"]) == (done_id, "done", "hola")
    assert (lines[1]["id"], lines[1]["status"], lines[1]["attempts"]) == ("never-submitted", "pending", 0)


def test_status_of_an_invalid_id_is_rejected_with_exit_1(pfo3, system):
    r = pfo3.run(["status", "--server", system.address, "../etc/passwd"])

    assert r.returncode == 1
    assert r.stderr.startswith("error: bad_request: ")
