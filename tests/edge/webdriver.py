"""A minimal W3C WebDriver client (urllib, no dependency) for headless Chromium + chromedriver,
used by the browser tests of the live view."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", "--window-size=1280,900",
               "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def find_browser() -> tuple[str | None, str | None, str]:
    """(chromium, chromedriver, why not) from PATH."""
    chrome = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    why = "" if chrome and driver else (
        "needs chromium and chromedriver on PATH (Debian: apt-get install chromium chromium-driver; "
        "bash scripts/install_chromium.sh does it)")
    return chrome, driver, why


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class WebDriverError(RuntimeError):
    pass


class Browser:
    """One chromedriver process and one headless Chromium session."""

    def __init__(self, chrome: str, driver: str, timeout: float = 60.0, extra_args: tuple = ()) -> None:
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="arnet-chromium-")
        self.proc = subprocess.Popen([driver, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        t_end = time.monotonic() + timeout
        while True:
            try:
                self._call("GET", "/status")
                break
            except (OSError, WebDriverError):
                if time.monotonic() > t_end or self.proc.poll() is not None:
                    self.close()
                    raise WebDriverError("chromedriver did not start")
                time.sleep(0.2)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chrome, "args": CHROME_ARGS + list(extra_args) + [f"--user-data-dir={self.profile}"]}}}}
        try:
            self.session = self._call("POST", "/session", caps, timeout=timeout)["sessionId"]
        except Exception:
            self.close()
            raise

    def _call(self, method: str, path: str, body: Any = None, timeout: float = 60.0) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read().decode() or "{}").get("value")
        except urllib.error.HTTPError as e:
            raise WebDriverError(f"{method} {path}: {e.code} {e.read()[:500]!r}") from None

    def _s(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url: str) -> None:
        self._s("POST", "/url", {"url": url})

    def js(self, script: str, *args: Any) -> Any:
        return self._s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def logs(self) -> list:
        """The browser console since the last call (needs goog:loggingPrefs browser=ALL)."""
        try:
            return self._s("POST", "/se/log", {"type": "browser"}) or []
        except WebDriverError:
            return []

    def js_async(self, script: str, *args: Any) -> Any:
        """Run ``script``; it calls ``arguments[arguments.length - 1](value)`` when done."""
        return self._s("POST", "/execute/async", {"script": script, "args": list(args)})

    def click(self, css: str) -> None:
        el = self._s("POST", "/element", {"using": "css selector", "value": css})
        self._s("POST", f"/element/{next(iter(el.values()))}/click", {})

    def type(self, css: str, text: str) -> None:
        el = self._s("POST", "/element", {"using": "css selector", "value": css})
        eid = next(iter(el.values()))
        self._s("POST", f"/element/{eid}/clear", {})
        self._s("POST", f"/element/{eid}/value", {"text": text})

    def screenshot(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._s("GET", "/screenshot")))
        return path

    def wait(self, script: str, timeout: float = 30.0, what: str = "") -> Any:
        """Poll ``script`` (returns a value) until truthy."""
        t_end = time.monotonic() + timeout
        v = None
        while time.monotonic() < t_end:
            v = self.js(script)
            if v:
                return v
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or script} (last: {v!r})")

    def close(self) -> None:
        try:
            if getattr(self, "session", None):
                self._s("DELETE", "")
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)
