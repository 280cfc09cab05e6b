"""A deterministic numpy stand-in for the exported networks (backend name ``fake``).

It runs any manifest without artifact files: the policy pools the frame to 4x4x3, mixes it into a
recurrent state and projects to action and class logits; a backbone projects its pooled frame to
class logits. The weights come from a seeded generator (``seed`` + the artifact id), so two runs
give identical outputs. Used by the tests (soak, golden traces, CLI paths) and for trying the
pipeline and sources on a device before a model is exported.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from edge_runtime.backends import BackendOptions
from edge_runtime.backends.base import AdaptedModel, EngineTensor
from edge_runtime.manifest import Artifact, TensorSpec

_POOL = 4
_FEATS = _POOL * _POOL * 3


def fake_artifact(manifest: Any, artifact_id: str) -> Artifact:
    """An in-memory Artifact (no file) with the tensors the runtime expects for ``artifact_id``."""
    L = manifest.num_resolutions
    if artifact_id == "policy":
        s, role = manifest.resolutions[-1], "policy"
    else:
        sizes = [a.size for a in manifest.actions[:L] if a.backbone == artifact_id]
        if not sizes:
            raise KeyError(f"no action uses backbone {artifact_id!r}")
        s, role = sizes[0], "backbone"
    H, C, A = manifest.hidden, manifest.num_classes, len(manifest.actions)
    ins = [TensorSpec("frame", "frame", [1, s, s, 3], "uint8", "NHWC")]
    outs = [TensorSpec("class_logits", "class_logits", [1, C], "float32", "NC")]
    if role == "policy":
        ins += [TensorSpec("h", "h", [1, H], "float32", "NC"), TensorSpec("c", "c", [1, H], "float32", "NC")]
        outs = [TensorSpec("action_logits", "action_logits", [1, A], "float32", "NC")] + outs + \
               [TensorSpec("h", "h", [1, H], "float32", "NC"), TensorSpec("c", "c", [1, H], "float32", "NC")]
    return Artifact(id=artifact_id, role=role, resolution=s, format="tflite", backend="litert",
                    precision="fp32", file="", sha256="0" * 64, bytes=0, inputs=ins, outputs=outs,
                    extra={"fake": True})


class FakeBackend(AdaptedModel):
    name = "fake"

    def __init__(self, seed: int = 0, action_bias: Any = None) -> None:
        self.seed = int(seed)
        self.action_bias = None if action_bias is None else np.asarray(action_bias, np.float32)
        self.calls = 0

    @classmethod
    def for_manifest(cls, manifest: Any, artifact_id: str, seed: int = 0, action_bias: Any = None,
                     options: BackendOptions | None = None) -> "FakeBackend":
        b = cls(seed, action_bias)
        b.load(None, fake_artifact(manifest, artifact_id), options or BackendOptions())
        return b

    def load(self, path: Any, artifact: Artifact, options: BackendOptions | None = None) -> None:
        self._artifact_id = artifact.id
        self._inputs = [EngineTensor(t.name, t.role, tuple(t.shape), np.dtype(np.uint8 if t.role == "frame"
                                     else np.float32), t.layout) for t in artifact.inputs]
        self._outputs = [EngineTensor(t.name, t.role, tuple(t.shape), np.dtype(np.float32), t.layout)
                         for t in artifact.outputs]
        self._build_adapters({"folded": True})
        rng = np.random.default_rng([self.seed, zlib.crc32(artifact.id.encode())])
        self.role = artifact.role
        C = artifact.output("class_logits").shape[-1]
        if artifact.role == "policy":
            H = artifact.input("h").shape[-1]
            A = artifact.output("action_logits").shape[-1]
            self.wx = (rng.standard_normal((H, _FEATS)) * 1.5).astype(np.float32)
            self.wd = rng.uniform(0.3, 0.9, H).astype(np.float32)
            self.wa = (rng.standard_normal((A, H)) * (2.5 / np.sqrt(H))).astype(np.float32)
            self.wc = (rng.standard_normal((C, H)) * (3.0 / np.sqrt(H))).astype(np.float32)
            if self.action_bias is not None and self.action_bias.shape != (A,):
                raise ValueError(f"action_bias must have {A} entries")
        else:
            self.wb = (rng.standard_normal((C, _FEATS)) * 1.5).astype(np.float32)

    @staticmethod
    def _features(frame: np.ndarray) -> np.ndarray:
        x = frame[0]
        s = x.shape[0]
        k = s // _POOL
        if k == 0:
            raise ValueError(f"fake backend needs frames of at least {_POOL}x{_POOL}")
        x = x[:k * _POOL, :k * _POOL].reshape(_POOL, k, _POOL, k, 3).mean(axis=(1, 3), dtype=np.float32)
        return (x.reshape(-1) / np.float32(255.0) - np.float32(0.5))

    def run(self, inputs: dict) -> dict:
        self.calls += 1
        feed = self._adapt_inputs(inputs)
        f = self._features(feed[self._inputs[0].name])
        if self.role == "policy":
            h = feed["h"].reshape(-1)
            c = feed["c"].reshape(-1)
            h2 = np.tanh(self.wx @ f + self.wd * h).astype(np.float32)
            c2 = (np.float32(0.9) * c + np.float32(0.1) * h2).astype(np.float32)
            a = (self.wa @ h2).astype(np.float32)
            if self.action_bias is not None:
                a = a + self.action_bias
            return {"action_logits": a[None], "class_logits": (self.wc @ h2).astype(np.float32)[None],
                    "h": h2[None], "c": c2[None]}
        return {"class_logits": (self.wb @ f).astype(np.float32)[None]}


def fake_manifest(num_classes: int = 5, resolutions: tuple = (64, 48, 32, 24), skip_lengths: tuple = (1, 2, 4),
                  hidden: int = 32, frames_per_clip: int = 8, seconds_per_step: float = 0.25,
                  multi_label: bool = False, name: str = "fake_arnet", costs: dict | None = None) -> Any:
    """A valid schema-1 manifest without artifacts, for the ``fake`` backend (tests, demos)."""
    from edge_runtime.manifest import Manifest
    L = len(resolutions)
    actions = [{"kind": "resolution", "size": s, "backbone": f"backbone_{s}" if i < L - 1 else "policy"}
               for i, s in enumerate(resolutions)] + [{"kind": "skip", "frames": f} for f in skip_lengths]
    if costs is None:
        gm = [round(0.002 * (s / 24.0) ** 2, 6) for s in resolutions[:-1]] + [0.0] * (1 + len(skip_lengths))
        costs = {"unit": "GMACs (multiply-accumulates)", "policy_step": 0.002, "actions": gm,
                 "uniform_per_frame": gm[0] if L > 1 else 0.002, "measured_with": "fake"}
    d = {"schema": 1, "name": name, "labels": [f"class_{i}" for i in range(num_classes)],
         "multi_label": multi_label, "resolutions": list(resolutions), "skip_lengths": list(skip_lengths),
         "actions": actions,
         "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "folded": True,
                           "color": "RGB", "resize": "area"},
         "policy": {"resolution": resolutions[-1], "hidden": hidden, "state": ["h", "c"]},
         "costs": costs, "sampling": {"frames_per_clip": frames_per_clip, "seconds_per_step": seconds_per_step},
         "artifacts": []}
    return Manifest.from_dict(d, "fake_manifest")
