"""ONNX (fp32) for ONNX Runtime; also the input of the TFLite path (onnx2tf).

Exported with the dynamo exporter (``torch.onnx.export(dynamo=True)``, opset 18), weights
inside the file (no external data). Inputs ``frame`` uint8 NHWC, ``h``/``c`` float32; outputs
``action_logits``, ``class_logits``, ``h_out``, ``c_out``. The ``onnx`` artifact has a dynamic
batch dimension (1 … ``MAX_BATCH``, ``extra.max_batch``: ONNX Runtime runs several streams' rows
in one call); onnx2tf gets its own static batch-1 export.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import warnings
from pathlib import Path

from convert.formats.base import Exported, ExportContext, ExportError, Exporter, positional_specs
from convert.modules import INPUT_NAMES, OUTPUT_NAMES, ModuleSpec

OPSET = 18
MAX_BATCH = 256


def onnx_file(ctx: ExportContext, spec: ModuleSpec, dynamic_batch: bool = False) -> Path:
    """Export ``spec`` to ONNX once per run (cached in the scratch folder); return the path.
    ``dynamic_batch``: batch dimension 1 … MAX_BATCH (traced at batch 2), else static batch 1."""
    key = ("onnx", spec.id, dynamic_batch)
    if key in ctx.cache:
        return ctx.cache[key]
    import onnx
    import torch
    path = ctx.scratch("onnx") / f"{spec.id}{'_batch' if dynamic_batch else ''}.onnx"
    args, dyn = spec.example_inputs(), None
    if dynamic_batch:
        batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
        dyn = ({0: batch}, tuple({0: batch} for _ in args[1:])) if len(args) > 1 else ({0: batch},)
        args = tuple(torch.cat([x, x]) for x in args)
    buf = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(buf):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                spec.device_module(), args, str(path),
                input_names=[INPUT_NAMES[r] for r in spec.input_roles],
                output_names=[OUTPUT_NAMES[r] for r in spec.output_roles],
                opset_version=OPSET, dynamo=True, external_data=False, verbose=False,
                dynamic_shapes=dyn)
    except Exception as e:
        raise ExportError(f"torch.onnx.export failed for {spec.id}: {type(e).__name__}: {e}\n"
                          f"{buf.getvalue()[-2000:]}") from e
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    got_in = [i.name for i in model.graph.input]
    want_in = [INPUT_NAMES[r] for r in spec.input_roles]
    if got_in != want_in:
        raise ExportError(f"{spec.id}: ONNX inputs are {got_in}, expected {want_in}")
    ctx.cache[key] = path
    return path


class OnnxExporter(Exporter):
    name = "onnx"
    format = "onnx"
    backend = "onnxruntime"
    precision = "fp32"
    ext = "onnx"
    description = "ONNX fp32 (ONNX Runtime: CPU, CUDA, TensorRT)"
    requires = ("onnx", "onnxscript", "onnxruntime")

    def export(self, ctx: ExportContext, spec: ModuleSpec, dest: Path) -> Exported:
        src = onnx_file(ctx, spec, dynamic_batch=True)
        shutil.copyfile(src, dest)
        ins, outs = positional_specs(spec)
        return Exported(ins, outs, extra={"opset": OPSET, "max_batch": MAX_BATCH})
