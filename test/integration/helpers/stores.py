"""Result stores for the behavioural suite: a throwaway PostgreSQL database per test, and
reading results back through `pfo3 status` (the same for every store).

PostgreSQL: $PFO3_TEST_POSTGRES_URL names a role that may create databases (test/run starts a
cluster with test/services/postgres.sh and exports it, with $PFO3_TEST_POSTGRES_DIR).
"""
import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from helpers.processes import REPO, wait_until

POSTGRES_SH = REPO / "test" / "services" / "postgres.sh"
#: Statuses after which a task's record no longer changes.
FINAL = ("done", "dead")


def psql(url, sql, timeout=60):
    """Runs `sql` with psql against `url`; returns its output (unaligned, tuples only)."""
    r = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"psql {sql!r}: {r.stderr}"
    return r.stdout.strip()


def with_database(url, database):
    """`url` pointing at another database (the query, e.g. sslmode, is kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def with_password(url, password):
    """`url` with another password."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{password}@{host}"))


class PostgresDatabase:
    """A database of its own for one test, created from the admin URL and dropped at close()."""

    def __init__(self, admin_url):
        self.admin_url = admin_url
        self.name = "t_" + uuid.uuid4().hex[:16]
        self.create(admin_url, self.name)
        self.url = with_database(admin_url, self.name)

    @staticmethod
    def create(admin_url, name):
        psql(admin_url, f"CREATE DATABASE {name}")

    @staticmethod
    def drop(admin_url, name):
        psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def sql(self, query):
        return psql(self.url, query)

    def counts(self):
        """(rows, distinct ids) in pfo3_tasks."""
        rows, distinct = self.sql("SELECT count(*), count(DISTINCT id) FROM pfo3_tasks").split("|")
        return int(rows), int(distinct)

    def final_count(self):
        """Rows whose status is final; 0 while the table does not exist yet."""
        if self.sql("SELECT to_regclass('pfo3_tasks') IS NOT NULL") != "t":
            return 0
        return int(self.sql("SELECT count(*) FROM pfo3_tasks WHERE status IN ('done', 'dead')"))

    def close(self):
        self.drop(self.admin_url, self.name)


def postgres_outage(cluster_dir, action):
    """Stops (fast shutdown) or starts again the test cluster in `cluster_dir`."""
    assert action in ("stop", "start")
    r = subprocess.run([str(POSTGRES_SH), action, str(cluster_dir)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, f"postgres.sh {action}: {r.stderr}"


@contextlib.contextmanager
def postgres_frozen(cluster_dir):
    """The whole cluster stopped with SIGSTOP, then continued: the kernel still accepts
    connections and buffers queries, but nothing answers, like a server that hangs."""
    postmaster = int((Path(cluster_dir) / "data" / "postmaster.pid").read_text().split()[0])
    # The postmaster first, so that no backend forked meanwhile escapes the freeze.
    os.kill(postmaster, signal.SIGSTOP)
    stopped = [postmaster]
    try:
        for child in Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(child), signal.SIGSTOP)
                stopped.append(int(child))
        yield
    finally:
        for pid in reversed(stopped):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def unread_bytes_at_port(port):
    """Bytes that clients sent to 127.0.0.1:`port` and the server has not read (TCP receive
    queues from /proc/net/tcp, connections waiting in the accept queue included)."""
    total = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local_port = int(fields[1].split(":")[1], 16)
            rx_queue = int(fields[4].split(":")[1], 16)
            if local_port == port:
                total += rx_queue
    return total


def statuses(pfo3, server, ids, chunk=2000):
    """{id: status line} for `ids`, answered by serve from its store (`pfo3 status`)."""
    found = {}
    ids = list(ids)
    for at in range(0, len(ids), chunk):
        part = ids[at:at + chunk]
        r = pfo3.run(["status", "--server", server, *part], timeout=120)
        assert r.returncode == 0, f"status failed rc={r.returncode}: {r.stderr[-2000:]}"
        for line in r.stdout.splitlines():
            answer = json.loads(line)
            found[answer["id"]] = answer
        missing = set(part) - set(found)
        assert not missing, f"no status line for {sorted(missing)[:3]}"
    return found


def wait_final_statuses(pfo3, server, ids, timeout=120):
    """Polls `pfo3 status` until every id is final; returns {id: status line}."""
    pending = set(ids)
    final = {}

    def all_final():
        for task_id, answer in statuses(pfo3, server, sorted(pending)).items():
            if answer["status"] in FINAL:
                final[task_id] = answer
                pending.discard(task_id)
        return not pending

    try:
        wait_until(all_final, timeout, f"{len(ids)} final statuses")
    except AssertionError:
        example = sorted(pending)[0]
        raise AssertionError(f"{len(pending)} of {len(ids)} tasks not final after {timeout} s, "
                             f"e.g. {statuses(pfo3, server, [example])[example]}") from None
    return final


def count_lines(text, pattern):
    """How many lines of `text` match the regular expression `pattern`."""
    rx = re.compile(pattern)
    return sum(1 for line in text.splitlines() if rx.search(line))


def file_store_count(directory):
    """Records in a file store directory (temp files are not counted)."""
    return sum(1 for _ in Path(directory).glob("*.json"))


def sqlite_query(path, sql):
    """Rows of `sql` against the SQLite store at `path`, as a user of `sqlite3 FILE` would read
    them (a read-only connection of its own, beside the workers' and serve's)."""
    import sqlite3
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
        return db.execute(sql).fetchall()


class PacedSend:
    """`pfo3 send` fed from a thread at a steady pace, so a stream is still flowing while a test
    breaks something. The pace only shapes the load; nothing waits on it."""

    def __init__(self, pfo3, server, lines, chunk=100, pause_s=0.05):
        from helpers.processes import child_env
        self._out = open(pfo3.workdir / "paced-send.stdout", "w+")
        self._err = open(pfo3.workdir / "paced-send.stderr", "w+")
        self.proc = subprocess.Popen([pfo3.bin, "send", "--server", server], stdin=subprocess.PIPE,
                                     stdout=self._out, stderr=self._err, env=child_env(),
                                     cwd=pfo3.cwd, text=True)
        self._thread = threading.Thread(target=self._feed, args=(lines, chunk, pause_s), daemon=True)
        self._thread.start()

    def _feed(self, lines, chunk, pause_s):
        try:
            for at in range(0, len(lines), chunk):
                self.proc.stdin.write("".join(f"{line}\n" for line in lines[at:at + chunk]))
                self.proc.stdin.flush()
                time.sleep(pause_s)
        except BrokenPipeError:
            pass  # send died; finish() reports it
        finally:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass

    def finish(self, timeout=120):
        """Waits for send to exit; returns a CompletedProcess-like object for submit_ids."""
        self._thread.join(timeout)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"pfo3 send did not finish within {timeout} s") from None
        self._out.seek(0)
        self._err.seek(0)
        result = subprocess.CompletedProcess(self.proc.args, rc, self._out.read(), self._err.read())
        self._out.close()
        self._err.close()
        return result
