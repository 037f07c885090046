"""The client protocol (SPEC 4) spoken over raw sockets, and the message it puts in RabbitMQ (SPEC 5)."""
import json
import time
from datetime import datetime, timezone

import pytest

from helpers.processes import wait_for_results, write_file


@pytest.fixture
def serve(pfo3, queue):
    return pfo3.serve(queue)


def test_ping_answers_pong(serve, raw_client):
    c = raw_client(serve.port)
    assert c.request({"op": "ping"}) == {"ok": True, "op": "pong"}


def test_pipelined_requests_are_answered_in_order(serve, raw_client, queue, broker):
    c = raw_client(serve.port)
    ids = [f"pipe-{i}" for i in range(500)]

    c.send("".join(json.dumps({"id": i, "type": "echo", "payload": n}) + "\n"
                   for n, i in enumerate(ids)))
    responses = c.read_n(500, timeout=30)

    assert [r["id"] for r in responses] == ids
    assert all(r["ok"] is True and r["status"] == "queued" for r in responses), responses[:3]
    assert broker.message_count(queue) == 500


def test_objects_may_follow_each_other_without_newlines(serve, raw_client):
    c = raw_client(serve.port)

    c.send('{"op":"ping"}{"id":"nl-1","type":"echo","payload":"a"}  {"op":"ping"}\t'
           '{"id":"nl-2","type":"echo","payload":{"x":"}"}}')
    responses = c.read_n(4)

    assert [r.get("op") or r.get("id") for r in responses] == ["pong", "nl-1", "pong", "nl-2"]
    assert all(r["ok"] for r in responses), responses


def test_bad_json_is_answered_and_the_connection_goes_on(serve, raw_client):
    c = raw_client(serve.port)

    c.send('{"op":"ping",,}\n{"op":"ping"}\n')
    bad, good = c.read_n(2)

    assert bad["ok"] is False and bad["error"] == "bad_json", bad
    assert bad.get("message"), "a rejection carries a human message"
    assert good == {"ok": True, "op": "pong"}


def test_request_over_the_size_limit_gets_line_too_long_then_close(pfo3, queue, tmp_path, raw_client):
    config = write_file(tmp_path / "pfo3.toml", "[serve]\nmax_request_bytes = 1024\n")
    serve = pfo3.serve(queue, config=config)
    c = raw_client(serve.port)
    assert c.request({"id": "small", "type": "echo", "payload": "x" * 500})["ok"] is True

    c.send(json.dumps({"id": "big", "payload": "x" * 4000}) + "\n")

    r = c.read()
    assert r is not None and r["ok"] is False and r["error"] == "line_too_long", r
    assert c.read() is None, "the connection is closed after line_too_long"
    # Other connections are not affected.
    assert raw_client(serve.port).request({"op": "ping"})["ok"] is True


@pytest.mark.parametrize("bad_id", ["a/b", ".", "..", "x" * 129, "", "sp ace", 42, "ñ"])
def test_invalid_client_id_is_bad_request(serve, raw_client, bad_id):
    r = raw_client(serve.port).request({"id": bad_id, "type": "echo", "payload": 1})
    assert r["ok"] is False and r["error"] == "bad_request", r


def test_longest_valid_client_id_is_accepted(serve, raw_client):
    task_id = "Az09._:-" * 16
    r = raw_client(serve.port).request({"id": task_id, "type": "echo", "payload": 1})
    assert r == {"ok": True, "id": task_id, "status": "queued"}


@pytest.mark.parametrize("request_", [
    {"op": "submit", "payload": 1, "type": 5},
    {"op": "submit", "payload": 1},
    {"op": "submit", "type": "echo", "payload": 1, "max_attempts": "three"},
    [1, 2],
    "just a string",
])
def test_malformed_request_is_bad_request(serve, raw_client, request_):
    c = raw_client(serve.port)
    c.send(json.dumps(request_) + "\n")
    r = c.read()
    assert r["ok"] is False and r["error"] in ("bad_request", "bad_json"), r
    assert c.request({"op": "ping"})["ok"] is True


def test_unknown_op_is_rejected(serve, raw_client):
    r = raw_client(serve.port).request({"op": "frobnicate"})
    assert r["ok"] is False and r["error"] == "unknown_op", r


def test_server_ids_are_generated_and_sort_by_time(serve, raw_client):
    c = raw_client(serve.port)
    ids = [c.request({"type": "echo", "payload": n})["id"] for n in range(5)]
    assert len(set(ids)) == 5
    assert ids == sorted(ids), "UUIDv7 ids sort by submission time"


def test_message_in_queue_has_spec_properties_and_teaching_aliases(serve, raw_client, queue, broker):
    before = int(time.time())
    r = raw_client(serve.port).request({"id": "alias-1", "accion": "sumar", "datos": [1, 2]})
    assert r == {"ok": True, "id": "alias-1", "status": "queued"}

    [(props, body)] = broker.get_messages(queue, 1)

    assert props.content_type == "application/json"
    assert props.delivery_mode == 2
    assert props.message_id == "alias-1"
    assert props.type == "sumar"
    assert before - 1 <= props.timestamp <= time.time() + 1
    msg = json.loads(body)
    assert msg["id"] == "alias-1"
    assert msg["type"] == "sumar"
    assert msg["payload"] == [1, 2]
    assert msg["attempt"] == 1
    submitted = datetime.fromisoformat(msg["submitted_at"].replace("Z", "+00:00"))
    assert submitted.tzinfo is not None
    assert abs(submitted.timestamp() - datetime.now(timezone.utc).timestamp()) < 60


def test_status_is_pending_then_done_once_stored(pfo3, queue, store, raw_client):
    # serve reads results from the store named by the environment (no flag for it).
    serve = pfo3.serve(queue, env={"PFO3_STORE": f"file://{store}"})
    c = raw_client(serve.port)
    unknown = c.request({"op": "status", "id": "never-submitted"})
    assert unknown["ok"] is True and unknown["status"] == "pending", unknown

    assert c.request({"id": "st-1", "type": "sum", "payload": [2, 3]})["ok"] is True
    pfo3.work(queue, store)
    wait_for_results(store, ["st-1"])

    done = c.request({"op": "status", "id": "st-1"})
    assert done["ok"] is True and done["id"] == "st-1", done
    assert done["status"] == "done" and done["result"] == 5 and done["attempts"] == 1, done
