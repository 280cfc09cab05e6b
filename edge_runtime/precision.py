"""Which precision to run, and whether a precision's files may run at all.

``--precision auto`` (the CLIs' default; ``precision="auto"`` in the API) picks, for the backend
and the engine actually installed, the fastest precision whose artifacts passed their checks at
export (or were not checked: older manifests). The rule, in order:

======  ==========================================================================================
step    rule
======  ==========================================================================================
1       candidates = the precisions the manifest has for the backend
2       a *failed* precision (one of its artifacts has ``validation.status == "failed"``, or its
        ``validation.pipelines["<backend>/<precision>"].passed`` is false) is left out; with
        ``allow_failed`` it stays, ranked after every precision that did not fail
3       ``litert`` on the legacy ``tflite_runtime`` interpreter (2.13 / 2.14, JetPack): int8 is
        ranked last: those versions run int8 graphs without XNNPACK, 27-82x slower (measured:
        docs/RESULTS.md, "Edge benchmark models (configs/edge.yaml, configs/edge_fast.yaml)")
4       a precision with no validation status at all (older manifests) is ranked after those
        that passed, and among themselves fp32 > fp16 > int8: without a check, the precision
        that needs none
5       then by ``validation.pipelines["<backend>/<precision>"].ms_per_frame`` ascending when the
        export measured it for every candidate, else by the preference int8 > fp16 > fp32
======  ==========================================================================================

No candidate left (every precision failed) is an error naming what failed and suggesting
``--allow-failed``. An explicit precision skips the choice but not the check: a failed artifact
is refused (:func:`check_failed`) unless ``allow_failed``, which loads it with one warning.
Torch-free and numpy-free except :func:`installed_engine`, which asks the LiteRT backend which
interpreter it imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from edge_runtime.manifest import PRECISIONS, Artifact, Manifest, ManifestError

AUTO = "auto"


@dataclass(frozen=True)
class PrecisionChoice:
    """What ``auto`` picked and why (:meth:`line` is what the CLIs print at start)."""
    precision: str
    reason: str
    ranked: tuple = ()                                # every candidate, best first
    left_out: dict = field(default_factory=dict)      # failed precision -> what failed

    def line(self) -> str:
        return f"precision auto -> {self.precision} ({self.reason})"


def int8_is_slow(backend: str, engine: str | None) -> bool:
    """Rule 3: the engines known to run int8 graphs without XNNPACK (many times slower)."""
    return backend == "litert" and engine == "tflite_runtime"


def rank_precisions(candidates: Sequence[str], ms: Mapping[str, float] | None = None, *,
                    failed: Sequence[str] = (), int8_slow: bool = False,
                    unvalidated: Sequence[str] = ()) -> list[str]:
    """Rules 2-5 on ``candidates``: not failed first, then validated before ``unvalidated``
    (those fp32 > fp16 > int8), then (int8 last where ``int8_slow``), then ``ms`` per frame
    ascending when it has every candidate, else int8 > fp16 > fp32."""
    preference = ("int8", "fp16", "fp32")
    use_ms = bool(ms) and all(isinstance(ms.get(p), (int, float)) for p in candidates)

    def key(p: str) -> tuple:
        third = float(ms[p]) if use_ms else (preference.index(p) if p in preference else len(preference))
        unchecked = -preference.index(p) if (p in unvalidated and p in preference) else 0
        return (p in failed, p in unvalidated, unchecked, int8_slow and p == "int8", third)

    return sorted(candidates, key=key)


def precision_failures(manifest: Manifest, backend: str, precision: str,
                       artifacts: Sequence[Artifact] | None = None) -> list[str]:
    """What failed at export for (backend, precision): one line per failed artifact (of
    ``artifacts`` when given, else of all of them) with its missed checks, and the pipeline's
    line when ``validation.pipelines[...].passed`` is false. [] = usable."""
    arts = manifest.failed_artifacts(backend, precision) if artifacts is None else \
        [a for a in artifacts if a.failed]
    by_missed: dict[str, list[str]] = {}   # files that missed the same checks: one line
    for a in arts:
        by_missed.setdefault("; ".join(a.validation.missed) or "its targets", []).append(a.file)
    out = [f"{', '.join(files)} ({backend}/{precision}) missed {missed}" for missed, files in by_missed.items()]
    if manifest.pipeline_validation(backend, precision).get("passed") is False:
        out.append(f"the {backend}/{precision} pipeline missed its targets")
    return out


def check_failed(manifest: Manifest, backend: str, precision: str, artifacts: Sequence[Artifact],
                 allow_failed: bool = False) -> str | None:
    """Before loading ``artifacts``: ManifestError when any failed validation at export, unless
    ``allow_failed``; then the one warning to show (None when nothing failed)."""
    fails = precision_failures(manifest, backend, precision, artifacts)
    if not fails:
        return None
    what = "; ".join(fails)
    if not allow_failed:
        others = [p for p in manifest.precisions(backend)
                  if p != precision and not precision_failures(manifest, backend, p)]
        raise ManifestError(
            f"{manifest.root or manifest.name}: {precision} artifacts failed validation at export: {what}. "
            f"--allow-failed (allow_failed=True) runs them anyway"
            + (f"; or choose --precision {' / '.join(others)}" if others else ""))
    return f"running {backend}/{precision} artifacts that failed validation at export (--allow-failed): {what}"


def installed_engine(backend: str) -> str | None:
    """The engine package the backend will load with (litert: ``ai_edge_litert``,
    ``tflite_runtime`` or ``tensorflow``); None when unknown or not installed."""
    if backend != "litert":
        return None
    try:
        from edge_runtime.backends.litert_backend import import_interpreter
        return import_interpreter()[0].split(".")[0]
    except Exception:   # none installed: loading says so with the install hint
        return None


def choose_precision(manifest: Manifest, backend: str, *, engine: str | None = None,
                     allow_failed: bool = False) -> PrecisionChoice:
    """``auto``: the precision to run on ``backend`` with ``engine`` (:func:`installed_engine`
    when None), by the rule in this module's docstring."""
    if backend == "fake":
        return PrecisionChoice("fp32", "fake backend: numpy stand-in", ("fp32",))
    have = [p for p in PRECISIONS if p in manifest.precisions(backend)]
    if not have:
        raise ManifestError(f"{manifest.root or manifest.name}: this model has no artifacts for backend "
                            f"{backend!r}; it has: {', '.join(manifest.backends()) or 'none'}")
    fails = {p: precision_failures(manifest, backend, p) for p in have}
    failed = [p for p in have if fails[p]]
    left_out = {p: "; ".join(fails[p]) for p in failed}
    candidates = have if allow_failed else [p for p in have if p not in failed]
    if not candidates:
        raise ManifestError(
            f"{manifest.root or manifest.name}: no {backend} precision passed validation at export: "
            + " | ".join(f"{p}: {left_out[p]}" for p in failed)
            + ". --allow-failed runs them anyway (or give --precision to choose one)")
    if engine is None:
        engine = installed_engine(backend)
    slow = int8_is_slow(backend, engine) and "int8" in candidates and len(candidates) > 1
    ms = {p: manifest.pipeline_validation(backend, p).get("ms_per_frame") for p in candidates}
    unvalidated = [p for p in candidates if manifest.pipeline_validation(backend, p).get("passed") is None
                   and not any(a.validation is not None for a in manifest.artifacts
                               if a.backend == backend and a.precision == p)]
    ranked = rank_precisions(candidates, ms, failed=failed, int8_slow=slow, unvalidated=unvalidated)
    best = ranked[0]

    arts = [a for a in manifest.artifacts if a.backend == backend and a.precision == best]
    if best in failed:
        why = [f"failed validation, run because of --allow-failed: {left_out[best]}"]
    elif arts and all(a.validation is not None for a in arts):
        why = ["validated"]
    elif any(a.validation is not None for a in arts):
        why = ["partly validated"]
    else:
        why = ["no validation status in the manifest: the safest precision"]
    if len(candidates) == 1:
        why.append(f"the only {backend} precision" + (" left" if len(have) > 1 else ""))
    elif all(isinstance(ms[p], (int, float)) for p in candidates):
        why.append(f"{ms[best]:.3g} ms/frame vs "
                   + ", ".join(f"{p} {ms[p]:.3g}" for p in ranked[1:]) + " at export")
    else:
        why.append("no export timing for every precision: int8 > fp16 > fp32")
    if slow:
        why.append(f"int8 ranked last: {engine} runs int8 without XNNPACK")
    if failed and best not in failed:
        why.append(f"{', '.join(failed)} failed validation"
                   + (" (ranked after those that passed)" if allow_failed else ""))
    return PrecisionChoice(best, "; ".join(why), tuple(ranked), left_out)
