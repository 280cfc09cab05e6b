"""Activation ranges for TFLite int8: calibration methods chosen by measurement.

The TFLite converter calibrates activations by min-max only: one outlier frame stretches a
tensor's range and every other frame loses resolution. Here calibration is split in two steps
so the range rule can be chosen:

1. ``calibrated_model``: the converter's calibrate-only pass (``_experimental_calibrate_only``)
   on our representative samples; it returns the float model with each activation tensor's
   observed min / max written into the flatbuffer.
2. ``activation_histograms``: the calibrated float model runs once more over the same samples
   in the interpreter (every intermediate tensor kept) and a histogram of every calibrated
   tensor is built over its min-max range.
3. ``choose_ranges`` applies a method per tensor, ``with_ranges`` writes the ranges back, and
   ``quantize`` runs the converter's MLIR quantiser (per-channel weights; float32 IO around an
   int8 graph, the uint8 frame cast inside) — the same call the converter makes after its own
   calibration, so ``minmax`` gives byte-for-byte the converter's default model.

Methods (``METHODS``):

* ``minmax``     — the observed range (the converter's default);
* ``percentile`` — the range holding all but ``1e-4`` of the values (split over both tails);
* ``mse``        — the range minimising the mean squared quantisation error of the histogram;
* ``entropy``    — the range minimising KL(histogram ‖ its 8-bit quantisation) (TensorRT's rule).

``mse`` and ``entropy`` search ranges [lo', hi'] inside [lo, hi] (tails cut on each side over a
geometric grid of masses); the range always contains 0 (int8 needs an exact zero). Tensors
whose range is exact by construction are left alone: the float frame after the uint8 cast
(0..255) and ReLU6-bounded tensors whose observed range is exactly [0, 6].

Mixed precision: ``quantize(..., float_nodes=[...])`` keeps the named ops in float (the builtin
float kernels run them; XNNPACK takes both), e.g. the policy's LSTM gates and heads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

METHODS = ("minmax", "percentile", "mse", "entropy")
BINS = 2048
TAIL_MASSES = (0.0, 1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)


WEIGHT_ROUNDINGS = ("gptq", "nearest")


@dataclass
class Int8Options:
    """How the int8 formats are made (``export_all --calib-method/--weight-rounding``).

    Defaults chosen by measurement (``scripts/int8_study.py``;
    docs/RESULTS.md, "int8 against fp32 (TFLite and ExecuTorch, x86 CPU)")."""
    calib_method: str = "mse"          # activation ranges: one of METHODS
    weight_rounding: str = "gptq"      # gptq: error-compensating rounding + bias correction; nearest
    stats_frames: int = 128            # calibration frames whose layer inputs GPTQ uses
    float_layers: int = 3              # leading conv layers (and the input chain) kept in float

    def __post_init__(self):
        check_method(self.calib_method)
        if self.weight_rounding not in WEIGHT_ROUNDINGS:
            raise CalibrationError(f"unknown weight rounding {self.weight_rounding!r}; valid choices: "
                                   f"{', '.join(WEIGHT_ROUNDINGS)}")
        if self.float_layers < 0:
            raise CalibrationError(f"float_layers must be >= 0, got {self.float_layers}")
        if self.stats_frames < 1:
            raise CalibrationError(f"stats_frames must be >= 1, got {self.stats_frames}")

    def describe(self) -> dict:
        return {"calib_method": self.calib_method, "weight_rounding": self.weight_rounding,
                "stats_frames": self.stats_frames, "float_layers": self.float_layers}


class CalibrationError(ValueError):
    """A calibration method or setting that does not exist, or samples that cannot calibrate."""


@dataclass
class Histogram:
    lo: float
    hi: float
    counts: np.ndarray = field(default_factory=lambda: np.zeros(BINS, np.float64))

    @property
    def edges(self) -> np.ndarray:
        return np.linspace(self.lo, self.hi, len(self.counts) + 1)

    def add(self, x: np.ndarray) -> None:
        if self.hi <= self.lo:
            return
        c, _ = np.histogram(np.clip(x.ravel(), self.lo, self.hi), bins=len(self.counts),
                            range=(self.lo, self.hi))
        self.counts += c


def check_method(method: str) -> str:
    if method not in METHODS:
        raise CalibrationError(f"unknown calibration method {method!r}; valid choices: {', '.join(METHODS)}")
    return method


# ------------------------------------------------------------------------ converter steps
def calibrated_model(saved_model_dir: str, representative: Callable[[], Iterable[dict]]) -> bytes:
    """The float TFLite model with observed min/max per activation tensor (converter's pass)."""
    import tensorflow as tf
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv._experimental_calibrate_only = True   # noqa: SLF001 (the documented debugger path)
    return conv.convert()


def quantize(calibrated: bytes, *, float_nodes: Iterable[str] = (), float_ops: Iterable[str] = ()) -> bytes:
    """The converter's MLIR quantiser on a calibrated model: per-channel int8 weights, int8
    activations, float32 IO (the uint8 frame input keeps its CAST). ``float_nodes`` (output
    tensor names) / ``float_ops`` (op names, e.g. ``FULLY_CONNECTED``) stay float."""
    import tensorflow as tf
    from tensorflow.lite.python.convert import mlir_quantize
    return mlir_quantize(calibrated, False, input_data_type=tf.float32, output_data_type=tf.float32,
                         denylisted_nodes=list(float_nodes) or None, denylisted_ops=list(float_ops) or None)


def _model(data: bytes):
    from convert.weight_rounding import _model as read
    return read(data)


def calibrated_ranges(calibrated: bytes) -> dict[int, tuple[float, float]]:
    """Tensor index (subgraph 0) -> (min, max) recorded by the calibration pass."""
    m = _model(calibrated)
    out = {}
    for i, t in enumerate(m.subgraphs[0].tensors):
        q = t.quantization
        if q is not None and q.min is not None and q.max is not None and len(q.min) == 1:
            out[i] = (float(q.min[0]), float(q.max[0]))
    return out


def with_ranges(calibrated: bytes, ranges: dict[int, tuple[float, float]]) -> bytes:
    """The calibrated model with the given tensors' min/max replaced."""
    from tensorflow.lite.tools import flatbuffer_utils
    m = _model(calibrated)
    tensors = m.subgraphs[0].tensors
    for i, (lo, hi) in ranges.items():
        q = tensors[i].quantization
        q.min, q.max = [float(lo)], [float(hi)]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m))


