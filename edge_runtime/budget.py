"""Budget control: keep the stream at a target frame rate or power by biasing the policy.

Normative spec: docs/STREAMING.md, section "Budget" (the Kotlin core implements the same
controller; keep the arithmetic in float64 and in this order)::

    cost_a = costs.policy_step + costs.actions[a]        (GMACs of a decision step taking a)
             / F_{a-L} for a skip action a >= L           (amortised over the frames it covers)
    b_a    = cost_a / max_a cost_a
    z_a    = action_logits_a − λ·b_a ;  action = argmax z (lowest index on ties)
    every `update_every` steps:  e = (target_fps − measured_fps) / target_fps      (fps)
                                 e = (measured_mw − target_mw) / target_mw         (power)
                                 λ ← clamp(λ + k·e, 0, λ_max)

Positive ``e`` = over budget → λ grows → cheaper actions win. With both targets set the
controller follows the tighter one (``e = max(e_fps, e_mw)``); a measurement passed as None
leaves its term out (no term at all → λ unchanged).

``update()`` is called once per sampled frame (step) — decision and skipped frames alike; λ
changes on calls number ``update_every``, ``2·update_every``, ... and only then uses the
measurements passed to that call.

Per-device costs: ``costs`` replaces the GMACs ``cost_a`` by any per-decision-step cost, typically
the milliseconds measured by ``python -m edge_runtime.profile`` (``profile.json`` beside the
manifest, ``ms_per_decision``; skip actions are still amortised here). ``BudgetController.for_model``
loads it when present.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any, Sequence

import numpy as np

from .profile import load_profile

__all__ = ["BudgetController", "FpsMeter", "normalised_costs", "load_profile"]


class FpsMeter:
    """Frame rate over the last ``window`` sampled frames: ``frames / their total time``.

    Feed it either frame durations (``add_ms``) or frame timestamps in seconds (``tick``; the
    first tick only sets the reference). What to pass to ``BudgetController.update``: the
    controller's integral drives the *mean of the measured fps* onto the target, and a mean of
    per-window rates over-estimates the real rate (frames / wall time) when frame times vary a
    lot (decision steps of 25 ms between 1 ms skipped frames); a window of about 32 frames keeps
    that bias to a few percent (see tests/edge/test_budget.py)."""

    def __init__(self, window: int = 32) -> None:
        if int(window) < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = int(window)
        self._ms: deque[float] = deque(maxlen=self.window)
        self._last_t: float | None = None

    def add_ms(self, ms: float) -> None:
        ms = float(ms)
        if not np.isfinite(ms) or ms < 0:
            raise ValueError(f"frame time must be finite and >= 0, got {ms}")
        self._ms.append(ms)

    def tick(self, t: float) -> None:
        if self._last_t is not None:
            self.add_ms((float(t) - self._last_t) * 1000.0)
        self._last_t = float(t)

    @property
    def fps(self) -> float | None:
        total = sum(self._ms)  # at most `window` terms, summed in order (deterministic)
        if not self._ms or total <= 0:
            return None
        return 1000.0 * len(self._ms) / total

    def reset(self) -> None:
        self._ms.clear()
        self._last_t = None


def normalised_costs(manifest: Any, costs: Sequence[float] | None = None) -> np.ndarray:
    """``b_a`` (float64, max 1) from the manifest's GMACs or from per-decision-step ``costs``."""
    n = len(manifest.actions)
    if costs is None:
        raw = [manifest.action_cost(a) for a in range(n)]
    else:
        raw = [float(c) for c in costs]
        if len(raw) != n:
            raise ValueError(f"costs: expected {n} values (one per action), got {len(raw)}")
        if any(not np.isfinite(c) or c < 0 for c in raw):
            raise ValueError(f"costs: expected finite non-negative numbers, got {raw}")
    L = manifest.num_resolutions
    amort = [raw[a] / manifest.skip_lengths[a - L] if a >= L else raw[a] for a in range(n)]
    top = max(amort)
    if top <= 0:
        return np.zeros(n, dtype=np.float64)
    return np.array([c / top for c in amort], dtype=np.float64)


