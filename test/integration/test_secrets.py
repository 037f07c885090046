"""Secrets stay out of `ps`, logs and handlers; any received message can be dead-lettered.

- A broker password from `[amqp] password_file` / $PFO3_AMQP_PASSWORD_FILE (a RabbitMQ user of
  its own whose password holds `/?#@`): serve and work connect with a URL that has none, a task
  goes through end to end, and the password is neither in /proc/PID/cmdline nor in a log.
- A store password from $PFO3_STORE_PASSWORD_FILE for PostgreSQL (skipped without
  $PFO3_TEST_POSTGRES_URL).
- Bad password files are configuration errors naming the key and the path, never the content.
- A message whose `type` does not fit the AMQP `type` property (over 255 bytes) is stored dead,
  lands in `<queue>.dead` with its full body, and the worker goes on with the next task.
"""
import json
import os
import subprocess
import uuid
from urllib.parse import quote, urlsplit

import pika
import pytest

from helpers.processes import REPO, rabbitmqctl, submit_ids, wait_for_results, write_file
from helpers.stores import wait_final_statuses

POSTGRES_SH = REPO / "test" / "services" / "postgres.sh"
#: Every character that breaks naive URL parsing, raw in the file.
SPECIAL = "/?#@"


def secret():
    """A password no other text in a log could contain by chance."""
    return f"Pw{SPECIAL}{uuid.uuid4().hex[:10]}:x"


def forms(password):
    """How a password could show up: raw, percent-encoded, or its distinctive tail alone."""
    return {password, quote(password, safe=""), password[len("Pw" + SPECIAL):]}


def assert_absent(password, text, where):
    for form in forms(password):
        assert form not in text, f"the password shows in {where}"


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode(errors="replace")


@pytest.fixture
def broker_user(rabbitmq_dir, amqp_url):
    """(user, password, URL without password) of a RabbitMQ user made for this test."""
    user = "u_" + uuid.uuid4().hex[:10]
    password = secret()
    rabbitmqctl(rabbitmq_dir, "add_user", user, password)
    try:
        rabbitmqctl(rabbitmq_dir, "set_permissions", "-p", "/", user, ".*", ".*", ".*")
        netloc = urlsplit(amqp_url).netloc.rsplit("@", 1)[-1]
        yield user, password, f"amqp://{user}@{netloc}/%2f"
    finally:
        rabbitmqctl(rabbitmq_dir, "delete_user", user)


def test_broker_password_from_a_file_never_shows_in_ps_or_logs(pfo3, queue, store, tmp_path, broker_user):
    user, password, url = broker_user
    pw_file = write_file(tmp_path / "amqp.pw", password + "\n", mode=0o600)
    config = write_file(tmp_path / "pfo3.toml", f'[amqp]\npassword_file = "{pw_file}"\n')
    # One role reads the key from its config file, the other from the environment.
    serve = pfo3.serve(queue=queue, amqp=url, config=config)
    work = pfo3.work(queue=queue, store=store, amqp=url, env={"PFO3_AMQP_PASSWORD_FILE": str(pw_file)})

    ids = submit_ids(pfo3.send(server=serve.address, json_mode=True, tasks=['{"type":"sum","payload":[2,3]}']), 1)
    records = wait_for_results(store, ids)
    assert records[ids[0]]["status"] == "done" and records[ids[0]]["result"] == 5

    for d in (serve, work):
        line = cmdline(d.pid)
        assert user in line, "the URL given is on the command line"
        assert_absent(password, line, f"/proc/{d.pid}/cmdline of {d.name}")
    assert serve.terminate() == 0 and work.terminate() == 0
    for d in (serve, work):
        log = d.stderr()
        assert "amqp://" + user + ":***@" in log, f"{d.name} logs the broker URL masked"
        assert "password_file" not in log, f"a 0600 file and a URL without password: no warning\n{log}"
        assert_absent(password, log, f"the log of {d.name}")


def test_the_file_wins_over_a_password_in_the_url_and_a_loose_file_is_warned_of(
        pfo3, queue, store, tmp_path, broker_user):
    user, password, url = broker_user
    pw_file = write_file(tmp_path / "amqp.pw", password + "\nsecond line ignored\n", mode=0o644)
    wrong = url.replace(f"{user}@", f"{user}:wrong-{uuid.uuid4().hex[:6]}@")
    work = pfo3.work(queue=queue, store=store, amqp=wrong, env={"PFO3_AMQP_PASSWORD_FILE": str(pw_file)})

    assert work.terminate() == 0
    log = work.stderr()
    assert "amqp.password_file" in log and "replaces the password in the URL" in log, log
    assert "group or others may read the password file" in log and str(pw_file) in log, log
    assert_absent(password, log, "the log")
    assert "second line ignored" not in log


