"""A serve that no client can exhaust (issue 11), against the real binary, broker and stores.

Each test starts a serve of its own with the limit under test set small: the memory a client
that never reads its replies can hold (bytes, and the write timeout that ends it), the time a
request may take to arrive, the connections one address may hold, the `max_attempts` a client
may ask for, what a client learns when the result store fails, and a clean exit while a status
read hangs on a store that does not answer.
"""
import json
import os
import shutil
import socket
import subprocess
import time
from urllib.parse import urlsplit

import pytest

from helpers.clients import RawClient
from helpers.processes import (SANITIZER_MARKERS, free_port, rss_kib, wait_for_results,
                               wait_until, write_file)
from helpers.stores import PostgresDatabase, postgres_frozen, unread_bytes_at_port

#: A liveness bound, not a performance target: a prompt answer arrives well within it.
PROMPT_S = 10.0


def serve_with(pfo3, queue, tmp_path, toml, env=None, extra=()):
    """A serve of its own, configured by `toml` (a whole config file)."""
    return pfo3.serve(queue, config=write_file(tmp_path / "limits.toml", toml), env=env, extra=extra)


def asan_options(*extra):
    """$ASAN_OPTIONS (a sanitizer build's settings from the suite) with `extra` appended."""
    return ":".join(o for o in [os.environ.get("ASAN_OPTIONS", ""), *extra] if o)


def pong_promptly(port):
    with RawClient(port, timeout=PROMPT_S) as c:
        assert c.request({"op": "ping"}) == {"ok": True, "op": "pong"}


def peer(port, source="127.0.0.1", rcvbuf=None):
    """A plain socket to serve from `source` (any 127.x address is this host)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((source, 0))
    s.settimeout(PROMPT_S)
    s.connect(("127.0.0.1", port))
    return s


def read_to_eof(sock, timeout):
    """Everything the peer still receives until serve's EOF; fails if none comes in time."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def test_a_client_that_never_reads_its_replies_keeps_serve_small_and_is_closed_after_the_write_timeout(
        pfo3, queue, tmp_path):
    """Status replies are as large as the stored result: a client pipelining 1000 status reads
    of a 100 kB result and reading nothing would have serve hold ~100 MB of replies if the
    bound were 1024 replies. With the byte budget (1 MiB) serve stops reading that client,
    serves everyone else, and closes it once write_timeout_s passes with no reply taken."""
    store = tmp_path / "results"
    store.mkdir()
    uri = f"file://{store}"
    # A sanitizer build keeps freed memory in quarantine (256 MB by default): kept small here,
    # so that RSS measures what serve holds.
    serve = serve_with(pfo3, queue, tmp_path, "[serve]\nwrite_timeout_s = 3\n",
                       env={"PFO3_STORE": uri, "ASAN_OPTIONS": asan_options("quarantine_size_mb=8")},
                       extra=["--log-level", "debug"])
    pfo3.work(queue, store=store)
    with RawClient(serve.port, timeout=PROMPT_S) as c:
        r = c.request({"id": "big", "type": "echo", "payload": "b" * 100_000})
        assert r == {"ok": True, "id": "big", "status": "queued"}, r
    wait_for_results(store, ["big"])

    before = rss_kib(serve.pid)
    hog = peer(serve.port, rcvbuf=4096)
    requests = 1000
    hog.sendall(b'{"op":"status","id":"big"}\n' * requests)  # 27 kB: the kernel takes it at once
    most = [before]

    def closed_while_small():
        most[0] = max(most[0], rss_kib(serve.pid))
        assert most[0] - before < 48 * 1024, (
            f"serve grew by {most[0] - before} KiB for one client that reads nothing")
        return "the peer takes no replies; closing the connection" in serve.stderr()

    started = time.monotonic()
    pong_promptly(serve.port)  # others are served while the hog holds its replies
    wait_until(closed_while_small, 60, "serve to close the connection that takes no replies")
    assert time.monotonic() - started >= 2.5, "closed before write_timeout_s"
    pong_promptly(serve.port)

    # The hog got what the kernel buffers held, then EOF: far from all 1000 replies.
    received = read_to_eof(hog, PROMPT_S)
    hog.close()
    answered = received.count(b"\n")
    assert 0 < answered < requests // 10, f"{answered} replies before EOF"
    assert json.loads(received.split(b"\n", 1)[0])["status"] == "done"


