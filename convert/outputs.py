"""The export's outputs: the manifest built from the model, and the folder written at the end
(``report.md``, then ``manifest.json`` LAST, atomic and validated; ``--android`` assets)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Callable


class AndroidExportError(ValueError):
    """``--android`` cannot be served (no TFLite artifact was exported)."""


def base_manifest(model, labels, sampling, prov, name: str, root: Path, resize: str = "area"):
    from edge_runtime.manifest import Action, Manifest
    from train.costs import arnet_cost_table
    cfg = model.cfg
    res, skips = [int(r) for r in cfg.resolutions], [int(f) for f in cfg.skip_lengths]
    actions = [Action("resolution", size=s, backbone=f"backbone_{s}") for s in res[:-1]]
    actions.append(Action("resolution", size=res[-1], backbone="policy"))
    actions += [Action("skip", frames=f) for f in skips]
    ext = model.policy.extractor
    norm = {"mean": [float(x) for x in ext.mean], "std": [float(x) for x in ext.std], "folded": True,
            "color": "RGB", "resize": resize, "crop": "center_square", "input_dtype": "uint8",
            "note": "every artifact takes raw uint8 RGB pixels; mean/std (in [0,1] units) are "
                    "inside the models"}
    costs = arnet_cost_table(model).to_manifest()
    m = Manifest(name=name, labels=list(labels), resolutions=res, skip_lengths=skips, actions=actions,
                 normalization=norm, policy={"resolution": res[-1], "hidden": int(cfg.hidden),
                                             "state": ["h", "c"], "state_dtype": "float32"},
                 costs=costs, sampling=sampling, artifacts=[], multi_label=bool(cfg.multi_label),
                 training=prov)
    m.root = root
    return m


def exporter_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for p in ("torch", "onnx", "onnxruntime", "onnx2tf", "tensorflow", "ai-edge-litert", "executorch", "torchao"):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = None
    return out


def write_outputs(manifest: Any, validation: dict, out: Path, android: str | None,
                  log: Callable[[str], None]) -> bool:
    """Stamp the manifest with the validation and the exporter's versions, then write
    ``report.md`` and ``manifest.json`` (LAST) into ``out`` and, with ``android``, the app's
    assets; print the summary table. False (nothing written) when no artifact was exported."""
    from convert.report import SUMMARY_HEADER, render_report, summary_rows, text_table
    from edge_runtime.manifest import atomic_write_text
    manifest.validation = validation
    manifest.training = {**manifest.training, "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(
        timespec="seconds"), "exporter_versions": exporter_versions()}
    if not manifest.artifacts:
        log("no artifact was exported; no manifest written")
    else:
        atomic_write_text(out / "report.md", render_report(manifest.to_dict(), validation))
        path = manifest.save(out)  # LAST: validated, atomic
        log(f"wrote {out / 'report.md'} and {path}")
        if android:
            log(f"android assets: {export_android(manifest, out, Path(android))}")
    log("")
    log(text_table(SUMMARY_HEADER, summary_rows(validation)))
    return bool(manifest.artifacts)


def export_android(manifest, src: Path, dest: Path) -> Path:
    """Copy the TFLite artifacts + a manifest listing only them into ``dest`` (assets folder)."""
    from edge_runtime.manifest import Manifest, atomic_write_bytes
    arts = [a for a in manifest.artifacts if a.format == "tflite"]
    if not arts:
        raise AndroidExportError("--android: no TFLite artifact was exported (add tflite-* to --formats)")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "manifest.json").unlink(missing_ok=True)
    for a in arts:
        atomic_write_bytes(dest / a.file, (src / a.file).read_bytes())
    d = manifest.to_dict()
    d["artifacts"] = [x for x in d["artifacts"] if x["format"] == "tflite"]
    m = Manifest.from_dict(d, str(dest / "manifest.json"))
    m.root = dest
    for a in m.artifacts:
        m.verify(a)
    return m.save(dest)
