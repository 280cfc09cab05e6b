"""Which TFLite precision runs fastest on this venv's interpreter (tflite_runtime 2.13 / 2.14 on
JetPack devices, ai_edge_litert elsewhere): ms per invoke, XNNPACK coverage and error vs fp32.

    # 1. the models (desktop venv, needs TensorFlow): fp32/fp16 from onnx2tf's folders, the
    #    dynamic-range ones converted from the SavedModels, int8 copied from an export
    python scripts/bench_legacy_precisions.py --prepare build/int8_study/demo/tflite \\
        --int8-from artifacts/demo --models build/legacy
    # 2. the bench, in each edge venv (torch-free)
    .venv-edge/bin/python scripts/bench_legacy_precisions.py --models build/legacy \\
        --real-inputs build/legacy/real_inputs --json out.json

``--models DIR`` holds ``<network>_<precision>.tflite`` files, precision one of

============  ===========================================================================
fp32          float model (onnx2tf ``model_float32.tflite``)
fp16          fp16 weights + DEQUANTIZE, fp32 compute (onnx2tf ``model_float16.tflite``)
dynrange      dynamic-range quantisation: int8 weights, float activations
              (``TFLiteConverter``, ``optimizations=[Optimize.DEFAULT]``, no representative
              dataset), dense layers quantised per tensor so that tflite_runtime 2.13/2.14 load
              it (TF 2.21 writes per-channel FULLY_CONNECTED as op version 12, which they
              refuse)
dynrange_pc   the same with TensorFlow's default per-channel dense layers (FULLY_CONNECTED v12)
int8          full-integer int8 (the exporter's ``*_int8.tflite``)
============  ===========================================================================

Per network every precision's interpreter is loaded at once (``num_threads`` = ``--threads``,
the engine's default XNNPACK delegate applied by ``allocate_tensors()``, the way the LiteRT
backend loads), fed the same inputs, warmed up, then timed interleaved: ``--rounds`` rounds, each
running ``--invokes`` timed ``invoke()`` calls per precision (the precision order rotates every
round). Reported: the median ms per invoke over all timed calls (and each round's median, and
the lowest of those: on a loaded machine whole rounds of a multi-threaded interpreter can be
stuck in a slow state, where every op waits for its worker thread to be scheduled), the
XNNPACK partitions (``DELEGATE`` nodes after ``allocate_tensors()``) and how many of the graph's
ops they took (found by walking each partition's outputs back to its inputs in
``_get_ops_details()``), and the largest relative output error vs fp32 over ``--frames`` random
uint8 frames (per output ``max |y - y_fp32| / max |y_fp32|``, both maxima over every element
of every frame; then the worst output; the policy's ``h``/``c`` are random too) and, with
``--real-inputs``, on real frames (onnx2tf's sample inputs), with the top-1 agreement of the
``*logits`` outputs. A model the engine cannot load is reported with its error.
Outputs are matched to fp32's by shape, then (equal shapes) by closeness over all the frames.
Torch-free; runs on Python 3.8.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

PRECISIONS = ("fp32", "fp16", "dynrange", "dynrange_pc", "int8")
_FILE = re.compile(r"^(?P<net>.+)_(?P<prec>" + "|".join(sorted(PRECISIONS, key=len, reverse=True)) + r")\.tflite$")


# ---------------------------------------------------------------------------------------------
# models

def find_models(folder: Path, precisions=PRECISIONS, networks=None) -> Dict[str, Dict[str, Path]]:
    """{network: {precision: path}} of ``<network>_<precision>.tflite`` files in ``folder``."""
    out: Dict[str, Dict[str, Path]] = {}
    for p in sorted(Path(folder).glob("*.tflite")):
        m = _FILE.match(p.name)
        if not m or m.group("prec") not in precisions:
            continue
        if networks and m.group("net") not in networks:
            continue
        out.setdefault(m.group("net"), {})[m.group("prec")] = p
    return {n: {p: d[p] for p in PRECISIONS if p in d} for n, d in out.items()}


def prepare(src: Path, out: Path, int8_from: Optional[Path] = None) -> List[Path]:
    """Desktop venv (TensorFlow): for each ``src/<network>/tf`` (onnx2tf's output folder) copy
    fp32/fp16, convert the SavedModel to dynrange and dynrange_pc, copy onnx2tf's real sample
    inputs ``src/<network>/cind_*.npy`` to ``out/real_inputs/<network>/`` (for ``--real-inputs``)
    and ``int8_from/<network>_int8.tflite`` when there. Returns the files written."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for tf_dir in sorted(Path(src).glob("*/tf")):
        net = tf_dir.parent.name
        for prec, name in (("fp32", "model_float32.tflite"), ("fp16", "model_float16.tflite")):
            if (tf_dir / name).is_file():
                shutil.copyfile(tf_dir / name, out / f"{net}_{prec}.tflite")
                written.append(out / f"{net}_{prec}.tflite")
        if (tf_dir / "saved_model.pb").is_file():
            for prec, per_tensor_dense in (("dynrange", True), ("dynrange_pc", False)):
                conv = tf.lite.TFLiteConverter.from_saved_model(str(tf_dir))
                conv.optimizations = [tf.lite.Optimize.DEFAULT]   # no representative dataset
                conv._experimental_disable_per_channel_quantization_for_dense_layers = per_tensor_dense
                (out / f"{net}_{prec}.tflite").write_bytes(conv.convert())
                written.append(out / f"{net}_{prec}.tflite")
        cind = sorted(tf_dir.parent.glob("cind_*.npy"))
        if cind:
            (out / "real_inputs" / net).mkdir(parents=True, exist_ok=True)
            for f in cind:
                shutil.copyfile(f, out / "real_inputs" / net / f.name)
                written.append(out / "real_inputs" / net / f.name)
        if int8_from is not None and (Path(int8_from) / f"{net}_int8.tflite").is_file():
            shutil.copyfile(Path(int8_from) / f"{net}_int8.tflite", out / f"{net}_int8.tflite")
            written.append(out / f"{net}_int8.tflite")
    return written


# ---------------------------------------------------------------------------------------------
# engine

def engine_info() -> Dict[str, Any]:
    """The interpreter the LiteRT backend would import, its version, and this Python's."""
    from edge_runtime.backends.litert_backend import _engine_version, import_interpreter
    mod_name, interp_cls, _, _ = import_interpreter()
    return {"engine": mod_name.split(".")[0], "engine_version": _engine_version(mod_name),
            "python": platform.python_version(), "numpy": np.__version__,
            "machine": platform.machine(), "cpus": os.cpu_count(), "_cls": interp_cls}


def xnnpack_coverage(ops: List[dict]) -> Dict[str, Any]:
    """Partitions (DELEGATE nodes) and the original ops they replaced, from
    ``_get_ops_details()`` after ``allocate_tensors()`` (which lists the replaced nodes too)."""
    orig = [o for o in ops if o.get("op_name") != "DELEGATE"]
    dels = [o for o in ops if o.get("op_name") == "DELEGATE"]
    producer = {}
    for o in orig:
        for t in o.get("outputs", []):
            producer[int(t)] = int(o["index"])
    by_index = {int(o["index"]): o for o in orig}
    taken = set()
    for d in dels:
        stop = {int(t) for t in d.get("inputs", [])}
        stack = [int(t) for t in d.get("outputs", [])]
        seen_t = set()
        while stack:
            t = stack.pop()
            if t in seen_t or t in stop or t < 0:
                continue
            seen_t.add(t)
            n = producer.get(t)
            if n is None or n in taken:
                continue
            taken.add(n)
            stack.extend(int(x) for x in by_index[n].get("inputs", []))
    left: Dict[str, int] = {}
    for o in orig:
        if int(o["index"]) not in taken:
            left[o["op_name"]] = left.get(o["op_name"], 0) + 1
    return {"partitions": len(dels), "ops": len(orig), "delegated_ops": len(taken),
            "not_delegated": dict(sorted(left.items()))}


class Model:
    """One interpreter, its inputs/outputs by graph tensor name."""

    def __init__(self, interp_cls, path: Path, threads: int) -> None:
        self.path = path
        it = interp_cls(model_path=str(path), num_threads=threads)
        it.allocate_tensors()   # applies the default XNNPACK delegate
        self.it = it
        self.inputs = {d["name"]: d for d in it.get_input_details()}
        self.outputs = {d["name"]: d for d in it.get_output_details()}
        try:
            self.coverage = xnnpack_coverage(it._get_ops_details())
        except Exception as e:  # engine without _get_ops_details
            self.coverage = {"error": f"{type(e).__name__}: {e}"}
        self.signature_outputs = {}   # graph tensor name -> signature key (labels only)
        try:
            for sig in it.get_signature_list():
                r = it.get_signature_runner(sig)
                for k, d in r.get_output_details().items():
                    self.signature_outputs[d["name"]] = k
                del r
                break
        except Exception:
            pass

    def feed(self, inputs: Dict[str, np.ndarray]) -> None:
        for name, d in self.inputs.items():
            x = inputs[name]
            if np.dtype(d["dtype"]) != x.dtype:
                scale, zp = d.get("quantization", (0.0, 0))
                if x.dtype == np.float32 and scale:
                    info = np.iinfo(d["dtype"])
                    x = np.clip(np.round(x / scale + zp), info.min, info.max)
                x = x.astype(d["dtype"])
            self.it.set_tensor(d["index"], x)

    def fetch(self) -> Dict[str, np.ndarray]:
        out = {}
        for name, d in self.outputs.items():
            y = self.it.get_tensor(d["index"])
            scale, zp = d.get("quantization", (0.0, 0))
            if y.dtype != np.float32 and scale:
                y = (y.astype(np.float32) - zp) * scale
            out[name] = y.astype(np.float32)
        return out


def random_inputs(details: Dict[str, dict], rng: np.random.Generator) -> Dict[str, np.ndarray]:
    out = {}
    for name, d in details.items():
        shape = tuple(int(s) for s in d["shape"])
        dt = np.dtype(d["dtype"])
        if dt == np.uint8:
            out[name] = rng.integers(0, 256, size=shape, dtype=np.uint8)
        elif dt.kind == "f":   # LSTM state
            out[name] = rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)
        else:
            info = np.iinfo(dt)
            out[name] = rng.integers(info.min, info.max + 1, size=shape).astype(dt)
    return out


