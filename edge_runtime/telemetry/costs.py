"""Compute accounting: what the adaptive policy spent versus the uniform baseline.

One ``record`` per sampled frame, mirroring the runtime's events (docs/STREAMING.md):

- a decision step that took action ``a`` (kind ``"resolution"`` or ``"skip"``):
  ``record(a, ms)`` — costs ``manifest.action_cost(a)`` GMACs (policy step + the branch);
- a frame covered by an earlier skip (kind ``"skipped"``): ``record(a, skipped=True)`` —
  costs 0 GMACs, counted in the histogram under ``"skipped"``.

GMACs per frame = total GMACs / sampled frames (skipped ones included), compared with the
manifest's ``costs.uniform_per_frame`` (the biggest backbone on every frame). Units: GMACs =
multiply-accumulates, as the manifest (and the paper's "GFLOPs").

Per-branch latency: ``record(a, ms)`` with the step's wall time gives, per action, mean ms and
ms per GMAC of the whole decision step; ``record_artifact(artifact_id, ms)`` with the time of
one model invocation (``"policy"``, ``"backbone_224"``, ...) gives the measured ms per GMAC of
that network, the number ``edge_runtime.profile`` also writes. ``record_decision`` is both for one
decision step in one call (the step engine's, once per tick of a stream).
"""

from __future__ import annotations

import math
from typing import Any

SKIPPED = "skipped"


def action_name(manifest: Any, a: int) -> str:
    """Short stable name of action ``a``: ``res224``, ``res84``, ``skip2``."""
    act = manifest.actions[a]
    if act.kind == "resolution":
        return f"res{act.size}"
    return f"skip{act.frames}"


def artifact_gmacs(manifest: Any) -> dict[str, float]:
    """GMACs of one invocation of each network: ``policy`` = ``costs.policy_step``; a backbone
    artifact = ``costs.actions[a]`` of the resolution action that runs it."""
    out = {"policy": float(manifest.costs["policy_step"])}
    for a, act in enumerate(manifest.actions):
        if act.kind == "resolution" and act.backbone and act.backbone != "policy":
            out[act.backbone] = float(manifest.costs["actions"][a])
    return out


