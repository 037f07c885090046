"""`pfo3 dead list|requeue|purge`: the operator's tools for `<queue>.dead`, against a real broker.

Every behaviour is checked on both paths (decision 0016): through serve's dead_* ops (the
default) and with --direct against the broker. Dead letters are either made by a real worker (a
task type no handler knows is dead at once) or published straight into `<queue>.dead` in the
shape the worker writes (task body + "error").
"""
import json
import subprocess

import pika
import pytest

from helpers.certs import Certificates
from helpers.processes import (child_env, free_port, rabbitmqctl, read_records, submit_ids, wait_for_results,
                               wait_until, write_file)


def declare(broker, queue):
    """The task queue and its dead-letter queue, declared as pfo3 declares them."""
    conn = broker.connect()
    try:
        ch = conn.channel()
        for name in (queue, f"{queue}.dead"):
            ch.queue_declare(name, durable=True)
    finally:
        conn.close()


def put_dead(broker, queue, task_id, error="handler failed", attempt=5, type_="echo", payload=None):
    """Publishes a dead letter as a worker writes it; returns its body as a dict."""
    body = {"id": task_id, "type": type_, "payload": payload if payload is not None else task_id,
            "submitted_at": "2024-05-01T10:00:00Z", "attempt": attempt, "error": error}
    broker.publish(f"{queue}.dead", json.dumps(body, separators=(",", ":")),
                   pika.BasicProperties(message_id=task_id, type=type_, delivery_mode=2,
                                        content_type="application/json"))
    return body


@pytest.fixture(params=["serve", "direct"])
def path(request, pfo3):
    """How `pfo3 dead` reaches the letters: through a serve of the test's queue, or --direct."""
    servers = {}

    def args(queue):
        if request.param == "direct":
            return ["--direct", "--amqp", pfo3.amqp_url, "--queue", queue]
        if queue not in servers:
            servers[queue] = pfo3.serve(queue)
        return ["--server", servers[queue].address]
    return args


@pytest.fixture
def dead(pfo3, path):
    """Runs `pfo3 dead ARGS` against this test's broker and queue, on the path of the run."""
    def run(pfo3_, queue, *args, timeout=60):
        return pfo3.run(["dead", *path(queue), *args], timeout=timeout)
    return run


def rows(listing):
    """The table rows of `dead list` as lists of fields (header dropped)."""
    lines = listing.stdout.splitlines()
    assert lines[0].split("\t") == ["ID", "TYPE", "ATTEMPT", "SUBMITTED_AT", "ERROR"], lines[:1]
    return [line.split("\t") for line in lines[1:]]


def test_list_shows_dead_letters_in_order_without_removing_them(pfo3, queue, dead, broker):
    declare(broker, queue)
    put_dead(broker, queue, "d-1", error="exit status 3", attempt=5)
    put_dead(broker, queue, "d-2", error="line one\nline\ttwo", attempt=2, type_="resize")
    broker.publish(f"{queue}.dead", b"not json\n\xff", pika.BasicProperties(message_id="d-3"))

    first = dead(pfo3, queue, "list")
    again = dead(pfo3, queue, "list")

    assert first.returncode == 0, first.stderr
    assert rows(first) == [
        ["d-1", "echo", "5", "2024-05-01T10:00:00Z", "exit status 3"],
        ["d-2", "resize", "2", "2024-05-01T10:00:00Z", "line one line two"],
        ["d-3", "-", "-", "-", rows(first)[2][4]],
    ]
    assert rows(first)[2][4].startswith("undecodable body: not JSON")
    assert "3 of 3 dead letters" in first.stderr
    assert again.stdout == first.stdout, "listing twice shows the same letters in the same order"
    assert broker.message_count(f"{queue}.dead") == 3


def test_list_json_prints_one_body_per_line_and_limit_bounds_it(pfo3, queue, dead, broker):
    declare(broker, queue)
    bodies = [put_dead(broker, queue, f"j-{n}", attempt=n + 1) for n in range(4)]

    listed = dead(pfo3, queue, "list", "--json")
    limited = dead(pfo3, queue, "list", "--limit", "2")

    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line) for line in listed.stdout.splitlines()] == bodies
    assert limited.returncode == 0 and [r[0] for r in rows(limited)] == ["j-0", "j-1"]
    assert "2 of 4 dead letters" in limited.stderr
    assert broker.message_count(f"{queue}.dead") == 4


