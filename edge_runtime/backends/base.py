"""What every backend shares: adapting role inputs to an engine's tensors and back.

An :class:`EngineTensor` describes one real tensor of a loaded model (name, shape, numpy
dtype, quantisation). :func:`input_adapter` builds, once at load time, the function that turns
the runtime's role input into what that tensor wants:

* ``frame`` (uint8 RGB NHWC ``(1, s, s, 3)``): transposed to NCHW when the tensor's layout
  is NCHW; for float tensors converted to the model's real input — pixel values in [0, 255]
  when the manifest's ``normalization.folded`` is true (the exported models normalise
  themselves), else ``x · 1/(255·std) − mean/std`` (the same float32 operations as the training
  code, ``mean``/``std`` in [0, 1] units; values > 1 are taken as pixel units); for int8/uint8
  tensors with quantisation ``q = clamp(round(real / scale) + zero_point)``. The per-pixel
  maps are 256-entry lookup tables per channel, so a frame costs one gather.
* ``h``/``c`` (float32): reshaped to the tensor's shape, cast, quantised when the tensor is
  integer — every step, since the state comes back dequantised.

:func:`output_adapter` dequantises integer outputs (``real = scale · (q − zero_point)``) and
casts to float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from edge_runtime.backends import BackendError
from edge_runtime.manifest import TensorSpec

_INT_DTYPES = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16), np.dtype(np.int32))
_DTYPE_NAMES = {"uint8": np.uint8, "int8": np.int8, "float32": np.float32, "float16": np.float16,
                "int32": np.int32, "int64": np.int64}


def np_dtype(name: str) -> np.dtype:
    try:
        return np.dtype(_DTYPE_NAMES[name])
    except KeyError:
        raise BackendError(f"unsupported tensor dtype {name!r}; known: {sorted(_DTYPE_NAMES)}") from None


def dtype_name(dt: np.dtype) -> str:
    dt = np.dtype(dt)
    for k, v in _DTYPE_NAMES.items():
        if np.dtype(v) == dt:
            return k
    return dt.name


@dataclass
class EngineTensor:
    """One tensor of a loaded model as the engine sees it."""
    name: str
    role: str
    shape: tuple
    dtype: np.dtype
    layout: str
    quant: tuple | None = None  # (scale, zero_point) for integer tensors

    def spec(self) -> TensorSpec:
        q = {"scale": float(self.quant[0]), "zero_point": int(self.quant[1])} if self.quant else None
        return TensorSpec(self.name, self.role, [int(s) if s and s > 0 else 1 for s in self.shape],
                          dtype_name(self.dtype), self.layout, q)


def resolve_quant(spec: TensorSpec, engine_quant: tuple | None, dtype: np.dtype, where: str) -> tuple | None:
    """Quantisation of an integer tensor: the engine's own parameters when it has them
    (scale > 0), else the manifest's ``quant``; None for float tensors."""
    dtype = np.dtype(dtype)
    if dtype not in _INT_DTYPES:
        return None
    if engine_quant is not None and float(engine_quant[0]) > 0:
        return float(engine_quant[0]), int(engine_quant[1])
    if spec.quant:
        return float(spec.quant["scale"]), int(spec.quant["zero_point"])
    return None


