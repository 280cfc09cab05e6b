"""TFLite (LiteRT) fp32 / fp16 / int8 via onnx2tf.

Path: the module's ONNX (``onnx_fp32.onnx_file``) -> onnx2tf -> TF SavedModel + fp32 and fp16
``.tflite`` (one onnx2tf run per module, shared by the three formats) -> int8 with the TFLite
converter on that SavedModel, calibrated on our own samples.

* Inputs keep the device contract: ``frame`` uint8 NHWC (1, s, s, 3) (onnx2tf is told to keep
  its shape: ``keep_shape_absolutely_input_names``; the uint8 -> float cast and the NHWC->NCHW
  transpose of the wrapper are in the graph and onnx2tf folds the layout), ``h``/``c`` float32.
* Calls go through the ``serving_default`` signature; the manifest records the signature's
  input/output keys (fp32/fp16 keep the ONNX names, int8's converter renames outputs to
  ``output_N``: they are mapped to roles by comparing values with PyTorch) plus the raw tensor
  names in ``extra.tensors`` for interpreters without signature support.
* int8 scheme — **float-IO, int8 inside**: weights and activations int8 (per-channel weights,
  calibrated on real frames), the frame stays uint8 raw pixels (CAST + QUANTIZE in the graph),
  ``h``/``c`` and the logits are float32 at the boundary (QUANTIZE/DEQUANTIZE in the graph).
  The runtime feeds the same tensors as fp32: no requantisation of the state between steps.
  Only builtin int8 ops are allowed (``TFLITE_BUILTINS_INT8``); builtin float fallback is
  allowed only if that fails, and is recorded.
* Models must run on a plain interpreter (ai-edge-litert, tflite-runtime 2.14): builtin ops
  only — the op list is checked (no Flex/custom ops) and recorded.

onnx2tf pitfalls handled here: it rewrites its input ``.onnx`` in place (it gets a copy in a
scratch folder); it downloads a sample-image ``.npy`` when every input is a 3-channel image
(a local ``calibration_image_sample_data_20x128x128x3_float32.npy`` made from our frames is put
in its working directory, and its download function is replaced for the call); its ONNX
dummy inference gets our samples via ``custom_input_op_name_np_data_path`` (-cind); we never
ask it for its own int8 (which would add SELECT_TF_OPS and calibrate in float).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import os
import re
import shutil
import warnings
from pathlib import Path

import numpy as np

from convert.formats.base import Exported, ExportContext, ExportError, Exporter, chdir
from convert.formats.onnx_fp32 import onnx_file
from convert.modules import INPUT_NAMES, OUTPUT_NAMES, ModuleSpec
from edge_runtime.manifest import TensorSpec

SIGNATURE = "serving_default"
SAMPLE_NPY = "calibration_image_sample_data_20x128x128x3_float32.npy"
FORBIDDEN_OP_PREFIXES = ("Flex", "CUSTOM", "DELEGATE")


@contextlib.contextmanager
def _quiet():
    """Silence TF/onnx2tf chatter (stdout, python warnings, absl/TF loggers)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    buf = io.StringIO()
    loggers = [logging.getLogger(n) for n in ("tensorflow", "absl", "onnx2tf")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(buf):
            warnings.simplefilter("ignore")
            yield buf
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def _sample_images(samples: list[dict]) -> np.ndarray:
    """20 x 128 x 128 x 3 float32 in [0, 1] from our frames (onnx2tf's test-image file)."""
    import cv2
    frames = [s["frame"][0] for s in samples] or [np.zeros((128, 128, 3), np.uint8)]
    frames = list(itertools.islice(itertools.cycle(frames), 20))
    imgs = [cv2.resize(f, (128, 128), interpolation=cv2.INTER_AREA) for f in frames]
    return (np.stack(imgs).astype(np.float32) / 255.0)


def _samples(ctx: ExportContext, spec: ModuleSpec, n: int) -> list[dict]:
    s = ctx.calib.get(spec.id) or []
    if s:
        return s[:n]
    ex = spec.example_inputs()
    return [{r: t.numpy() for r, t in zip(spec.input_roles, ex)}]


def saved_model(ctx: ExportContext, spec: ModuleSpec) -> Path:
    """Run onnx2tf once per module; return its output folder (SavedModel + fp32/fp16 tflite)."""
    key = ("tf", spec.id)
    if key in ctx.cache:
        return ctx.cache[key]
    src = onnx_file(ctx, spec)
    wd = ctx.scratch("tflite", spec.id).resolve()   # absolute: onnx2tf runs with cwd = wd
    model = wd / "model.onnx"
    shutil.copyfile(src, model)                      # onnx2tf rewrites its input in place
    samples = _samples(ctx, spec, 20)
    np.save(wd / SAMPLE_NPY, _sample_images(samples))
    cind = []
    for role in spec.input_roles:
        p = wd / f"cind_{role}.npy"
        np.save(p, np.concatenate([s[role] for s in samples]))
        cind.append([INPUT_NAMES[role], str(p)])
    out = wd / "tf"
    local_npy = wd / SAMPLE_NPY

    import onnx2tf
    import onnx2tf.onnx2tf as o2t_main
    import onnx2tf.utils.common_functions as o2t_common

    def _local_sample() -> np.ndarray:  # never the network
        return np.load(local_npy)

    saved = (o2t_main.download_test_image_data, o2t_common.download_test_image_data)
    o2t_main.download_test_image_data = _local_sample
    o2t_common.download_test_image_data = _local_sample
    try:
        with chdir(wd), _quiet() as log:
            try:
                onnx2tf.convert(
                    input_onnx_file_path=str(model), output_folder_path=str(out),
                    keep_shape_absolutely_input_names=[INPUT_NAMES["frame"]],
                    custom_input_op_name_np_data_path=cind,
                    output_signaturedefs=True, non_verbose=True, verbosity="error")
            except SystemExit as e:  # onnx2tf calls sys.exit(1) on errors
                text = re.sub(r"\x1b\[[0-9;]*m", "", log.getvalue())
                raise ExportError(f"onnx2tf failed on {spec.id} (exit {e.code}): {text[-3000:]}") from None
    finally:
        o2t_main.download_test_image_data, o2t_common.download_test_image_data = saved
    for f in ("saved_model.pb", "model_float32.tflite", "model_float16.tflite"):
        if not (out / f).is_file():
            raise ExportError(f"onnx2tf did not write {f} for {spec.id} (in {out})")
    ctx.cache[key] = out
    return out


# ------------------------------------------------------------------------ inspect / describe
def _interpreter(path: Path, threads: int = 1):
    from ai_edge_litert.interpreter import Interpreter
    return Interpreter(model_path=str(path), num_threads=threads)


def op_names(path: Path) -> list[str]:
    it = _interpreter(path)
    return sorted({d["op_name"] for d in it._get_ops_details()})


def xnnpack_partitions(path: Path) -> int:
    """How many XNNPACK delegate partitions the default interpreter makes of this model. Every op
    XNNPACK cannot take (a uint8 TRANSPOSE, a GATHER) splits the graph; one or two is the norm
    (the frame's CAST is the only CPU op of a channel-uniform model)."""
    it = _interpreter(path)
    it.allocate_tensors()
    return sum(1 for d in it._get_ops_details() if d["op_name"] == "DELEGATE")


def check_builtin_ops(path: Path, name: str) -> list[str]:
    ops = op_names(path)
    bad = [o for o in ops if o.startswith(FORBIDDEN_OP_PREFIXES)]
    if bad:
        raise ExportError(f"{name}: non-builtin ops {bad} (a plain LiteRT / tflite-runtime "
                          f"interpreter cannot run them); all ops: {ops}")
    return ops


def _quant(d: dict) -> dict | None:
    q = d.get("quantization") or (0.0, 0)
    if float(q[0]) > 0 and np.dtype(d["dtype"]).kind in "iu":
        return {"scale": float(q[0]), "zero_point": int(q[1])}
    return None


def _dtype_name(dt) -> str:
    return {np.dtype(np.uint8): "uint8", np.dtype(np.int8): "int8", np.dtype(np.float32): "float32",
            np.dtype(np.float16): "float16", np.dtype(np.int32): "int32",
            np.dtype(np.int64): "int64"}[np.dtype(dt)]


def map_outputs(got: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> dict[str, str]:
    """Signature output key -> role, by shape, then (for equal shapes) by closeness to PyTorch.

    Raises ExportError when the assignment is not clear-cut (the two best permutations are
    within a factor 2 of each other)."""
    keys, roles = sorted(got), list(ref)
    if len(keys) != len(roles):
        raise ExportError(f"the model has {len(keys)} outputs {keys}, expected {len(roles)} {roles}")
    mapping: dict[str, str] = {}
    groups: dict[tuple, tuple[list, list]] = {}
    for k in keys:
        groups.setdefault(tuple(np.shape(got[k])), ([], []))[0].append(k)
    for r in roles:
        shp = tuple(np.shape(ref[r]))
        if shp not in groups:
            raise ExportError(f"no output of shape {list(shp)} for role {r!r}; outputs: "
                              f"{ {k: list(np.shape(v)) for k, v in got.items()} }")
        groups[shp][1].append(r)
    for shp, (ks, rs) in groups.items():
        if len(ks) != len(rs):
            raise ExportError(f"outputs of shape {list(shp)}: {ks} vs roles {rs}")
        if len(ks) == 1:
            mapping[ks[0]] = rs[0]
            continue
        scored = []
        for perm in itertools.permutations(rs):
            err = sum(float(np.abs(got[k].astype(np.float64) - ref[r]).max()) / (float(np.abs(ref[r]).max()) + 1e-6)
                      for k, r in zip(ks, perm))
            scored.append((err, perm))
        scored.sort(key=lambda x: x[0])
        if len(scored) > 1 and not scored[0][0] * 2.0 < scored[1][0]:
            raise ExportError(f"cannot tell outputs {ks} apart by value (errors {scored[:2]})")
        mapping.update(dict(zip(ks, scored[0][1])))
    return mapping


def describe(path: Path, spec: ModuleSpec, precision: str, name: str, sample: dict) -> Exported:
    """TensorSpecs (signature keys as names, roles checked by value) + extra facts of a .tflite."""
    ops = check_builtin_ops(path, name)
    it = _interpreter(path)
    sigs = it.get_signature_list()
    if SIGNATURE not in sigs:
        raise ExportError(f"{name}: no {SIGNATURE!r} signature (has {sorted(sigs)})")
    runner = it.get_signature_runner(SIGNATURE)
    in_det, out_det = runner.get_input_details(), runner.get_output_details()
    raw_in = {d["index"]: d["name"] for d in it.get_input_details()}
    raw_out = {d["index"]: d["name"] for d in it.get_output_details()}
    inputs = []
    for role in spec.input_roles:
        key = INPUT_NAMES[role]
        if key not in in_det:
            raise ExportError(f"{name}: signature input {key!r} missing; inputs: {sorted(in_det)}")
        d = in_det[key]
        shape, dt = [int(x) for x in d["shape"]], _dtype_name(d["dtype"])
        if shape != spec.input_shape(role):
            raise ExportError(f"{name}: input {key!r} has shape {shape}, expected {spec.input_shape(role)}")
        if role == "frame" and dt != "uint8":
            raise ExportError(f"{name}: frame input is {dt}, expected uint8 (device contract)")
        inputs.append(TensorSpec(key, role, shape, dt, spec.input_layout(role), _quant(d)))
    # outputs: run one real sample, map keys to roles by shape and value
    sample = {r: np.asarray(sample[r]) for r in spec.input_roles}
    feed = {INPUT_NAMES[r]: sample[r].astype(in_det[INPUT_NAMES[r]]["dtype"]) for r in spec.input_roles}
    got = runner(**feed)
    got = {k: _dequant(v, out_det[k]) for k, v in got.items()}
    ref = spec.reference(sample)
    named = {OUTPUT_NAMES[r]: r for r in spec.output_roles}
    if set(got) == set(named):
        mapping = named
    else:
        mapping = map_outputs(got, ref)
    by_role = {r: k for k, r in mapping.items()}
    outputs = []
    for role in spec.output_roles:
        k = by_role[role]
        d = out_det[k]
        outputs.append(TensorSpec(k, role, [int(x) for x in d["shape"]], _dtype_name(d["dtype"]),
                                  "NC", _quant(d)))
    extra = {
        "ops": ops,
        "xnnpack_partitions": xnnpack_partitions(path),
        "tensors": {"inputs": {t.name: raw_in[in_det[t.name]["index"]] for t in inputs},
                    "outputs": {t.name: raw_out[out_det[t.name]["index"]] for t in outputs}},
        "converter": "onnx2tf" + ("" if precision != "int8" else " + TFLiteConverter int8"),
    }
    return Exported(inputs, outputs, signature=SIGNATURE, extra=extra)


def _dequant(v: np.ndarray, d: dict) -> np.ndarray:
    q = _quant(d)
    v = np.asarray(v)
    if q:
        return (v.astype(np.float32) - q["zero_point"]) * q["scale"]
    return v.astype(np.float32)


def probe_sample(ctx: ExportContext, spec: ModuleSpec) -> dict:
    """A real input whose h and c differ and are non-zero (so equal-shape outputs can be told
    apart): the last calibration sample, else a seeded random one."""
    for s in reversed(ctx.calib.get(spec.id) or []):
        if spec.role != "policy" or (np.abs(s["h"]).max() > 0 and not np.allclose(s["h"], s["c"])):
            return s
    return {r: t.numpy() for r, t in zip(spec.input_roles, spec.example_inputs(7))}


# --------------------------------------------------------------------------------- exporters
class TFLiteExporter(Exporter):
    format = "tflite"
    backend = "litert"
    ext = "tflite"
    requires = ("onnx2tf", "tensorflow", "ai_edge_litert", "onnx", "onnxscript", "onnxruntime")

    def __init__(self, precision: str):
        self.precision = precision
        self.name = f"tflite-{precision}"
        self.needs_calibration = precision == "int8"
        self.description = {
            "fp32": "TFLite fp32 (LiteRT, XNNPACK; Android)",
            "fp16": "TFLite fp16 weights, fp32 compute/IO (LiteRT; GPU delegate friendly)",
            "int8": "TFLite int8 inside, uint8 frame + float32 state/logits IO (LiteRT)",
        }[precision]

    def export(self, ctx: ExportContext, spec: ModuleSpec, dest: Path) -> Exported:
        with _quiet():
            sm = saved_model(ctx, spec)
            if self.precision in ("fp32", "fp16"):
                shutil.copyfile(sm / f"model_float{self.precision[2:]}.tflite", dest)
                ex = describe(dest, spec, self.precision, f"{self.name}/{spec.id}", probe_sample(ctx, spec))
                ex.extra["int8_scheme"] = None
                return ex
            data = quantize_int8(ctx, spec, sm)
            dest.write_bytes(data["bytes"])
            ex = describe(dest, spec, "int8", f"{self.name}/{spec.id}", probe_sample(ctx, spec))
        ex.extra.update({k: v for k, v in data.items() if k != "bytes"})
        return ex


def quantize_int8(ctx: ExportContext, spec: ModuleSpec, sm: Path) -> dict:
    """Full-integer quantisation of the SavedModel with float32 state/logits IO (see module doc):
    the converter's calibration pass, activation ranges by ``ctx.int8.calib_method`` (the frame's
    input chain exact), the MLIR quantiser, then GPTQ weight rounding + bias correction
    (``ctx.int8.weight_rounding``; ``convert.weight_rounding``). If that path fails, the stock
    converter (min-max, round to nearest) is tried, int8-only then with builtin float fallback."""
    from convert import calibration as C
    samples = ctx.calib_samples(spec)
    opts = ctx.int8
    feed = [{INPUT_NAMES[r]: np.asarray(s[r], np.uint8 if r == "frame" else np.float32)
             for r in spec.input_roles} for s in samples]
    info = {"int8_scheme": "float-io", "calibration": {"samples": len(samples), "real_frames": ctx.calib_real}}
    try:
        calibrated = C.calibrated_model(str(sm), lambda: iter(feed))
        ranges = {}
        if opts.calib_method != "minmax":
            ranges = C.choose_ranges(C.activation_histograms(calibrated, feed), opts.calib_method)
        ranges.update(C.input_chain_ranges(calibrated, INPUT_NAMES["frame"]))
        floats = C.leading_float_nodes(calibrated, opts.float_layers)
        data = C.quantize(C.with_ranges(calibrated, ranges), float_nodes=floats)
        rounding = {"method": "nearest"}
        if opts.weight_rounding == "gptq":
            from convert import weight_rounding as W
            step = max(1, len(feed) // opts.stats_frames)
            stats = W.collect_stats(calibrated, feed[::step][:opts.stats_frames])
            data, summary = W.round_weights(calibrated, data, stats)
            rounding = {"method": "gptq+bias_correction", "layers": summary["layers"],
                        "frames": min(opts.stats_frames, len(feed[::step]))}
        info.update(int8_ops="int8-only" if not floats else f"int8, the first {opts.float_layers} layer(s) "
                    f"and the input chain in float", quantizer="TFLite MLIR quantiser, per-channel weights",
                    calibration={**info["calibration"], "method": opts.calib_method,
                                 "ranges_changed": len(ranges)},
                    weight_rounding=rounding)
        return {"bytes": data, **info}
    except Exception as e:   # the stock converter below; the reason is recorded
        info["calibration_fallback"] = f"{type(e).__name__}: {str(e)[-600:]}"
    import tensorflow as tf

    def representative():
        yield from feed

    errors = []
    for ops, label in (([tf.lite.OpsSet.TFLITE_BUILTINS_INT8], "int8-only"),
                       ([tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS],
                        "int8 with builtin float fallback")):
        conv = tf.lite.TFLiteConverter.from_saved_model(str(sm))
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = ops
        try:
            data = conv.convert()
        except Exception as e:  # converter raises ConverterError / RuntimeError
            errors.append(f"{label}: {type(e).__name__}: {str(e)[-800:]}")
            continue
        info["calibration"]["method"] = "minmax (stock converter)"
        return {"bytes": data, "int8_ops": label, "weight_rounding": {"method": "nearest"}, **info}
    raise ExportError(f"TFLite int8 conversion of {spec.id} failed: " + " | ".join(errors)
                      + f" (after: {info['calibration_fallback']})")
