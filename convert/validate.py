"""The validation matrix run by every export: artifacts vs PyTorch, pipelines vs PyTorch.

Everything runs through the device runtime (``edge_runtime.backends`` for single artifacts,
``edge_runtime.pipeline.AdaptivePipeline`` for whole clips), so export validates what the
devices will run.

* Per artifact, on held-out samples (frames the runtime would feed, LSTM states the stream
  would have): max abs / max relative logit error (relative = max |y - y_ref| over the
  output's max |y_ref|), top-1 agreement of class (and action) logits, max state error; size;
  median latency with 1 thread and with all cores.
* Per backend x precision, on held-out clips through the whole adaptive pipeline: video top-1
  (and mAP), share of frames whose action equals PyTorch's, share of clips with identical action
  sequences, video prediction agreement, GMACs per frame (manifest costs of the actions taken).

Targets: fp32 relative logit error <= 1e-4 and identical actions on 100 % of steps; int8
pipeline top-1 within 1 point of PyTorch fp32.
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

TARGETS = {"fp32_max_rel_logit_err": 1e-4, "fp32_action_agreement": 1.0,
           # quantised (int8, fp16) artifacts and pipelines
           "quant_top1_agree_sure": 0.97, "quant_top1_drop_points": 1.0,
           "quant_action_agreement": 0.90, "quant_gmacs_ratio_tolerance": 0.05}
MIN_SURE_FRAMES = 30      # fewer frames where fp32 is sure: the agreement is not checked (noted)
LOGIT_ROLES = ("action_logits", "class_logits")


def _threads_all() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (macOS)
        return max(1, os.cpu_count() or 1)


def load_backend(manifest, art, threads: int | None = 1):
    from edge_runtime.backends import BackendOptions, create_backend
    opts = BackendOptions(threads=threads, device="cpu", normalization=manifest.normalization)
    return create_backend(art.backend, manifest.verify(art), art, opts)


# ---------------------------------------------------------------------------- per artifact
def reference_outputs(spec, samples: list[dict]) -> list[dict]:
    """PyTorch outputs of ``spec`` on every sample (computed once per module, shared by formats)."""
    return [spec.reference(s) for s in samples]


def artifact_parity(manifest, art, spec, samples: list[dict], refs: list[dict] | None = None) -> dict:
    """Numbers of one artifact vs the PyTorch module on ``samples`` (role-keyed inputs; ``refs``
    = their PyTorch outputs when already computed)."""
    be = load_backend(manifest, art, threads=1)
    refs = refs if refs is not None else reference_outputs(spec, samples)
    err_abs: dict[str, float] = {}
    ref_max: dict[str, float] = {}
    got_logits: dict[str, list] = {}
    ref_logits: dict[str, list] = {}
    for s, ref in zip(samples, refs):
        got = be.run({r: s[r] for r in spec.input_roles})
        for role, r in ref.items():
            g = np.asarray(got[role], np.float64).reshape(r.shape)
            if not np.all(np.isfinite(g)):
                raise RuntimeError(f"{art.file}: output {role} has NaN/inf")
            err_abs[role] = max(err_abs.get(role, 0.0), float(np.abs(g - r).max()))
            ref_max[role] = max(ref_max.get(role, 0.0), float(np.abs(r).max()))
            if role in LOGIT_ROLES:
                got_logits.setdefault(role, []).append(g.reshape(-1))
                ref_logits.setdefault(role, []).append(np.asarray(r, np.float64).reshape(-1))
    rel = {k: v / max(ref_max[k], 1e-12) for k, v in err_abs.items()}
    agree = {k: logit_agreement(np.stack(got_logits[k]), np.stack(ref_logits[k])) for k in got_logits}
    c = agree["class_logits"]
    out = {
        "samples": len(samples),
        "max_abs_logit_err": max(err_abs[r] for r in LOGIT_ROLES if r in err_abs),
        "max_rel_logit_err": max(rel[r] for r in LOGIT_ROLES if r in rel),
        "top1_agreement": c["top1_agree"],
        "top1_agree": c["top1_agree"], "top1_agree_sure": c["top1_agree_sure"],
        "sure_frames": int(round(c["sure_share"] * c["n"])), "rel_err": c["rel_err"], "kl": c["kl"],
        "per_output": {k: {"max_abs_err": err_abs[k], "max_rel_err": rel[k], "ref_max_abs": ref_max[k]}
                       for k in err_abs},
        "logits": agree,
    }
    if "action_logits" in agree:
        a = agree["action_logits"]
        out["action_top1_agreement"] = a["top1_agree"]
        out["action_top1_agree_sure"] = a["top1_agree_sure"]
        out["action_sure_frames"] = int(round(a["sure_share"] * a["n"]))
    if "h" in err_abs:
        out["state_max_abs_err"] = max(err_abs["h"], err_abs["c"])
    return out


SURE_PROB = 0.5   # fp32 top-1 probability at or above which a frame counts as "sure"


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def logit_agreement(got: np.ndarray, ref: np.ndarray, sure_prob: float = SURE_PROB) -> dict:
    """How closely logits ``got`` (N, K) follow the reference ``ref`` (N, K).

    top1_agree: share of rows with the same argmax; top1_agree_sure: the same on the rows where
    the reference's softmax top-1 probability is >= ``sure_prob`` (near-flat rows, e.g. frames
    without class evidence, flip their argmax with any noise and say nothing about the model);
    rel_err: mean over rows of ||got - ref|| / ||ref||; max_rel_err: max |got - ref| over max
    |ref|; kl: mean KL(softmax(ref) || softmax(got)) in nats."""
    got = np.asarray(got, np.float64).reshape(len(ref), -1)
    ref = np.asarray(ref, np.float64).reshape(len(ref), -1)
    same = got.argmax(1) == ref.argmax(1)
    p, q = _softmax(ref), _softmax(got)
    sure = p.max(1) >= sure_prob
    kl = np.sum(p * (np.log(np.maximum(p, 1e-300)) - np.log(np.maximum(q, 1e-300))), axis=1)
    return {
        "n": int(len(ref)),
        "top1_agree": float(same.mean()) if len(ref) else None,
        "top1_agree_sure": float(same[sure].mean()) if sure.any() else None,
        "sure_share": float(sure.mean()) if len(ref) else None,
        "rel_err": float(np.mean(np.linalg.norm(got - ref, axis=1) / np.maximum(np.linalg.norm(ref, axis=1), 1e-12))),
        "max_rel_err": float(np.abs(got - ref).max() / max(float(np.abs(ref).max()), 1e-12)),
        "kl": float(np.mean(kl)),
    }


def artifact_latency(manifest, art, sample: dict, threads: int, budget_s: float = 0.25,
                     max_runs: int = 50) -> float:
    """Median milliseconds of one run (after 2 warm-up runs) with ``threads`` threads."""
    be = load_backend(manifest, art, threads=threads)
    for _ in range(2):
        be.run(sample)
    times = []
    t_end = time.perf_counter() + budget_s
    while len(times) < 3 or (len(times) < max_runs and time.perf_counter() < t_end):
        t0 = time.perf_counter()
        be.run(sample)
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(np.median(times))


# ------------------------------------------------------------------------------- pipelines
@dataclass
class Reference:
    actions: list[list[int]]      # per clip, per frame (skipped frames carry the skip action)
    logits: np.ndarray            # (N, C) video logits
    gmacs_per_frame: np.ndarray   # (N,)


def torch_reference(model, clips, costs: dict) -> Reference:
    """PyTorch eval-mode streaming (``ARNet.stream``, docs/STREAMING.md) on each clip."""
    import torch
    res = [int(r) for r in model.cfg.resolutions]
    acts, logits, gpf = [], [], []
    for clip in clips:
        frames = [torch.from_numpy(clip.view(s)).permute(0, 3, 1, 2).float() for s in res]
        with torch.no_grad():
            out = model.stream(frames)
        acts.append([int(a) for a in out["actions"]])
        logits.append(out["video_logits"].double().numpy())
        T = len(out["actions"])
        g = sum(costs["policy_step"] + costs["actions"][a]
                for a, k in zip(out["actions"], out["kinds"]) if k != "skipped")
        gpf.append(g / T)
    return Reference(acts, np.stack(logits), np.asarray(gpf))


def _scores(logits: np.ndarray, multi_label: bool) -> np.ndarray:
    if multi_label:
        return 1.0 / (1.0 + np.exp(-logits))
    z = np.exp(logits - logits.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def accuracy(scores: np.ndarray, labels: list, num_classes: int) -> dict:
    """top-1 and mAP (%) over the clips with a known label (int or list of ints)."""
    from train.metrics import mean_average_precision, top1
    keep = [i for i, lab in enumerate(labels) if lab is not None]
    if not keep:
        return {"top1": None, "mAP": None, "labelled_clips": 0}
    tgt = np.zeros((len(keep), num_classes), bool)
    for j, i in enumerate(keep):
        for c in (labels[i] if isinstance(labels[i], list) else [labels[i]]):
            tgt[j, int(c)] = True
    s = scores[keep]
    return {"top1": top1(s, tgt), "mAP": mean_average_precision(s, tgt), "labelled_clips": len(keep)}


def pipeline_eval(manifest, backend: str, precision: str, clips, ref: Reference) -> dict:
    """The runtime's adaptive pipeline on every clip vs the PyTorch reference."""
    from edge_runtime.pipeline import AdaptivePipeline
    pipe = AdaptivePipeline(manifest, backend=backend, precision=precision, threads=1, verify=True,
                            allow_failed=True,
                            device="cpu")
    probs, acts, gpf = [], [], []
    t0 = time.perf_counter()
    for clip in clips:
        p, events = pipe.predict_clip(list(clip.frames))
        probs.append(np.asarray(p, np.float64))
        acts.append([int(e.action) for e in events])
        gpf.append(sum(float(e.gmacs) for e in events) / len(events))
    wall = time.perf_counter() - t0
    probs_a = np.stack(probs)
    ref_scores = _scores(ref.logits, manifest.multi_label)
    frames_total = sum(len(a) for a in acts)
    same = sum(int(x == y) for a, b in zip(acts, ref.actions) for x, y in zip(a, b))
    out = {
        "runner": "edge_runtime.pipeline.AdaptivePipeline (threads=1)",
        "clips": len(clips),
        "frames": frames_total,
        "action_agreement": same / max(frames_total, 1),
        "clips_identical_actions": float(np.mean([a == b for a, b in zip(acts, ref.actions)])),
        "prediction_agreement": float(np.mean(probs_a.argmax(1) == ref_scores.argmax(1))),
        "max_score_err": float(np.abs(probs_a - ref_scores).max()),
        "gmacs_per_frame": float(np.mean(gpf)),
        "gmacs_per_frame_torch": float(np.mean(ref.gmacs_per_frame)),
        "uniform_gmacs_per_frame": float(manifest.uniform_cost),
        "ms_per_frame": 1000.0 * wall / max(frames_total, 1),
    }
    out.update(accuracy(probs_a, [c.label for c in clips], manifest.num_classes))
    return out


