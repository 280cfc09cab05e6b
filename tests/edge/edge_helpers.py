"""Helpers shared by the edge tests (no torch; numpy + OpenCV)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def load_script(relpath: str, name: str | None = None):
    """A script of the repository (``scripts/x.py``) imported as a module, for its functions."""
    import importlib.util
    path = ROOT / relpath
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def frame_of(i: int, h: int = 72, w: int = 96) -> np.ndarray:
    """Deterministic BGR frame ``i``: colour ramp + a moving disc + the index in the red channel."""
    import cv2
    f = np.zeros((h, w, 3), np.uint8)
    f[:] = ((i * 5) % 256, 90, 255 - (i * 5) % 256)
    cv2.circle(f, ((8 + 3 * i) % w, h // 2), max(4, h // 6), (255, 255, 255), -1)
    return f


def write_video(path: Path, frames: int = 36, fps: float = 12, size: tuple = (96, 72)) -> Path:
    import cv2
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert w.isOpened(), f"cannot write {path}"
    for i in range(frames):
        w.write(frame_of(i, size[1], size[0]))
    w.release()
    return path


def run_script(args: list[str], timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python <args>`` from the repository root, like a user would."""
    e = dict(os.environ)
    e.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if env:
        e.update(env)
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=e)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


class ScriptedPolicy:
    """A policy 'engine' returning scripted outputs: ``script`` = list of (action_logits,
    class_logits); h' = h + 1 so tests can see the state being carried."""

    name = "scripted"

    def __init__(self, script, hidden: int = 4, size: int = 24):
        self.script = [(np.asarray(a, np.float32), np.asarray(c, np.float32)) for a, c in script]
        self.hidden = hidden
        self.size = size
        self.calls = 0
        self.seen_h: list[np.ndarray] = []
        self.seen_sizes: list[int] = []

    def frame_size(self):
        return self.size

    def input_specs(self):
        return []

    def run(self, inputs):
        a, c = self.script[self.calls % len(self.script)]
        self.calls += 1
        self.seen_h.append(np.array(inputs["h"], np.float32).copy())
        self.seen_sizes.append(inputs["frame"].shape[1])
        self.last_frame = np.array(inputs["frame"]).copy()
        h = np.asarray(inputs["h"], np.float32) + 1
        return {"action_logits": a[None], "class_logits": c[None], "h": h, "c": np.asarray(inputs["c"]) * 0}


class ScriptedBackbone:
    name = "scripted"

    def __init__(self, logits_fn, size: int):
        self.logits_fn = logits_fn
        self.size = size
        self.calls = 0
        self.seen_sizes: list[int] = []

    def frame_size(self):
        return self.size

    def input_specs(self):
        return []

    def run(self, inputs):
        self.calls += 1
        self.seen_sizes.append(inputs["frame"].shape[1])
        return {"class_logits": np.asarray(self.logits_fn(self.calls - 1), np.float32)[None]}


def dummy_artifact_model(folder: Path, *, corrupt: str | None = None, missing: str | None = None) -> Path:
    """A fake-manifest model folder whose litert/fp32 artifacts are placeholder files with correct
    sha256 — except ``corrupt`` (file altered after export) and ``missing`` (file deleted)."""
    import hashlib

    from edge_runtime.backends.fake import fake_artifact, fake_manifest
    from edge_runtime.manifest import Manifest
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    m = fake_manifest()
    d = m.to_dict()
    ids = ["policy"] + [a.backbone for a in m.actions[: m.num_resolutions - 1]]
    arts = []
    for i in ids:
        a = fake_artifact(m, i)
        data = f"placeholder {i}".encode()
        a.file = f"{i}_fp32.tflite"
        a.sha256 = hashlib.sha256(data).hexdigest()
        a.bytes = len(data)
        a.extra = {}
        (folder / a.file).write_bytes(data)
        ad = Manifest.to_dict(Manifest(**{**m.__dict__, "artifacts": [a]}))["artifacts"][0]
        arts.append(ad)
    d["artifacts"] = arts
    Manifest.from_dict(d).save(folder)
    if corrupt:
        (folder / f"{corrupt}_fp32.tflite").write_bytes(b"tampered")
    if missing:
        (folder / f"{missing}_fp32.tflite").unlink()
    return folder


