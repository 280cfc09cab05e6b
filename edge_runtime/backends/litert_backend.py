"""LiteRT (TFLite) backend: ``ai_edge_litert``, else ``tflite_runtime``, else ``tensorflow.lite``.

* threads: ``num_threads`` of the interpreter (XNNPACK uses them too); default every available
  core (LiteRT itself would use 1);
* delegate: XNNPACK (the interpreter's default delegate) unless ``delegate="none"``; an external
  delegate library (``delegate="/path/libtensorflowlite_gpu_delegate.so"``) is loaded with
  ``load_delegate(path, delegate_options)`` and applied before the default one;
* calls go through the signature runner when the artifact names a ``signature``, else by tensor
  name (the manifest's names, mapped through ``extra.tensors`` when the exporter recorded the raw
  graph names; ``serving_default_<name>:0`` is accepted for ``<name>``);
* int8/uint8 tensors are (de)quantised with the interpreter's quantisation parameters (the
  manifest's ``quant`` is the fallback); the LSTM state is requantised on every step.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.backends import BackendError, BackendOptions, available_cores
from edge_runtime.backends.base import AdaptedModel, EngineTensor, guess_layout, resolve_quant

_ENGINES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite")
_engine_cache: dict[str, Any] = {}


def import_interpreter(prefer: str | None = None) -> tuple[str, Any, Any, Any]:
    """(module name, Interpreter, load_delegate, OpResolverType) of the first engine found."""
    order = list(_ENGINES)
    if prefer:
        order = [m for m in order if m.startswith(prefer)] + [m for m in order if not m.startswith(prefer)]
    errors = []
    for mod_name in order:
        if mod_name in _engine_cache:
            return _engine_cache[mod_name]
        try:
            mod = importlib.import_module(mod_name)
        except ImportError as e:
            errors.append(f"{mod_name}: {e}")
            continue
        if mod_name == "tensorflow.lite":
            interp_cls = mod.Interpreter
            load_delegate = mod.experimental.load_delegate
            resolver = getattr(mod.experimental, "OpResolverType", None)
        else:
            interp_cls = mod.Interpreter
            load_delegate = mod.load_delegate
            resolver = getattr(mod, "OpResolverType", None)
        got = (mod_name, interp_cls, load_delegate, resolver)
        _engine_cache[mod_name] = got
        return got
    raise BackendError("the litert backend needs a TFLite interpreter: pip install ai-edge-litert "
                       "(or tflite-runtime on Python <= 3.10 / numpy < 2 devices); tried "
                       + "; ".join(errors))


def _quant_of(d: dict) -> tuple | None:
    qp = d.get("quantization_parameters") or {}
    scales = qp.get("scales")
    zps = qp.get("zero_points")
    if scales is not None and len(scales) == 1 and float(scales[0]) > 0:
        return float(scales[0]), int(zps[0])
    if scales is not None and len(scales) > 1:
        raise BackendError(f"tensor {d.get('name')!r} has per-axis quantisation; inputs/outputs must "
                           f"be quantised per tensor")
    q = d.get("quantization")
    if q and float(q[0]) > 0:
        return float(q[0]), int(q[1])
    return None


def _match(name: str, available: dict, where: str, kind: str) -> str:
    if name in available:
        return name
    for cand in (f"serving_default_{name}:0", f"{name}:0", name.split(":")[0]):
        if cand in available:
            return cand
    raise BackendError(f"{where}: the model has no {kind} tensor named {name!r} (the manifest's name); "
                       f"its {kind}s are {sorted(available)}")


class LiteRTBackend(AdaptedModel):
    name = "litert"

    def __init__(self) -> None:
        self.engine: str | None = None
        self.delegates: list[str] = []
        self.threads: int | None = None
        self._runner = None
        self._interp = None

    def load(self, path: Any, artifact, options: BackendOptions | None = None) -> None:
        options = options or BackendOptions()
        path = Path(path)
        self._artifact_id = artifact.id
        mod_name, Interpreter, load_delegate, Resolver = import_interpreter()
        self.engine = mod_name.split(".")[0]
        self.threads = int(options.threads) if options.threads else available_cores()
        kwargs: dict[str, Any] = {"num_threads": self.threads}
        delegate = (options.delegate or "xnnpack").strip()
        delegates = []
        if delegate.lower() in ("none", "cpu", "builtin"):
            if Resolver is None:
                raise BackendError(f"{self.engine} cannot disable the default delegate")
            kwargs["experimental_op_resolver_type"] = Resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            self.delegates = ["builtin"]
        elif delegate.lower() == "xnnpack":
            self.delegates = ["xnnpack"]
        else:
            lib = delegate
            if "/" in lib and not Path(lib).exists():
                raise BackendError(f"delegate library {lib} does not exist")
            try:
                delegates.append(load_delegate(lib, dict(options.delegate_options or {})))
            except (ValueError, OSError, RuntimeError) as e:
                raise BackendError(f"could not load the delegate {lib!r}: {e}".strip()) from None
            kwargs["experimental_delegates"] = delegates
            self.delegates = [lib, "xnnpack"]
        try:
            interp = Interpreter(model_path=str(path), **kwargs)
        except (ValueError, RuntimeError) as e:
            raise BackendError(f"{path}: {self.engine} cannot load this model ({e})") from None
        self._interp = interp
        where = f"{path} ({artifact.id})"
        raw_names = (artifact.extra or {}).get("tensors") or {}
        use_signature = bool(artifact.signature) and hasattr(interp, "get_signature_runner")
        if artifact.signature and not use_signature and not raw_names:
            raise BackendError(f"{where}: this {self.engine} has no signature runners and the manifest "
                               f"gives no raw tensor names (extra.tensors)")
        if use_signature:
            sigs = interp.get_signature_list()
            if artifact.signature not in sigs:
                raise BackendError(f"{where}: no signature {artifact.signature!r}; the model has "
                                   f"{sorted(sigs)}")
            self._runner = interp.get_signature_runner(artifact.signature)
            in_det = self._runner.get_input_details()
            out_det = self._runner.get_output_details()
        else:
            try:
                interp.allocate_tensors()
            except RuntimeError as e:
                raise BackendError(f"{where}: allocate_tensors failed ({e})") from None
            in_det = {d["name"]: d for d in interp.get_input_details()}
            out_det = {d["name"]: d for d in interp.get_output_details()}
        self._inputs, self._outputs = [], []
        self._in_index, self._out_index = {}, {}
        in_names = {} if use_signature else dict(raw_names.get("inputs") or {})
        out_names = {} if use_signature else dict(raw_names.get("outputs") or {})
        for spec in artifact.inputs:
            n = _match(in_names.get(spec.name, spec.name), in_det, where, "input")
            d = in_det[n]
            dt = np.dtype(d["dtype"])
            t = EngineTensor(n, spec.role, tuple(int(s) for s in d["shape"]), dt,
                             guess_layout(tuple(d["shape"]), spec.layout))
            t.quant = resolve_quant(spec, _quant_of(d), dt, where)
            self._inputs.append(t)
            self._in_index[n] = d["index"]
        for spec in artifact.outputs:
            n = _match(out_names.get(spec.name, spec.name), out_det, where, "output")
            d = out_det[n]
            dt = np.dtype(d["dtype"])
            t = EngineTensor(n, spec.role, tuple(int(s) for s in d["shape"]), dt, spec.layout)
            t.quant = resolve_quant(spec, _quant_of(d), dt, where)
            self._outputs.append(t)
            self._out_index[n] = d["index"]
        self._build_adapters(options.normalization)

    def run(self, inputs: dict) -> dict:
        feed = self._adapt_inputs(inputs)
        if self._runner is not None:
            res = self._runner(**feed)
            return {t.role: self._out_adapt[t.role](res[t.name]) for t in self._outputs}
        interp = self._interp
        for name, x in feed.items():
            interp.set_tensor(self._in_index[name], x)
        interp.invoke()
        return {t.role: self._out_adapt[t.role](interp.get_tensor(self._out_index[t.name]))
                for t in self._outputs}
