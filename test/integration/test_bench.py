"""`pfo3 bench` against a real serve + worker: it runs with a tiny load and reports every
documented figure. No performance assertions: performance is measured, not tested."""
import json
import os
import signal

import pytest

#: Fields docs/benchmarks.md documents at the top level of the JSON report.
TOP_FIELDS = ("pfo3_bench", "label", "started_at", "host", "config", "accepted", "rejected",
              "errors", "failures", "accept_seconds", "accepted_per_s", "end_to_end",
              "latency_ms", "memory", "cpu", "broker_ceiling", "ratios", "broker_error")
LATENCY_FIELDS = ("count", "p50", "p90", "p99", "p99_9", "max", "mean", "cdf")


def run_bench(pfo3, args, timeout=120):
    return pfo3.run(["bench"] + [str(a) for a in args], timeout=timeout)


def check_latency(summary, count):
    for field in LATENCY_FIELDS:
        assert field in summary, f"latency summary lacks {field}: {summary}"
    assert summary["count"] == count
    assert 0 <= summary["p50"] <= summary["p90"] <= summary["p99"] <= summary["p99_9"] <= summary["max"]
    fractions = [f for _, f in summary["cdf"]]
    assert fractions == sorted(fractions) and fractions[-1] == 1


def test_closed_loop_bench_reports_every_figure_with_results_seen_in_the_store(
        pfo3, queue, store, tmp_path):
    serve = pfo3.serve(queue)
    worker = pfo3.work(queue, store, prefetch=50, concurrency=2)
    out = tmp_path / "bench.json"

    r = run_bench(pfo3, ["--server", serve.address, "--tasks", 300, "--connections", 3,
                         "--window", 8, "--store", f"file://{store}", "--json", out,
                         "--label", "smoke", "--serve-pid", serve.pid, "--worker-pids", worker.pid,
                         "--results-timeout", 60])

    assert r.returncode == 0, r.stdout + r.stderr
    assert "accepted" in r.stdout and "submit -> stored" in r.stdout, r.stdout
    report = json.loads(out.read_text())
    for field in TOP_FIELDS:
        assert field in report, f"report lacks {field}"
    assert report["label"] == "smoke"
    assert report["config"]["tasks"] == 300 and report["config"]["mode"] == "closed"
    assert report["accepted"] == 300 and report["rejected"] == 0 and report["errors"] == {}
    assert report["accepted_per_s"] > 0
    e2e = report["end_to_end"]
    assert e2e["stored"] == 300 and e2e["missing"] == 0 and e2e["tasks_per_s"] > 0
    check_latency(report["latency_ms"]["submit_to_ok"], 300)
    check_latency(report["latency_ms"]["submit_to_stored"], 300)
    assert [m["role"] for m in report["memory"]] == ["serve", "work"]
    assert all(m["peak_rss_kib"] > 0 for m in report["memory"]), report["memory"]
    assert report["broker_ceiling"] is None and report["ratios"] is None
    cpu = report["cpu"]
    assert [c["role"] for c in cpu["processes"]] == ["serve", "work", "bench"]
    assert all(c["seconds"] >= 0 and c["error"] is None for c in cpu["processes"]), cpu
    assert cpu["wall_seconds"] > 0 and cpu["total_us_per_task"] >= 0
    assert "CPU per accepted task" in r.stdout
    # Every accepted task really is in the store: the bench watched the right thing.
    assert len(list(store.glob("*.json"))) == 300


def test_bench_sees_results_arrive_in_a_sqlite_store(pfo3, queue, tmp_path):
    db = tmp_path / "results.db"
    serve = pfo3.serve(queue, env={"PFO3_STORE": f"sqlite://{db}"})
    pfo3.work(queue, extra=["--store", f"sqlite://{db}"], prefetch=50, concurrency=2)
    out = tmp_path / "bench.json"

    r = run_bench(pfo3, ["--server", serve.address, "--tasks", 300, "--connections", 3,
                         "--window", 8, "--store", f"sqlite://{db}", "--json", out, "--results-timeout", 60])

    assert r.returncode == 0, r.stdout + r.stderr
    assert "seen by sqlite poll" in r.stdout, r.stdout
    report = json.loads(out.read_text())
    assert report["config"]["results_source"] == "sqlite poll"
    assert report["end_to_end"]["stored"] == 300 and report["end_to_end"]["missing"] == 0
    check_latency(report["latency_ms"]["submit_to_stored"], 300)


