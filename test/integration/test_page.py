"""serve's status page (issue 14): GET / in headless Chromium renders what /api/overview says,
with no console error and no request off its origin; a task error holding markup shows as
text; the dead-letter POSTs need the page's CSRF token; task look-ups are validated and cut.
Also what the heartbeats say about the tasks in hand, and the counts serve keeps of requests
refused before dispatch and of the time a submit takes to be answered.
"""
import json
import os
import re
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers.processes import free_port, submit_ids, wait_for_results, wait_until, write_file
from test_sight import samples, value

XSS = "<img src=x onerror=alert(1)>"


def request(port, path, method="GET", body=None, headers=None, timeout=10):
    """(status, headers, body text) of one HTTP request to 127.0.0.1:port."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=body,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def overview(port):
    status, _, body = request(port, "/api/overview")
    assert status == 200, body
    return json.loads(body)


@pytest.fixture
def cluster(pfo3, queue, store, tmp_path):
    """serve with [web] actions on, reading the worker's store; one worker whose `xss` handler
    fails with markup on stderr, one attempt per task."""
    handler = write_file(tmp_path / "xss.sh", f"#!/bin/sh\necho '{XSS}' >&2\nexit 1\n", mode=0o755)
    config = write_file(tmp_path / "pfo3.toml",
                        "[http]\nheartbeat_s = 1\nqueue_check_s = 1\n[retry]\nmax_attempts = 1\n"
                        f"[web]\nactions = true\n[handlers.xss]\ncommand = [\"{handler}\"]\n")
    serve = pfo3.serve(queue, config=config, env={"PFO3_STORE": f"file://{Path(store).resolve()}"})
    work = pfo3.work(queue, store, config=config, concurrency=2, prefetch=8)
    return serve, work


def test_the_page_shows_what_the_api_says_escaped_and_from_its_own_origin(pfo3, cluster, store, tmp_path):
    from helpers.browser import Browser
    serve, _ = cluster
    port = serve.http_port
    done = submit_ids(pfo3.send(serve.address, [str(i) for i in range(20)]), 20)
    dead = submit_ids(pfo3.send(serve.address, ["1", "2"], type_="no_such_type"), 2)
    xss = submit_ids(pfo3.send(serve.address, ["{}"], type_="xss"), 1)
    wait_for_results(store, done + dead + xss, timeout=120)

    def settled():
        o = overview(port)
        t = o["throughput"]["totals"]
        queues = {q["name"]: q for q in o["queues"]}
        return o if (t["accepted"], t["done"], t["retried"], t["dead"]) == (23, 20, 0, 3) and \
            [q["messages"] for q in queues.values()] == [0, 3] and o["workers"]["alive"] == 1 else None
    o = wait_until(settled, 60, "the overview to count 23 accepted, 20 done, 3 dead, queues settled")
    assert o["ready"] and o["store"] == "file" and o["broker"]["connected"]
    assert o["actions"] is True  # [web] actions on, through serve's dead-letter desk
    assert o["confirm_ms"]["p50"] is not None and o["confirm_ms"]["p99"] >= o["confirm_ms"]["p50"]
    assert o["dead_letters"]["depth"] == 3

    status, headers, html = request(port, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in html and " style=" not in html  # nothing inline for the CSP to allow

    b = Browser()
    try:
        origin = f"http://127.0.0.1:{port}"
        b.navigate(origin + "/")
        b.wait_for("document.body && document.body.dataset.loaded === '1'", 60, "the page's first refresh")
        shown = b.evaluate("""(() => {
            const t = (id) => document.getElementById(id).textContent;
            return {ready: t('h-ready'), store: t('h-store'), version: t('h-version'), broker: t('h-broker'),
                    p50: t('h-confirm-p50'), workers_ready: t('h-workers-ready'), alive: t('h-workers-alive'),
                    accepted: t('t-accepted'), done: t('t-done'), retried: t('t-retried'), dead: t('t-dead'),
                    depth: t('d-depth'), lines: document.querySelectorAll('#chart svg polyline').length,
                    queues: [...document.querySelectorAll('#q-rows tr')].map(r => [...r.cells].map(c => c.textContent)),
                    workers: [...document.querySelectorAll('#w-rows tr:not(.task)')].map(r => r.cells[0].textContent),
                    buttons: !document.getElementById('d-actions').hidden};
        })()""")
        now = overview(port)
        t = now["throughput"]["totals"]
        assert shown["ready"] == "ready" and now["ready"]
        assert shown["store"] == now["store"] and shown["version"] == now["version"]
        assert shown["broker"] == now["broker"]["node"]
        assert shown["p50"] == str(now["confirm_ms"]["p50"]).removesuffix(".0") or \
            float(shown["p50"]) == now["confirm_ms"]["p50"]
        assert (shown["workers_ready"], shown["alive"]) == (str(now["workers"]["ready"]), str(now["workers"]["alive"]))
        assert [shown[k] for k in ("accepted", "done", "retried", "dead")] == \
            [str(t[k]) for k in ("accepted", "done", "retried", "dead")] == ["23", "20", "0", "3"]
        assert shown["depth"] == str(now["dead_letters"]["depth"]) == "3"
        assert shown["queues"] == [[q["name"], str(q["messages"]), str(q["consumers"])] for q in now["queues"]]
        assert shown["workers"] == [w["id"] for w in now["workers"]["list"]]
        assert shown["lines"] == 4 and shown["buttons"] is True  # [web] actions, wired to the desk

        # The error of the xss task, looked up on the page, is text: no element is made of it.
        b.evaluate(f"document.getElementById('task-id').value = {json.dumps(xss[0])};"
                   "document.getElementById('task-form').requestSubmit(); true")
        record = json.loads(b.wait_for("document.getElementById('task-record').textContent", 30, "the record"))
        assert record["id"] == xss[0] and record["status"] == "dead" and XSS in record["error"]
        assert b.evaluate("document.querySelectorAll('img').length") == 0
        b.evaluate("1")  # collects the events that arrived meanwhile

        if os.environ.get("PFO3_PAGE_SCREENSHOT"):
            b.screenshot(os.environ["PFO3_PAGE_SCREENSHOT"])
        b.screenshot(tmp_path / "page.png")
        assert (tmp_path / "page.png").stat().st_size > 10000

        assert b.console_errors() == []
        urls = b.requested_urls()
        assert urls and all(u.startswith(origin + "/") for u in urls), urls
        assert {origin + "/", origin + "/page.js", origin + "/page.css", origin + "/api/overview"} <= set(urls)
    finally:
        b.close()


def test_dead_letter_posts_need_the_pages_csrf_token(cluster):
    serve, _ = cluster
    port = serve.http_port
    _, _, html = request(port, "/")
    token = re.search(r'<meta name="pfo3-csrf" content="([^"]+)">', html).group(1)
    json_type = {"Content-Type": "application/json"}
    for path in ("/api/dead/requeue", "/api/dead/purge"):
        status, _, body = request(port, path, "POST", b"{}", json_type)
        assert status == 403 and "CSRF" in body, body
        status, _, body = request(port, path, "POST", b"{}", dict(json_type, **{"X-CSRF-Token": token[:-1] + "x"}))
        assert status == 403, body
        ok = dict(json_type, **{"X-CSRF-Token": token})
        status, _, body = request(port, path, "POST", b"{}", dict(ok, Origin="http://evil.example"))
        assert status == 403 and "cross-origin" in body, body
        status, _, body = request(port, path, "POST", b'{"ids":["../x"]}', ok)
        assert status == 400, body
        # The token passes: serve's dead-letter desk answers (no such letter: listed as missing).
        status, _, body = request(port, path, "POST", b'{"ids":["a1"]}', ok)
        assert status == 200 and json.loads(body)["ok"] is True and "a1" in body, body
        assert request(port, path)[0] == 405


def test_without_actions_there_are_no_buttons_and_no_post(pfo3, queue):
    serve = pfo3.serve(queue)
    port = serve.http_port
    _, _, html = request(port, "/")
    assert "pfo3-csrf" not in html
    assert overview(port)["actions"] is False
    assert request(port, "/api/dead/requeue", "POST", b"{}")[0] == 404


def test_task_look_up_validates_the_id_and_cuts_the_result(pfo3, cluster, store):
    serve, _ = cluster
    port = serve.http_port
    for bad in ("a%2F..", "..", "x" * 129, "a b"):
        status, _, body = request(port, "/api/task/" + bad.replace(" ", "%20"))
        assert status == 400 and "not a task id" in body, (bad, body)
    status, _, body = request(port, "/api/task/never-submitted")
    assert status == 200 and json.loads(body)["status"] == "pending"
    big = submit_ids(pfo3.send(serve.address, [{"type": "echo", "payload": "é" * 5000}], json_mode=True), 1)
    wait_for_results(store, big, timeout=60)
    status, _, body = request(port, "/api/task/" + big[0])
    record = json.loads(body)
    assert status == 200 and record["status"] == "done" and record["result_cut"] is True
    # A string result keeps its own text, cut on a character boundary.
    assert record["result"] == "é" * 2048


def test_heartbeats_list_the_tasks_in_hand_with_their_age(pfo3, queue, store, tmp_path):
    serve = pfo3.serve(queue)
    config = write_file(tmp_path / "pfo3.toml", "[http]\nheartbeat_s = 1\n")
    pfo3.work(queue, store, config=config, concurrency=3, prefetch=3)
    ids = submit_ids(pfo3.send(serve.address, [{"type": "sleep", "payload": 20000}] * 3, json_mode=True), 3)

    def in_hand():
        r = pfo3.run(["workers", "--http", f"127.0.0.1:{serve.http_port}", "--json"])
        beats = [w["beat"] for w in json.loads(r.stdout)["workers"] if w["beat"]["queue"] == queue]
        return beats[0] if beats and beats[0]["in_hand_count"] == 3 and \
            min(t["age_s"] for t in beats[0]["in_hand"]) >= 1 else None
    beat = wait_until(in_hand, 60, "three tasks in hand for a second")
    assert sorted(t["id"] for t in beat["in_hand"]) == sorted(ids)
    assert all(t["type"] == "sleep" and 1 <= t["age_s"] < 60 for t in beat["in_hand"])
    table = pfo3.run(["workers", "--http", f"127.0.0.1:{serve.http_port}"]).stdout
    for i in ids:
        assert re.search(rf"running {re.escape(i)} \(sleep\) for [0-9.]+s", table), table
    status, _, body = request(serve.http_port, "/api/overview")
    assert sorted(t["id"] for t in json.loads(body)["workers"]["list"][0]["beat"]["in_hand"]) == sorted(ids)


def test_serve_counts_refusals_by_code_and_the_time_to_answer_a_submit(pfo3, queue, raw_client):
    serve = pfo3.serve(queue)
    c = raw_client(serve.port)
    c.send('{"op":"ping",,}\n')
    assert c.read()["error"] == "bad_json"
    c.send({"op": "submit", "type": "echo", "payload": 1, "max_attempts": 10 ** 6})
    assert c.read()["error"] == "bad_request"
    for i in range(5):
        c.send({"type": "echo", "payload": i})
        assert c.read()["ok"]
    s = samples(serve.http_port)
    assert value(s, "pfo3_serve_refused_total", code="bad_json") == 1
    assert value(s, "pfo3_serve_refused_total", code="bad_request") == 1
    assert value(s, "pfo3_serve_requests_total", op="submit", code="ok") == 5
    assert value(s, "pfo3_serve_accept_seconds_count") == 5
    assert value(s, "pfo3_serve_accept_seconds_sum") >= value(s, "pfo3_serve_confirm_seconds_sum")
    long = raw_client(serve.port)
    long.send("[" + " " * (1 << 21))
    assert long.read()["error"] == "line_too_long"
    assert value(samples(serve.http_port), "pfo3_serve_refused_total", code="line_too_long") == 1


def host_address():
    """An IPv4 address of this host other than loopback, or None."""
    out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10).stdout.split()
    return next((a for a in out if re.fullmatch(r"[0-9.]+", a) and not a.startswith("127.")), None)


def test_off_loopback_each_endpoint_needs_a_token_with_its_scope(pfo3, queue, tmp_path):
    from test_auth import make_token
    address = host_address()
    if not address:
        pytest.skip("this host has no address other than loopback")
    tokens = tmp_path / "tokens"
    made = {name: make_token(pfo3, tokens, name, scopes)
            for name, scopes in [("viewer", "status"), ("scraper", "metrics"), ("ops", "admin")]}
    config = write_file(tmp_path / "pfo3.toml",
                        f'[auth]\nmode = "token"\ntokens_file = "{tokens}"\n[web]\nactions = true\n')
    port = free_port()
    serve = pfo3.serve(queue, config=config, http=False, extra=["--http-listen", f"0.0.0.0:{port}"])

    def remote(path, token=None, method="GET", body=None, headers=None):
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + made[token]
        req = urllib.request.Request(f"http://{address}:{port}{path}", method=method, data=body, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    for path, allowed in [("/metrics", "scraper"), ("/api/overview", "viewer"), ("/", "viewer"),
                          ("/api/workers", "viewer"), ("/api/task/x1", "viewer")]:
        assert remote(path)[0] == 401, path
        assert remote(path, "ops" if allowed == "scraper" else "scraper")[0] == 403, path
        assert remote(path, allowed)[0] == 200, path
        assert request(port, path)[0] == 200, path  # loopback: no token needed
    _, _, html = request(port, "/")
    csrf = {"X-CSRF-Token": re.search(r'name="pfo3-csrf" content="([^"]+)"', html).group(1)}
    assert remote("/api/dead/requeue", "viewer", "POST", b"{}", csrf)[0] == 403
    assert remote("/api/dead/requeue", "ops", "POST", b"{}", csrf)[0] == 200  # admitted: nothing to requeue
    r = pfo3.run(["workers", "--http", f"{address}:{port}"])
    assert r.returncode == 3 and "401" in r.stderr, r
    token_file = write_file(tmp_path / "viewer.token", made["viewer"] + "\n", 0o600)
    r = pfo3.run(["workers", "--http", f"{address}:{port}", "--token-file", str(token_file)])
    assert r.returncode == 0 and r.stdout.startswith("WORKER"), r
    # A token made after the start works once serve rereads the tokens file (SIGHUP).
    made["late"] = make_token(pfo3, tokens, "late", "metrics")
    assert remote("/metrics", "late")[0] == 401
    serve.signal(signal.SIGHUP)
    wait_until(lambda: remote("/metrics", "late")[0] == 200, 30, "the reloaded token admitted on HTTP")
    assert serve.proc.poll() is None


def test_dead_letters_and_their_buttons_render_as_text(cluster):
    """The panel as it will look once serve lists dead letters: /api/overview is answered by
    the test (Fetch interception) with letters whose fields hold markup."""
    from helpers.browser import Browser
    serve, _ = cluster
    port = serve.http_port
    fake = overview(port)
    fake["actions"] = True
    fake["dead_letters"]["latest"] = [
        {"id": "d1", "type": XSS, "attempt": 3, "submitted_at": "2026-01-01T00:00:00Z", "error": XSS},
        {"id": "d2", "type": "echo", "attempt": 1, "submitted_at": "2026-01-01T00:00:01Z", "error": "boom"}]
    b = Browser()
    try:
        b.call("Fetch.enable", patterns=[{"urlPattern": "*/api/overview*", "requestStage": "Request"}])
        b.navigate(f"http://127.0.0.1:{port}/")
        assert b.answer_next(fake).endswith("/api/overview")
        b.wait_for("document.body.dataset.loaded === '1'", 60, "the page's first refresh")
        rows = b.evaluate("[...document.querySelectorAll('#d-rows tr')].map(r => [...r.cells].map(c => c.textContent))")
        assert rows == [["d1", XSS, "3", "2026-01-01T00:00:00Z", XSS, "requeue purge"],
                        ["d2", "echo", "1", "2026-01-01T00:00:01Z", "boom", "requeue purge"]]
        assert b.evaluate("document.querySelectorAll('img').length") == 0
        assert b.evaluate("!document.getElementById('d-actions').hidden && !document.getElementById('d-table').hidden")
        b.evaluate("1")
        assert b.console_errors() == []
    finally:
        b.close()


def test_refusals_at_the_door_are_counted_tls_required_overloaded_unauthorized(pfo3, queue, tmp_path, raw_client):
    from helpers.certs import Certificates
    from test_auth import make_token
    certs = Certificates(tmp_path / "certs")
    tokens = tmp_path / "tokens"
    make_token(pfo3, tokens, "sub", "submit")
    config = write_file(tmp_path / "door.toml", f"""
