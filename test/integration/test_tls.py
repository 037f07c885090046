"""TLS on the client port (issue 13 slice 2, docs/security.md): the same port takes TLS and
plaintext by the first byte; versions, names, client certificates, reload on SIGHUP and the
handshake deadline. Certificates come from helpers/certs.py (openssl)."""
import json
import resource
import select
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from helpers.certs import Certificates
from helpers.processes import submit_ids, wait_until, write_file


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certificates(tmp_path_factory.mktemp("certs"))


def tls_config(tmp_path, certs, mode="required", tls_extra="", extra="", cert=None):
    cert = cert or certs.server
    return write_file(tmp_path / "tls.toml", f"""
[serve]
max_connections_per_address = 3000
[serve.tls]
mode = "{mode}"
cert_file = "{cert[0]}"
key_file = "{cert[1]}"
{tls_extra}
{extra}
""")


def tls_context(certs, version=None, client=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(certs.ca[0]))
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    if client:
        ctx.load_cert_chain(str(client[0]), str(client[1]))
    return ctx


class TlsLines:
    """A TLS connection to serve that writes requests and reads response lines."""

    def __init__(self, port, ctx, timeout=15):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.buf = b""

    def send(self, obj):
        self.sock.sendall((json.dumps(obj) + "\n").encode())

    def read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def request(self, obj):
        self.send(obj)
        return self.read()

    def close(self):
        self.sock.close()


def test_tls_1_2_and_1_3_work_and_1_1_is_refused(pfo3, queue, tmp_path, certs):
    serve = pfo3.serve(queue, config=tls_config(tmp_path, certs))
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        c = TlsLines(serve.port, tls_context(certs, version))
        assert c.sock.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
        assert c.request({"op": "ping"}) == {"ok": True, "op": "pong"}
        c.close()
    # SECLEVEL=0 lets the client speak 1.1, so the refusal is the server's (SERVICES.md).
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{serve.port}", "-tls1_1",
                        "-cipher", "DEFAULT:@SECLEVEL=0"], input="", capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "alert protocol version" in r.stderr + r.stdout


def test_min_version_1_3_refuses_1_2(pfo3, queue, tmp_path, certs):
    serve = pfo3.serve(queue, config=tls_config(tmp_path, certs, tls_extra='min_version = "1.3"'))
    with pytest.raises(ssl.SSLError):
        TlsLines(serve.port, tls_context(certs, ssl.TLSVersion.TLSv1_2))
    assert TlsLines(serve.port, tls_context(certs, ssl.TLSVersion.TLSv1_3)).request({"op": "ping"})["ok"]


def test_plaintext_on_a_tls_required_port_gets_one_tls_required_line_then_the_close(pfo3, queue, tmp_path, certs,
                                                                                    raw_client):
    serve = pfo3.serve(queue, config=tls_config(tmp_path, certs))
    c = raw_client(serve.port)
    r = c.request({"op": "ping"})
    assert r["ok"] is False and r["error"] == "tls_required"
    assert c.read(timeout=10) is None


def read_until_closed(sock, timeout=30):
    """Every byte the server sends until it closes the connection (a reset counts as closed)."""
    sock.settimeout(timeout)
    got = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return got
        if not chunk:
            return got
        got += chunk
        assert len(got) < 1 << 20, "more than 1 MiB for a few bytes"


def test_every_first_byte_is_judged_by_the_detector_and_garbage_never_hurts_serve(pfo3, queue, tmp_path, certs):
    """The first-byte detector, end to end, for all 256 values: a required-TLS port answers every
    first byte but 0x16 with one tls_required line, and treats 0x16 and the garbage after it as
    a TLS handshake that fails (no JSON line); then it still serves TLS."""
    import random
    rng = random.Random(13)  # fixed: a failure names a byte that fails again
    serve = pfo3.serve(queue, config=tls_config(tmp_path, certs, tls_extra="handshake_timeout_ms = 5000"))
    for first in range(256):
        tail = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
        with socket.create_connection(("127.0.0.1", serve.port), timeout=30) as s:
            s.sendall(bytes([first]) + tail)
            s.shutdown(socket.SHUT_WR)
            got = read_until_closed(s)
        if first == 0x16:
            assert b"tls_required" not in got, f"0x16 was taken for plaintext: {got[:200]!r}"
        else:
            lines = got.split(b"\n")
            assert len(lines) == 2 and lines[1] == b"", f"first byte {first:#04x}: {got[:300]!r}"
            answer = json.loads(lines[0])
            assert answer["ok"] is False and answer["error"] == "tls_required", (first, answer)
    assert TlsLines(serve.port, tls_context(certs)).request({"op": "ping"}) == {"ok": True, "op": "pong"}
    assert serve.proc.poll() is None, "serve died"


