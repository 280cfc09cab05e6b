"""int8 against fp32, per exported model: accuracy numbers from the export's validation, and the
speed ratio measured here, side by side.

    python scripts/int8_validation.py --model demo=artifacts/demo:data/synthact_small/videos/test \\
        --model synthact_full=artifacts/synthact_full:data/synthact_full/videos/test \\
        --json docs/results/int8_validation.json
    python scripts/int8_validation.py --format pte --no-speed --model s1=/tmp/full_s1:- --json out.json

Per model (``name=folder:videos``):

* ``clips``, ``networks`` (``top1_agree``, ``top1_agree_sure``, ``sure_frames``, ``rel_err``,
  ``kl`` of each int8 network of ``--format`` (TFLite by default, or ExecuTorch) against PyTorch fp32 on every held-out frame) and
  ``pipeline`` (``fp32_top1``, ``int8_top1``, ``actions_agree``, ``gmacs_ratio_int8_over_fp32``)
  come from the manifest's ``validation`` (``convert/export_all.py`` measured them);
* ``speed_ratio_fp32_over_int8``: the adaptive pipeline on LiteRT with 2 threads, fp32 and int8
  loaded together and run alternately clip by clip on the same decoded frames (``--repeat``
  passes); the ratio of the median ms/frame of the two;
* ``passed``: every target of the export's checks met, and the speed ratio >= 1.5.

The first model is also written at the top level (the format the accuracy goal names).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

SPEED_GOAL = 1.5


PIPELINES = {"tflite": "litert", "pte": "executorch"}   # --format -> the runtime backend validated on


def accuracy_part(manifest, fmt: str = "tflite") -> dict:
    v = manifest.validation
    nets = {}
    for key, a in v.get("artifacts", {}).items():
        if not key.startswith(f"{fmt}-int8/"):
            continue
        rec = {k: a.get(k) for k in ("top1_agree", "top1_agree_sure", "sure_frames", "rel_err", "kl")}
        if "action_top1_agree_sure" in a:
            rec.update(action_top1_agree=a.get("action_top1_agreement"),
                       action_top1_agree_sure=a["action_top1_agree_sure"],
                       action_sure_frames=a.get("action_sure_frames"))
        nets[key.split("/", 1)[1]] = rec
    p8 = v.get("pipelines", {}).get(f"{PIPELINES[fmt]}/int8", {})
    p32 = v.get("pipelines", {}).get(f"{PIPELINES[fmt]}/fp32") or v.get("pipelines", {}).get("litert/fp32", {})
    g32 = p32.get("gmacs_per_frame") or p8.get("gmacs_per_frame_torch")
    ref = v.get("pytorch", {})
    pipe = {"fp32_top1": p32.get("top1", ref.get("top1")), "pytorch_top1": ref.get("top1"),
            "int8_top1": p8.get("top1"), "fp32_mAP": p32.get("mAP"), "int8_mAP": p8.get("mAP"),
            "actions_agree": p8.get("action_agreement"),
            "gmacs_ratio_int8_over_fp32": p8["gmacs_per_frame"] / g32 if p8.get("gmacs_per_frame") and g32 else None}
    checks = [c for c in v.get("checks", []) if "int8" in c["what"]]
    return {"clips": v.get("data", {}).get("val_clips"), "networks": nets, "pipeline": pipe,
            "int8_recipe": v.get("int8_recipe"), "checks": checks,
            "targets_met": all(c["ok"] for c in checks)}


def speed_part(folder: Path, videos: Path, clips: int, repeat: int, threads: int) -> dict:
    from convert.data import load_export_data
    from edge_runtime.manifest import load_manifest
    from edge_runtime.pipeline import AdaptivePipeline
    m = load_manifest(folder)
    T = int(m.sampling.get("frames_per_clip", 8))
    data = load_export_data(videos, labels=list(m.labels), frames_per_clip=T, resolutions=list(m.resolutions),
                            calib_clips=clips, val_clips=1, seed=0)
    frames = [list(c.frames) for c in data.calib]
    pipes = {p: AdaptivePipeline(m, backend="litert", precision=p, threads=threads, allow_failed=True)
             for p in ("fp32", "int8")}
    for p in pipes.values():                   # warm-up
        p.predict_clip(frames[0])
    times = {p: [] for p in pipes}
    order = list(pipes)
    for r in range(repeat):
        for i, f in enumerate(frames):
            for p in (order if (i + r) % 2 == 0 else order[::-1]):
                t0 = time.perf_counter()
                pipes[p].predict_clip(f)
                times[p].append((time.perf_counter() - t0) * 1000.0 / len(f))
    ms = {p: float(np.median(v)) for p, v in times.items()}
    per_pass = []
    n = len(frames)
    for r in range(repeat):
        a = np.median(times["fp32"][r * n:(r + 1) * n])
        b = np.median(times["int8"][r * n:(r + 1) * n])
        per_pass.append(round(float(a / b), 3))
    return {"threads": threads, "speed_clips": len(frames), "repeat": repeat, "ms_per_frame": ms,
            "speed_ratio_fp32_over_int8": ms["fp32"] / ms["int8"], "per_pass": per_pass,
            "engine": pipes["int8"].engines.models["policy"].engine if hasattr(
                pipes["int8"].engines.models["policy"], "engine") else None}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", required=True, metavar="NAME=FOLDER:VIDEOS")
    ap.add_argument("--json", required=True)
    ap.add_argument("--clips", type=int, default=24, help="videos for the speed ratio")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--format", default="tflite", choices=sorted(PIPELINES),
                    help="which int8 files' validation to report (default tflite)")
    ap.add_argument("--no-speed", action="store_true",
                    help="accuracy only (the speed ratio is measured for tflite on LiteRT)")
    a = ap.parse_args(argv)
    from edge_runtime.manifest import load_manifest
    out: dict = {"host": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
                 "speed_goal": SPEED_GOAL, "models": {}}
    for spec in a.model:
        name, rest = spec.split("=", 1)
        folder, videos = rest.split(":", 1)
        m = load_manifest(folder)
        rec = accuracy_part(m, a.format)
        if not rec["networks"]:
            raise SystemExit(f"{folder}: the manifest's validation has no {a.format}-int8 files "
                             f"(export them with --formats {a.format}-int8)")
        rec["format"] = a.format
        if a.no_speed or a.format != "tflite":
            rec.update(speed_ratio_fp32_over_int8=None, per_pass=None)
            rec["passed"] = bool(rec["targets_met"])
        else:
            rec.update(speed_part(Path(folder), Path(videos), a.clips, a.repeat, a.threads))
            rec["passed"] = bool(rec["targets_met"] and rec["speed_ratio_fp32_over_int8"] >= SPEED_GOAL)
        out["models"][name] = rec
        p = rec["pipeline"]
        speed = rec["speed_ratio_fp32_over_int8"]
        print(f"{name}: {rec['clips']} clips; {a.format} int8 top-1 {p['int8_top1']} vs fp32 {p['fp32_top1']}; "
              f"actions {p['actions_agree']}; GMACs ratio {p['gmacs_ratio_int8_over_fp32']}; speed fp32/int8 "
              + (f"{speed:.2f} (passes {rec['per_pass']})" if speed is not None else "not measured")
              + f"; targets met {rec['targets_met']}")
        for k, n in rec["networks"].items():
            print(f"   {k:<14} agree {n['top1_agree']:.3f}  sure {n['top1_agree_sure']}  ({n['sure_frames']} "
                  f"frames)  rel {n['rel_err']:.3f}  kl {n['kl']:.4f}")
    first = next(iter(out["models"].values()))
    out.update({k: first[k] for k in ("clips", "networks", "pipeline", "speed_ratio_fp32_over_int8")})
    tmp = Path(a.json).with_suffix(".tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(out, indent=1))
    os.replace(tmp, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
