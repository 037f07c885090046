"""Sight can be switched off (issue 14's cost measurement, test/bench/run.sh --sight):
`[http] metrics = false` (or --no-metrics) records no metrics and answers /metrics with 404
while tasks flow and /livez, /readyz and the page keep working; `[http] heartbeat_s = 0` sends
no heartbeat, so serve lists no such worker while its tasks flow.
"""
import json
import urllib.error
import urllib.request

from helpers.processes import submit_ids, wait_for_results, wait_until, write_file


def get(port, path, timeout=10):
    """(status, content type, body text) of one GET to 127.0.0.1:port."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def workers_of(pfo3, serve, queue):
    """The heartbeats serve lists for workers of `queue`, by pid (`pfo3 workers --json`)."""
    r = pfo3.run(["workers", "--http", f"127.0.0.1:{serve.http_port}", "--json"])
    assert r.returncode == 0, r.stderr
    return {w["beat"]["pid"]: w for w in json.loads(r.stdout)["workers"] if w["beat"].get("queue") == queue}


def page_shows_metrics_unavailable(port):
    """The status page in headless Chromium: rendered, no console error, the figures that come
    from metrics shown as unavailable (–) and no accepted line in the chart."""
    from helpers.browser import Browser
    b = Browser()
    try:
        b.navigate(f"http://127.0.0.1:{port}/")
        b.wait_for("document.body && document.body.dataset.loaded === '1'", 60, "the page's first refresh")
        shown = b.evaluate("""(() => {
            const t = (id) => document.getElementById(id).textContent;
            return {ready: t('h-ready'), p50: t('h-confirm-p50'), accept: t('h-accept-p99'), accepted: t('t-accepted'),
                    lines: [...document.querySelectorAll('#chart svg polyline')].map(l => l.getAttribute('class'))};
        })()""")
        b.evaluate("1")  # collects the events that arrived meanwhile
        assert b.console_errors() == []
    finally:
        b.close()
    assert shown == {"ready": "ready", "p50": "–", "accept": "–", "accepted": "–",
                     "lines": ["line done", "line retried", "line dead"]}, shown


def test_metrics_off_tasks_flow_and_metrics_answer_404(pfo3, queue, store, tmp_path):
    # serve by its flag, the worker by its config file (heartbeats on, to see what they carry).
    serve = pfo3.serve(queue, extra=["--no-metrics"])
    config = write_file(tmp_path / "pfo3.toml", "[http]\nmetrics = false\nheartbeat_s = 1\n")
    work = pfo3.work(queue, store, config=config, concurrency=2, prefetch=16, http=True)

    ids = submit_ids(pfo3.send(serve.address, stdin="".join(f"{i}\n" for i in range(300)), timeout=120), 300)
    records = wait_for_results(store, ids, timeout=120)
    assert {r["status"] for r in records.values()} == {"done"}

    for role, d in (("serve", serve), ("work", work)):
        status, ctype, body = get(d.http_port, "/metrics")
        assert status == 404, (role, status, body)
        assert ctype.startswith("text/plain") and body == "metrics are off in the config ([http] metrics = false)\n"
        assert get(d.http_port, "/livez")[0] == 200, role
        status, _, body = get(d.http_port, "/readyz")
        assert status == 200 and json.loads(body)["ready"] is True, (role, body)
    # The worker without metrics has no consuming watchdog (it reads them).
    status, _, body = get(work.http_port, "/readyz")
    assert [c["name"] for c in json.loads(body)["checks"]] == ["broker", "store"], body

    # The page's data: figures that come from metrics are null, the rest is there.
    status, _, body = get(serve.http_port, "/api/overview")
    overview = json.loads(body)
    assert status == 200 and overview["ready"] is True, body
    assert overview["metrics"] is False and overview["accepted_total"] is None
    assert overview["confirm_ms"] == {"p50": None, "p99": None} and overview["accept_ms"] == {"p50": None, "p99": None}
    page_shows_metrics_unavailable(serve.http_port)

    # Its heartbeat still comes, ready, without counters it does not keep.
    # (Its first beat may predate its first consume: wait for one that says ready.)
    beat = wait_until(lambda: (lambda w: w["beat"] if w and w["beat"]["ready"] else None)(
        workers_of(pfo3, serve, queue).get(work.pid)), 30, "the worker's heartbeat, ready")
    assert beat["interval_s"] == 1
    assert not {"received", "in_flight", "done", "in_hand"} & beat.keys(), beat


def test_the_metrics_flag_beats_the_config_file(pfo3, queue, tmp_path):
    config = write_file(tmp_path / "pfo3.toml", "[http]\nmetrics = false\n")
    serve = pfo3.serve(queue, config=config, extra=["--metrics"])
    status, _, body = get(serve.http_port, "/metrics")
    assert status == 200 and "pfo3_serve_requests_total" in body, (status, body[:500])


def test_metrics_of_the_wrong_type_stop_the_role_with_a_clear_error(pfo3, queue, tmp_path):
    config = write_file(tmp_path / "pfo3.toml", "[http]\nmetrics = \"no\"\n")
    serve = pfo3.serve(queue, config=config, ready=False)
    assert serve.wait_exit() == 2
    assert "http.metrics: expected a boolean (true or false), got a string" in serve.stderr()


def test_heartbeats_off_no_worker_listed_while_tasks_flow(pfo3, queue, store, tmp_path):
    serve = pfo3.serve(queue)
    silent = pfo3.work(queue, store, config=write_file(tmp_path / "silent.toml", "[http]\nheartbeat_s = 0\n"),
                       http=True)
    # A worker that does beat, started after the silent one: once serve has heard two of its
    # beats, a beat the silent worker sent (at its start, then every second) would be there too.
    beating = pfo3.work(queue, store, config=write_file(tmp_path / "beating.toml", "[http]\nheartbeat_s = 1\n"))

    ids = submit_ids(pfo3.send(serve.address, stdin="".join(f"{i}\n" for i in range(200)), timeout=120), 200)
    wait_for_results(store, ids, timeout=120)

    sent = set()

    def two_beats():
        w = workers_of(pfo3, serve, queue).get(beating.pid)
        if w:
            sent.add(w["beat"]["sent_at"])
        return len(sent) >= 2
    wait_until(two_beats, 30, "two heartbeats of the beating worker")
    listed = workers_of(pfo3, serve, queue)
    assert set(listed) == {beating.pid}, listed
    status, _, body = get(serve.http_port, "/api/overview")
    pids = [w["beat"].get("pid") for w in json.loads(body)["workers"]["list"] if w["beat"].get("queue") == queue]
    assert status == 200 and pids == [beating.pid], body
    # The silent worker ran tasks too (it is no idle bystander), and still serves its endpoints.
    assert any(r["worker"].endswith(f":{silent.pid}") for r in wait_for_results(store, ids).values())
    assert get(silent.http_port, "/readyz")[0] == 200
    assert "heartbeats are off" in silent.stderr()


def test_summarize_sets_sight_off_rounds_beside_sight_on_with_medians_ratio_and_spread(tmp_path):
    """summarize.py's table for test/bench/run.sh --sight: each round's end-to-end and accepted
    tasks/s and serve / worker CPU per task, on and off; medians, on/off, spreads, the cost."""
    import subprocess
    import sys
    from pathlib import Path
    summarize = Path(__file__).resolve().parents[1] / "bench" / "summarize.py"
    # round: (end to end/s, accepted/s, serve µs, each worker's µs) on, then off
    figures = {1: ((10000, 12000, 6.0, 10.0), (10100, 12100, 6.0, 10.0)),
               2: ((9800, 11800, 6.5, 10.5), (10000, 12000, 6.0, 10.0)),
               3: ((10200, 12200, 6.0, 10.0), (9900, 11900, 6.0, 10.5)),
               4: ((9900, 11900, 6.5, 10.0), (10300, 12300, 6.0, 10.0))}
    for n, sides in figures.items():
        for side, (e2e, accepted, serve_us, work_us) in zip(("on", "off"), sides):
            report = {"started_at": "2026-12-06T16:00:00Z", "host": "h",
                      "config": {"connections": 4, "window": 64, "tasks": 20000}, "accepted_per_s": accepted,
                      "rejected": 0, "errors": {}, "end_to_end": {"tasks_per_s": e2e, "missing": 0},
                      "latency_ms": {"submit_to_ok": {"p50": 1.0, "p99": 3.0}},
                      "cpu": {"processes": [{"role": "serve", "us_per_task": serve_us},
                                            {"role": "work", "us_per_task": work_us},
                                            {"role": "work", "us_per_task": work_us}]}}
            (tmp_path / f"sight-{side}-r{n}.json").write_text(json.dumps(report))

    out = subprocess.run([sys.executable, str(summarize), str(tmp_path)], capture_output=True, text=True,
                         check=True).stdout

    assert "### Cost of metrics and heartbeats" in out and "20,000 tasks per round" in out, out
    assert "| 2 | on | 9,800 | 11,800 | 6.5 | 21.0 | 0 / 0 |" in out, out
    assert "| 4 | off | 10,300 | 12,300 | 6.0 | 20.0 | 0 / 0 |" in out, out
    assert "| end to end tasks/s | 9,950 | 10,050 | 0.990 | 9,800..10,200 (4.0 %) | 9,900..10,300 (4.0 %) |" in out, out
    assert "| serve CPU per task µs | 6.2 | 6.0 | 1.042 | 6.0..6.5 (8.0 %) | 6.0..6.0 (0.0 %) |" in out, out
    assert "end to end tasks/s +1.0 % (within the larger spread 4.0 %, at most 2 %)" in out, out
    assert "serve CPU per task µs +4.2 % (within the larger spread 8.0 %, over 2 %)" in out, out