def torch_summary(manifest, clips, ref: Reference) -> dict:
    d = {"clips": len(clips), "gmacs_per_frame": float(np.mean(ref.gmacs_per_frame)),
         "uniform_gmacs_per_frame": float(manifest.uniform_cost)}
    d.update(accuracy(_scores(ref.logits, manifest.multi_label), [c.label for c in clips],
                      manifest.num_classes))
    hist = np.bincount([a for seq in ref.actions for a in seq], minlength=len(manifest.actions))
    d["action_histogram"] = [int(x) for x in hist]
    return d


def check_targets(validation: dict) -> list[dict]:
    """[{what, value, target, ok, concerns}] for the targets, from the numbers in ``validation``.

    ``concerns``: the artifact keys ("<format>/<id>") or the pipeline ("<backend>/<precision>")
    a missed check marks failed. Quantised artifacts (int8, fp16): class top-1 agreement on the
    frames where fp32 is sure (policy: also its action), when there are >= MIN_SURE_FRAMES of
    them. Quantised pipelines: top-1 drop vs PyTorch fp32, actions equal on >= 90 % of steps,
    GMACs/frame within 5 % of PyTorch's."""
    checks = []
    for key, a in validation.get("artifacts", {}).items():
        prec = a.get("precision")
        if prec == "fp32" and "max_rel_logit_err" in a:
            v = a["max_rel_logit_err"]
            checks.append({"what": f"{key} max relative logit error", "value": v,
                           "target": f"<= {TARGETS['fp32_max_rel_logit_err']}",
                           "ok": v <= TARGETS["fp32_max_rel_logit_err"], "concerns": [key]})
        if prec in ("int8", "fp16"):
            for label, agree_k, n_k in (("class", "top1_agree_sure", "sure_frames"),
                                        ("action", "action_top1_agree_sure", "action_sure_frames")):
                if agree_k not in a:
                    continue
                if a.get(n_k, 0) < MIN_SURE_FRAMES or a[agree_k] is None:
                    validation.setdefault("notes", []).append(
                        f"{key}: {label} top-1 agreement on sure frames not checked: {a.get(n_k, 0)} frames "
                        f"where fp32's top-1 probability is >= {SURE_PROB} (need {MIN_SURE_FRAMES})")
                    continue
                v = a[agree_k]
                checks.append({"what": f"{key} {label} top-1 agreement where fp32 is sure ({a[n_k]} frames)",
                               "value": v, "target": f">= {TARGETS['quant_top1_agree_sure']}",
                               "ok": v >= TARGETS["quant_top1_agree_sure"], "concerns": [key]})
    ref = validation.get("pytorch", {})
    ref_top1 = ref.get("top1")
    for key, p in validation.get("pipelines", {}).items():
        if "error" in p:
            continue
        prec = key.split("/")[1]
        if prec == "fp32":
            v = p["action_agreement"]
            checks.append({"what": f"{key} actions equal to PyTorch", "value": v,
                           "target": ">= 1.0", "ok": v >= TARGETS["fp32_action_agreement"], "concerns": [key]})
        if prec in ("int8", "fp16"):
            if ref_top1 is not None and p.get("top1") is not None:
                drop = ref_top1 - p["top1"]
                allowed, target = drop_allowed(p.get("labelled_clips") or p.get("clips"))
                checks.append({"what": f"{key} top-1 drop vs PyTorch fp32 (points)", "value": drop,
                               "target": target, "ok": drop <= allowed + 1e-9, "concerns": [key]})
            v = p["action_agreement"]
            checks.append({"what": f"{key} actions equal to PyTorch's", "value": v,
                           "target": f">= {TARGETS['quant_action_agreement']}",
                           "ok": v >= TARGETS["quant_action_agreement"], "concerns": [key]})
            g_ref = p.get("gmacs_per_frame_torch")
            if g_ref:
                v = p["gmacs_per_frame"] / g_ref
                tol = TARGETS["quant_gmacs_ratio_tolerance"]
                checks.append({"what": f"{key} GMACs/frame over PyTorch's", "value": v,
                               "target": f"within {1 - tol:.2f}..{1 + tol:.2f}",
                               "ok": abs(v - 1.0) <= tol, "concerns": [key]})
    return checks


