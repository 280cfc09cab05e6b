"""Frame preprocessing shared by training, training-time evaluation and the device runtime.

A device does exactly this and nothing else: centre-crop the camera frame to a square, resize
it to the branch's size with the manifest's ``normalization.resize`` rule, keep uint8 RGB HWC.
Normalisation is folded into the exported models. Training uses the same functions, which is
what makes offline parity (runtime == PyTorch) exact.

Resize rules (``RESIZE_METHODS``):

* ``area`` — one OpenCV ``INTER_AREA`` resize. Exact box filtering, but OpenCV's generic area
  path is slow for non-integer factors: a camera frame to a policy's size can cost more than the
  policy network itself.
* ``pyramid`` — halve with ``INTER_AREA`` (the 2×2 mean, OpenCV's SIMD fast path; an odd side
  drops its last row/column first) while the image is at least twice the target, then one
  ``INTER_LINEAR`` step for the remaining factor (< 2). The same low-pass idea at about a tenth of
  the cost (docs/RESULTS.md, "Measurements behind design choices"); pixels differ from ``area``
  by a few grey levels, so a model must be trained with the rule it runs with (the manifest
  records it).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

RESIZE_METHODS = ("area", "pyramid")


def check_resize_method(method: str, where: str = "resize") -> str:
    if method not in RESIZE_METHODS:
        raise ValueError(f"{where}={method!r} is not one of {list(RESIZE_METHODS)}")
    return method


def center_square(frame: np.ndarray) -> np.ndarray:
    """Centre crop an HxWx3 frame to min(H, W) square (a view, no copy)."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 frame, got shape {tuple(frame.shape)}")
    h, w = frame.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return frame[y:y + s, x:x + s]


_cv2 = None   # OpenCV, imported on the first resize (importing this module does not need it)
_INTER_LINEAR, _INTER_AREA = 1, 3   # cv2.INTER_LINEAR, cv2.INTER_AREA (constants of OpenCV's API)


def _opencv():
    global _cv2
    import cv2
    _cv2 = cv2
    return cv2


def resize_image(img: np.ndarray, size: int, method: str = "area", dst: np.ndarray | None = None,
                 levels: list | None = None) -> np.ndarray:
    """Resize a uint8 HxWx3 image (any aspect) to size x size with ``method``.

    levels: ``pyramid`` only — the image's halvings so far (``levels[0]`` is ``img``); reused and
    extended in place, so several sizes of one image share them (:class:`SquareViews`)."""
    if method == "pyramid":
        return _pyramid(levels if levels is not None else [img], size, dst)
    h, w = img.shape[:2]
    if h == size and w == size:
        if dst is None:
            return np.ascontiguousarray(img)
        dst[...] = img
        return dst
    if method != "area":
        check_resize_method(method)
    cv2 = _cv2 or _opencv()
    return cv2.resize(img, (size, size), dst, 0, 0, cv2.INTER_AREA)


