#!/usr/bin/python3
"""Celery 5 doing what `pfo3 bench` measures, for the comparison in docs/benchmarks.md.

    bench.py --amqp URL --results DIR [--tasks N] [--producers P] [--scenarios a,b]

Starts 2 Celery workers (`celery worker --pool prefork --concurrency 2`, acks_late, the
file-system result backend in a temp dir) on a queue of its own, then for each scenario:
  - `celery-no-confirms`: producers publish with kombu's default (no publisher confirms);
  - `celery-confirms`: producers publish with `confirm_publish` (py-amqp waits for the
    broker's ack after every message);
P producer processes (each its own connection, connected before time zero) send N tasks
`tasks.echo("x" * 54)` in total. Figures, written to DIR/<scenario>.json:
  - accepted/s: N / (time zero -> the last `apply_async` returned); without confirms a return
    only means the message was written to the socket. Each producer then closes its
    connection with the AMQP handshake (untimed): a producer that just exits loses the tail
    of what it "sent" without confirms (RabbitMQ drops the publishes its channel had not
    processed yet when the socket closes; ~1% of 10 000 here);
  - end to end/s: N / (time zero -> the last result file seen). The results directory is
    polled every 10 ms for the ids in send order, so the end is at most ~10 ms late.
Stops the workers (by PID) and deletes its queue and exchange at the end. Exit status 1 if
results are missing or a publish failed. Runs with Debian's python3 (python3-celery).
"""
import argparse
import json
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAYLOAD = "x" * 54  # the same string as `pfo3 bench --payload-bytes 54`
POLL_S = 0.01


def log(msg):
    print(f"== celery: {msg}", file=sys.stderr, flush=True)


def producer(env, confirm, ids, ready, go, out):
    """One producer process: connect before time zero, then publish its share of the tasks."""
    os.environ.update(env)
    os.environ["CELERY_BENCH_CONFIRM"] = "1" if confirm else "0"
    sys.path.insert(0, str(HERE))
    import tasks  # noqa: E402  (configured from the environment set just above)

    errors = []
    sent = 0
    end = None
    signalled = False
    try:
        # Connect and open the channel now, so connecting is not measured; every apply_async
        # then uses this producer (as code that sends many tasks in a row would).
        with tasks.app.producer_or_acquire() as p:
            p.connection.ensure_connection(max_retries=3)
            p.channel  # noqa: B018  (opens the channel; with confirms, confirm.select follows)
            ready.put(os.getpid())
            signalled = True
            go.wait()
            for tid in ids:
                tasks.echo.apply_async(args=(PAYLOAD,), task_id=tid, producer=p)
                sent += 1
            end = time.monotonic()
            # Close with the AMQP handshake: close-ok comes after the broker has processed every
            # publish before it. Exiting without it can lose the unconfirmed tail (a reset
            # socket discards what the broker had not read yet).
            p.connection.close()
    except Exception as e:  # reported to the parent, which fails the scenario
        errors.append(f"after {sent} publishes: {e!r}")
        if not signalled:  # never leave the parent waiting for a producer that failed
            ready.put(os.getpid())
    if end is None:
        end = time.monotonic()
    out.put({"sent": sent, "end": end, "errors": errors})


def wait_for_results(result_dir, ids, deadline):
    """Returns (monotonic time the last result was seen, ids still missing at the deadline)."""
    pending = list(ids)
    last_seen = None
    while pending and time.monotonic() < deadline:
        still, misses = [], 0
        for i, tid in enumerate(pending):
            if misses >= 64:  # results come roughly in send order: look again later
                still.extend(pending[i:])
                break
            if os.path.exists(os.path.join(result_dir, "celery-task-meta-" + tid)):
                last_seen = time.monotonic()
            else:
                still.append(tid)
                misses += 1
        pending = still
        if pending:
            time.sleep(POLL_S)
    return last_seen, pending


def peak_rss(pid):
    """VmHWM/VmRSS in KiB of a process, or None."""
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                fields[key] = int(value.split()[0])
    except OSError:
        return None
    return fields