def test_open_loop_bench_polls_status_and_measures_the_broker_alone(
        pfo3, queue, store, tmp_path, amqp_url, broker):
    serve = pfo3.serve(queue, env={"PFO3_STORE": f"file://{store}"})
    pfo3.work(queue, store, prefetch=20)
    out = tmp_path / "bench.json"

    r = run_bench(pfo3, ["--server", serve.address, "--tasks", 100, "--connections", 2,
                         "--rate", 500, "--json", out, "--broker-ceiling", "--amqp", amqp_url,
                         "--broker-messages", 200, "--broker-window", 16, "--results-timeout", 60])

    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(out.read_text())
    assert report["config"]["mode"] == "open" and report["config"]["rate"] == 500
    assert report["config"]["results_source"] == "status"
    assert report["accepted"] == 100 and report["end_to_end"]["stored"] == 100
    # Sending 100 tasks at 500/s takes about 0.2 s; at least the schedule's length.
    assert report["accept_seconds"] >= 99 / 500
    check_latency(report["latency_ms"]["submit_to_ok"], 100)
    assert report["latency_ms"]["submit_to_stored"] is None, "status polling gives no precise times"
    # An open-loop run measures the broker the same way: at 500 msgs/s, with latencies.
    ceiling = report["broker_ceiling"]
    assert ceiling["messages"] == 200 and ceiling["window"] == 16 and ceiling["open_loop"] is True
    assert ceiling["publish_consume_seconds"] >= 199 / 500, "the broker's messages were paced too"
    assert ceiling["publish_confirm_per_s"] is None and ceiling["publish_consume_per_s"] > 0
    check_latency(ceiling["latency_ms"]["publish_to_confirm"], 200)
    check_latency(ceiling["latency_ms"]["publish_to_delivered"], 200)
    assert ceiling["nacked"] == 0 and ceiling["returned"] == 0
    assert broker.message_count(ceiling["queue"]) is None, "the temporary queue is deleted"
    assert report["ratios"]["p99_submit_to_ok_vs_publish_to_confirm"] > 0
    assert "publish -> confirm" in r.stdout and "x the broker's publish -> confirm" in r.stdout


def test_cpu_per_task_counts_a_named_process_with_what_it_forked(
        pfo3, queue, store, tmp_path, amqp_url):
    """--cpu-pids NAME=PID: a shell whose child spins is charged the child's CPU, during the
    tasks and during the broker alone (per message carried)."""
    import subprocess
    import sys
    spin = "import time\nwhile True: time.process_time()"
    burner = subprocess.Popen(["sh", "-c", f"{sys.executable} -c '{spin}' & wait"],
                              start_new_session=True)
    try:
        serve = pfo3.serve(queue, env={"PFO3_STORE": f"file://{store}"})
        pfo3.work(queue, store, prefetch=50)
        out = tmp_path / "bench.json"
        # 600 tasks at 1000/s: the run lasts at least 0.6 s, long enough for 10 ms clock ticks.
        r = run_bench(pfo3, ["--server", serve.address, "--tasks", 600, "--rate", 1000, "--connections", 2,
                             "--store", f"file://{store}", "--json", out,
                             "--cpu-pids", f"burner={burner.pid},gone=4194304",
                             "--broker-ceiling", "--amqp", amqp_url, "--broker-messages", 300,
                             "--broker-window", 16, "--results-timeout", 60])
    finally:
        os.killpg(burner.pid, signal.SIGKILL)
        burner.wait()

    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(out.read_text())
    cpu = report["cpu"]
    by_role = {c["role"]: c for c in cpu["processes"]}
    assert list(by_role) == ["burner", "gone", "bench"]
    wall = cpu["wall_seconds"]
    assert wall >= 0.59
    # The shell itself only waits (~0 s): what it is charged is its spinning child's (one
    # thread: never more than the wall time). The lower bound only has to tell the child's time
    # from none: a 2-core machine busy with builds gave the spinner 15 % of the wall (CI, 0.09 s).
    assert 0.05 * wall <= by_role["burner"]["seconds"] <= wall + 0.05, (wall, by_role["burner"])
    assert by_role["burner"]["us_per_task"] == pytest.approx(by_role["burner"]["seconds"] / 600 * 1e6, rel=1e-4)
    # A pid that is not a process is reported as such, and the run still counts.
    assert by_role["gone"]["seconds"] is None and "no process 4194304" in by_role["gone"]["error"]
    assert "unknown (no process 4194304" in r.stdout

    ceiling = report["broker_ceiling"]
    assert ceiling["messages_carried"] == 300  # open loop: published and consumed once
    broker_cpu = {c["role"]: c for c in ceiling["cpu"]["processes"]}
    assert list(broker_cpu) == ["burner", "gone", "bench"]
    assert broker_cpu["burner"]["seconds"] >= 0.25 * ceiling["cpu"]["wall_seconds"]
    assert broker_cpu["burner"]["us_per_message"] == pytest.approx(
        broker_cpu["burner"]["seconds"] / 300 * 1e6, rel=1e-4)
    assert "CPU per message carried" in r.stdout


