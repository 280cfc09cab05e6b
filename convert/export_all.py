"""Export a trained AR-Net to every device format, validate it, write the manifest.

    python convert/export_all.py [--checkpoint PATH] [--out artifacts/<name>] [--formats ...]
                                 [--calib DATA] [--android DIR] [--tiny]
    python -m convert.export_all --tiny --out build/test_artifacts

* ``--checkpoint``: default = the newest ``runs/*/*.pt``.
* ``--tiny``: a freshly initialised tiny model (seeded) with synthetic labels and generated
  frames — what the test-suite uses to make artifacts for the torch-free edge tests.
* ``--formats``: comma-separated names from ``convert.formats.FORMATS`` (default all).
* ``--calib DATA``: real frames for int8 calibration and held-out validation (see
  ``convert.data``). Without it, int8 formats fail with a message (pass
  ``--allow-synthetic-calib`` to calibrate on generated frames anyway) and validation uses
  generated clips.
* ``--android DIR``: also copy the manifest + TFLite files (manifest rewritten to list only
  them) into ``DIR`` (the app's assets folder for this model).

Output folder: one file per artifact (written to a hidden temp name, then renamed), then
``report.md``, then ``manifest.json`` LAST (atomic, validated). An existing ``manifest.json``
is removed first, so a reader never sees a manifest that points at half-replaced files. A
format that fails is reported with its cause and left out (its files removed); the others
finish; the exit code is then 1. Exit code 2: bad arguments / no checkpoint / no data.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python convert/export_all.py`: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from convert.tiny import TINY_LABELS, TINY_SAMPLING  # noqa: E402


DEFAULT_CALIB_CLIPS = 64       # x 8 frames = 512 calibration frames per network
DEFAULT_VAL_CLIPS = 256        # one clip is 0.4 point of top-1: a 1-point drop is 2-3 clips, not one or two
MIN_CALIB_FRAMES = 128         # fewer real frames per network: int8 formats are refused


class UsageError(Exception):
    """Bad arguments or missing inputs: exit code 2 with the message."""


def log(msg: str = "") -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------------- inputs
def find_checkpoint(runs: Path) -> Path:
    cands = sorted(runs.glob("*/*.pt"), key=lambda p: p.stat().st_mtime) if runs.is_dir() else []
    if not cands:
        raise UsageError(
            f"no checkpoint found: looked for {runs}/*/*.pt and there is none. Train one first — "
            f"`make demo` (SynthAct, a few minutes on CPU) or `python train/train.py --config "
            f"configs/<name>.yaml` — or pass --checkpoint PATH, or use --tiny for a random tiny model.")
    return cands[-1]


@dataclass
class LoadedModel:
    """What the export starts from: the model in eval mode and what the manifest says of it."""
    model: Any
    labels: list
    sampling: dict
    provenance: dict                       # the manifest's ``training`` block
    name: str                              # default output name
    data_section: Any = None               # the checkpoint's run_config.data (calibration frames)


def load_model(args: argparse.Namespace) -> LoadedModel:
    """The tiny seeded model (``--tiny``) or the checkpoint's."""
    if args.tiny:
        from convert.tiny import tiny_model
        model = tiny_model(args.seed)
        prov = {"checkpoint": f"tiny (fresh seeded model, seed {args.seed}; convert/tiny.py)", "tiny": True,
                "seed": args.seed, "config": model.cfg.to_dict()}
        return LoadedModel(model, list(TINY_LABELS), dict(TINY_SAMPLING), prov, "tiny")
    from train.checkpoint import CheckpointError, load_checkpoint
    from edge_runtime.manifest import sha256_file
    path = Path(args.checkpoint) if args.checkpoint else find_checkpoint(Path(args.runs))
    try:
        ck = load_checkpoint(path)
    except CheckpointError as e:
        raise UsageError(str(e)) from None
    cfg = ck.cfg
    labels = list(ck.labels) or [f"class_{i}" for i in range(cfg.num_classes)]
    if len(labels) != cfg.num_classes:
        raise UsageError(f"{path}: {len(labels)} labels for a model with {cfg.num_classes} classes")
    sampling = dict(ck.sampling or {})
    sampling.setdefault("frames_per_clip", 16)
    sampling.setdefault("seconds_per_step", 0.25)
    sampling = {"frames_per_clip": int(sampling["frames_per_clip"]),
                "seconds_per_step": float(sampling["seconds_per_step"]), **{
                    k: v for k, v in sampling.items() if k not in ("frames_per_clip", "seconds_per_step")}}
    meta = {k: v for k, v in (ck.meta or {}).items() if k != "cost_table"}
    prov = {"checkpoint": str(path), "checkpoint_sha256": sha256_file(path), "config": cfg.to_dict(),
            "meta": meta}
    name = path.parent.name if path.parent.name not in ("", ".", "runs") else path.stem
    return LoadedModel(ck.model.eval(), labels, sampling, prov, name,
                       data_section=(ck.raw.get("run_config") or {}).get("data"))


