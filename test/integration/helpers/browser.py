"""Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe: the
browser reads commands on fd 3 and writes answers and events on fd 4, each a JSON text ending
in NUL), so no websocket module is needed. Collects every console message, uncaught exception,
log entry (CSP violations land there) and network request of the page.
"""
import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CHROMIUM = shutil.which("chromium")


class Browser:
    def __init__(self, width=1280, height=1000):
        if not CHROMIUM:
            raise RuntimeError("chromium missing: test/services/install-deps.sh installs it")
        self.profile = tempfile.mkdtemp(prefix="pfo3-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire():  # in the child: the pipes become fds 3 and 4, kept across exec
            # Via fds out of the way: a pipe may itself be fd 3 or 4 (dup2 onto itself would
            # keep its close-on-exec flag).
            os.dup2(to_browser_r, 200)
            os.dup2(from_browser_w, 201)
            os.dup2(200, 3)
            os.dup2(201, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", "--disable-default-apps", f"--window-size={width},{height}",
             f"--user-data-dir={self.profile}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire, close_fds=False)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._next_id = 0
        self.events = []
        self.session = None
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True, _browser=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(domain + ".enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed its DevTools pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, timeout=60, _browser=False, **params):
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params}
        if self.session and not _browser:
            msg["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self._next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def answer_next(self, body, timeout=60):
        """Answers the next request Fetch paused (see Fetch.enable) with `body` as JSON."""
        deadline = time.monotonic() + timeout
        paused = next((e for e in self.events if e["method"] == "Fetch.requestPaused"), None)
        while paused is None:
            m = self._read_message(deadline)
            if m.get("method") == "Fetch.requestPaused":
                paused = m
            elif "method" in m:
                self.events.append(m)
        if paused in self.events:
            self.events.remove(paused)
        self.call("Fetch.fulfillRequest", requestId=paused["params"]["requestId"], responseCode=200,
                  responseHeaders=[{"name": "Content-Type", "value": "application/json"}],
                  body=base64.b64encode(json.dumps(body).encode()).decode())
        return paused["params"]["request"]["url"]

    def evaluate(self, expression, timeout=60):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True,
                      timeout=timeout)
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluate {expression!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expression, timeout=60, what=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout} s waiting for {what or expression}")

    def navigate(self, url):
        self.call("Page.navigate", url=url)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    # What the page did.
    def console_errors(self):
        out = []
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                out.append(("console", p.get("type"), [a.get("value", a.get("description")) for a in p["args"]]))
            elif m == "Runtime.exceptionThrown":
                out.append(("exception", p["exceptionDetails"].get("text"),
                            p["exceptionDetails"].get("exception", {}).get("description")))
            elif m == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
                out.append(("log", p["entry"].get("source"), p["entry"].get("text")))
            elif m == "Page.javascriptDialogOpening":
                out.append(("dialog", p.get("type"), p.get("message")))
        return out

    def requested_urls(self):
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def close(self):
        try:
            self.call("Browser.close", _browser=True, timeout=10)
        except Exception:  # noqa: BLE001 - the process is killed below anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self._to_browser)
        os.close(self._from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)
