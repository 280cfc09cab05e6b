#!/usr/bin/env python3
"""Regenerate the Kotlin core's hand-made test fixtures (run from the repo root with the venv):

    .venv/bin/python android_demo/core/tools/make_fixtures.py

Writes, under android_demo/core/src/test/resources/:

- ``golden/handmade_*.json``: golden traces (format: android_demo/core/GOLDEN_FORMAT.md) whose
  expectations come from ``Reference`` below, a small independent plain-Python reading of
  docs/STREAMING.md (NOT edge_runtime: the real runtime writes its own ``golden/*.json``).
- ``manifest_cases.json``: mutations of a valid manifest and the field path that
  ``edge_runtime.manifest`` names when it rejects them (null = accepted). The Kotlin parser must
  name the same field, so re-run this whenever manifest.py changes.
- ``codec_cases.json``: tensor bytes made by ``edge_runtime.backends.base`` (frame lookup tables
  for every dtype/layout/normalisation, state quantisation with ties, output dequantisation);
  the Kotlin ``FrameEncoder`` / ``TensorCodec`` must produce the same bytes.
- ``resize_cases.json``: ``edge_runtime.preprocess`` outputs (area and pyramid) on a formula
  image (the Kotlin resizes must be within 1 LSB).

Deterministic (fixed seeds); the generator refuses near-ties that a 1-ulp difference between
languages could flip.
"""
from __future__ import annotations

import base64
import copy
import json
import math
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
RES = Path(__file__).resolve().parents[1] / "src" / "test" / "resources"
sys.path.insert(0, str(ROOT))

FORMAT = "arnet-golden-trace/1"


# --------------------------------------------------------------------------- manifests
def tensor(name, role, shape, dtype="float32", layout="NC", quant=None):
    t = {"name": name, "role": role, "shape": shape, "dtype": dtype, "layout": layout}
    if quant:
        t["quant"] = quant
    return t


def make_manifest(resolutions=(224, 168, 112, 84), skips=(1, 2, 4), labels=None, hidden=4,
                  multi_label=False, frames_per_clip=4, policy_step=0.25,
                  action_costs=(1.5, 0.75, 0.375, 0.0, 0.0, 0.0, 0.0), uniform=1.5,
                  precisions=("fp32", "int8")):
    labels = labels or ["wave", "clap", "jump", "sit", "walk"]
    L = len(resolutions)
    A = L + len(skips)
    C = len(labels)
    actions = [{"kind": "resolution", "size": s, "backbone": "policy" if i == L - 1 else f"backbone_{s}"}
               for i, s in enumerate(resolutions)] + [{"kind": "skip", "frames": f} for f in skips]
    arts = []
    for prec in precisions:
        q8 = prec == "int8"
        sdt = "int8" if q8 else "float32"
        sq = {"scale": 1 / 128, "zero_point": 0} if q8 else None
        lq = {"scale": 0.0625, "zero_point": -3} if q8 else None
        n = len(arts)
        arts.append({
            "id": "policy", "role": "policy", "resolution": resolutions[-1], "format": "tflite",
            "backend": "litert", "precision": prec, "file": f"policy_{prec}.tflite",
            "sha256": f"{n:02x}" * 32, "bytes": 1000 + n, "signature": "serving_default",
            "inputs": [tensor("frame", "frame", [1, resolutions[-1], resolutions[-1], 3], "uint8", "NHWC"),
                       tensor("h", "h", [1, hidden], sdt, quant=sq), tensor("c", "c", [1, hidden], sdt, quant=sq)],
            "outputs": [tensor("action_logits", "action_logits", [1, A], sdt, quant=lq),
                        tensor("class_logits", "class_logits", [1, C], sdt, quant=lq),
                        tensor("h_out", "h", [1, hidden], sdt, quant=sq), tensor("c_out", "c", [1, hidden], sdt, quant=sq)],
        })
        for s in resolutions[:-1]:
            n = len(arts)
            arts.append({
                "id": f"backbone_{s}", "role": "backbone", "resolution": s, "format": "tflite",
                "backend": "litert", "precision": prec, "file": f"backbone_{s}_{prec}.tflite",
                "sha256": f"{n:02x}" * 32, "bytes": 2000 + n, "signature": "serving_default",
                "inputs": [tensor("frame", "frame", [1, s, s, 3], "uint8", "NHWC")],
                "outputs": [tensor("class_logits", "class_logits", [1, C], sdt, quant=lq)],
            })
    return {
        "schema": 1, "name": "handmade", "labels": labels, "multi_label": multi_label,
        "resolutions": list(resolutions), "skip_lengths": list(skips), "actions": actions,
        "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "folded": True,
                          "color": "RGB", "resize": "area"},
        "policy": {"resolution": resolutions[-1], "hidden": hidden, "state": ["h", "c"]},
        "costs": {"unit": "GMACs (multiply-accumulates)", "policy_step": policy_step,
                  "actions": list(action_costs), "uniform_per_frame": uniform,
                  "measured_with": "hand-made"},
        "sampling": {"frames_per_clip": frames_per_clip, "seconds_per_step": 0.25},
        "artifacts": arts, "validation": {}, "training": {"note": "hand-made test fixture"},
    }


