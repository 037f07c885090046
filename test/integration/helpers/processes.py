"""Running the real pfo3 binary: daemons awaited through sd_notify, one-shot commands, results.

Every wait here is on an event (a READY=1 datagram, a process exit, a file appearing) with a
deadline; the short poll intervals only bound how late an event is noticed.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

#: Deadline for a daemon to become ready or to exit.
READY_DEADLINE_S = 30.0
#: How often deadline loops look at their condition.
POLL_S = 0.02

REPO = Path(__file__).resolve().parents[3]
RABBITMQ_SH = REPO / "test" / "services" / "rabbitmq.sh"


def pfo3_bin():
    """The binary under test: $PFO3_BIN, else the lead's or this suite's build."""
    explicit = os.environ.get("PFO3_BIN")
    if explicit:
        return explicit
    for build in ("build", "build-itest"):
        candidate = REPO / build / "app" / "pfo3"
        if candidate.is_file():
            return str(candidate)
    raise RuntimeError("pfo3 binary not found: set PFO3_BIN")


def free_port():
    """A TCP port that was free a moment ago (the kernel picks it; the tiny race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(extra=None):
    """The environment of a child: ours without any PFO3_* or NOTIFY_SOCKET, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PFO3_") and k != "NOTIFY_SOCKET"}
    env.update(extra or {})
    return env


def wait_until(condition, timeout, what, every=None):
    """Polls `condition` (every POLL_S, or `every` seconds) until it returns a truthy value,
    which is returned; fails at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(POLL_S if every is None else every)


def rss_kib(pid):
    """VmRSS of a process, in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


#: Lines a sanitizer build (-DPFO3_SANITIZE=ON) prints when it finds a bug.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def check_sanitizers(what, stderr):
    """Fails if a sanitizer reported a bug in `stderr`."""
    for marker in SANITIZER_MARKERS:
        at = stderr.find(marker)
        if at >= 0:
            raise AssertionError(f"sanitizer report from {what}:\n{stderr[max(0, at - 200):at + 3000]}")


class Daemon:
    """A long-running pfo3 role (serve or work) with its own sd_notify socket and log files."""

    def __init__(self, name, args, env, cwd, log_dir):
        self.name = name
        self.args = args
        # AF_UNIX paths are limited to 108 bytes: keep the socket in a short /tmp directory.
        self._sock_dir = tempfile.mkdtemp(prefix="pfo3n-", dir="/tmp")
        sock_path = os.path.join(self._sock_dir, "notify")
        self._notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._notify.bind(sock_path)
        self.notifications = []  # every line received, in order
        self.stdout_path = Path(log_dir) / f"{name}.stdout"
        self.stderr_path = Path(log_dir) / f"{name}.stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                args, env=dict(env, NOTIFY_SOCKET=sock_path), cwd=cwd,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err)

    @property
    def pid(self):
        return self.proc.pid

    def stderr(self):
        """Everything the daemon logged so far."""
        return self.stderr_path.read_text(errors="replace")

    def _describe(self):
        return (f"{self.name} ({' '.join(self.args)}) rc={self.proc.poll()}\n"
                f"--- stderr (tail) ---\n{self.stderr()[-4000:]}")

    def wait_notified(self, state="READY=1", timeout=READY_DEADLINE_S):
        """Waits for a notification line `state`; fails if the daemon exits first."""
        deadline = time.monotonic() + timeout
        while state not in self.notifications:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {state} within {timeout} s from {self._describe()}")
            if self.proc.poll() is not None:
                self._drain_notifications()
                if state in self.notifications:
                    break
                raise AssertionError(f"exited before {state}: {self._describe()}")
            self._notify.settimeout(min(0.2, remaining))
            try:
                data = self._notify.recv(4096)
            except socket.timeout:
                continue
            self.notifications.extend(data.decode(errors="replace").splitlines())
        return self

    def _drain_notifications(self):
        self._notify.setblocking(False)
        try:
            while True:
                self.notifications.extend(self._notify.recv(4096).decode(errors="replace").splitlines())
        except (BlockingIOError, socket.timeout):
            pass
        finally:
            self._notify.setblocking(True)

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=READY_DEADLINE_S):
        """Waits for the daemon to exit; returns its exit status (fails at the deadline)."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"did not exit within {timeout} s: {self._describe()}") from None
        self._drain_notifications()
        return rc

    def terminate(self, timeout=READY_DEADLINE_S):
        """SIGTERM, then the exit status."""
        self.signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def close(self):
        """Teardown: stop the daemon if still running (SIGTERM, then SIGKILL), free the socket."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._notify.close()
        shutil.rmtree(self._sock_dir, ignore_errors=True)
        check_sanitizers(self.name, self.stderr())


class Pfo3:
    """Starts pfo3 roles for one test and stops them all at its end."""

    def __init__(self, workdir, amqp_url):
        self.workdir = Path(workdir)
        self.amqp_url = amqp_url
        self.bin = pfo3_bin()
        self.daemons = []
        self._count = 0
        # Children run here so a stray ./pfo3.toml elsewhere is never picked up.
        self.cwd = self.workdir / "cwd"
        self.cwd.mkdir(exist_ok=True)

    def _daemon(self, role, args, env):
        self._count += 1
        d = Daemon(f"{role}{self._count}", [self.bin] + args, child_env(env), self.cwd, self.workdir)
        self.daemons.append(d)
        return d

    def serve(self, queue=None, port=None, config=None, env=None, amqp=None, extra=(),
              ready=True, http=True):
        """Starts `pfo3 serve` on 127.0.0.1:port (a free one by default); waits for READY=1.
        Its HTTP endpoints listen on a free port (`.http_port`), unless http=False: then
        [http] listen comes from the config (default 127.0.0.1:5080)."""
        port = port or free_port()
        args = []
        if config:
            args += ["--config", str(config)]
        args += ["serve", "--listen", f"127.0.0.1:{port}"]
        http_port = free_port() if http else None
        if http_port:
            args += ["--http-listen", f"127.0.0.1:{http_port}"]
        if amqp is not False:
            args += ["--amqp", amqp or self.amqp_url]
        if queue:
            args += ["--queue", queue]
        # serve answers `status` from the store: keep it off the default /var/lib path.
        env = dict({"PFO3_STORE": f"file://{self.workdir / 'serve-store'}"}, **(env or {}))
        d = self._daemon("serve", args + list(extra), env)
        d.port = port
        d.http_port = http_port
        d.address = f"127.0.0.1:{port}"
        return d.wait_notified() if ready else d

    def work(self, queue=None, store=None, prefetch=None, concurrency=None, config=None,
             env=None, amqp=None, extra=(), ready=True, http=False):
        """Starts `pfo3 work` storing into directory `store`; waits for READY=1. With
        http=True its HTTP endpoints listen on a free port (`.http_port`)."""
        args = []
        if config:
            args += ["--config", str(config)]
        args += ["work"]
        if amqp is not False:
            args += ["--amqp", amqp or self.amqp_url]
        if queue:
            args += ["--queue", queue]
        if store:
            args += ["--store", f"file://{Path(store).resolve()}"]
        if prefetch is not None:
            args += ["--prefetch", str(prefetch)]
        if concurrency is not None:
            args += ["--concurrency", str(concurrency)]
        http_port = free_port() if http else None
        if http_port:
            args += ["--http-listen", f"127.0.0.1:{http_port}"]
        d = self._daemon("work", args + list(extra), env)
        d.http_port = http_port
        return d.wait_notified() if ready else d

    def run(self, args, stdin=None, env=None, timeout=60):
        """Runs a one-shot pfo3 command to completion; returns the CompletedProcess (text)."""
        try:
            r = subprocess.run([self.bin] + list(args), input=stdin, env=child_env(env),
                               cwd=self.cwd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"pfo3 {' '.join(args)} did not finish within {timeout} s") from e
        check_sanitizers(f"pfo3 {' '.join(args)}", r.stderr)
        return r

    def send(self, server=None, tasks=(), stdin=None, json_mode=False, type_=None, env=None,
             extra=(), timeout=60):
        """Runs `pfo3 send`; tasks as arguments, or lines on stdin when `stdin` is given."""
        args = ["send"]
        if server:
            args += ["--server", server]
        if type_:
            args += ["--type", type_]
        if json_mode:
            args += ["--json"]
        args += list(extra)
        args += [t if isinstance(t, str) else json.dumps(t) for t in tasks]
        return self.run(args, stdin=stdin, env=env, timeout=timeout)

    def close(self):
        """Stops every daemon, then fails if any of them reported a sanitizer error."""
        failures = []
        for d in self.daemons:
            try:
                d.close()
            except AssertionError as e:
                failures.append(str(e))
        assert not failures, "\n".join(failures)


def submit_ids(result, expected):
    """The ids `pfo3 send` printed, after checking it accepted all `expected` tasks."""
    assert result.returncode == 0, f"send failed rc={result.returncode}: {result.stderr[-2000:]}"
    ids = result.stdout.split()
    assert len(ids) == expected, f"{len(ids)} ids printed for {expected} tasks"
    return ids


def read_records(store_dir):
    """Every stored record in a file store directory, by id (temp files are ignored)."""
    records = {}
    for path in Path(store_dir).glob("*.json"):
        try:
            record = json.loads(path.read_text())
        except (ValueError, OSError):
            continue  # written atomically, so this is a foreign or temp file
        records[path.name[:-len(".json")]] = record
    return records


def wait_for_results(store_dir, ids, timeout=60, final=("done", "dead")):
    """Waits until every id has a record whose status is in `final` (a task that failed and
    awaits a retry may be stored as `failed` meanwhile); returns {id: record}."""
    store = Path(store_dir)
    pending = set(ids)
    found = {}

    def all_final():
        for task_id in list(pending):
            try:
                record = json.loads((store / f"{task_id}.json").read_text())
            except FileNotFoundError:
                continue
            if record.get("status") in final:
                found[task_id] = record
                pending.discard(task_id)
        return not pending

    try:
        wait_until(all_final, timeout, f"{len(found) + len(pending)} results in {store}")
    except AssertionError:
        example = sorted(pending)[0]
        path = store / f"{example}.json"
        now = path.read_text() if path.exists() else "no record"
        raise AssertionError(f"{len(pending)} of {len(found) + len(pending)} results not final "
                             f"after {timeout} s, e.g. {example}: {now}") from None
    return found


def write_file(path, text, mode=None):
    """Writes a (config, script) file; returns its Path."""
    path = Path(path)
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


def rabbitmqctl(data_dir, *args, timeout=120):
    """rabbitmqctl against the private test node in `data_dir`; returns its stdout."""
    r = subprocess.run([str(RABBITMQ_SH), "ctl", str(data_dir), *args], capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, f"rabbitmqctl {' '.join(args)}: {r.stderr}"
    return r.stdout
