"""Measure this device's cost of every AR-Net action and write ``profile.json`` beside the manifest.

    python -m edge_runtime.profile --model artifacts/<name> [--backend litert] [--precision fp32]
                                   [--threads N] [--repeats N] [--warmup N]

For the policy artifact and each backbone the chosen backend/precision has, it runs ``warmup``
untimed then ``repeats`` timed invocations on random uint8 frames (fixed seed) and keeps the
median milliseconds. From those:

- ``ms_per_decision[a]``: the wall time of a decision step taking action ``a`` — policy +
  backbone ``a`` for ``a < L−1``, the policy alone for the lowest resolution (its classifier
  head is part of the policy) and for a skip decision. This is STREAMING.md's ``cost_a`` measured
  in ms; ``edge_runtime.budget`` uses it (and amortises skips itself).
- ``ms_per_action[a]``: the same amortised per sampled frame: a skip of ``F`` frames costs
  ``policy / F``.
- ``ms_per_gmac``: measured ms per GMAC of each network (the manifest's GMACs).

``profile.json`` (written atomically, ``schema`` 1) holds one entry per (backend, precision):
profiling int8 keeps the fp32 entry and replaces an older int8 one::

    {"schema": 1, "model": "<manifest name>",
     "entries": [{"backend": "litert", "precision": "fp32", "threads": 4, "repeats": 20,
                  "warmup": 3, "created": "2026-...Z",
                  "device": {"platform": ..., "machine": ..., "model": "Raspberry Pi 5 ...",
                             "cpu_count": 4, "python": "3.11.2", "numpy": "1.26.4"},
                  "actions": ["res224", ..., "skip4"],
                  "ms": {"policy": 3.1, "backbone_224": 21.0, ...},
                  "ms_stats": {"policy": {"median": 3.1, "min": 3.0, "p90": 3.4, "max": 3.9}, ...},
                  "ms_per_decision": [...], "ms_per_action": [...],
                  "gmacs": {"policy": 0.2, "backbone_224": 1.1, ...},
                  "ms_per_gmac": {"policy": 15.5, "backbone_224": 19.1, ...},
                  "artifacts_sha256": {"policy": "...", ...}}]}

The backend comes from ``edge_runtime.backends.create_backend``; ``backend_factory`` (same
signature) is injectable so tests run without real artifacts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from .manifest import MANIFEST_NAME, Manifest, ManifestError, atomic_write_text, load_manifest

PROFILE_NAME = "profile.json"
PROFILE_SCHEMA = 1

BackendFactory = Callable[..., Any]  # (name, path, artifact, options) -> loaded backend


class ProfileError(ValueError):
    """``profile.json`` is malformed; the message names the file and the field."""


# ---------------------------------------------------------------------------- helpers
def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    if n == 0:
        raise ValueError("median of nothing")
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def _stats(xs: Sequence[float]) -> dict:
    from .telemetry.latency import percentile
    s = sorted(xs)
    return {"median": _median(s), "min": s[0], "p90": percentile(s, 90.0), "max": s[-1],
            "n": len(s)}


def device_info() -> dict:
    """What the numbers were measured on (no host names, no serials)."""
    info = {"platform": platform.platform(), "system": platform.system(),
            "machine": platform.machine(), "processor": platform.processor() or None,
            "cpu_count": os.cpu_count(), "python": platform.python_version()}
    try:
        import numpy as np
        info["numpy"] = np.__version__
    except ImportError:  # pragma: no cover
        pass
    for p in ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model"):
        try:
            with open(p, "rb") as f:
                info["model"] = f.read().decode("utf-8", "replace").strip("\x00 \n")
            break
        except OSError:
            continue
    return info


def profiled_artifacts(manifest: Manifest) -> list[str]:
    """``policy`` then every backbone a resolution action runs (largest first)."""
    ids = ["policy"]
    for act in manifest.actions:
        if act.kind == "resolution" and act.backbone and act.backbone not in ids:
            ids.append(act.backbone)
    return ids


def derive_action_costs(manifest: Manifest, ms: dict[str, float]) -> tuple[list[float], list[float]]:
    """(ms_per_decision, ms_per_action) from the ms of each network (see module doc)."""
    policy = float(ms["policy"])
    per_decision, per_action = [], []
    for act in manifest.actions:
        if act.kind == "resolution":
            d = policy if act.backbone in (None, "policy") else policy + float(ms[act.backbone])
            per_decision.append(d)
            per_action.append(d)
        else:
            per_decision.append(policy)
            per_action.append(policy / act.frames)
    return per_decision, per_action


def _random_inputs(manifest: Manifest, art: Any, rng: Any, n: int) -> list[dict]:
    """``n`` input dicts by role, as the device produces them: frame = uint8 (1, s, s, 3),
    h/c = float32 (1, hidden)."""
    import numpy as np
    s, hid = int(art.resolution), manifest.hidden
    out = []
    for _ in range(n):
        d = {"frame": rng.integers(0, 256, size=(1, s, s, 3), dtype=np.uint8)}
        if art.role == "policy":
            d["h"] = (rng.standard_normal((1, hid)) * 0.1).astype(np.float32)
            d["c"] = (rng.standard_normal((1, hid)) * 0.1).astype(np.float32)
        out.append(d)
    return out


def _default_factory(name: str, path: Any, artifact: Any, options: Any) -> Any:
    from .backends import create_backend
    return create_backend(name, path, artifact, options)


def _make_options(threads: int | None, manifest: Manifest) -> Any:
    try:
        from .backends import BackendOptions
    except ImportError:  # pragma: no cover - backends not installed
        return {"threads": threads, "normalization": manifest.normalization}
    return BackendOptions(threads=threads, normalization=manifest.normalization)


# ---------------------------------------------------------------------------- measuring
def measure(run: Callable[[dict], Any], inputs: Sequence[dict], warmup: int, repeats: int,
            clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """``warmup`` untimed calls then ``repeats`` timed ones (ms), cycling through ``inputs``."""
    k = 0
    for _ in range(warmup):
        run(inputs[k % len(inputs)])
        k += 1
    times = []
    for _ in range(repeats):
        x = inputs[k % len(inputs)]
        k += 1
        t0 = clock()
        run(x)
        times.append((clock() - t0) * 1000.0)
    return times


def profile_model(manifest: Manifest, backend: str, precision: str, threads: int | None = None,
                  repeats: int = 20, warmup: int = 3, seed: int = 0,
                  backend_factory: BackendFactory | None = None,
                  clock: Callable[[], float] = time.perf_counter, verify: bool = True,
                  log: Callable[[str], None] | None = None) -> dict:
    """Measure every network of (backend, precision) and return one profile entry."""
    import numpy as np
    from .telemetry.costs import action_name, artifact_gmacs
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats}, {warmup}")
    factory = backend_factory or _default_factory
    options = _make_options(threads, manifest)
    rng = np.random.default_rng(seed)
    ms: dict[str, float] = {}
    stats: dict[str, dict] = {}
    shas: dict[str, str] = {}
    for aid in profiled_artifacts(manifest):
        art = manifest.find(aid, backend, precision)
        path = manifest.verify(art) if verify else manifest.artifact_path(art)
        be = factory(backend, path, art, options)
        if log and getattr(be, "warning", None):
            log(f"  {aid}: warning: {be.warning}")
        try:
            times = measure(be.run, _random_inputs(manifest, art, rng, min(repeats, 4)),
                            warmup, repeats, clock)
        finally:
            close = getattr(be, "close", None)
            if callable(close):
                close()
        ms[aid] = _median(times)
        stats[aid] = _stats(times)
        shas[aid] = art.sha256
        if log:
            log(f"  {aid:<14} {art.resolution:>4}px  median {ms[aid]:8.2f} ms  "
                f"(min {stats[aid]['min']:.2f}, p90 {stats[aid]['p90']:.2f}, n={len(times)})")
    per_decision, per_action = derive_action_costs(manifest, ms)
    gm = {k: v for k, v in artifact_gmacs(manifest).items() if k in ms}
    return {
        "backend": backend, "precision": precision, "threads": threads,
        "repeats": repeats, "warmup": warmup,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "device": {**device_info(), "backend": backend, "precision": precision,
                   "threads": threads},
        "actions": [action_name(manifest, a) for a in range(len(manifest.actions))],
        "ms": ms, "ms_stats": stats,
        "ms_per_decision": per_decision, "ms_per_action": per_action,
        "gmacs": gm,
        "ms_per_gmac": {k: ms[k] / g for k, g in gm.items() if g > 0},
        "artifacts_sha256": shas,
    }


# ---------------------------------------------------------------------------- file I/O
def _read_profile_file(path: Path) -> dict:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProfileError(f"{path}: not valid JSON ({e}); delete it or re-run "
                           f"`python -m edge_runtime.profile`") from None
    if not isinstance(d, dict):
        raise ProfileError(f"{path}: expected a JSON object at the top level")
    if d.get("schema") != PROFILE_SCHEMA:
        raise ProfileError(f"{path}.schema: unsupported profile schema {d.get('schema')!r}; "
                           f"this runtime reads {PROFILE_SCHEMA}")
    entries = d.get("entries")
    if not isinstance(entries, list):
        raise ProfileError(f"{path}.entries: expected a list")
    for i, e in enumerate(entries):
        w = f"{path}.entries[{i}]"
        if not isinstance(e, dict):
            raise ProfileError(f"{w}: expected an object")
        for key in ("backend", "precision"):
            if not isinstance(e.get(key), str):
                raise ProfileError(f"{w}.{key}: missing or not a string")
        for key in ("ms_per_decision", "ms_per_action"):
            v = e.get(key)
            if not isinstance(v, list) or not v or not all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in v):
                raise ProfileError(f"{w}.{key}: expected a non-empty list of numbers >= 0")
    return d


def write_profile(model_dir: str | os.PathLike, manifest: Manifest, entry: dict) -> Path:
    """Merge ``entry`` into ``<model_dir>/profile.json`` (replacing the same backend/precision)
    and write it atomically."""
    path = Path(model_dir) / PROFILE_NAME
    entries: list[dict] = []
    if path.is_file():
        try:
            old = _read_profile_file(path)
            if old.get("model") == manifest.name:
                entries = [e for e in old["entries"]
                           if (e["backend"], e["precision"]) != (entry["backend"], entry["precision"])]
        except ProfileError:
            entries = []  # a broken file is replaced
    entries.append(entry)
    doc = {"schema": PROFILE_SCHEMA, "model": manifest.name, "entries": entries}
    atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
    return path


def load_profile(model_dir: str | os.PathLike, backend: str | None = None,
                 precision: str | None = None, manifest: Manifest | None = None) -> dict | None:
    """The profile entry for (backend, precision) from ``<model_dir>/profile.json``.

    ``model_dir`` may also be the profile file itself. None when there is no file or no
    matching entry (several matches: the newest). With ``manifest``, an entry measured for
    another model, another action list or other artifact files (re-exported since) is stale:
    a warning, and None. A malformed file raises ``ProfileError``."""
    p = Path(model_dir)
    if p.is_dir() or p.name == MANIFEST_NAME:
        p = (p if p.is_dir() else p.parent) / PROFILE_NAME
    if not p.is_file():
        return None
    doc = _read_profile_file(p)
    cands = [e for e in doc["entries"]
             if (backend is None or e["backend"] == backend)
             and (precision is None or e["precision"] == precision)]
    if not cands:
        return None
    entry = max(cands, key=lambda e: str(e.get("created", "")))
    if manifest is not None:
        from .telemetry.costs import action_name
        names = [action_name(manifest, a) for a in range(len(manifest.actions))]
        why = None
        if doc.get("model") != manifest.name:
            why = f"it was measured for model {doc.get('model')!r}, not {manifest.name!r}"
        elif entry.get("actions", names) != names or len(entry["ms_per_decision"]) != len(names):
            why = f"its actions {entry.get('actions')} differ from the manifest's {names}"
        else:
            for aid, sha in (entry.get("artifacts_sha256") or {}).items():
                try:
                    cur = manifest.find(aid, entry["backend"], entry["precision"]).sha256
                except ManifestError:
                    cur = None
                if cur != sha:
                    why = f"artifact {aid!r} changed since it was measured (re-exported)"
                    break
        if why:
            warnings.warn(f"{p}: ignoring the {entry['backend']}/{entry['precision']} profile: "
                          f"{why}; re-run `python -m edge_runtime.profile --model {p.parent}`",
                          stacklevel=2)
            return None
    return entry


# ---------------------------------------------------------------------------- CLI
def _pick(choices: list[str], preferred: str, what: str, where: str) -> str:
    if not choices:
        raise ManifestError(f"{where}: the manifest lists no artifacts ({what})")
    return preferred if preferred in choices else choices[0]


def format_entry(entry: dict) -> str:
    lines = [f"backend {entry['backend']}  precision {entry['precision']}  "
             f"threads {entry['threads'] if entry['threads'] is not None else 'default'}  "
             f"repeats {entry['repeats']}"]
    lines.append(f"{'network':<14} {'ms':>9} {'GMACs':>8} {'ms/GMAC':>9}")
    for aid, v in entry["ms"].items():
        g = entry["gmacs"].get(aid)
        mpg = entry["ms_per_gmac"].get(aid)
        lines.append(f"{aid:<14} {v:9.2f} {g if g is not None else float('nan'):8.3f} "
                     f"{mpg if mpg is not None else float('nan'):9.2f}")
    lines.append(f"{'action':<14} {'ms/decision':>11} {'ms/frame':>9}")
    for name, d, a in zip(entry["actions"], entry["ms_per_decision"], entry["ms_per_action"]):
        lines.append(f"{name:<14} {d:11.2f} {a:9.2f}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m edge_runtime.profile",
        description="Measure the ms of the policy step and of each backbone on this device and "
                    "write profile.json beside the manifest (used by the budget controller).")
    ap.add_argument("--model", required=True, help="artifacts/<name> (folder with manifest.json)")
    ap.add_argument("--backend", default=None,
                    help="which artifacts/engine (default: litert when the manifest has it)")
    ap.add_argument("--precision", default=None, help="fp32 | fp16 | int8 (default: fp32 if present)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: engine's)")
    ap.add_argument("--repeats", type=int, default=20, help="timed runs per network (median)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-verify", action="store_true", help="skip the sha256 check of artifacts")
    ap.add_argument("--dry-run", action="store_true", help="measure and print, write nothing")
    ap.add_argument("--json", action="store_true", help="print the entry as JSON")
    return ap


def main(argv: Sequence[str] | None = None, backend_factory: BackendFactory | None = None,
         clock: Callable[[], float] = time.perf_counter) -> int:
    args = build_parser().parse_args(argv)
    try:
        from .backends import BackendError
    except ImportError:  # pragma: no cover - a runtime without the backends package
        BackendError = RuntimeError  # noqa: N806
    if args.repeats < 1 or args.warmup < 0 or (args.threads is not None and args.threads < 1):
        print("error: need --repeats >= 1, --warmup >= 0, --threads >= 1", file=sys.stderr)
        return 2
    try:
        m = load_manifest(args.model)
        where = str(m.root / MANIFEST_NAME)
        backend = args.backend or _pick(m.backends(), "litert", "backend", where)
        if backend not in m.backends():
            raise ManifestError(f"{where}: no artifacts for backend {backend!r}; "
                                f"available: {m.backends()}")
        precision = args.precision or _pick(m.precisions(backend), "fp32", "precision", where)
        print(f"profiling {m.name} ({backend}/{precision}) on {platform.machine()} "
              f"with {os.cpu_count()} CPUs", file=sys.stderr)
        entry = profile_model(m, backend, precision, threads=args.threads, repeats=args.repeats,
                              warmup=args.warmup, seed=args.seed, backend_factory=backend_factory,
                              clock=clock, verify=not args.no_verify,
                              log=lambda s: print(s, file=sys.stderr))
    except (ManifestError, ProfileError, BackendError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(entry, indent=2) if args.json else format_entry(entry))
    if not args.dry_run:
        path = write_profile(m.root, m, entry)
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
