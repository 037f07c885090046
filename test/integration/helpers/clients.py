"""A raw TCP client for the serve protocol, and a RabbitMQ helper built on pika."""
import json
import socket
import time
import uuid

import pika

#: Bound on one response line, so a broken server cannot make a test buffer without limit.
MAX_LINE = 16 * 1024 * 1024


class RawClient:
    """One TCP connection to `pfo3 serve`: write raw bytes, read newline-terminated responses."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self._buf = b""

    def send(self, data):
        """Writes bytes, or a dict/list as JSON followed by a newline."""
        if isinstance(data, (dict, list)):
            data = (json.dumps(data) + "\n").encode()
        elif isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def read_raw_line(self, timeout=None):
        """One response line as bytes without the newline; None when the server closed."""
        self.sock.settimeout(timeout or self.timeout)
        while b"\n" not in self._buf:
            if len(self._buf) > MAX_LINE:
                raise AssertionError("response line longer than the test bound")
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                if self._buf:
                    raise AssertionError(f"connection closed mid-line: {self._buf[:200]!r}")
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def read(self, timeout=None):
        """One response as a dict; None when the server closed the connection."""
        line = self.read_raw_line(timeout)
        return None if line is None else json.loads(line)

    def read_n(self, n, timeout=None):
        """Exactly n responses (fails on a close before that)."""
        out = []
        for _ in range(n):
            r = self.read(timeout)
            assert r is not None, f"connection closed after {len(out)} of {n} responses"
            out.append(r)
        return out

    def request(self, obj, timeout=None):
        """Sends one request, returns its response."""
        self.send(obj)
        r = self.read(timeout)
        assert r is not None, f"connection closed instead of answering {obj}"
        return r

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def unique_queue():
    """A queue name no other test uses."""
    return "t_" + uuid.uuid4().hex[:12]


class Broker:
    """Short-lived pika connections to the test RabbitMQ (so a broker restart never strands one)."""

    def __init__(self, url):
        self.url = url

    def connect(self):
        return pika.BlockingConnection(pika.URLParameters(self.url))

    def message_count(self, queue):
        """Ready messages in `queue` (passive declare); None if the queue does not exist."""
        conn = self.connect()
        try:
            ch = conn.channel()
            try:
                return ch.queue_declare(queue, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker as e:
                if e.reply_code == 404:
                    return None
                raise
        finally:
            if conn.is_open:
                conn.close()

    def consumer_count(self, queue):
        conn = self.connect()
        try:
            return conn.channel().queue_declare(queue, passive=True).method.consumer_count
        finally:
            conn.close()

    def publish(self, queue, body, properties=None):
        """Publishes to the default exchange with confirms, routed to `queue`."""
        conn = self.connect()
        try:
            ch = conn.channel()
            ch.confirm_delivery()
            ch.basic_publish("", queue, body, properties=properties, mandatory=True)
        finally:
            conn.close()

    def get_messages(self, queue, count, timeout=30.0):
        """Takes (and acks) `count` messages off `queue`: [(properties, body)]. Fails at the deadline."""
        out = []
        conn = self.connect()
        try:
            ch = conn.channel()
            deadline = time.monotonic() + timeout
            while len(out) < count:
                method, props, body = ch.basic_get(queue, auto_ack=True)
                if method is None:
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            f"only {len(out)} of {count} messages in {queue} after {timeout} s")
                    conn.sleep(0.05)  # poll interval, bounded by the deadline above
                    continue
                out.append((props, body))
        finally:
            conn.close()
        return out

    def drain(self, queue, expected_max=100000, timeout=2.0):
        """Takes every message now in `queue`; stops once it stays empty for `timeout`."""
        out = []
        conn = self.connect()
        try:
            ch = conn.channel()
            for method, props, body in ch.consume(queue, auto_ack=True, inactivity_timeout=timeout):
                if method is None:
                    break
                out.append((props, body))
                if len(out) >= expected_max:
                    break
            ch.cancel()
        finally:
            conn.close()
        return out

    def delete_queues(self, names):
        """Deletes queues (a missing one is fine: RabbitMQ answers delete-ok)."""
        conn = self.connect()
        try:
            ch = conn.channel()
            for name in names:
                ch.queue_delete(name)
        finally:
            conn.close()

    def delete_exchanges(self, names):
        """Deletes exchanges (a missing one is fine)."""
        conn = self.connect()
        try:
            ch = conn.channel()
            for name in names:
                ch.exchange_delete(name)
        finally:
            conn.close()
