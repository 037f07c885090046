"""pfo3 on a 3-node RabbitMQ cluster with quorum queues (issue 15, decision 0013): a node's death
loses no accepted task and stops no role.

1. The task queue's leader killed (kill -9 of its beam.smp, serve connected to it) while three
   clients pipeline tasks through serve, with a worker preferring each node: every id answered `ok` is stored once,
   every `unavailable` id resubmitted with the same id is stored once, the `ok` stream
   recovers within 10 s, no role restarts. The figures are printed (and appended to
   $PFO3_CLUSTER_REPORT when set).
2. The node serve is on killed (not the leader): serve is on the next URL within 5 s; every
   `ok` was confirmed (stored in the end). 3. That node restarted: it rejoins, the queue has
   three online members again, and pfo3 does nothing (no reconnect).
4. Two of three nodes stopped: submits answer `unavailable`, never `ok`; restored: accepted.
5. A handler that kills its worker: `dead` after delivery_limit - 1 crashes, in the dead-letter
   queue, not looping.
6. Delayed tasks waiting on the quorum ladder (decision 0012) when the node of its levels'
   leaders is killed: every one runs (duplicates, which at-least-once allows, are counted).
In 1, the ids answered `unavailable` are resubmitted once the queue has drained: none runs its
handler twice (a copy whose first one ran is acked without a run). In 2 and 3, `pfo3 admin
queues` names the member that is down, then three online members and the leader.
"""
import collections
import json
import os
import threading
import time

from conftest import config, rotated
from helpers.clients import Broker, RawClient
from helpers.processes import REPO, wait_for_results, wait_until

HANDLERS = REPO / "test" / "data" / "handlers"
TASKS_PER_CLIENT = int(os.environ.get("PFO3_CLUSTER_TASKS", "6667"))  # 3 clients: 20 000 tasks
WINDOW = 64  # requests in flight per client


def count_handler(runs):
    runs.touch()
    return f'\n[handlers.count]\ncommand = ["{HANDLERS / "count_runs.sh"}", "{runs}"]\n'


def runs_by_id(runs):
    """{id: [attempt, ...]} from count_runs.sh's lines "ID ATTEMPT"."""
    out = collections.defaultdict(list)
    for line in runs.read_text().splitlines():
        task_id, attempt = line.split()
        out[task_id].append(int(attempt))
    return out


def pipeline(port, ids, answers, task_type="count"):
    """One client: keeps WINDOW submits in flight; appends (time, id, "ok" | error) per answer."""
    c = RawClient(port, timeout=60)
    pending = collections.deque()
    todo = iter(ids)

    def send_next():
        task_id = next(todo, None)
        if task_id is None:
            return
        c.send({"id": task_id, "type": task_type, "payload": task_id})
        pending.append(task_id)

    for _ in range(WINDOW):
        send_next()
    while pending:
        r = c.read(60)
        assert r is not None, "serve closed the connection"
        task_id = r.get("id") or pending[0]
        pending.remove(task_id)
        answers.append((time.monotonic(), task_id, "ok" if r.get("ok") else r.get("error"), r.get("message")))
        send_next()
    c.close()


def resubmit(port, ids, log, deadline_s=120):
    """Sends each id again until it is answered ok; returns the number of sends."""
    c = RawClient(port, timeout=60)
    sends = 0
    deadline = time.monotonic() + deadline_s
    for task_id in ids:
        while True:
            sends += 1
            r = c.request({"id": task_id, "type": "count", "payload": task_id}, timeout=60)
            if r.get("ok"):
                break
            assert r.get("error") == "unavailable", r
            assert time.monotonic() < deadline, f"{task_id} still unavailable: {r}; serve: {log()[-3000:]}"
            time.sleep(0.2)
    c.close()
    return sends


