"""``torch.export`` program (``.pt2``) for the runtime's torch backend (CPU, CUDA + CUDA graphs).

The program is the device wrapper exported on CPU; the runtime loads it with
``torch.export.load(path).module()`` and moves it to its device. Inputs positional (frame uint8
NHWC, h, c float32), outputs a tuple in the module's order.

The batch dimension is dynamic (1 … :data:`MAX_BATCH`): the manifest's shapes are the
one-stream contract (batch 1) and ``extra.max_batch`` says how many rows one call may take, which
the multi-stream runtime (``edge_runtime.multistream``) uses to run many streams' frames in one
call. Batch-1 outputs are the module's own (the export test checks both).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

from convert.formats.base import Exported, ExportContext, ExportError, Exporter, positional_specs
from convert.modules import ModuleSpec

#: Most rows one call of an exported program takes (a dynamic batch dimension, 1 … MAX_BATCH).
MAX_BATCH = 256


class PT2Exporter(Exporter):
    name = "pt2"
    format = "pt2"
    backend = "torch"
    precision = "fp32"
    ext = "pt2"
    description = "torch.export program fp32 (torch backend: CPU, CUDA graphs)"
    requires = ("torch",)

    def export(self, ctx: ExportContext, spec: ModuleSpec, dest: Path) -> Exported:
        import torch
        buf = io.StringIO()
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(buf), torch.no_grad():
                warnings.simplefilter("ignore")
                ex = spec.example_inputs()
                batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
                # traced at batch 2 (torch.export specialises a size-1 dimension); the varargs
                # state tuple gets its own entry, absent for a backbone
                dyn = ({0: batch}, tuple({0: batch} for _ in ex[1:])) if len(ex) > 1 else ({0: batch},)
                ep = torch.export.export(spec.device_module(), tuple(torch.cat([x, x]) for x in ex),
                                         dynamic_shapes=dyn)
                torch.export.save(ep, str(dest))
        except Exception as e:
            raise ExportError(f"torch.export of {spec.id} failed: {type(e).__name__}: {e}") from e
        ins, outs = positional_specs(spec)
        return Exported(ins, outs, extra={"torch": torch.__version__, "exported_on": "cpu",
                                          "io": "positional (manifest order)", "max_batch": MAX_BATCH})
