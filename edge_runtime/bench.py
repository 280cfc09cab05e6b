"""Benchmark AR-Net against its baselines on the same videos, same backend, in one run.

    python edge_runtime/bench.py --model artifacts/<name> --video FILE_OR_DIR [--backend litert]
        [--precision fp32] [--threads N] [--json PATH] [--sampling stream|clip]

Methods (one shared set of loaded engines; the step engine's modes, ``edge_runtime.engine``):

* ``adaptive``       — the AR-Net policy decides per sampled frame (resolution or skip);
* ``uniform``        — the biggest backbone (top branch) on every sampled frame (no policy);
* ``uniform@<size>`` — the branch of resolution ``size`` on every sampled frame (no policy);
* ``smallest``       — the lowest branch on every frame: the policy network's own low-resolution head.

By default every mode of the model runs: adaptive and every branch as a uniform method (for a
model with resolutions 224/168/112/84: ``adaptive, uniform, uniform@168, uniform@112,
smallest``); ``--methods`` picks some (``uniform@<top>`` is named ``uniform``,
``uniform@<lowest>`` ``smallest``).

Per method: processed fps (sampled frames per second of model-side time: resize + policy +
backbone), end-to-end fps (wall clock, decoding included — skipped frames are grabbed, never
decoded), ms per step p50/p95, GMACs per frame (from the manifest's cost table), ``resolution``
(a uniform method's branch; None for adaptive) and, for a ``root/<class>/*.mp4`` folder whose
class names match the manifest's labels, clip accuracy (the clip prediction is the mean of the
processed frames' logits over the whole clip, STREAMING.md's offline rule). ``speedup`` =
adaptive fps ÷ uniform fps (the top branch); ``wall_time_ratio`` = 1 ÷ speedup; ``gmacs_ratio``
= adaptive GMACs ÷ uniform GMACs.

What a user would run instead of AR-Net is the cheapest branch that is as accurate, so with
adaptive and at least one uniform method the result also has ``cheapest_as_accurate``: among the
uniform methods run, those whose clip accuracy is ≥ adaptive's (no margin: as accurate or
better, on the same clips), the one with the fewest GMACs per frame (ties: the more accurate,
then by name) — ``{method, resolution, accuracy, gmacs_per_frame, processed_fps,
end_to_end_fps}`` — with ``speedup_vs_cheapest_as_accurate`` = adaptive fps ÷ its fps and
``gmacs_ratio_vs_cheapest_as_accurate`` = adaptive GMACs ÷ its GMACs. When none is as accurate
(the top branch can be less accurate than adaptive too) or no clip is labelled, those are null
and ``cheapest_as_accurate_reason`` says why (null when one was found).

The run reports measurements only; targets for them are checked by whoever sets them
(``scripts/check_bench_goals.py`` reads the JSON). Methods are interleaved per clip (ABC, CBA,
...) so drifting clocks and thermals hit all of them alike. With ``--repeat N`` (N ≥ 2)
``per_pass`` holds the speedup and the wall − GMACs ratio of each pass alone: their spread is
the machine's noise, measured in the run.
Per method, ``ms_per_stage_mean`` splits a step into resize, policy and backbone.

One runner for any ``--streams B`` (default 1): the engines load once, each method is the step
engine (``edge_runtime.engine``) on B streams (one batched policy call per tick, one call per
branch on the streams that chose it), and each group of B videos is a tick loop until its last
stream ends (the last group is filled up with videos from the start, timed but not counted for
accuracy). ``ms p50/p95`` are per tick, fps counts stream frames, and the speedup is per stream
frame.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from typing import Any, Sequence  # noqa: E402

import numpy as np  # noqa: E402

PROG = "arnet-bench"
METHODS = ("adaptive", "uniform", "smallest")   # every model's; it also has uniform@<size> per middle branch
AS_ACCURATE_MARGIN = 0.0   # a uniform method is "as accurate" at accuracy >= adaptive's - this
BIG_WINDOW = 1 << 20  # clip-level prediction: every sampled frame of the clip


def build_parser() -> argparse.ArgumentParser:
    from edge_runtime.cli import add_model_args
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(ap)
    ap.add_argument("--video", required=True, help="a video file, or a folder (root/<class>/*.mp4 gives labels)")
    ap.add_argument("--json", default=None, metavar="PATH", help="write the results here")
    ap.add_argument("--methods", default=None,
                    help=f"comma-separated subset of {','.join(METHODS)},uniform@<size> (default: adaptive "
                         f"and every branch as a uniform method: adaptive,uniform,uniform@<size> per "
                         f"intermediate resolution,smallest)")
    ap.add_argument("--sampling", default="stream", choices=("stream", "clip"),
                    help="stream: one frame per seconds_per_step (the live rule, default); "
                         "clip: frames_per_clip frames spread over each video (evaluation rule)")
    ap.add_argument("--decode-threads", type=int, default=1, metavar="N",
                    help="FFmpeg decoder threads (default 1: FFmpeg's own multi-threaded decoding "
                         "runs beside the engines and takes their cores; 0 = FFmpeg's default)")
    ap.add_argument("--streams", type=int, default=1, metavar="B",
                    help="run B videos at once, batched (edge_runtime.multistream; default 1)")
    ap.add_argument("--resize-workers", type=int, default=None, metavar="N",
                    help="with --streams: threads that may resize a tick's frames, woken for big "
                         "batches only (default: one per core, at most 8)")
    ap.add_argument("--max-clips", type=int, default=None, help="use at most N videos")
    ap.add_argument("--max-steps", type=int, default=None, help="at most N sampled frames per clip")
    ap.add_argument("--warmup", type=int, default=3,
                    help="untimed warm-up steps per method (on the first video, then on random frames)")
    ap.add_argument("--repeat", type=int, default=1, help="passes over the videos")
    ap.add_argument("--quiet", action="store_true", help="no table on stdout")
    ap.add_argument("--debug", action="store_true")
    return ap


def _norm(s: str) -> str:
    return re.sub(r"[\s\-_]+", "_", s.strip().lower())


def match_labels(videos: list, labels: list[str]) -> tuple[list, list[str]]:
    """[(path, folder label)] -> [(path, class index | None)] and the unmatched folder names."""
    idx = {_norm(lab): i for i, lab in enumerate(labels)}
    out, unmatched = [], []
    for p, lab in videos:
        if lab is None:
            out.append((p, None))
            continue
        i = idx.get(_norm(lab))
        if i is None and lab.isdigit() and int(lab) < len(labels):
            i = int(lab)
        if i is None and lab not in unmatched:
            unmatched.append(lab)
        out.append((p, i))
    return out, unmatched


class MethodStats:
    def __init__(self, name: str) -> None:
        self.name = name
        self.step_ms: list[float] = []
        self.decode_ms: list[float] = []
        self.wall_s = 0.0
        self.steps = 0
        self.gmacs = 0.0
        self.correct = 0
        self.labelled = 0
        self.clips = 0
        self.actions: dict[str, int] = {}
        self.stage_ms: dict[str, float] = {}   # stage -> summed ms over every step

    def add_tick(self, ms: dict, events: Any, decode_ms: Any, adaptive: bool) -> None:
        """One timed step (one stream) or tick (several streams): its ms, its events' GMACs and
        actions, the decode times of the frames it read."""
        self.step_ms.append(ms["step"])
        for k, v in ms.items():
            if k != "decode":
                self.stage_ms[k] = self.stage_ms.get(k, 0.0) + v
        self.decode_ms.extend(d for d in decode_ms if d is not None)
        for e in events:
            self.gmacs += e.gmacs
            if adaptive:
                key = e.action_name if e.kind != "skipped" else "skipped"
                self.actions[key] = self.actions.get(key, 0) + 1

    def add_clip(self, scores: Any, label: int | None) -> None:
        self.clips += 1
        if label is not None and scores is not None:
            self.labelled += 1
            self.correct += int(int(np.argmax(scores)) == label)

    def totals(self) -> tuple[int, float, float]:
        """(steps, summed step ms, summed GMACs) after the clips run so far."""
        return self.steps, sum(self.step_ms), self.gmacs

    def summary(self, uniform_gmacs: float) -> dict:
        from edge_runtime.telemetry import percentile
        xs = sorted(self.step_ms)
        compute_s = sum(self.step_ms) / 1000.0
        e2e = self.wall_s
        d = {
            "clips": self.clips, "steps": self.steps,
            "processed_fps": self.steps / compute_s if compute_s > 0 else None,
            "end_to_end_fps": self.steps / e2e if e2e > 0 else None,
            "ms_per_step_mean": (sum(xs) / len(xs)) if xs else None,
            "ms_per_step_p50": percentile(xs, 50) if xs else None,
            "ms_per_step_p95": percentile(xs, 95) if xs else None,
            "decode_ms_per_step": (sum(self.decode_ms) / self.steps) if self.steps else None,
            "decoded_frames": len(self.decode_ms),
            "gmacs_per_frame": self.gmacs / self.steps if self.steps else None,
            "gmacs_vs_uniform": (self.gmacs / self.steps / uniform_gmacs) if (self.steps and uniform_gmacs) else None,
            "accuracy": self.correct / self.labelled if self.labelled else None,
            "labelled_clips": self.labelled,
            # per sampled frame (skipped frames count as 0): where a step's time goes
            "ms_per_stage_mean": {k: v / self.steps for k, v in self.stage_ms.items()} if self.steps else {},
        }
        if self.actions:
            d["actions"] = dict(self.actions)
        return d


def _open(path: Path, engine: Any, sampling: str, decode_threads: int | None = None):
    from edge_runtime.bench_clips import ClipSampledSource
    from edge_runtime.sources import open_source
    if sampling == "clip":
        return ClipSampledSource(path, int(engine.manifest.sampling["frames_per_clip"]), engine.seconds_per_step,
                                 quiet=True, decode_threads=decode_threads)
    return open_source(str(path), engine.seconds_per_step, quiet=True, decode_threads=decode_threads)


def run_group(eng: Any, group: list, st: MethodStats, sampling: str, max_steps: int | None,
              decode_threads: int | None = None) -> None:
    """B videos through the step engine ``eng`` (B streams), tick by tick until the last one
    ends. group: [(path, label or None, counted for accuracy)]."""
    from edge_runtime.multistream import next_tick
    eng.clear()
    t0 = time.perf_counter()
    srcs = [_open(path, eng, sampling, decode_threads) for path, _, _ in group]
    try:
        gens = {i: src.frames(lambda i=i: eng.needs_frame(i)) for i, src in enumerate(srcs)}
        n = 0
        while gens and (max_steps is None or n < max_steps):
            tick = next_tick(gens)
            if not tick:
                break
            dec = [sf.decode_ms for sf in tick.values() if sf.decode_ms is not None]
            evs = eng.step({i: sf.frame for i, sf in tick.items()}, decode_ms=sum(dec) if dec else None,
                           t={i: sf.t for i, sf in tick.items()})
            st.add_tick(next(iter(evs.values())).ms, evs.values(), (sf.decode_ms for sf in tick.values()),
                        eng.mode == "adaptive")
            st.steps += len(evs)
            n += 1
    finally:
        for src in srcs:
            src.close()
    st.wall_s += time.perf_counter() - t0
    for i, (_, label, counted) in enumerate(group):
        if counted:
            st.add_clip(eng.clip_scores(i), label)


def groups_of(videos: list, B: int) -> list[list]:
    """Consecutive groups of B videos; the last one filled up from the start (not counted)."""
    out = []
    for g in range(0, len(videos), B):
        grp = [(p, lab, True) for p, lab in videos[g:g + B]]
        k = 0
        while len(grp) < B:
            p, lab = videos[k % len(videos)]
            grp.append((p, lab, False))
            k += 1
        out.append(grp)
    return out


def _warm(eng: Any, steps: int, group: list, sampling: str, decode_threads: int | None = None) -> None:
    """Untimed: engines (every batch size, first-call allocations, autotuning) and the
    decoder/file cache: ``steps`` ticks of the first group, then as many of random frames."""
    eng.warm()
    if steps > 0:
        run_group(eng, group, MethodStats("warm-up"), sampling, steps, decode_threads)
        rng = np.random.default_rng(0)
        s0 = eng.manifest.resolutions[0]
        for _ in range(steps):
            eng.step({i: rng.integers(0, 256, (s0, s0, 3), dtype=np.uint8) if eng.needs_frame(i) else None
                      for i in range(eng.B)})
    eng.clear()
    eng.reset_telemetry()


def parse_methods(text: str | None, man: Any) -> list[str]:
    """``--methods`` as the model's mode names (canonical: ``uniform@<top>`` is ``uniform``), in
    the order given, each once; None: every mode of the model (``engine.mode_names``)."""
    from edge_runtime.cli import UsageError
    from edge_runtime.engine import mode_names, resolve_mode
    if text is None:
        return mode_names(man)
    out: list[str] = []
    bad = []
    for name in (x.strip() for x in text.split(",")):
        if not name:
            continue
        try:
            c = resolve_mode(man, name)[0]
        except ValueError:
            bad.append(name)
            continue
        if c not in out:
            out.append(c)
    if bad or not out:
        raise UsageError(f"--methods: unknown {bad}; valid choices for this model: {', '.join(mode_names(man))} "
                         f"(uniform@<size> for any of its resolutions {', '.join(map(str, man.resolutions))})")
    return out


def cheapest_as_accurate(methods: dict, reference: str = "adaptive",
                         candidates: Sequence[str] | None = None) -> tuple[str | None, str | None]:
    """The uniform method a user would pick instead of ``reference``: among ``candidates``
    (default: every method but the reference) with a clip accuracy ≥ the reference's −
    ``AS_ACCURATE_MARGIN`` (0: as accurate or better), the one with the fewest GMACs per frame
    (ties: the more accurate, then by name). ``methods``: {name: {"accuracy", "gmacs_per_frame",
    ...}} as in the bench JSON. Returns ``(name, None)``, or ``(None, why)`` when there is none."""
    names = [m for m in (methods if candidates is None else candidates) if m != reference and m in methods]
    ref = (methods.get(reference) or {}).get("accuracy")
    if not names:
        return None, f"no uniform method was run beside {reference}"
    if ref is None:
        return None, "clip accuracy unknown: no clip's folder names a manifest label"
    rated = [m for m in names
             if methods[m].get("accuracy") is not None and methods[m].get("gmacs_per_frame") is not None]
    ok = [m for m in rated if methods[m]["accuracy"] >= ref - AS_ACCURATE_MARGIN]
    if not ok:
        best = max(rated, key=lambda m: (methods[m]["accuracy"], m), default=None)
        return None, (f"no uniform method is as accurate as {reference} ({ref:.1%})"
                      + (f"; the most accurate, {best}, has {methods[best]['accuracy']:.1%}" if best else ""))
    return min(ok, key=lambda m: (methods[m]["gmacs_per_frame"], -methods[m]["accuracy"], m)), None


def compare_cheapest_as_accurate(res: dict) -> dict:
    """The JSON keys of the comparison with :func:`cheapest_as_accurate` (see the module doc)."""
    name, why = cheapest_as_accurate(res)
    a = res["adaptive"]
    out: dict[str, Any] = {"cheapest_as_accurate": None, "cheapest_as_accurate_reason": why,
                           "speedup_vs_cheapest_as_accurate": None, "gmacs_ratio_vs_cheapest_as_accurate": None}
    if name is None:
        return out
    c = res[name]
    out["cheapest_as_accurate"] = {"method": name, "resolution": c.get("resolution"),
                                   **{k: c.get(k) for k in ("accuracy", "gmacs_per_frame", "processed_fps",
                                                            "end_to_end_fps")}}
    if a["processed_fps"] and c["processed_fps"]:
        out["speedup_vs_cheapest_as_accurate"] = a["processed_fps"] / c["processed_fps"]
    if a["gmacs_per_frame"] is not None and c["gmacs_per_frame"]:
        out["gmacs_ratio_vs_cheapest_as_accurate"] = a["gmacs_per_frame"] / c["gmacs_per_frame"]
    return out


def bench(args: argparse.Namespace) -> int:
    from edge_runtime.bench_clips import list_videos
    from edge_runtime.cli import UsageError, make_engines
    from edge_runtime.engine import resolve_mode
    from edge_runtime.manifest import load_manifest
    methods = parse_methods(args.methods, load_manifest(args.model, verify=False))
    for k in ("max_clips", "max_steps", "repeat", "streams", "resize_workers"):
        v = getattr(args, k)
        if v is not None and v < 1:
            raise UsageError(f"--{k.replace('_', '-')} must be >= 1, got {v}")
    if args.decode_threads < 0:
        raise UsageError(f"--decode-threads must be >= 0 (0 = FFmpeg's default), got {args.decode_threads}")
    dec = args.decode_threads or None
    from edge_runtime.multistream import MultiStreamPipeline
    engines = make_engines(args)     # every network the methods need, loaded once
    man = engines.manifest
    videos = list_videos(args.video)
    if args.max_clips:
        videos = videos[: args.max_clips]
    videos, unmatched = match_labels(videos, man.labels)
    if unmatched:
        print(f"{PROG}: warning: folder(s) {unmatched} match no manifest label {man.labels}; "
              f"those clips count for speed, not accuracy", file=sys.stderr)
    B = args.streams
    pipes = {m: MultiStreamPipeline(engines=engines, streams=B, window=BIG_WINDOW, mode=m,
                                    resize_workers=args.resize_workers) for m in methods}
    units = groups_of(videos, B)
    for m in methods:
        _warm(pipes[m], args.warmup, units[0], args.sampling, dec)
    stats = {m: MethodStats(m) for m in methods}
    k = 0
    passes: list[dict] = []   # per pass and method: (steps, step ms, GMACs) of that pass alone
    for _ in range(args.repeat):
        before = {m: stats[m].totals() for m in methods}
        for unit in units:
            order = methods if k % 2 == 0 else list(reversed(methods))
            k += 1
            for m in order:
                run_group(pipes[m], unit, stats[m], args.sampling, args.max_steps, dec)
        passes.append({m: tuple(x - y for x, y in zip(stats[m].totals(), before[m])) for m in methods})
    uni = man.uniform_cost
    res = {m: stats[m].summary(uni) for m in methods}
    for m in methods:
        b = resolve_mode(man, m)[1]
        res[m]["resolution"] = None if b is None else int(man.resolutions[b])
    out: dict[str, Any] = {
        "model": man.name, "backend": engines.backend_name, "precision": engines.precision,
        "threads": args.threads, "policy_threads": getattr(args, "policy_threads", None),
        "sampling": args.sampling, "decode_threads": dec, "videos": len(videos), "repeat": args.repeat,
        "streams": B,
        "resize_workers": next(iter(pipes.values())).resizer.workers if B > 1 else None,
        "labelled_videos": sum(1 for _, lab in videos if lab is not None),
        "gmacs_unit": "GMACs (multiply-accumulates)", "uniform_gmacs_per_frame_manifest": uni,
        "methods": res,
        "engines": engines.describe(),
        "device": {"platform": platform.platform(), "machine": platform.machine(),
                   "python": platform.python_version(), "numpy": np.__version__},
    }
    if "adaptive" in res and "uniform" in res:
        a, u = res["adaptive"], res["uniform"]
        out["speedup"] = (a["processed_fps"] / u["processed_fps"]) if (a["processed_fps"] and u["processed_fps"]) else None
        out["speedup_end_to_end"] = (a["end_to_end_fps"] / u["end_to_end_fps"]) \
            if (a["end_to_end_fps"] and u["end_to_end_fps"]) else None
        out["gmacs_ratio"] = (a["gmacs_per_frame"] / u["gmacs_per_frame"]) \
            if (a["gmacs_per_frame"] is not None and u["gmacs_per_frame"]) else None
        out["wall_time_ratio"] = 1.0 / out["speedup"] if out["speedup"] else None
        if len(passes) > 1:
            out["per_pass"] = per_pass(passes)
    if "adaptive" in res and len(res) > 1:
        out.update(compare_cheapest_as_accurate(res))
    if not args.quiet:
        print(table(out))
    if args.json:
        from edge_runtime.manifest import atomic_write_text
        atomic_write_text(args.json, json.dumps(out, indent=2) + "\n")
    return 0


def per_pass(passes: list[dict]) -> dict:
    """Speedup and wall − GMACs ratio of each pass over the videos alone: their spread is this
    machine's run-to-run noise, measured in the same run."""
    sp, ex = [], []
    for p in passes:
        (sa, ma, ga), (su, mu, gu) = p["adaptive"], p["uniform"]
        if not (sa and su and ma > 0 and mu > 0 and gu > 0):
            continue
        wall = (ma / sa) / (mu / su)
        sp.append(1.0 / wall)
        ex.append(wall - (ga / sa) / (gu / su))
    return {"speedup": sp, "wall_minus_gmacs_ratio": ex}


