"""Export per format: each format's artifacts written (hidden temp name, then renamed), added to
the manifest and checked in the device runtime as they come; a format that fails is reported
with its cause and left out (its files removed), the others go on."""

from __future__ import annotations

import os
import re
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from convert.validate import check_artifact


def export_format(fname: str, ctx: Any, specs: list, out: Path, manifest: Any, validation: dict,
                  val_samples: dict, *, calib_ok: bool, latency: bool, log: Callable[[str], None],
                  val_refs: dict | None = None, calib_problem: str | None = None) -> bool:
    """Export every module of ``specs`` in format ``fname`` into ``out``; its record goes to
    ``validation["formats"][fname]`` (and one per artifact to ``validation["artifacts"]``).
    True when the format succeeded; on failure nothing of it is left in ``out`` or the manifest."""
    from convert.formats import FORMATS, ExportError
    ex = FORMATS[fname]
    placed: list[Path] = []
    arts: list = []
    tf0 = time.perf_counter()
    frec = {"status": "ok", "format": ex.format, "backend": ex.backend, "precision": ex.precision,
            "description": ex.description}
    validation["formats"][fname] = frec
    try:
        ex.check_available()
        if ex.needs_calibration and not calib_ok:
            raise ExportError(
                f"{fname} needs real calibration frames: pass --calib DATA (training videos) "
                f"or --allow-synthetic-calib to calibrate on generated frames")
        if ex.needs_calibration and calib_problem:
            raise ExportError(f"{fname}: {calib_problem}")
        for spec in specs:
            art, export_s = export_artifact(ex, ctx, spec, out, placed)
            manifest.artifacts.append(art)
            arts.append(art)
            validation["artifacts"][f"{fname}/{spec.id}"] = check_artifact(
                manifest, art, spec, val_samples[spec.id], export_s=export_s, fname=fname,
                latency_threads=sorted({1, validation["threads_all"]}) if latency else None, log=log,
                refs=(val_refs or {}).get(spec.id))
        frec["export_s"] = round(time.perf_counter() - tf0, 2)
        frec["bytes"] = sum(a.bytes for a in arts)
        frec["files"] = [a.file for a in arts]
        log(f"[{fname}] ok: {len(arts)} artifacts, {frec['bytes'] / 1024:.1f} KiB, {frec['export_s']:.1f}s")
        return True
    except Exception as e:
        msg = f"{type(e).__name__}: {e}" if not isinstance(e, ExportError) else str(e)
        msg = re.sub(r"\x1b\[[0-9;]*m", "", msg)
        frec.update(status="failed", error=msg.strip()[-1500:],
                    traceback=traceback.format_exc()[-3000:],
                    export_s=round(time.perf_counter() - tf0, 2))
        log(f"[{fname}] FAILED: {msg.strip()[-600:]}")
        manifest.artifacts = [a for a in manifest.artifacts if a not in arts]
        for k in [k for k in validation["artifacts"] if k.startswith(fname + "/")]:
            del validation["artifacts"][k]
        for f in placed:
            if f.exists():
                f.unlink()
        return False


def export_artifact(ex: Any, ctx: Any, spec: Any, out: Path, placed: list) -> tuple:
    """One module in one format: written under a hidden partial name, renamed into ``out``
    (appended to ``placed``); (its manifest ``Artifact``, seconds the export took)."""
    from convert.formats import ExportError
    from convert.formats.base import quiet_fds
    from edge_runtime.manifest import Artifact, sha256_file
    ta = time.perf_counter()
    final = out / ex.file_name(spec)
    tmp = out / f".{final.stem}.partial.{ex.ext}"
    try:
        with quiet_fds():
            res = ex.export(ctx, spec, tmp)
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise ExportError(f"{ex.name}: exporter wrote no file for {spec.id}")
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
    placed.append(final)
    art = Artifact(id=spec.id, role=spec.role, resolution=spec.resolution, format=ex.format,
                   backend=ex.backend, precision=ex.precision, file=final.name,
                   sha256=sha256_file(final), bytes=final.stat().st_size,
                   inputs=res.inputs, outputs=res.outputs, signature=res.signature,
                   extra=res.extra)
    return art, time.perf_counter() - ta