def rel_err(y: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(y.astype(np.float64) - ref).max() / (np.abs(ref).max() + 1e-12))


def match_outputs(got: Dict[str, np.ndarray], ref: Dict[str, np.ndarray]) -> tuple:
    """(got name -> ref name, clear-cut): by shape and, for equal shapes, the permutation closest
    in value (graph tensor names are not comparable: onnx2tf's ``PartitionedCall:1`` is the
    TFLiteConverter's ``PartitionedCall:2``). Not clear-cut: the best permutation's error is not
    under half the second best's."""
    mapping: Dict[str, str] = {}
    clear = True
    groups: Dict[tuple, tuple] = {}
    for k in sorted(got):
        groups.setdefault(tuple(got[k].shape), ([], []))[0].append(k)
    for r in sorted(ref):
        groups.setdefault(tuple(ref[r].shape), ([], []))[1].append(r)
    for ks, rs in groups.values():
        if len(ks) != len(rs):
            raise ValueError(f"outputs {ks} do not match the reference's {rs} by shape")
        scored = sorted((sum(rel_err(got[k], ref[r]) for k, r in zip(ks, perm)), perm)
                        for perm in itertools.permutations(rs))
        if len(scored) > 1 and not scored[0][0] * 2.0 < scored[1][0]:
            clear = False
        mapping.update(dict(zip(ks, scored[0][1])))
    return mapping, clear


