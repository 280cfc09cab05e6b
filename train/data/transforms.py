"""Clip transforms: the paper's training augmentation and the device's evaluation preprocessing.

Evaluation is ``edge_runtime.preprocess.preprocess(frame, s, resize)`` for every resolution
``s``, straight from the decoded frame: exactly what a device feeds its networks (``resize`` is
``data.resize``, recorded in the manifest).

Training is TSN's GroupMultiScaleCrop (scales 1, .875, .75, .66 of the short side, width and
height scales at most ``max_distort`` steps apart, 13 fixed crop positions) and an optional
horizontal flip, the same crop and flip for all T frames.  The crop is resized with the same rule
straight to every resolution (as evaluation does from the full frame), or, with
``cascade=True``, to ``s_0`` first and from that image down to the lower resolutions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from edge_runtime.preprocess import preprocess, resize_image

DEFAULT_SCALES = (1.0, 0.875, 0.75, 0.66)


@dataclass(frozen=True)
class Crop:
    x: int
    y: int
    w: int
    h: int
    flip: bool = False


class MultiScaleCrop:
    """TSN ``GroupMultiScaleCrop`` crop sampling for a square output of side ``size``."""

    def __init__(self, size: int, scales: Sequence[float] = DEFAULT_SCALES, max_distort: int = 1,
                 fix_crop: bool = True, more_fix_crop: bool = True):
        self.size = int(size)
        self.scales = tuple(float(s) for s in scales)
        self.max_distort = int(max_distort)
        self.fix_crop = fix_crop
        self.more_fix_crop = more_fix_crop

    def _sizes(self, w: int, h: int) -> list[tuple[int, int]]:
        base = min(w, h)
        sizes = [int(base * s) for s in self.scales]
        snap = [self.size if abs(c - self.size) < 3 else c for c in sizes]
        snap = [max(1, min(c, base)) for c in snap]
        return [(cw, ch) for i, ch in enumerate(snap) for j, cw in enumerate(snap)
                if abs(i - j) <= self.max_distort]

    def _offsets(self, w: int, h: int, cw: int, ch: int) -> list[tuple[int, int]]:
        ws, hs = (w - cw) // 4, (h - ch) // 4
        offs = [(0, 0), (4 * ws, 0), (0, 4 * hs), (4 * ws, 4 * hs), (2 * ws, 2 * hs)]
        if self.more_fix_crop:
            offs += [(0, 2 * hs), (4 * ws, 2 * hs), (2 * ws, 4 * hs), (2 * ws, 0),
                     (ws, hs), (3 * ws, hs), (ws, 3 * hs), (3 * ws, 3 * hs)]
        return offs

    def sample(self, w: int, h: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """(x, y, crop_w, crop_h) inside a ``w`` x ``h`` frame."""
        pairs = self._sizes(w, h)
        cw, ch = pairs[int(rng.integers(len(pairs)))]
        if self.fix_crop:
            offs = self._offsets(w, h, cw, ch)
            x, y = offs[int(rng.integers(len(offs)))]
        else:
            x = int(rng.integers(w - cw + 1))
            y = int(rng.integers(h - ch + 1))
        return x, y, cw, ch


def eval_views(frames: Sequence[np.ndarray], resolutions: Sequence[int], resize: str = "area"
               ) -> list[np.ndarray]:
    """[(T, s, s, 3) uint8 for s in resolutions]: ``preprocess(frame, s, resize)`` per frame."""
    return [np.stack([preprocess(f, s, resize) for f in frames]) for s in resolutions]


def train_views(frames: Sequence[np.ndarray], resolutions: Sequence[int], crop: Crop,
                cascade: bool = False, resize: str = "area") -> list[np.ndarray]:
    """[(T, s, s, 3) uint8 for s in resolutions]: the same crop (and flip) on every frame, resized
    with the device's rule (``edge_runtime.preprocess.resize_image``)."""
    import cv2
    out = [np.empty((len(frames), s, s, 3), np.uint8) for s in resolutions]
    for t, f in enumerate(frames):
        region = f[crop.y:crop.y + crop.h, crop.x:crop.x + crop.w]
        for k, s in enumerate(resolutions):
            src = out[0][t] if cascade and k > 0 else region
            resize_image(src, s, resize, dst=out[k][t])
            if crop.flip and not (cascade and k > 0):
                cv2.flip(out[k][t], 1, dst=out[k][t])
    return out


class TrainAugment:
    """Samples one :class:`Crop` per clip and applies it (``__call__(frames, rng)``)."""

    def __init__(self, resolutions: Sequence[int], scales: Sequence[float] = DEFAULT_SCALES,
                 flip: bool = True, max_distort: int = 1, cascade: bool = False, resize: str = "area"):
        self.resolutions = [int(s) for s in resolutions]
        self.cropper = MultiScaleCrop(self.resolutions[0], scales, max_distort)
        self.flip = flip
        self.cascade = cascade
        self.resize = resize

    def sample_crop(self, w: int, h: int, rng: np.random.Generator) -> Crop:
        x, y, cw, ch = self.cropper.sample(w, h, rng)
        flip = bool(self.flip and rng.random() < 0.5)
        return Crop(x, y, cw, ch, flip)

    def __call__(self, frames: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        h, w = frames[0].shape[:2]
        return train_views(frames, self.resolutions, self.sample_crop(w, h, rng), self.cascade,
                           self.resize)
