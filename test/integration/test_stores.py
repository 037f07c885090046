"""The same behaviours for every result store (SQLite, file, PostgreSQL, S3): results land exactly once,
serve answers status from the store, redelivery after a crash stores nothing twice, an outage
of the store loses nothing, bad credentials stop a worker at once with a clear message.

A store whose server is not configured is skipped: PostgreSQL needs $PFO3_TEST_POSTGRES_URL
(and $PFO3_TEST_POSTGRES_DIR for the restart test), S3 needs $PFO3_TEST_S3_ENDPOINT; test/run
starts both and exports them.
"""
import json
import os
import select
import signal
import uuid
from urllib.parse import urlsplit

import pytest

from helpers.processes import submit_ids, wait_until
from helpers.stores import (PacedSend, PostgresDatabase, count_lines, file_store_count,
                            postgres_frozen, postgres_outage, sqlite_query, statuses,
                            unread_bytes_at_port, wait_final_statuses, with_database, with_password)

KINDS = ["sqlite", "file", "postgresql", "s3"]
#: What a worker logs when a write fails; it must appear once per outage, not per task.
OUTAGE_LINE = r"result store write failed"
WRONG_SECRET = "wrong-secret-4711"

_databases = {}  # store URI -> PostgresDatabase, dropped when its test ends


def store_uri(kind, tmp_path):
    """The URI of a fresh, empty store of `kind` for one test; skips if none is configured."""
    if kind == "file":
        directory = tmp_path / "results"
        directory.mkdir(exist_ok=True)
        return f"file://{directory}"
    if kind == "sqlite":
        directory = tmp_path / "results"
        directory.mkdir(exist_ok=True)
        return f"sqlite://{directory}/results.db"
    if kind == "postgresql":
        admin = os.environ.get("PFO3_TEST_POSTGRES_URL")
        if not admin:
            pytest.skip("needs PFO3_TEST_POSTGRES_URL (test/run starts a PostgreSQL)")
        db = PostgresDatabase(admin)
        _databases[db.url] = db
        return db.url
    if kind == "s3":
        endpoint = os.environ.get("PFO3_TEST_S3_ENDPOINT")
        if not endpoint:
            pytest.skip("needs PFO3_TEST_S3_ENDPOINT (test/run starts an S3-compatible server)")
        bucket = os.environ.get("PFO3_TEST_S3_BUCKET", "pfo3-test")
        return f"s3://{bucket}/{uuid.uuid4().hex[:12]}?endpoint={endpoint}&region=us-east-1"
    raise ValueError(kind)


def with_bad_secret(kind, uri):
    """(store URI, extra environment): the store at `uri` with a wrong secret."""
    if kind == "postgresql":
        return with_password(uri, WRONG_SECRET), {}
    if kind == "s3":
        return uri, {"AWS_SECRET_ACCESS_KEY": WRONG_SECRET}
    raise ValueError(f"a {kind} store has no credentials")


def stored_counts(uri):
    """(records, distinct ids) the store holds, or None where the suite cannot count them (S3:
    one object per id by construction)."""
    if uri.startswith("file://"):
        n = file_store_count(uri[len("file://"):])
        return n, n  # one file per id by construction
    if uri.startswith("sqlite://"):
        [(rows, distinct)] = sqlite_query(uri[len("sqlite://"):],
                                          "SELECT count(*), count(DISTINCT id) FROM pfo3_tasks")
        return rows, distinct
    if uri in _databases:
        return _databases[uri].counts()
    assert uri.startswith("s3://"), f"no way to count the records of {uri}"
    return None


def expected_counts(kind, n):
    """What stored_counts must say for `n` tasks each stored once."""
    return None if kind == "s3" else (n, n)


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


@pytest.fixture
def store_at(kind, tmp_path):
    """This test's store URI (a fresh directory, database or prefix)."""
    uri = store_uri(kind, tmp_path)
    yield uri
    db = _databases.pop(uri, None)
    if db:
        db.close()


def start_workers(pfo3, queue, uri, n=2, **kw):
    return [pfo3.work(queue, extra=["--store", uri], **kw) for _ in range(n)]


