"""The operations endpoints of serve and work (issue 14): /metrics counts exactly what happened
and passes `promtool check metrics`, the task-type label stays bounded, /readyz follows the
broker and the store while /livez does not, and the shipped alert rules load in promtool.
"""
import json
import os
import random
import shutil
import string
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers.processes import REPO, rabbitmqctl, submit_ids, wait_for_results, wait_until, write_file
from helpers.proxy import TcpProxy, amqp_url_via, broker_address
from helpers.stores import PostgresDatabase, postgres_outage

PROMTOOL = shutil.which("promtool")


def get(port, path, method="GET", timeout=10):
    """(status, body text) of one HTTP request to 127.0.0.1:port."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def samples(port):
    """{(name, frozenset(labels)): value} of one scrape."""
    status, text = get(port, "/metrics")
    assert status == 200, text
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        name, labels = series, frozenset()
        if "{" in series:
            name, rest = series.split("{", 1)
            labels = frozenset(tuple(kv.split("=", 1)) for kv in rest.rstrip("}").split('",') if kv)
            labels = frozenset((k, v.strip('"')) for k, v in labels)
        out[(name, labels)] = float(value)
    return out


def value(scrape, name, **labels):
    return scrape.get((name, frozenset(labels.items())), 0.0)


def promtool_check(text):
    if not PROMTOOL:
        pytest.fail("promtool missing: test/services/install-deps.sh installs the prometheus package")
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, f"promtool check metrics rc={r.returncode}: {r.stderr}\n{text[:3000]}"


def test_counts_are_exact_and_the_text_passes_promtool(pfo3, queue, store, tmp_path):
    serve = pfo3.serve(queue)
    config = write_file(tmp_path / "pfo3.toml", "[http]\nqueue_check_s = 1\n")
    work = pfo3.work(queue, store, prefetch=32, concurrency=4, http=True, config=config)

    ok = submit_ids(pfo3.send(serve.address, stdin="".join(f"{i}\n" for i in range(990)),
                              timeout=120), 990)
    unknown = submit_ids(pfo3.send(serve.address, [str(i) for i in range(10)], type_="no_such_type",
                                   timeout=60), 10)
    assert len(set(ok + unknown)) == 1000

    def settled():
        s = samples(work.http_port)
        done = value(s, "pfo3_worker_tasks_finished_total", type="echo", outcome="done")
        dead = value(s, "pfo3_worker_tasks_finished_total", type="no_such_type", outcome="dead")
        return s if done + dead == 1000 and value(s, "pfo3_worker_tasks_in_flight") == 0 else None

    w = wait_until(settled, 120, "the worker to count 1000 finished tasks")
    assert value(w, "pfo3_worker_tasks_finished_total", type="echo", outcome="done") == 990
    assert value(w, "pfo3_worker_tasks_finished_total", type="no_such_type", outcome="dead") == 10
    assert value(w, "pfo3_worker_tasks_received_total") == 1000
    assert value(w, "pfo3_worker_deliveries_settled_total") == 1000
    assert value(w, "pfo3_worker_redeliveries_total") == 0
    assert value(w, "pfo3_worker_run_seconds_count") == 1000
    assert value(w, "pfo3_worker_end_to_end_seconds_count") == 1000
    assert value(w, "pfo3_worker_concurrency") == 4
    assert value(w, "pfo3_broker_connected", connection="consume") == 1

    def depths():
        s = samples(work.http_port)
        return {q: (s.get(("pfo3_queue_messages", frozenset({("queue", q)}))),
                    s.get(("pfo3_queue_consumers", frozenset({("queue", q)}))))
                for q in (queue, f"{queue}.dead")}

    # Read by the worker's probe every second: it settles at no backlog, one consumer (this
    # worker), and the 10 dead letters.
    expected = {queue: (0, 1), f"{queue}.dead": (10, 0)}
    wait_until(lambda: depths() == expected, 30, f"queue depths to settle at {expected}")

    s = samples(serve.http_port)
    assert value(s, "pfo3_serve_requests_total", op="submit", code="ok") == 1000
    assert value(s, "pfo3_serve_requests_total", op="submit", code="unavailable") == 0
    assert value(s, "pfo3_serve_tasks_accepted_total", type="echo") == 990
    assert value(s, "pfo3_serve_tasks_accepted_total", type="no_such_type") == 10
    assert value(s, "pfo3_serve_confirm_seconds_count") == 1000
    assert value(s, "pfo3_serve_unconfirmed_publishes") == 0
    assert value(s, "pfo3_broker_connected", connection="publish") == 1
    assert value(s, "process_resident_memory_bytes") > 0

    for port in (serve.http_port, work.http_port):
        promtool_check(get(port, "/metrics")[1])


def test_ten_thousand_random_types_stay_within_the_label_bound(pfo3, queue, store):
    serve = pfo3.serve(queue)
    work = pfo3.work(queue, store, prefetch=64, concurrency=8, http=True)
    rng = random.Random(14)
    types = ["t" + "".join(rng.choices(string.ascii_lowercase, k=12)) for _ in range(10000)]
    lines = "".join(json.dumps({"type": t, "payload": i}) + "\n" for i, t in enumerate(types))
    submit_ids(pfo3.send(serve.address, stdin=lines, json_mode=True, timeout=300), 10000)

    def type_values(port, name):
        return {dict(labels)["type"]: v for (n, labels), v in samples(port).items() if n == name}

    accepted = type_values(serve.http_port, "pfo3_serve_tasks_accepted_total")
    assert len(accepted) == 101 and "_other" in accepted, sorted(accepted)[:5]
    assert sum(accepted.values()) == 10000
    assert accepted["_other"] == 10000 - 100

    def all_dead():
        finished = type_values(work.http_port, "pfo3_worker_tasks_finished_total")
        return finished if sum(finished.values()) == 10000 else None

    finished = wait_until(all_dead, 300, "the worker to dead-letter 10000 tasks of unknown types")
    assert len(finished) == 101 and "_other" in finished
    promtool_check(get(work.http_port, "/metrics")[1])


def test_readiness_follows_the_broker_while_liveness_does_not(pfo3, queue, store, rabbitmq_dir):
    serve = pfo3.serve(queue)
    work = pfo3.work(queue, store, http=True)
    ports = (serve.http_port, work.http_port)
    for port in ports:
        wait_until(lambda p=port: get(p, "/readyz")[0] == 200, 30, "ready before the outage")

    rabbitmqctl(rabbitmq_dir, "stop_app")
    try:
        stopped = time.monotonic()
        for port in ports:
            status, body = wait_until(lambda p=port: (lambda r: r if r[0] == 503 else None)(get(p, "/readyz")),
                                      5 - (time.monotonic() - stopped) + 0.5,
                                      f"/readyz on {port} to say 503 within 5 s")
            checks = {c["name"]: c for c in json.loads(body)["checks"]}
            assert checks["broker"]["ok"] is False and "broker" in checks["broker"]["error"], body
            assert get(port, "/healthz")[0] == 503
        for port in ports:
            assert get(port, "/livez") == (200, '{"live":true}\n')
        s = samples(serve.http_port)
        assert value(s, "pfo3_broker_connected", connection="publish") == 0
    finally:
        rabbitmqctl(rabbitmq_dir, "start_app")
    for port in ports:
        wait_until(lambda p=port: get(p, "/readyz")[0] == 200, 90, "ready again after the outage")
    s = samples(work.http_port)
    assert value(s, "pfo3_broker_reconnects_total", connection="consume", reason="connection_lost") >= 1
    assert serve.terminate() == 0 and work.terminate() == 0


def test_a_stopped_postgres_makes_work_unready_naming_the_store(pfo3, queue, tmp_path):
    admin = os.environ.get("PFO3_TEST_POSTGRES_URL")
    cluster = os.environ.get("PFO3_TEST_POSTGRES_DIR")
    if not admin or not cluster:
        pytest.skip("needs PFO3_TEST_POSTGRES_URL and PFO3_TEST_POSTGRES_DIR (test/run starts them)")
    db = PostgresDatabase(admin)
    try:
        config = write_file(tmp_path / "pfo3.toml", "[http]\nstore_check_s = 1\n")
        work = pfo3.work(queue, config=config, http=True, extra=["--store", db.url])
        wait_until(lambda: get(work.http_port, "/readyz")[0] == 200, 30, "ready with the store up")
        postgres_outage(cluster, "stop")
        try:
            status, body = wait_until(
                lambda: (lambda r: r if r[0] == 503 else None)(get(work.http_port, "/readyz")), 20,
                "/readyz to say 503 with PostgreSQL stopped")
            checks = {c["name"]: c for c in json.loads(body)["checks"]}
            assert checks["store"]["ok"] is False and "result store" in checks["store"]["error"], body
            assert checks["broker"]["ok"] is True, body
            assert get(work.http_port, "/livez")[0] == 200
        finally:
            postgres_outage(cluster, "start")
        wait_until(lambda: get(work.http_port, "/readyz")[0] == 200, 60, "ready again with the store back")
        assert work.terminate() == 0
    finally:
        db.close()


def test_http_answers_only_get_and_head_on_known_paths(pfo3, queue):
    serve = pfo3.serve(queue)
    port = serve.http_port
    assert get(port, "/nope")[0] == 404
    assert get(port, "/metrics", method="POST")[0] == 405
    status, body = get(port, "/metrics", method="HEAD")
    assert status == 200 and body == ""
    assert get(port, "/livez?verbose=1")[0] == 200
    # A request larger than the bound is refused, and the listener keeps serving.
    req = urllib.request.Request(f"http://127.0.0.1:{port}/livez", headers={"X-Big": "x" * 20000})
    with pytest.raises((urllib.error.HTTPError, ConnectionError, urllib.error.URLError)) as e:
        urllib.request.urlopen(req, timeout=10)
    if isinstance(e.value, urllib.error.HTTPError):
        assert e.value.code in (400, 413)
    assert get(port, "/livez")[0] == 200


def test_the_shipped_alert_rules_load_in_promtool():
    if not PROMTOOL:
        pytest.fail("promtool missing: test/services/install-deps.sh installs the prometheus package")
    rules = REPO / "config" / "prometheus-alerts.yml"
    r = subprocess.run([PROMTOOL, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


@pytest.fixture
def proxy(amqp_url):
    """A TCP proxy in front of the test broker (asked for before `pfo3`, so that the worker
    stops before the proxy closes)."""
    p = TcpProxy(*broker_address(amqp_url))
    yield p
    p.close()


def test_the_consuming_watchdog_recovers_a_consumer_that_hears_nothing(proxy, pfo3, queue, store,
                                                                        tmp_path):
    """The worker stays connected, but its consumer connection receives nothing more (the
    proxy drops the broker's bytes): with a backlog and free slots the watchdog makes it
    unready, connects again, and the backlog is worked off."""
    serve = pfo3.serve(queue)
    config = write_file(tmp_path / "pfo3.toml",
                        "[work]\nconsumer_watchdog_s = 3\n[http]\nqueue_check_s = 1\n")
    work = pfo3.work(queue, store, prefetch=1, config=config, http=True,
                     amqp=amqp_url_via(pfo3.amqp_url, proxy.port))
    wait_for_results(store, submit_ids(pfo3.send(serve.address, ["warm"]), 1))
    assert get(work.http_port, "/readyz")[0] == 200
    assert len(proxy.mute(consumers_only=True)) == 1

    ids = submit_ids(pfo3.send(serve.address, [f"t{i}" for i in range(5)]), 5)
    status, body = wait_until(
        lambda: (lambda r: r if r[0] == 503 else None)(get(work.http_port, "/readyz")), 30,
        "the watchdog to make the worker unready")
    checks = {c["name"]: c for c in json.loads(body)["checks"]}
    assert checks["consuming"]["ok"] is False and "no delivery" in checks["consuming"]["error"], body
    assert get(work.http_port, "/livez")[0] == 200

    wait_for_results(store, ids, timeout=90)
    wait_until(lambda: get(work.http_port, "/readyz")[0] == 200, 30, "ready again")
    assert "consuming watchdog" in work.stderr()


def test_workers_lists_the_heartbeats_and_shows_a_killed_worker_gone(pfo3, queue, store, tmp_path):
    serve = pfo3.serve(queue)
    config = write_file(tmp_path / "pfo3.toml", "[http]\nheartbeat_s = 1\n")
    workers = [pfo3.work(queue, store, config=config, concurrency=2) for _ in range(2)]
    pids = {w.pid for w in workers}

    def ours():
        r = pfo3.run(["workers", "--http", f"127.0.0.1:{serve.http_port}", "--json"])
        assert r.returncode == 0, r.stderr
        return {w["beat"]["pid"]: w for w in json.loads(r.stdout)["workers"] if w["beat"].get("pid") in pids}

    seen = wait_until(lambda: (lambda o: o if len(o) == 2 and all(
        w["beat"]["ready"] and not w["gone"] for w in o.values()) else None)(ours()), 30,
        "both workers' heartbeats, ready")
    beat = seen[workers[0].pid]["beat"]
    assert beat["queue"] == queue and beat["concurrency"] == 2 and beat["interval_s"] == 1

    workers[1].proc.kill()
    killed = time.monotonic()
    wait_until(lambda: ours()[workers[1].pid]["gone"], 3 * 1 + 4, "the killed worker shown gone")
    assert time.monotonic() - killed < 3 * 1 + 4
    assert not ours()[workers[0].pid]["gone"]
    table = pfo3.run(["workers", "--http", f"127.0.0.1:{serve.http_port}"])
    assert table.returncode == 0 and table.stdout.startswith("WORKER"), table
    lines = {line.split()[0]: line.split() for line in table.stdout.splitlines()[1:]}
    killed_id = seen[workers[1].pid]["id"]
    assert lines[killed_id][1] == "gone" and lines[seen[workers[0].pid]["id"]][1] == "alive"


def test_workers_without_serve_exits_3(pfo3):
    from helpers.processes import free_port
    r = pfo3.run(["workers", "--http", f"127.0.0.1:{free_port()}"])
    assert r.returncode == 3 and "cannot ask serve" in r.stderr, r


def test_heartbeats_and_queue_depths_follow_the_broker_list_not_the_default_url(pfo3, queue, store, tmp_path):
    # The broker only through PFO3_AMQP_URLS, its first URL dead: the operations connections
    # (serve's heartbeat listener, the worker's heartbeat and queue probe) must take the list in
    # turn as the roles do, not amqp.url's default (localhost:5672, where nothing listens).
    from helpers.processes import free_port
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2f"
    env = {"PFO3_AMQP_URLS": f"{dead},{pfo3.amqp_url}"}
    config = write_file(tmp_path / "pfo3.toml", "[http]\nheartbeat_s = 1\nqueue_check_s = 1\n")
    serve = pfo3.serve(queue, amqp=False, env=env)
    worker = pfo3.work(queue, store, config=config, amqp=False, env=env, http=True)

    def listed():
        r = pfo3.run(["workers", "--http", f"127.0.0.1:{serve.http_port}", "--json"])
        assert r.returncode == 0, r.stderr
        return [w for w in json.loads(r.stdout)["workers"] if w["beat"].get("pid") == worker.pid]

    wait_until(lambda: listed(), 30, "the worker's heartbeat seen by serve over the broker list")
    wait_until(lambda: value(samples(worker.http_port), "pfo3_queue_consumers", queue=queue) >= 1, 30,
               "the worker's queue probe reading the task queue over the broker list")


def test_heartbeats_and_cancels_resume_after_the_broker_closes_every_connection(pfo3, queue, store, tmp_path,
                                                                              rabbitmq_dir):
    # Both fanout listeners (serve's roster on pfo3.events, the worker's cancel listener on
    # pfo3.cancels) are one queue::fanout_listener: its reconnect is what this exercises.
    from helpers.retries import counting_script, runs
    gate = tmp_path / "open"
    script = counting_script(tmp_path, fails=0, result=f'while [ ! -e "{gate}" ]; do sleep 0.05; done; cat')
    config = write_file(tmp_path / "pfo3.toml", f"""
[http]
heartbeat_s = 1
[handlers.count]
command = ["{script}"]
""")
    serve = pfo3.serve(queue, config=config, env={"PFO3_STORE": f"file://{store}"})
    worker = pfo3.work(queue, store, config=config, prefetch=1, concurrency=1)

    def our_beat():
        r = pfo3.run(["workers", "--http", f"127.0.0.1:{serve.http_port}", "--json"])
        assert r.returncode == 0, r.stderr
        mine = [w for w in json.loads(r.stdout)["workers"] if w["beat"].get("pid") == worker.pid]
        return mine[0] if mine else None

    wait_until(our_beat, 30, "the worker's first heartbeat")
    closed_at = time.monotonic()
    rabbitmqctl(rabbitmq_dir, "close_all_connections", "closed by the sight test")
    # A beat heard after the close: the worker's heartbeat connection and serve's listener are back.
    wait_until(lambda: (lambda b: b if b and b["seen_s_ago"] < time.monotonic() - closed_at - 1.5 else None)(
        our_beat()), 60, "a heartbeat heard after every connection was closed")
    # Bound again: from here a cancel reaches the worker as an event, not only by the store
    # listing that follows each bind.
    wait_until(lambda: "listening to cancel events again" in worker.stderr(), 60,
               "the worker's cancel listener to bind again")

    r = pfo3.send(serve.address, [{"id": "blocker", "type": "count", "payload": 1}], json_mode=True)
    assert r.returncode == 0, r.stderr
    wait_until(lambda: runs(tmp_path, "blocker"), 60, "the blocker to run")
    r = pfo3.send(serve.address, [{"id": "behind", "type": "count", "payload": 2}], json_mode=True)
    assert r.returncode == 0, r.stderr
    r = pfo3.run(["cancel", "--server", serve.address, "behind"])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "cancel_requested"
    wait_until(lambda: "cancel heard task_id=behind" in worker.stderr(), 60,
               "the worker's cancel listener, reconnected, to hear the event")
    gate.touch()
    records = wait_for_results(store, ["blocker", "behind"], timeout=60, final=("done", "cancelled"))
    assert records["blocker"]["status"] == "done"
    assert records["behind"]["status"] == "cancelled"
    assert runs(tmp_path, "behind") == []