def children(pid):
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def memory(worker_pids):
    rows = []
    for pid in worker_pids:
        for role, p in [("celery-main", pid)] + [("celery-child", c) for c in children(pid)]:
            f = peak_rss(p) or {}
            rows.append({"role": role, "pid": p, "peak_rss_kib": f.get("VmHWM"), "rss_kib": f.get("VmRSS")})
    return rows


def message_size(app):
    """Bytes of the AMQP body and (as JSON) the headers Celery sends for one echo task."""
    from kombu.serialization import dumps
    msg = app.amqp.as_task_v2(str(uuid.uuid4()), "tasks.echo", args=(PAYLOAD,), kwargs={})
    _, _, body = dumps(msg.body, serializer="json")
    return len(body), len(json.dumps(msg.headers, default=str))


def run_scenario(name, confirm, args, env, result_dir, worker_pids, meta):
    for entry in os.scandir(result_dir):  # every scenario starts with an empty store
        os.unlink(entry.path)
    ids = [str(uuid.uuid4()) for _ in range(args.tasks)]
    shares = [ids[i::args.producers] for i in range(args.producers)]
    ctx = multiprocessing.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=producer, args=(env, confirm, share, ready, go, out)) for share in shares]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=60)
    load_start = os.getloadavg()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    log(f"scenario {name}: {args.tasks} tasks, {args.producers} producers, confirms {'on' if confirm else 'off'}")
    t0 = time.monotonic()
    go.set()
    reports = [out.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    sent = sum(r["sent"] for r in reports)
    errors = [e for r in reports for e in r["errors"]]
    accept_s = max(r["end"] for r in reports) - t0
    sent_ids = [tid for share, r in zip(shares, reports) for tid in share[:r["sent"]]]
    last, missing = wait_for_results(result_dir, sent_ids, time.monotonic() + args.results_timeout)
    e2e_s = (last - t0) if last is not None else None
    if missing:
        log(f"{name}: {len(missing)} results missing after {args.results_timeout:.0f} s; "
            f"{ready_messages(env)} messages ready in the queue; positions in send order of the "
            f"first: {sorted(sent_ids.index(t) for t in missing)[:10]}")
    stored = len(sent_ids) - len(missing)
    report = {
        "celery_bench": 1,
        "label": name,
        "started_at": started_at,
        "host": socket.gethostname(),
        "config": {"tasks": args.tasks, "producers": args.producers, "payload": f"\"x\" * {len(PAYLOAD)}",
                   "confirm_publish": confirm, **meta["config"]},
        "versions": meta["versions"],
        "accepted": sent,
        "errors": errors,
        "accept_seconds": accept_s,
        "accepted_per_s": sent / accept_s if accept_s > 0 else None,
        "end_to_end": {"stored": stored, "missing": len(missing), "seconds": e2e_s,
                       "tasks_per_s": stored / e2e_s if e2e_s else None,
                       "poll_interval_ms": POLL_S * 1000},
        "loadavg": {"start": load_start, "end": os.getloadavg()},
        "memory": memory(worker_pids),
    }
    (Path(args.results) / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")
    e2e = report["end_to_end"]["tasks_per_s"]
    log(f"{name}: accepted {sent} at {report['accepted_per_s'] or 0:,.0f}/s; stored {stored} "
        f"end to end {e2e or 0:,.0f}/s; missing {len(missing)}; errors {len(errors)}; "
        f"load {load_start[0]:.2f} -> {report['loadavg']['end'][0]:.2f}")
    return not errors and not missing and sent == args.tasks


def ready_messages(env):
    """Messages ready (not delivered to a worker) in the task queue, for diagnosing."""
    import tasks
    with tasks.app.connection_for_write() as conn:
        with conn.channel() as ch:
            return ch.queue_declare(env["CELERY_BENCH_QUEUE"], passive=True).message_count


def broker_facts(app):
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=3)
        props = conn.connection.server_properties
        return {"rabbitmq": props.get("version"), "erlang": props.get("platform")}


def wait_for_consumers(app, queue, count, deadline):
    """Waits until COUNT consumers are on the queue: the workers are ready to take tasks."""
    with app.connection_for_write() as conn:
        while time.monotonic() < deadline:
            with conn.channel() as ch:
                try:
                    _, _, consumers = ch.queue_declare(queue, passive=True)
                except Exception:  # not declared yet by the workers (passive declare closes ch)
                    consumers = 0
            if consumers >= count:
                return True
            time.sleep(0.2)
    return False


def delete_queue(app, queue):
    with app.connection_for_write() as conn:
        with conn.channel() as ch:
            ch.queue_delete(queue)
            ch.exchange_delete(queue)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--amqp", required=True)
    ap.add_argument("--results", required=True, help="directory for the JSON reports")
    ap.add_argument("--tasks", type=int, default=20000)
    ap.add_argument("--producers", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=2, help="prefork children per worker")
    ap.add_argument("--prefetch-multiplier", type=int, default=500,
                    help="worker_prefetch_multiplier; prefetch per worker = this x concurrency")
    ap.add_argument("--scenarios", default="celery-no-confirms,celery-confirms")
    ap.add_argument("--results-timeout", type=float, default=300)
    args = ap.parse_args()

    state = Path(tempfile.mkdtemp(prefix="pfo3-celery-bench."))
    result_dir = state / "results"
    result_dir.mkdir()
    queue = f"celery_bench_{os.getpid()}"
    env = {"CELERY_BENCH_AMQP_URL": args.amqp, "CELERY_BENCH_QUEUE": queue,
           "CELERY_BENCH_RESULTS": str(result_dir),
           "CELERY_BENCH_PREFETCH_MULTIPLIER": str(args.prefetch_multiplier)}
    os.environ.update(env)
    sys.path.insert(0, str(HERE))
    import amqp
    import billiard
    import celery
    import kombu
    import tasks

    workers = []
    ok = False
    try:
        log(f"start {args.workers} workers (prefork, concurrency {args.concurrency}, prefetch "
            f"{args.prefetch_multiplier * args.concurrency} each) on queue {queue}")
        for i in range(args.workers):
            logf = open(state / f"worker{i + 1}.log", "w")
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool", "prefork",
                 "--concurrency", str(args.concurrency), "--loglevel", "WARNING",
                 "--hostname", f"bench{i + 1}@%h", "--without-gossip", "--without-mingle",
                 "--without-heartbeat"],
                cwd=HERE, env={**os.environ, **env, "CELERY_BENCH_CONFIRM": "0"},
                stdout=logf, stderr=subprocess.STDOUT, start_new_session=True))
        if not wait_for_consumers(tasks.app, queue, args.workers, time.monotonic() + 120):
            for i in range(args.workers):
                sys.stderr.write((state / f"worker{i + 1}.log").read_text())
            raise SystemExit("celery: the workers did not start consuming within 120 s")
        body_bytes, headers_bytes = message_size(tasks.app)
        c = tasks.app.conf
        meta = {
            "versions": {"celery": celery.__version__, "kombu": kombu.__version__, "py-amqp": amqp.__version__,
                         "billiard": billiard.__version__, "python": platform.python_version(),
                         **broker_facts(tasks.app)},
            "config": {"workers": args.workers, "pool": "prefork", "concurrency": args.concurrency,
                       "prefetch_multiplier": c.worker_prefetch_multiplier,
                       "prefetch_per_worker": c.worker_prefetch_multiplier * args.concurrency,
                       "acks_late": c.task_acks_late, "queue_durable": True,
                       "delivery_mode": c.task_default_delivery_mode,
                       "result_backend": "file:// (open+write, no fsync)", "serializer": c.task_serializer,
                       "body_bytes": body_bytes, "headers_json_bytes": headers_bytes},
        }
        ok = True
        for name in args.scenarios.split(","):
            if name not in ("celery-no-confirms", "celery-confirms"):
                raise SystemExit(f"celery: unknown scenario {name}")
            ok &= run_scenario(name, name == "celery-confirms", args, env, str(result_dir),
                               [w.pid for w in workers], meta)
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)  # warm shutdown: the worker stops its own children
        for w in workers:
            try:
                w.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
                w.wait()
        try:
            delete_queue(tasks.app, queue)
        except Exception as e:
            log(f"could not delete queue {queue}: {e!r}")
        if ok:
            shutil.rmtree(state, ignore_errors=True)
        else:
            log(f"kept the workers' logs and results in {state}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
