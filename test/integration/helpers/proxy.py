"""A TCP proxy in front of the test RabbitMQ that can lose a client's bytes on purpose.

It forwards both ways. hold() stops forwarding what the clients of the connections open at
that moment send to the broker (their acks, publishes, heartbeats): the bytes are kept, never
sent, and dropped at cut(); the broker's bytes still reach the client, so the client goes on
as if all were well. Connections opened after hold() are forwarded normally. cut() closes the
held connections on both sides, the way a network failure would: the broker requeues what the
client had not acked (for the broker it never was), and the client reconnects.

This is how a worker's acks are lost after its results were stored. Everything runs in
threads of the test process; each connection has two pump threads and is bounded in memory.
"""
import socket
import threading
from urllib.parse import urlsplit, urlunsplit

#: Bytes a held connection keeps; beyond it the proxy stops reading that client (TCP
#: back-pressure), so a held client can never make the test buffer without limit.
MAX_HELD_BYTES = 16 * 1024 * 1024
#: Largest single read.
CHUNK = 65536
#: AMQP 0-9-1: the protocol header a client starts with, and the basic.consume method.
PROTOCOL_HEADER_BYTES = 8
FRAME_METHOD = 1
BASIC_CONSUME = (60, 20)


class _FrameScanner:
    """Follows the frames of a client's AMQP 0-9-1 byte stream just far enough to see whether
    it sent basic.consume; skips bodies without buffering them."""

    def __init__(self):
        self.consumes = False
        self._skip = PROTOCOL_HEADER_BYTES
        self._buf = bytearray()
        self._method_frame_size = None  # set while the 4 method-id bytes are awaited

    def feed(self, data):
        view = memoryview(data)
        at = 0
        while at < len(view):
            if self._skip:
                n = min(self._skip, len(view) - at)
                self._skip -= n
                at += n
                continue
            want = 7 if self._method_frame_size is None else 4
            n = min(want - len(self._buf), len(view) - at)
            self._buf += view[at:at + n]
            at += n
            if len(self._buf) < want:
                return
            if self._method_frame_size is None:
                # Frame header: type (1), channel (2), payload size (4); payload; end byte.
                frame_type, size = self._buf[0], int.from_bytes(self._buf[3:7], "big")
                if frame_type == FRAME_METHOD and size >= 4:
                    self._method_frame_size = size
                else:
                    self._skip = size + 1
            else:
                class_id = int.from_bytes(self._buf[0:2], "big")
                method_id = int.from_bytes(self._buf[2:4], "big")
                if (class_id, method_id) == BASIC_CONSUME:
                    self.consumes = True
                self._skip = self._method_frame_size - 4 + 1
                self._method_frame_size = None
            self._buf = bytearray()


class ProxiedConnection:
    """One client connection and its connection to the broker."""

    def __init__(self, client, upstream):
        self.client = client
        self.upstream = upstream
        self.held_bytes = 0
        self._held = bytearray()
        self._holding = False
        self._muted = False
        self._closed = False
        self._scanner = _FrameScanner()
        # Guards holding/closed and every forward to the broker: once hold() returns, no
        # byte the client sends reaches the broker.
        self._lock = threading.Condition()
        self._threads = [threading.Thread(target=self._client_to_broker, daemon=True),
                         threading.Thread(target=self._broker_to_client, daemon=True)]

    @property
    def consumes(self):
        """True once the client sent basic.consume on this connection."""
        return self._scanner.consumes

    @property
    def closed(self):
        return self._closed

    def start(self):
        for t in self._threads:
            t.start()

    def hold(self):
        with self._lock:
            self._holding = True

    def mute(self):
        """From now on the broker's bytes are read and dropped: the client, still connected,
        hears nothing more (no delivery, no heartbeat) while its own bytes go through."""
        self._muted = True

    def _client_to_broker(self):
        try:
            while True:
                data = self.client.recv(CHUNK)
                if not data:
                    break
                self._scanner.feed(data)
                with self._lock:
                    # A full hold buffer stops the reading (and the client, by TCP) until cut().
                    while (self._holding and not self._closed
                           and len(self._held) + len(data) > MAX_HELD_BYTES):
                        self._lock.wait()
                    if self._closed:
                        break
                    if self._holding:
                        self._held += data
                        self.held_bytes += len(data)
                    else:
                        self.upstream.sendall(data)
        except OSError:
            pass  # a side failed or was shut down by close(): the connection ends either way
        self.close()

    def _broker_to_client(self):
        try:
            while True:
                data = self.upstream.recv(CHUNK)
                if not data:
                    break
                if not self._muted:
                    self.client.sendall(data)
        except OSError:
            pass  # as above: the connection ends
        self.close()

    def close(self):
        """Closes both sides (a FIN each way); the held bytes are dropped. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._held = bytearray()
            self._lock.notify_all()
        for s in (self.client, self.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already gone
        for t in self._threads:
            if t.ident is not None and t is not threading.current_thread():
                t.join(timeout=10)
        for s in (self.client, self.upstream):
            s.close()


class TcpProxy:
    """Listens on 127.0.0.1:<port> and forwards each connection to target_host:target_port."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._connections = []
        self._held = []
        self._stopped = False
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # listener closed
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()  # the client sees the broker as unreachable, as it is
                continue
            conn = ProxiedConnection(client, upstream)
            with self._lock:
                if self._stopped:
                    conn.close()
                    return
                self._connections = [c for c in self._connections if not c.closed] + [conn]
            conn.start()

    def open_connections(self):
        with self._lock:
            return [c for c in self._connections if not c.closed]

    def hold(self, consumers_only=False):
        """Stops forwarding client bytes of the connections open now (only those that sent
        basic.consume, with consumers_only); returns them. New connections are not held."""
        held = [c for c in self.open_connections() if c.consumes or not consumers_only]
        for c in held:
            c.hold()
        self._held = held
        return held

    def mute(self, consumers_only=True):
        """Mutes the broker side of the connections open now (see ProxiedConnection.mute); new
        connections are not muted. Returns them."""
        muted = [c for c in self.open_connections() if c.consumes or not consumers_only]
        for c in muted:
            c.mute()
        return muted

    def cut(self):
        """Closes the held connections on both sides; their held bytes are never sent."""
        for c in self._held:
            c.close()
        self._held = []

    def close(self):
        """Stops accepting and closes every connection."""
        with self._lock:
            self._stopped = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept(); close() alone does not
        except OSError:
            pass  # not connected in a way shutdown knows: close() below still ends it
        self._listener.close()
        self._acceptor.join(timeout=10)
        for c in self.open_connections():
            c.close()


def broker_address(url):
    """(host, port) of an amqp:// URL."""
    parts = urlsplit(url)
    return parts.hostname, parts.port or 5672


def amqp_url_via(url, port):
    """`url` pointing at 127.0.0.1:`port` instead (user, password and vhost kept)."""
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{auth + '@' if auth else ''}127.0.0.1:{port}"))