# ---------------------------------------------------------------------------------------------
# bench

def load_real_inputs(folder: Path, details: Dict[str, dict]) -> Optional[List[Dict[str, np.ndarray]]]:
    """Feeds from ``folder/cind_<name>.npy`` (onnx2tf's calibration inputs: real frames at the
    network's size and the LSTM state the stream had), one file per input, rows = frames;
    None when a file is missing."""
    arrays = {}
    for name, d in details.items():
        short = name.split(":")[0]
        short = short[len("serving_default_"):] if short.startswith("serving_default_") else short
        f = Path(folder) / f"cind_{short}.npy"
        if not f.is_file():
            return None
        arrays[name] = np.load(f).astype(np.dtype(d["dtype"]))
    n = min(len(a) for a in arrays.values())
    return [{k: a[i:i + 1] for k, a in arrays.items()} for i in range(n)]


def accuracy(models: Dict[str, "Model"], ref_prec: str, feeds: List[Dict[str, np.ndarray]],
             top1: bool = False) -> Dict[str, Dict[str, Any]]:
    """Per precision: the relative error vs ``ref_prec`` per output (the largest absolute
    difference over ``feeds`` / the largest absolute reference value over ``feeds``), the worst
    output's, and (``top1``) how often each ``*logits`` output's argmax agrees."""
    m = models[ref_prec]
    ref_out = []
    for x in feeds:
        m.feed(x)
        m.it.invoke()
        ref_out.append(m.fetch())
    labels = {k: m.signature_outputs.get(k, k) for k in ref_out[0]}
    res: Dict[str, Dict[str, Any]] = {}
    for prec, mod in models.items():
        diff: Dict[str, float] = {}
        scale: Dict[str, float] = {}
        agree: Dict[str, int] = {}
        got_out = []
        for x in feeds:
            mod.feed(x)
            mod.it.invoke()
            got_out.append(mod.fetch())
        # matched on every frame at once: one frame can leave equal-shaped outputs ambiguous
        # (the policy's h_out / c_out on its first step, from a zero state)
        mapping, clear = match_outputs({k: np.concatenate([g[k] for g in got_out]) for k in got_out[0]},
                                       {k: np.concatenate([g[k] for g in ref_out]) for k in ref_out[0]})
        for got, ref in zip(got_out, ref_out):
            for k, r in mapping.items():
                lab = labels[r]
                diff[lab] = max(diff.get(lab, 0.0), float(np.abs(got[k].astype(np.float64) - ref[r]).max()))
                scale[lab] = max(scale.get(lab, 0.0), float(np.abs(ref[r]).max()))
                if top1 and "logits" in lab:
                    agree[lab] = agree.get(lab, 0) + int(np.argmax(got[k]) == np.argmax(ref[r]))
        worst = {k: diff[k] / (scale[k] + 1e-12) for k in diff}
        out: Dict[str, Any] = {"max_rel_err_vs_" + ref_prec: max(worst.values()) if worst else None,
                               "rel_err_by_output": {k: float(f"{v:.4g}") for k, v in sorted(worst.items())}}
        if top1:
            out["top1_agree"] = {k: round(v / len(feeds), 4) for k, v in sorted(agree.items())}
        if not clear:
            out["output_match_ambiguous"] = True
        res[prec] = out
    return res