def admin_queues(pfo3, queue, config):
    """`pfo3 admin queues` with `config`, asking node 1's management API (test/cluster/run)."""
    args = ["--config", str(config), "admin", "queues", "--queue", queue]
    for url in os.environ["PFO3_CLUSTER_MANAGEMENT_URLS"].split(","):
        args += ["--management", url]
    return pfo3.run(args, timeout=120)


def report(figures):
    line = json.dumps(figures, sort_keys=True)
    print("cluster figures:", line)
    if os.environ.get("PFO3_CLUSTER_REPORT"):
        with open(os.environ["PFO3_CLUSTER_REPORT"], "a") as f:
            f.write(line + "\n")


def test_leader_killed_while_three_clients_pipeline(pfo3, nodes, queue, tmp_path):
    store = tmp_path / "results"
    store.mkdir()
    handler = count_handler(tmp_path / "runs")
    # The first worker declares the queue, so its leader is node 1; one worker prefers each node.
    workers = [pfo3.work(queue, store, amqp=False, prefetch=20, concurrency=3,
                         config=config(tmp_path, "w1", rotated(nodes.urls, 1), handler))]
    leader = nodes.queue(queue)[0]
    assert leader == 1, f"the queue's leader is node {leader}"
    for n in (2, 3):
        workers.append(pfo3.work(queue, store, amqp=False, prefetch=20, concurrency=3,
                                 config=config(tmp_path, f"w{n}", rotated(nodes.urls, n), handler)))
    # serve on the leader's node too: its in-flight publishes die with it (test 2 kills serve's
    # node alone).
    serve = pfo3.serve(queue, amqp=False, config=config(tmp_path, "serve", rotated(nodes.urls, 1), handler))

    ids = [[f"c{k}-{i}" for i in range(TASKS_PER_CLIENT)] for k in range(3)]
    answers = [[] for _ in range(3)]
    clients = [threading.Thread(target=pipeline, args=(serve.port, ids[k], answers[k])) for k in range(3)]
    started = time.monotonic()
    for t in clients:
        t.start()
    total = 3 * TASKS_PER_CLIENT
    wait_until(lambda: sum(1 for a in answers for x in a if x[2] == "ok") >= total // 3, 300,
             "a third of the tasks answered ok", every=0.05)
    killed_at = time.monotonic()
    nodes.kill(leader)
    for t in clients:
        t.join(600)
    streamed_s = time.monotonic() - started

    merged = sorted(x for a in answers for x in a)
    ok = {task_id for _, task_id, what, _ in merged if what == "ok"}
    unavailable = [task_id for _, task_id, what, _ in merged if what == "unavailable"]
    print("unavailable answers by message:",
          collections.Counter(message for _, _, what, message in merged if what != "ok"))
    other = [x for x in merged if x[2] not in ("ok", "unavailable")]
    assert not other, f"answers other than ok/unavailable: {other[:5]}"
    assert len(merged) == total
    # Recovery: the longest pause in the ok stream from the kill on.
    after_kill = sum(1 for t, *_ in merged if t > killed_at)
    ok_times = [killed_at] + [t for t, _, what, _ in merged if what == "ok" and t >= killed_at]
    recovery_s = max(b - a for a, b in zip(ok_times, ok_times[1:])) if len(ok_times) > 1 else None
    # Resubmit once the first copies are through: a copy of an id answered `unavailable` that
    # reached the queue anyway has run by then, so its resubmission must be acked without a
    # run (both copies in flight at once may both run: docs/operations.md).
    wait_until(lambda: nodes.messages(queue) == 0, 300, "the task queue drained", every=0.5)
    sends = resubmit(serve.port, unavailable, serve.stderr)

    all_ids = [i for chunk in ids for i in chunk]
    records = wait_for_results(store, all_ids, timeout=600)
    runs = runs_by_id(tmp_path / "runs")
    stored = len(list(store.glob("*.json")))
    duplicates = sum(1 for attempts in runs.values() if len(attempts) != len(set(attempts)))
    reruns = sum(len(set(attempts)) - 1 for attempts in runs.values())
    figures = {"test": "leader killed", "sent": total, "ok": len(ok), "unavailable": len(unavailable),
               "resubmits": sends, "stored": stored, "duplicates": duplicates, "handler_reruns": reruns,
               "recovery_s": round(recovery_s, 2) if recovery_s is not None else None,
               "stream_s": round(streamed_s, 1), "tasks_per_s": round(total / streamed_s, 1),
               "answers_after_kill": after_kill}
    report(figures)

    assert after_kill >= total // 10, "the kill came too late to test anything"
    assert all(records[i]["status"] == "done" for i in all_ids), "every task done"
    assert stored == total, f"{stored} records for {total} ids"
    assert set(runs) == set(all_ids), "every task's handler ran"
    assert duplicates == 0, f"{duplicates} ids ran the same attempt twice (a resubmitted copy ran again)"
    # Interrupted attempts run again (at least once): at most what the worker on the killed
    # node held (its prefetch).
    assert reruns <= 20, f"{reruns} handler reruns"
    assert recovery_s is not None and recovery_s <= 10, f"the ok stream paused {recovery_s} s"
    for role in [serve] + workers:
        assert role.proc.poll() is None, f"{role.name} exited"


