"""Energy from power samples: trapezoidal integration, mJ per frame.

``mW × s = mJ``. Feed ``add(t_seconds, mw)`` (or ``add_sample(PowerSample)``) in time order and
count frames with ``add_frames``; samples whose ``mw`` is None are ignored. Between two samples
the power is taken as linear (trapezoid rule); nothing is extrapolated beyond the first and the
last sample, so ``duration_s`` is the span the energy covers.
"""

from __future__ import annotations

import math


class EnergyIntegrator:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.mj = 0.0
        self.samples = 0
        self.frames = 0
        self.processed_frames = 0
        self.t_first: float | None = None
        self._last: tuple[float, float] | None = None  # (t, mw)

    def add(self, t: float, mw: float | None) -> None:
        if mw is None:
            return
        t, mw = float(t), float(mw)
        if not (math.isfinite(t) and math.isfinite(mw)):
            raise ValueError(f"non-finite power sample t={t} mw={mw}")
        if self._last is not None:
            t0, p0 = self._last
            if t < t0:
                raise ValueError(f"power samples must be in time order: {t} < {t0}")
            self.mj += 0.5 * (p0 + mw) * (t - t0)
        else:
            self.t_first = t
        self._last = (t, mw)
        self.samples += 1

    def add_sample(self, sample) -> None:
        """Add a ``PowerSample`` (None is ignored, so ``add_sample(monitor.poll())`` works)."""
        if sample is not None:
            self.add(sample.t, sample.mw)

    def add_frames(self, n: int = 1, processed: bool = True) -> None:
        """Count ``n`` sampled frames; ``processed=False`` for frames covered by a skip."""
        n = n if type(n) is int else int(n)
        self.frames += n
        if processed:
            self.processed_frames += n

    @property
    def duration_s(self) -> float:
        if self._last is None or self.t_first is None:
            return 0.0
        return self._last[0] - self.t_first

    @property
    def mean_mw(self) -> float | None:
        d = self.duration_s
        if d > 0:
            return self.mj / d
        return self._last[1] if self._last is not None else None

    @property
    def mj_per_frame(self) -> float | None:
        return self.mj / self.frames if self.frames else None

    @property
    def mj_per_processed_frame(self) -> float | None:
        return self.mj / self.processed_frames if self.processed_frames else None

    def summary(self) -> dict:
        return {"mj": self.mj, "duration_s": self.duration_s, "mean_mw": self.mean_mw,
                "samples": self.samples, "frames": self.frames,
                "processed_frames": self.processed_frames, "mj_per_frame": self.mj_per_frame,
                "mj_per_processed_frame": self.mj_per_processed_frame}