def test_an_optional_port_serves_tls_and_plaintext(pfo3, queue, tmp_path, certs, raw_client):
    serve = pfo3.serve(queue, config=tls_config(tmp_path, certs, mode="optional"))
    assert raw_client(serve.port).request({"op": "ping"}) == {"ok": True, "op": "pong"}
    assert TlsLines(serve.port, tls_context(certs)).request({"op": "ping"}) == {"ok": True, "op": "pong"}


def test_send_over_tls_verifies_the_name_and_a_mismatch_exits_3_naming_it(pfo3, queue, store, tmp_path, certs):
    serve = pfo3.serve(queue, config=tls_config(tmp_path, certs))
    pfo3.work(queue, store)
    ids = submit_ids(pfo3.send(serve.address, ["a", "b"], extra=["--tls", "--ca-file", str(certs.ca[0])]), 2)
    assert len(ids) == 2
    ok = pfo3.send(f"localhost:{serve.port}", ["c"], extra=["--ca-file", str(certs.ca[0])])
    assert ok.returncode == 0, ok.stderr
    r = pfo3.send(serve.address, ["x"], extra=["--ca-file", str(certs.ca[0]), "--server-name", "other.example"])
    assert r.returncode == 3
    assert 'not valid for the name "other.example"' in r.stderr
    r = pfo3.send(serve.address, ["x"], extra=["--tls"])  # the system's CAs do not know TestCA
    assert r.returncode == 3 and "cannot be verified" in r.stderr


def test_mutual_tls_maps_a_certificate_subject_to_scopes(pfo3, queue, tmp_path, certs):
    cfg = tls_config(tmp_path, certs, tls_extra=f'client_ca_file = "{certs.ca[0]}"\nclient_cert = "required"',
                     extra='[auth]\nmode = "mtls"\nfailure_delay_ms = 100\n[auth.clients]\n"CN=svc-client" = ["status"]')
    serve = pfo3.serve(queue, config=cfg)

    def refused(ctx):
        try:
            c = TlsLines(serve.port, ctx)
            return c.request({"op": "ping"}) is None  # TLS 1.3: the refusal arrives at the first read
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return True

    assert refused(tls_context(certs))                                 # no certificate
    assert refused(tls_context(certs, client=certs.foreign_client))     # another CA's
    c = TlsLines(serve.port, tls_context(certs, client=certs.client))
    assert c.request({"op": "status", "id": "nope"})["status"] == "pending"
    r = c.request({"type": "echo", "payload": 1})
    assert r["error"] == "forbidden" and "CN=svc-client" in r["message"]
    st = pfo3.run(["status", "--server", serve.address, "--ca-file", str(certs.ca[0]), "--cert-file",
                   str(certs.client[0]), "--key-file", str(certs.client[1]), "nope"])
    assert st.returncode == 0, st.stderr


def test_sighup_reloads_the_certificate_for_new_connections_and_keeps_open_ones(pfo3, queue, tmp_path, certs):
    live = (tmp_path / "live.pem", tmp_path / "live.key")
    shutil.copy(certs.server[0], live[0])
    shutil.copy(certs.server[1], live[1])
    serve = pfo3.serve(queue, config=tls_config(tmp_path, certs, cert=live))
    old = TlsLines(serve.port, tls_context(certs))
    first_cert = old.sock.getpeercert(binary_form=True)
    assert old.request({"op": "ping"})["ok"]

    rotated = certs.new_server("rotated")
    shutil.copy(rotated[0], live[0])
    shutil.copy(rotated[1], live[1])
    # Requests in flight on the open connection across the reload, answered in order after it.
    for i in range(50):
        old.send({"op": "status", "id": f"before-{i}"})
    serve.signal(signal.SIGHUP)
    for i in range(50):
        old.send({"op": "status", "id": f"after-{i}"})
    answers = [old.read() for _ in range(100)]
    assert [a["id"] for a in answers] == [f"before-{i}" for i in range(50)] + [f"after-{i}" for i in range(50)]
    assert {a["status"] for a in answers} == {"pending"}

    def new_cert_served():
        c = TlsLines(serve.port, tls_context(certs))
        seen = c.sock.getpeercert(binary_form=True)
        c.close()
        return seen != first_cert
    wait_until(new_cert_served, 20, "the rotated certificate on a new connection")
    # The connection opened before the reload still works, pipelined.
    old.send({"op": "ping"})
    old.send({"op": "status", "id": "x"})
    assert old.read() == {"ok": True, "op": "pong"} and old.read()["status"] == "pending"

    # A broken file keeps what is in use, and the log says why.
    live[0].write_text("not a certificate\n")
    serve.signal(signal.SIGHUP)
    wait_until(lambda: "TLS reload failed" in serve.stderr(), 20, "the failed reload in the log")
    assert TlsLines(serve.port, tls_context(certs)).request({"op": "ping"})["ok"]


