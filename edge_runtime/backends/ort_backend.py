"""ONNX Runtime backend: execution providers by name (CPU, CUDA, TensorRT), intra-op threads.

An artifact with a dynamic batch dimension (``extra.max_batch``) runs several streams' rows in one
``run_batch`` call (TensorRT builds, and caches, an engine per row count it meets)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.backends import BackendError, BackendOptions
from edge_runtime.backends.base import AdaptedModel, EngineTensor, guess_layout, resolve_quant

PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "dml": "DmlExecutionProvider",
    "xnnpack": "XnnpackExecutionProvider",
    "qnn": "QNNExecutionProvider",
    "rocm": "ROCMExecutionProvider",
}

_ORT_TYPES = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8, "tensor(int32)": np.int32, "tensor(int64)": np.int64,
    "tensor(double)": np.float64,
}


def resolve_providers(requested: list[str] | None, available: list[str]) -> list[str]:
    """Short or full provider names -> full names, CPU appended; unavailable ones are an error."""
    names = []
    for p in requested or ["cpu"]:
        for part in str(p).split(","):
            part = part.strip()
            if not part:
                continue
            full = PROVIDER_ALIASES.get(part.lower(), part)
            if full not in available:
                raise BackendError(
                    f"execution provider {part!r} ({full}) is not available in this onnxruntime "
                    f"build; available: {', '.join(available)} (short names: "
                    f"{', '.join(k for k, v in PROVIDER_ALIASES.items() if v in available)})")
            if full not in names:
                names.append(full)
    if "CPUExecutionProvider" not in names:
        names.append("CPUExecutionProvider")
    return names


class OnnxRuntimeBackend(AdaptedModel):
    name = "onnxruntime"

    def __init__(self) -> None:
        self.providers: list[str] = []
        self._sess = None

    def load(self, path: Any, artifact, options: BackendOptions | None = None) -> None:
        options = options or BackendOptions()
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise BackendError(f"the onnxruntime backend needs `pip install onnxruntime` "
                               f"(or onnxruntime-gpu): {e}") from None
        path = Path(path)
        self._artifact_id = artifact.id
        so = ort.SessionOptions()
        if options.threads:
            so.intra_op_num_threads = int(options.threads)
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        providers = resolve_providers(options.providers, ort.get_available_providers())
        prov_args: list[Any] = []
        for p in providers:
            if p == "TensorrtExecutionProvider":
                cache = options.cache_dir or os.path.join(os.path.expanduser("~"), ".cache", "arnet_edge", "trt")
                os.makedirs(cache, exist_ok=True)
                prov_args.append((p, {"trt_engine_cache_enable": True, "trt_engine_cache_path": cache,
                                      "trt_fp16_enable": artifact.precision == "fp16"}))
            else:
                prov_args.append(p)
        try:
            sess = ort.InferenceSession(str(path), so, providers=prov_args)
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
            raise BackendError(f"{path}: onnxruntime cannot load this model ({type(e).__name__}: "
                               f"{str(e).strip()[:500]})") from None
        self._sess = sess
        self.providers = sess.get_providers()
        where = f"{path} ({artifact.id})"
        ins = {i.name: i for i in sess.get_inputs()}
        outs = {o.name: o for o in sess.get_outputs()}
        self._inputs, self._outputs = [], []
        for spec in artifact.inputs:
            if spec.name not in ins:
                raise BackendError(f"{where}: no input named {spec.name!r}; the model has {sorted(ins)}")
            i = ins[spec.name]
            dt = np.dtype(_ORT_TYPES.get(i.type, np.float32))
            shape = tuple(s if isinstance(s, int) and s > 0 else d for s, d in zip(i.shape, spec.shape)) \
                if len(i.shape) == len(spec.shape) else tuple(spec.shape)
            t = EngineTensor(i.name, spec.role, shape, dt, guess_layout(shape, spec.layout))
            t.quant = resolve_quant(spec, None, dt, where)
            self._inputs.append(t)
        for spec in artifact.outputs:
            if spec.name not in outs:
                raise BackendError(f"{where}: no output named {spec.name!r}; the model has {sorted(outs)}")
            o = outs[spec.name]
            dt = np.dtype(_ORT_TYPES.get(o.type, np.float32))
            t = EngineTensor(o.name, spec.role, tuple(spec.shape), dt, spec.layout)
            t.quant = resolve_quant(spec, None, dt, where)
            self._outputs.append(t)
        self._out_names = [t.name for t in self._outputs]
        self._build_adapters(options.normalization)
        # a dynamic batch dimension (the exporter's extra.max_batch): several rows per call
        dynamic = all(not (isinstance(i.shape[0], int) and i.shape[0] > 0) for i in sess.get_inputs() if i.shape)
        self.max_batch = int((artifact.extra or {}).get("max_batch") or 1) if dynamic else 1

    def run(self, inputs: dict) -> dict:
        feed = self._adapt_inputs(inputs)
        res = self._sess.run(self._out_names, feed)
        return {t.role: self._out_adapt[t.role](r) for t, r in zip(self._outputs, res)}

    def _run_rows(self, inputs: dict, n: int) -> dict:
        feed = self._adapt_inputs(inputs)   # the adapters keep the rows
        for name, x in feed.items():
            if x.shape[0] != n:
                raise ValueError(f"onnxruntime {self._artifact_id}: input {name!r} has {x.shape[0]} rows, "
                                 f"expected {n}")
        res = self._sess.run(self._out_names, feed)
        return {t.role: self._out_adapt[t.role](r) for t, r in zip(self._outputs, res)}