def test_a_request_trickling_in_a_byte_at_a_time_is_cut_at_request_timeout(pfo3, queue, tmp_path,
                                                                            broker):
    serve = serve_with(pfo3, queue, tmp_path, "[serve]\nrequest_timeout_s = 2\n")
    with RawClient(serve.port, timeout=PROMPT_S) as c:
        c.send('{"id":"slow","type":"echo","payload":"')
        first_byte = time.monotonic()
        answer = None
        # One byte every 200 ms: each one is news, none of them completes the request.
        while answer is None and time.monotonic() - first_byte < 30:
            try:
                c.send("x")
            except (BrokenPipeError, ConnectionResetError):
                break
            c.sock.settimeout(0.2)
            try:
                answer = c.read(timeout=0.2)
                break
            except socket.timeout:
                continue
        took = time.monotonic() - first_byte
        assert answer is not None, f"no answer after {took:.1f} s of trickling"
        assert answer["ok"] is False and answer["error"] == "bad_request", answer
        assert "did not arrive whole within 2 s" in answer["message"], answer
        assert 1.8 <= took < 10, f"answered after {took:.1f} s"
        assert c.read(timeout=PROMPT_S) is None, "the connection is closed after the answer"
    pong_promptly(serve.port)
    assert broker.message_count(queue) == 0


def test_connections_beyond_the_per_address_cap_are_answered_overloaded(pfo3, queue, tmp_path):
    serve = serve_with(pfo3, queue, tmp_path, "[serve]\nmax_connections_per_address = 3\n")
    held = [peer(serve.port) for _ in range(3)]
    for s in held:  # each one answered: all three are accepted sessions, not backlog
        s.sendall(b'{"op":"ping"}\n')
        assert json.loads(s.recv(4096)) == {"ok": True, "op": "pong"}

    extra = peer(serve.port)
    refused = read_to_eof(extra, PROMPT_S)
    extra.close()
    assert json.loads(refused) == {"ok": False, "error": "overloaded",
                                   "message": "too many connections from this address"}

    # Another address is not affected.
    other = peer(serve.port, source="127.0.0.2")
    other.sendall(b'{"op":"ping"}\n')
    assert json.loads(other.recv(4096)) == {"ok": True, "op": "pong"}
    other.close()

    # A place freed at that address goes to the next connection from it.
    held.pop().close()

    def admitted():
        with RawClient(serve.port, timeout=PROMPT_S) as c:
            c.send({"op": "ping"})
            return c.read() == {"ok": True, "op": "pong"}
    wait_until(admitted, PROMPT_S, "a connection admitted after one from its address closed")
    for s in held:
        s.close()


def test_max_attempts_above_the_limit_is_bad_request_naming_it(pfo3, queue, tmp_path, broker,
                                                               raw_client):
    default = raw_client(pfo3.serve(queue).port)
    r = default.request({"id": "a26", "type": "echo", "max_attempts": 26})
    assert r["ok"] is False and r["error"] == "bad_request" and r["id"] == "a26", r
    assert "at most 25" in r["message"] and "max_attempts_limit" in r["message"], r
    assert default.request({"id": "a25", "type": "echo", "max_attempts": 25})["ok"] is True

    lowered = raw_client(serve_with(pfo3, queue, tmp_path,
                                    "[retry]\nmax_attempts_limit = 3\nmax_attempts = 2\n").port)
    r = lowered.request({"id": "a4", "type": "echo", "max_attempts": 4})
    assert r["ok"] is False and r["error"] == "bad_request", r
    assert "at most 3" in r["message"], r
    assert lowered.request({"id": "a3", "type": "echo", "max_attempts": 3})["ok"] is True
    assert broker.message_count(queue) == 2


def test_a_limit_key_with_a_bad_value_stops_serve_naming_it(pfo3, tmp_path):
    config = write_file(tmp_path / "bad.toml", "[serve]\nmax_unsent_reply_bytes = 0\n")
    r = pfo3.run(["serve", "--config", str(config)], timeout=60)
    assert r.returncode == 2, r.stderr
    assert "serve.max_unsent_reply_bytes: must be between" in r.stderr, r.stderr