def test_serve_node_killed_then_restarted(pfo3, nodes, queue, tmp_path):
    store = tmp_path / "results"
    store.mkdir()
    handler = count_handler(tmp_path / "runs")
    pfo3.work(queue, store, amqp=False, config=config(tmp_path, "w", rotated(nodes.urls, 1), handler))
    assert nodes.queue(queue)[0] == 1
    serve = pfo3.serve(queue, amqp=False, config=config(tmp_path, "serve", rotated(nodes.urls, 2), handler))
    c = RawClient(serve.port, timeout=60)
    ok = []
    for i in range(20):
        r = c.request({"id": f"before-{i}", "type": "count", "payload": i})
        assert r["ok"] is True, r
        ok.append(r["id"])
    killed_at = time.monotonic()
    nodes.kill(2)
    attempt = iter(range(1000000))
    first_ok = None
    while time.monotonic() - killed_at < 60:
        task_id = f"after-{next(attempt)}"
        r = c.request({"id": task_id, "type": "count", "payload": 1}, timeout=60)
        if r["ok"]:
            ok.append(task_id)
            if first_ok is None:
                first_ok = time.monotonic() - killed_at
            if len(ok) >= 40:
                break
        else:
            assert r["error"] == "unavailable", r
            time.sleep(0.05)
    assert first_ok is not None and first_ok <= 5, f"serve took {first_ok} s to publish again"
    # `pfo3 admin queues` (asking node 1's management API) names the member that is down.
    def offline_named():
        r = admin_queues(pfo3, queue, tmp_path / "serve.toml")
        return r if r.returncode == 1 and "members offline: 1 of 3" in r.stdout else None

    wait_until(offline_named, 60, "pfo3 admin queues to name the member that is down", every=1)
    log = serve.stderr()
    assert "lost the broker connection" in log and "reconnected to the broker" in log, log[-3000:]
    assert "node=2/3" in log, "serve names the URL it moved to (node 3, second in its list)"
    records = wait_for_results(store, ok, timeout=300)
    assert all(records[i]["status"] == "done" for i in ok), "every ok was confirmed and stored"

    # 3. The node comes back: it rejoins as a member, and pfo3 notices nothing.
    log_before = serve.stderr().count("connected to the broker")
    nodes.start(2)
    wait_until(lambda: len(nodes.queue(queue)[2]) == 3, 120, "three online members", every=1)
    r = c.request({"id": "after-restart", "type": "count", "payload": 1}, timeout=60)
    assert r["ok"] is True, r
    wait_for_results(store, ["after-restart"], timeout=120)
    assert serve.stderr().count("connected to the broker") == log_before, "serve reconnected for nothing"
    # The management API's view of members refreshes every 5 s (collect_statistics_interval).
    out = wait_until(lambda: (lambda r: r if r.returncode == 0 else None)(admin_queues(pfo3, queue, tmp_path / "serve.toml")),
                     60, "pfo3 admin queues to see three online members", every=1)
    print(out.stdout)
    row = next(line for line in out.stdout.splitlines() if line.startswith(queue + " "))
    assert row.split()[1:3] == ["task", "quorum"] and "3/3: " in row and "as expected" in row, out.stdout
    assert row.split()[3] in nodes.names.values(), f"the leader is named: {row}"
    report({"test": "serve's node killed", "first_ok_after_kill_s": round(first_ok, 2), "ok": len(ok)})