def _pyramid(levels: list, size: int, dst: np.ndarray | None) -> np.ndarray:
    """The ``pyramid`` rule's size x size view of ``levels[0]``: halve while the image is at least
    twice the target, then one ``INTER_LINEAR`` step (none when a halving has the size). The
    halvings missing from ``levels`` are appended.

    Level k of an H x W image is (H >> k) x (W >> k) (each halving drops an odd last row or
    column), so the number of halvings is known at once: the k with min(H, W) >> k still at least
    2·size are those with 2^k <= min(H, W) // (2·size)."""
    # cv2.resize's arguments are given by position (dst, fx = fy = 0: the size is dsize): the
    # binding's keyword parsing is a noticeable share of a small resize's time
    cv2 = _cv2 or _opencv()
    h, w = levels[0].shape[:2]
    k = (min(h, w) // (2 * size)).bit_length()
    while len(levels) <= k:
        j = len(levels)
        prev, hj, wj = levels[-1], h >> j, w >> j
        src = prev if prev.shape[0] == 2 * hj and prev.shape[1] == 2 * wj else prev[:2 * hj, :2 * wj]
        levels.append(cv2.resize(src, (wj, hj), None, 0, 0, cv2.INTER_AREA))
    img = levels[k]
    if h >> k == size and w >> k == size:
        if dst is None:   # a halving as it is; the caller's own image (k = 0) as a contiguous array
            return img if k else np.ascontiguousarray(img)
        dst[...] = img
        return dst
    return cv2.resize(img, (size, size), dst, 0, 0, cv2.INTER_LINEAR)


class SquareViews:
    """The views of one square frame at several sizes, sharing the pyramid rule's work.

    ``get(size)`` equals ``resize_image(square, size, method)`` bit for bit. With ``pyramid`` the
    2×2-mean halvings are kept and reused: the policy's low-resolution view and the chosen
    branch's view of the same frame walk the same chain (a 480 px square gives 240, 120, 60;
    ``get(48)`` computes them, ``get(128)`` then only interpolates from 240), so a decision step
    pays for the halvings once. With ``area`` every size is its own ``INTER_AREA`` resize.
    """

    __slots__ = ("method", "levels", "_side", "_pyr")

    def __init__(self, square: np.ndarray, method: str = "area") -> None:
        self.method = method if method in RESIZE_METHODS else check_resize_method(method)
        self.levels = [square]
        h, w = square.shape[:2]
        # a square's pyramid in a few integer operations per size (_pyramid's rule with H = W)
        self._pyr = method == "pyramid" and h == w
        self._side = h

    def get(self, size: int, dst: np.ndarray | None = None) -> np.ndarray:
        """The size x size view (written into ``dst`` when given, e.g. a row of a batch)."""
        if not self._pyr:
            if self.method == "pyramid":
                return _pyramid(self.levels, size, dst)
            return resize_image(self.levels[0], size, self.method, dst)
        levels, side = self.levels, self._side
        k = (side // (2 * size)).bit_length()
        cv2 = _cv2 or _opencv()
        while len(levels) <= k:   # the missing halvings (level j is (side >> j) square)
            prev = levels[-1]
            half = prev.shape[0] >> 1
            levels.append(cv2.resize(prev if prev.shape[0] == 2 * half else prev[:2 * half, :2 * half],
                                     (half, half), None, 0, 0, _INTER_AREA))
        if side >> k != size:
            return cv2.resize(levels[k], (size, size), dst, 0, 0, _INTER_LINEAR)
        if dst is None:
            return levels[k] if k else np.ascontiguousarray(levels[k])
        dst[...] = levels[k]
        return dst


def resize_square(square: np.ndarray, size: int, method: str = "area") -> np.ndarray:
    """Resize a square uint8 RGB image to size x size (identity when equal)."""
    return resize_image(square, size, method)


def preprocess(frame: np.ndarray, size: int, method: str = "area") -> np.ndarray:
    """uint8 RGB HxWx3 (any aspect) -> uint8 RGB size x size x 3."""
    if frame.dtype != np.uint8:
        raise ValueError(f"expected a uint8 frame, got dtype {frame.dtype}")
    return resize_square(center_square(frame), size, method)


class ViewBatcher:
    """Stacks the streams' views at one size into one uint8 batch, resizing in parallel.

    OpenCV releases the GIL while it resizes, so up to ``workers`` threads (the caller's
    included) each fill a contiguous slice of the batch's rows: with many streams, or
    camera-sized frames, the resizes would otherwise dominate a tick whose networks run on a GPU.
    Threads are woken only when the batch reads at least ``min_pixels`` source pixels (the
    largest image each view still has to resize from: the whole frame before the pyramid's
    halvings are made, a small level after): waking a thread costs more than it saves on a few
    small frames. Each row is computed exactly as one stream would compute it (bit-identical
    whatever the threads). workers=1 runs in the calling thread only."""

    def __init__(self, workers: int = 1, min_pixels: int = 1_000_000) -> None:
        if int(workers) < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = int(workers)
        self.min_pixels = int(min_pixels)
        self.parallel_calls = 0   # batches that used the threads
        self._pool: ThreadPoolExecutor | None = None

    def batch(self, views: Sequence[SquareViews], size: int) -> np.ndarray:
        n = len(views)
        if n == 1:   # one row: the view itself, no copy (a cv2 output or a halving: contiguous)
            return views[0].get(size)[None]
        out = np.empty((n, size, size, 3), np.uint8)

        def fill(lo: int, hi: int) -> None:
            for j in range(lo, hi):
                views[j].get(size, dst=out[j])

        k = min(self.workers, n)
        if k <= 1 or sum(v.levels[-1].shape[0] * v.levels[-1].shape[1] for v in views) < self.min_pixels:
            fill(0, n)
            return out
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers - 1, thread_name_prefix="arnet-resize")
        self.parallel_calls += 1
        cut = [n * w // k for w in range(k + 1)]
        futs = [self._pool.submit(fill, cut[w], cut[w + 1]) for w in range(1, k)]
        fill(cut[0], cut[1])
        for f in futs:
            f.result()
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def default_resize_workers(streams: int, cores: int | None = None) -> int:
    """Threads that may resize a tick's frames: one per CPU core, at most 8 and at most
    ``streams`` (they wake only for big batches: :class:`ViewBatcher`)."""
    cores = (os.cpu_count() or 1) if cores is None else int(cores)
    return max(1, min(int(streams), cores, 8))
