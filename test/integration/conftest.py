"""Fixtures of the integration suite: one RabbitMQ for the session, and per test its own queue,
result directory, free ports and pfo3 processes (all stopped and deleted at the end).

The broker: $PFO3_TEST_AMQP_URL (test/run exports it, with $PFO3_TEST_RABBITMQ_DIR), else a
private node started here with test/services/rabbitmq.sh on port 5790 and stopped at the end.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import retries  # noqa: E402
from helpers.clients import Broker, RawClient, unique_queue  # noqa: E402
from helpers.processes import RABBITMQ_SH, Pfo3, rabbitmqctl  # noqa: E402

OWN_NODE_PORT = 5790


def pytest_configure(config):
    # test/run leaves these out of the AddressSanitizer stage (-m "not scale"): they prove
    # behaviour at the issues' volumes (100 000 and 10 000 tasks), which the release stage
    # covers; under ASan they would take several minutes each and measure ASan's memory.
    config.addinivalue_line("markers", "scale: a test at the issues' full volume; release stage only")


@pytest.fixture(scope="session")
def rabbitmq():
    """(amqp_url, data_dir or None). data_dir is None for an external broker we may not stop."""
    url = os.environ.get("PFO3_TEST_AMQP_URL")
    if url:
        data_dir = os.environ.get("PFO3_TEST_RABBITMQ_DIR") or None
        yield url, data_dir
        if data_dir:
            delete_leftover_queues(url, data_dir)
        return
    data_dir = tempfile.mkdtemp(prefix="pfo3-itest-rabbit-")
    subprocess.run([str(RABBITMQ_SH), "start", data_dir, str(OWN_NODE_PORT)], check=True,
                   timeout=600)
    try:
        yield f"amqp://guest:guest@127.0.0.1:{OWN_NODE_PORT}/%2f", data_dir
    finally:
        subprocess.run([str(RABBITMQ_SH), "stop", data_dir], timeout=120)
        shutil.rmtree(data_dir, ignore_errors=True)


def delete_leftover_queues(url, data_dir):
    """Deletes test queues the per-test clean-up did not know of (e.g. retry queues)."""
    names = rabbitmqctl(data_dir, "-q", "list_queues", "--no-table-headers", "name").split()
    leftovers = [n for n in names if n.startswith("t_")]
    if leftovers:
        Broker(url).delete_queues(leftovers)


@pytest.fixture(scope="session")
def amqp_url(rabbitmq):
    return rabbitmq[0]


@pytest.fixture(scope="session")
def rabbitmq_dir(rabbitmq):
    """The data dir of a broker this suite may stop and start; skips the test when there is none."""
    if rabbitmq[1] is None:
        pytest.skip("needs PFO3_TEST_RABBITMQ_DIR (a private broker) for rabbitmqctl")
    return rabbitmq[1]


@pytest.fixture(scope="session")
def broker(amqp_url):
    return Broker(amqp_url)


@pytest.fixture
def new_queue(broker):
    """Makes unique queue names; deletes them, their dead-letter queues and delay ladders at the end."""
    made = []

    def make():
        name = unique_queue()
        made.append(name)
        return name

    yield make
    names = []
    for q in made:
        names += [q, f"{q}.dead"]
    broker.delete_queues(names)
    # The delay ladder's queues and exchanges (retries and delayed tasks, decision 0012).
    ladder = [name for q in made for name in retries.ladder_names(q)]
    broker.delete_queues(ladder)
    broker.delete_exchanges(ladder)


@pytest.fixture
def queue(new_queue):
    """This test's task queue."""
    return new_queue()


@pytest.fixture
def store(tmp_path):
    """This test's result directory (file store)."""
    d = tmp_path / "results"
    d.mkdir()
    return d


@pytest.fixture
def pfo3(tmp_path, amqp_url):
    """Starts pfo3 roles (serve, work) and runs commands (send, status); stops all at the end."""
    p = Pfo3(tmp_path, amqp_url)
    yield p
    p.close()


@pytest.fixture
def raw_client():
    """Opens raw protocol connections: raw_client(port) -> RawClient; all closed at the end."""
    opened = []

    def connect(port, **kw):
        c = RawClient(port, **kw)
        opened.append(c)
        return c

    yield connect
    for c in opened:
        c.close()