def drop_allowed(clips: int | None) -> tuple[float, str]:
    """The top-1 drop a quantised pipeline may show: TARGETS' points, or one clip where the
    held-out set is too small to tell 1 point (fewer than 100 clips: one clip is more than a
    point, so "within 1 point" can only be checked as "at most one clip")."""
    pts = TARGETS["quant_top1_drop_points"]
    if clips and 100.0 / clips > pts:
        one = 100.0 / clips
        return one, f"<= {one:.3g} (one clip of {clips}: {pts} point cannot be resolved)"
    return pts, f"<= {pts}"


def mark_artifacts(manifest: Any, validation: dict) -> list[str]:
    """Write each artifact's ``validation`` status (passed / failed + the checks it missed) and
    each pipeline's ``passed`` from ``validation["checks"]``; a missed pipeline check marks every
    artifact of that backend/precision. Returns the files marked failed."""
    missed_by_art: dict[str, list[str]] = {}
    missed_by_pipe: dict[str, list[str]] = {}
    for c in validation.get("checks", []):
        if c["ok"]:
            continue
        text = f"{c['what']} = {c['value']:.4g} (target {c['target']})"
        for k in c.get("concerns", []):
            (missed_by_pipe if k in validation.get("pipelines", {}) else missed_by_art).setdefault(k, []).append(text)
    fmt_of = {(f["backend"], f["precision"]): name for name, f in validation.get("formats", {}).items()}
    failed = []
    for key, p in validation.get("pipelines", {}).items():
        if "error" not in p:
            p["passed"] = key not in missed_by_pipe
    for art in manifest.artifacts:
        fname = fmt_of.get((art.backend, art.precision), art.format)
        missed = list(missed_by_art.get(f"{fname}/{art.id}", []))
        missed += missed_by_pipe.get(f"{art.backend}/{art.precision}", [])
        art.validation = {"status": "failed" if missed else "passed", "missed": missed}
        if missed:
            failed.append(art.file)
    return failed