def test_bench_refuses_a_malformed_cpu_pid_before_submitting(pfo3, queue, store, broker):
    serve = pfo3.serve(queue, env={"PFO3_STORE": f"file://{store}"})  # no worker: tasks stay queued
    for bad in ("rabbitmq", "rabbitmq=", "=12", "Rabbit=12", "x=12abc", "x=-3", "x=0"):
        r = run_bench(pfo3, ["--server", serve.address, "--tasks", 5, "--no-results", "--cpu-pids", bad])
        assert r.returncode == 2, (bad, r.stdout, r.stderr)
        assert f"--cpu-pids '{bad}': expected NAME=PID" in r.stderr
    assert broker.message_count(queue) == 0, "nothing was submitted"


def test_bench_against_no_server_exits_3(pfo3, tmp_path):
    from helpers.processes import free_port
    r = run_bench(pfo3, ["--server", f"127.0.0.1:{free_port()}", "--tasks", 10, "--no-results"])
    assert r.returncode == 3, r.stdout + r.stderr
    assert "cannot reach server" in r.stderr


def test_summarize_sets_celery_beside_pfo3_as_ratios_of_the_same_ceiling(tmp_path):
    """summarize.py reads the reports of test/bench/celery/bench.py (the Celery run itself is too
    slow for this suite: test/bench/run.sh --celery does it) next to pfo3's."""
    import subprocess
    import sys
    from pathlib import Path
    summarize = Path(__file__).resolve().parents[1] / "bench" / "summarize.py"
    ceiling = {"messages": 1000, "body_bytes": 180, "window": 1024, "prefetch": 1000,
               "publish_confirm_per_s": 10000.0, "consume_per_s": 20000.0, "publish_consume_per_s": 8000.0}
    latency = {"p50": 1.0, "p99": 2.0}
    reports = {
        "broker-ceiling": {"started_at": "2026-12-05T10:00:00Z", "host": "h", "broker_ceiling": ceiling},
        "throughput-c4-w64": {"config": {"connections": 4, "window": 64, "tasks": 4000},
                              "accepted_per_s": 9000.0, "rejected": 0, "errors": {},
                              "end_to_end": {"tasks_per_s": 6000.0, "missing": 0},
                              "latency_ms": {"submit_to_ok": latency, "submit_to_stored": latency}, "memory": [],
                              "cpu": {"wall_seconds": 1.0, "total_us_per_task": 190.0, "cores_busy": 1.6,
                                      "processes": [{"role": "serve", "us_per_task": 8.0},
                                                    {"role": "work", "us_per_task": 40.0},
                                                    {"role": "work", "us_per_task": 42.5},
                                                    {"role": "rabbitmq", "us_per_task": 88.0},
                                                    {"role": "bench", "us_per_task": 11.5}]}},
    }
    config = {"tasks": 2000, "producers": 4, "workers": 2, "pool": "prefork", "concurrency": 2,
              "prefetch_multiplier": 500, "prefetch_per_worker": 1000, "acks_late": True,
              "delivery_mode": "persistent", "result_backend": "file://", "serializer": "json", "body_bytes": 133}
    versions = {"celery": "5.2.6", "kombu": "5.2.4", "py-amqp": "5.1.1", "billiard": "4.1.0",
                "python": "3.11", "rabbitmq": "3.10.8", "erlang": "Erlang/OTP 25"}
    for name, confirm, accepted_per_s, e2e, missing in (("celery-no-confirms", False, 2000.0, 800.0, 0),
                                                         ("celery-confirms", True, 500.0, 400.0, 3)):
        reports[name] = {"label": name, "config": {**config, "confirm_publish": confirm}, "versions": versions,
                         "accepted": 2000, "accepted_per_s": accepted_per_s,
                         "end_to_end": {"tasks_per_s": e2e, "missing": missing},
                         "loadavg": {"start": [1.0, 1.0, 1.0], "end": [2.0, 2.0, 2.0]},
                         "memory": [{"role": "celery-main", "peak_rss_kib": 40960},
                                    {"role": "celery-child", "peak_rss_kib": 30720}]}
    for name, report in reports.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(report))

    out = subprocess.run([sys.executable, str(summarize), str(tmp_path)], capture_output=True, text=True,
                         check=True).stdout

    assert "### Compared with Celery" in out, out
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in out.splitlines() if line.startswith("| pfo3") or line.startswith("| Celery")}
    # columns: clients, in flight, tasks, accepted/s, × publish, end to end/s, × publish+consume, lost
    assert rows["pfo3 (confirms, file store)"][3:7] == ["9,000", "0.90", "6,000", "0.75"]
    assert rows["Celery, no publisher confirms"][1:7] == ["unbounded", "2,000", "2,000", "0.20", "800", "0.10"]
    assert rows["Celery, publisher confirms"][1:] == ["1", "2,000", "500", "0.05", "400", "0.05", "0 / 3"]
    assert "Celery 5.2.6, kombu 5.2.4, py-amqp 5.1.1" in out
    # Where the CPU went, the two workers summed.
    assert "| 4 | 64 | 8.0 | 82.5 | 88.0 | 11.5 | 190.0 | 1.60 |" in out, out