# --------------------------------------------------------------------------- reference
class Reference:
    """docs/STREAMING.md in plain Python (float64, math.exp), independent of edge_runtime."""

    def __init__(self, m, window, top_k, margin, hold, lam):
        self.m, self.W, self.k, self.margin, self.hold, self.lam = m, window, top_k, margin, hold, lam
        self.L = len(m["resolutions"])
        A = len(m["actions"])
        cost = []
        for a in range(A):
            c = m["costs"]["policy_step"] + m["costs"]["actions"][a]
            if a >= self.L:
                c = c / m["skip_lengths"][a - self.L]
            cost.append(c)
        mx = max(cost)
        self.b = [c / mx if mx > 0 else 0.0 for c in cost]
        self.clear()

    def clear(self):
        self.skip_remaining, self.skip_action = 0, -1
        self.window = []
        self.D, self.cand, self.count = None, None, 0

    def scores(self):
        ent = [e for e in self.window if e is not None]
        if not ent:
            return None
        C = len(ent[0])
        s = [0.0] * C
        for e in ent:
            for i in range(C):
                s[i] += e[i]
        mean = [v / len(ent) for v in s]
        if self.m.get("multi_label"):
            return [1.0 / (1.0 + math.exp(-v)) for v in mean]
        mx = max(mean)
        ex = [math.exp(v - mx) for v in mean]
        tot = 0.0
        for v in ex:
            tot += v
        return [v / tot for v in ex]

    @staticmethod
    def order(scores):
        return sorted(range(len(scores)), key=lambda i: (-scores[i], i))

    def decide(self, action_logits):
        z = [action_logits[a] - self.lam * self.b[a] for a in range(len(action_logits))]
        best = 0
        for a in range(1, len(z)):
            if z[a] > z[best]:
                best = a
        zs = sorted(z, reverse=True)
        assert zs[0] - zs[1] > 1e-6, f"near-tie in z: {z}"
        return best

    def push(self, entry):
        self.window.append(entry)
        self.window = self.window[-self.W:]
        sc = self.scores()
        top = []
        if sc is not None:
            o = self.order(sc)
            for i, j in zip(o, o[1:]):
                assert sc[i] == sc[j] or sc[i] - sc[j] > 1e-12, "near-tie in scores"
            top = [[i, sc[i]] for i in o[:self.k]]
            t1 = o[0]
            if self.D is None:
                self.D, self.cand, self.count = t1, None, 0
            elif t1 == self.D:
                self.cand, self.count = None, 0
            else:
                d = sc[t1] - sc[self.D]
                assert abs(d - self.margin) > 1e-9, "near-tie against the margin"
                if d >= self.margin:
                    if t1 == self.cand:
                        self.count += 1
                    else:
                        self.cand, self.count = t1, 1
                    if self.count >= self.hold:
                        self.D, self.cand, self.count = t1, None, 0
                else:
                    self.cand, self.count = None, 0
        label = self.m["labels"][self.D] if self.D is not None else None
        return sc, top, label