class BudgetController:
    def __init__(self, manifest: Any, target_fps: float | None = None,
                 target_mw: float | None = None, k: float = 2.0, lambda_max: float = 20.0,
                 update_every: int = 8, costs: Sequence[float] | None = None) -> None:
        for name, v in (("target_fps", target_fps), ("target_mw", target_mw)):
            if v is not None and not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        if k < 0 or lambda_max < 0:
            raise ValueError(f"k and lambda_max must be >= 0, got k={k}, lambda_max={lambda_max}")
        if int(update_every) < 1:
            raise ValueError(f"update_every must be >= 1, got {update_every}")
        self.manifest = manifest
        self.target_fps = None if target_fps is None else float(target_fps)
        self.target_mw = None if target_mw is None else float(target_mw)
        self.k = float(k)
        self.lambda_max = float(lambda_max)
        self.update_every = int(update_every)
        self.costs = None if costs is None else [float(c) for c in costs]
        self._b = normalised_costs(manifest, self.costs)
        self.lam = 0.0
        self.steps = 0
        self.last_error: float | None = None

    # ---------------------------------------------------------------- factories
    @classmethod
    def for_model(cls, manifest: Any, model_dir: str | os.PathLike | None = None,
                  backend: str | None = None, precision: str | None = None,
                  use_profile: bool = True, **kw: Any) -> "BudgetController":
        """A controller whose costs are this device's measured ms when ``profile.json`` (written
        by ``edge_runtime.profile``) sits beside the manifest, else the manifest's GMACs.
        ``model_dir`` defaults to the folder the manifest was loaded from."""
        if "costs" in kw:
            return cls(manifest, **kw)
        costs = None
        folder = model_dir if model_dir is not None else getattr(manifest, "root", None)
        if use_profile and folder is not None:
            entry = load_profile(folder, backend=backend, precision=precision, manifest=manifest)
            if entry is not None:
                costs = entry["ms_per_decision"]
        return cls(manifest, costs=costs, **kw)

    # ------------------------------------------------------------------ queries
    @property
    def active(self) -> bool:
        """A target is set (otherwise the bias is always 0)."""
        return self.target_fps is not None or self.target_mw is not None

    @property
    def cost_source(self) -> str:
        return "gmacs" if self.costs is None else "measured"

    def normalised_costs(self) -> np.ndarray:
        return self._b.copy()

    def bias(self) -> np.ndarray:
        """``λ·b_a`` (float64), to subtract from the action logits."""
        return self.lam * self._b

    def apply(self, action_logits: Any) -> np.ndarray:
        """``z = action_logits − λ·b`` in float64."""
        z = np.asarray(action_logits, dtype=np.float64).reshape(-1)
        if z.shape[0] != self._b.shape[0]:
            raise ValueError(f"expected {self._b.shape[0]} action logits, got {z.shape[0]}")
        return z - self.bias()

    def choose(self, action_logits: Any) -> int:
        """``argmax(z)``, the lowest index on ties: the controller's decision rule with this bias."""
        from edge_runtime.controller import biased_argmax
        return biased_argmax(action_logits, self.bias(), self._b.shape[0])

    # ------------------------------------------------------------------ control
    def error(self, measured_fps: float | None = None,
              measured_mw: float | None = None) -> float | None:
        """Relative over-budget error (positive = over budget), None if nothing to compare."""
        errs = []
        if self.target_fps is not None and measured_fps is not None:
            errs.append((self.target_fps - float(measured_fps)) / self.target_fps)
        if self.target_mw is not None and measured_mw is not None:
            errs.append((float(measured_mw) - self.target_mw) / self.target_mw)
        return max(errs) if errs else None

    def update(self, measured_fps: float | None = None,
               measured_mw: float | None = None) -> float:
        """One step; every ``update_every``-th call applies the integral update. Returns λ."""
        self.steps += 1
        if self.steps % self.update_every != 0:
            return self.lam
        e = self.error(measured_fps, measured_mw)
        self.last_error = e
        if e is None or not np.isfinite(e):
            return self.lam
        self.lam = min(max(self.lam + self.k * e, 0.0), self.lambda_max)
        return self.lam

    def reset(self) -> None:
        self.lam = 0.0
        self.steps = 0
        self.last_error = None

    def state(self) -> dict:
        """JSON-ready snapshot for telemetry events."""
        return {"lambda": self.lam, "target_fps": self.target_fps, "target_mw": self.target_mw,
                "last_error": self.last_error, "costs": self.cost_source,
                "b": [float(x) for x in self._b]}
