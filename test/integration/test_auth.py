"""Tokens and scopes on the client port; nothing open by default (issue 13, docs/security.md).
The real binary, real sockets and a real broker: serve with [auth], clients with and without
tokens, the teaching client from a trusted address."""
import json
import stat
import time

import pytest

from helpers.processes import free_port, submit_ids, wait_for_results, write_file
from test_teaching_compat import run_teaching

DELAY_MS = 400


def make_token(pfo3, tokens_file, name, scopes):
    r = pfo3.run(["token", "--tokens-file", str(tokens_file), "new", name, "--scopes", scopes])
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert token.startswith("pfo3_") and len(token) == 48
    return token


def auth_config(tmp_path, tokens_file, extra=""):
    return write_file(tmp_path / "auth.toml", f"""
[auth]
mode = "token"
tokens_file = "{tokens_file}"
failure_delay_ms = {DELAY_MS}
max_failures = 3
{extra}
""")


@pytest.fixture
def tokens(pfo3, tmp_path):
    """A tokens file with alice (submit,status), sub (submit only) and ops (admin)."""
    f = tmp_path / "tokens"
    made = {name: make_token(pfo3, f, name, scopes)
            for name, scopes in [("alice", "submit,status"), ("sub", "submit"), ("ops", "admin")]}
    return f, made


def test_token_new_prints_the_token_once_and_stores_only_its_hash_in_a_0600_file(pfo3, tokens):
    f, made = tokens
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    text = f.read_text()
    for token in made.values():
        assert token not in text and token[5:] not in text
    assert [line.split()[:2] for line in text.splitlines()] == [
        ["alice", "submit,status"], ["sub", "submit"], ["ops", "admin"]]
    listed = pfo3.run(["token", "--tokens-file", str(f), "list"])
    assert listed.returncode == 0 and listed.stdout == "alice\tsubmit,status\nsub\tsubmit\nops\tadmin\n"
    again = pfo3.run(["token", "--tokens-file", str(f), "new", "alice", "--scopes", "status"])
    assert again.returncode == 2 and "already has a token" in again.stderr
    assert pfo3.run(["token", "--tokens-file", str(f), "revoke", "sub"]).returncode == 0
    assert pfo3.run(["token", "--tokens-file", str(f), "revoke", "sub"]).returncode == 1
    assert [line.split()[0] for line in f.read_text().splitlines()] == ["alice", "ops"]


def test_missing_and_wrong_tokens_are_answered_late_then_the_connection_closes(
        pfo3, queue, tokens, tmp_path, raw_client):
    f, made = tokens
    serve = pfo3.serve(queue, config=auth_config(tmp_path, f))
    c = raw_client(serve.port)
    assert c.request({"op": "ping"}) == {"ok": True, "op": "pong"}
    started = time.monotonic()
    r = c.request({"type": "echo", "payload": 1, "id": "no-token"})
    assert time.monotonic() - started >= DELAY_MS / 1000 * 0.9
    assert r["ok"] is False and r["error"] == "unauthorized" and r["id"] == "no-token"
    started = time.monotonic()
    r = c.request({"op": "auth", "token": "pfo3_" + "A" * 43})
    assert time.monotonic() - started >= DELAY_MS / 1000 * 0.9
    assert r["error"] == "unauthorized"
    r = c.request({"op": "status", "id": "x", "token": made["alice"] + "x"})
    assert r["error"] == "unauthorized"
    # The third failure was the last: nothing more is read, the connection closes.
    c.send({"op": "ping"})
    assert c.read(timeout=10) is None
    assert made["alice"] not in serve.stderr()


def test_a_token_authenticates_the_connection_and_its_scopes_limit_it(pfo3, queue, store, tokens, tmp_path,
                                                                   raw_client):
    f, made = tokens
    serve = pfo3.serve(queue, config=auth_config(tmp_path, f), env={"PFO3_STORE": f"file://{store}"})
    pfo3.work(queue, store)
    c = raw_client(serve.port)
    assert c.request({"op": "auth", "token": made["alice"]}) == {
        "ok": True, "op": "auth", "principal": "alice", "scopes": ["submit", "status"]}
    assert c.request({"type": "echo", "payload": "hi", "id": "auth-1"})["status"] == "queued"
    wait_for_results(store, ["auth-1"])
    assert c.request({"op": "status", "id": "auth-1"})["status"] == "done"

    s = raw_client(serve.port)
    assert s.request({"op": "auth", "token": made["sub"]})["scopes"] == ["submit"]
    assert s.request({"type": "echo", "payload": 2, "id": "auth-2"})["status"] == "queued"
    r = s.request({"op": "status", "id": "auth-1"})
    assert r["error"] == "forbidden" and "needs scope \"status\"" in r["message"]
    # cancel changes another client's task: admin only.
    r = c.request({"op": "cancel", "id": "auth-1"})
    assert r["error"] == "forbidden" and "needs scope \"admin\"" in r["message"], r
    o = raw_client(serve.port)
    assert o.request({"op": "auth", "token": made["ops"]})["principal"] == "ops"
    assert o.request({"type": "echo", "payload": 3})["error"] == "forbidden"
    assert o.request({"op": "cancel", "id": "auth-1"})["error"] == "too_late"  # admitted: auth-1 is done
    log = serve.stderr()
    assert "principal=alice" in log or '"principal":"alice"' in log
    for token in made.values():
        assert token not in log


