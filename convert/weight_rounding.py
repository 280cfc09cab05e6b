"""Error-compensating int8 weight rounding (GPTQ) and bias correction for TFLite int8 graphs.

Why: round-to-nearest per-channel int8 weights are within half a step of the float weights, yet
the layer's *output* can be far off when the terms of its sum cancel. BN-folded ImageNet
filters are large and many of them (edge detectors) sum to almost zero over a patch; on frames
with flat regions (SynthAct's shapes, but also walls and sky) their true response is small
while each weight's rounding error is not, and the error compounds layer by layer (measured on
EfficientNet-Lite0 at 96 px: 4 % relative error after the stem, 12 % after the first block,
20 % at the logits).

What: for every CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED of the quantised model, the int8
weights are re-chosen on the *same* per-channel grid (the quantiser's scales are kept) by GPTQ
(Frantar et al., 2022): weights are rounded one input column at a time and the rounding error of
each column is pushed onto the columns not yet rounded, weighted by the inverse of the layer
input's second-moment matrix H = E[x xᵀ] measured on calibration frames. Then the int32 bias
absorbs the remaining mean shift, (W - Q) E[x] (bias correction, Nagel et al., 2019). Nothing
else in the graph changes: same ops, same scales, same XNNPACK partitioning; only weight and
bias bytes differ.

The layer inputs come from the float (calibrated) model run in the reference interpreter with
every tensor kept; layers are matched between the float and the quantised model by their output
tensor's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

LAYER_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
DAMP = 0.01          # GPTQ dampening: fraction of mean(diag H) added to the diagonal


class RoundingError(RuntimeError):
    """The quantised and float graphs do not line up, or a layer has an unexpected layout."""


@dataclass
class LayerStats:
    """Running E[x xᵀ] and E[x] of one layer's input patches (per channel for depthwise)."""
    kind: str
    ksize: tuple[int, int]
    stride: tuple[int, int]
    hsum: np.ndarray | None = None
    xsum: np.ndarray | None = None
    n: int = 0
    extra: dict = field(default_factory=dict)

    def add(self, x: np.ndarray) -> None:
        """x: the layer's float input, NHWC (conv) or (N, I) (fully connected)."""
        cols = _patches(x, self.kind, self.ksize, self.stride)
        if self.kind == "DEPTHWISE_CONV_2D":
            # cols: (k, M, C) -> per-channel k x k
            k = cols.shape[0]
            h = np.empty((cols.shape[2], k, k), np.float64)
            for a in range(k):
                for b in range(a, k):
                    h[:, a, b] = h[:, b, a] = np.einsum("mc,mc->c", cols[a], cols[b], dtype=np.float64)
            s = cols.sum(1, dtype=np.float64).T                     # (C, k)
            m = cols.shape[1]
        else:
            h = (cols.T @ cols).astype(np.float64)
            s = cols.sum(0, dtype=np.float64)
            m = cols.shape[0]
        self.hsum = h if self.hsum is None else self.hsum + h
        self.xsum = s if self.xsum is None else self.xsum + s
        self.n += m