def bench_network(interp_cls, files: Dict[str, Path], threads: int = 2, rounds: int = 5,
                  invokes: int = 30, warmup: int = 5, frames: int = 4, seed: int = 0,
                  real_inputs: Optional[Path] = None) -> Dict[str, Any]:
    models: Dict[str, Model] = {}
    res: Dict[str, Dict[str, Any]] = {}
    for prec, path in files.items():
        try:
            models[prec] = Model(interp_cls, path, threads)
            res[prec] = {"file": path.name, "bytes": path.stat().st_size,
                         "xnnpack": models[prec].coverage}
        except Exception as e:  # e.g. an op version the engine does not know
            res[prec] = {"file": path.name, "bytes": path.stat().st_size,
                         "error": " ".join(f"{type(e).__name__}: {e}".split())[:300]}
    if not models:
        return res
    ref_prec = "fp32" if "fp32" in models else next(iter(models))
    rng = np.random.default_rng(seed)
    feeds = [random_inputs(models[ref_prec].inputs, rng) for _ in range(max(frames, 1))]

    for prec, acc in accuracy(models, ref_prec, feeds).items():
        res[prec].update(acc)
    real = load_real_inputs(real_inputs, models[ref_prec].inputs) if real_inputs else None
    if real:
        for prec, acc in accuracy(models, ref_prec, real, top1=True).items():
            res[prec]["real_frames"] = dict(acc, frames=len(real))

    # timing, interleaved
    for mod in models.values():
        mod.feed(feeds[0])
        for _ in range(warmup):
            mod.it.invoke()
    times: Dict[str, List[float]] = {p: [] for p in models}
    per_round: Dict[str, List[float]] = {p: [] for p in models}
    order = list(models)
    clock = time.perf_counter
    for r in range(rounds):
        rot = order[r % len(order):] + order[:r % len(order)]
        for prec in rot:
            invoke = models[prec].it.invoke
            ts = []
            for _ in range(invokes):
                t0 = clock()
                invoke()
                ts.append((clock() - t0) * 1e3)
            times[prec].extend(ts)
            per_round[prec].append(statistics.median(ts))
    for prec in models:
        res[prec]["ms_median"] = round(statistics.median(times[prec]), 4)
        res[prec]["ms_round_medians"] = [round(v, 4) for v in per_round[prec]]
        res[prec]["ms_best_round"] = round(min(per_round[prec]), 4)
    if "fp32" in models:
        for prec in models:
            res[prec]["speed_vs_fp32"] = float("%.3g" % (res["fp32"]["ms_median"] / res[prec]["ms_median"]))
    return res


