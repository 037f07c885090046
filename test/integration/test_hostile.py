"""Hostile clients and the configured limits (issue 4), against the real binary and broker.

One bad connection must never slow the others, crash serve or grow it without bound, and no
task answered ok:true may be lost. The tests of the shared `hostile` server run in file order
and count every task it accepted; the last one checks them all in the queue.
"""
import json
import os
import random
import re
import resource
import select
import socket
import threading
import time

import pytest

from helpers.clients import RawClient, unique_queue
from helpers.processes import Pfo3, wait_until, write_file

#: A liveness bound, not a performance target: a prompt answer arrives well within it.
PROMPT_S = 5.0
IDLE_CONNECTIONS = 1000


def raise_own_fd_limit(needed):
    """Lifts this process's soft descriptor limit to the hard one; skips if still short."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < needed:
        pytest.skip(f"needs {needed} descriptors, the hard limit is {hard}")


def rss_kib(pid):
    """VmRSS of a process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def assert_alive(daemon):
    rc = daemon.proc.poll()
    assert rc is None, f"serve died: rc={rc}\n{daemon.stderr()[-3000:]}"


def served_promptly(port, what="ping"):
    """Opens a fresh connection; a ping (or a submit) must be answered within PROMPT_S."""
    with RawClient(port, timeout=PROMPT_S) as c:
        started = time.monotonic()
        r = c.request({"op": "ping"}, timeout=PROMPT_S)
        assert r == {"ok": True, "op": "pong"}, r
        return time.monotonic() - started


class Hostile:
    """The shared server: its daemon, queue, and the ids of every task it answered ok:true."""

    def __init__(self, serve, queue):
        self.serve = serve
        self.port = serve.port
        self.queue = queue
        self.accepted = []

    def submit(self, client, task_id, timeout=PROMPT_S):
        """A normal submit on `client`, answered within the timeout; remembered as accepted."""
        r = client.request({"id": task_id, "type": "echo", "payload": task_id}, timeout=timeout)
        assert r == {"ok": True, "id": task_id, "status": "queued"}, r
        self.accepted.append(task_id)

    def note(self, response):
        """Remembers a response that accepted a task."""
        if response and response.get("ok") is True and response.get("status") == "queued":
            self.accepted.append(response["id"])


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, amqp_url, broker):
    raise_own_fd_limit(IDLE_CONNECTIONS + 200)
    p = Pfo3(tmp_path_factory.mktemp("hostile"), amqp_url)
    queue = unique_queue()
    try:
        yield Hostile(p.serve(queue, config=write_file(p.workdir / "hostile.toml",
                                                       "[serve]\nmax_connections_per_address = 2000\n")), queue)
    finally:
        try:
            p.close()
        finally:
            broker.delete_queues([queue, f"{queue}.dead"])