def f32(x):
    """Round to a value exactly representable in float32 (multiples of 1/64 in range)."""
    return round(x * 64) / 64


def make_trace(name, description, m, options, plan, rng, class_schedule, clears=(), with_state=True,
               clip=False, boost=(0.3, 1.5)):
    """plan: decision actions in order (intended argmax at lambda 0; None = random logits)."""
    L, A, C = len(m["resolutions"]), len(m["actions"]), len(m["labels"])
    hidden = m["policy"]["hidden"]
    W = options["window"] if options["window"] is not None else m["sampling"]["frames_per_clip"]
    ref = Reference(m, W, options["top_k"], options["margin"], options["hold"], options["lambda"])
    steps, t, plan = [], 0, list(plan)
    clip_low, clip_proc = [], []
    while plan:
        step = {"t": t}
        if t in clears:
            step["clear"] = True
            ref.clear()
        if ref.skip_remaining > 0:
            ref.skip_remaining -= 1
            a = ref.skip_action
            sc, top, label = ref.push(None)
            step.update({"policy": None, "backbone": None,
                         "expect": {"kind": "skipped", "action": a, "top": top, "label": label, "scores": sc}})
        else:
            want = plan.pop(0)
            logits = [f32(rng.uniform(-2, 2)) for _ in range(A)]
            if want is not None:
                logits[want] = f32(max(logits) + rng.uniform(*boost))
            cls = class_schedule(t)
            low = [f32(rng.uniform(-1, 1) + (2.0 if i == cls else 0.0)) for i in range(C)]
            pol = {"action_logits": logits, "class_logits": low}
            if with_state:
                pol["h"] = [round(rng.uniform(-1, 1) * 256) / 256 for _ in range(hidden)]
                pol["c"] = [round(rng.uniform(-1, 1) * 256) / 256 for _ in range(hidden)]
            a = ref.decide(logits)
            if want is not None and options["lambda"] == 0:
                assert a == want
            bb = None
            entry = None
            if a < L - 1:
                entry = [f32(rng.uniform(-1, 1) + (2.5 if i == cls else 0.0)) for i in range(C)]
                bb = {"id": m["actions"][a]["backbone"], "class_logits": entry}
                kind = "resolution"
            elif a == L - 1:
                entry = low
                kind = "resolution"
            else:
                kind = "skip"
                ref.skip_remaining = m["skip_lengths"][a - L] - 1
                ref.skip_action = a
            clip_low.append(low)
            if entry is not None:
                clip_proc.append(entry)
            sc, top, label = ref.push(entry)
            step.update({"policy": pol, "backbone": bb,
                         "expect": {"kind": kind, "action": a, "top": top, "label": label, "scores": sc}})
        steps.append(step)
        t += 1
    trace = {"format": FORMAT, "name": name, "description": description, "generator": "android_demo/core/tools/make_fixtures.py",
             "manifest": m, "options": options, "steps": steps}
    if clip:
        assert not clears
        r2 = Reference(m, len(steps), options["top_k"], 0.0, 1, options["lambda"])
        r2.window = list(clip_proc) or list(clip_low)
        trace["clip"] = {"scores": r2.scores()}
    return trace