def test_a_request_may_carry_its_own_token(pfo3, queue, tokens, tmp_path, raw_client):
    f, made = tokens
    serve = pfo3.serve(queue, config=auth_config(tmp_path, f))
    c = raw_client(serve.port)
    r = c.request({"type": "echo", "payload": 1, "id": "own-1", "token": made["sub"]})
    assert r == {"ok": True, "id": "own-1", "status": "queued"}
    # It counted for that request only.
    assert c.request({"op": "status", "id": "own-1"})["error"] == "unauthorized"
    assert c.request({"op": "status", "id": "own-1", "token": made["alice"]})["ok"] is True


def test_send_and_status_authenticate_with_a_token_file_or_pfo3_token(pfo3, queue, store, tokens, tmp_path):
    f, made = tokens
    # At trace level too, the log names principals and never holds a token.
    serve = pfo3.serve(queue, config=auth_config(tmp_path, f), env={"PFO3_STORE": f"file://{store}"},
                       extra=["--log-level", "trace"])
    pfo3.work(queue, store)
    token_file = write_file(tmp_path / "alice.token", made["alice"] + "\n", 0o600)
    ids = submit_ids(pfo3.send(serve.address, ["a", "b"], extra=["--token-file", str(token_file)]), 2)
    ids += submit_ids(pfo3.send(serve.address, ["c"], env={"PFO3_TOKEN": made["alice"]}), 1)
    wait_for_results(store, ids)
    st = pfo3.run(["status", "--server", serve.address, "--token-file", str(token_file)] + ids)
    assert st.returncode == 0, st.stderr
    assert [json.loads(line)["status"] for line in st.stdout.splitlines()] == ["done"] * 3

    wrong = write_file(tmp_path / "wrong.token", "pfo3_wrong\n", 0o600)
    r = pfo3.send(serve.address, ["x"], extra=["--token-file", str(wrong)])
    assert r.returncode == 2 and "refused the token: unauthorized" in r.stderr
    assert "pfo3_wrong" not in r.stderr
    r = pfo3.send(serve.address, ["x"])
    assert r.returncode != 0 and "error: unauthorized" in r.stderr
    log = serve.stderr()
    assert "principal=alice" in log
    for token in made.values():
        assert token not in log and token[5:] not in log


def test_the_teaching_client_works_unchanged_from_anonymous_from(pfo3, queue, store, tokens, tmp_path):
    f, _ = tokens
    cfg = auth_config(tmp_path, f, 'anonymous_from = ["127.0.0.0/8"]\nanonymous_scopes = ["submit"]')
    serve = pfo3.serve(queue, config=cfg)
    pfo3.work(queue, store)
    lines = run_teaching("cliente_tareas.py", "127.0.0.1", serve.port, "t-1:sumar:[1,2,3]")
    assert [json.loads(line) for line in lines] == [{"ok": True, "id": "t-1", "status": "queued"}]
    assert wait_for_results(store, ["t-1"])["t-1"]["result"] == 6
    st = pfo3.run(["status", "--server", serve.address, "t-1"])
    assert "error: forbidden" in st.stderr


def test_serve_refuses_to_listen_beyond_loopback_without_auth(pfo3, queue, tmp_path):
    port = free_port()
    r = pfo3.run(["serve", "--listen", f"0.0.0.0:{port}", "--amqp", pfo3.amqp_url, "--queue", queue],
                 timeout=30)
    assert r.returncode == 2
    assert "allow_anonymous_network = true" in r.stderr and 'mode = "token"' in r.stderr
    cfg = write_file(tmp_path / "open.toml", "[auth]\nallow_anonymous_network = true\n")
    serve = pfo3._daemon("serve", ["--config", str(cfg), "serve", "--listen", f"0.0.0.0:{port}", "--amqp",
                                   pfo3.amqp_url, "--queue", queue],
                         {"PFO3_STORE": f"file://{tmp_path / 'serve-store'}"})
    serve.wait_notified()


def test_sighup_reloads_the_tokens_file_for_new_connections(pfo3, queue, tokens, tmp_path, raw_client):
    import signal
    from helpers.processes import wait_until
    f, made = tokens
    serve = pfo3.serve(queue, config=auth_config(tmp_path, f))
    kept = raw_client(serve.port)
    assert kept.request({"op": "auth", "token": made["alice"]})["principal"] == "alice"
    late = make_token(pfo3, f, "late", "status")
    assert pfo3.run(["token", "--tokens-file", str(f), "revoke", "alice"]).returncode == 0
    serve.signal(signal.SIGHUP)

    def late_accepted():
        return raw_client(serve.port).request({"op": "auth", "token": late}).get("ok") is True
    wait_until(late_accepted, 30, "the token made after start to be accepted")
    assert raw_client(serve.port).request({"op": "auth", "token": made["alice"]})["error"] == "unauthorized"
    # The connection authenticated before the reload keeps its principal.
    assert kept.request({"type": "echo", "payload": 1, "id": "kept-1"})["status"] == "queued"
    # A broken tokens file keeps the tokens in use.
    f.write_text("broken line\n")
    serve.signal(signal.SIGHUP)
    wait_until(lambda: "tokens reload failed" in serve.stderr(), 30, "the failed reload in the log")
    assert raw_client(serve.port).request({"op": "auth", "token": late})["principal"] == "late"
