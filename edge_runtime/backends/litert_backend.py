"""LiteRT (TFLite) backend: ``ai_edge_litert``, else ``tflite_runtime``, else TensorFlow's
``tensorflow.lite.python.interpreter`` (what ``tf.lite.Interpreter`` is).

* threads: ``num_threads`` of the interpreter (XNNPACK uses them too); default every available
  core (LiteRT itself would use 1), except on ``tflite_runtime`` (:func:`default_threads`);
* delegate: XNNPACK (the interpreter's default delegate) unless ``delegate="none"``; an external
  delegate library (``delegate="/path/libtensorflowlite_gpu_delegate.so"``) is loaded with
  ``load_delegate(path, delegate_options)`` and applied before the default one;
* names: when the artifact names a ``signature`` the manifest's names are the signature's names,
  resolved once at load to tensor indices (the signature runner's ``get_input_details`` /
  ``get_output_details``); else the graph's tensor names (the manifest's names, mapped through
  ``extra.tensors`` when the exporter recorded the raw graph names;
  ``serving_default_<name>:0`` is accepted for ``<name>``);
* calls: ``allocate_tensors()`` once at load, then per call ``set_tensor(index, x)`` per input,
  ``invoke()``, ``get_tensor(index)`` (a copy) per output. The signature runner is not kept: on
  ``tflite_runtime`` 2.14 it runs the graph without XNNPACK (many times slower), elsewhere it saves
  nothing, and while a runner object is alive the interpreter refuses ``allocate_tensors()`` /
  ``invoke()`` (the runner holds a reference to the engine's wrapper, which the "no numpy views
  alive" check counts; docs/RESULTS.md, "Measurements behind design choices"). Only a signature that is not the primary
  subgraph's inputs/outputs (a multi-signature model) is still called through its runner.
  ``tensor()`` views are not used: making one costs more than ``set_tensor``'s copy of these small
  inputs, and a view alive across ``invoke()`` makes it raise. Outputs are bit-identical to the
  runner's, except on ``tflite_runtime`` 2.14 whose runner allocates its subgraph without the lazy
  default delegate (so it never ran XNNPACK) while ``allocate_tensors()`` applies it: there the
  default now really is XNNPACK, as ``delegates`` says (float results may move by an ulp);
* int8/uint8 tensors are (de)quantised with the interpreter's quantisation parameters (the
  manifest's ``quant`` is the fallback); the LSTM state is requantised on every step;
* batches (``run_batch``, several streams): one more interpreter per row count n (2 … ``max_batch``),
  made on first use with its inputs resized to n rows and allocated once. Resizing one interpreter
  back and forth would re-prepare the graph on every change of the number of rows (costly on
  tflite_runtime 2.14; docs/RESULTS.md, "Measurements behind design choices"). Outputs equal the
  batch-1 runs row for row (tested). Not with an external delegate or a non-primary signature:
  rows run one by one there.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.backends import BackendError, BackendOptions, available_cores
from edge_runtime.backends.base import AdaptedModel, EngineTensor, guess_layout, resolve_quant

# tensorflow.lite.python.interpreter, not tensorflow.lite: the latter is the bare package directory
# (no Interpreter); the public tf.lite API object is built elsewhere in TensorFlow's __init__.
_ENGINES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite.python.interpreter")
_engine_cache: dict[str, Any] = {}
# where the builtin int8 kernels' speed on tflite_runtime is measured (named in the engine's warning)
_LEGACY_INT8_RESULTS = 'docs/RESULTS.md, "Edge benchmark models (configs/edge.yaml, configs/edge_fast.yaml)"'


def default_threads(engine: str, artifact_id: str, cores: int | None = None) -> int:
    """Threads of an interpreter when none are asked: every available core, except on
    ``tflite_runtime`` (2.13 / 2.14, the JetPack engine), where AR-Net's interpreters, called in
    turn, slowed each other down with a second thread each: the policy gets one thread, and on
    two cores or fewer every network does (docs/RESULTS.md, "AR-Net on tflite_runtime: one thread
    per network on two cores")."""
    cores = available_cores() if cores is None else int(cores)
    if engine == "tflite_runtime" and (artifact_id == "policy" or cores <= 2):
        return 1
    return cores


def _engine_version(mod_name: str) -> str:
    try:
        return str(getattr(importlib.import_module(mod_name.split(".")[0]), "__version__", "")) or "?"
    except Exception:
        return "?"


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
            interp_cls = mod.Interpreter
            load_delegate = mod.load_delegate
        except (ImportError, AttributeError) as e:
            errors.append(f"{mod_name}: {e}")
            continue
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


def _primary_signature(interp, in_det: dict, out_det: dict) -> bool:
    """Whether a signature's tensors (its runner's details) are the primary subgraph's own inputs
    and outputs, so it can be called with the interpreter's plain ``set_tensor`` / ``invoke`` /
    ``get_tensor`` (which work on subgraph 0)."""
    prim_in = {d["index"]: d["name"] for d in interp.get_input_details()}
    prim_out = {d["index"]: d["name"] for d in interp.get_output_details()}
    return (len(prim_in) == len(in_det)
            and all(prim_in.get(d["index"]) == d["name"] for d in in_det.values())
            and all(prim_out.get(d["index"]) == d["name"] for d in out_det.values()))


class LiteRTBackend(AdaptedModel):
    name = "litert"

    def __init__(self) -> None:
        self.engine: str | None = None
        self.delegates: list[str] = []
        self.threads: int | None = None
        self.call_path: str | None = None   # "direct" (set_tensor/invoke/get_tensor) or "signature_runner"
        self._runner = None
        self._interp = None

    def load(self, path: Any, artifact, options: BackendOptions | None = None) -> None:
        options = options or BackendOptions()
        path = Path(path)
        self._artifact_id = artifact.id
        mod_name, Interpreter, load_delegate, Resolver = import_interpreter()
        self.engine = mod_name.split(".")[0]
        self.threads = int(options.threads) if options.threads else default_threads(self.engine, artifact.id)
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
        # more interpreters of the same file for batches (an external delegate object is not
        # shared between interpreters: rows run one by one then)
        self._new_interp = None if delegates else (lambda: Interpreter(model_path=str(path), **kwargs))
        self._batch: dict[int, Any] = {}
        where = f"{path} ({artifact.id})"
        self._where = where
        raw_names = (artifact.extra or {}).get("tensors") or {}
        use_signature = bool(artifact.signature) and hasattr(interp, "get_signature_runner")
        if artifact.signature and not use_signature and not raw_names:
            raise BackendError(f"{where}: this {self.engine} has no signature runners and the manifest "
                               f"gives no raw tensor names (extra.tensors)")
        direct = True
        if use_signature:
            sigs = interp.get_signature_list()
            if artifact.signature not in sigs:
                raise BackendError(f"{where}: no signature {artifact.signature!r}; the model has "
                                   f"{sorted(sigs)}")
            runner = interp.get_signature_runner(artifact.signature)
            in_det = runner.get_input_details()
            out_det = runner.get_output_details()
            direct = (getattr(runner, "_subgraph_index", 0) == 0
                      and _primary_signature(interp, in_det, out_det))
            # a live runner holds a reference to the engine's wrapper: the interpreter's
            # allocate_tensors()/invoke() would take it for a numpy view and raise
            del runner
            if direct:
                self._allocate(where)
            else:
                self._runner = interp.get_signature_runner(artifact.signature)
        else:
            self._allocate(where)
            in_det = {d["name"]: d for d in interp.get_input_details()}
            out_det = {d["name"]: d for d in interp.get_output_details()}
        self.call_path = "direct" if direct else "signature_runner"
        self.xnnpack_partitions = self._count_partitions() if direct and self.delegates == ["xnnpack"] else None
        self.warning = None
        if self.xnnpack_partitions == 0:
            # the default delegate declined every op (tflite_runtime 2.14 does so for int8 graphs):
            # say what really runs, and why it may be slow
            self.delegates = ["builtin"]
            self.warning = (f"{self.engine} {_engine_version(mod_name)} applied XNNPACK to none of the "
                            f"{artifact.precision} graph's ops; it runs on the engine's builtin kernels "
                            f"(tflite_runtime 2.13 and 2.14 do this to int8 graphs, many times slower on x86: "
                            f"see {_LEGACY_INT8_RESULTS}; --precision fp32 runs on XNNPACK there, "
                            f"ai_edge_litert runs int8 on XNNPACK)")
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
            self._in_index[n] = int(d["index"])
        for spec in artifact.outputs:
            n = _match(out_names.get(spec.name, spec.name), out_det, where, "output")
            d = out_det[n]
            dt = np.dtype(d["dtype"])
            t = EngineTensor(n, spec.role, tuple(int(s) for s in d["shape"]), dt, spec.layout)
            t.quant = resolve_quant(spec, _quant_of(d), dt, where)
            self._outputs.append(t)
            self._out_index[n] = int(d["index"])
        self._build_adapters(options.normalization)
        # the hot path's tables: (role, tensor index, adapter), bound engine methods
        self._feed = [(t.role, self._in_index[t.name], self._in_adapt[t.role]) for t in self._inputs]
        self._fetch = [(t.role, self._out_index[t.name], self._out_adapt[t.role]) for t in self._outputs]
        self._set_tensor = interp.set_tensor
        self._invoke = interp.invoke
        self._get_tensor = interp.get_tensor
        if self._new_interp is None or self._runner is not None:
            self.max_batch = 1

    def _count_partitions(self) -> int | None:
        """XNNPACK partitions the default delegate made of the allocated graph (its DELEGATE nodes);
        None where the engine does not list its nodes."""
        try:
            return sum(1 for d in self._interp._get_ops_details() if d.get("op_name") == "DELEGATE")
        except Exception:
            return None

    def _allocate(self, where: str) -> None:
        try:
            self._interp.allocate_tensors()
        except RuntimeError as e:
            raise BackendError(f"{where}: allocate_tensors failed ({e})") from None

    # rows per batched call (more are split). One interpreter per row count: at most 15 more per
    # model (a Lite0 int8 branch holds ~4 MB of packed weights each); B streams use B - 1 at most
    max_batch = 16

    def _batch_interp(self, n: int):
        it = self._batch.get(n)
        if it is None:
            it = self._new_interp()
            for t in self._inputs:
                it.resize_tensor_input(self._in_index[t.name], [n] + [int(x) for x in t.shape[1:]])
            try:
                it.allocate_tensors()
            except RuntimeError as e:
                raise BackendError(f"{self._where}: this model does not take {n} rows ({e})") from None
            self._batch[n] = it
        return it

    def _run_rows(self, inputs: dict, n: int) -> dict:
        it = self._batch_interp(n)
        for role, index, adapt in self._feed:
            if role not in inputs:
                self._adapt_inputs(inputs)  # raises the shared "missing input role" error
            y = adapt(inputs[role])
            if y.shape[0] != n:
                raise ValueError(f"{self._where}: input {role!r} has {y.shape[0]} rows, expected {n}")
            try:
                it.set_tensor(index, y)
            except ValueError as e:
                raise ValueError(f"{self._where}: input {role!r} for {n} rows: {e}") from None
        it.invoke()
        return {role: adapt(it.get_tensor(index)) for role, index, adapt in self._fetch}

    def run(self, inputs: dict) -> dict:
        if self._runner is not None:
            feed = self._adapt_inputs(inputs)
            res = self._runner(**feed)
            return {t.role: self._out_adapt[t.role](res[t.name]) for t in self._outputs}
        set_tensor = self._set_tensor
        for role, index, adapt in self._feed:
            try:
                x = inputs[role]
            except KeyError:
                self._adapt_inputs(inputs)  # raises the shared "missing input role" error
                raise
            y = adapt(x)
            try:
                set_tensor(index, y)
            except ValueError as e:  # the engine's shape/dtype check (the runner would resize)
                raise ValueError(f"{self._where}: input {role!r}: {e}") from None
        self._invoke()
        get_tensor = self._get_tensor
        return {role: adapt(get_tensor(index)) for role, index, adapt in self._fetch}