# ----------------------------------------------------------------------------------- main
def parse_args(argv):
    from convert.formats import FORMATS
    p = argparse.ArgumentParser(prog="export_all", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="formats: " + ", ".join(f"{k} ({e.description})" for k, e in FORMATS.items()))
    p.add_argument("--checkpoint", help="checkpoint .pt (default: newest runs/*/*.pt)")
    p.add_argument("--runs", default="runs", help="where to look for checkpoints (default: runs)")
    p.add_argument("--out", help="output folder (default: artifacts/<run name>, artifacts/tiny)")
    p.add_argument("--name", help="model name in the manifest (default: the output folder's name)")
    p.add_argument("--formats", default="all", help="comma-separated formats (default: all): "
                   + ",".join(FORMATS))
    p.add_argument("--calib", help="real frames for int8 calibration + validation (folder of videos "
                   "root/<class>/*.mp4, folder of videos/frame folders, or .npz of clips)")
    p.add_argument("--allow-synthetic-calib", action="store_true",
                   help="calibrate int8 on generated frames when no --calib is given (for trying the chain only: int8 needs real frames)")
    p.add_argument("--calib-clips", type=int, default=None,
                   help=f"clips used for calibration (default {DEFAULT_CALIB_CLIPS}; tiny 8)")
    p.add_argument("--val-clips", type=int, default=None,
                   help=f"held-out clips for validation (default {DEFAULT_VAL_CLIPS}, or all the data has; tiny 8)")
    p.add_argument("--calib-samples", type=int, default=512, help="max calibration samples per module (default 512)")
    p.add_argument("--val-frames", type=int, default=4096,
                   help="max held-out frames per network for the artifact checks (default 4096: every "
                        "frame of the validation clips)")
    from convert.calibration import METHODS, WEIGHT_ROUNDINGS, Int8Options
    p.add_argument("--calib-method", default=Int8Options.calib_method, choices=METHODS,
                   help=f"int8 activation ranges (default {Int8Options.calib_method})")
    p.add_argument("--weight-rounding", default=Int8Options.weight_rounding, choices=WEIGHT_ROUNDINGS,
                   help=f"int8 weight rounding, TFLite and ExecuTorch (default {Int8Options.weight_rounding}: "
                        f"error-compensating GPTQ + bias correction; nearest = the quantiser's own)")
    p.add_argument("--float-layers", type=int, default=Int8Options.float_layers, metavar="N",
                   help=f"int8: keep the first N conv layers (and the frame's input chain) in float "
                        f"(default {Int8Options.float_layers}; 0 = every layer int8)")
    p.add_argument("--android", metavar="DIR", help="also copy manifest + .tflite files into DIR")
    p.add_argument("--tiny", action="store_true", help="export a fresh seeded tiny model (tests, demos)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurements")
    p.add_argument("--strict", action="store_true", help="exit 1 when a validation target is missed")
    return p.parse_args(argv)


def main(argv=None) -> int:
    try:
        return _main(argv)
    except UsageError as e:
        print(f"export_all: error: {e}", file=sys.stderr, flush=True)
        return 2