def test_idle_connections_and_a_slow_client_do_not_delay_others(hostile):
    idle = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            idle.append(socket.create_connection(("127.0.0.1", hostile.port), timeout=PROMPT_S))
        # Accepted by serve (each one a descriptor of its own), not merely queued in the backlog.
        wait_until(lambda: len(os.listdir(f"/proc/{hostile.serve.pid}/fd")) > IDLE_CONNECTIONS,
                   30, f"serve to hold {IDLE_CONNECTIONS} connections")

        # ~100 bytes at 20 a second: five seconds in which everybody else must be served.
        slow_request = json.dumps({"id": "slow-1", "type": "echo",
                                   "payload": "one byte at a time, " * 3})
        slow_answer = {}
        started_sending = threading.Event()

        def slow_client():
            with RawClient(hostile.port, timeout=30) as c:
                for i, byte in enumerate(slow_request.encode()):
                    c.send(bytes([byte]))
                    if i == 5:
                        started_sending.set()
                    time.sleep(0.05)  # the behaviour under test: a client trickling its request
                slow_answer["r"] = c.read(timeout=PROMPT_S)

        t = threading.Thread(target=slow_client, daemon=True)
        t.start()
        assert started_sending.wait(PROMPT_S)

        # While the slow request trickles in and 1000 connections sit idle, others are served.
        with RawClient(hostile.port, timeout=PROMPT_S) as c:
            assert c.request({"op": "ping"}, timeout=PROMPT_S) == {"ok": True, "op": "pong"}
            hostile.submit(c, "prompt-1")
        assert t.is_alive(), "the slow client finished first: the test proves nothing"

        t.join(timeout=len(slow_request) * 0.05 + 2 * PROMPT_S)
        assert not t.is_alive(), "the slow client got no answer"
        assert slow_answer.get("r") == {"ok": True, "id": "slow-1", "status": "queued"}, slow_answer
        hostile.accepted.append("slow-1")

        # The idle connections are still open (idle_timeout_s is 300 by default) and usable.
        probe = idle[IDLE_CONNECTIONS // 2]
        probe.sendall(b'{"op":"ping"}\n')
        probe.settimeout(PROMPT_S)
        assert probe.recv(100) == b'{"ok":true,"op":"pong"}\n'
    finally:
        for s in idle:
            s.close()
    assert_alive(hostile.serve)


def test_a_client_that_never_reads_is_paused_not_buffered(hostile):
    before = rss_kib(hostile.serve.pid)
    # Requests whose answers are large (an unknown op is quoted back, with the id) from a client
    # with a tiny receive buffer: serve's send buffer fills after a few MiB of answers. 100000
    # requests of ~1 KiB are far more than every socket buffer on the way can hold (Linux
    # grows a receive buffer up to tcp_rmem's 32 MiB), so the client must end up blocked.
    count = 100_000
    request = (json.dumps({"id": "n" * 128, "op": "o" * 80, "pad": "x" * 800}) + "\n").encode()
    total = count * len(request)
    reader_less = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    reader_less.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader_less.connect(("127.0.0.1", hostile.port))
    try:
        reader_less.settimeout(2.0)
        sent = 0
        block = request * 64
        try:
            while sent < total:
                sent += reader_less.send(block[: min(len(block), total - sent)])
        except socket.timeout:
            pass  # serve stopped reading: exactly what a bounded server must do
        # With max_pipelined = 1024 about 15 MiB get through (mostly kernel buffers); with
        # 65536 about 75 MiB; unbounded reading would take all 100.
        assert sent < total // 2, (f"serve took {sent >> 20} of {total >> 20} MiB of requests "
                                   "whose answers nobody read")

        # The stuck connection holds its place; everyone else is served promptly.
        for _ in range(3):
            served_promptly(hostile.port)
        with RawClient(hostile.port, timeout=PROMPT_S) as c:
            hostile.submit(c, "beside-the-non-reader")

        grown = rss_kib(hostile.serve.pid) - before
        assert grown < 64 * 1024, f"serve grew by {grown} KiB for one non-reading client"
    finally:
        reader_less.close()
    # Once it is gone, its resources go too and serve goes on.
    served_promptly(hostile.port)
    assert_alive(hostile.serve)


