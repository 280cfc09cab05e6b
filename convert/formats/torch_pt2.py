"""``torch.export`` program (``.pt2``) for the runtime's torch backend (CPU, CUDA + CUDA graphs).

The program is the device wrapper exported on CPU with static shapes; the runtime loads it
with ``torch.export.load(path).module()`` and moves it to its device. Inputs positional
(frame uint8 NHWC, h, c float32), outputs a tuple in the module's order.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

from convert.formats.base import Exported, ExportContext, ExportError, Exporter, positional_specs
from convert.modules import ModuleSpec


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
                ep = torch.export.export(spec.device_module(), spec.example_inputs())
                torch.export.save(ep, str(dest))
        except Exception as e:
            raise ExportError(f"torch.export of {spec.id} failed: {type(e).__name__}: {e}") from e
        ins, outs = positional_specs(spec)
        return Exported(ins, outs, extra={"torch": torch.__version__, "exported_on": "cpu",
                                          "io": "positional (manifest order)"})