def test_requeue_by_id_moves_only_those_with_attempt_reset(pfo3, queue, dead, broker):
    declare(broker, queue)
    put_dead(broker, queue, "r-1")
    wanted = put_dead(broker, queue, "r-2", payload={"n": [1, 2.5]})
    put_dead(broker, queue, "r-3")

    moved = dead(pfo3, queue, "requeue", "r-2")

    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.split() == ["r-2"]
    [(props, body)] = broker.get_messages(queue, 1)
    expected = {k: v for k, v in wanted.items() if k != "error"}
    expected["attempt"] = 1
    expected["requeues"] = 1  # a new run: its records replace the dead one
    assert json.loads(body) == expected
    assert props.message_id == "r-2" and props.delivery_mode == 2
    assert props.content_type == "application/json"
    listing = dead(pfo3, queue, "list")
    assert [r[0] for r in rows(listing)] == ["r-1", "r-3"], "the others stay, in order"


def test_requeue_reports_unknown_ids_and_leaves_undecodable_letters(pfo3, queue, dead, broker):
    declare(broker, queue)
    put_dead(broker, queue, "u-1")
    broker.publish(f"{queue}.dead", b"{broken", pika.BasicProperties(message_id="u-2"))

    r = dead(pfo3, queue, "requeue", "u-1", "u-2", "nope")

    assert r.returncode == 1, r
    assert r.stdout.split() == ["u-1"]
    assert "u-2: cannot be a task again" in r.stderr
    assert "nope: no such dead letter" in r.stderr
    assert broker.message_count(queue) == 1
    assert broker.message_count(f"{queue}.dead") == 1


def test_dead_letters_of_a_missing_handler_are_processed_after_the_fix(pfo3, queue, dead, store, broker,
                                                                      tmp_path):
    serve = pfo3.serve(queue)
    first = pfo3.work(queue, store)
    ids = submit_ids(pfo3.send(serve.address, [{"id": f"m-{n}", "type": "later", "payload": n}
                                               for n in range(3)], json_mode=True), 3)
    records = wait_for_results(store, ids)
    assert {r["status"] for r in records.values()} == {"dead"}, records
    listing = dead(pfo3, queue, "list")
    assert sorted(r[0] for r in rows(listing)) == ids
    assert all(r[1] == "later" and r[2] == "1" and r[4] != "-" for r in rows(listing)), rows(listing)
    assert first.terminate() == 0

    # The operator deploys the missing handler, then sends the dead letters back.
    config = write_file(tmp_path / "pfo3.toml", '[handlers.later]\ncommand = ["/bin/cat"]\n')
    second = pfo3.work(queue, store, config=config)
    moved = dead(pfo3, queue, "requeue", "--all")
    assert moved.returncode == 0, moved.stderr
    assert sorted(moved.stdout.split()) == ids

    records = wait_for_results(store, ids, final=("done",))
    assert all(r["result"] == int(r["id"][2:]) and r["attempts"] == 1 for r in records.values()), records
    assert second.terminate() == 0
    assert broker.message_count(queue) == 0 and broker.message_count(f"{queue}.dead") == 0
    assert len(read_records(store)) == 3