def test_echo_tasks_from_two_workers_are_each_stored_once(pfo3, queue, store_at, kind):
    serve = pfo3.serve(queue, env={"PFO3_STORE": store_at})
    workers = start_workers(pfo3, queue, store_at, prefetch=32, concurrency=2)
    payloads = [f"echo-{i:03d}" for i in range(300)]

    ids = submit_ids(pfo3.send(serve.address, stdin="\n".join(payloads) + "\n"), 300)

    final = wait_final_statuses(pfo3, serve.address, ids)
    for task_id, payload in zip(ids, payloads):
        answer = final[task_id]
        assert answer["status"] == "done", answer
        assert answer["result"] == payload, answer
        assert answer["error"] is None, answer
        assert answer["attempts"] == 1, answer
    counts = stored_counts(store_at)
    assert counts == expected_counts(kind, 300), f"(records, distinct ids) = {counts}"
    for w in workers:
        assert count_lines(w.stderr(), OUTAGE_LINE) == 0, w.stderr()[-2000:]


def test_status_of_an_unknown_id_is_pending(pfo3, queue, store_at):
    serve = pfo3.serve(queue, env={"PFO3_STORE": store_at})

    answer = statuses(pfo3, serve.address, ["no-such-task-1"])["no-such-task-1"]

    assert answer["status"] == "pending", answer
    assert answer["result"] is None and answer["attempts"] == 0, answer


def test_send_wait_prints_each_result_from_the_store(pfo3, queue, store_at):
    serve = pfo3.serve(queue, env={"PFO3_STORE": store_at})
    start_workers(pfo3, queue, store_at, n=1)

    r = pfo3.send(serve.address, ["first", "second"], extra=["--wait=60"])

    assert r.returncode == 0, f"rc={r.returncode}\n{r.stderr[-2000:]}"
    answers = [json.loads(line) for line in r.stdout.splitlines()]
    assert sorted((a["result"], a["status"]) for a in answers) == [("first", "done"), ("second", "done")]


def test_worker_killed_mid_batch_leaves_every_task_stored_once(pfo3, queue, store_at, kind):
    serve = pfo3.serve(queue, env={"PFO3_STORE": store_at})
    victim = pfo3.work(queue, extra=["--store", store_at], prefetch=16, concurrency=4)
    n = 60
    ids = submit_ids(pfo3.send(serve.address, [{"type": "sleep", "payload": 100}] * n,
                               json_mode=True), n)

    # Some results stored, the rest in the victim's hands (16 prefetched, 4 running).
    def some_final():
        done = [a for a in statuses(pfo3, serve.address, ids).values() if a["status"] == "done"]
        return len(done) >= 8 and done
    done_before = len(wait_until(some_final, 60, "the first results"))
    assert done_before < n, "the worker finished everything before it could be killed"
    victim.signal(signal.SIGKILL)
    victim.wait_exit()
    pfo3.work(queue, extra=["--store", store_at], prefetch=16, concurrency=4)

    final = wait_final_statuses(pfo3, serve.address, ids)
    assert all(a["status"] == "done" for a in final.values()), \
        [a for a in final.values() if a["status"] != "done"][:3]
    counts = stored_counts(store_at)
    assert counts == expected_counts(kind, n), f"(records, distinct ids) = {counts}"


@pytest.mark.parametrize("kind", ["postgresql"])
def test_postgres_restart_mid_stream_loses_and_duplicates_nothing(pfo3, queue, store_at):
    cluster = os.environ.get("PFO3_TEST_POSTGRES_DIR")
    if not cluster:
        pytest.skip("needs PFO3_TEST_POSTGRES_DIR (a private cluster this test may restart)")
    db = _databases[store_at]
    serve = pfo3.serve(queue)
    workers = start_workers(pfo3, queue, store_at, prefetch=256, concurrency=2)
    n = 5000
    # Fed over ~2.5 s, so tasks are still arriving, running and being stored at the outage.
    sender = PacedSend(pfo3, serve.address, [f"s-{i}" for i in range(n)])

    stored = wait_until(lambda: db.final_count() >= 500 and db.final_count(), 60,
                        "the first 500 results")
    assert stored < n, "the stream was stored completely before the outage began"
    postgres_outage(cluster, "stop")
    try:
        wait_until(lambda: any(count_lines(w.stderr(), OUTAGE_LINE) for w in workers), 60,
                   "a worker to report the outage")
    finally:
        postgres_outage(cluster, "start")
    ids = submit_ids(sender.finish(), n)

    wait_until(lambda: db.final_count() == n, 180, f"{n} results after the restart")
    assert db.counts() == (n, n)
    assert db.sql("SELECT count(*) FROM pfo3_tasks WHERE status <> 'done' OR result <> payload") == "0"
    assert set(db.sql("SELECT id FROM pfo3_tasks").split()) == set(ids)
    for w in workers:
        outages = count_lines(w.stderr(), OUTAGE_LINE)
        assert outages <= 1, f"{w.name} logged the outage {outages} times:\n{w.stderr()[-3000:]}"


