"""Live AR-Net recognition on a camera, stream or video file.

    python edge_runtime/live.py --model artifacts/<name> [--source URI ...] [--backend litert]
        [--precision fp32|fp16|int8] [--threads N] [--delegate xnnpack|none|/path/lib.so]
        [--providers cpu,cuda,tensorrt] [--headless] [--record out.mp4] [--top-k 3]
        [--window N] [--target-fps F | --target-mw P] [--max-steps N] [--json-out FILE]

Without ``--headless`` an OpenCV window shows the stream with the overlay (label, top-k scores,
chosen resolution or skip, fps, ms per stage, GMACs per frame); ``q`` or Esc quits. With
``--headless`` every step is one JSON line on stdout, and a final ``{"summary": ...}`` line
holds latency p50/p95 per stage, the action histogram, GMACs per frame against the uniform
baseline, measured ms per GMAC per network and energy where the device reports power.
``--json-out`` writes that summary to a file; with ``--summary-every S`` also every S seconds
while the run goes on (``"running": true``), for a dashboard, or so a power cut keeps the latest.
Bad inputs (manifest, artifacts, backend, precision, source) print one message on stderr and exit
with status 2.

Ctrl-C and SIGTERM (``systemctl stop``, ``docker stop``) end the run with its summary; the
``--record`` file grows under a hidden ``.<name>.partial`` name and replaces ``--record`` only when
finished, so it is always playable and an earlier recording is never half-overwritten.

A source that fails for good after the run has started (a camera or stream gone after its
reconnect attempts) ends the run with its message on stderr, the summary of the steps made so far
(stdout, ``--json-out``; its ``error`` says why) and exit status 3, so a supervisor can restart it.

Several ``--source`` (``--source cam0 --source rtsp://… --source clip.mp4``) run as streams of one
batched ``edge_runtime.multistream.MultiStreamPipeline``: the window (and ``--record``) shows a
grid with one overlaid cell per stream; headless, each JSON line carries its ``stream``; the
summary has one entry per stream and the per-tick latency. A stream whose source
ends, or fails for good (a camera gone after its reconnect attempts), drops out with a message on
stderr and an ``error`` in its summary; the run ends with the last one, with exit status 3 when a
stream failed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable, and not this folder
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from typing import Any, Sequence  # noqa: E402

EXIT_BAD_INPUT = 2
EXIT_SOURCE_LOST = 3   # a source failed for good mid-run; the summary was still written
PROG = "arnet-live"


class UsageError(ValueError):
    """A bad command-line combination (exit 2)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (``systemctl stop``, ``docker stop``, ``kill``): handled like Ctrl-C, so the run
    still ends with its summary and a playable ``--record`` file."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def stop_reason(e: KeyboardInterrupt) -> str:
    return "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"


def _quiet_env() -> None:
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_VIDEOIO_DEBUG", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def add_model_args(ap: argparse.ArgumentParser) -> None:
    """Options shared by live.py, bench.py and golden.py."""
    from edge_runtime.backends import ALL_BACKEND_NAMES
    ap.add_argument("--model", required=True, help="model folder holding manifest.json (artifacts/<name>)")
    ap.add_argument("--backend", default="litert",
                    help=f"inference engine: {', '.join(n for n in ALL_BACKEND_NAMES if n != 'fake')} "
                         f"(fake = numpy stand-in for testing, no artifacts); default litert")
    ap.add_argument("--precision", default="fp32", help="fp32 | fp16 | int8 (what the model folder has)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads for the engine")
    ap.add_argument("--policy-threads", type=int, default=None,
                    help="CPU threads for the policy network alone (default: --threads)")
    ap.add_argument("--delegate", default=None,
                    help="litert: xnnpack (default) | none | path to an external delegate .so (e.g. GPU)")
    ap.add_argument("--delegate-opt", action="append", default=[], metavar="KEY=VALUE",
                    help="option for the external delegate (repeatable)")
    ap.add_argument("--providers", default=None,
                    help="onnxruntime execution providers, comma-separated: cpu, cuda, tensorrt")
    ap.add_argument("--device", default=None, help="torch: cuda | cuda:N | cpu (default: cuda if available)")
    ap.add_argument("--no-verify", action="store_true", help="skip the artifacts' sha256 check")


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
    ap.add_argument("--input-size", type=_size_arg, default=None, metavar="WxH",
                    help="ask the camera(s) for this capture size, e.g. 640x480 (cameras and csi:// "
                         "only; a small mode saves the host the resize of big frames)")
    ap.add_argument("--decode-threads", type=int, default=None, metavar="N",
                    help="FFmpeg decoder threads for files and network streams (default: FFmpeg's "
                         "own; 1 leaves the cores to the inference engine)")
    ap.add_argument("--resize-workers", type=int, default=None, metavar="N",
                    help="several --source: threads that may resize a tick's frames, woken for "
                         "big batches only (default: one per core, at most 8)")
    ap.add_argument("--no-power", action="store_true", help="do not read power/battery sensors")
    ap.add_argument("--quiet", action="store_true", help="no summary table on stderr")
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    return ap