def write_traces():
    out = RES / "golden"
    out.mkdir(parents=True, exist_ok=True)

    # 1. Default-shaped model: every action, skips of 1/2/4, a clear(), an all-empty window
    #    (label held), hysteresis switches with margin 0.1 / hold 2.
    m = make_manifest()
    rng = random.Random(7)
    plan = [3, 3, 0, 1, 2, 4, 3, 5, 0, 6, 1, 1, 2, 3, 0, 1, 3, 2, 1, 0, 5, 6, 6, 3, 0, 0, 1, 2, 3, 2, 0, 1]
    sched = lambda t: 1 if t < 14 else (3 if t < 30 else 0)
    tr = make_trace("handmade_basic", "4 resolutions + skips 1/2/4, window 4, margin 0.1, hold 2, "
                    "a clear() at t=20, an all-empty window after two 4-frame skips", m,
                    {"window": 4, "top_k": 3, "margin": 0.1, "hold": 2, "lambda": 0.0},
                    plan, rng, sched, clears=(20,))
    kinds = [s["expect"]["kind"] for s in tr["steps"]]
    assert "skipped" in kinds and any(s["expect"]["top"] == [] and s["t"] > 0 and s["expect"]["label"] for s in tr["steps"]), \
        "want an unscored step with a held label"
    (out / "handmade_basic.json").write_text(json.dumps(tr, indent=1) + "\n")

    # 2. Multi-label, two resolutions, a budget bias (lambda 1.5) that changes decisions,
    #    top_k 2, raw top-1 (margin 0, hold 1), clip prediction.
    m = make_manifest(resolutions=(160, 96), skips=(2,), labels=["a", "b", "c"], hidden=3,
                      multi_label=True, frames_per_clip=8, policy_step=0.1, action_costs=(0.9, 0.0, 0.0),
                      uniform=0.9, precisions=("fp32",))
    rng = random.Random(11)
    for seed in range(11, 200):
        rng = random.Random(seed)
        try:
            tr = make_trace("handmade_budget_multilabel", "multi-label sigmoid scores, lambda 1.5 budget bias, "
                            "top_k 2, margin 0 / hold 1 (raw top-1), window 3, clip scores", m,
                            {"window": 3, "top_k": 2, "margin": 0.0, "hold": 1, "lambda": 1.5},
                            [0, None, 0, 1, 0, None, 0, 2, 0, None, 0, 1, 0, None, 0, None], rng,
                            lambda t: (t // 5) % 3, clip=True, boost=(0.5, 3.0))
        except AssertionError:
            continue
        # lambda must have changed at least two decisions
        changed = 0
        for s in tr["steps"]:
            if s["policy"]:
                lg = s["policy"]["action_logits"]
                if max(range(len(lg)), key=lambda i: (lg[i], -i)) != s["expect"]["action"]:
                    changed += 1
        if changed >= 2 and any(s["expect"]["kind"] == "skipped" for s in tr["steps"]) and \
                sum(1 for s in tr["steps"] if s["backbone"]) >= 3:
            break
    else:
        raise SystemExit("no seed gave a budget trace")
    (out / "handmade_budget_multilabel.json").write_text(json.dumps(tr, indent=1) + "\n")

    # 3. Every decision is a skip: no scores ever, no label; the clip falls back to the
    #    policy's own class logits. window null = sampling.frames_per_clip. No h/c recorded.
    m = make_manifest(resolutions=(112, 56), skips=(1, 3), labels=["x", "y", "z", "w"], hidden=2,
                      frames_per_clip=6, policy_step=0.05, action_costs=(0.4, 0.01, 0.0, 0.0), uniform=0.4,
                      precisions=("fp32",))
    rng = random.Random(3)
    tr = make_trace("handmade_allskip_clip", "only skip decisions: no scores, no label; clip falls back to "
                    "the mean of the policy class logits; window = frames_per_clip; no h/c recorded", m,
                    {"window": None, "top_k": 3, "margin": 0.1, "hold": 2, "lambda": 0.0},
                    [3, 2, 3, 2, 2], rng, lambda t: 2, with_state=False, clip=True)
    (out / "handmade_allskip_clip.json").write_text(json.dumps(tr, indent=1) + "\n")
    print(f"wrote 3 hand-made traces to {out}")


# --------------------------------------------------------------------------- manifest parity
def manifest_cases():
    from edge_runtime.manifest import Manifest, ManifestError

    base = make_manifest(precisions=("fp32",))
    cases = []

    def case(name, ops):
        d = copy.deepcopy(base)
        for op in ops:
            if op["op"] == "replace_root":
                d = copy.deepcopy(op["value"])
            else:
                apply_op(d, op)
        try:
            Manifest.from_dict(d, "manifest.json")
            err, msg = None, None
        except ManifestError as e:
            msg = str(e)
            err = msg.split(": ", 1)[0]
        cases.append({"name": name, "ops": ops, "error": err, "python_message": msg})

    S, D = "set", "del"
    A0 = ["artifacts", 0]
    case("valid", [])
    case("top level is a list", [{"op": "replace_root", "value": []}])
    case("schema missing", [{"op": D, "path": ["schema"]}])
    case("schema 2", [{"op": S, "path": ["schema"], "value": 2}])
    case("schema bool", [{"op": S, "path": ["schema"], "value": True}])
    case("schema float", [{"op": S, "path": ["schema"], "value": 1.0}])
    case("schema string", [{"op": S, "path": ["schema"], "value": "1"}])
    case("labels empty", [{"op": S, "path": ["labels"], "value": []}])
    case("labels non-string", [{"op": S, "path": ["labels", 1], "value": 3}])
    case("labels not a list", [{"op": S, "path": ["labels"], "value": "wave"}])
    case("resolutions increasing", [{"op": S, "path": ["resolutions"], "value": [84, 112, 168, 224]}])
    case("resolutions equal", [{"op": S, "path": ["resolutions", 1], "value": 224}])
    case("resolution zero", [{"op": S, "path": ["resolutions", 3], "value": 0}])
    case("resolution float", [{"op": S, "path": ["resolutions", 0], "value": 224.0}])
    case("resolutions empty", [{"op": S, "path": ["resolutions"], "value": []}])
    case("resolution true accepted as 1 (python quirk)",
         [{"op": S, "path": ["resolutions"], "value": [224, 168, 112, True]},
          {"op": S, "path": ["actions", 3, "size"], "value": 1},
          {"op": S, "path": ["policy", "resolution"], "value": 1}])
    case("skip_lengths empty list is fine",
         [{"op": S, "path": ["skip_lengths"], "value": []},
          {"op": S, "path": ["actions"], "value": base["actions"][:4]},
          {"op": S, "path": ["costs", "actions"], "value": base["costs"]["actions"][:4]}])
    case("skip_lengths not increasing", [{"op": S, "path": ["skip_lengths"], "value": [1, 4, 2]}])
    case("skip_lengths zero", [{"op": S, "path": ["skip_lengths", 0], "value": 0}])
    case("skip_lengths true accepted as 1 (python quirk)", [{"op": S, "path": ["skip_lengths", 0], "value": True}])
    case("actions too few", [{"op": D, "path": ["actions", 6]}])
    case("action not an object", [{"op": S, "path": ["actions", 2], "value": "resolution"}])
    case("action kind missing", [{"op": D, "path": ["actions", 1, "kind"]}])
    case("action kind bad", [{"op": S, "path": ["actions", 1, "kind"], "value": "zoom"}])
    case("action kind swapped", [{"op": S, "path": ["actions", 4], "value": {"kind": "resolution", "size": 84, "backbone": "x"}}])
    case("action size wrong", [{"op": S, "path": ["actions", 1, "size"], "value": 160}])
    case("action size missing", [{"op": D, "path": ["actions", 1, "size"]}])
    case("action size bool", [{"op": S, "path": ["actions", 1, "size"], "value": True}])
    case("action backbone missing", [{"op": D, "path": ["actions", 0, "backbone"]}])
    case("action backbone number", [{"op": S, "path": ["actions", 0, "backbone"], "value": 5}])
    case("skip frames wrong", [{"op": S, "path": ["actions", 6, "frames"], "value": 3}])
    case("skip frames missing", [{"op": D, "path": ["actions", 5, "frames"]}])
    case("normalization missing", [{"op": D, "path": ["normalization"]}])
    case("normalization list", [{"op": S, "path": ["normalization"], "value": [0.5]}])
    case("mean two numbers", [{"op": S, "path": ["normalization", "mean"], "value": [0.5, 0.5]}])
    case("std string", [{"op": S, "path": ["normalization", "std", 1], "value": "0.5"}])
    case("mean bool accepted (python quirk)", [{"op": S, "path": ["normalization", "mean", 0], "value": True}])
    case("folded missing", [{"op": D, "path": ["normalization", "folded"]}])
    case("folded int", [{"op": S, "path": ["normalization", "folded"], "value": 1}])
    case("resize pyramid accepted", [{"op": S, "path": ["normalization", "resize"], "value": "pyramid"}])
    case("resize absent accepted (area)", [{"op": D, "path": ["normalization", "resize"]}])
    case("resize unknown", [{"op": S, "path": ["normalization", "resize"], "value": "bicubic"}])
    case("resize number", [{"op": S, "path": ["normalization", "resize"], "value": 3}])
    case("policy resolution wrong", [{"op": S, "path": ["policy", "resolution"], "value": 112}])
    case("policy resolution missing", [{"op": D, "path": ["policy", "resolution"]}])
    case("policy hidden float", [{"op": S, "path": ["policy", "hidden"], "value": 4.5}])
    case("policy hidden zero accepted", [{"op": S, "path": ["policy", "hidden"], "value": 0}])
    case("costs policy_step string", [{"op": S, "path": ["costs", "policy_step"], "value": "0.2"}])
    case("costs policy_step bool", [{"op": S, "path": ["costs", "policy_step"], "value": False}])
    case("costs actions short", [{"op": D, "path": ["costs", "actions", 0]}])
    case("costs actions negative", [{"op": S, "path": ["costs", "actions", 2], "value": -0.1}])
    case("costs actions nan", [{"op": S, "path": ["costs", "actions", 2], "value": {"$float": "nan"}}])
    case("costs uniform missing", [{"op": D, "path": ["costs", "uniform_per_frame"]}])
    case("sampling frames_per_clip float", [{"op": S, "path": ["sampling", "frames_per_clip"], "value": 16.0}])
    case("sampling seconds zero", [{"op": S, "path": ["sampling", "seconds_per_step"], "value": 0}])
    case("sampling seconds negative", [{"op": S, "path": ["sampling", "seconds_per_step"], "value": -0.5}])
    case("sampling missing", [{"op": D, "path": ["sampling"]}])
    case("artifacts not a list", [{"op": S, "path": ["artifacts"], "value": {}}])
    case("artifacts empty accepted", [{"op": S, "path": ["artifacts"], "value": []}])
    case("artifact not an object", [{"op": S, "path": ["artifacts", 1], "value": 7}])
    case("artifact inputs missing", [{"op": D, "path": A0 + ["inputs"]}])
    case("tensor name missing", [{"op": D, "path": A0 + ["inputs", 1, "name"]}])
    case("tensor role bad", [{"op": S, "path": A0 + ["inputs", 1, "role"], "value": "state"}])
    case("tensor output role bad", [{"op": S, "path": A0 + ["outputs", 0, "role"], "value": "frame"}])
    case("tensor shape empty", [{"op": S, "path": A0 + ["inputs", 1, "shape"], "value": []}])
    case("tensor shape zero", [{"op": S, "path": A0 + ["inputs", 1, "shape", 1], "value": 0}])
    case("tensor shape bool", [{"op": S, "path": A0 + ["inputs", 1, "shape", 0], "value": True}])
    case("tensor dtype bad", [{"op": S, "path": A0 + ["inputs", 1, "dtype"], "value": "float64"}])
    case("tensor layout bad", [{"op": S, "path": A0 + ["inputs", 1, "layout"], "value": "HWC"}])
    case("tensor quant bad", [{"op": S, "path": A0 + ["inputs", 1, "quant"], "value": {"scale": 0.1}}])
    case("tensor quant not dict", [{"op": S, "path": A0 + ["inputs", 1, "quant"], "value": 0.1}])
    case("tensor quant null accepted", [{"op": S, "path": A0 + ["inputs", 1, "quant"], "value": None}])
    case("tensor quant zero_point float", [{"op": S, "path": A0 + ["inputs", 1, "quant"], "value": {"scale": 0.1, "zero_point": 0.0}}])
    case("tensor quant bools accepted (python quirk)", [{"op": S, "path": A0 + ["inputs", 1, "quant"], "value": {"scale": True, "zero_point": False}}])
    case("frame tensor 3-D", [{"op": S, "path": A0 + ["inputs", 0, "shape"], "value": [84, 84, 3]}])
    case("frame tensor NC", [{"op": S, "path": A0 + ["inputs", 0, "layout"], "value": "NC"}])
    case("policy missing h input", [{"op": D, "path": A0 + ["inputs", 1]}])
    case("policy duplicate frame input", [{"op": S, "path": A0 + ["inputs", 1], "value": tensor("f2", "frame", [1, 84, 84, 3], "uint8", "NHWC")}])
    case("policy missing c output", [{"op": D, "path": A0 + ["outputs", 3]}])
    case("backbone with h output", [{"op": "append", "path": ["artifacts", 1, "outputs"], "value": tensor("h", "h", [1, 4])}])
    case("artifact role bad", [{"op": S, "path": A0 + ["role"], "value": "classifier"}])
    case("sha256 short", [{"op": S, "path": A0 + ["sha256"], "value": "abc"}])
    case("sha256 upper", [{"op": S, "path": A0 + ["sha256"], "value": "AB" * 32}])
    case("artifact id missing", [{"op": D, "path": A0 + ["id"]}])
    case("artifact resolution string", [{"op": S, "path": A0 + ["resolution"], "value": "84"}])
    case("artifact format bad", [{"op": S, "path": A0 + ["format"], "value": "tf"}])
    case("artifact backend bad", [{"op": S, "path": A0 + ["backend"], "value": "tensorrt"}])
    case("artifact precision bad", [{"op": S, "path": A0 + ["precision"], "value": "bf16"}])
    case("artifact file missing", [{"op": D, "path": A0 + ["file"]}])
    case("artifact bytes float", [{"op": S, "path": A0 + ["bytes"], "value": 10.5}])
    case("artifact signature any type accepted", [{"op": S, "path": A0 + ["signature"], "value": 5}])
    case("artifact id unknown", [{"op": S, "path": ["artifacts", 2, "id"], "value": "backbone_999"}])
    case("name missing (checked last)", [{"op": D, "path": ["name"]}])
    case("name missing and bad schema: schema first", [{"op": D, "path": ["name"]}, {"op": S, "path": ["schema"], "value": 3}])
    case("multi_label string truthy accepted", [{"op": S, "path": ["multi_label"], "value": "no"}])
    case("multi_label missing accepted", [{"op": D, "path": ["multi_label"]}])
    case("validation null accepted", [{"op": S, "path": ["validation"], "value": None}])
    case("null labels", [{"op": S, "path": ["labels"], "value": None}])
    case("unknown top-level field accepted", [{"op": S, "path": ["extra_field"], "value": {"x": 1}}])
    doc = {"about": "Generated by android_demo/core/tools/make_fixtures.py from edge_runtime.manifest: "
                    "apply ops to base, expect the error field path (null = accepted).",
           "base": base, "cases": cases}
    (RES / "manifest_cases.json").write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    print(f"wrote {len(cases)} manifest cases ({sum(c['error'] is None for c in cases)} accepted)")


def decode_value(v):
    """{"$float": "nan"} stands for NaN (org.json cannot hold NaN in an object)."""
    if isinstance(v, dict) and set(v) == {"$float"}:
        return float(v["$float"])
    return copy.deepcopy(v)


def apply_op(d, op):
    op = dict(op, value=decode_value(op.get("value")))
    *parents, last = op["path"]
    cur = d
    for p in parents:
        cur = cur[p]
    if op["op"] == "set":
        cur[last] = op["value"]
    elif op["op"] == "del":
        del cur[last]
    elif op["op"] == "append":
        cur[last].append(op["value"])
    else:
        raise ValueError(op)


# --------------------------------------------------------------------------- resize (cv2)
def formula_image(h, w):
    import numpy as np
    y, x = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.uint8)
    for ch in range(3):
        img[..., ch] = ((x * 37 + y * 91 + ch * 53) ^ (x * y + 7 * ch)) & 255
    return img


def resize_cases():
    import cv2
    from edge_runtime.preprocess import preprocess
    cases = []
    for method in ("area", "pyramid"):
        for (h, w), sizes in (((120, 160), (84, 56, 40, 112, 120, 30)), ((47, 61), (20, 13, 47)),
                              ((257, 300), (48, 96, 64))):
            img = formula_image(h, w)
            for s in sizes:
                out = preprocess(img, s, method)
                cases.append({"height": h, "width": w, "size": s, "method": method,
                              "rgb_b64": base64.b64encode(out.tobytes()).decode()})
    (RES / "resize_cases.json").write_text(json.dumps(
        {"about": "edge_runtime.preprocess.preprocess (centre square + cv2 INTER_AREA, or the "
                  "pyramid: 2x2 INTER_AREA halvings + one INTER_LINEAR step; cv2 "
                  f"{cv2.__version__}) of the formula image ((x*37 + y*91 + ch*53) ^ (x*y + 7*ch)) & 255",
         "cases": cases}) + "\n")
    print(f"wrote {len(cases)} resize cases")


def codec_cases():
    import numpy as np
    from edge_runtime.backends.base import EngineTensor, input_adapter, output_adapter
    frame = formula_image(8, 8)[None]  # (1, 8, 8, 3) uint8
    half = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "folded": False}
    imagenet_px = {"mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375], "folded": False}
    folded = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "folded": True}
    frames = [
        ("uint8 NHWC folded raw", "uint8", "NHWC", None, folded),
        ("uint8 NHWC quant 1/0 raw", "uint8", "NHWC", (1.0, 0), folded),
        ("float32 NCHW folded", "float32", "NCHW", None, folded),
        ("float32 NHWC unfolded [0,1] units", "float32", "NHWC", None, half),
        ("float32 NCHW unfolded pixel units", "float32", "NCHW", None, imagenet_px),
        ("float16 NHWC unfolded", "float16", "NHWC", None, half),
        ("int8 NHWC folded quant", "int8", "NHWC", (1.0, -128), folded),
        ("int8 NCHW folded quant ties", "int8", "NCHW", (2.0, 3), folded),
        ("int8 NHWC unfolded quant", "int8", "NHWC", (0.007843137718737125, -1), half),
        ("uint8 NHWC unfolded quant", "uint8", "NHWC", (0.0078125, 128), half),
    ]
    cases = []
    for name, dt, layout, quant, norm in frames:
        shape = (1, 3, 8, 8) if layout == "NCHW" else (1, 8, 8, 3)
        t = EngineTensor("frame", "frame", shape, np.dtype(dt), layout, quant)
        out = input_adapter(t, norm)(frame)
        cases.append({"name": name, "kind": "frame", "dtype": dt, "layout": layout, "shape": list(shape),
                      "quant": None if quant is None else {"scale": quant[0], "zero_point": quant[1]},
                      "normalization": norm, "bytes_b64": base64.b64encode(np.ascontiguousarray(out).tobytes()).decode()})
    state = np.array([0.25, -0.25, 0.75, -0.75, 1.3, -70.0, 70.0, 0.0, 0.123456789, -0.5000001], np.float32)
    for name, dt, quant in (("int8 state ties", "int8", (0.5, 0)), ("int8 state odd", "int8", (0.0123, 5)),
                            ("uint8 state", "uint8", (0.25, 128)), ("float16 state", "float16", None),
                            ("float32 state", "float32", None)):
        t = EngineTensor("h", "h", (1, state.size), np.dtype(dt), "NC", quant)
        enc = input_adapter(t, None)(state)
        dec = output_adapter(t)(enc) if quant else None
        cases.append({"name": name, "kind": "state", "dtype": dt, "layout": "NC", "shape": [1, int(state.size)],
                      "quant": None if quant is None else {"scale": quant[0], "zero_point": quant[1]},
                      "values": [float(x) for x in state],
                      "bytes_b64": base64.b64encode(np.ascontiguousarray(enc).tobytes()).decode(),
                      "decoded": None if dec is None else [float(x) for x in np.asarray(dec, np.float32).reshape(-1)]})
    (RES / "codec_cases.json").write_text(json.dumps(
        {"about": "edge_runtime.backends.base input_adapter/output_adapter bytes (little-endian) on the "
                  "8x8 formula image and a state vector; written by android_demo/core/tools/make_fixtures.py",
         "cases": cases}, indent=1) + "\n")
    print(f"wrote {len(cases)} codec cases")


if __name__ == "__main__":
    write_traces()
    manifest_cases()
    resize_cases()
    codec_cases()