def test_purge_needs_yes_and_reports_the_count(pfo3, queue, dead, broker):
    declare(broker, queue)
    for n in range(3):
        put_dead(broker, queue, f"p-{n}")

    refused = dead(pfo3, queue, "purge")
    assert refused.returncode == 2 and "3 dead letters" in refused.stderr
    assert broker.message_count(f"{queue}.dead") == 3

    purged = dead(pfo3, queue, "purge", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.strip() == f"purged 3 dead letters from {queue}.dead"
    assert broker.message_count(f"{queue}.dead") == 0


def test_dead_without_a_broker_exits_3_and_usage_errors_exit_2(pfo3, queue):
    nobody = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2f"
    for action in (["list"], ["requeue", "--all"], ["purge", "--yes"]):
        r = pfo3.run(["dead", "--direct", "--amqp", nobody, "--queue", queue, *action], timeout=30)
        assert r.returncode == 3, (action, r)
        assert "error: broker:" in r.stderr and "guest:***@" in r.stderr

    assert pfo3.run(["dead"]).returncode == 2
    assert pfo3.run(["dead", "--direct", "requeue", "--amqp", nobody]).returncode == 2, "ids or --all"
    assert pfo3.run(["dead", "--direct", "requeue", "x", "--all", "--amqp", nobody]).returncode == 2
    assert pfo3.run(["dead", "--direct", "list", "--amqp", "http://nope"]).returncode == 2
    r = pfo3.run(["dead", "list", "--amqp", nobody])
    assert r.returncode == 2 and "--direct" in r.stderr, "the broker's URL without --direct is a mistake"


def test_dead_through_serve_without_serve_or_its_broker_exits_3(pfo3, queue):
    r = pfo3.run(["dead", "--server", f"127.0.0.1:{free_port()}", "list"], timeout=30)
    assert r.returncode == 3 and "error: cannot reach server" in r.stderr, r

    # serve is up, its broker is not: every action is `unavailable`, nothing is changed.
    serve = pfo3.serve(queue, amqp=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2f")
    for action in (["list"], ["requeue", "--all"], ["requeue", "a1"], ["purge", "--yes"]):
        r = pfo3.run(["dead", "--server", serve.address, *action], timeout=60)
        assert r.returncode == 3, (action, r)
        assert "error: unavailable:" in r.stderr, (action, r.stderr)



# ---- through serve only: scopes, bounds, garbage --------------------------------------------

DELAY_MS = 50


def make_token(pfo3, tokens_file, name, scopes, tmp_path):
    """A token with `scopes` in `tokens_file`; returns the path of a file holding it."""
    r = pfo3.run(["token", "--tokens-file", str(tokens_file), "new", name, "--scopes", scopes])
    assert r.returncode == 0, r
    return write_file(tmp_path / f"{name}.token", r.stdout.strip() + "\n")


def token_config(tmp_path, tokens_file, extra=""):
    """A config file: [auth] with `tokens_file`, plus `extra`."""
    return write_file(tmp_path / "auth.toml", f"""{extra}
[auth]
mode = "token"
tokens_file = "{tokens_file}"
failure_delay_ms = {DELAY_MS}
""")


def test_a_submit_token_cannot_touch_dead_letters_and_an_admin_token_can(pfo3, queue, broker, tmp_path,
                                                                        raw_client):
    tokens = tmp_path / "tokens"
    sub = make_token(pfo3, tokens, "sub", "submit", tmp_path)
    looker = make_token(pfo3, tokens, "looker", "submit,status", tmp_path)
    ops = make_token(pfo3, tokens, "ops", "admin", tmp_path)
    serve = pfo3.serve(queue, config=token_config(tmp_path, tokens))
    declare(broker, queue)
    for n in range(2):
        put_dead(broker, queue, f"s-{n}")

    def dead_as(token_file, *args):
        return pfo3.run(["dead", "--server", serve.address, "--token-file", str(token_file), *args])

    for token in (sub, looker):
        for action in (["purge", "--yes"], ["requeue", "--all"], ["list"]):
            r = dead_as(token, *action)
            assert r.returncode == 1, (token, action, r)
            assert 'error: forbidden:' in r.stderr and 'needs scope "admin"' in r.stderr, r.stderr
    c = raw_client(serve.port)
    assert c.request({"op": "auth", "token": sub.read_text().strip()})["ok"] is True
    assert c.request({"op": "dead_purge", "all": True})["error"] == "forbidden"
    assert broker.message_count(f"{queue}.dead") == 2, "nothing changed"
    assert broker.message_count(queue) == 0

    listed = dead_as(ops, "list")
    assert listed.returncode == 0 and [r[0] for r in rows(listed)] == ["s-0", "s-1"], listed
    purged = dead_as(ops, "purge", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.strip() == f"purged 2 dead letters from {queue}.dead"
    assert broker.message_count(f"{queue}.dead") == 0


def test_a_listing_through_serve_is_bounded_in_letters_and_bytes(pfo3, queue, broker, raw_client):
    serve = pfo3.serve(queue)
    declare(broker, queue)
    big = "x" * 5000
    for n in range(300):
        put_dead(broker, queue, f"b-{n}", payload=big)

    c = raw_client(serve.port, timeout=60)
    r = c.request({"op": "dead_list", "limit": 1000})
    line_bytes = len(json.dumps(r))
    assert r["ok"] is True and r["total"] == 300 and r["queue"] == f"{queue}.dead"
    assert r["cut"] is True and 0 < r["listed"] == len(r["letters"]) < 300, (r["listed"], r["cut"])
    assert line_bytes < 300 * 1024, line_bytes
    first = r["letters"][0]
    assert first["id"] == "b-0" and first["attempt"] == 5 and first["body_cut"] is True
    assert len(first["body"].encode()) <= 1024 < first["body_bytes"]
    assert c.request({"op": "dead_list", "limit": 3})["listed"] == 3
    assert c.request({"op": "dead_list", "limit": 1001})["error"] == "bad_request"

    # The CLI says what it shows; --json keeps one JSON value a line even for a cut body.
    cli = pfo3.run(["dead", "--server", serve.address, "list", "--json", "--limit", "2"])
    assert cli.returncode == 0, cli.stderr
    assert all(isinstance(json.loads(line), str) for line in cli.stdout.splitlines())
    assert "body cut to" in cli.stderr and "2 of 300 dead letters" in cli.stderr
    assert broker.message_count(f"{queue}.dead") == 300


def test_garbage_dead_letter_requests_are_bad_request_and_change_nothing(pfo3, queue, broker, raw_client):
    serve = pfo3.serve(queue)
    declare(broker, queue)
    for n in range(2):
        put_dead(broker, queue, f"g-{n}")

    c = raw_client(serve.port)
    for bad in ({"op": "dead_purge"}, {"op": "dead_purge", "all": False}, {"op": "dead_purge", "all": 1},
                {"op": "dead_requeue"}, {"op": "dead_requeue", "ids": ["g-0", "has space"]},
                {"op": "dead_requeue", "ids": "g-0"}, {"op": "dead_requeue", "ids": []},
                {"op": "dead_requeue", "all": True, "ids": ["g-0"]}, {"op": "dead_list", "limit": -1},
                {"op": "dead_requeue", "ids": [f"i{n}" for n in range(1001)]},
                {"op": "dead_purge", "ids": [{"id": "g-0"}]}):
        r = c.request(bad)
        assert r["ok"] is False and r["error"] == "bad_request", (bad, r)
    r = pfo3.run(["dead", "--server", serve.address, "requeue", "g-0", "--all"])
    assert r.returncode == 2
    assert broker.message_count(f"{queue}.dead") == 2 and broker.message_count(queue) == 0

    # Well-formed ids that are not there: an answer naming them, still nothing changed.
    r = c.request({"op": "dead_purge", "ids": ["nope"]})
    assert r == {"ok": True, "op": "dead_purge", "queue": f"{queue}.dead", "purged": 0, "missing": ["nope"],
                 "left": 2}, r
    assert broker.message_count(f"{queue}.dead") == 2


def test_purge_by_id_deletes_only_those(pfo3, queue, dead, broker):
    declare(broker, queue)
    for n in range(3):
        put_dead(broker, queue, f"i-{n}")

    refused = dead(pfo3, queue, "purge", "i-1")
    assert refused.returncode == 2 and "without --yes" in refused.stderr
    r = dead(pfo3, queue, "purge", "--yes", "i-1", "gone")
    assert r.returncode == 1, r
    assert r.stdout.strip() == f"purged 1 dead letters from {queue}.dead"
    assert "gone: no such dead letter" in r.stderr
    assert [x[0] for x in rows(dead(pfo3, queue, "list"))] == ["i-0", "i-2"]


def test_requeue_all_through_serve_goes_in_batches_and_reports_every_letter(pfo3, queue, dead, broker):
    declare(broker, queue)
    for n in range(250):
        put_dead(broker, queue, f"a-{n}")
    broker.publish(f"{queue}.dead", b"{broken", pika.BasicProperties(message_id="a-bad"))

    r = dead(pfo3, queue, "requeue", "--all", timeout=180)
    assert r.returncode == 1, r.stderr  # the undecodable one stays
    assert sorted(r.stdout.split()) == sorted(f"a-{n}" for n in range(250))
    assert "a-bad: cannot be a task again" in r.stderr
    assert f"requeued 250 dead letters to {queue}" in r.stderr and f"1 left in {queue}.dead" in r.stderr
    assert broker.message_count(queue) == 250 and broker.message_count(f"{queue}.dead") == 1


def test_a_broker_lost_midway_through_a_requeue_loses_no_letter(pfo3, queue, broker, rabbitmq_dir):
    serve = pfo3.serve(queue)
    declare(broker, queue)
    ids = [f"m-{n}" for n in range(4000)]
    conn = broker.connect()
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        for i in ids:
            body = {"id": i, "type": "echo", "payload": i, "attempt": 5, "error": "handler failed"}
            ch.basic_publish("", f"{queue}.dead", json.dumps(body),
                             pika.BasicProperties(message_id=i, type="echo", delivery_mode=2))
    finally:
        conn.close()

    cli = subprocess.Popen([pfo3.bin, "dead", "--server", serve.address, "requeue", "--all"], env=child_env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: (broker.message_count(queue) or 0) >= 100, 120, "the requeue to move some letters")
        rabbitmqctl(rabbitmq_dir, "stop_app")
        try:
            out, err = cli.communicate(timeout=120)
        finally:
            rabbitmqctl(rabbitmq_dir, "start_app")
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
    assert cli.returncode == 3, err
    assert "error: unavailable:" in err or "failed midway" in err, err
    assert 0 < len(out.split()) < len(ids), "stopped midway"

    def reachable():
        try:
            return broker.message_count(f"{queue}.dead") is not None
        except Exception:  # the node is still starting
            return False
    wait_until(reachable, 120, "the broker to be back")
    # serve's dead letters reconnect: the rest moves on the next request.
    again = pfo3.run(["dead", "--server", serve.address, "requeue", "--all"], timeout=300)
    assert again.returncode == 0, again.stderr
    assert broker.message_count(f"{queue}.dead") == 0
    # Nothing lost: every id is in the task queue (a few perhaps twice: copy confirmed, ack lost).
    queued = broker.get_messages(queue, broker.message_count(queue), timeout=60)
    assert {json.loads(body)["id"] for _, body in queued} == set(ids)
    assert len(queued) - len(ids) < 100, "at most the letters in flight are duplicated"


def test_dead_through_serve_over_tls_with_a_token(pfo3, queue, broker, tmp_path):
    certs = Certificates(tmp_path / "certs")
    tokens = tmp_path / "tokens"
    ops = make_token(pfo3, tokens, "ops", "admin", tmp_path)
    serve = pfo3.serve(queue, config=token_config(tmp_path, tokens, f"""
[serve.tls]
mode = "required"
cert_file = "{certs.server[0]}"
key_file = "{certs.server[1]}"
"""))
    declare(broker, queue)
    for n in range(3):
        put_dead(broker, queue, f"t-{n}")

    plain = pfo3.run(["dead", "--server", serve.address, "--token-file", str(ops), "purge", "--yes"])
    assert plain.returncode != 0 and "tls_required" in plain.stderr, plain
    assert broker.message_count(f"{queue}.dead") == 3

    tls = ["dead", "--server", serve.address, "--ca-file", str(certs.ca[0]), "--token-file", str(ops)]
    listed = pfo3.run([*tls, "list"])
    assert listed.returncode == 0, listed.stderr
    assert [r[0] for r in rows(listed)] == ["t-0", "t-1", "t-2"]
    moved = pfo3.run([*tls, "requeue", "t-1"])
    assert moved.returncode == 0 and moved.stdout.split() == ["t-1"], moved
    purged = pfo3.run([*tls, "purge", "--yes"])
    assert purged.returncode == 0 and purged.stdout.strip() == f"purged 2 dead letters from {queue}.dead"
    assert broker.message_count(queue) == 1 and broker.message_count(f"{queue}.dead") == 0