def check_artifact(manifest: Any, art: Any, spec: Any, samples: list, *, export_s: float, fname: str,
                   latency_threads: list | None, log: Callable[[str], None], refs: list | None = None) -> dict:
    """A newly exported artifact: the manifest still validates with it, and it runs in the device
    runtime with its logits against PyTorch's (and its latency at ``latency_threads``); its
    record for ``validation["artifacts"]``. ExportError when it does not run."""
    from convert.formats import ExportError
    from convert.formats.base import quiet_fds
    from edge_runtime.manifest import Manifest
    tv = time.perf_counter()
    Manifest.from_dict(manifest.to_dict(), f"manifest (after {fname}/{spec.id})")
    rec = {"file": art.file, "id": spec.id, "format": art.format, "backend": art.backend,
           "precision": art.precision, "bytes": art.bytes, "export_s": round(export_s, 3)}
    try:
        with quiet_fds():
            rec.update(artifact_parity(manifest, art, spec, samples, refs))
            if latency_threads:
                smp = {r: samples[0][r] for r in spec.input_roles}
                rec["latency_ms"] = {f"threads_{n}": artifact_latency(manifest, art, smp, n)
                                     for n in latency_threads}
    except Exception as e:
        raise ExportError(f"{art.file} does not run in the device runtime "
                          f"({art.backend}): {type(e).__name__}: {e}") from e
    lat = rec.get("latency_ms", {}).get("threads_1")
    log(f"  [{fname}] {spec.id:<12} {art.bytes / 1024:8.1f} KiB  export {export_s:5.1f}s  "
        f"rel err {rec['max_rel_logit_err']:.2e}  top1 agree {rec['top1_agreement']:.3f}"
        + (f" (sure {rec['top1_agree_sure']:.3f})" if rec.get("top1_agree_sure") is not None else "")
        + (f"  action sure {rec['action_top1_agree_sure']:.3f}" if rec.get("action_top1_agree_sure") is not None else "")
        + (f"  {lat:.3f} ms/1 thread" if lat is not None else "")
        + f"  [validate {time.perf_counter() - tv:.1f}s]")
    return rec