def activation_histograms(calibrated: bytes, samples: Iterable[dict]) -> dict[int, Histogram]:
    """Histograms of every calibrated tensor over its recorded range, from running the float
    model on ``samples`` (dicts keyed by the signature's input names)."""
    from ai_edge_litert.interpreter import Interpreter
    ranges = calibrated_ranges(calibrated)
    it = Interpreter(model_content=calibrated, num_threads=1, experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    sig = it.get_signature_list()
    if not sig:
        raise CalibrationError("the calibrated model has no signature")
    ins = it.get_signature_runner(next(iter(sig))).get_input_details()
    keymap = {k: d["index"] for k, d in ins.items()}
    dtypes = {d["index"]: d["dtype"] for d in ins.values()}
    hists = {i: Histogram(lo, hi) for i, (lo, hi) in ranges.items() if hi > lo}
    n = 0
    for s in samples:
        for k, v in s.items():
            idx = keymap.get(k)
            if idx is None:
                raise CalibrationError(f"calibration sample key {k!r} is not an input of the model "
                                       f"(inputs: {sorted(keymap)})")
            it.set_tensor(idx, np.asarray(v, dtypes[idx]))
        it.invoke()
        n += 1
        for i, h in hists.items():
            try:
                h.add(np.asarray(it.get_tensor(i), np.float32))
            except ValueError:   # tensors without data (e.g. optional, unused)
                pass
    if n == 0:
        raise CalibrationError("no calibration samples")
    return hists


# --------------------------------------------------------------------------- range rules
def _candidates(h: Histogram) -> list[tuple[int, int]]:
    """(first bin, last bin + 1) windows cutting a tail mass on each side (grid TAIL_MASSES)."""
    c = np.cumsum(h.counts)
    total = c[-1]
    if total <= 0:
        return [(0, len(h.counts))]
    lows = sorted({int(np.searchsorted(c, m * total, side="right")) for m in TAIL_MASSES})
    highs = sorted({int(np.searchsorted(c, (1.0 - m) * total, side="left")) + 1 for m in TAIL_MASSES})
    out = []
    for a in lows:
        for b in highs:
            b = min(max(b, a + 1), len(h.counts))
            out.append((a, b))
    return sorted(set(out))


def _with_zero(lo: float, hi: float) -> tuple[float, float]:
    return min(lo, 0.0), max(hi, 0.0)


def _mse(h: Histogram, lo: float, hi: float) -> float:
    centers = (h.edges[:-1] + h.edges[1:]) / 2
    lo, hi = _with_zero(lo, hi)
    s = (hi - lo) / 255.0
    if s <= 0:
        return float("inf")
    q = np.clip(np.round((centers - lo) / s), 0, 255) * s + lo
    return float(np.sum(h.counts * (centers - q) ** 2) / max(h.counts.sum(), 1.0))


def _kl(h: Histogram, lo: float, hi: float) -> float:
    """KL(P ‖ Q): P = histogram with clipped tails folded into the edge bins, Q = P merged into
    256 levels over [lo, hi] and spread back uniformly over the non-empty bins of each level."""
    edges = h.edges
    centers = (edges[:-1] + edges[1:]) / 2
    lo, hi = _with_zero(lo, hi)
    p = h.counts.copy()
    inside = (centers >= lo) & (centers <= hi)
    if not inside.any():
        return float("inf")
    first, last = np.argmax(inside), len(inside) - 1 - np.argmax(inside[::-1])
    p[first] += p[:first].sum()
    p[last] += p[last + 1:].sum()
    p = p[first:last + 1]
    level = np.clip(((centers[first:last + 1] - lo) / max(hi - lo, 1e-12) * 255).round().astype(int), 0, 255)
    q = np.zeros_like(p)
    for lv in np.unique(level):
        sel = level == lv
        nz = sel & (p > 0)
        if nz.any():
            q[nz] = p[sel].sum() / nz.sum()
    m = p > 0
    P, Q = p[m] / p.sum(), q[m] / q.sum()
    return float(np.sum(P * np.log(P / np.maximum(Q, 1e-12))))


def tensor_range(h: Histogram, method: str, percentile_mass: float = 1e-4) -> tuple[float, float]:
    """The (min, max) a method gives one tensor's histogram."""
    check_method(method)
    if method == "minmax" or h.counts.sum() <= 0:
        return h.lo, h.hi
    edges = h.edges
    if method == "percentile":
        c = np.cumsum(h.counts)
        total = c[-1]
        a = int(np.searchsorted(c, percentile_mass / 2 * total, side="right"))
        b = int(np.searchsorted(c, (1 - percentile_mass / 2) * total, side="left")) + 1
        return _with_zero(float(edges[a]), float(edges[min(b, len(h.counts))]))
    score = _mse if method == "mse" else _kl
    best = min(_candidates(h), key=lambda ab: score(h, float(edges[ab[0]]), float(edges[ab[1]])))
    return _with_zero(float(edges[best[0]]), float(edges[best[1]]))


def exact_range(lo: float, hi: float) -> bool:
    """Ranges that are exact by construction (the cast frame 0..255, ReLU6 0..6): keep them."""
    return (lo == 0.0 and hi in (255.0, 6.0))


def choose_ranges(hists: dict[int, Histogram], method: str) -> dict[int, tuple[float, float]]:
    check_method(method)
    out = {}
    for i, h in hists.items():
        if method == "minmax" or exact_range(h.lo, h.hi):
            continue
        out[i] = tensor_range(h, method)
    return out


def input_chain_ranges(calibrated: bytes, frame_key: str = "frame") -> dict[int, tuple[float, float]]:
    """Exact ranges for the elementwise ops between the uint8 frame and the first layer (the
    cast to float and the folded mean/std): the union of what an all-0 and an all-255 frame give
    and what calibration saw. With them the int8 input is the pixel itself (no clipping of
    pixels brighter or darker than the calibration frames, no rounding of the normalisation)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from convert.weight_rounding import LAYER_OPS
    ranges = calibrated_ranges(calibrated)
    it = Interpreter(model_content=calibrated, num_threads=1, experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    runner = it.get_signature_runner(next(iter(it.get_signature_list())))
    ins = runner.get_input_details()
    if frame_key not in ins:
        return {}
    chain = []
    for op in it._get_ops_details():
        if op["op_name"] in LAYER_OPS:
            break
        if op["op_name"] in ("CAST", "MUL", "ADD", "SUB", "DIV"):
            chain += [int(o) for o in op["outputs"] if int(o) in ranges]
    out = {i: list(ranges[i]) for i in chain}
    for px in (0, 255):
        feed = {k: (np.full(d["shape"], px, d["dtype"]) if k == frame_key else np.zeros(d["shape"], d["dtype"]))
                for k, d in ins.items()}
        runner(**feed)
        for i in chain:
            v = it.get_tensor(i)
            out[i] = [min(out[i][0], float(v.min())), max(out[i][1], float(v.max()))]
    return {i: (lo, hi) for i, (lo, hi) in out.items()}


def leading_float_nodes(calibrated: bytes, layers: int) -> list[str]:
    """Output tensor names of every op up to and including the ``layers``-th conv / fully
    connected layer (the frame's input chain with them): what ``quantize(float_nodes=...)``
    keeps in float. The first layers run at the highest resolution on raw pixels; their
    rounding errors travel through the whole network."""
    if layers <= 0:
        return []
    from convert.weight_rounding import LAYER_OPS, _name, _opname
    m = _model(calibrated)
    sg = m.subgraphs[0]
    names, seen = [], 0
    for op in sg.operators:
        kind = _opname(m, op)
        names += [_name(sg.tensors[i]) for i in op.outputs]
        if kind in LAYER_OPS:
            seen += 1
            if seen >= layers:
                break
    return names
