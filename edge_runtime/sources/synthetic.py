"""``synthetic://``: a deterministic moving test pattern (no decoder involved)."""

from __future__ import annotations

import math
import time
from typing import Callable, Iterator
from urllib.parse import parse_qs, urlparse

import numpy as np

from edge_runtime.sources.base import FrameSource, SampledFrame, SourceError, to_rgb


class SyntheticSource(FrameSource):
    """Deterministic moving test pattern (no decoder involved)."""

    live = False

    def __init__(self, uri: str, seconds_per_step: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(seconds_per_step)
        self.uri = uri
        u = urlparse(uri)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        self.pattern = (u.netloc or u.path.strip("/") or "bars").lower()
        if self.pattern not in ("bars", "noise", "flat"):
            raise SourceError(f"{uri}: unknown synthetic pattern {self.pattern!r}; choose bars, noise or flat")
        try:
            w, h = (int(v) for v in q.get("size", "320x240").lower().split("x"))
            self.fps = float(q.get("fps", 30.0))
            self.max_frames = int(q["frames"]) if "frames" in q else None
            self.channels = int(q.get("channels", 3))
            self.realtime = q.get("realtime", "0").lower() in ("1", "true", "yes")
            self.seed = int(q.get("seed", 0))
        except ValueError as e:
            raise SourceError(f"{uri}: bad query ({e}); e.g. synthetic://bars?size=320x240&fps=30&frames=100") from None
        if w < 1 or h < 1 or self.fps <= 0 or self.channels not in (1, 3, 4):
            raise SourceError(f"{uri}: size must be positive, fps > 0, channels 1, 3 or 4")
        self.w, self.h = w, h
        self.clock, self.sleep = clock, sleep
        xs = np.arange(w, dtype=np.int32)
        ys = np.arange(h, dtype=np.int32)
        base = np.empty((h, w, 3), np.uint8)
        base[:, :, 0] = ((xs[None, :] * 255) // max(w - 1, 1)).astype(np.uint8)
        base[:, :, 1] = ((ys[:, None] * 255) // max(h - 1, 1)).astype(np.uint8)
        base[:, :, 2] = (((xs[None, :] // 16 + ys[:, None] // 16) % 2) * 200).astype(np.uint8)
        self._base = base
        self._buf = np.empty_like(base)

    def _render(self, i: int) -> np.ndarray:
        if self.pattern == "noise":
            rng = np.random.default_rng([self.seed, i])
            f = rng.integers(0, 256, size=(self.h, self.w, 3), dtype=np.uint8)
        elif self.pattern == "flat":
            f = np.full((self.h, self.w, 3), (i * 7) % 256, np.uint8)
        else:
            shift = (i * 4) % self.w
            f = self._buf
            f[:, : self.w - shift] = self._base[:, shift:]
            f[:, self.w - shift:] = self._base[:, :shift]
            # a bright square that moves diagonally: gives the policy something to look at
            s = max(self.h // 6, 2)
            y0 = (i * 3) % max(self.h - s, 1)
            x0 = (i * 5) % max(self.w - s, 1)
            f[y0:y0 + s, x0:x0 + s] = (255, 255, 255)
            f = f.copy()
        if self.channels == 1:
            return f[:, :, 0]
        if self.channels == 4:
            return np.concatenate([f, np.full((self.h, self.w, 1), 255, np.uint8)], axis=2)
        return f

    def frames(self, need: Callable[[], bool] | None = None) -> Iterator[SampledFrame]:
        start = self.clock()
        k = 0
        while True:
            i = int(math.floor(k * self.sps * self.fps + 0.5))
            if self.max_frames is not None and i >= self.max_frames:
                return
            t = k * self.sps
            if self.realtime:
                delay = start + t - self.clock()
                if delay > 0:
                    self.sleep(delay)
            self.grabbed += 1
            frame = dt = None
            if need is None or need():
                t0 = time.perf_counter()
                raw = self._render(i)
                frame = raw if raw.ndim == 3 and raw.shape[2] == 3 else to_rgb(raw, "rgb", self.uri)
                dt = (time.perf_counter() - t0) * 1000.0
                self.decoded += 1
            yield SampledFrame(k, t, frame, dt, i, i / self.fps)
            k += 1

    def describe(self) -> dict:
        d = super().describe()
        d.update(kind="synthetic", pattern=self.pattern, size=[self.w, self.h], fps=self.fps)
        return d