def validate_pipelines(manifest: Any, model: Any, clips: list, validation: dict, out: Path, *,
                       tiny: bool, log: Callable[[str], None]) -> bool:
    """Per exported backend × precision, the whole adaptive pipeline (``edge_runtime``) on the
    held-out clips against ``ARNet.stream``. A pipeline that fails drops its format from the
    manifest (files removed). True when every pipeline ran."""
    from convert.formats.base import quiet_fds
    ok = True
    t0 = time.perf_counter()
    ref = torch_reference(model, clips, manifest.costs)
    if tiny:
        for clip, lg in zip(clips, ref.logits):
            clip.label = int(np.argmax(lg))
        validation["notes"].append("tiny model: held-out labels are the PyTorch model's own video "
                                   "predictions (a random network has no ground truth), so top-1 "
                                   "measures agreement with PyTorch")
    validation["pytorch"] = torch_summary(manifest, clips, ref)
    for fname, frec in validation["formats"].items():
        if frec["status"] != "ok":
            continue
        key = f"{frec['backend']}/{frec['precision']}"
        tp = time.perf_counter()
        try:
            with quiet_fds():
                validation["pipelines"][key] = pipeline_eval(manifest, frec["backend"], frec["precision"],
                                                             clips, ref)
            p = validation["pipelines"][key]
            log(f"[pipeline {key}] top1 {p['top1'] if p['top1'] is None else round(p['top1'], 1)}  "
                f"actions=torch {p['action_agreement']:.3f}  prediction=torch {p['prediction_agreement']:.3f}  "
                f"GMACs/frame {p['gmacs_per_frame']:.4g}  [{time.perf_counter() - tp:.1f}s]")
        except Exception as e:
            ok = False
            msg = f"pipeline {key} failed in edge_runtime: {type(e).__name__}: {e}"
            validation["pipelines"][key] = {"error": msg[-1500:]}
            frec.update(status="failed", error=msg[-1500:], traceback=traceback.format_exc()[-3000:])
            log(f"[{fname}] FAILED: {msg[-600:]}")
            dropped = [a for a in manifest.artifacts if (a.backend, a.precision) == (frec["backend"], frec["precision"])]
            manifest.artifacts = [a for a in manifest.artifacts if a not in dropped]
            for a in dropped:
                (out / a.file).unlink(missing_ok=True)
    log(f"pipelines validated [{time.perf_counter() - t0:.1f}s]")
    return ok