def test_two_of_three_nodes_stopped_means_unavailable_never_ok(pfo3, nodes, queue, tmp_path):
    store = tmp_path / "results"
    store.mkdir()
    handler = count_handler(tmp_path / "runs")
    quick = "\n[serve]\nconfirm_timeout_ms = 2000\n"
    pfo3.work(queue, store, amqp=False, config=config(tmp_path, "w", rotated(nodes.urls, 1), handler))
    serve = pfo3.serve(queue, amqp=False, config=config(tmp_path, "serve", nodes.urls, handler + quick))
    c = RawClient(serve.port, timeout=60)
    assert c.request({"id": "two-before", "type": "count", "payload": 1})["ok"] is True
    nodes.stop(2)
    nodes.stop(3)
    answers = [c.request({"id": f"minority-{i}", "type": "count", "payload": i}, timeout=60) for i in range(5)]
    assert all(a["ok"] is False and a["error"] == "unavailable" for a in answers), answers
    nodes.start(2)
    nodes.start(3)

    def accepted():
        r = c.request({"id": "two-after", "type": "count", "payload": 1}, timeout=60)
        return r["ok"] is True

    wait_until(accepted, 180, "the majority back and the task accepted", every=0.5)
    wait_for_results(store, ["two-before", "two-after"], timeout=180)


def test_a_handler_that_kills_its_worker_ends_dead(pfo3, nodes, queue, tmp_path):
    store = tmp_path / "results"
    store.mkdir()
    killer = '\n[handlers.killer]\ncommand = ["/bin/sh", "-c", "kill -9 $PPID; sleep 5"]\n'
    serve = pfo3.serve(queue, amqp=False, config=config(tmp_path, "serve", nodes.urls, killer))
    assert RawClient(serve.port).request({"id": "loop-1", "type": "killer", "payload": 1})["ok"] is True
    crashes = 0
    while crashes <= 5:
        worker = pfo3.work(queue, store, amqp=False, ready=False,
                           config=config(tmp_path, f"w{crashes}", rotated(nodes.urls, crashes % 3 + 1), killer))
        wait_until(lambda: worker.proc.poll() is not None or (store / "loop-1.json").exists(), 120,
                 "the worker to die or store the task")
        if worker.proc.poll() is None:
            break
        crashes += 1
    rec = wait_for_results(store, ["loop-1"], timeout=120)["loop-1"]
    assert crashes == 2, f"{crashes} workers died (delivery_limit 3 allows 2)"
    assert rec["status"] == "dead" and "killed its worker" in rec["error"], rec
    broker = Broker(nodes.urls[0])
    wait_until(lambda: broker.message_count(f"{queue}.dead") == 1, 60, "the dead letter")


