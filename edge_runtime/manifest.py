"""The manifest: the one contract between export (``convert/``) and devices.

``artifacts/<model>/manifest.json`` is written by ``convert/export_all.py`` and read by
``edge_runtime`` and by the Android core (``android_demo/core``). This module owns the
schema: dataclasses, validation with errors that name the field, atomic writing and sha256
checks. It is deliberately free of torch and numpy so it loads on any device.

Schema 1 (see docs/MANIFEST.md for the prose version)::

    {
      "schema": 1,
      "name": "arnet_lite_synthact",
      "labels": ["wave", ...],
      "multi_label": false,
      "resolutions": [224, 168, 112, 84],          # s_0 > ... > s_{L-1}
      "skip_lengths": [1, 2, 4],                   # F_0 < ... < F_{M-1}
      "actions": [{"kind": "resolution", "size": 224, "backbone": "backbone_224"}, ...,
                  {"kind": "resolution", "size": 84, "backbone": "policy"},
                  {"kind": "skip", "frames": 1}, ...],
      "normalization": {"mean": [..3], "std": [..3], "folded": true,
                        "color": "RGB", "resize": "pyramid"},   # or "area"; absent = "area"
      "policy": {"resolution": 84, "hidden": 512, "state": ["h", "c"]},
      "costs": {"unit": "GMACs (multiply-accumulates)", "policy_step": 0.2,
                "actions": [1.1, 0.6, 0.3, 0.0, 0.0, 0.0, 0.0],
                "uniform_per_frame": 1.1, "measured_with": "torch.utils.flop_counter"},
      "sampling": {"frames_per_clip": 16, "seconds_per_step": 0.25,
                   # optional, recorded from training (train/data/sampling.py), not required:
                   "rule": "segments", "pad": "repeat_in_order", "seconds_per_step_from": "...",
                   "videos_probed": 32, "fps": {"median": 25.0, "min": .., "max": ..},
                   "duration_s": {"median": 7.1, "min": .., "max": ..}},
      "artifacts": [{"id": "policy", "role": "policy", "resolution": 84,
                     "format": "tflite", "backend": "litert", "precision": "fp32",
                     "file": "policy_fp32.tflite", "sha256": "...", "bytes": 123,
                     "signature": "serving_default",
                     "inputs": [{"name": "frame", "role": "frame", "shape": [1, 84, 84, 3],
                                 "dtype": "uint8", "layout": "NHWC"}, ...],
                     "outputs": [{"name": "Identity", "role": "action_logits", ...}, ...],
                     # optional: this file's checks at export (absent = not validated: usable)
                     "validation": {"status": "failed",     # passed | failed
                                    "missed": ["max_rel_logit_err = 0.02 (target <= 0.0001)"]}}],
      "validation": {...},      # numbers measured at export; free-form, but for
                                # "pipelines": {"<backend>/<precision>": {"ms_per_frame": .., "passed": bool}}
      "training": {...}         # free-form provenance
    }

Roles of tensors: inputs ``frame``, ``h``, ``c``; outputs ``action_logits``, ``class_logits``,
``h``, ``c``. A ``policy`` artifact takes (frame at the lowest resolution, h, c) and returns
(action_logits, class_logits of the lowest branch, h, c). A ``backbone`` artifact takes a frame
and returns class_logits. Optional per-tensor ``quant`` = {"scale": s, "zero_point": z} for
integer tensors (real = scale * (q - zero_point)).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_runtime.preprocess import RESIZE_METHODS

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"

FORMATS = ("tflite", "onnx", "pte", "pt2")  # pt2 = torch.export program (torch/CUDA backend)
BACKENDS = ("litert", "onnxruntime", "executorch", "torch")
PRECISIONS = ("fp32", "fp16", "int8")
ROLES = ("policy", "backbone")
LAYOUTS = ("NHWC", "NCHW", "NC", "N")
DTYPES = ("uint8", "int8", "float32", "float16", "int32", "int64")
INPUT_ROLES = ("frame", "h", "c")
OUTPUT_ROLES = ("action_logits", "class_logits", "h", "c")
VALIDATION_STATUSES = ("passed", "failed")


class ManifestError(ValueError):
    """A manifest (or an artifact it names) is not what the schema expects.

    The message always starts with the file and the dotted field path."""


def _fail(where: str, msg: str) -> None:
    raise ManifestError(f"{where}: {msg}")


def _req(d: dict, key: str, where: str, types: type | tuple[type, ...]) -> Any:
    if not isinstance(d, dict):
        _fail(where, f"expected an object, got {type(d).__name__}")
    if key not in d:
        _fail(f"{where}.{key}", "missing (required field)")
    v = d[key]
    if isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        _fail(f"{where}.{key}", f"expected {_tname(types)}, got a boolean")
    if not isinstance(v, types):
        _fail(f"{where}.{key}", f"expected {_tname(types)}, got {type(v).__name__} {v!r}"[:300])
    return v


def _tname(types: type | tuple[type, ...]) -> str:
    if isinstance(types, tuple):
        return " or ".join(t.__name__ for t in types)
    return types.__name__


def _choice(v: Any, choices: tuple[str, ...], where: str) -> str:
    if v not in choices:
        _fail(where, f"{v!r} is not one of {list(choices)}")
    return v


@dataclass
class TensorSpec:
    name: str
    role: str
    shape: list[int]
    dtype: str
    layout: str
    quant: dict | None = None  # {"scale": float, "zero_point": int}

    @staticmethod
    def from_dict(d: dict, where: str, roles: tuple[str, ...]) -> "TensorSpec":
        name = _req(d, "name", where, str)
        role = _choice(_req(d, "role", where, str), roles, f"{where}.role")
        shape = _req(d, "shape", where, list)
        if not shape or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
            _fail(f"{where}.shape", f"expected a list of positive integers, got {shape!r}")
        dtype = _choice(_req(d, "dtype", where, str), DTYPES, f"{where}.dtype")
        layout = _choice(_req(d, "layout", where, str), LAYOUTS, f"{where}.layout")
        quant = d.get("quant")
        if quant is not None:
            if not isinstance(quant, dict) or not isinstance(quant.get("scale"), (int, float)) \
                    or not isinstance(quant.get("zero_point"), int):
                _fail(f"{where}.quant", f"expected {{'scale': float, 'zero_point': int}}, got {quant!r}")
        if role == "frame":
            if layout not in ("NHWC", "NCHW") or len(shape) != 4:
                _fail(where, f"a frame tensor needs a 4-D NHWC or NCHW shape, got {layout} {shape}")
        return TensorSpec(name, role, list(shape), dtype, layout, quant)


@dataclass
class ArtifactValidation:
    """An artifact's own result at export: ``passed`` or ``failed`` (still written, marked), and
    the checks it missed as ``"<check> = <value> (target <target>)"`` lines."""
    status: str                      # passed | failed
    missed: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @staticmethod
    def from_dict(d: Any, where: str) -> "ArtifactValidation":
        if not isinstance(d, dict):
            _fail(where, f"expected an object {{'status': 'passed' | 'failed', 'missed': [str, ...]}}, "
                         f"got {type(d).__name__} {d!r}"[:300])
        status = _choice(_req(d, "status", where, str), VALIDATION_STATUSES, f"{where}.status")
        missed = d.get("missed", [])
        if not isinstance(missed, list) or not all(isinstance(x, str) for x in missed):
            _fail(f"{where}.missed", f"expected a list of strings, got {missed!r}"[:300])
        return ArtifactValidation(status, list(missed))

    def to_dict(self) -> dict:
        return {"status": self.status, "missed": list(self.missed)}


@dataclass
class Artifact:
    id: str              # "policy" or "backbone_<size>"
    role: str            # policy | backbone
    resolution: int
    format: str          # tflite | onnx | pte
    backend: str         # litert | onnxruntime | executorch | torch
    precision: str       # fp32 | fp16 | int8
    file: str            # relative to the manifest's folder
    sha256: str
    bytes: int
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    signature: str | None = None
    extra: dict = field(default_factory=dict)
    validation: ArtifactValidation | None = None   # None: not validated at export (usable)

    def __post_init__(self) -> None:
        if isinstance(self.validation, dict):   # the exporter may give the JSON form
            self.validation = ArtifactValidation.from_dict(self.validation, f"artifact {self.id!r}.validation")

    @property
    def failed(self) -> bool:
        """Whether this file missed its targets at export (an unvalidated one has not)."""
        return self.validation is not None and self.validation.failed

    @staticmethod
    def from_dict(d: dict, where: str) -> "Artifact":
        ins = [TensorSpec.from_dict(t, f"{where}.inputs[{i}]", INPUT_ROLES)
               for i, t in enumerate(_req(d, "inputs", where, list))]
        outs = [TensorSpec.from_dict(t, f"{where}.outputs[{i}]", OUTPUT_ROLES)
                for i, t in enumerate(_req(d, "outputs", where, list))]
        role = _choice(_req(d, "role", where, str), ROLES, f"{where}.role")
        need_in = {"frame", "h", "c"} if role == "policy" else {"frame"}
        need_out = {"action_logits", "class_logits", "h", "c"} if role == "policy" else {"class_logits"}
        have_in, have_out = {t.role for t in ins}, {t.role for t in outs}
        if have_in != need_in:
            _fail(f"{where}.inputs", f"a {role} artifact needs input roles {sorted(need_in)}, got {sorted(have_in)}")
        if have_out != need_out:
            _fail(f"{where}.outputs", f"a {role} artifact needs output roles {sorted(need_out)}, got {sorted(have_out)}")
        sha = _req(d, "sha256", where, str)
        if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha):
            _fail(f"{where}.sha256", f"expected 64 lowercase hex digits, got {sha!r}")
        return Artifact(
            id=_req(d, "id", where, str), role=role,
            resolution=_req(d, "resolution", where, int),
            format=_choice(_req(d, "format", where, str), FORMATS, f"{where}.format"),
            backend=_choice(_req(d, "backend", where, str), BACKENDS, f"{where}.backend"),
            precision=_choice(_req(d, "precision", where, str), PRECISIONS, f"{where}.precision"),
            file=_req(d, "file", where, str), sha256=sha, bytes=_req(d, "bytes", where, int),
            inputs=ins, outputs=outs, signature=d.get("signature"), extra=d.get("extra", {}) or {},
            validation=(None if d.get("validation") is None
                        else ArtifactValidation.from_dict(d["validation"], f"{where}.validation")))

    def input(self, role: str) -> TensorSpec:
        return next(t for t in self.inputs if t.role == role)

    def output(self, role: str) -> TensorSpec:
        return next(t for t in self.outputs if t.role == role)


@dataclass
class Action:
    kind: str                 # "resolution" | "skip"
    size: int | None = None   # resolution actions
    backbone: str | None = None  # artifact id, "policy" for the lowest resolution
    frames: int | None = None    # skip actions: skip this frame and frames-1 more

    def to_dict(self) -> dict:
        if self.kind == "resolution":
            return {"kind": "resolution", "size": self.size, "backbone": self.backbone}
        return {"kind": "skip", "frames": self.frames}


@dataclass
class Manifest:
    name: str
    labels: list[str]
    resolutions: list[int]
    skip_lengths: list[int]
    actions: list[Action]
    normalization: dict
    policy: dict
    costs: dict
    sampling: dict
    artifacts: list[Artifact]
    multi_label: bool = False
    validation: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    schema: int = SCHEMA_VERSION
    root: Path | None = None  # folder the manifest was loaded from (not serialised)

    # ------------------------------------------------------------------ queries
    @property
    def num_resolutions(self) -> int:
        return len(self.resolutions)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def hidden(self) -> int:
        return int(self.policy["hidden"])

    @property
    def policy_resolution(self) -> int:
        return int(self.policy["resolution"])

    @property
    def resize(self) -> str:
        """The frame resize rule (``preprocess.RESIZE_METHODS``); manifests without one: area."""
        return str(self.normalization.get("resize", "area"))

    def action_cost(self, a: int) -> float:
        """GMACs spent by a step that takes action ``a`` (policy step included for
        a decision step; the skipped frames that follow cost 0)."""
        return float(self.costs["policy_step"]) + float(self.costs["actions"][a])

    @property
    def uniform_cost(self) -> float:
        return float(self.costs["uniform_per_frame"])

    def backends(self) -> list[str]:
        return sorted({a.backend for a in self.artifacts})

    def precisions(self, backend: str) -> list[str]:
        return sorted({a.precision for a in self.artifacts if a.backend == backend})

    def find(self, artifact_id: str, backend: str, precision: str) -> Artifact:
        for a in self.artifacts:
            if a.id == artifact_id and a.backend == backend and a.precision == precision:
                return a
        have = sorted({(a.backend, a.precision) for a in self.artifacts if a.id == artifact_id})
        raise ManifestError(
            f"{self._where()}: no artifact {artifact_id!r} for backend={backend!r} "
            f"precision={precision!r}; available (backend, precision): {have}")

    def failed_artifacts(self, backend: str, precision: str) -> list[Artifact]:
        """The artifacts of (backend, precision) marked ``validation.status == "failed"`` at export."""
        return [a for a in self.artifacts if a.backend == backend and a.precision == precision and a.failed]

    def pipeline_validation(self, backend: str, precision: str) -> dict:
        """``validation.pipelines["<backend>/<precision>"]`` (``ms_per_frame``, ``top1``, ``passed``,
        ...), or {} when the export did not record it."""
        pipes = self.validation.get("pipelines") if isinstance(self.validation, dict) else None
        p = pipes.get(f"{backend}/{precision}") if isinstance(pipes, dict) else None
        return p if isinstance(p, dict) else {}

    def artifact_path(self, art: Artifact) -> Path:
        return (self.root or Path(".")) / art.file

    def verify(self, art: Artifact) -> Path:
        """Check that an artifact's file exists and matches its sha256; return its path."""
        p = self.artifact_path(art)
        if not p.is_file():
            raise ManifestError(f"{p}: artifact {art.id!r} ({art.backend}/{art.precision}) named in "
                                f"{self._where()} is missing; re-run `python convert/export_all.py`")
        got = sha256_file(p)
        if got != art.sha256:
            raise ManifestError(f"{p}: sha256 mismatch for artifact {art.id!r}: manifest says "
                                f"{art.sha256[:16]}..., file has {got[:16]}... (corrupt or replaced; "
                                f"re-export)")
        return p

    def _where(self) -> str:
        return str((self.root / MANIFEST_NAME) if self.root else MANIFEST_NAME)

    # ------------------------------------------------------------- (de)serialise
    def to_dict(self) -> dict:
        d = {
            "schema": self.schema, "name": self.name, "labels": list(self.labels),
            "multi_label": self.multi_label, "resolutions": list(self.resolutions),
            "skip_lengths": list(self.skip_lengths), "actions": [a.to_dict() for a in self.actions],
            "normalization": self.normalization, "policy": self.policy, "costs": self.costs,
            "sampling": self.sampling, "artifacts": [],
            "validation": self.validation, "training": self.training,
        }
        for a in self.artifacts:
            ad = asdict(a)
            for k in ("inputs", "outputs"):
                ad[k] = [{kk: vv for kk, vv in t.items() if vv is not None} for t in ad[k]]
            if ad.get("signature") is None:
                ad.pop("signature")
            if not ad.get("extra"):
                ad.pop("extra", None)
            if ad.get("validation") is None:
                ad.pop("validation", None)
            d["artifacts"].append(ad)
        return d

    @staticmethod
    def from_dict(d: Any, where: str = MANIFEST_NAME) -> "Manifest":
        if not isinstance(d, dict):
            _fail(where, f"expected a JSON object at the top level, got {type(d).__name__}")
        schema = _req(d, "schema", where, int)
        if schema != SCHEMA_VERSION:
            _fail(f"{where}.schema", f"unsupported schema version {schema}; this runtime reads "
                                     f"schema {SCHEMA_VERSION}")
        labels = _req(d, "labels", where, list)
        if not labels or not all(isinstance(x, str) for x in labels):
            _fail(f"{where}.labels", "expected a non-empty list of strings")
        res = _req(d, "resolutions", where, list)
        if not res or not all(isinstance(r, int) and r > 0 for r in res):
            _fail(f"{where}.resolutions", f"expected positive integers, got {res!r}")
        if any(a <= b for a, b in zip(res, res[1:])):
            _fail(f"{where}.resolutions", f"must be strictly decreasing (s_0 > ... > s_L-1), got {res}")
        skips = _req(d, "skip_lengths", where, list)
        if not all(isinstance(f, int) and f > 0 for f in skips) or any(a >= b for a, b in zip(skips, skips[1:])):
            _fail(f"{where}.skip_lengths", f"expected strictly increasing positive integers, got {skips!r}")
        acts_raw = _req(d, "actions", where, list)
        if len(acts_raw) != len(res) + len(skips):
            _fail(f"{where}.actions", f"expected {len(res)} resolution + {len(skips)} skip actions "
                                      f"= {len(res) + len(skips)}, got {len(acts_raw)}")
        actions = []
        for i, a in enumerate(acts_raw):
            w = f"{where}.actions[{i}]"
            kind = _choice(_req(a, "kind", w, str), ("resolution", "skip"), f"{w}.kind")
            if i < len(res):
                if kind != "resolution" or _req(a, "size", w, int) != res[i]:
                    _fail(w, f"expected {{'kind': 'resolution', 'size': {res[i]}}}, got {a!r}")
                actions.append(Action("resolution", size=res[i], backbone=_req(a, "backbone", w, str)))
            else:
                f = skips[i - len(res)]
                if kind != "skip" or _req(a, "frames", w, int) != f:
                    _fail(w, f"expected {{'kind': 'skip', 'frames': {f}}}, got {a!r}")
                actions.append(Action("skip", frames=f))
        norm = _req(d, "normalization", where, dict)
        for k in ("mean", "std"):
            v = _req(norm, k, f"{where}.normalization", list)
            if len(v) != 3 or not all(isinstance(x, (int, float)) for x in v):
                _fail(f"{where}.normalization.{k}", f"expected 3 numbers, got {v!r}")
        _req(norm, "folded", f"{where}.normalization", bool)
        rz = norm.get("resize", "area")
        if rz not in RESIZE_METHODS:
            _fail(f"{where}.normalization.resize", f"expected one of {list(RESIZE_METHODS)}, got {rz!r}")
        pol = _req(d, "policy", where, dict)
        if _req(pol, "resolution", f"{where}.policy", int) != res[-1]:
            _fail(f"{where}.policy.resolution", f"must equal the lowest resolution {res[-1]}, got {pol['resolution']}")
        _req(pol, "hidden", f"{where}.policy", int)
        costs = _req(d, "costs", where, dict)
        _req(costs, "policy_step", f"{where}.costs", (int, float))
        ca = _req(costs, "actions", f"{where}.costs", list)
        if len(ca) != len(actions) or not all(isinstance(x, (int, float)) and x >= 0 for x in ca):
            _fail(f"{where}.costs.actions", f"expected {len(actions)} non-negative GMACs (one per action), got {ca!r}")
        _req(costs, "uniform_per_frame", f"{where}.costs", (int, float))
        samp = _req(d, "sampling", where, dict)
        _req(samp, "frames_per_clip", f"{where}.sampling", int)
        sps = _req(samp, "seconds_per_step", f"{where}.sampling", (int, float))
        if sps <= 0:
            _fail(f"{where}.sampling.seconds_per_step", f"must be > 0, got {sps}")
        arts = [Artifact.from_dict(a, f"{where}.artifacts[{i}]")
                for i, a in enumerate(_req(d, "artifacts", where, list))]
        validation = d.get("validation", {}) or {}
        if not isinstance(validation, dict):
            _fail(f"{where}.validation", f"expected an object, got {type(validation).__name__}")
        pipes = validation.get("pipelines", {}) or {}
        if not isinstance(pipes, dict):
            _fail(f"{where}.validation.pipelines", f"expected an object, got {type(pipes).__name__}")
        for key, p in pipes.items():
            if isinstance(p, dict) and p.get("passed") is not None and not isinstance(p["passed"], bool):
                _fail(f"{where}.validation.pipelines[{key!r}].passed",
                      f"expected a boolean, got {p['passed']!r}"[:300])
        valid_ids = {"policy"} | {a.backbone for a in actions if a.kind == "resolution"}
        for i, a in enumerate(arts):
            if a.id not in valid_ids:
                _fail(f"{where}.artifacts[{i}].id", f"{a.id!r} is not one of {sorted(valid_ids)}")
        return Manifest(
            name=_req(d, "name", where, str), labels=list(labels), resolutions=list(res),
            skip_lengths=list(skips), actions=actions, normalization=norm, policy=pol, costs=costs,
            sampling=samp, artifacts=arts, multi_label=bool(d.get("multi_label", False)),
            validation=validation, training=d.get("training", {}) or {},
            schema=schema)

    def save(self, folder: str | os.PathLike) -> Path:
        folder = Path(folder)
        path = folder / MANIFEST_NAME
        Manifest.from_dict(self.to_dict(), str(path))  # never write what we could not read
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        return path


def load_manifest(path: str | os.PathLike, verify: bool = False) -> Manifest:
    """Load and validate ``path`` (a manifest.json or the folder holding one).

    With ``verify=True`` every artifact file is checked against its sha256."""
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST_NAME
    if not p.is_file():
        raise ManifestError(f"{p}: no manifest here; export one with `python convert/export_all.py` "
                            f"(or `make demo`)")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(f"{p}: not valid JSON ({e})") from None
    m = Manifest.from_dict(raw, str(p))
    m.root = p.parent
    if verify:
        for a in m.artifacts:
            m.verify(a)
    return m


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; artifacts are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
