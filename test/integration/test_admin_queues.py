"""`pfo3 admin queues` (issue 15, decision 0013): pfo3's queues as the broker's management API
reports them (type, arguments, leader, members), against what the configuration declares.
A private single node with the plugin rabbitmq_management; the cluster stage checks three
members. Ports: $PFO3_TEST_MANAGEMENT_PORTS ("AMQP,MANAGEMENT"), default 5798,15798."""
import os
import shutil
import subprocess
import tempfile

import pytest

from helpers.clients import RawClient, unique_queue
from helpers.processes import RABBITMQ_SH, Pfo3, free_port, write_file

AMQP_PORT, MANAGEMENT_PORT = (int(p) for p in os.environ.get("PFO3_TEST_MANAGEMENT_PORTS", "5798,15798").split(","))
AMQP_URL = f"amqp://guest:guest@127.0.0.1:{AMQP_PORT}/%2f"
MANAGEMENT_URL = f"http://127.0.0.1:{MANAGEMENT_PORT}"


@pytest.fixture(scope="module")
def managed_broker():
    data_dir = tempfile.mkdtemp(prefix="pfo3-itest-management-")
    conf = f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {MANAGEMENT_PORT}"
    env = dict(os.environ, PFO3_RABBITMQ_EXTRA_CONF=conf, PFO3_RABBITMQ_PLUGINS="rabbitmq_management")
    subprocess.run([str(RABBITMQ_SH), "start", data_dir, str(AMQP_PORT)], check=True, timeout=600, env=env)
    try:
        yield data_dir
    finally:
        subprocess.run([str(RABBITMQ_SH), "stop", data_dir], timeout=120)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def roles(tmp_path, managed_broker):
    p = Pfo3(tmp_path, AMQP_URL)
    yield p
    p.close()


def admin_queues(roles, queue, config=None, management=(MANAGEMENT_URL,)):
    args = (["--config", str(config)] if config else []) + ["admin", "queues", "--amqp", AMQP_URL, "--queue", queue]
    for m in management:
        args += ["--management", m]
    return roles.run(args, timeout=120)


def quorum_config(tmp_path, limit=3):
    return write_file(tmp_path / "quorum.toml", f"""
[amqp]
queue_type = "quorum"
quorum_group_size = 1
delivery_limit = {limit}
""")


def test_queues_as_declared_are_listed_with_type_leader_and_members(roles, tmp_path):
    classic, quorum = unique_queue(), unique_queue()
    roles.serve(classic, amqp=AMQP_URL)
    serve = roles.serve(quorum, amqp=AMQP_URL, config=quorum_config(tmp_path))
    # A delayed task makes serve declare a level of the delay ladder, named after the queue.
    r = RawClient(serve.port).request({"id": "later", "type": "echo", "payload": 1, "delay_s": 30})
    assert r["ok"] is True, r

    out = admin_queues(roles, classic)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[2:] if line.strip()}
    assert lines[classic].split()[1:3] == ["task", "classic"] and "as expected" in lines[classic], out.stdout
    assert lines[f"{classic}.dead"].split()[1:3] == ["dead", "classic"], out.stdout

    out = admin_queues(roles, quorum, config=quorum_config(tmp_path))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[2:] if line.strip()}
    node = f"pfo3test{AMQP_PORT}@localhost"
    assert lines[quorum].split()[1:4] == ["task", "quorum", node], out.stdout
    assert f"1/1: {node}" in lines[quorum], out.stdout
    ladder = [name for name in lines if name.startswith(f"{quorum}.delay.")]
    # Under a quorum config the ladder is quorum too, named .delay.quorum.<ms> (decision 0012).
    assert ladder and all(n.startswith(f"{quorum}.delay.quorum.") for n in ladder), out.stdout
    assert ladder and all(lines[n].split()[1:3] == ["delay", "quorum"] and "as expected" in lines[n]
                          for n in ladder), out.stdout


def test_differing_arguments_and_a_missing_queue_exit_1_naming_each(roles, tmp_path):
    quorum = unique_queue()
    roles.serve(quorum, amqp=AMQP_URL, config=quorum_config(tmp_path, limit=3))
    out = admin_queues(roles, quorum, config=quorum_config(tmp_path, limit=5))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "x-delivery-limit: expected 5, actual 3" in out.stdout, out.stdout
    assert "DIFFERENT" in out.stdout
    out = admin_queues(roles, quorum)  # the classic default config
    assert out.returncode == 1
    assert "type: expected classic, actual quorum" in out.stdout, out.stdout
    out = admin_queues(roles, unique_queue())
    assert out.returncode == 1
    assert out.stdout.count("MISSING") == 2 and "missing: serve and work declare it" in out.stdout, out.stdout


def test_no_management_api_exits_3_and_says_what_to_enable(roles):
    out = admin_queues(roles, "tareas", management=(f"http://127.0.0.1:{free_port()}",))
    assert out.returncode == 3, out.stdout + out.stderr
    assert "rabbitmq-plugins enable rabbitmq_management" in out.stderr, out.stderr


def test_a_password_in_the_management_url_is_refused(roles):
    out = admin_queues(roles, "tareas", management=("http://monitor:Secret-Pw@127.0.0.1:1",))
    assert out.returncode == 2, out.stdout + out.stderr
    assert "PFO3_MANAGEMENT_PASSWORD" in out.stderr and "Secret-Pw" not in out.stderr, out.stderr