def _patches(x: np.ndarray, kind: str, ksize: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """The layer's input windows: (M, kh*kw*C) for CONV_2D (weight order kh, kw, C), (C, M, kh*kw)
    for DEPTHWISE_CONV_2D, (M, I) for FULLY_CONNECTED. 'same' padding windows (the statistics
    do not depend on the exact border rule)."""
    x = np.asarray(x, np.float32)
    if kind == "FULLY_CONNECTED":
        return x.reshape(-1, x.shape[-1])
    if x.ndim != 4:
        raise RoundingError(f"{kind}: input of rank {x.ndim}, expected NHWC")
    kh, kw = ksize
    sh, sw = stride
    n, hgt, wid, c = x.shape
    ho, wo = -(-hgt // sh), -(-wid // sw)
    if kh == 1 and kw == 1:
        v = np.ascontiguousarray(x[:, ::sh, ::sw, :]).reshape(-1, c)
        return v[None] if kind == "DEPTHWISE_CONV_2D" else v
    ph, pw = kh // 2, kw // 2
    xp = np.pad(x, ((0, 0), (ph, ph + sh), (pw, pw + sw), (0, 0)))
    taps = [xp[:, i:i + ho * sh:sh, j:j + wo * sw:sw, :] for i in range(kh) for j in range(kw)]
    if kind == "DEPTHWISE_CONV_2D":
        return np.stack(taps, axis=0).reshape(kh * kw, -1, c)       # k, M, C
    return np.stack(taps, axis=3).reshape(-1, kh * kw * c)          # M, (kh, kw, C)


def gptq(w: np.ndarray, h: np.ndarray, scale: np.ndarray, qmax: int = 127, act_order: bool = True) -> np.ndarray:
    """Integer weights (rows = output channels) on the grid ``scale`` (per row), chosen by GPTQ
    against the input second-moment matrix ``h`` (columns x columns). ``act_order``: columns
    with the largest input energy are rounded first (the default; measured in
    docs/RESULTS.md, "int8 against fp32 (TFLite and ExecuTorch, x86 CPU)"; on one
    EfficientNet-Lite0 branch it made no difference beyond noise)."""
    if act_order:
        order = np.argsort(-np.diag(h), kind="stable")
        q = gptq(np.asarray(w)[:, order], np.asarray(h)[np.ix_(order, order)], scale, qmax, act_order=False)
        out = np.empty_like(q)
        out[:, order] = q
        return out
    w = np.array(w, np.float64)
    h = np.array(h, np.float64)
    d = h.shape[0]
    dead = np.diag(h) <= 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h += np.eye(d) * DAMP * float(np.mean(np.diag(h)))
    try:
        hinv = np.linalg.cholesky(np.linalg.inv(h)).T        # upper triangular
    except np.linalg.LinAlgError:
        h += np.eye(d) * float(np.mean(np.diag(h)))
        hinv = np.linalg.cholesky(np.linalg.inv(h)).T
    s = np.asarray(scale, np.float64).reshape(-1)
    s = np.where(s > 0, s, 1.0)
    q = np.zeros(w.shape, np.int64)
    for i in range(d):
        col = w[:, i]
        qi = np.clip(np.round(col / s), -qmax, qmax)
        q[:, i] = qi
        err = (col - qi * s) / hinv[i, i]
        if i + 1 < d:
            w[:, i + 1:] -= np.outer(err, hinv[i, i + 1:])
    return q


# ------------------------------------------------------------------------------ TFLite plumbing
def _model(data: bytes):
    from tensorflow.lite.tools import flatbuffer_utils
    return flatbuffer_utils.read_model_from_bytearray(bytearray(data))


def _opname(model, op) -> str:
    from tensorflow.lite.python import schema_py_generated as schema
    code = model.operatorCodes[op.opcodeIndex]
    b = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    return names.get(b, str(b))


def _name(t) -> str:
    return t.name.decode() if isinstance(t.name, bytes) else str(t.name)


def _layers(model) -> list[tuple[str, object]]:
    sg = model.subgraphs[0]
    return [(_opname(model, op), op) for op in sg.operators if _opname(model, op) in LAYER_OPS]


def _ksize_stride(kind: str, op, wshape) -> tuple[tuple[int, int], tuple[int, int]]:
    if kind == "FULLY_CONNECTED":
        return (1, 1), (1, 1)
    o = op.builtinOptions
    return (int(wshape[1]), int(wshape[2])), (int(o.strideH), int(o.strideW))


def collect_stats(calibrated: bytes, samples: Iterable[dict]) -> dict[str, LayerStats]:
    """Per layer (keyed by output tensor name): input statistics on ``samples`` (signature-keyed)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    fm = _model(calibrated)
    sg = fm.subgraphs[0]
    it = Interpreter(model_content=calibrated, num_threads=1, experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    runner = it.get_signature_runner(next(iter(it.get_signature_list())))
    stats: dict[str, LayerStats] = {}
    todo = []
    for kind, op in _layers(fm):
        wshape = sg.tensors[op.inputs[1]].shape
        k, s = _ksize_stride(kind, op, wshape)
        key = _name(sg.tensors[op.outputs[0]])
        stats[key] = LayerStats(kind, k, s)
        todo.append((key, op.inputs[0]))
    n = 0
    for smp in samples:
        runner(**smp)
        n += 1
        for key, idx in todo:
            stats[key].add(it.get_tensor(idx))
    if n == 0:
        raise RoundingError("no calibration samples")
    return stats


def round_weights(calibrated: bytes, quantized: bytes, stats: dict[str, LayerStats],
                  bias_correction: bool = True, act_order: bool = True) -> tuple[bytes, dict]:
    """``quantized`` with every layer's int8 weights re-chosen by GPTQ (same scales) and its int32
    bias corrected for the mean error. Returns (model bytes, summary)."""
    from tensorflow.lite.tools import flatbuffer_utils
    fm, qm = _model(calibrated), _model(quantized)
    fsg, qsg = fm.subgraphs[0], qm.subgraphs[0]
    float_layers = {_name(fsg.tensors[op.outputs[0]]): op for _, op in _layers(fm)}
    done, skipped = 0, []
    for kind, qop in _layers(qm):
        key = _name(qsg.tensors[qop.outputs[0]])
        fop = float_layers.get(key)
        st = stats.get(key)
        wt = qsg.tensors[qop.inputs[1]]
        if fop is None or st is None or st.n == 0 or wt.type != 9:   # 9 = INT8
            skipped.append(key)
            continue
        wf = np.asarray(_tensor_value(fm, fsg.tensors[fop.inputs[1]]), np.float64)
        scale = np.asarray(wt.quantization.scale, np.float64)
        qdim = int(wt.quantization.quantizedDimension)
        if kind == "DEPTHWISE_CONV_2D":
            # weights (1, kh, kw, C), per-channel along C: one k x k problem per channel
            c = wf.shape[3]
            w2 = wf.reshape(-1, c).T                                  # (C, k)
            hs = st.hsum / st.n
            q = np.zeros(w2.shape, np.int64)
            for ch in range(c):
                q[ch] = gptq(w2[ch:ch + 1], hs[ch], scale[ch:ch + 1] if len(scale) > 1 else scale,
                             act_order=act_order)[0]
            qw = q.T.reshape(wf.shape)
            mean_x = st.xsum / st.n                                   # (C, k)
            shift = np.sum((w2 - q * _col(scale, c)) * mean_x, axis=1)  # (C,)
        else:
            o = wf.shape[0]
            if qdim != 0:
                raise RoundingError(f"{key}: weights quantised along axis {qdim}, expected 0")
            w2 = wf.reshape(o, -1)
            q = gptq(w2, st.hsum / st.n, scale if len(scale) > 1 else np.repeat(scale, o), act_order=act_order)
            qw = q.reshape(wf.shape)
            mean_x = st.xsum / st.n
            shift = (w2 - q * _col(scale, o)) @ mean_x               # (O,)
        _set_buffer(qm, wt, qw.astype(np.int8))
        if bias_correction and len(qop.inputs) > 2 and qop.inputs[2] >= 0:
            bt = qsg.tensors[qop.inputs[2]]
            if bt.type == 2:   # INT32
                bscale = np.asarray(bt.quantization.scale, np.float64)
                bq = _tensor_value(qm, bt).astype(np.int64)
                bq = bq + np.round(shift / bscale).astype(np.int64)
                _set_buffer(qm, bt, np.clip(bq, -2**31, 2**31 - 1).astype(np.int32))
        done += 1
    return bytes(flatbuffer_utils.convert_object_to_bytearray(qm)), {"layers": done, "skipped": skipped}


def _col(scale: np.ndarray, n: int) -> np.ndarray:
    s = np.asarray(scale, np.float64).reshape(-1)
    return (s if len(s) == n else np.repeat(s, n))[:, None]


_NP = {0: np.float32, 1: np.float16, 2: np.int32, 9: np.int8, 3: np.uint8, 4: np.int64}


def _tensor_value(model, t) -> np.ndarray:
    buf = model.buffers[t.buffer]
    if buf.data is None:
        raise RoundingError(f"tensor {_name(t)} has no constant data")
    return np.frombuffer(np.asarray(buf.data, np.uint8).tobytes(), _NP[t.type]).reshape(t.shape)


def _set_buffer(model, t, value: np.ndarray) -> None:
    model.buffers[t.buffer].data = np.frombuffer(np.ascontiguousarray(value).tobytes(), np.uint8)