@pytest.mark.parametrize("kind", ["postgresql", "s3"])
def test_bad_credentials_stop_the_worker_with_status_2_naming_the_store(pfo3, queue, kind,
                                                                          store_at):
    uri, env = with_bad_secret(kind, store_at)

    r = pfo3.run(["work", "--amqp", pfo3.amqp_url, "--queue", queue, "--store", uri], env=env,
                 timeout=60)

    assert r.returncode == 2, f"rc={r.returncode}\n{r.stderr[-2000:]}"
    assert "store" in r.stderr and kind in r.stderr, r.stderr
    assert WRONG_SECRET not in r.stderr + r.stdout, r.stderr
    if kind == "postgresql":
        assert f"postgresql://{urlsplit(uri).username}:***@" in r.stderr, r.stderr
        assert "password authentication failed" in r.stderr, r.stderr


def test_worker_refuses_a_missing_postgres_database_with_status_2(pfo3, queue):
    admin = os.environ.get("PFO3_TEST_POSTGRES_URL")
    if not admin:
        pytest.skip("needs PFO3_TEST_POSTGRES_URL")
    uri = with_database(admin, "t_no_such_database")

    r = pfo3.run(["work", "--amqp", pfo3.amqp_url, "--queue", queue, "--store", uri], timeout=60)

    assert r.returncode == 2, f"rc={r.returncode}\n{r.stderr[-2000:]}"
    assert 'database "t_no_such_database" does not exist' in r.stderr, r.stderr
    assert urlsplit(admin).password not in r.stderr, r.stderr


@pytest.mark.parametrize("kind", ["postgresql"])
def test_a_status_read_stuck_on_the_store_holds_up_no_other_connection(pfo3, queue, store_at,
                                                                        raw_client):
    """serve reads status on threads of its own: while one status waits for a PostgreSQL that
    does not answer (every process of the cluster stopped with SIGSTOP: the kernel still accepts
    connections and buffers queries, nothing answers them), pings and submits on other
    connections are answered."""
    cluster = os.environ.get("PFO3_TEST_POSTGRES_DIR")
    if not cluster:
        pytest.skip("needs PFO3_TEST_POSTGRES_DIR (a private cluster this test may pause)")
    # A connection opened while the cluster is stopped waits for it as long as the test needs,
    # not libpq's default 10 s after which the status would be answered `unavailable`.
    sep = "&" if "?" in store_at else "?"
    serve = pfo3.serve(queue, env={"PFO3_STORE": f"{store_at}{sep}connect_timeout=600"})
    waiting, other = raw_client(serve.port), raw_client(serve.port)
    pg_port = urlsplit(store_at).port

    with postgres_frozen(cluster):
        waiting.send(b'{"op":"status","id":"nobody-yet"}\n')
        # The read has reached PostgreSQL and waits there; an I/O thread doing the read itself
        # would now be stuck. (60 s bounds a failure; nothing waits on it otherwise.)
        wait_until(lambda: unread_bytes_at_port(pg_port) > 0, 60,
                   "serve's status read to reach the stopped PostgreSQL")
        assert other.request({"op": "ping"}, timeout=60) == {"ok": True, "op": "pong"}
        accepted = other.request({"id": "while-waiting", "type": "echo", "payload": 1}, timeout=60)
        assert accepted == {"ok": True, "id": "while-waiting", "status": "queued"}, accepted
        readable, _, _ = select.select([waiting.sock], [], [], 0)
        assert not readable, "the status was answered while PostgreSQL could not answer"

    r = waiting.read(timeout=120)
    assert r is not None and (r["id"], r.get("status")) == ("nobody-yet", "pending"), r