@pytest.mark.parametrize("content, mode, problem", [
    (None, None, "cannot read"),            # no such file
    ("", 0o600, "is empty"),
    ("\nsecond-line-secret\n", 0o600, "is empty"),
    ("dir", None, "cannot read"),           # a directory
])
def test_a_bad_password_file_is_a_config_error_naming_key_and_path(pfo3, tmp_path, content, mode, problem):
    path = tmp_path / "pw"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        write_file(path, content, mode=mode)
    for role, env in [("work", {"PFO3_AMQP_PASSWORD_FILE": str(path)}),
                      ("serve", {"PFO3_AMQP_PASSWORD_FILE": str(path)}),
                      ("dead", {"PFO3_AMQP_PASSWORD_FILE": str(path)})]:
        args = [role, "--direct", "list"] if role == "dead" else [role]  # the broker password: --direct only
        r = pfo3.run(args, env=dict(env, PFO3_AMQP_URL="amqp://someone@127.0.0.1:1/%2f",
                                    PFO3_STORE=f"file://{tmp_path}/results"), timeout=20)
        assert r.returncode == 2, f"{role}: rc={r.returncode} {r.stderr}"
        assert "amqp.password_file" in r.stderr and str(path) in r.stderr and problem in r.stderr, r.stderr
        assert "second-line-secret" not in r.stderr


def superuser_sql(sql):
    """Runs `sql` as the cluster's superuser (test/services/postgres.sh psql)."""
    r = subprocess.run([str(POSTGRES_SH), "psql", os.environ["PFO3_TEST_POSTGRES_DIR"], "-d", "postgres",
                        "-c", sql], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"{sql}: {r.stderr}"


def test_store_password_from_a_file_reaches_postgresql(pfo3, queue, tmp_path):
    admin = os.environ.get("PFO3_TEST_POSTGRES_URL")
    if not admin or not os.environ.get("PFO3_TEST_POSTGRES_DIR"):
        pytest.skip("needs PFO3_TEST_POSTGRES_URL and _DIR (test/run starts a PostgreSQL)")
    role = "r_" + uuid.uuid4().hex[:10]
    password = secret()
    superuser_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        superuser_sql(f"CREATE DATABASE {role} OWNER {role}")
        url = f"postgresql://{role}@{urlsplit(admin).netloc.rsplit('@', 1)[-1]}/{role}"
        pw_file = write_file(tmp_path / "store.pw", password + "\n", mode=0o600)
        env = {"PFO3_STORE": url, "PFO3_STORE_PASSWORD_FILE": str(pw_file)}
        serve = pfo3.serve(queue=queue, env=env)
        work = pfo3.work(queue=queue, env=env)
        ids = submit_ids(pfo3.send(server=serve.address, tasks=['7']), 1)
        assert wait_final_statuses(pfo3, serve.address, ids)[ids[0]]["status"] == "done"
        for d in (serve, work):
            assert_absent(password, cmdline(d.pid), f"/proc/{d.pid}/cmdline of {d.name}")
        assert serve.terminate() == 0 and work.terminate() == 0
        for d in (serve, work):
            assert_absent(password, d.stderr(), f"the log of {d.name}")
    finally:
        pfo3.close()
        superuser_sql(f"DROP DATABASE IF EXISTS {role} WITH (FORCE)")
        superuser_sql(f"DROP ROLE {role}")


def test_a_type_too_long_for_the_amqp_property_is_dead_lettered_and_the_worker_moves_on(
        pfo3, queue, store, broker):
    pfo3.work(queue=queue, store=store, prefetch=1, concurrency=1)
    long_type = "t" * 150 + "é" * 75  # 300 bytes, 255 falls inside a character
    body = json.dumps({"id": "x1", "type": long_type, "payload": 1}, ensure_ascii=False,
                      separators=(",", ":")).encode()
    props = pika.BasicProperties(message_id="x1", delivery_mode=2, content_type="application/json")
    broker.publish(queue, body, props)
    broker.publish(queue, b'{"id":"x2","type":"echo","payload":2}', props)

    records = wait_for_results(store, ["x1", "x2"], timeout=60)
    assert records["x1"]["status"] == "dead" and long_type in records["x1"]["error"]
    assert records["x2"]["status"] == "done" and records["x2"]["result"] == 2
    [(dead_props, dead_body)] = broker.get_messages(f"{queue}.dead", 1)
    letter = json.loads(dead_body)
    assert letter["id"] == "x1" and letter["type"] == long_type, "the body keeps the full type"
    assert len(dead_props.type.encode()) <= 255 and long_type.startswith(dead_props.type)
