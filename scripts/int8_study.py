"""Measure TFLite int8 recipes per network: calibration method, calibration size, float ops.

    python scripts/int8_study.py --checkpoint runs/results/synthact_full/arnet_s0/best.pt \\
        --methods minmax,percentile,mse,entropy --calib-frames 256 --val-clips 128 \\
        --json docs/results/int8_study_synthact_full.json

Every network of the checkpoint (policy + backbones) is converted once to a TF SavedModel
(onnx2tf, cached under ``--work``), calibrated on frames of the training split (each frame at the
network's resolution through the device preprocessing, the policy with the LSTM state the stream
has), quantised with each recipe and compared, frame by frame, with PyTorch fp32 on every frame
of ``--val-clips`` clips of the validation split: top-1 agreement (all frames / frames where fp32
is sure), relative error and KL (``convert.validate.logit_agreement``). Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--work", default=None, help="cache folder (default build/int8_study/<run>)")
    ap.add_argument("--methods", default="minmax,percentile,mse,entropy")
    ap.add_argument("--calib-frames", default="256", help="comma-separated calibration sizes (frames per network)")
    ap.add_argument("--calib-clips", type=int, default=160)
    ap.add_argument("--val-clips", type=int, default=128)
    ap.add_argument("--roundings", default="nearest,gptq", help="weight roundings: nearest,gptq")
    ap.add_argument("--stats-frames", type=int, default=128, help="frames for GPTQ statistics")
    ap.add_argument("--float-layers", default="0", help="comma-separated counts of leading layers kept float")
    ap.add_argument("--only", default=None, help="comma-separated network ids")
    ap.add_argument("--oracle", action="store_true", help="calibrate on the validation frames (diagnostic)")
    ap.add_argument("--json", default=None)
    return ap.parse_args(argv)


def main(argv=None) -> int:
    a = parse(argv)
    from convert import calibration as C
    from convert import weight_rounding as W
    from convert.data import load_from_data_section, stream_samples
    from convert.export_all import load_model
    from convert.formats.base import ExportContext, quiet_fds
    from convert.formats.tflite import map_outputs, saved_model
    from convert.modules import INPUT_NAMES, module_specs
    from convert.validate import logit_agreement

    lm = load_model(argparse.Namespace(tiny=False, checkpoint=a.checkpoint, runs="runs", seed=0))
    resize = str(lm.sampling.pop("resize", "area"))
    work = Path(a.work or Path("build/int8_study") / lm.name)
    work.mkdir(parents=True, exist_ok=True)
    T = int(lm.sampling["frames_per_clip"])
    t0 = time.perf_counter()
    data = load_from_data_section(lm.data_section, labels=lm.labels, frames_per_clip=T,
                                  resolutions=[int(r) for r in lm.model.cfg.resolutions],
                                  calib_clips=a.calib_clips, val_clips=a.val_clips, seed=0)
    for c in data.calib + data.val:
        c.resize = resize
    specs = module_specs(lm.model)
    if a.only:
        keep = set(a.only.split(","))
    else:
        keep = {s.id for s in specs}
    sizes = [int(x) for x in a.calib_frames.split(",")]
    cal = stream_samples(specs, data.calib, max(sizes))
    val = stream_samples(specs, data.val, 10 ** 9)
    if a.oracle:
        cal = stream_samples(specs, data.val, max(sizes))
    print(f"data: {len(data.calib)} calibration clips, {len(data.val)} validation clips "
          f"[{time.perf_counter() - t0:.0f}s]", flush=True)
    ctx = ExportContext(specs, work, cal)
    results = {"checkpoint": a.checkpoint, "val_clips": len(data.val), "calib_clips": len(data.calib),
               "networks": {}}
    for spec in specs:
        if spec.id not in keep:
            continue
        sm_dir = work / "tflite" / spec.id / "tf"
        if (sm_dir / "saved_model.pb").is_file():
            ctx.cache[("tf", spec.id)] = sm_dir
        ts = time.perf_counter()
        with quiet_fds():
            sm = saved_model(ctx, spec)
        print(f"{spec.id}: SavedModel [{time.perf_counter() - ts:.0f}s]", flush=True)
        refs = [spec.reference(s) for s in val[spec.id]]
        roles = [r for r in ("class_logits", "action_logits") if r in refs[0]]
        rec = results["networks"].setdefault(spec.id, {"frames": len(refs), "recipes": {}})
        for n in sizes:
            idx = np.linspace(0, len(cal[spec.id]) - 1, min(n, len(cal[spec.id]))).round().astype(int)
            samples = [cal[spec.id][i] for i in idx]
            feed = [{INPUT_NAMES[r]: np.asarray(s[r], np.uint8 if r == "frame" else np.float32)
                     for r in spec.input_roles} for s in samples]
            tc = time.perf_counter()
            with quiet_fds():
                calibrated = C.calibrated_model(str(sm), lambda: iter(feed))
                hists = C.activation_histograms(calibrated, feed)
                chain = C.input_chain_ranges(calibrated, INPUT_NAMES["frame"])
            print(f"  calibrated on {len(feed)} frames [{time.perf_counter() - tc:.0f}s]", flush=True)
            stats = None
            if "gptq" in a.roundings:
                tc = time.perf_counter()
                step = max(1, len(feed) // a.stats_frames)
                stats = W.collect_stats(calibrated, feed[::step][:a.stats_frames])
                print(f"  GPTQ statistics on {len(feed[::step][:a.stats_frames])} frames "
                      f"[{time.perf_counter() - tc:.0f}s]", flush=True)
            variants = [(m, r, int(k)) for m in a.methods.split(",") for r in a.roundings.split(",")
                        for k in a.float_layers.split(",")]
            for method, rounding, nfloat in variants:
                tq = time.perf_counter()
                with quiet_fds():
                    ranges = C.choose_ranges(hists, method)
                    ranges.update(chain)
                    qm = C.quantize(C.with_ranges(calibrated, ranges),
                                    float_nodes=C.leading_float_nodes(calibrated, nfloat))
                    if rounding == "gptq":
                        qm, _ = W.round_weights(calibrated, qm, stats)
                got = run_all(qm, spec, val[spec.id], refs, map_outputs, INPUT_NAMES)
                key = f"{method}+{rounding}" + (f"+float{nfloat}" if nfloat else "") + f"@{len(feed)}"
                r = {role: logit_agreement(np.concatenate([g[role] for g in got]),
                                           np.concatenate([x[role] for x in refs])) for role in roles}
                r["bytes"] = len(qm)
                rec["recipes"][key] = r
                m = r["class_logits"]
                extra = ""
                if "action_logits" in r:
                    ma = r["action_logits"]
                    extra = (f" | action agree {ma['top1_agree']:.3f} sure {ma['top1_agree_sure']:.3f} "
                             f"kl {ma['kl']:.4f}")
                print(f"  {key:<28} agree {m['top1_agree']:.3f} sure {m['top1_agree_sure']:.3f} "
                      f"(sure {m['sure_share']:.2f}) rel {m['rel_err']:.3f} kl {m['kl']:.4f}{extra} "
                      f"[{time.perf_counter() - tq:.0f}s]", flush=True)
        if a.json:
            Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


def run_all(model: bytes, spec, samples, refs, map_outputs, names) -> list[dict]:
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_content=model, num_threads=2)
    run = it.get_signature_runner("serving_default")
    def call(s):
        return run(**{names[r]: np.asarray(s[r], np.uint8 if r == "frame" else np.float32) for r in spec.input_roles})

    # map output keys to roles on the sample whose reference h and c differ most
    j = int(np.argmax([np.abs(r["h"] - r["c"]).max() if "h" in r else 0.0 for r in refs]))
    mapping = map_outputs({k: np.asarray(v, np.float32) for k, v in call(samples[j]).items()}, refs[j])
    return [{mapping[k]: np.asarray(v, np.float32) for k, v in call(s).items()} for s in samples]


if __name__ == "__main__":
    sys.exit(main())
