"""Measure the phone web app in headless Chromium against the Python LiteRT runtime on the same
machine and model folder: ms per call of the policy and of each branch in LiteRT.js's WebAssembly
(one thread, and threads where the page is cross-origin isolated), ms per call in ai_edge_litert
(1 thread and all cores), and the page's fps, adaptive vs Uniform, stepping as fast as it can on a
fake camera clip.

    python android_demo/web/bench.py --model build/test_artifacts [--precision int8,fp32] [--n 50] [--json out.json]
        [--video data/synthact_small/videos/test]

The fake camera plays ``--video`` (a clip or a folder of clips, one after another, looped) so the
policy decides on the frames it was trained for; without it, a synthetic colour-ramp clip.

Needs chromium + chromedriver (scripts/install_chromium.sh) and the JS dependencies
(android_demo/web/run_tests.sh); the Python numbers need ai_edge_litert (left out otherwise)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

WEB = Path(__file__).resolve().parent
ROOT = WEB.parent.parent
sys.path.insert(0, str(ROOT / "tests" / "edge"))
sys.path.insert(0, str(WEB))

from build import build  # noqa: E402
from serve import make_server  # noqa: E402


def python_ms(model: Path, precision: str, n: int) -> dict:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return {}
    import numpy as np
    doc = json.loads((model / "manifest.json").read_text())
    out: dict = {}
    for threads in (1, os.cpu_count() or 1):
        row = {}
        for a in doc["artifacts"]:
            if a["format"] != "tflite" or a["precision"] != precision:
                continue
            it = Interpreter(model_path=str(model / a["file"]), num_threads=threads)
            it.allocate_tensors()
            for d in it.get_input_details():
                it.set_tensor(d["index"], (np.arange(int(np.prod(d["shape"]))) * 37 % 256).astype(d["dtype"]).reshape(d["shape"]))
            ts = []
            for i in range(n + 3):
                t = time.perf_counter()
                it.invoke()
                if i >= 3:
                    ts.append((time.perf_counter() - t) * 1000)
            row[a["id"]] = statistics.median(ts)
        out[f"threads={threads}"] = row
    return out


def video_to_y4m(src: Path, dest: Path, size: int = 240, fps: int = 24, max_frames: int = 2400) -> tuple[Path, int]:
    """Clips (a file, or every .mp4/.avi/.mkv/.webm under a folder, sorted) as one YUV4MPEG2 4:2:0
    file for Chromium's fake camera, centre-cropped square and resized to ``size``. Returns the
    path and its frame count."""
    import cv2
    import numpy as np
    files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.suffix.lower() in
                                               (".mp4", ".avi", ".mkv", ".webm"))
    if not files:
        raise SystemExit(f"--video {src}: no video files (.mp4, .avi, .mkv, .webm) there")
    n = 0
    with open(dest, "wb") as out:
        out.write(f"YUV4MPEG2 W{size} H{size} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for f in files:
            cap = cv2.VideoCapture(str(f))
            if not cap.isOpened():
                raise SystemExit(f"--video: cannot open {f}")
            while n < max_frames:
                ok, bgr = cap.read()
                if not ok:
                    break
                h, w = bgr.shape[:2]
                s = min(h, w)
                sq = bgr[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
                yuv = cv2.cvtColor(cv2.resize(sq, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2YUV_I420)
                out.write(b"FRAME\n" + np.ascontiguousarray(yuv).tobytes())
                n += 1
            cap.release()
    if n == 0:
        raise SystemExit(f"--video {src}: no frames could be read")
    return dest, n


def steady(st: dict, warmup: int) -> dict:
    """One page run's numbers after its first ``warmup`` steps (the camera's first frame and the
    engines' first calls): sampled frames per second of page time, GMACs per frame, the share of
    frames skipped or deciding to skip, and the median step ms of the frames looked at."""
    ev = st["events"][warmup:]
    if len(ev) < 2:
        raise RuntimeError(f"the page gave {len(st['events'])} steps, fewer than --warmup {warmup} + 2")
    span = ev[-1]["t"] - ev[0]["t"]
    steps = [e["ms"] for e in ev if e["kind"] != "skipped" and e["ms"] is not None]
    return {"fps": (len(ev) - 1) / span if span > 0 else float("inf"),
            "gmacs_per_frame": st["stats"]["gmacs_per_frame"],
            "uniform_gmacs_per_frame": st["stats"]["uniform_gmacs_per_frame"],
            "skipped_or_skip": sum(e["kind"] != "resolution" for e in ev) / len(ev),
            "step_ms_p50": statistics.median(steps) if steps else None}


def median_round(rounds: list[dict]) -> dict:
    """The round with the median fps (its other numbers with it)."""
    return sorted(rounds, key=lambda r: r["fps"])[len(rounds) // 2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--precision", default="int8,fp32")
    ap.add_argument("--n", type=int, default=50, help="calls per model (median)")
    ap.add_argument("--steps", type=int, default=400, help="page steps per fps measurement")
    ap.add_argument("--warmup", type=int, default=30, help="first steps of each page run left out of its fps")
    ap.add_argument("--rounds", type=int, default=3, help="adaptive/uniform page runs, alternating; the median is kept")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--video", type=Path, help="clip or folder of clips for the fake camera (default: synthetic)")
    a = ap.parse_args(argv)
    from test_phone_web import write_y4m
    from webdriver import Browser, find_browser
    chrome, driver, why = find_browser()
    if why:
        print(f"bench.py: {why}", file=sys.stderr)
        return 2
    work = ROOT / "build" / "phone_web_bench"
    precisions = [p for p in a.precision.split(",") if p]
    site = build(a.model, work / "site", precisions)
    work.mkdir(parents=True, exist_ok=True)
    if a.video is not None:
        clip, frames = video_to_y4m(a.video, work / "video.y4m")
    else:
        clip, frames = write_y4m(work / "clip.y4m"), 48
    srv = make_server(site, "127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/index.html"
    b = Browser(chrome, driver, extra_args=("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                                             f"--use-file-for-fake-video-capture={clip}"))
    res: dict = {"model": str(a.model), "browser": b.js("return navigator.userAgent;"), "cpu_count": os.cpu_count(),
                 "video": str(a.video) if a.video else "synthetic",
                 "video_frames": frames, "wasm": {}, "python_litert": {}, "page_fps": {}}
    try:
        for prec in precisions:
            for threads in (0, 1):
                key = f"{prec} threads={threads}"
                rounds: dict = {"adaptive": [], "uniform": []}
                for r in range(a.rounds):    # the modes alternate: a slow spell of the host hits both
                    for mode in ("adaptive", "uniform"):
                        b.get(f"{url}?precision={prec}&threads={threads}&fast=1&sw=0&mode={mode}")
                        b.wait(f"return arnet.status === 'error' || arnet.events.length >= {a.steps};", 600, "steps")
                        st = b.js("arnet.stop(); return {error: arnet.error, stats: arnet.stats, "
                                  "isolated: self.crossOriginIsolated, events: arnet.events.map((e) => "
                                  "({t: e.t, kind: e.kind, ms: e.ms && e.ms.step}))};")
                        if st["error"]:
                            raise RuntimeError(st["error"])
                        rounds[mode].append(steady(st, a.warmup))
                        if mode == "adaptive" and r == 0:
                            ms = b.js_async("const done = arguments[arguments.length - 1]; "
                                            f"arnet.bench({a.n}).then(done, (e) => done(String(e)));")
                            res["wasm"][key] = {"cross_origin_isolated": st["isolated"], "ms": ms}
                res["page_fps"][key] = {mode: {**median_round(rs), "rounds": rs} for mode, rs in rounds.items()}
                res["page_fps"][key]["adaptive_over_uniform_fps"] = (
                    res["page_fps"][key]["adaptive"]["fps"] / res["page_fps"][key]["uniform"]["fps"])
            res["python_litert"][prec] = python_ms(a.model, prec, a.n)
    finally:
        b.close()
        srv.shutdown()
    text = json.dumps(res, indent=1)
    print(f"{'page':<18} {'adaptive fps':>12} {'uniform fps':>11} {'ratio':>6} {'GMACs ratio':>11}  ms per call (WASM)")
    for key, row in res["page_fps"].items():
        ad, un = row["adaptive"], row["uniform"]
        calls = ", ".join(f"{k} {v:.2f}" for k, v in sorted(res["wasm"].get(key, {}).get("ms", {}).items()))
        print(f"{key:<18} {ad['fps']:>12.1f} {un['fps']:>11.1f} {row['adaptive_over_uniform_fps']:>6.2f} "
              f"{ad['gmacs_per_frame'] / ad['uniform_gmacs_per_frame']:>11.3f}  {calls}")
    if a.json:
        a.json.write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
