"""Golden traces: what the runtime's models output and what the streaming rules made of it.

Format ``arnet-golden-trace/1`` (android_demo/core/GOLDEN_FORMAT.md; the Kotlin core's
``GoldenTraceTest`` replays every ``android_demo/core/src/test/resources/golden/*.json``)::

    {"format": "arnet-golden-trace/1", "name": ..., "description": ..., "generator": ...,
     "manifest": {the full manifest},
     "options": {"window": W | null, "top_k": 3, "margin": 0.1, "hold": 2, "lambda": 0.0},
     "steps": [{"t": 0, "clear": true?,                       # clear() before this step
                "policy": {"action_logits", "class_logits", "h", "c"} | null,   # null = skipped
                "backbone": {"id", "class_logits"} | null,
                "expect": {"kind", "action", "top": [[idx, score], ...], "label": str | null,
                           "scores": [...] | null}}, ...],
     "clip": {"scores": [...]}?}      # predict_clip over all the steps (traces without clear)

Recorded tensors are float32 values written exactly (as float64 JSON numbers); scores are float64
and compared with a 1e-9 tolerance; kinds, actions, top-k indices and labels must be identical.

    python -m edge_runtime.golden --model DIR --video CLIP [--video CLIP2 ...] \\
        --out android_demo/core/src/test/resources/golden/NAME.json [--backend litert] \\
        [--precision auto|fp32|fp16|int8] [--window W] [--lambda L] [--clip]

:func:`replay` runs :class:`~edge_runtime.pipeline.StreamingController` on a trace's recorded
outputs and returns every mismatch with its expectations (``tests/edge/test_golden.py`` runs it
on the committed traces).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

if __package__ in (None, ""):  # pragma: no cover - run as a script
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

import numpy as np  # noqa: E402

from edge_runtime.manifest import Manifest  # noqa: E402
from edge_runtime.controller import StreamingController, mean_in_order, sigmoid64, softmax64  # noqa: E402

FORMAT = "arnet-golden-trace/1"
SCORE_TOL = 1e-9
GOLDEN_DIR = Path(__file__).resolve().parents[1] / "android_demo" / "core" / "src" / "test" / "resources" / "golden"


def _f32_list(x: Any) -> list[float]:
    return [float(v) for v in np.asarray(x, np.float32).reshape(-1)]


def _options(trace: dict) -> dict:
    o = dict(trace.get("options") or {})
    return {"window": o.get("window"), "top_k": int(o.get("top_k", 3)), "margin": float(o.get("margin", 0.1)),
            "hold": int(o.get("hold", 2)), "lambda": float(o.get("lambda", 0.0))}


def _bias(m: Manifest, lam: float) -> np.ndarray | None:
    if not lam:
        return None
    from edge_runtime.budget import normalised_costs
    return lam * normalised_costs(m)


# ================================================================================ replay
def replay(trace: dict, name: str = "trace") -> list[str]:
    """Run the controller over ``trace``'s recorded model outputs; return the mismatches
    (empty list = the trace replays identically)."""
    errs: list[str] = []
    if trace.get("format") != FORMAT:
        return [f"{name}: format {trace.get('format')!r}, expected {FORMAT!r}"]
    m = Manifest.from_dict(trace["manifest"], f"{name}:manifest")
    o = _options(trace)
    ctrl = StreamingController.from_manifest(m, window=o["window"], top_k=o["top_k"], margin=o["margin"],
                                             hold=o["hold"])
    bias = _bias(m, o["lambda"])
    steps = trace.get("steps") or []
    if not steps:
        return [f"{name}: no steps"]

    def decide(c: StreamingController, step: dict, w: str) -> tuple[str, Any, Any]:
        """(kind/err, controller result, low logits) for one step on controller ``c``."""
        pol, bb = step.get("policy"), step.get("backbone")
        if not c.needs_frame:
            if pol is not None or bb is not None:
                raise AssertionError(f"{w}: a skipped step, but the trace ran the policy/backbone")
            return c.skipped(), None
        if pol is None:
            raise AssertionError(f"{w}: a decision step, but the trace has policy = null")
        a = c.choose(np.asarray(pol["action_logits"], np.float32), bias)
        low = np.asarray(pol["class_logits"], np.float32)
        branch_logits = None
        if c.branch(a) is not None:
            want = m.actions[a].backbone
            if bb is None or bb.get("id") != want:
                raise AssertionError(f"{w}: action {a} runs {want!r}, the trace's backbone is "
                                     f"{None if bb is None else bb.get('id')!r}")
            branch_logits = np.asarray(bb["class_logits"], np.float32)
        elif bb is not None:
            raise AssertionError(f"{w}: action {a} runs no backbone, the trace has {bb.get('id')!r}")
        return c.settle(a, low, branch_logits), low

    for i, step in enumerate(steps):
        w = f"{name} t={i}"
        if step.get("t") != i:
            errs.append(f"{w}: steps[{i}].t is {step.get('t')!r}")
        if step.get("clear"):
            ctrl.clear()
        try:
            r, _ = decide(ctrl, step, w)
        except (AssertionError, ValueError) as e:
            errs.append(str(e))
            break
        ex = step.get("expect") or {}
        if ex.get("kind") != r.kind:
            errs.append(f"{w}: kind {r.kind!r}, expected {ex.get('kind')!r}")
        if ex.get("action") != r.action:
            errs.append(f"{w}: action {r.action}, expected {ex.get('action')}")
        top = ex.get("top", [])
        if [int(p[0]) for p in top] != [i_ for i_, _ in r.top]:
            errs.append(f"{w}: top {[(i_, round(s, 6)) for i_, s in r.top]}, expected {top}")
        else:
            for (gi, gs), (wi, ws) in zip(r.top, top):
                if not abs(gs - float(ws)) <= SCORE_TOL:
                    errs.append(f"{w}: top score of class {gi}: {gs!r}, expected {ws!r}")
        label = None if r.label is None else m.labels[r.label]
        if ex.get("label") != label:
            errs.append(f"{w}: label {label!r}, expected {ex.get('label')!r}")
        if "scores" in ex:
            want = ex["scores"]
            if (want is None) != (r.scores is None):
                errs.append(f"{w}: scores {'none' if r.scores is None else 'present'}, expected "
                            f"{'none' if want is None else 'present'}")
            elif want is not None:
                d = np.abs(np.asarray(want, np.float64) - r.scores)
                if len(want) != len(r.scores) or not (d <= SCORE_TOL).all():
                    errs.append(f"{w}: scores differ by up to {float(d.max()):.3g}")
    clip = trace.get("clip")
    if clip is not None and not errs:
        got = clip_scores(trace)
        want = np.asarray(clip.get("scores"), np.float64)
        if got is None or got.shape != want.shape or not (np.abs(got - want) <= SCORE_TOL).all():
            errs.append(f"{name}: clip scores {None if got is None else got.tolist()}, expected {want.tolist()}")
    return errs


def clip_scores(trace: dict) -> np.ndarray | None:
    """predict_clip over a trace's recorded outputs: window = number of steps; fallback to the
    mean of the policy's class logits over the decision steps when nothing was processed."""
    m = Manifest.from_dict(trace["manifest"], "clip")
    o = _options(trace)
    steps = trace["steps"]
    c = StreamingController.from_manifest(m, window=len(steps), top_k=o["top_k"], margin=0.0, hold=1)
    bias = _bias(m, o["lambda"])
    lows = []
    for st in steps:
        if not c.needs_frame:
            c.skipped()
            continue
        pol, bb = st["policy"], st.get("backbone")
        a = c.choose(np.asarray(pol["action_logits"], np.float32), bias)
        low = np.asarray(pol["class_logits"], np.float32)
        lows.append(np.asarray(low, np.float64))
        c.settle(a, low, np.asarray(bb["class_logits"], np.float32) if c.branch(a) is not None else None)
    s = c.current_scores()
    if s is None and lows:
        mm = mean_in_order(lows)
        s = sigmoid64(mm) if m.multi_label else softmax64(mm)
    return s


