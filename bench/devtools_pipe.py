"""Cold page loads in Chromium driven without Playwright: what a user without DevTools open waits.

Playwright enables the DevTools protocol's Runtime domain on every page, and with it V8 records a
full stack trace, line numbers included, for every error thrown, even one caught at once. Plotly's
bundled polyfills throw a few while plotly.min.js initialises, and their line numbers cost
re-parsing the 4.8 MB bundle about three times: Plotly evaluates in about twice the time a user
waits. This driver speaks the protocol over Chromium's --remote-debugging-pipe (file descriptors
3 and 4, NUL-separated JSON) and sends only what a load needs: a fresh browser context, the login
form filled by Runtime.evaluate (which needs no Runtime.enable), navigation, and polling.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time


class Pipe:
    """One Chromium with its DevTools protocol on two pipes."""

    def __init__(self, chromium: str, flags: list[str]):
        self.profile = tempfile.mkdtemp(prefix="losslab-bench-chromium-")
        to_chrome, self._out = os.pipe()
        self._in, from_chrome = os.pipe()

        def wire() -> None:  # in the child: the protocol's fixed descriptors (via high ones, so none clobbers another)
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome, from_chrome)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen(
            [chromium, *flags, "--remote-debugging-pipe", f"--user-data-dir={self.profile}"],
            preexec_fn=wire,
            pass_fds=(3, 4),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome)
        os.close(from_chrome)
        self._buf, self._id = b"", 0

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}, **({"sessionId": session} if session else {})}
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        while True:  # events and other answers are skipped
            while b"\0" not in self._buf:
                chunk = os.read(self._in, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed its DevTools pipe")
                self._buf += chunk
            raw, self._buf = self._buf.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]

    def evaluate(self, session: str, expression: str):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        return result["result"].get("value")

    def wait_for(self, session: str, expression: str, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while not self.evaluate(session, f"!!({expression})"):
            if time.monotonic() > end:
                raise TimeoutError(f"not true within {timeout} s: {expression}")
            time.sleep(0.05)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        os.close(self._in)
        os.close(self._out)
        shutil.rmtree(self.profile, ignore_errors=True)


def cold_load(pipe: Pipe, base: str, user: tuple[str, str], spec: dict, condition: str) -> float:
    """Seconds from navigation until `condition` holds, in a new browser context (empty cache), logged in
    (and switched to spec["team"] when given)."""
    context = pipe.send("Target.createBrowserContext")["browserContextId"]
    target = pipe.send("Target.createTarget", {"url": "about:blank", "browserContextId": context})["targetId"]
    session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        pipe.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
            session,
        )
        go(pipe, session, base + "/login/", "document.getElementById('id_username')")
        submit(
            pipe,
            session,
            f"document.getElementById('id_username').value = {json.dumps(user[0])}; "
            f"document.getElementById('id_password').value = {json.dumps(user[1])}; "
            "document.querySelector('button[type=submit]').click()",
        )
        if spec.get("team"):
            submit(
                pipe,
                session,
                "(() => { const s = document.getElementById('team-switch-select'); if (!s) return; "
                f"s.value = [...s.options].find((o) => o.text === {json.dumps(spec['team'])}).value; "
                "s.form.submit(); })()",
            )
        t0 = time.perf_counter()
        go(pipe, session, base + spec["url"], condition)
        return time.perf_counter() - t0
    finally:
        pipe.send("Target.disposeBrowserContext", {"browserContextId": context})


def go(pipe: Pipe, session: str, url: str, condition: str) -> None:
    pipe.evaluate(session, "window.bench_left = true")  # so that the page being left never counts
    pipe.send("Page.navigate", {"url": url}, session)
    pipe.wait_for(session, f"!window.bench_left && ({condition})")


def submit(pipe: Pipe, session: str, script: str) -> None:
    """Run a script that submits a form, and wait for the page it leads to."""
    pipe.evaluate(session, "window.bench_left = true")
    pipe.evaluate(session, script)
    pipe.wait_for(session, "!window.bench_left && document.readyState === 'complete'")