[serve]
max_connections_per_address = 2
[serve.tls]
mode = "required"
cert_file = "{certs.server[0]}"
key_file = "{certs.server[1]}"
[auth]
mode = "token"
tokens_file = "{tokens}"
failure_delay_ms = 0
""")
    serve = pfo3.serve(queue, config=config)
    plain = raw_client(serve.port)
    plain.send({"op": "ping"})
    assert plain.read()["error"] == "tls_required"
    wait_until(lambda: value(samples(serve.http_port), "pfo3_serve_refused_total", code="tls_required") == 1, 30,
               "tls_required counted")

    open_config = write_file(tmp_path / "cap.toml", "[serve]\nmax_connections_per_address = 2\n"
                             f'[auth]\nmode = "token"\ntokens_file = "{tokens}"\nfailure_delay_ms = 0\n')
    capped = pfo3.serve(queue, config=open_config)
    held = [raw_client(capped.port) for _ in range(2)]
    held[0].send({"op": "ping"})
    assert held[0].read()["ok"]
    held[1].send({"type": "echo", "payload": 1})  # no token: refused after the (zero) delay
    assert held[1].read()["error"] == "unauthorized"
    third = raw_client(capped.port)
    assert third.read()["error"] == "overloaded"
    s = samples(capped.http_port)
    assert value(s, "pfo3_serve_refused_total", code="unauthorized") == 1
    assert value(s, "pfo3_serve_refused_total", code="overloaded") == 1
    assert value(s, "pfo3_serve_requests_total", op="submit", code="unauthorized") == 0


def test_a_dead_task_requeued_from_the_page_is_done_after_the_fix(pfo3, queue, store, tmp_path):
    """The Requeue button's POST (with the page's CSRF token) goes the way of `pfo3 dead
    requeue`: the letter lists on the page, the task runs again and, its handler fixed, is done."""
    fixed = tmp_path / "fixed"
    handler = write_file(tmp_path / "later.sh", f"#!/bin/sh\n[ -f {fixed} ] && echo 42 && exit 0\nexit 1\n", mode=0o755)
    config = write_file(tmp_path / "pfo3.toml",
                        "[http]\nheartbeat_s = 1\nqueue_check_s = 1\n[retry]\nmax_attempts = 1\n"
                        f"[web]\nactions = true\n[handlers.later]\ncommand = [\"{handler}\"]\n")
    serve = pfo3.serve(queue, config=config, env={"PFO3_STORE": f"file://{Path(store).resolve()}"})
    pfo3.work(queue, store, config=config, concurrency=1, prefetch=4)
    port = serve.http_port
    [task_id] = submit_ids(pfo3.send(serve.address, ["{}"], type_="later"), 1)
    assert wait_for_results(store, [task_id])[task_id]["status"] == "dead"
    wait_until(lambda: any(d["id"] == task_id for d in (overview(port)["dead_letters"]["latest"] or [])), 60,
               "the dead letter listed on the page")
    _, _, html = request(port, "/")
    token = re.search(r'<meta name="pfo3-csrf" content="([^"]+)">', html).group(1)
    fixed.write_text("")
    status, _, body = request(port, "/api/dead/requeue", "POST", json.dumps({"ids": [task_id]}).encode(),
                              {"Content-Type": "application/json", "X-CSRF-Token": token})
    assert status == 200 and json.loads(body)["ok"] is True, body
    record = wait_for_results(store, [task_id], final=("done",))[task_id]
    assert record["status"] == "done" and record["result"] == 42 and record["requeues"] == 1, record