def run(models_dir: Path, precisions=PRECISIONS, networks=None, threads: int = 2, rounds: int = 5,
        invokes: int = 30, warmup: int = 5, frames: int = 4, seed: int = 0,
        real_inputs: Optional[Path] = None) -> Dict[str, Any]:
    info = engine_info()
    interp_cls = info.pop("_cls")
    found = find_models(models_dir, precisions, networks)
    if not found:
        raise SystemExit(f"{models_dir}: no <network>_<precision>.tflite files "
                         f"(precisions {', '.join(precisions)})")
    load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
    t0 = time.time()
    nets = {net: bench_network(interp_cls, files, threads, rounds, invokes, warmup, frames, seed,
                               Path(real_inputs) / net if real_inputs else None)
            for net, files in found.items()}
    return dict(info, threads=threads, rounds=rounds, invokes_per_round=invokes, warmup=warmup,
                frames=frames, models=str(models_dir), real_inputs=str(real_inputs) if real_inputs else None, seconds=round(time.time() - t0, 1),
                loadavg_before=[round(v, 2) for v in load0] if load0 else None,
                loadavg_after=[round(v, 2) for v in os.getloadavg()] if load0 else None,
                networks=nets)


def table(result: Dict[str, Any]) -> str:
    lines = [f"{result['engine']} {result['engine_version']} (Python {result['python']}, "
             f"numpy {result['numpy']}), {result['threads']} threads, median ms per invoke over "
             f"{result['rounds']} x {result['invokes_per_round']} interleaved",
             "| network | precision | ms | vs fp32 | best round ms | XNNPACK partitions | ops delegated | "
             "not delegated | max rel err vs fp32 (random) | (real frames) | top-1 agree (real) |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|"]
    for net, res in result["networks"].items():
        for prec, r in res.items():
            if "error" in r:
                lines.append(f"| {net} | {prec} | load error: {r['error'][:90]} | | | | | | | | |")
                continue
            cov = r.get("xnnpack", {})
            left = ", ".join(f"{k}x{v}" for k, v in cov.get("not_delegated", {}).items()) or "-"
            err = next((v for k, v in r.items() if k.startswith("max_rel_err_vs_")), None)
            real = r.get("real_frames") or {}
            rerr = next((v for k, v in real.items() if k.startswith("max_rel_err_vs_")), None)
            top1 = ", ".join(f"{k} {v:.0%}" for k, v in (real.get("top1_agree") or {}).items()) or "-"
            lines.append(
                f"| {net} | {prec} | {r['ms_median']:.3f} | "
                f"{r.get('speed_vs_fp32', float('nan')):.2f}x | {r['ms_best_round']:.3f} | "
                f"{cov.get('partitions', '?')} | "
                f"{cov.get('delegated_ops', '?')}/{cov.get('ops', '?')} | {left} | "
                f"{'-' if err is None else format(err, '.2e')} | "
                f"{'-' if rerr is None else format(rerr, '.2e')} | {top1} |")
    return "\n".join(lines)


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="build/legacy", help="folder of <network>_<precision>.tflite")
    ap.add_argument("--precisions", default=",".join(PRECISIONS))
    ap.add_argument("--networks", default=None, help="comma-separated network ids (default all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--invokes", type=int, default=30, help="timed invokes per precision per round")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--frames", type=int, default=4, help="random frames for the error vs fp32")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real-inputs", default=None, metavar="DIR",
                    help="also the error (and logits top-1 agreement) vs fp32 on DIR/<network>/cind_<input>.npy")
    ap.add_argument("--json", default=None, help="write the result here")
    ap.add_argument("--prepare", default=None, metavar="SRC",
                    help="(TensorFlow venv) make --models from SRC/<network>/tf folders instead of benching")
    ap.add_argument("--int8-from", default=None, help="with --prepare: copy <network>_int8.tflite from here")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    a = parse(argv)
    if a.prepare:
        for p in prepare(Path(a.prepare), Path(a.models), Path(a.int8_from) if a.int8_from else None):
            print(p)
        return 0
    precisions = [p for p in a.precisions.split(",") if p]
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad:
        raise SystemExit(f"unknown precision(s) {bad}; known: {', '.join(PRECISIONS)}")
    result = run(Path(a.models), precisions, a.networks.split(",") if a.networks else None,
                 a.threads, a.rounds, a.invokes, a.warmup, a.frames, a.seed, a.real_inputs)
    print(table(result))
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