def test_send_wait_keeps_asking_while_the_store_cannot_be_read(pfo3, queue):
    """`unavailable` from status is a state of the store, not of the task: --wait asks again
    until its deadline, and prints the result once the store can be read."""
    admin = os.environ.get("PFO3_TEST_POSTGRES_URL")
    if not admin:
        pytest.skip("needs PFO3_TEST_POSTGRES_URL")
    name = "t_" + uuid.uuid4().hex[:16]
    uri = with_database(admin, name)  # created only once --wait has met the missing database
    serve = pfo3.serve(queue, env={"PFO3_STORE": uri})
    sender = pfo3._daemon("send", ["send", "--server", serve.address, "--wait=120", "late"], {})
    try:
        wait_until(lambda: sender.proc.poll() is not None or
                   any("status request failed" in l and "does not exist" in l
                       for l in serve.stderr().splitlines()), 60,
                   "a status answered `unavailable` (missing database)")
        assert sender.proc.poll() is None, f"--wait gave up on `unavailable`: {sender.stderr()}"
        PostgresDatabase.create(admin, name)
        pfo3.work(queue, extra=["--store", uri])

        assert sender.wait_exit(120) == 0, sender.stderr()
        [line] = [json.loads(l) for l in sender.stdout_path.read_text().splitlines()]
        assert (line["status"], line["result"]) == ("done", "late"), line
    finally:
        PostgresDatabase.drop(admin, name)


def test_sqlite_serve_answers_status_from_the_file_without_ever_creating_it(pfo3, queue, tmp_path):
    """serve opens the database read-only: before any worker made it, status is `pending` and
    no file appears; once a worker has stored results, serve reads them, and so does `sqlite3`."""
    db = tmp_path / "results.db"
    serve = pfo3.serve(queue, env={"PFO3_STORE": f"sqlite://{db}"})
    assert statuses(pfo3, serve.address, ["early"])["early"]["status"] == "pending"
    assert not db.exists()

    pfo3.work(queue, extra=["--store", f"sqlite://{db}"])
    ids = submit_ids(pfo3.send(serve.address, ["one", "two"]), 2)
    final = wait_final_statuses(pfo3, serve.address, ids)

    assert [final[i]["result"] for i in ids] == ["one", "two"], final
    rows = sqlite_query(db, "SELECT id, status, result, attempts FROM pfo3_tasks ORDER BY submitted_at, id")
    assert sorted(rows) == sorted([(i, "done", json.dumps(p), 1) for i, p in zip(ids, ["one", "two"])]), rows


def test_sqlite_relative_path_stops_serve_and_work_at_start_with_status_2(pfo3, queue):
    # A serve that started anyway would listen on a port of its own choosing, not 5000.
    for args in (["serve", "--listen", "127.0.0.1:0"], ["work"]):
        role = args[0]
        r = pfo3.run(args + ["--amqp", pfo3.amqp_url, "--queue", queue], env={"PFO3_STORE": "sqlite://results.db"},
                     timeout=60)

        assert r.returncode == 2, f"{role}: rc={r.returncode}\n{r.stderr[-2000:]}"
        assert "PFO3_STORE" in r.stderr and "absolute path: sqlite:///DIR/FILE.db" in r.stderr, r.stderr


@pytest.mark.parametrize("uri, message", [
    ("sqlite://results.db", "absolute path"),
    ("sqlite://{tmp}/no-such-dir/results.db", "No such file or directory"),
    ("sqlite://{tmp}/garbage.db", "file is not a database"),
])
def test_sqlite_worker_refuses_an_unusable_database_with_status_2(pfo3, queue, tmp_path, uri, message):
    (tmp_path / "garbage.db").write_bytes(b"not a database" * 512)
    uri = uri.format(tmp=tmp_path)

    r = pfo3.run(["work", "--amqp", pfo3.amqp_url, "--queue", queue, "--store", uri], timeout=60)

    assert r.returncode == 2, f"rc={r.returncode}\n{r.stderr[-2000:]}"
    assert message in r.stderr and "sqlite" in r.stderr, r.stderr
    assert not (tmp_path / "no-such-dir").exists()
