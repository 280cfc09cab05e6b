"""Live AR-Net recognition on a camera, stream or video file.

    python edge_runtime/live.py --model artifacts/<name> [--source URI ...] [--backend litert]
        [--precision auto|fp32|fp16|int8] [--allow-failed] [--threads N] [--delegate xnnpack|none|/path/lib.so]
        [--providers cpu,cuda,tensorrt] [--headless] [--record out.mp4] [--top-k 3]
        [--window N] [--target-fps F | --target-mw P] [--max-steps N] [--json-out FILE]
        [--serve [HOST:]PORT [--serve-token T] [--serve-max-viewers N]]

Without ``--headless`` an OpenCV window shows the stream with the overlay (label, top-k scores,
chosen resolution or skip, fps, ms per stage, GMACs per frame); ``q`` or Esc quits. With
``--headless`` every step is one JSON line on stdout, and a final ``{"summary": ...}`` line
holds latency p50/p95 per stage, the action histogram, GMACs per frame against the uniform
baseline, measured ms per GMAC per network and energy where the device reports power.
``--json-out`` writes that summary to a file (``--summary-every S``: also while running).
``--serve [HOST:]PORT`` serves a browser view of the run (``edge_runtime.serve``): the overlaid
stream, label, top-k, policy strip and stats, with target fps / mW, clear and pause controls; on
127.0.0.1 unless a host is given, which then needs a token (``--serve-token``, or one generated
and printed at start).
``--precision auto`` (the default) runs the fastest precision that passed validation at export
(``edge_runtime.precision``); artifacts marked failed need ``--allow-failed``.
Bad inputs (manifest, artifacts, backend, precision, source) print one message on stderr and exit
with status 2.

Ctrl-C and SIGTERM (``systemctl stop``, ``docker stop``) end the run with its summary; the
``--record`` file grows under a hidden ``.<name>.partial`` name and replaces ``--record`` only when
finished, so it is always playable and an earlier recording is never half-overwritten.

A source that fails for good (a camera or stream gone after its reconnect attempts) ends its
stream with a message on stderr and an ``error`` in the summary; the run ends with the last stream
(exit status 3 when one failed, so a supervisor can restart it). Several ``--source`` run as
streams of one batched step engine (``edge_runtime.engine``) in the same loop, shown as a grid;
events and the summary have one shape for any number of sources (docs/EVENTS.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable, and not this folder
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from typing import Any, Sequence  # noqa: E402

from edge_runtime.cli import (EXIT_BAD_INPUT, EXIT_SOURCE_LOST, SummaryFile, Terminated,  # noqa: E402,F401
                              UsageError, add_model_args, budget_power, make_engines, make_pipeline,
                              run_cli, size_arg, source_options, stop_reason)
from edge_runtime.display import Display, gui_available, render  # noqa: E402

_gui_available = gui_available
PROG = "arnet-live"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(ap)
    ap.add_argument("--source", action="append", default=None,
                    help="camera index, /dev/videoN, csi://N, rtsp://..., GStreamer pipeline, "
                         "video file or synthetic:// (default 0); repeat it for several streams, "
                         "batched, shown as a grid")
    ap.add_argument("--headless", action="store_true", help="no window: JSON lines on stdout")
    ap.add_argument("--record", default=None, metavar="OUT.mp4", help="save the annotated stream")
    ap.add_argument("--top-k", type=int, default=3)
    ap.add_argument("--window", type=int, default=None,
                    help="sliding window in sampled frames (default: the manifest's frames_per_clip)")
    ap.add_argument("--margin", type=float, default=0.1, help="label hysteresis margin")
    ap.add_argument("--hold", type=int, default=2, help="label hysteresis: consecutive steps")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--target-fps", type=float, default=None, help="budget: sampled frames per second")
    g.add_argument("--target-mw", type=float, default=None, help="budget: power in milliwatts")
    ap.add_argument("--max-steps", type=int, default=None, help="stop after N sampled frames")
    ap.add_argument("--json-out", default=None, metavar="FILE", help="write the summary JSON here")
    ap.add_argument("--summary-every", type=float, default=None, metavar="S",
                    help="with --json-out: rewrite it every S seconds while running (\"running\": "
                         "true), so a dashboard reads live telemetry and a power cut keeps the latest")
    ap.add_argument("--reconnect", type=int, default=5, help="reconnect attempts for live sources")
    ap.add_argument("--stream-timeout", type=float, default=5.0, metavar="S",
                    help="network streams (rtsp://, http://): give up a connect or a read after S "
                         "seconds, then reconnect (FFmpeg's own wait is 30 s)")
    ap.add_argument("--input-rate", type=float, default=30.0, metavar="FPS",
                    help="the frame rate an image-sequence source (a folder of frames, or a glob "
                         "like 'frames/*.jpg') was extracted at (default 30)")
    ap.add_argument("--input-size", type=size_arg, default=None, metavar="WxH",
                    help="ask the camera(s) for this capture size, e.g. 640x480 (cameras and csi:// "
                         "only; a small mode saves the host the resize of big frames)")
    ap.add_argument("--decode-threads", type=int, default=None, metavar="N",
                    help="FFmpeg decoder threads for files and network streams (default: FFmpeg's "
                         "own; 1 leaves the cores to the inference engine)")
    ap.add_argument("--resize-workers", type=int, default=None, metavar="N",
                    help="several --source: threads that may resize a tick's frames, woken for "
                         "big batches only (default: one per core, at most 8)")
    ap.add_argument("--serve", default=None, metavar="[HOST:]PORT",
                    help="serve a browser view of the run (stream with overlay, label, top-k, policy "
                         "strip, stats, controls) on HOST:PORT; HOST defaults to 127.0.0.1, any other "
                         "host needs a token (e.g. --serve 0.0.0.0:8080)")
    ap.add_argument("--serve-token", default=None, metavar="TOKEN",
                    help="with --serve: the token every request must carry (?token=...); generated "
                         "and printed at start when the host is not loopback and none is given")
    ap.add_argument("--serve-max-viewers", type=int, default=4, metavar="N",
                    help="with --serve: at most N browser viewers at a time; the next gets 503 (default 4)")
    ap.add_argument("--no-power", action="store_true", help="do not read power/battery sensors")
    ap.add_argument("--quiet", action="store_true", help="no summary table on stderr")
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    return ap


def summarize(engine: Any, uris: list[str], sources: list, errors: dict, wall_s: float,
              extra: dict | None = None) -> dict:
    """The engine's summary (docs/EVENTS.md) with the run's wall time, rates and sources."""
    s = engine.summary()
    steps = s["steps"]
    lat, dec = s["latency_ms"].get("step"), s["latency_ms"].get("decode")
    s["wall_s"] = wall_s
    s["end_to_end_fps"] = steps / wall_s if wall_s > 0 else None
    compute_ms = (lat["mean_ms"] * lat["count"] if lat else 0.0) + (dec["mean_ms"] * dec["count"] if dec else 0.0)
    s["processed_fps"] = steps / (compute_ms / 1000.0) if compute_ms > 0 else None
    for i, d in enumerate(s["streams"]):
        src = sources[i] if i < len(sources) else None
        d["source"] = dict(src.describe(), decoded=src.decoded, grabbed=src.grabbed) if src else {"uri": uris[i]}
        d["error"] = errors.get(i)
    s["error"] = next(iter(errors.values()), None)
    if extra:
        s.update(extra)
    return s


def summary_text(s: dict) -> str:
    lines = [f"{s['steps']} steps in {s['wall_s']:.2f} s"
             + (f" ({s['end_to_end_fps']:.1f} steps/s end-to-end)" if s.get("end_to_end_fps") else "")]
    lat = s["latency_ms"]
    if lat:
        lines.append(f"{'stage':<10}{'count':>7}{'p50 ms':>10}{'p95 ms':>10}")
        for k, v in lat.items():
            lines.append(f"{k:<10}{v['count']:>7}{v['p50_ms']:>10.2f}{v['p95_ms']:>10.2f}")
    if "actions" in s:
        lines.append("actions: " + ", ".join(f"{k} {v}" for k, v in s["actions"].items()))
    r = s.get("gmacs_ratio")
    lines.append(f"GMACs/frame {s['gmacs_per_frame']:.4f} vs uniform {s['uniform_gmacs_per_frame']:.4f}"
                 + (f" ({r:.1%})" if r is not None else ""))
    if s.get("ms_per_gmac"):
        lines.append("ms/GMAC: " + ", ".join(f"{k} {v:.2f}" for k, v in s["ms_per_gmac"].items()))
    e = s.get("energy")
    if e and e.get("samples"):
        mpf = e.get("mj_per_frame")
        lines.append(f"energy {e['mj']:.1f} mJ, mean {e['mean_mw'] or 0:.0f} mW"
                     + (f", {mpf:.2f} mJ/frame" if mpf is not None else ""))
    if len(s["streams"]) > 1:
        lines.append(f"{len(s['streams'])} streams, {s['ticks']} ticks")
        for d in s["streams"]:
            lines.append(f"  stream {d['stream']} ({d['source']['uri']}): {d['steps']} frames, label "
                         f"{d['last_label']}, GMACs/frame {d['gmacs_per_frame']:.4f}")
    return "\n".join(lines)


def live(args: argparse.Namespace) -> int:
    """One loop for N >= 1 sources: each tick one sampled frame of every stream still running."""
    from edge_runtime.multistream import MultiStreamPipeline, next_tick
    from edge_runtime.sources import SourceError, open_source
    uris = args.source or ["0"]
    for k in ("max_steps", "window", "resize_workers"):
        v = getattr(args, k)
        lo = 0 if k == "max_steps" else 1
        if v is not None and v < lo:
            raise UsageError(f"--{k.replace('_', '-')} must be >= {lo}, got {v}")
    if args.resize_workers is not None and len(uris) == 1:
        raise UsageError("--resize-workers resizes several streams' frames in parallel; it needs "
                         "two or more --source")
    if args.top_k < 1:
        raise UsageError(f"--top-k must be >= 1, got {args.top_k}")
    opts = source_options(args)
    sfile = SummaryFile.from_args(args)
    power = budget_power(args)
    eng = MultiStreamPipeline(engines=make_engines(args), streams=len(uris), window=args.window,
                              top_k=args.top_k, margin=args.margin, hold=args.hold,
                              resize_workers=args.resize_workers, target_fps=args.target_fps,
                              target_mw=args.target_mw, power=power)
    if len(uris) > 1:
        eng.warm()   # batch engines (LiteRT interpreters, CUDA graphs) made now, not in the first ticks
    title = f"AR-Net Edge - {eng.manifest.name}" + (f" - {len(uris)} streams" if len(uris) > 1 else "")
    web = start_server(args, uris, eng)
    view = Display(args, title, 1.0 / eng.seconds_per_step, prog=PROG)
    srcs: list = []
    errors: dict[int, str] = {}   # stream -> why its source stopped for good
    reported: set[int] = set()
    last_rgb: dict[int, Any] = {}
    last_ev: dict[int, Any] = {}
    out = sys.stdout
    t_start = time.perf_counter()
    t_last = rate = None  # EMA of the ticks actually processed per second (wall clock)

    def summary_now() -> dict:
        extra: dict = {"record": args.record}
        if web is not None:
            extra["serve"] = {"url": web.url(token=False), "token": web.token is not None,
                              "max_viewers": web.view.max_viewers,
                              "viewers": dict(web.view.viewers), "refused_viewers": web.view.refused,
                              "images_encoded": web.view.frames_encoded}
        return summarize(eng, uris, srcs, errors, time.perf_counter() - t_start, extra)
    try:
        for u in uris:   # every source must open: a bad URI is a usage error before anything runs
            srcs.append(open_source(u, eng.seconds_per_step, **opts))
        gens = {i: s.frames(lambda i=i: eng.needs_frame(i)) for i, s in enumerate(srcs)}
        while gens and (args.max_steps is None or eng.steps < args.max_steps):
            tick = next_tick(gens, errors)
            for i in sorted(errors.keys() - reported):
                reported.add(i)
                if eng.steps == 0 and not gens:
                    raise SourceError(errors[i])     # nothing ran: a bad source, exit 2
                print(f"{PROG}: error: {errors[i]}; summary of the {eng.steps} steps so far follows"
                      if len(uris) == 1 else
                      f"{PROG}: stream {i} ({uris[i]}) stopped: {errors[i]}; the other streams go on",
                      file=sys.stderr)
            if not tick:
                break
            dec = [sf.decode_ms for sf in tick.values() if sf.decode_ms is not None]
            evs = eng.step({i: sf.frame for i, sf in tick.items()}, decode_ms=sum(dec) if dec else None,
                           t={i: sf.t for i, sf in tick.items()})
            now = time.perf_counter()
            if t_last is not None and now > t_last:
                rate = 1.0 / (now - t_last) if rate is None else 0.9 * rate + 0.1 / (now - t_last)
            t_last = now
            if view.headless:
                out.write("".join(json.dumps(e.to_dict()) + "\n" for e in evs.values()))
                out.flush()
            if view.draws:
                last_ev.update(evs)
                last_rgb.update((i, sf.frame) for i, sf in tick.items() if sf.frame is not None)
                img = render(uris, last_rgb, last_ev, eng, rate)
                if img is not None and view.show(img):
                    break
            if sfile.due():
                sfile.write(summary_now(), running=True)
            if web is not None:
                lv = web.view
                lv.publish(evs, {i: sf.frame for i, sf in tick.items()}, rate)
                if lv.commands:
                    lv.apply(eng)
                if lv.status_due():
                    lv.set_status(summary_now())
                if lv.paused:
                    lv.set_status(summary_now())
                    while lv.paused:
                        time.sleep(0.05)
                        if lv.commands:
                            lv.apply(eng)
                    t_last = None   # the pause is not a slow tick
    except KeyboardInterrupt as e:
        print(f"{PROG}: {stop_reason(e)}; summary follows", file=sys.stderr)
    finally:
        for s in srcs:
            s.close()
        view.close()
        eng.close()
        if web is not None:
            web.close()
    s = summary_now()
    if view.headless:
        out.write(json.dumps({"summary": s}) + "\n")
        out.flush()
    if not args.quiet:
        print(summary_text(s), file=sys.stderr)
    sfile.write(s, running=False)
    return EXIT_SOURCE_LOST if errors else 0


def start_server(args: argparse.Namespace, uris: list[str], eng: Any):
    """``--serve``: the browser view's server, started, its address on stderr; None without it."""
    if args.serve is None:
        if args.serve_token is not None:
            raise UsageError("--serve-token is the token of the browser view; give --serve [HOST:]PORT too")
        return None
    from edge_runtime.serve import LiveView, ServeError, ViewServer, parse_bind, redact
    try:
        host, port = parse_bind(args.serve)
        shown = [redact(u) for u in uris]
        lv = LiveView(uris, lambda frames, evs, rate: render(shown, frames, evs, eng, rate),
                      {"model": eng.manifest.name, "resolutions": list(eng.manifest.resolutions)},
                      max_viewers=args.serve_max_viewers, has_power=eng.power is not None)
        web = ViewServer(lv, host, port, token=args.serve_token).start()
    except ServeError as e:
        raise UsageError(str(e)) from None
    print(f"{PROG}: browser view at {web.url()}"
          + (" (token generated; pass --serve-token to choose one)" if web.generated else ""),
          file=sys.stderr, flush=True)
    return web


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(PROG, live, argv, build_parser())


if __name__ == "__main__":
    sys.exit(main())