def steady_power(mw: float, battery_pct: float | None = None, every_s: float = 0.25):
    """A PowerMonitor whose reader gives ``mw`` (and ``battery_pct``) at ``every_s`` intervals."""
    from edge_runtime.telemetry import PowerMonitor, PowerReader, PowerSample

    class Steady(PowerReader):
        name = "steady"

        def __init__(self):
            super().__init__()
            self.t = 0.0

        def available(self):
            return True

        def read(self):
            self.t += every_s
            return PowerSample(source="steady", mw=mw, battery_pct=battery_pct, t=self.t)
    return PowerMonitor(Steady())


class MjpegServer:
    """Serves ``plan[i]`` to the i-th connection: ``("frames", n)`` sends n JPEGs of gray level
    40 * (i % 6 + 1) then goes silent with the connection open; ``"silent"`` accepts and never answers.
    Connections beyond the plan are silent."""

    def __init__(self, plan):
        self.plan = list(plan)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.uri = f"http://127.0.0.1:{self.sock.getsockname()[1]}/cam.mjpg"
        self.conns = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        i = 0
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            what = self.plan[i] if i < len(self.plan) else "silent"
            if what != "silent":
                threading.Thread(target=self._send, args=(c, 40 * (i % 6 + 1), what[1]), daemon=True).start()
            i += 1

    def _send(self, c, gray, n):
        import cv2
        ok, jpg = cv2.imencode(".jpg", np.full((48, 64, 3), gray, np.uint8))
        body = jpg.tobytes()
        try:
            c.recv(4096)
            c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=f\r\n\r\n")
            for _ in range(n):
                c.sendall(b"--f\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(body)
                          + body + b"\r\n")
                time.sleep(0.01)
        except OSError:
            pass
        self.stop.wait()              # silent, connection held open: a stalled camera

    def close(self):
        self.stop.set()
        for s in [self.sock, *self.conns]:
            try:
                s.close()
            except OSError:
                pass


class LiveServer:
    """``live.py ... --serve 127.0.0.1:0`` in a subprocess: its URL (from stderr), stopped with
    SIGTERM on close (then its summary is in ``summary``)."""

    def __init__(self, args: list[str], timeout: float = 60.0, env: dict | None = None) -> None:
        import re
        e = dict(os.environ)
        e.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        e.update(env or {})
        self.proc = subprocess.Popen([sys.executable, "edge_runtime/live.py", *map(str, args)], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
        self.err: list[str] = []
        self.url = None
        got = threading.Event()

        def read_err() -> None:
            for line in self.proc.stderr:
                self.err.append(line)
                m = re.search(r"browser view at (http://\S+)", line)
                if m and self.url is None:
                    self.url = m.group(1)
                    got.set()
            got.set()
        self._out: list[str] = []
        self._t_err = threading.Thread(target=read_err, daemon=True)
        self._t_err.start()
        self._t_out = threading.Thread(target=lambda: self._out.extend(self.proc.stdout), daemon=True)
        self._t_out.start()
        got.wait(timeout)
        if self.url is None:
            self.close()
            raise AssertionError("live.py --serve did not print its address:\n" + "".join(self.err))
        self.base = self.url.split("?")[0].rstrip("/")
        self.summary: dict | None = None
        self.rc: int | None = None

    def close(self) -> int:
        import signal
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.rc = self.proc.wait()
        self._t_out.join(5)
        self._t_err.join(5)
        for line in self._out:
            if line.startswith('{"summary"'):
                self.summary = json.loads(line)["summary"]
        return self.rc

    def __enter__(self) -> "LiveServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