class CostAccounting:
    """Actions histogram, GMACs per frame actual vs uniform, ms per GMAC per branch."""

    def __init__(self, manifest: Any) -> None:
        self.manifest = manifest
        n = len(manifest.actions)
        self.names = [action_name(manifest, a) for a in range(n)]
        self._gmacs = [manifest.action_cost(a) for a in range(n)]
        self._art_gmacs = artifact_gmacs(manifest)
        self.reset()

    def reset(self) -> None:
        n = len(self.names)
        self.counts = [0] * n          # decision steps per action
        self.skipped = 0               # frames covered by a previous skip
        self.total_gmacs = 0.0
        self._ms_sum = [0.0] * n
        self._ms_n = [0] * n
        self._art_ms: dict[str, list[float]] = {}  # id -> [sum_ms, n]

    # ------------------------------------------------------------------ input
    def record(self, action: int, ms: float | None = None, *, skipped: bool = False) -> None:
        a = int(action)
        if not 0 <= a < len(self.names):
            raise ValueError(f"action {a} out of range [0, {len(self.names)})")
        if skipped:
            if self.manifest.actions[a].kind != "skip":
                raise ValueError(f"a skipped frame must name the skip action that caused it, "
                                 f"got {self.names[a]}")
            self.skipped += 1
            return
        self.counts[a] += 1
        self.total_gmacs += self._gmacs[a]
        if ms is not None:
            ms = float(ms)
            if not math.isfinite(ms) or ms < 0:
                raise ValueError(f"ms must be finite and >= 0, got {ms}")
            self._ms_sum[a] += ms
            self._ms_n[a] += 1

    def record_artifact(self, artifact_id: str, ms: float, rows: int = 1) -> None:
        """Time of a network (``"policy"``, ``"backbone_224"``...) per row of one call that ran
        ``rows`` frames (one per stream in a batched tick)."""
        acc = self._art_ms.get(artifact_id)   # (no new [0.0, 0] per call, as setdefault would make)
        if acc is None:
            if artifact_id not in self._art_gmacs:
                raise KeyError(f"unknown artifact {artifact_id!r}; known: {sorted(self._art_gmacs)}")
            acc = self._art_ms[artifact_id] = [0.0, 0]
        acc[0] += float(ms) * rows
        acc[1] += rows

    def record_decision(self, action: int | None, ms: float, policy_ms: float, backbone: str | None = None,
                        backbone_ms: float = 0.0) -> None:
        """One decision step as the step engine measured it, in one call: ``record(action, ms)``
        (left out when ``action`` is None), ``record_artifact("policy", policy_ms)`` and, when a
        backbone ran, ``record_artifact(backbone, backbone_ms)``. ``action`` is a valid index and
        the times are finite: the engine's own clock readings."""
        if action is not None:
            self.counts[action] += 1
            self.total_gmacs += self._gmacs[action]
            self._ms_sum[action] += ms
            self._ms_n[action] += 1
        art = self._art_ms
        acc = art.get("policy")
        if acc is None:
            self.record_artifact("policy", policy_ms)
        else:
            acc[0] += policy_ms
            acc[1] += 1
        if backbone is not None:
            acc = art.get(backbone)
            if acc is None:
                self.record_artifact(backbone, backbone_ms)
            else:
                acc[0] += backbone_ms
                acc[1] += 1

    # ----------------------------------------------------------------- output
    @property
    def decision_steps(self) -> int:
        return sum(self.counts)

    @property
    def frames(self) -> int:
        return self.decision_steps + self.skipped

    @property
    def gmacs_per_frame(self) -> float:
        return self.total_gmacs / self.frames if self.frames else 0.0

    @property
    def uniform_gmacs_per_frame(self) -> float:
        return self.manifest.uniform_cost

    @property
    def savings(self) -> float:
        """Fraction of the uniform baseline's compute saved: ``1 − actual/uniform``."""
        u = self.uniform_gmacs_per_frame
        return 1.0 - self.gmacs_per_frame / u if (u > 0 and self.frames) else 0.0

    @property
    def speedup(self) -> float | None:
        """``uniform / actual`` GMACs per frame (None when nothing was spent yet)."""
        g = self.gmacs_per_frame
        return self.uniform_gmacs_per_frame / g if g > 0 else None

    def histogram(self) -> dict[str, int]:
        """Counts per action name plus ``"skipped"`` frames (sums to ``frames``)."""
        h = {name: c for name, c in zip(self.names, self.counts)}
        h[SKIPPED] = self.skipped
        return h

    def ms_per_gmac(self) -> dict[str, float]:
        """Measured ms per GMAC per network recorded with ``record_artifact`` (networks with
        0 GMACs in the manifest are left out)."""
        out = {}
        for aid, (s, n) in self._art_ms.items():
            g = self._art_gmacs[aid]
            if n and g > 0:
                out[aid] = (s / n) / g
        return out

    def summary(self) -> dict:
        actions = []
        for a, name in enumerate(self.names):
            n = self._ms_n[a]
            mean = self._ms_sum[a] / n if n else None
            g = self._gmacs[a]
            actions.append({
                "action": a, "name": name, "count": self.counts[a], "gmacs": g,
                "mean_ms": mean,
                "ms_per_gmac": (mean / g) if (mean is not None and g > 0) else None,
            })
        art = {}
        for aid, (s, n) in self._art_ms.items():
            g = self._art_gmacs[aid]
            art[aid] = {"count": n, "mean_ms": s / n if n else None, "gmacs": g,
                        "ms_per_gmac": (s / n) / g if (n and g > 0) else None}
        return {
            "frames": self.frames,
            "decision_steps": self.decision_steps,
            "skipped_frames": self.skipped,
            "histogram": self.histogram(),
            "gmacs_total": self.total_gmacs,
            "gmacs_per_frame": self.gmacs_per_frame,
            "uniform_gmacs_per_frame": self.uniform_gmacs_per_frame,
            "savings": self.savings,
            "speedup": self.speedup,
            "unit": "GMACs (multiply-accumulates)",
            "actions": actions,
            "artifacts": art,
        }