def _main(argv) -> int:
    t_start = time.perf_counter()
    args = parse_args(argv)
    from convert.formats import FormatSelectionError, select_formats
    try:
        fmt_names = select_formats(args.formats)
    except FormatSelectionError as e:
        raise UsageError(str(e)) from None
    if args.checkpoint and args.tiny:
        raise UsageError("--checkpoint and --tiny are exclusive")

    lm = load_model(args)
    out = Path(args.out or Path("artifacts") / lm.name)
    name = args.name or out.resolve().name
    out.mkdir(parents=True, exist_ok=True)
    from edge_runtime.manifest import MANIFEST_NAME
    old = out / MANIFEST_NAME
    if old.exists():
        old.unlink()
        log(f"removed the old {old} (a new one is written when the export ends)")
    log(f"exporting {'tiny model' if args.tiny else lm.provenance['checkpoint']} -> {out}  formats: "
        f"{', '.join(fmt_names)}")

    from convert import validate as V
    from convert.data import stream_samples
    from convert.export import export_format
    from convert.formats import ExportContext
    from convert.modules import module_specs
    from convert.outputs import AndroidExportError, base_manifest, write_outputs

    resize = str(lm.sampling.pop("resize", "area"))   # checkpoints from before data.resize: area
    data = export_data(args, lm, resize)
    calib_ok = data.real or args.tiny or args.allow_synthetic_calib
    specs = module_specs(lm.model)
    t0 = time.perf_counter()
    cal_samples = stream_samples(specs, data.calib, args.calib_samples)
    val_samples = stream_samples(specs, data.val, args.val_frames)
    calib_problem = None
    n_cal = min(len(v) for v in cal_samples.values()) if cal_samples else 0
    if data.real and not args.tiny and n_cal < MIN_CALIB_FRAMES:
        T = int(lm.sampling["frames_per_clip"])
        calib_problem = (f"int8 calibration needs at least {MIN_CALIB_FRAMES} frames per network "
                         f"({-(-MIN_CALIB_FRAMES // T)} clips of {T} frames); {data.source} gave "
                         f"{len(data.calib)} readable clip(s), {n_cal} frames: pass --calib with more "
                         f"training clips (or --calib-clips N)")
        log(f"WARNING: {calib_problem}")
    val_refs = {s.id: V.reference_outputs(s, val_samples[s.id]) for s in specs}
    log(f"data: {data.source} ({len(data.calib)} calibration clips, {len(data.val)} held-out clips, "
        f"T={int(lm.sampling['frames_per_clip'])}; {sum(len(v) for v in cal_samples.values())} calibration "
        f"samples, {sum(len(v) for v in val_samples.values())} held-out frames) [{time.perf_counter() - t0:.1f}s]")

    manifest = base_manifest(lm.model, lm.labels, lm.sampling, lm.provenance, name, out, resize)
    validation: dict = {
        "reference": "PyTorch eval mode (ARNet.export_modules for artifacts, ARNet.stream for clips)",
        "data": data.describe(), "targets": dict(V.TARGETS), "threads_all": V._threads_all(),
        "int8_scheme": "float-io: int8 weights+activations inside; frame uint8 raw pixels, "
                       "h/c and logits float32 at the boundary (no requantisation between steps)",
        "formats": {}, "artifacts": {}, "pipelines": {}, "notes": list(data.notes),
    }
    if not data.real:
        validation["notes"].append("validation/calibration frames are generated (synthetic), not real data")

    # export per format (a failed format is left out), then the pipelines, then the outputs
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=out)).resolve()
    from convert.calibration import CalibrationError, Int8Options
    try:
        int8 = Int8Options(calib_method=args.calib_method, weight_rounding=args.weight_rounding,
                           float_layers=args.float_layers)
    except CalibrationError as e:
        raise UsageError(str(e)) from None
    validation["int8_recipe"] = int8.describe()
    ctx = ExportContext(specs, work, cal_samples, calib_real=data.real, log=log, int8=int8)
    try:
        ok = [export_format(f, ctx, specs, out, manifest, validation, val_samples, calib_ok=calib_ok,
                            latency=not args.no_latency, log=log, val_refs=val_refs,
                            calib_problem=calib_problem) for f in fmt_names]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ok.append(V.validate_pipelines(manifest, lm.model, data.val, validation, out, tiny=args.tiny, log=log))
    validation["checks"] = V.check_targets(validation)
    validation["targets_met"] = all(c["ok"] for c in validation["checks"])
    if args.tiny:   # a random network: its int8 numbers say nothing about quantisation quality
        validation["notes"].append("tiny model: artifacts are not marked passed/failed")
    else:
        for f in V.mark_artifacts(manifest, validation):
            log(f"marked failed in the manifest: {f} (the runtime refuses it unless --allow-failed)")
    validation["wall_s"] = round(time.perf_counter() - t_start, 1)
    try:
        if not write_outputs(manifest, validation, out, args.android, log):
            return 1
    except AndroidExportError as e:   # --android without a TFLite artifact
        raise UsageError(str(e)) from None
    missed = [c for c in validation["checks"] if not c["ok"]]
    for c in missed:
        log(f"WARNING: target missed: {c['what']} = {c['value']:.4g} (target {c['target']})")
    log(f"total {time.perf_counter() - t_start:.1f}s")
    if not all(ok):
        return 1
    return 1 if (missed and args.strict) else 0


def export_data(args: argparse.Namespace, lm: LoadedModel, resize: str) -> Any:
    """Calibration and held-out clips: ``--calib``, else the checkpoint's training data, else
    generated frames (with a note)."""
    from convert.data import DataError, data_section_usable, load_export_data, load_from_data_section
    n_cal = args.calib_clips or (8 if args.tiny else DEFAULT_CALIB_CLIPS)
    n_val = args.val_clips or (8 if args.tiny else DEFAULT_VAL_CLIPS)
    T = int(lm.sampling["frames_per_clip"])
    res = [int(r) for r in lm.model.cfg.resolutions]
    try:
        if not args.calib and not args.tiny and data_section_usable(lm.data_section):
            log("calibration/validation frames: the checkpoint's training data (run_config.data)")
            data = load_from_data_section(lm.data_section, labels=lm.labels, frames_per_clip=T, resolutions=res,
                                          calib_clips=n_cal, val_clips=n_val, seed=args.seed,
                                          where=f"{lm.provenance['checkpoint']}:run_config.data")
        else:
            data = load_export_data(args.calib, labels=lm.labels, frames_per_clip=T, resolutions=res,
                                    calib_clips=n_cal, val_clips=n_val, seed=args.seed, synthetic_ok=True)
    except DataError as e:
        raise UsageError(str(e)) from None
    for clip in data.calib + data.val:
        clip.resize = resize
    return data


if __name__ == "__main__":
    sys.exit(main())