def check(trace: dict, name: str = "trace") -> None:
    errs = replay(trace, name)
    if errs:
        more = f"\n... and {len(errs) - 20} more" if len(errs) > 20 else ""
        raise AssertionError("\n".join(errs[:20]) + more)


def load(path: str | Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


# ================================================================================ writing
def near_ties(trace: dict, eps: float = 1e-12) -> list[str]:
    """Places where a last-bit difference in exp() between languages could change an outcome:
    adjacent top-k scores closer than ``eps`` (but not equal) or a hysteresis margin test that
    is decided by less than ``eps``."""
    out = []
    o = _options(trace)
    for st in trace["steps"]:
        sc = st["expect"].get("scores")
        if not sc:
            continue
        s = sorted(sc, reverse=True)[: o["top_k"] + 1]
        for a, b in zip(s, s[1:]):
            if a != b and a - b < eps:
                out.append(f"t={st['t']}: scores {a!r} and {b!r} are {a - b:.3g} apart")
    return out


def record(pipe: Any, clips: Iterable[Iterable[Any]], *, name: str, description: str = "",
           lam: float = 0.0, clip: bool = False, generator: str = "edge_runtime/golden.py",
           max_steps: int | None = None, state: bool | None = None) -> dict:
    """Run ``pipe`` (an :class:`~edge_runtime.pipeline.AdaptivePipeline`) over ``clips`` — each an
    iterable of :class:`~edge_runtime.sources.SampledFrame` or of uint8 RGB frames — and return
    the trace. Each clip after the first starts with ``clear()``. ``clip=True`` (one clip) adds
    the clip prediction. ``state``: record the policy's ``h``/``c`` (default: when ``hidden`` <= 64,
    which keeps traces of real models small, as GOLDEN_FORMAT.md asks)."""
    keep_state = pipe.manifest.hidden <= 64 if state is None else bool(state)
    from edge_runtime.controller import FixedLambda
    pipe.record_outputs = True
    pipe.budget = FixedLambda(pipe.manifest, lam) if lam else None
    steps: list[dict] = []
    n_clips = 0
    for ci, frames in enumerate(clips):
        pipe.clear()
        n_clips += 1
        first = True
        it = iter(frames)
        while True:
            if max_steps is not None and len(steps) >= max_steps:
                break
            try:
                f = next(it)
            except StopIteration:
                break
            frame = getattr(f, "frame", f) if not isinstance(f, np.ndarray) else f
            ev = pipe.step(frame if pipe.needs_frame() else None)
            st: dict[str, Any] = {"t": len(steps)}
            if first and ci > 0:
                st["clear"] = True
            first = False
            out = ev.outputs or {}
            pol, bb = out.get("policy"), out.get("backbone")
            st["policy"] = None if pol is None else {k: _f32_list(v) for k, v in pol.items()
                                                     if keep_state or k not in ("h", "c")}
            st["backbone"] = None if bb is None else {"id": bb["id"], "class_logits": _f32_list(bb["class_logits"])}
            st["expect"] = {"kind": ev.kind, "action": ev.action, "top": [[i, s] for i, s in ev.top],
                            "label": ev.label,
                            "scores": None if ev.scores is None else [float(x) for x in ev.scores]}
            steps.append(st)
    if not steps:
        raise ValueError("no frames: nothing to record")
    c = pipe.ctrl
    trace = {"format": FORMAT, "name": name, "description": description, "generator": generator,
             "manifest": pipe.manifest.to_dict(),
             "options": {"window": c.window, "top_k": c.top_k, "margin": c.margin, "hold": c.hold,
                         "lambda": float(lam)},
             "steps": steps}
    if clip:
        if n_clips != 1:
            raise ValueError("clip=True needs exactly one clip")
        s = clip_scores(trace)
        trace["clip"] = {"scores": None if s is None else [float(x) for x in s]}
    pipe.record_outputs = False
    pipe.budget = None
    return trace


def write(trace: dict, out: str | Path) -> Path:
    from edge_runtime.manifest import atomic_write_text
    check(trace, str(out))  # never write a trace that does not replay
    p = Path(out)
    atomic_write_text(p, json.dumps(trace, indent=1, allow_nan=False) + "\n")
    return p


# ================================================================================ CLI
def build_parser():
    import argparse

    from edge_runtime.cli import add_model_args
    ap = argparse.ArgumentParser(prog="python -m edge_runtime.golden",
                                 description="Write a golden trace (or --check existing ones).")
    add_model_args(ap)
    ap.add_argument("--video", action="append", default=[],
                    help="a clip (file or any source URI); repeat for several clips (clear() between)")
    ap.add_argument("--out", default=None, help="trace file to write (…/golden/NAME.json)")
    ap.add_argument("--name", default=None, help="trace name (default: the output file's stem)")
    ap.add_argument("--description", default="")
    ap.add_argument("--window", type=int, default=None)
    ap.add_argument("--top-k", type=int, default=3)
    ap.add_argument("--margin", type=float, default=0.1)
    ap.add_argument("--hold", type=int, default=2)
    ap.add_argument("--lambda", dest="lam", type=float, default=0.0, help="fixed budget λ")
    ap.add_argument("--clip", action="store_true", help="one clip: also record predict_clip's scores")
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--state", choices=("auto", "yes", "no"), default="auto",
                    help="record the policy's h/c (auto: when hidden <= 64)")
    ap.add_argument("--seed", type=int, default=0, help="fake backend seed")
    ap.add_argument("--debug", action="store_true")
    return ap