def _size_arg(text: str) -> tuple[int, int]:
    from edge_runtime.sources import parse_size
    try:
        return parse_size(text, None)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def parse_kv(items: Sequence[str], what: str) -> dict:
    out = {}
    for it in items:
        if "=" not in it:
            raise UsageError(f"{what}: expected KEY=VALUE, got {it!r}")
        k, v = it.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def make_pipeline(args: argparse.Namespace, **kw: Any):
    """Load the manifest, check backend/precision, build the pipeline (sha256 checked)."""
    from edge_runtime.backends import ALL_BACKEND_NAMES, BACKEND_NAMES, installed_backends
    from edge_runtime.manifest import PRECISIONS, ManifestError, load_manifest
    from edge_runtime.pipeline import AdaptivePipeline

    m = load_manifest(args.model, verify=False)
    if args.backend not in ALL_BACKEND_NAMES:
        raise UsageError(f"unknown backend {args.backend!r}; valid choices: {', '.join(BACKEND_NAMES)} "
                         f"(installed here: {', '.join(installed_backends()) or 'none'}; this model has "
                         f"artifacts for: {', '.join(m.backends()) or 'none'})")
    if args.precision not in PRECISIONS:
        raise UsageError(f"unknown precision {args.precision!r}; valid choices: {', '.join(PRECISIONS)}"
                         + (f" (this model has {', '.join(m.precisions(args.backend))} for {args.backend})"
                            if args.backend in m.backends() else ""))
    if args.backend != "fake":
        if args.backend not in m.backends():
            raise ManifestError(f"{m.root}: this model has no artifacts for backend {args.backend!r}; "
                                f"it has: {', '.join(m.backends()) or 'none'}")
        if args.precision not in m.precisions(args.backend):
            raise ManifestError(f"{m.root}: no {args.precision} artifacts for backend {args.backend!r}; "
                                f"available precisions: {', '.join(m.precisions(args.backend))}")
    for flag in ("threads", "policy_threads"):
        v = getattr(args, flag, None)
        if v is not None and v < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be >= 1, got {v}")
    providers = [p.strip() for p in args.providers.split(",") if p.strip()] if args.providers else None
    pipe = AdaptivePipeline(m, backend=args.backend, precision=args.precision, threads=args.threads,
                            policy_threads=getattr(args, "policy_threads", None),
                            delegate=args.delegate, delegate_options=parse_kv(args.delegate_opt, "--delegate-opt"),
                            providers=providers, device=args.device, verify=not args.no_verify, **kw)
    for w in pipe.engine_warnings():
        print(f"[arnet-edge] warning: {w}", file=sys.stderr)
    return pipe


def known_errors() -> tuple:
    from edge_runtime.backends import BackendError
    from edge_runtime.manifest import ManifestError
    from edge_runtime.sources import SourceError
    errs: list = [ManifestError, BackendError, SourceError, UsageError, FileNotFoundError,
                  PermissionError, IsADirectoryError]
    try:
        from edge_runtime.profile import ProfileError
        errs.append(ProfileError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errs)