def table(out: dict) -> str:
    def f(v: Any, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    head = ("method", "res", "fps", "e2e fps", "ms p50", "ms p95", "GMACs/fr", "vs unif", "acc")
    rows = []
    for m, r in out["methods"].items():
        rows.append((m, f(r.get("resolution"), "d"), f(r["processed_fps"], ".1f"), f(r["end_to_end_fps"], ".1f"),
                     f(r["ms_per_step_p50"], ".2f"), f(r["ms_per_step_p95"], ".2f"), f(r["gmacs_per_frame"], ".4f"),
                     f(r["gmacs_vs_uniform"], ".1%"), f(r["accuracy"], ".1%")))
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) for i in range(len(head))]
    lines = [f"{out['model']} · {out['backend']}/{out['precision']} · {out['videos']} video(s), "
             f"{out['sampling']} sampling"
             + (f" · {out['streams']} streams batched (ms per tick, fps in stream frames)"
                if out.get("streams", 1) > 1 else "")]
    lines.append("  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths))))
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    if "speedup" in out:
        lines.append(f"speedup (adaptive fps / uniform fps): {f(out['speedup'], '.2f')}x, end-to-end "
                     f"{f(out.get('speedup_end_to_end'), '.2f')}x; GMACs ratio {f(out.get('gmacs_ratio'), '.3f')}, "
                     f"wall-time ratio {f(out.get('wall_time_ratio'), '.3f')}")
        pp = out.get("per_pass") or {}
        if pp.get("speedup"):
            lines.append(f"per pass ({len(pp['speedup'])}): speedup {min(pp['speedup']):.2f}-"
                         f"{max(pp['speedup']):.2f}x, wall - GMACs {min(pp['wall_minus_gmacs_ratio']):+.3f} to "
                         f"{max(pp['wall_minus_gmacs_ratio']):+.3f}")
    if "cheapest_as_accurate_reason" in out:
        c = out.get("cheapest_as_accurate")
        rule = "cheapest uniform method as accurate as adaptive (clip accuracy >= adaptive's)"
        if c is None:
            lines.append(f"{rule}: none ({out['cheapest_as_accurate_reason']})")
        else:
            lines.append(f"{rule}: {c['method']}, {f(c['accuracy'], '.1%')} at {f(c['gmacs_per_frame'], '.4f')} "
                         f"GMACs/frame; adaptive runs {f(out['speedup_vs_cheapest_as_accurate'], '.2f')}x its fps at "
                         f"{f(out['gmacs_ratio_vs_cheapest_as_accurate'], '.3f')}x its GMACs")
    st = {m: r.get("ms_per_stage_mean") for m, r in out["methods"].items() if r.get("ms_per_stage_mean")}
    if st:
        lines.append("ms per sampled frame by stage: " + "; ".join(
            f"{m} " + ", ".join(f"{k} {v:.3f}" for k, v in d.items()) for m, d in st.items()))
    a = out["methods"].get("adaptive", {}).get("actions")
    if a:
        lines.append("adaptive actions: " + ", ".join(f"{k} {v}" for k, v in a.items()))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from edge_runtime.cli import run_cli
    return run_cli(PROG, bench, argv, build_parser())


if __name__ == "__main__":
    sys.exit(main())
