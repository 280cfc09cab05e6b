"""The format table: ``FORMATS = {name: exporter}``; ``--formats`` picks rows by name.

==============  ========  ===========  =========  ======================================
name            format    backend      precision  what
==============  ========  ===========  =========  ======================================
onnx            onnx      onnxruntime  fp32       ONNX opset 18 (dynamo exporter)
tflite-fp32     tflite    litert       fp32       onnx2tf
tflite-fp16     tflite    litert       fp16       onnx2tf (fp16 weights, fp32 compute)
tflite-int8     tflite    litert       int8       onnx2tf SavedModel + TFLite int8, float IO
pte-fp32        pte       executorch   fp32       XNNPACK delegate
pte-int8        pte       executorch   int8       PT2E XNNPACKQuantizer + XNNPACK
pt2             pt2       torch        fp32       torch.export program (CUDA graphs backend)
==============  ========  ===========  =========  ======================================

Engines are imported lazily by each exporter; importing this package is cheap.
"""

from __future__ import annotations

from convert.formats.base import Exported, ExportContext, ExportError, Exporter
from convert.formats.executorch import PteExporter
from convert.formats.onnx_fp32 import OnnxExporter
from convert.formats.tflite import TFLiteExporter
from convert.formats.torch_pt2 import PT2Exporter

FORMATS: dict[str, Exporter] = {e.name: e for e in (
    OnnxExporter(),
    TFLiteExporter("fp32"), TFLiteExporter("fp16"), TFLiteExporter("int8"),
    PteExporter("fp32"), PteExporter("int8"),
    PT2Exporter(),
)}


class FormatSelectionError(ValueError):
    """``--formats`` named something that is not in the table."""


def select_formats(spec: str | list[str] | None) -> list[str]:
    """``None``/``"all"`` -> every format; ``"onnx,tflite-int8"`` or a list -> those, in table order.

    Also accepts a family name: ``tflite`` (all TFLite precisions), ``pte``."""
    if spec is None:
        return list(FORMATS)
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [n.strip() for n in names if n and n.strip()]
    if not names or names == ["all"]:
        return list(FORMATS)
    chosen: set[str] = set()
    unknown = []
    for n in names:
        if n == "all":
            chosen |= set(FORMATS)
        elif n in FORMATS:
            chosen.add(n)
        elif any(k.startswith(n + "-") for k in FORMATS):
            chosen |= {k for k in FORMATS if k.startswith(n + "-")}
        else:
            unknown.append(n)
    if unknown:
        raise FormatSelectionError(
            f"unknown format(s) {unknown}; valid: {', '.join(FORMATS)} (or 'all', 'tflite', 'pte')")
    return [k for k in FORMATS if k in chosen]


__all__ = ["FORMATS", "Exported", "ExportContext", "ExportError", "Exporter", "FormatSelectionError",
           "select_formats"]
