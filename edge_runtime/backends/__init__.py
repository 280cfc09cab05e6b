"""Inference backends: one class per engine behind one small interface.

Every backend implements::

    load(path, artifact, options) -> None     # open the model file once
    run(inputs: {role: ndarray}) -> {role: ndarray float32}
    input_specs() -> list[TensorSpec]         # the engine's real input tensors

Inputs are given by *role* the way the device produces them: ``frame`` = uint8 RGB NHWC
``(1, s, s, 3)``; ``h``/``c`` = float32 ``(1, hidden)``. The backend adapts them to the
artifact's tensors (layout NCHW/NHWC, dtype uint8/float32/float16/int8 with the tensor's
quantisation, normalisation when the manifest says it is not folded into the model) and
returns every output by role as float32 (dequantised).

Engines are imported lazily, inside ``load``: importing this package never imports an engine,
and only the ``executorch`` and ``torch`` backends ever import torch.

Registry: :data:`BACKEND_NAMES` (the names a manifest's artifacts use) plus ``fake`` (a
deterministic numpy stand-in used by tests, soak runs and demos without artifacts).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from edge_runtime.manifest import Artifact, TensorSpec


class BackendError(RuntimeError):
    """A backend cannot be created, loaded or run; the message says what to do."""


@dataclass
class BackendOptions:
    """Engine settings. Every backend reads the fields that concern it and ignores the rest.

    threads: CPU threads (LiteRT/XNNPACK, ONNX Runtime intra-op, torch CPU); None = every core
        this process may run on (:func:`available_cores`; LiteRT's own default is 1 thread).
    delegate: LiteRT only. None or ``"xnnpack"`` = the default XNNPACK CPU delegate;
        ``"none"`` = plain builtin kernels (no default delegate); anything else = the path of an
        external delegate library (e.g. ``libtensorflowlite_gpu_delegate.so``), loaded with
        ``load_delegate(path, delegate_options)``.
    providers: ONNX Runtime execution providers, in priority order: ``cpu``, ``cuda``,
        ``tensorrt`` (or full names such as ``CUDAExecutionProvider``). CPU is always appended
        as the fallback. Default ``["cpu"]``.
    device: torch only: ``"cuda"``, ``"cuda:1"``, ``"cpu"``; None = CUDA when available.
    cuda_graphs: torch on CUDA: capture one CUDA graph per model (static input buffers).
    normalization: the manifest's ``normalization`` block (the pipeline fills it in).
    """

    threads: int | None = None
    delegate: str | None = None
    delegate_options: dict = field(default_factory=dict)
    providers: list[str] | None = None
    device: str | None = None
    cuda_graphs: bool = True
    normalization: dict | None = None
    cache_dir: str | None = None  # TensorRT engine cache (onnxruntime)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. under ``taskset`` or a cgroup)."""
    import os
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS / Windows
        return max(1, os.cpu_count() or 1)


@runtime_checkable
class Backend(Protocol):
    name: str

    def load(self, path: Any, artifact: "Artifact", options: BackendOptions) -> None: ...

    def run(self, inputs: "dict[str, np.ndarray]") -> "dict[str, np.ndarray]": ...

    def input_specs(self) -> "list[TensorSpec]": ...


# name -> (module, class, what it needs)
_REGISTRY: dict[str, tuple[str, str, str]] = {
    "litert": ("edge_runtime.backends.litert_backend", "LiteRTBackend",
               "ai-edge-litert (or tflite-runtime, or tensorflow)"),
    "onnxruntime": ("edge_runtime.backends.ort_backend", "OnnxRuntimeBackend", "onnxruntime"),
    "executorch": ("edge_runtime.backends.executorch_backend", "ExecuTorchBackend",
                   "executorch (imports torch)"),
    "torch": ("edge_runtime.backends.torch_backend", "TorchBackend", "torch"),
    "fake": ("edge_runtime.backends.fake", "FakeBackend", "nothing (numpy stand-in for tests)"),
}

#: Backends that run real artifacts (the manifest's ``backend`` values).
BACKEND_NAMES = ("litert", "onnxruntime", "executorch", "torch")
#: Every registered name, ``fake`` included.
ALL_BACKEND_NAMES = tuple(_REGISTRY)
#: Engine module(s) whose presence makes a backend usable (checked without importing).
_ENGINE_MODULES = {
    "litert": ("ai_edge_litert", "tflite_runtime", "tensorflow"),
    "onnxruntime": ("onnxruntime",),
    "executorch": ("executorch",),
    "torch": ("torch",),
    "fake": (),
}


def backend_names(include_fake: bool = False) -> list[str]:
    return list(ALL_BACKEND_NAMES if include_fake else BACKEND_NAMES)


def check_backend_name(name: str) -> str:
    if name not in _REGISTRY:
        raise BackendError(f"unknown backend {name!r}; valid choices: {', '.join(BACKEND_NAMES)} "
                           f"(installed here: {', '.join(installed_backends()) or 'none'})")
    return name


def installed_backends() -> list[str]:
    """Real backends whose engine package is installed (found without importing it)."""
    import importlib.util
    out = []
    for name in BACKEND_NAMES:
        for mod in _ENGINE_MODULES[name]:
            try:
                if importlib.util.find_spec(mod) is not None:
                    out.append(name)
                    break
            except (ImportError, ValueError):
                continue
    return out


def get_backend_class(name: str) -> type:
    check_backend_name(name)
    mod_name, cls_name, _ = _REGISTRY[name]
    mod = importlib.import_module(mod_name)
    return getattr(mod, cls_name)


def create_backend(name: str, path: Any, artifact: "Artifact", options: BackendOptions | None = None):
    """Instantiate backend ``name`` and load ``artifact`` from ``path``."""
    cls = get_backend_class(name)
    b = cls()
    b.load(path, artifact, options or BackendOptions())
    return b


def engine_requirement(name: str) -> str:
    check_backend_name(name)
    return _REGISTRY[name][2]


__all__ = ["Backend", "BackendError", "BackendOptions", "BACKEND_NAMES", "ALL_BACKEND_NAMES",
           "backend_names", "check_backend_name", "installed_backends", "get_backend_class",
           "create_backend", "engine_requirement"]