def test_idle_tls_connections_are_closed_by_the_handshake_deadline_while_a_client_is_served(
        pfo3, queue, tmp_path, certs):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 1200:
        pytest.skip(f"needs 1200 descriptors, the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    serve = pfo3.serve(queue, config=tls_config(tmp_path, certs, tls_extra="handshake_timeout_ms = 2000"))
    idle = []
    try:
        for i in range(1000):
            s = socket.create_connection(("127.0.0.1", serve.port), timeout=30)
            if i % 2:
                s.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
            idle.append(s)
        started = time.monotonic()
        # A normal client is served while they hang.
        c = TlsLines(serve.port, tls_context(certs))
        assert c.request({"op": "ping"}) == {"ok": True, "op": "pong"}
        open_ = {s.fileno(): s for s in idle}
        while open_ and time.monotonic() - started < 60:
            ready, _, _ = select.select(list(open_), [], [], 1)
            for fd in ready:
                try:
                    data = open_[fd].recv(100)
                except ConnectionResetError:
                    data = b""
                assert data == b"", "an idle connection got bytes"
                del open_[fd]
        assert not open_, f"{len(open_)} idle connections still open after 60 s"
        # The normal connection is past its handshake: the deadline does not touch it.
        assert c.request({"op": "ping"}) == {"ok": True, "op": "pong"}
    finally:
        for s in idle:
            s.close()


def test_bench_runs_over_tls_with_a_token_and_polls_results_over_tls(pfo3, queue, store, tmp_path, certs):
    tokens = tmp_path / "tokens"
    made = pfo3.run(["token", "--tokens-file", str(tokens), "new", "bench", "--scopes", "submit,status"])
    token_file = write_file(tmp_path / "bench.token", made.stdout, 0o600)
    cfg = tls_config(tmp_path, certs, extra=f'[auth]\nmode = "token"\ntokens_file = "{tokens}"')
    serve = pfo3.serve(queue, config=cfg, env={"PFO3_STORE": f"file://{store}"})
    pfo3.work(queue, store, prefetch=50)
    out = tmp_path / "bench.json"
    r = pfo3.run(["bench", "--server", f"localhost:{serve.port}", "--tasks", "400", "--connections", "2",
                  "--window", "16", "--ca-file", str(certs.ca[0]), "--token-file", str(token_file),
                  "--json", str(out), "--results-timeout", "60"], timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(out.read_text())
    assert report["accepted"] == 400 and report["errors"] == {}
    assert report["end_to_end"]["stored"] == 400
    # Plaintext to the same port is refused, so the load really went over TLS.
    plain = pfo3.run(["bench", "--server", serve.address, "--tasks", "10", "--connections", "1",
                      "--token-file", str(token_file), "--no-results"], timeout=60)
    assert plain.returncode != 0


def test_shutdown_closes_connections_still_in_their_handshake_at_once(pfo3, queue, tmp_path, certs):
    serve = pfo3.serve(queue, config=tls_config(tmp_path, certs, tls_extra="handshake_timeout_ms = 120000"))
    idle = [socket.create_connection(("127.0.0.1", serve.port), timeout=30) for _ in range(3)]
    idle[0].sendall(b"\x16\x03\x01")
    assert TlsLines(serve.port, tls_context(certs)).request({"op": "ping"})["ok"]  # they were accepted
    started = time.monotonic()
    serve.signal(signal.SIGTERM)
    assert serve.wait_exit(timeout=30) == 0
    # Not held until the 120 s handshake deadline (nor the 10 s grace, which is for requests).
    assert time.monotonic() - started < 8
    for s in idle:
        s.close()