def run_cli(prog: str, body, argv: Sequence[str] | None, parser: argparse.ArgumentParser) -> int:
    """Parse, run ``body(args)``, turn known errors into one stderr line and exit status 2."""
    _quiet_env()
    args = parser.parse_args(argv)
    import signal
    import threading
    installed, old = False, None
    if threading.current_thread() is threading.main_thread():
        old, installed = signal.signal(signal.SIGTERM, _on_sigterm), True
    try:
        return int(body(args) or 0)
    except KeyboardInterrupt as e:   # before the run's loop (loading): nothing to summarise
        print(f"{prog}: {stop_reason(e)}", file=sys.stderr)
        return 130 if not isinstance(e, Terminated) else 143
    except known_errors() as e:
        if getattr(args, "debug", False):
            raise
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ValueError, OSError) as e:
        if getattr(args, "debug", False):
            raise
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as e:  # an engine failing mid-run: still no traceback without --debug
        if getattr(args, "debug", False):
            raise
        print(f"{prog}: unexpected error: {type(e).__name__}: {e} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1
    finally:
        if installed:
            signal.signal(signal.SIGTERM, old if old is not None else signal.SIG_DFL)


# ============================================================================== the run
def _gui_available() -> bool:
    import cv2
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:"):
            return "NONE" not in line.upper()
    return True


def summarize(pipe: Any, source: Any, wall_s: float, extra: dict | None = None) -> dict:
    s = pipe.summary()
    steps = s["steps"]
    lat = s["latency_ms"].get("step")
    s["wall_s"] = wall_s
    s["end_to_end_fps"] = steps / wall_s if wall_s > 0 else None
    dec = s["latency_ms"].get("decode")
    compute_ms = (lat["mean_ms"] * lat["count"] if lat else 0.0) + (dec["mean_ms"] * dec["count"] if dec else 0.0)
    s["processed_fps"] = steps / (compute_ms / 1000.0) if compute_ms > 0 else None
    s["source"] = source.describe() if source is not None else None
    if source is not None:
        s["source"].update(decoded=source.decoded, grabbed=source.grabbed)
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
    return "\n".join(lines)


def live(args: argparse.Namespace) -> int:
    from edge_runtime.sources import SourceError, open_source
    sources = args.source or ["0"]
    if len(sources) > 1:
        return live_streams(args, sources)
    if args.resize_workers is not None:
        raise UsageError("--resize-workers resizes several streams' frames in parallel; it needs "
                         "two or more --source")
    if args.max_steps is not None and args.max_steps < 0:
        raise UsageError(f"--max-steps must be >= 0, got {args.max_steps}")
    if args.top_k < 1:
        raise UsageError(f"--top-k must be >= 1, got {args.top_k}")
    if args.window is not None and args.window < 1:
        raise UsageError(f"--window must be >= 1, got {args.window}")
    opts = source_options(args)
    sfile = SummaryFile.from_args(args)
    power = budget_power(args)
    pipe = make_pipeline(args, window=args.window, top_k=args.top_k, margin=args.margin, hold=args.hold,
                         target_fps=args.target_fps, target_mw=args.target_mw, power=power)
    source = open_source(sources[0], pipe.seconds_per_step, **opts)
    view = Display(args, f"AR-Net Edge - {pipe.manifest.name}", 1.0 / pipe.seconds_per_step)
    headless = view.headless
    import cv2

    from edge_runtime.overlay import draw_overlay
    last_rgb = None
    out = sys.stdout
    t_start = time.perf_counter()
    t_last = None
    rate = None  # EMA of the steps actually processed per second (wall clock)
    lost = None  # why the source stopped for good mid-run
    try:
        for ev_frame in source.frames(pipe.needs_frame):
            if args.max_steps is not None and pipe.steps >= args.max_steps:
                break
            ev = pipe.step(ev_frame.frame, t=ev_frame.t, decode_ms=ev_frame.decode_ms)
            now = time.perf_counter()
            if t_last is not None and now > t_last:
                r = 1.0 / (now - t_last)
                rate = r if rate is None else 0.9 * rate + 0.1 * r
            t_last = now
            if ev_frame.frame is not None:
                last_rgb = ev_frame.frame
            if headless:
                out.write(json.dumps(ev.to_dict()) + "\n")
                out.flush()
            if view.draws and last_rgb is not None:
                img = cv2.cvtColor(last_rgb, cv2.COLOR_RGB2BGR)
                gpf = pipe.gmacs_total / pipe.steps if pipe.steps else None
                draw_overlay(img, ev, fps=rate, capacity_fps=pipe.measured_fps, gmacs_per_frame=gpf,
                             uniform_gmacs=pipe.manifest.uniform_cost)
                if view.show(img):
                    break
            if sfile.due():
                sfile.write(summarize(pipe, source, time.perf_counter() - t_start, {"record": args.record}),
                            running=True)
    except KeyboardInterrupt as e:
        print(f"{PROG}: {stop_reason(e)}; summary follows", file=sys.stderr)
    except SourceError as e:
        if pipe.steps == 0:
            raise              # nothing ran: a bad source, exit 2
        lost = str(e)
        print(f"{PROG}: error: {lost}; summary of the {pipe.steps} steps so far follows", file=sys.stderr)
    finally:
        source.close()
        view.close()
    wall = time.perf_counter() - t_start
    s = summarize(pipe, source, wall, {"record": args.record, "error": lost})
    if headless:
        out.write(json.dumps({"summary": s}) + "\n")
        out.flush()
    if not args.quiet:
        print(summary_text(s), file=sys.stderr)
    sfile.write(s, running=False)
    return EXIT_SOURCE_LOST if lost else 0


class SummaryFile:
    """``--json-out``: the run's summary, written atomically at the end and, with
    ``--summary-every S``, every S seconds while running (marked ``"running": true``)."""

    def __init__(self, path: str | None, every_s: float | None = None,
                 clock: Any = time.monotonic) -> None:
        self.path, self.every_s, self.clock = path, every_s, clock
        self.next_t = clock() + every_s if path and every_s else math.inf

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "SummaryFile":
        every = args.summary_every
        if every is not None:
            if not (math.isfinite(every) and every > 0):
                raise UsageError(f"--summary-every must be a positive number of seconds, got {every}")
            if not args.json_out:
                raise UsageError("--summary-every rewrites the --json-out file; give --json-out FILE too")
        return cls(args.json_out, every)

    def due(self) -> bool:
        return self.clock() >= self.next_t

    def write(self, summary: dict, running: bool) -> None:
        if not self.path:
            return
        from edge_runtime.manifest import atomic_write_text
        if self.every_s:
            summary = {**summary, "running": running}
            self.next_t = self.clock() + self.every_s
        atomic_write_text(self.path, json.dumps(summary, indent=2) + "\n")


def source_options(args: argparse.Namespace) -> dict:
    """``open_source`` keywords from the flags, checked before any model loads."""
    if args.decode_threads is not None and args.decode_threads < 0:
        raise UsageError(f"--decode-threads must be >= 0 (0 = FFmpeg's default), got {args.decode_threads}")
    if not (math.isfinite(args.stream_timeout) and args.stream_timeout > 0):
        raise UsageError(f"--stream-timeout must be a positive number of seconds, got {args.stream_timeout}")
    if not (math.isfinite(args.input_rate) and args.input_rate > 0):
        raise UsageError(f"--input-rate must be a positive number of frames per second, got {args.input_rate}")
    return dict(reconnect_tries=args.reconnect, quiet=True, decode_threads=args.decode_threads,
                capture_size=args.input_size, stream_timeout_s=args.stream_timeout,
                image_fps=args.input_rate)


def budget_power(args: argparse.Namespace) -> Any:
    """Check --target-fps / --target-mw; the device's PowerMonitor (None with --no-power)."""
    for k in ("target_fps", "target_mw"):
        v = getattr(args, k)
        if v is not None and not v > 0:
            raise UsageError(f"--{k.replace('_', '-')} must be > 0, got {v}")
    power = None
    if not args.no_power:
        from edge_runtime.telemetry import PowerMonitor
        power = PowerMonitor.autodetect()
    if args.target_mw is not None and (power is None or not power.available):
        raise UsageError("--target-mw needs a power reading, and " + (
            "--no-power turned it off" if power is None else
            "no power source was found on this device (Jetson INA3221, Raspberry Pi 5 PMIC, "
            "/sys/class/power_supply battery); use --target-fps instead"))
    return power


def live_streams(args: argparse.Namespace, uris: list[str]) -> int:
    """Several sources as the streams of one MultiStreamPipeline: JSON lines, then a summary."""
    from edge_runtime.multistream import MultiStreamPipeline, next_tick
    from edge_runtime.sources import open_source
    from edge_runtime.telemetry import LatencyStats
    for k in ("max_steps", "window", "resize_workers"):
        v = getattr(args, k)
        lo = 0 if k == "max_steps" else 1
        if v is not None and v < lo:
            raise UsageError(f"--{k.replace('_', '-')} must be >= {lo}, got {v}")
    if args.top_k < 1:
        raise UsageError(f"--top-k must be >= 1, got {args.top_k}")
    opts = source_options(args)
    sfile = SummaryFile.from_args(args)
    power = budget_power(args)
    base = make_pipeline(args, window=args.window, top_k=args.top_k, margin=args.margin, hold=args.hold)
    ms = MultiStreamPipeline(base.manifest, len(uris), backend=base.backend_name, precision=base.precision,
                             window=args.window, top_k=args.top_k, margin=args.margin, hold=args.hold,
                             backends=base.models, resize_workers=args.resize_workers,
                             target_fps=args.target_fps, target_mw=args.target_mw, power=power)
    ms.warm()   # batch engines (LiteRT interpreters, CUDA graphs) made now, not in the first ticks
    view = Display(args, f"AR-Net Edge - {base.manifest.name} - {len(uris)} streams", 1.0 / base.seconds_per_step)
    headless, draw = view.headless, view.draws
    last_rgb: dict[int, Any] = {}
    last_ev: dict[int, Any] = {}
    srcs = []
    lat = LatencyStats()
    errors: dict[int, str] = {}   # stream -> why its source stopped for good
    reported: set[int] = set()
    per = [{"steps": 0, "gmacs": 0.0, "actions": {}, "label": None} for _ in uris]
    out = sys.stdout
    t_start = time.perf_counter()

    def summary_now() -> dict:
        return streams_summary(args, base, ms, uris, per, errors, lat, time.perf_counter() - t_start)
    try:
        for u in uris:   # every source must open: a bad URI is a usage error before anything runs
            srcs.append(open_source(u, base.seconds_per_step, **opts))
        gens = {i: s.frames(lambda i=i: ms.needs_frame(i)) for i, s in enumerate(srcs)}
        while gens and (args.max_steps is None or ms.steps < args.max_steps):
            tick = next_tick(gens, errors)
            for i in errors.keys() - reported:
                print(f"{PROG}: stream {i} ({uris[i]}) stopped: {errors[i]}; the other streams go on",
                      file=sys.stderr)
                reported.add(i)
            if not tick:
                break
            dec = [sf.decode_ms for sf in tick.values() if sf.decode_ms is not None]
            evs = ms.step({i: sf.frame for i, sf in tick.items()}, decode_ms=sum(dec) if dec else None)
            for k, v in next(iter(evs.values())).ms.items():
                lat.add(k, v)
            for i, e in evs.items():
                d = per[i]
                d["steps"] += 1
                d["gmacs"] += e.gmacs
                d["actions"][e.action_name] = d["actions"].get(e.action_name, 0) + (e.kind != "skipped")
                d["label"] = e.label
                if headless:
                    out.write(json.dumps({"stream": i, **e.to_dict()}) + "\n")
                if draw:
                    last_ev[i] = e
                    if tick[i].frame is not None:
                        last_rgb[i] = tick[i].frame
            if headless:
                out.flush()
            if draw and view.show(_grid(uris, last_rgb, last_ev, per, base.manifest.uniform_cost)):
                break
            if sfile.due():
                sfile.write(summary_now(), running=True)
    except KeyboardInterrupt as e:
        print(f"{PROG}: {stop_reason(e)}; summary follows", file=sys.stderr)
    finally:
        for s in srcs:
            s.close()
        view.close()
        ms.close()
    summary = summary_now()
    if headless:
        sys.stdout.write(json.dumps({"summary": summary}) + "\n")
        sys.stdout.flush()
    if not args.quiet:
        print(f"{len(uris)} streams, {ms.steps} ticks, {summary['steps']} stream frames in "
              f"{summary['wall_s']:.2f} s", file=sys.stderr)
        for st in summary["streams"]:
            print(f"  stream {st['stream']} ({st['source']}): {st['steps']} frames, label {st['last_label']}, "
                  f"GMACs/frame {st['gmacs_per_frame']:.4f}", file=sys.stderr)
    sfile.write(summary, running=False)
    return EXIT_SOURCE_LOST if errors else 0


def streams_summary(args: argparse.Namespace, base: Any, ms: Any, uris: list[str], per: list[dict],
                    errors: dict[int, str], lat: Any, wall: float) -> dict:
    """The summary of a several-stream run: one entry per stream, per-tick latency, energy, budget."""
    uni = base.manifest.uniform_cost
    streams = []
    for i, (u, d) in enumerate(zip(uris, per)):
        g = d["gmacs"] / d["steps"] if d["steps"] else 0.0
        streams.append({"stream": i, "source": u, "steps": d["steps"], "last_label": d["label"],
                        "error": errors.get(i),
                        "actions": {k: v for k, v in d["actions"].items() if v},
                        "gmacs_per_frame": g, "gmacs_ratio": g / uni if uni > 0 else None})
    steps = sum(d["steps"] for d in per)
    summary = {"record": args.record, "model": base.manifest.name, "backend": base.backend_name, "precision": base.precision,
               "streams": streams, "ticks": ms.steps, "steps": steps, "wall_s": wall,
               "end_to_end_fps": steps / wall if wall > 0 else None, "latency_ms_per_tick": lat.summary(),
               "uniform_gmacs_per_frame": uni, "engines": base.summary().get("engines"),
               "capacity_fps": ms.measured_fps}
    if ms.power is not None:
        summary["energy"] = ms.energy.summary()
        summary["power_source"] = getattr(ms.power, "name", None)
    if ms.budget is not None:
        summary["budget"] = ms.budget.state()
    return summary


def _grid(uris: list, last_rgb: dict, last_ev: dict, per: list, uniform: float):
    """One overlaid cell per stream (its last frame and event), tiled."""
    import cv2

    from edge_runtime.overlay import draw_overlay, grid_image
    cells = []
    for i in range(len(uris)):
        if i not in last_rgb:
            cells.append(None)
            continue
        img = cv2.cvtColor(cv2.resize(last_rgb[i], (480, 360), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)
        d = per[i]
        draw_overlay(img, last_ev[i], gmacs_per_frame=d["gmacs"] / d["steps"] if d["steps"] else None,
                     uniform_gmacs=uniform)
        cv2.putText(img, f"[{i}] {uris[i]}"[:60], (6, 352), 0, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        cells.append(img)
    return grid_image(cells)


class Display:
    """The window (``q``/Esc quits) and the ``--record`` file of a run; headless without a GUI."""

    def __init__(self, args: argparse.Namespace, title: str, fps: float) -> None:
        self.headless = bool(args.headless)
        if not self.headless and not _gui_available():
            print(f"{PROG}: this OpenCV has no GUI (opencv-python-headless); running --headless",
                  file=sys.stderr)
            self.headless = True
        self.record, self.title, self.fps = args.record, title, fps
        self.draws = not self.headless or bool(self.record)   # whether images are wanted
        self._writer = None
        self._partial: Path | None = None   # the recording is written here, renamed on close

    def show(self, img_bgr) -> bool:
        """Record and/or display one image; True when the user asked to quit."""
        import cv2
        if self.record:
            if self._writer is None:
                self._partial = _partial_path(self.record)
                self._writer = _open_writer(self.record, img_bgr.shape, self.fps, self._partial)
            self._writer.write(img_bgr)
        if not self.headless:
            cv2.imshow(self.title, img_bgr)
            return (cv2.waitKey(1) & 0xFF) in (ord("q"), 27)
        return False

    def close(self) -> None:
        """Finish the recording (a released writer's file is playable) and put it in place: an
        earlier file at ``--record`` is replaced only by a finished one."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            if self._partial is not None and self._partial.exists():
                os.replace(self._partial, self.record)
        if not self.headless:
            import cv2
            try:
                cv2.destroyAllWindows()
            except cv2.error:
                pass


def _partial_path(path: str) -> Path:
    """Where a recording grows until the run ends: hidden, beside it, same extension (OpenCV
    picks the container by extension)."""
    p = Path(path)
    return p.with_name(f".{p.stem}.partial{p.suffix}")


def _open_writer(path: str, shape: tuple, fps: float, target: Path):
    """A writer for the ``--record`` file ``path`` (its folder and extension), writing ``target``."""
    import cv2
    p = Path(path)
    if p.parent and not p.parent.exists():
        raise UsageError(f"--record {path}: folder {p.parent} does not exist")
    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if p.suffix.lower() in (".mp4", ".m4v", ".mov") else "MJPG"))
    w = cv2.VideoWriter(str(target), fourcc, max(fps, 1.0), (shape[1], shape[0]))
    if not w.isOpened():
        raise UsageError(f"--record {path}: cannot write this video (try .mp4 or .avi)")
    return w


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(PROG, live, argv, build_parser())


if __name__ == "__main__":
    sys.exit(main())
