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
import datetime as _dt
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # `python convert/export_all.py`: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from convert.tiny import TINY_LABELS, TINY_SAMPLING  # noqa: E402


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


def load_model(args):
    """(model, labels, sampling, training-provenance dict, default output name)."""
    if args.tiny:
        from convert.tiny import tiny_model
        model = tiny_model(args.seed)
        prov = {"checkpoint": f"tiny (fresh seeded model, seed {args.seed}; convert/tiny.py)", "tiny": True,
                "seed": args.seed, "config": model.cfg.to_dict()}
        return model, list(TINY_LABELS), dict(TINY_SAMPLING), prov, "tiny"
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
            "meta": meta, "_data_section": (ck.raw.get("run_config") or {}).get("data")}
    name = path.parent.name if path.parent.name not in ("", ".", "runs") else path.stem
    return ck.model.eval(), labels, sampling, prov, name




# ------------------------------------------------------------------------------- manifest
def base_manifest(model, labels, sampling, prov, name: str, root: Path, resize: str = "area"):
    from edge_runtime.manifest import Action, Manifest
    from train.costs import arnet_cost_table
    cfg = model.cfg
    res, skips = [int(r) for r in cfg.resolutions], [int(f) for f in cfg.skip_lengths]
    actions = [Action("resolution", size=s, backbone=f"backbone_{s}") for s in res[:-1]]
    actions.append(Action("resolution", size=res[-1], backbone="policy"))
    actions += [Action("skip", frames=f) for f in skips]
    ext = model.policy.extractor
    norm = {"mean": [float(x) for x in ext.mean], "std": [float(x) for x in ext.std], "folded": True,
            "color": "RGB", "resize": resize, "crop": "center_square", "input_dtype": "uint8",
            "note": "every artifact takes raw uint8 RGB pixels; mean/std (in [0,1] units) are "
                    "inside the models"}
    costs = arnet_cost_table(model).to_manifest()
    m = Manifest(name=name, labels=list(labels), resolutions=res, skip_lengths=skips, actions=actions,
                 normalization=norm, policy={"resolution": res[-1], "hidden": int(cfg.hidden),
                                             "state": ["h", "c"], "state_dtype": "float32"},
                 costs=costs, sampling=sampling, artifacts=[], multi_label=bool(cfg.multi_label),
                 training=prov)
    m.root = root
    return m


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for p in ("torch", "onnx", "onnxruntime", "onnx2tf", "tensorflow", "ai-edge-litert", "executorch", "torchao"):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = None
    return out


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
                   help="calibrate int8 on generated frames when no --calib is given (not for release)")
    p.add_argument("--calib-clips", type=int, default=None, help="clips used for calibration (default 16; tiny 8)")
    p.add_argument("--val-clips", type=int, default=None, help="held-out clips for validation (default 16; tiny 8)")
    p.add_argument("--calib-samples", type=int, default=256, help="max calibration samples per module")
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
    from convert.data import DataError, data_section_usable, load_from_data_section
    from convert.formats import FORMATS, FormatSelectionError, select_formats
    try:
        fmt_names = select_formats(args.formats)
    except FormatSelectionError as e:
        raise UsageError(str(e)) from None
    if args.checkpoint and args.tiny:
        raise UsageError("--checkpoint and --tiny are exclusive")

    model, labels, sampling, prov, default_name = load_model(args)
    out = Path(args.out or Path("artifacts") / default_name)
    name = args.name or out.resolve().name
    out.mkdir(parents=True, exist_ok=True)
    from edge_runtime.manifest import MANIFEST_NAME
    old = out / MANIFEST_NAME
    if old.exists():
        old.unlink()
        log(f"removed the old {old} (a new one is written when the export ends)")
    log(f"exporting {'tiny model' if args.tiny else prov['checkpoint']} -> {out}  formats: {', '.join(fmt_names)}")

    import numpy as np
    from convert.data import load_export_data, stream_samples
    from convert.formats import ExportContext, ExportError
    from convert.formats.base import quiet_fds
    from convert.modules import module_specs
    from convert import validate as V
    from edge_runtime.manifest import Artifact, Manifest, atomic_write_text, sha256_file

    # ---------------------------------------------------------------- data
    n_cal = args.calib_clips or (8 if args.tiny else 16)
    n_val = args.val_clips or (8 if args.tiny else 16)
    T = int(sampling["frames_per_clip"])
    res = [int(r) for r in model.cfg.resolutions]
    data_section = prov.pop("_data_section", None)
    resize = str(sampling.pop("resize", "area"))   # checkpoints from before data.resize: area
    try:
        if not args.calib and not args.tiny and data_section_usable(data_section):
            log("calibration/validation frames: the checkpoint's training data (run_config.data)")
            data = load_from_data_section(data_section, labels=labels, frames_per_clip=T, resolutions=res,
                                          calib_clips=n_cal, val_clips=n_val, seed=args.seed,
                                          where=f"{prov['checkpoint']}:run_config.data")
        else:
            data = load_export_data(args.calib, labels=labels, frames_per_clip=T, resolutions=res,
                                    calib_clips=n_cal, val_clips=n_val, seed=args.seed, synthetic_ok=True)
    except DataError as e:
        raise UsageError(str(e)) from None
    for clip in data.calib + data.val:
        clip.resize = resize
    calib_ok = data.real or args.tiny or args.allow_synthetic_calib
    specs = module_specs(model)
    t0 = time.perf_counter()
    cal_samples = stream_samples(specs, data.calib, args.calib_samples)
    val_samples = stream_samples(specs, data.val, 24)
    log(f"data: {data.source} ({len(data.calib)} calibration clips, {len(data.val)} held-out clips, "
        f"T={T}; {sum(len(v) for v in cal_samples.values())} calibration samples) "
        f"[{time.perf_counter() - t0:.1f}s]")

    manifest = base_manifest(model, labels, sampling, prov, name, out, resize)
    threads_all = V._threads_all()
    validation: dict = {
        "reference": "PyTorch eval mode (ARNet.export_modules for artifacts, ARNet.stream for clips)",
        "data": data.describe(), "targets": dict(V.TARGETS), "threads_all": threads_all,
        "int8_scheme": "float-io: int8 weights+activations inside; frame uint8 raw pixels, "
                       "h/c and logits float32 at the boundary (no requantisation between steps)",
        "formats": {}, "artifacts": {}, "pipelines": {}, "notes": list(data.notes),
    }
    if not data.real:
        validation["notes"].append("validation/calibration frames are generated (synthetic), not real data")

    work = Path(tempfile.mkdtemp(prefix=".export-", dir=out)).resolve()
    ctx = ExportContext(specs, work, cal_samples, calib_real=data.real, log=log)
    placed: dict[str, list[Path]] = {}
    failed_any = False
    try:
        for fname in fmt_names:
            ex = FORMATS[fname]
            placed[fname] = []
            arts: list = []
            tf0 = time.perf_counter()
            frec = {"status": "ok", "format": ex.format, "backend": ex.backend, "precision": ex.precision,
                    "description": ex.description}
            validation["formats"][fname] = frec
            try:
                ex.check_available()
                if ex.needs_calibration and not calib_ok:
                    raise ExportError(
                        f"{fname} needs real calibration frames: pass --calib DATA (training videos) "
                        f"or --allow-synthetic-calib to calibrate on generated frames")
                for spec in specs:
                    ta = time.perf_counter()
                    final = out / ex.file_name(spec)
                    tmp = out / f".{final.stem}.partial.{ex.ext}"
                    try:
                        with quiet_fds():
                            res = ex.export(ctx, spec, tmp)
                        if not tmp.is_file() or tmp.stat().st_size == 0:
                            raise ExportError(f"{fname}: exporter wrote no file for {spec.id}")
                        os.replace(tmp, final)
                    finally:
                        if tmp.exists():
                            tmp.unlink()
                    placed[fname].append(final)
                    art = Artifact(id=spec.id, role=spec.role, resolution=spec.resolution, format=ex.format,
                                   backend=ex.backend, precision=ex.precision, file=final.name,
                                   sha256=sha256_file(final), bytes=final.stat().st_size,
                                   inputs=res.inputs, outputs=res.outputs, signature=res.signature,
                                   extra=res.extra)
                    export_s = time.perf_counter() - ta
                    tv = time.perf_counter()
                    manifest.artifacts.append(art)
                    arts.append(art)
                    Manifest.from_dict(manifest.to_dict(), f"manifest (after {fname}/{spec.id})")
                    rec = {"file": art.file, "id": spec.id, "format": ex.format, "backend": ex.backend,
                           "precision": ex.precision, "bytes": art.bytes, "export_s": round(export_s, 3)}
                    try:
                        with quiet_fds():
                            rec.update(V.artifact_parity(manifest, art, spec, val_samples[spec.id]))
                            if not args.no_latency:
                                smp = {r: val_samples[spec.id][0][r] for r in spec.input_roles}
                                rec["latency_ms"] = {f"threads_{n}": V.artifact_latency(manifest, art, smp, n)
                                                     for n in sorted({1, threads_all})}
                    except Exception as e:
                        raise ExportError(f"{final.name} does not run in the device runtime "
                                          f"({art.backend}): {type(e).__name__}: {e}") from e
                    validation["artifacts"][f"{fname}/{spec.id}"] = rec
                    lat = rec.get("latency_ms", {}).get("threads_1")
                    log(f"  [{fname}] {spec.id:<12} {art.bytes / 1024:8.1f} KiB  export {export_s:5.1f}s  "
                        f"rel err {rec['max_rel_logit_err']:.2e}  top1 agree {rec['top1_agreement']:.3f}"
                        + (f"  {lat:.3f} ms/1 thread" if lat is not None else "")
                        + f"  [validate {time.perf_counter() - tv:.1f}s]")
                frec["export_s"] = round(time.perf_counter() - tf0, 2)
                frec["bytes"] = sum(a.bytes for a in arts)
                frec["files"] = [a.file for a in arts]
                log(f"[{fname}] ok: {len(arts)} artifacts, {frec['bytes'] / 1024:.1f} KiB, {frec['export_s']:.1f}s")
            except Exception as e:
                failed_any = True
                msg = f"{type(e).__name__}: {e}" if not isinstance(e, ExportError) else str(e)
                msg = re.sub(r"\x1b\[[0-9;]*m", "", msg)
                frec.update(status="failed", error=msg.strip()[-1500:],
                            traceback=traceback.format_exc()[-3000:],
                            export_s=round(time.perf_counter() - tf0, 2))
                log(f"[{fname}] FAILED: {msg.strip()[-600:]}")
                manifest.artifacts = [a for a in manifest.artifacts if a not in arts]
                for k in [k for k in validation["artifacts"] if k.startswith(fname + "/")]:
                    del validation["artifacts"][k]
                for f in placed[fname]:
                    if f.exists():
                        f.unlink()
                placed[fname] = []
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # ------------------------------------------------------------- pipelines
    t0 = time.perf_counter()
    ref = V.torch_reference(model, data.val, manifest.costs)
    if args.tiny:
        for clip, lg in zip(data.val, ref.logits):
            clip.label = int(np.argmax(lg))
        validation["notes"].append("tiny model: held-out labels are the PyTorch model's own video "
                                   "predictions (a random network has no ground truth), so top-1 "
                                   "measures agreement with PyTorch")
    validation["pytorch"] = V.torch_summary(manifest, data.val, ref)
    for fname, frec in validation["formats"].items():
        if frec["status"] != "ok":
            continue
        key = f"{frec['backend']}/{frec['precision']}"
        tp = time.perf_counter()
        try:
            with quiet_fds():
                validation["pipelines"][key] = V.pipeline_eval(manifest, frec["backend"], frec["precision"],
                                                               data.val, ref)
            p = validation["pipelines"][key]
            log(f"[pipeline {key}] top1 {p['top1'] if p['top1'] is None else round(p['top1'], 1)}  "
                f"actions=torch {p['action_agreement']:.3f}  prediction=torch {p['prediction_agreement']:.3f}  "
                f"GMACs/frame {p['gmacs_per_frame']:.4g}  [{time.perf_counter() - tp:.1f}s]")
        except Exception as e:
            failed_any = True
            msg = f"pipeline {key} failed in edge_runtime: {type(e).__name__}: {e}"
            validation["pipelines"][key] = {"error": msg[-1500:]}
            frec.update(status="failed", error=msg[-1500:], traceback=traceback.format_exc()[-3000:])
            log(f"[{fname}] FAILED: {msg[-600:]}")
            dropped = [a for a in manifest.artifacts if (a.backend, a.precision) == (frec["backend"], frec["precision"])]
            manifest.artifacts = [a for a in manifest.artifacts if a not in dropped]
            for a in dropped:
                (out / a.file).unlink(missing_ok=True)
    log(f"pipelines validated [{time.perf_counter() - t0:.1f}s]")

    validation["checks"] = V.check_targets(validation)
    validation["targets_met"] = all(c["ok"] for c in validation["checks"])
    validation["wall_s"] = round(time.perf_counter() - t_start, 1)
    manifest.validation = validation
    manifest.training = {**manifest.training, "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(
        timespec="seconds"), "exporter_versions": _versions()}

    # ------------------------------------------------------------- outputs
    from convert.report import SUMMARY_HEADER, render_report, summary_rows, text_table
    if not manifest.artifacts:
        log("no artifact was exported; no manifest written")
        _print_summary(validation, text_table, SUMMARY_HEADER, summary_rows)
        return 1
    atomic_write_text(out / "report.md", render_report(manifest.to_dict(), validation))
    path = manifest.save(out)  # LAST: validated, atomic
    log(f"wrote {out / 'report.md'} and {path}")
    if args.android:
        apath = export_android(manifest, out, Path(args.android))
        log(f"android assets: {apath}")
    _print_summary(validation, text_table, SUMMARY_HEADER, summary_rows)
    missed = [c for c in validation["checks"] if not c["ok"]]
    for c in missed:
        log(f"WARNING: target missed: {c['what']} = {c['value']:.4g} (target {c['target']})")
    log(f"total {time.perf_counter() - t_start:.1f}s")
    if failed_any:
        return 1
    return 1 if (missed and args.strict) else 0


def _print_summary(validation, text_table, header, rows_fn) -> None:
    log("")
    log(text_table(header, rows_fn(validation)))


def export_android(manifest, src: Path, dest: Path) -> Path:
    """Copy the TFLite artifacts + a manifest listing only them into ``dest`` (assets folder)."""
    from edge_runtime.manifest import Manifest, atomic_write_bytes
    arts = [a for a in manifest.artifacts if a.format == "tflite"]
    if not arts:
        raise UsageError("--android: no TFLite artifact was exported (add tflite-* to --formats)")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "manifest.json").unlink(missing_ok=True)
    for a in arts:
        atomic_write_bytes(dest / a.file, (src / a.file).read_bytes())
    d = manifest.to_dict()
    d["artifacts"] = [x for x in d["artifacts"] if x["format"] == "tflite"]
    m = Manifest.from_dict(d, str(dest / "manifest.json"))
    m.root = dest
    for a in m.artifacts:
        m.verify(a)
    return m.save(dest)


if __name__ == "__main__":
    sys.exit(main())