def end_to_end(pfo3, tmp_path, name, queue, urls, queue_type, total):
    """Tasks/s from the first submit until every record is stored: three clients, three workers."""
    store = tmp_path / f"results-{name}"
    store.mkdir()
    cfg = config(tmp_path, name, urls).read_text().replace(
        'queue_type = "quorum"', f'queue_type = "{queue_type}"')
    path = tmp_path / f"{name}-e2e.toml"
    path.write_text(cfg)
    for _ in range(3):
        pfo3.work(queue, store, amqp=False, prefetch=100, concurrency=2, config=path)
    serve = pfo3.serve(queue, amqp=False, config=path)
    ids = [[f"{name}{k}-{i}" for i in range(total // 3)] for k in range(3)]
    answers = [[] for _ in range(3)]
    clients = [threading.Thread(target=pipeline, args=(serve.port, ids[k], answers[k], "echo")) for k in range(3)]
    started = time.monotonic()
    for t in clients:
        t.start()
    for t in clients:
        t.join(600)
    all_ids = [i for chunk in ids for i in chunk]
    assert all(what == "ok" for a in answers for _, _, what, _ in a)
    wait_for_results(store, all_ids, timeout=600)
    return len(all_ids) / (time.monotonic() - started)


def test_end_to_end_rate_quorum_on_three_nodes_beside_classic_on_one(pfo3, nodes, tmp_path):
    """Wall-clock tasks/s, same run, same machine (noisy: a comparison, not a benchmark)."""
    total = int(os.environ.get("PFO3_CLUSTER_RATE_TASKS", "6000"))
    rates = {}
    for name, queue_type, urls in (("classic", "classic", [nodes.urls[0]]), ("quorum", "quorum", nodes.urls)):
        queue = f"t_rate_{name}_{os.getpid()}"
        try:
            rates[name] = end_to_end(pfo3, tmp_path, name, queue, urls, queue_type, total)
        finally:
            Broker(nodes.urls[0]).delete_queues([queue, f"{queue}.dead"])
    report({"test": "end-to-end tasks/s", "tasks": total, "classic_one_node": round(rates["classic"], 1),
            "quorum_three_nodes": round(rates["quorum"], 1)})
    assert rates["quorum"] > 0 and rates["classic"] > 0


def test_delayed_tasks_survive_the_kill_of_their_ladder_levels_leader(pfo3, nodes, queue, tmp_path):
    # Quorum ladder levels (decision 0012): replicated, and at-least-once between levels. The
    # worker declares the task queue on node 1; serve, on node 2, declares the ladder, so the
    # levels' leaders are on node 2, which is killed (-9) while every task waits.
    store = tmp_path / "results"
    store.mkdir()
    runs = tmp_path / "runs"
    handler = count_handler(runs) + "[schedule]\nunit_ms = 100\n"
    pfo3.work(queue, store, amqp=False, config=config(tmp_path, "w", rotated(nodes.urls, 1), handler))
    serve = pfo3.serve(queue, amqp=False, config=config(tmp_path, "serve", rotated(nodes.urls, 2), handler))
    c = RawClient(serve.port, timeout=60)
    ids = [f"later-{i}" for i in range(200)]
    for i, task_id in enumerate(ids):
        r = c.request({"id": task_id, "type": "count", "payload": i, "delay_s": 12 + i % 9}, timeout=60)
        assert r["ok"] is True and r["status"] == "scheduled", r
    top = f"{queue}.delay.quorum.{100 << 7}"  # 130-200 units wait first at level 7 (12.8 s)
    leader, members, _ = nodes.queue(top)
    assert leader == 2 and len(members) == 3, (leader, members)
    nodes.kill(2)
    records = wait_for_results(store, ids, timeout=300)
    assert all(records[i]["status"] == "done" for i in ids)
    by_id = runs_by_id(runs)
    assert set(by_id) == set(ids), "every delayed task ran"
    twice = [i for i in ids if len(by_id[i]) > 1]
    report({"test": "ladder leader killed", "delayed": len(ids), "ran_twice": len(twice)})
    ladder = [f"{queue}.delay.quorum.{100 << level}" for level in range(8)]
    Broker(nodes.urls[0]).delete_queues(ladder)
    Broker(nodes.urls[0]).delete_exchanges(ladder + [f"{queue}.delay.due"])