@pytest.mark.parametrize("failure", ["corrupt file record", "postgresql refuses connections"])
def test_a_status_read_the_store_fails_tells_the_client_nothing_of_the_store(
        pfo3, queue, tmp_path, raw_client, failure):
    """The client gets `unavailable` with a generic message; paths, hosts and the store's
    error text go to serve's log only."""
    if failure == "corrupt file record":
        store = tmp_path / "results"
        store.mkdir()
        (store / "broken-1.json").write_text("{this is not a record")
        uri, secrets = f"file://{store}", [str(store), "corrupt"]
    else:
        port = free_port()  # nothing listens there
        uri, secrets = f"postgresql://pfo3:pw@127.0.0.1:{port}/results", ["127.0.0.1", str(port)]
    serve = pfo3.serve(queue, env={"PFO3_STORE": uri})

    c = raw_client(serve.port, timeout=60)
    c.send({"op": "status", "id": "broken-1"})
    line = c.read_raw_line(timeout=60).decode()
    assert json.loads(line) == {"ok": False, "id": "broken-1", "error": "unavailable",
                                "message": "result store unavailable"}, line
    for detail in secrets:
        assert detail not in line

    log = serve.stderr()
    assert "status request failed" in log
    for detail in secrets:
        assert detail in log, f"{detail!r} missing from serve's log"


#: Preloaded into serve by the exit test: holds the process for a second after main() has
#: returned, so that a status thread left behind gets to run while the process still exists
#: (without it the process is gone within microseconds and a bug there goes unseen).
SLOW_EXIT_C = """
#include <unistd.h>
__attribute__((destructor)) static void pfo3_test_slow_exit(void) { sleep(1); }
"""


def slow_exit_library(tmp_path):
    """A shared object that delays the exit of the process it is preloaded into."""
    cc = shutil.which("cc")
    if not cc:
        pytest.skip("needs a C compiler (cc) to build the exit-delaying preload")
    source = write_file(tmp_path / "slow_exit.c", SLOW_EXIT_C)
    library = tmp_path / "slow_exit.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(library), str(source)], check=True,
                   timeout=120)
    return library


def test_serve_exits_promptly_and_cleanly_while_a_status_read_hangs_on_the_store(
        pfo3, queue, tmp_path, raw_client):
    """A status thread left behind at exit (PostgreSQL frozen with SIGSTOP) holds no reply
    callback (whose connection belongs to the freed I/O loop) and no reference to serve's
    settings: the cluster is thawed right after serve gave up waiting, while serve is held
    in its exit, so the abandoned read completes then. A use after free shows in the sanitizer
    build's stderr (the suite runs it too); every build must exit 0 promptly."""
    admin = os.environ.get("PFO3_TEST_POSTGRES_URL")
    cluster = os.environ.get("PFO3_TEST_POSTGRES_DIR")
    if not admin or not cluster:
        pytest.skip("needs PFO3_TEST_POSTGRES_URL and PFO3_TEST_POSTGRES_DIR (a private cluster)")
    preload = slow_exit_library(tmp_path)
    db = PostgresDatabase(admin)
    try:
        sep = "&" if "?" in db.url else "?"
        serve = serve_with(pfo3, queue, tmp_path, "[serve]\nshutdown_grace_s = 1\n",
                           env={"PFO3_STORE": f"{db.url}{sep}connect_timeout=600",
                                "LD_PRELOAD": str(preload),
                                "ASAN_OPTIONS": asan_options("verify_asan_link_order=0")})
        waiting = raw_client(serve.port)
        pg_port = urlsplit(db.url).port
        with postgres_frozen(cluster):
            waiting.send({"op": "status", "id": "nobody-yet"})
            wait_until(lambda: unread_bytes_at_port(pg_port) > 0, 60,
                       "serve's status read to reach the stopped PostgreSQL")
            serve.signal()
            stopped = time.monotonic()
            wait_until(lambda: serve.proc.poll() is not None or
                       "not waiting for it any longer" in serve.stderr(), 60,
                       "serve to give up on the status read")
            assert serve.proc.poll() is None, "serve was gone before the read could complete"
        # Thawed: the abandoned read completes while serve is in its exit.
        rc = serve.wait_exit(60)
        took = time.monotonic() - stopped
        log = serve.stderr()
        for marker in SANITIZER_MARKERS:
            assert marker not in log, log[max(0, log.find(marker) - 200):][:5000]
        assert rc == 0, log[-3000:]
        # grace (1 s) + the wait for the status threads (2 s) + the preload's 1 s
        assert took < 20, f"serve took {took:.1f} s to exit"
    finally:
        db.close()
