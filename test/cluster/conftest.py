"""Fixtures of the cluster stage (test/cluster/run starts the cluster and exports
PFO3_CLUSTER_DIR, PFO3_CLUSTER_SH and PFO3_CLUSTER_URLS): the nodes, kill/stop/start by number,
the leader and online members of a queue, and pfo3 roles with the integration suite's helpers."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

from helpers.clients import Broker, unique_queue  # noqa: E402
from helpers.processes import Pfo3  # noqa: E402


class Cluster:
    """The three nodes; node numbers are 1, 2, 3 (URL i is node i)."""

    def __init__(self):
        self.dir = os.environ["PFO3_CLUSTER_DIR"]
        self.sh = os.environ["PFO3_CLUSTER_SH"]
        self.urls = os.environ["PFO3_CLUSTER_URLS"].split(",")
        self.names = {n: self._run("name", str(n)).strip() for n in (1, 2, 3)}
        self.down = set()

    def _run(self, *args, timeout=300):
        r = subprocess.run([self.sh, args[0], self.dir, *args[1:]], capture_output=True, text=True,
                           timeout=timeout)
        assert r.returncode == 0, f"rabbitmq-cluster.sh {' '.join(args)}: {r.stderr}{r.stdout}"
        return r.stdout

    def ctl(self, *args, node=None):
        node = node or next(n for n in (1, 2, 3) if n not in self.down)
        return self._run("ctl", str(node), *args)

    def kill(self, n):
        """kill -9 of node n's beam.smp (not a graceful stop)."""
        self._run("kill", str(n))
        self.down.add(n)

    def stop(self, n):
        self._run("stop-node", str(n))
        self.down.add(n)

    def start(self, n):
        self._run("start-node", str(n))
        self.down.discard(n)

    def node_of(self, name):
        return next(n for n, full in self.names.items() if full == name)

    def queue(self, name):
        """(leader node number or None, members, online members) of a quorum queue."""
        out = self.ctl("-q", "list_queues", "--no-table-headers", "name", "leader", "members", "online")
        for line in out.splitlines():
            fields = line.split("\t")
            if fields[0] == name:
                parse = lambda s: [x.strip() for x in s.strip("[]").split(",") if x.strip()]  # noqa: E731
                leader = self.node_of(fields[1]) if fields[1] in self.names.values() else None
                return leader, parse(fields[2]), parse(fields[3])
        raise AssertionError(f"{name} not listed:\n{out}")

    def messages(self, name):
        """Messages (ready and unacked) of a queue."""
        out = self.ctl("-q", "list_queues", "--no-table-headers", "name", "messages")
        for line in out.splitlines():
            fields = line.split("\t")
            if fields[0] == name:
                return int(fields[1])
        raise AssertionError(f"{name} not listed:\n{out}")

    def restore(self):
        for n in sorted(self.down):
            self.start(n)


@pytest.fixture(scope="session")
def cluster():
    c = Cluster()
    yield c
    c.restore()


@pytest.fixture
def nodes(cluster):
    """The cluster, with every node this test took down started again at its end."""
    yield cluster
    cluster.restore()


@pytest.fixture
def queue(cluster):
    name = unique_queue()
    yield name
    Broker(next(u for i, u in enumerate(cluster.urls, 1) if i not in cluster.down)).delete_queues(
        [name, f"{name}.dead"])


@pytest.fixture
def pfo3(tmp_path, cluster):
    p = Pfo3(tmp_path, cluster.urls[0])
    yield p
    p.close()


def config(tmp_path, name, urls, extra=""):
    """A config listing `urls` (tried in that order) with quorum queues."""
    quoted = ", ".join(f'"{u}"' for u in urls)
    path = tmp_path / f"{name}.toml"
    path.write_text(f"""
[amqp]
urls = [{quoted}]
failover = "in-order"
queue_type = "quorum"
delivery_limit = 3
connect_timeout_ms = 2000
heartbeat_s = 10
{extra}
""")
    return path


def rotated(urls, first):
    """The URLs starting at node `first` (1-based)."""
    return urls[first - 1:] + urls[:first - 1]