def test_summarize_sets_tls_rounds_beside_plaintext_with_medians(tmp_path):
    """summarize.py's table for test/bench/run.sh --tls: each round's accepted/s and serve CPU per
    task, plaintext and TLS, and their medians."""
    import subprocess
    import sys
    from pathlib import Path
    summarize = Path(__file__).resolve().parents[1] / "bench" / "summarize.py"
    figures = {"tls-plain-r1": (9000.0, 5.0), "tls-on-r1": (8000.0, 6.0), "tls-plain-r2": (9500.0, 4.0),
               "tls-on-r2": (7000.0, 7.0), "tls-plain-r3": (8500.0, 4.5), "tls-on-r3": (7500.0, 6.5)}
    for name, (accepted, serve_us) in figures.items():
        report = {"started_at": "2026-12-06T10:00:00Z", "host": "h",
                  "config": {"connections": 4, "window": 64, "tasks": 20000}, "accepted_per_s": accepted,
                  "rejected": 0, "errors": {}, "latency_ms": {"submit_to_ok": {"p50": 1.0, "p99": 3.0}},
                  "cpu": {"processes": [{"role": "serve", "us_per_task": serve_us},
                                        {"role": "work", "us_per_task": 40.0}]}}
        (tmp_path / f"{name}.json").write_text(json.dumps(report))

    out = subprocess.run([sys.executable, str(summarize), str(tmp_path)], capture_output=True, text=True,
                         check=True).stdout

    assert "### TLS beside plaintext" in out, out
    assert "| 2 | TLS | 7,000 | 7.0 | 1.00 / 3.00 | 0 |" in out, out
    assert "Medians: plaintext 9,000 tasks/s at 4.5 µs serve CPU per task; TLS 7,500 tasks/s at 6.5 µs (× 1.44 the CPU)." \
        in out, out
