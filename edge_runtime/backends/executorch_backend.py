"""ExecuTorch backend (optional on device: ``executorch.runtime`` imports torch).

A ``.pte`` program's ``forward`` takes the artifact's inputs positionally in the manifest's
``inputs`` order and returns its outputs in the manifest's ``outputs`` order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.backends import BackendError, BackendOptions
from edge_runtime.backends.base import AdaptedModel


class ExecuTorchBackend(AdaptedModel):
    name = "executorch"

    def load(self, path: Any, artifact, options: BackendOptions | None = None) -> None:
        options = options or BackendOptions()
        try:
            import torch  # executorch's runtime needs it; tensors are handed over as torch tensors
            from executorch.runtime import Runtime
        except ImportError as e:
            raise BackendError(f"the executorch backend needs `pip install executorch` (which "
                               f"brings torch): {e}") from None
        self._torch = torch
        path = Path(path)
        self._artifact_id = artifact.id
        if options.threads:
            try:
                from executorch.extension.pybindings import portable_lib
                portable_lib._unsafe_reset_threadpool(int(options.threads))
            except Exception:  # older builds: keep the default pool
                pass
        try:
            program = Runtime.get().load_program(path)
        except Exception as e:
            raise BackendError(f"{path}: executorch cannot load this program ({e})") from None
        if "forward" not in program.method_names:
            raise BackendError(f"{path}: no 'forward' method; methods: {sorted(program.method_names)}")
        self._program = program
        self._method = program.load_method("forward")
        self._tensors_from_manifest(artifact, f"{path} ({artifact.id})")
        self._build_adapters(options.normalization)

    def run(self, inputs: dict) -> dict:
        feed = self._adapt_inputs(inputs)
        args = [self._torch.from_numpy(feed[t.name]) for t in self._inputs]
        outs = self._method.execute(args)
        if len(outs) != len(self._outputs):
            raise BackendError(f"executorch {self._artifact_id}: program returned {len(outs)} outputs, "
                               f"the manifest lists {len(self._outputs)}")
        return {t.role: self._out_adapt[t.role](o.detach().numpy() if hasattr(o, "detach") else np.asarray(o))
                for t, o in zip(self._outputs, outs)}
