"""What every format exporter shares: the context, the result type, tensor-spec helpers."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from convert.calibration import Int8Options
from convert.modules import INPUT_NAMES, OUTPUT_NAMES, ModuleSpec
from edge_runtime.manifest import TensorSpec


class ExportError(RuntimeError):
    """A format could not be produced; the message says why (and what to do when we know)."""


@dataclass
class ExportContext:
    """Shared by the exporters of one run: modules, scratch space, calibration samples, caches."""

    specs: list[ModuleSpec]
    work: Path                                   # scratch folder (removed at the end)
    calib: dict[str, list[dict]]                 # module id -> role-keyed input samples
    calib_real: bool = True                      # samples come from real frames
    log: Callable[[str], None] = print
    cache: dict = field(default_factory=dict)    # e.g. the ONNX file / TF SavedModel per module
    int8: Int8Options = field(default_factory=Int8Options)   # how int8 formats are made

    def scratch(self, *parts: str) -> Path:
        p = self.work.joinpath(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    def calib_samples(self, spec: ModuleSpec, limit: int | None = None) -> list[dict]:
        s = self.calib.get(spec.id) or []
        if not s:
            raise ExportError(f"no calibration samples for {spec.id}")
        return s[:limit] if limit else s


@dataclass
class Exported:
    """What an exporter wrote for one module (the file itself is at the path it was given)."""

    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    signature: str | None = None
    extra: dict = field(default_factory=dict)


class Exporter:
    """One row of the format table. Subclasses set the class attributes and ``export``."""

    name: str = ""          # the --formats name, e.g. "tflite-int8"
    format: str = ""        # manifest format: tflite | onnx | pte | pt2
    backend: str = ""       # manifest backend: litert | onnxruntime | executorch | torch
    precision: str = ""     # fp32 | fp16 | int8
    ext: str = ""
    description: str = ""
    needs_calibration: bool = False
    requires: tuple[str, ...] = ()   # importable modules this exporter needs

    def file_name(self, spec: ModuleSpec) -> str:
        return f"{spec.id}_{self.precision}.{self.ext}"

    def check_available(self) -> None:
        import importlib.util
        missing = [m for m in self.requires if importlib.util.find_spec(m) is None]
        if missing:
            raise ExportError(f"{self.name} needs {', '.join(missing)} (pip install -r requirements.txt)")

    def export(self, ctx: ExportContext, spec: ModuleSpec, dest: Path) -> Exported:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


# ------------------------------------------------------------------------------ tensor specs
def positional_specs(spec: ModuleSpec) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """The device contract's tensors, in the module's positional order (pte, pt2, onnx)."""
    ins = [TensorSpec(INPUT_NAMES[r], r, spec.input_shape(r), spec.input_dtype(r), spec.input_layout(r))
           for r in spec.input_roles]
    outs = [TensorSpec(OUTPUT_NAMES[r], r, spec.output_shape(r), "float32", "NC")
            for r in spec.output_roles]
    return ins, outs


def check_no_nan(name: str, arrays: dict[str, np.ndarray]) -> None:
    for k, v in arrays.items():
        if not np.all(np.isfinite(v)):
            raise ExportError(f"{name}: output {k!r} has NaN/inf")


@contextlib.contextmanager
def quiet_fds():
    """Send what C/C++ code prints to fds 1 and 2 (TFLite converter, XNNPACK, ExecuTorch
    threadpool) to a temp file for the duration; replayed to stderr if the block raises."""
    import sys
    import tempfile
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        ok = False
        try:
            yield
            ok = True
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            if not ok:
                sink.seek(0)
                tail = sink.read()[-4000:].decode("utf-8", "replace")
                if tail.strip():
                    sys.stderr.write(tail + "\n")


@contextlib.contextmanager
def chdir(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)