def _golden(args) -> int:
    from edge_runtime.cli import UsageError, make_pipeline
    from edge_runtime.sources import open_source
    if not args.video:
        raise UsageError("give at least one --video")
    if not args.out:
        raise UsageError("give --out FILE")
    pipe = make_pipeline(args, window=args.window, top_k=args.top_k, margin=args.margin, hold=args.hold,
                         seed=args.seed)
    sources = [open_source(v, pipe.seconds_per_step) for v in args.video]
    try:
        clips = [s.frames(pipe.needs_frame) for s in sources]
        name = args.name or Path(args.out).stem
        desc = args.description or (f"edge_runtime {args.backend}/{args.precision} on "
                                    + ", ".join(Path(v).name for v in args.video))
        tr = record(pipe, clips, name=name, description=desc, lam=args.lam, clip=args.clip,
                    generator=f"python -m edge_runtime.golden --backend {args.backend} --precision {args.precision}",
                    max_steps=args.max_steps, state={"auto": None, "yes": True, "no": False}[args.state])
    finally:
        for s in sources:
            s.close()
    for msg in near_ties(tr):
        print(f"warning: near-tie ({msg}); another language's exp() may order these differently",
              file=sys.stderr)
    p = write(tr, args.out)
    kinds: dict = {}
    for st in tr["steps"]:
        kinds[st["expect"]["kind"]] = kinds.get(st["expect"]["kind"], 0) + 1
    print(json.dumps({"wrote": str(p), "steps": len(tr["steps"]), "kinds": kinds}))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from edge_runtime.cli import run_cli
    return run_cli("golden", _golden, argv, build_parser())


if __name__ == "__main__":
    sys.exit(main())
