"""`pfo3 bench` against a real serve + worker: it runs with a tiny load and reports every
documented figure. No performance assertions: performance is measured, not tested."""
import json

#: Fields docs/benchmarks.md documents at the top level of the JSON report.
TOP_FIELDS = ("pfo3_bench", "label", "started_at", "host", "config", "accepted", "rejected",
              "errors", "failures", "accept_seconds", "accepted_per_s", "end_to_end",
              "latency_ms", "memory", "broker_ceiling", "ratios", "broker_error")
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
    # Every accepted task really is in the store: the bench watched the right thing.
    assert len(list(store.glob("*.json"))) == 300


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
    ceiling = report["broker_ceiling"]
    assert ceiling["messages"] == 200 and ceiling["window"] == 16
    for field in ("publish_confirm_per_s", "consume_per_s", "publish_consume_per_s"):
        assert ceiling[field] > 0, ceiling
    assert ceiling["nacked"] == 0 and ceiling["returned"] == 0
    assert broker.message_count(ceiling["queue"]) is None, "the temporary queue is deleted"
    assert report["ratios"]["accepted_vs_publish_confirm"] > 0
    assert report["ratios"]["end_to_end_vs_publish_consume"] > 0


def test_bench_against_no_server_exits_3(pfo3, tmp_path):
    from helpers.processes import free_port
    r = run_bench(pfo3, ["--server", f"127.0.0.1:{free_port()}", "--tasks", 10, "--no-results"])
    assert r.returncode == 3, r.stdout + r.stderr
    assert "cannot reach server" in r.stderr