def _norm_scale_shift(normalization: dict | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-channel float32 (scale, shift) with real = pixel · scale + shift; None when folded."""
    if not normalization or normalization.get("folded", True):
        return None
    mean = [float(x) for x in normalization["mean"]]
    std = [float(x) for x in normalization["std"]]
    if any(s == 0 for s in std):
        raise BackendError(f"normalization.std has a zero: {std}")
    pixel_units = max(abs(m) for m in mean) > 1.0 or max(std) > 1.0
    if pixel_units:
        scale = [1.0 / s for s in std]
        shift = [-m / s for m, s in zip(mean, std)]
    else:
        scale = [1.0 / (255.0 * s) for s in std]
        shift = [-m / s for m, s in zip(mean, std)]
    return np.asarray(scale, np.float32), np.asarray(shift, np.float32)


def _round_half_away(x: np.ndarray) -> np.ndarray:
    # TFLite's reference quantize uses std::round (half away from zero)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _quantize(real: np.ndarray, quant: tuple, dtype: np.dtype) -> np.ndarray:
    scale, zp = quant
    info = np.iinfo(dtype)
    q = _round_half_away(np.asarray(real, np.float64) / scale) + zp
    return np.clip(q, info.min, info.max).astype(dtype)


def _frame_lut(t: EngineTensor, normalization: dict | None) -> np.ndarray | None:
    """(256, 3) table pixel value -> engine value per channel; None = pass uint8 through."""
    ss = _norm_scale_shift(normalization)
    pix = np.arange(256, dtype=np.float32)[:, None]
    if ss is None:
        real = np.repeat(pix, 3, axis=1)
    else:
        real = pix * ss[0][None, :] + ss[1][None, :]
    dt = np.dtype(t.dtype)
    if dt in (np.dtype(np.float32), np.dtype(np.float16), np.dtype(np.float64)):
        return real.astype(dt)
    if dt in _INT_DTYPES:
        if t.quant is None:
            if dt == np.dtype(np.uint8) and ss is None:
                return None  # raw pixels, the model takes uint8 0..255
            raise BackendError(
                f"input {t.name!r} is {dtype_name(dt)} without quantisation parameters "
                f"(neither the model nor the manifest's quant gives scale/zero_point)"
                + ("" if ss is None else " and the normalisation is not folded"))
        if dt == np.dtype(np.uint8) and ss is None and t.quant == (1.0, 0):
            return None
        return _quantize(real, t.quant, dt)
    raise BackendError(f"input {t.name!r}: a frame tensor of dtype {dtype_name(dt)} is not supported")


def input_adapter(t: EngineTensor, normalization: dict | None) -> Callable[[np.ndarray], np.ndarray]:
    """The function role-input -> engine-input for tensor ``t`` (built once at load)."""
    shape = tuple(int(s) if s and s > 0 else 1 for s in t.shape)
    if t.role == "frame":
        if len(shape) != 4:
            raise BackendError(f"frame input {t.name!r} has shape {list(t.shape)}; expected 4-D")
        nchw = t.layout == "NCHW"
        size = shape[2] if nchw else shape[1]
        chan = shape[1] if nchw else shape[3]
        if chan != 3:
            raise BackendError(f"frame input {t.name!r} has {chan} channels in layout {t.layout} "
                               f"(shape {list(t.shape)}); the manifest's layout may be wrong")
        lut = _frame_lut(t, normalization)
        if lut is not None:
            lut = np.ascontiguousarray(lut)
        chan_idx = np.arange(3)

        def frame_in(x: np.ndarray) -> np.ndarray:
            if x.dtype != np.uint8 or x.ndim != 4 or x.shape[3] != 3:
                raise ValueError(f"frame for {t.name!r} must be uint8 (1, s, s, 3) RGB, "
                                 f"got {x.dtype} {tuple(x.shape)}")
            if x.shape[1] != size or x.shape[2] != size:
                raise ValueError(f"frame for {t.name!r} is {x.shape[1]}x{x.shape[2]}, the model "
                                 f"takes {size}x{size}")
            y = x if lut is None else lut[x, chan_idx]
            if nchw:
                y = y.transpose(0, 3, 1, 2)
            return np.ascontiguousarray(y)

        frame_in.size = size  # type: ignore[attr-defined]
        return frame_in

    dt = np.dtype(t.dtype)
    quant = t.quant
    if dt in _INT_DTYPES and quant is None:
        raise BackendError(f"state input {t.name!r} is {dtype_name(dt)} without quantisation parameters")

    def state_in(x: np.ndarray) -> np.ndarray:
        # (1, hidden) for one stream; (n, hidden) rows for a batch of streams
        x = np.asarray(x, np.float32).reshape((-1,) + shape[1:])
        if quant is not None:
            return _quantize(x, quant, dt)
        return x if dt == np.dtype(np.float32) else x.astype(dt)

    return state_in


def output_adapter(t: EngineTensor) -> Callable[[np.ndarray], np.ndarray]:
    dt = np.dtype(t.dtype)
    quant = t.quant
    if dt in _INT_DTYPES:
        if quant is None:
            return lambda q: np.asarray(q, np.float32)
        scale, zp = np.float32(quant[0]), int(quant[1])
        return lambda q: (np.asarray(q).astype(np.float32) - np.float32(zp)) * scale
    return lambda y: np.asarray(y, dtype=np.float32)


def guess_layout(shape: tuple, declared: str) -> str:
    """Check a frame tensor's declared layout against its shape; return the one that fits."""
    if len(shape) != 4:
        return declared
    if declared == "NHWC" and shape[3] != 3 and shape[1] == 3:
        return "NCHW"
    if declared == "NCHW" and shape[1] != 3 and shape[3] == 3:
        return "NHWC"
    return declared


class AdaptedModel:
    """Mixin holding the adapters: subclasses fill ``_inputs``/``_outputs`` (EngineTensors).

    ``run_batch`` runs the rows of stacked role inputs (several streams' frames): one ``run`` per
    row, unless the backend takes batches (``max_batch`` > 1: it implements ``_run_rows`` for up
    to that many rows in one engine call; more rows are split)."""

    name = "base"
    max_batch = 1   # rows one engine call takes

    def run_batch(self, inputs: dict, n: int) -> dict:
        """``{role: (n, ...) array}`` -> ``{role: (n, ...) float32}``, row i = ``run`` of row i."""
        if n <= 1 or self.max_batch <= 1:
            parts = [self.run({r: v[i:i + 1] for r, v in inputs.items()}) for i in range(n)]
        elif n > self.max_batch:
            parts = [self.run_batch({r: v[i:i + self.max_batch] for r, v in inputs.items()},
                                    min(self.max_batch, n - i)) for i in range(0, n, self.max_batch)]
        else:
            return self._run_rows(inputs, n)
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def _run_rows(self, inputs: dict, n: int) -> dict:
        """n ≤ ``max_batch`` rows in one engine call (backends with ``max_batch`` > 1)."""
        raise NotImplementedError(f"{type(self).__name__} takes one row per call")

    def _tensors_from_manifest(self, artifact, where: str) -> None:
        """Fill ``_inputs``/``_outputs`` from the manifest alone (engines that call positionally
        in manifest order and expose no tensor metadata: ExecuTorch, torch)."""
        def make(spec, is_input: bool) -> EngineTensor:
            dt = np_dtype(spec.dtype)
            layout = guess_layout(tuple(spec.shape), spec.layout) if is_input else spec.layout
            t = EngineTensor(spec.name, spec.role, tuple(spec.shape), dt, layout)
            t.quant = resolve_quant(spec, None, dt, where)
            return t
        self._inputs = [make(s, True) for s in artifact.inputs]
        self._outputs = [make(s, False) for s in artifact.outputs]

    def _build_adapters(self, normalization: dict | None) -> None:
        self._in_adapt = {t.role: input_adapter(t, normalization) for t in self._inputs}
        self._out_adapt = {t.role: output_adapter(t) for t in self._outputs}

    def _adapt_inputs(self, inputs: dict) -> dict:
        """{role: array} -> {engine name: engine array}."""
        out = {}
        for t in self._inputs:
            try:
                x = inputs[t.role]
            except KeyError:
                raise BackendError(f"{self.name}: missing input role {t.role!r} for "
                                   f"{self._artifact_id!r}; needs {[u.role for u in self._inputs]}") from None
            out[t.name] = self._in_adapt[t.role](x)
        return out

    def input_specs(self) -> list[TensorSpec]:
        return [t.spec() for t in self._inputs]

    def output_specs(self) -> list[TensorSpec]:
        return [t.spec() for t in self._outputs]

    def frame_size(self) -> int | None:
        f = self._in_adapt.get("frame")
        return getattr(f, "size", None)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, '_artifact_id', '?')}>"