def test_deep_nesting_is_bad_json_and_the_connection_goes_on(hostile):
    with RawClient(hostile.port, timeout=PROMPT_S) as c:
        c.send(b"[" * 100_000 + b"\n")
        c.send(b'{"op":"ping","deep":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n")
        c.send(b'{"type":"echo","payload":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}\n")
        c.send(b'{"op":"ping"}\n')
        responses = c.read_n(4, timeout=PROMPT_S)
    assert [r.get("error") for r in responses[:3]] == ["bad_json"] * 3, responses
    assert responses[3] == {"ok": True, "op": "pong"}
    assert_alive(hostile.serve)


def test_huge_keys_and_many_keys_are_answered_promptly(hostile):
    many = "{" + ",".join(f'"k{i}":{i}' for i in range(60_000)) + ',"op":"ping"}\n'
    huge = json.dumps({"op": "ping", "k" * 900_000: 1}) + "\n"
    dup = "{" + ",".join('"op":"ping"' for _ in range(60_000)) + "}\n"
    with RawClient(hostile.port, timeout=PROMPT_S) as c:
        started = time.monotonic()
        c.send(many + huge + dup)
        responses = c.read_n(3, timeout=PROMPT_S)
        elapsed = time.monotonic() - started
    assert responses == [{"ok": True, "op": "pong"}] * 3, responses
    assert elapsed < PROMPT_S


@pytest.mark.parametrize("bad", [
    b'{"type":"echo","payload":"\xff"}',
    b'{"type":"echo","payload":"\xc0\xaf"}',          # overlong "/"
    b'{"type":"echo","payload":"\xed\xa0\x80"}',      # a UTF-16 surrogate, encoded
    b'{"type":"echo","payload":"\xf4\x90\x80\x80"}',  # past U+10FFFF
    b'{"type":"echo","payload":"\xe2\x82"}',          # cut short
    b'{"type":"echo","\xfe":1}',                      # in a key
    b'{"type":"echo","payload":"\\udc00"}',           # a lone surrogate escape
    b'{"type":"echo","payload":"\\ud800x"}',
], ids=["ff", "overlong", "surrogate", "too-big", "cut", "key", "escape-low", "escape-high"])
def test_invalid_utf8_is_bad_json(hostile, bad):
    with RawClient(hostile.port, timeout=PROMPT_S) as c:
        c.send(bad + b'\n{"op":"ping"}\n')
        r, pong = c.read_n(2, timeout=PROMPT_S)
    assert r["ok"] is False and r["error"] == "bad_json", r
    assert pong == {"ok": True, "op": "pong"}


def test_numbers_a_double_cannot_hold_are_refused_and_zero_stays_zero(hostile):
    with RawClient(hostile.port, timeout=PROMPT_S) as c:
        too_big = c.request(b'{"type":"echo","payload":1.8e308}\n')
        assert too_big["ok"] is False and too_big["error"] == "bad_json", too_big
        r = c.request(b'{"id":"zero-exp","type":"echo","payload":[0e200,0e-200]}\n')
        assert r == {"ok": True, "id": "zero-exp", "status": "queued"}, r
        hostile.note(r)
        # The queued payload is checked by the last test (RapidJSON 1.1 alone made it 7.8e56).


def test_binary_garbage_gets_rejections_and_harms_nobody(hostile):
    rng = random.Random(20240401)
    garbage = [bytes(rng.randrange(256) for _ in range(200_000)),
               bytes(rng.choice(b"\x00\x01\xff{}[]\"\\:,\n 0") for _ in range(200_000)),
               b"\x00" * 100_000]
    for blob in garbage:
        with RawClient(hostile.port, timeout=PROMPT_S) as c:
            c.send(blob)
            c.sock.shutdown(socket.SHUT_WR)  # the garbage may leave a value open: end it
            responses = []
            while (r := c.read(timeout=PROMPT_S)) is not None:
                responses.append(r)
                assert len(responses) <= len(blob), "more answers than bytes"
        assert responses, "garbage got no answer at all"
        for r in responses:
            hostile.note(r)  # a random "{...}" accepted as a task must be counted too
            assert r["ok"] is False or r.get("op") == "pong" or r.get("status") == "queued", r
        expected = (None, "bad_json", "bad_request", "unknown_op", "line_too_long")
        assert all(r.get("error") in expected for r in responses), responses[:5]
        served_promptly(hostile.port)
    assert_alive(hostile.serve)


def test_a_half_open_socket_still_gets_its_answer(hostile):
    # Teaching-client style (no newline), then the write side is shut at once.
    with RawClient(hostile.port, timeout=PROMPT_S) as c:
        c.send(json.dumps({"id": "half-open-1", "accion": "echo", "datos": [1, 2]}))
        c.sock.shutdown(socket.SHUT_WR)
        r = c.read(timeout=PROMPT_S)
        assert r == {"ok": True, "id": "half-open-1", "status": "queued"}, r
        hostile.accepted.append("half-open-1")
        assert c.read(timeout=PROMPT_S) is None, "serve closes once it has answered"
    with RawClient(hostile.port, timeout=PROMPT_S) as c:
        c.send(b'{"op":"ping"}\n{"id":"half-open-2","type":"echo","payload":1}\n{"op":"pi')
        c.sock.shutdown(socket.SHUT_WR)
        pong, accepted, cut = c.read_n(3, timeout=PROMPT_S)
        assert pong == {"ok": True, "op": "pong"}
        assert accepted == {"ok": True, "id": "half-open-2", "status": "queued"}, accepted
        hostile.accepted.append("half-open-2")
        assert cut["ok"] is False and cut["error"] == "bad_json", cut
        assert c.read(timeout=PROMPT_S) is None


def test_after_all_that_serve_works_and_no_accepted_task_was_lost(hostile, broker):
    assert_alive(hostile.serve)
    with RawClient(hostile.port, timeout=PROMPT_S) as c:
        hostile.submit(c, "final-1")
    messages = broker.drain(hostile.queue, expected_max=len(hostile.accepted) + 100)
    bodies = [json.loads(body) for _, body in messages]
    ids = [b["id"] for b in bodies]
    lost = sorted(set(hostile.accepted) - set(ids))
    extra = sorted(set(ids) - set(hostile.accepted))
    assert sorted(ids) == sorted(hostile.accepted), (
        f"{len(hostile.accepted)} accepted, {len(ids)} queued; lost {lost[:5]}, extra {extra[:5]}")
    zero = [b["payload"] for b in bodies if b["id"] == "zero-exp"]
    assert zero == ([[0, 0]] if "zero-exp" in hostile.accepted else []), zero
    # Hostile input is the client's problem: nothing of it may reach serve's error level
    # (a handler that threw, a framer that made no progress).
    errors = [line for line in hostile.serve.stderr().splitlines()
              if re.match(r"\S+ error ", line)]
    assert not errors, "\n".join(errors[:10])


# ---- the configured limits, each on a server of its own -------------------------------------

def serve_with(pfo3, queue, tmp_path, toml):
    return pfo3.serve(queue, config=write_file(tmp_path / "pfo3.toml", "[serve]\n" + toml))


def test_max_connections_refuses_the_next_one_with_overloaded(pfo3, queue, tmp_path, raw_client):
    serve = serve_with(pfo3, queue, tmp_path, "max_connections = 20\n")
    held = [raw_client(serve.port, timeout=PROMPT_S) for _ in range(20)]
    for c in held:  # each one answered: all 20 are accepted sessions, not backlog
        assert c.request({"op": "ping"}) == {"ok": True, "op": "pong"}

    extra = raw_client(serve.port, timeout=PROMPT_S)
    r = extra.read(timeout=PROMPT_S)
    assert r is not None and r["ok"] is False and r["error"] == "overloaded", r
    assert extra.read(timeout=PROMPT_S) is None, "the refused connection is closed"
    assert held[0].request({"op": "ping"}) == {"ok": True, "op": "pong"}, "held ones unaffected"

    # A freed place is given to the next client.
    held.pop().close()

    def admitted():
        with RawClient(serve.port, timeout=PROMPT_S) as c:
            return c.request({"op": "ping"}).get("ok") is True
    wait_until(admitted, PROMPT_S, "a connection admitted after one closed")


def test_idle_timeout_closes_a_silent_connection_only(pfo3, queue, tmp_path, raw_client):
    serve = serve_with(pfo3, queue, tmp_path, "idle_timeout_s = 1\n")
    silent = raw_client(serve.port, timeout=PROMPT_S)
    chatty = raw_client(serve.port, timeout=PROMPT_S)
    opened = time.monotonic()

    # The chatty one pings every 0.3 s while we wait for the silent one's EOF.
    closed_after = None
    while closed_after is None:
        assert chatty.request({"op": "ping"}) == {"ok": True, "op": "pong"}
        readable, _, _ = select.select([silent.sock], [], [], 0.3)
        if readable:
            assert silent.read() is None, "the silent connection got data instead of EOF"
            closed_after = time.monotonic() - opened
        assert time.monotonic() - opened < PROMPT_S, "the silent connection was never closed"

    assert closed_after >= 0.9, f"closed after {closed_after:.2f} s, before idle_timeout_s"
    # Past the timeout by now, yet the chatty one is still served.
    assert chatty.request({"op": "ping"}) == {"ok": True, "op": "pong"}


def test_max_request_bytes_is_enforced_even_for_an_unfinished_value(pfo3, queue, tmp_path,
                                                                     raw_client, broker):
    serve = serve_with(pfo3, queue, tmp_path, "max_request_bytes = 4096\n")
    ok = raw_client(serve.port)
    fits = json.dumps({"id": "fits", "type": "echo", "payload": "x" * 3900})
    assert len(fits) <= 4096
    assert ok.request(fits + "\n") == {"ok": True, "id": "fits", "status": "queued"}

    # A value that never ends (an open string) is cut at the limit, not buffered for ever.
    c = raw_client(serve.port)
    c.send('{"type":"echo","payload":"' + "y" * 10_000)
    r = c.read(timeout=PROMPT_S)
    assert r is not None and r["error"] == "line_too_long", r
    assert c.read(timeout=PROMPT_S) is None

    # Endless whitespace is not a request at all: it is dropped and costs nothing.
    w = raw_client(serve.port)
    w.send(b" \n\t" * 100_000 + b'{"op":"ping"}\n')
    assert w.read(timeout=PROMPT_S) == {"ok": True, "op": "pong"}

    assert ok.request({"op": "ping"}) == {"ok": True, "op": "pong"}
    assert broker.message_count(queue) == 1
