"""`pfo3 send`: output, modes and exit statuses (SPEC 2)."""
import json

import pytest

from helpers.processes import free_port, submit_ids, write_file


@pytest.fixture
def serve(pfo3, queue):
    return pfo3.serve(queue)


def queued_bodies(broker, queue, n):
    return [json.loads(body) for _, body in broker.get_messages(queue, n)]


def test_arguments_are_tasks_and_ids_print_in_order(pfo3, serve, queue, broker):
    r = pfo3.send(serve.address, ["alpha", "beta", "gamma"])

    ids = submit_ids(r, 3)
    bodies = queued_bodies(broker, queue, 3)
    assert [b["id"] for b in bodies] == ids
    assert [b["payload"] for b in bodies] == ["alpha", "beta", "gamma"]
    assert all(b["type"] == "echo" for b in bodies), "send.type defaults to echo"


def test_stdin_lines_are_tasks_and_type_flag_sets_type(pfo3, serve, queue, broker):
    r = pfo3.send(serve.address, stdin="one\ntwo\nthree\n", type_="sleep")

    ids = submit_ids(r, 3)
    bodies = queued_bodies(broker, queue, 3)
    assert [(b["id"], b["payload"], b["type"]) for b in bodies] == \
        list(zip(ids, ["one", "two", "three"], ["sleep"] * 3))


def test_json_mode_sends_whole_requests_and_client_ids_come_back_in_order(pfo3, serve, queue, broker):
    requests = [{"id": f"j-{n}", "type": "sum", "payload": [n, n]} for n in range(5, 0, -1)]

    r = pfo3.send(serve.address, stdin="".join(json.dumps(q) + "\n" for q in requests),
                  json_mode=True)

    assert submit_ids(r, 5) == [q["id"] for q in requests]
    bodies = queued_bodies(broker, queue, 5)
    assert [(b["id"], b["type"], b["payload"]) for b in bodies] == \
        [(q["id"], q["type"], q["payload"]) for q in requests]


def test_some_rejected_exits_1_with_error_on_stderr(pfo3, serve):
    r = pfo3.send(serve.address, [{"id": "fine-1", "type": "echo", "payload": 1},
                                  {"id": "bad/id", "type": "echo", "payload": 2},
                                  {"id": "fine-2", "type": "echo", "payload": 3}], json_mode=True)

    assert r.returncode == 1, r
    assert r.stdout.split() == ["fine-1", "fine-2"]
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: bad_request: "), r.stderr


def test_bad_flag_exits_2(pfo3):
    r = pfo3.run(["send", "--no-such-flag", "x"])
    assert r.returncode == 2, r


def test_bad_config_exits_2(pfo3, tmp_path):
    config = write_file(tmp_path / "bad.toml", "[send]\nserver = 5000\n")
    r = pfo3.run(["--config", str(config), "send", "x"])
    assert r.returncode == 2, r
    assert f"{config}:2:" in r.stderr, r.stderr


def test_no_server_listening_exits_3(pfo3):
    r = pfo3.send(f"127.0.0.1:{free_port()}", ["x"], timeout=30)
    assert r.returncode == 3, r
    assert r.stdout == ""


def test_server_from_environment(pfo3, serve):
    r = pfo3.send(tasks=["via-env"], env={"PFO3_SERVER": serve.address})
    submit_ids(r, 1)


def test_flag_beats_environment_for_server(pfo3, serve):
    r = pfo3.send(serve.address, ["x"], env={"PFO3_SERVER": f"127.0.0.1:{free_port()}"})
    submit_ids(r, 1)


def test_status_command_reports_pending_for_unknown_id(pfo3, serve):
    r = pfo3.run(["status", "--server", serve.address, "nobody-sent-this"])
    assert r.returncode == 0, r
    assert "pending" in r.stdout, r.stdout
