#!/usr/bin/env python3
"""What a browser viewer costs a live run: one ``live.py --serve`` run on a source, in phases
without a viewer and with N viewers (each = what the page opens: the MJPEG stream and the event
stream, read as fast as they come, as a remote browser would), interleaved A B A B ... so drifting
clocks and other load hit both alike.

    python scripts/bench_serve.py --model build/test_artifacts [--source synthetic://...]
        [--viewers 1] [--phase-s 8] [--rounds 3] [--json OUT] [-- EXTRA live.py ARGS]

Per phase, from the run's own status (/api/status): processed fps (sampled frames per second of
model-side time, decode included: live.py's ``processed_fps``) and end-to-end fps (frames per
wall-clock second). Reports each, the medians per condition and the viewer's cost in percent.
Torch-free: runs in the device venvs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "edge"))


def status(base: str) -> dict:
    with urllib.request.urlopen(base + "/api/status", timeout=10) as r:
        return json.load(r)


def cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system, every thread) of process ``pid`` so far (Linux /proc)."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def point(st: dict, pid: int) -> tuple:
    """(steps, model-side ms incl. decode, wall s, CPU s of the run's process) so far."""
    lat = st.get("latency_ms") or {}
    ms = sum(lat[k]["mean_ms"] * lat[k]["count"] for k in ("step", "decode") if k in lat)
    return st.get("steps", 0), ms, st.get("wall_s", 0.0), cpu_s(pid)


class Viewer:
    """One remote page: the MJPEG stream and the event stream, read continuously."""

    def __init__(self, base: str, kinds: tuple = ("mjpeg", "sse")) -> None:
        self.stop = threading.Event()
        self.bytes = {"mjpeg": 0, "sse": 0}
        self.threads = [threading.Thread(target=self._read, args=(base + p, k), daemon=True)
                        for p, k in (("/stream.mjpg", "mjpeg"), ("/api/live", "sse")) if k in kinds]
        for t in self.threads:
            t.start()

    def _read(self, url: str, kind: str) -> None:
        with urllib.request.urlopen(url, timeout=30) as r:
            while not self.stop.is_set():
                b = r.read1(65536) if hasattr(r, "read1") else r.read(4096)
                if not b:
                    return
                self.bytes[kind] += len(b)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--source", default="synthetic://bars?size=640x480")
    ap.add_argument("--viewers", type=int, default=1)
    ap.add_argument("--streams", default="mjpeg,sse",
                    help="what a viewer reads: mjpeg, sse or both (default: both, as the page does)")
    ap.add_argument("--phase-s", type=float, default=8.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default=None)
    ap.add_argument("extra", nargs="*", help="more live.py arguments (after --)")
    a = ap.parse_args()
    from edge_helpers import LiveServer
    args = ["--model", a.model, "--source", a.source, "--headless", "--quiet", "--no-power",
            "--serve", "127.0.0.1:0", "--serve-max-viewers", str(max(1, a.viewers)), *a.extra]
    phases = []
    with LiveServer(args, env={"PYTHONUNBUFFERED": "1"}) as srv:
        # live.py's JSON lines go to a pipe the helper drains; warm up first
        time.sleep(3.0)
        for r in range(a.rounds):
            for cond in (("none", "viewer") if r % 2 == 0 else ("viewer", "none")):
                vs = [Viewer(srv.base, tuple(a.streams.split(","))) for _ in range(a.viewers)] if cond == "viewer" else []
                time.sleep(1.0 if vs else 0.0)   # connected and streaming before the phase starts
                p0 = point(status(srv.base), srv.proc.pid)
                time.sleep(a.phase_s)
                p1 = point(status(srv.base), srv.proc.pid)
                got = {k: sum(v.bytes[k] for v in vs) for k in ("mjpeg", "sse")}
                for v in vs:
                    v.close()
                steps, ms, wall = p1[0] - p0[0], p1[1] - p0[1], p1[2] - p0[2]
                ph = {"round": r, "viewers": len(vs), "steps": steps,
                      "processed_fps": steps / (ms / 1000.0) if ms > 0 else None,
                      "end_to_end_fps": steps / wall if wall > 0 else None,
                      "cpu_ms_per_step": (1000.0 * (p1[3] - p0[3]) / steps
                                          if steps and p0[3] is not None and p1[3] is not None else None),
                      "viewer_bytes": got}
                phases.append(ph)
                print(json.dumps(ph), flush=True)
                time.sleep(0.5)
    def med(key: str, with_viewer: bool) -> float:
        return statistics.median(p[key] for p in phases if (p["viewers"] > 0) == with_viewer and p[key])
    out = {"command": " ".join(sys.argv), "source": a.source, "viewers": a.viewers, "phase_s": a.phase_s,
           "rounds": a.rounds, "phases": phases}
    keys = ("processed_fps", "end_to_end_fps", "cpu_ms_per_step")
    for key in keys:
        if not any(p[key] for p in phases):
            continue
        base, view = med(key, False), med(key, True)
        # each round's pair (adjacent phases) on its own: the drift of other load cancels
        pairs = []
        for r in range(a.rounds):
            b = [p[key] for p in phases if p["round"] == r and p["viewers"] == 0]
            v = [p[key] for p in phases if p["round"] == r and p["viewers"] > 0]
            if b and v and b[0] and v[0]:
                pairs.append(v[0] / b[0])
        ratio = statistics.median(pairs) if pairs else None
        sign = 1.0 if key == "cpu_ms_per_step" else -1.0   # a cost: more CPU, fewer fps
        out[key] = {"without_viewer_median": base, "with_viewer_median": view,
                    "paired_ratio_median": ratio,
                    "cost_pct": None if ratio is None else 100.0 * sign * (ratio - 1.0)}
    print(json.dumps({k: out[k] for k in keys if k in out}, indent=2))
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
