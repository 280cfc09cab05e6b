"""TSN segment sampling: T segments of equal length, one frame from each.

Training takes a random frame inside each segment, evaluation the segment's centre.  A video
shorter than T repeats frames (each segment still maps to a valid frame, in order).
Indices are 0-based, non-decreasing, and always within ``[0, num_frames - 1]``.
"""

from __future__ import annotations

import numpy as np


def segment_bounds(num_frames: int, num_segments: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of each segment, end exclusive and > start (for short videos they overlap)."""
    if num_frames < 1:
        raise ValueError(f"num_frames={num_frames}: a video needs at least one frame")
    if num_segments < 1:
        raise ValueError(f"num_segments={num_segments}: must be >= 1")
    k = np.arange(num_segments, dtype=np.float64)
    tick = num_frames / num_segments
    start = np.minimum(np.floor(k * tick).astype(np.int64), num_frames - 1)
    end = np.maximum(np.floor((k + 1) * tick).astype(np.int64), start + 1)
    return start, np.minimum(end, num_frames)


def eval_indices(num_frames: int, num_segments: int) -> np.ndarray:
    """Centre frame of each segment (TSN test sampling): ``floor(tick * (k + 0.5))``."""
    segment_bounds(num_frames, num_segments)  # argument checks
    tick = num_frames / num_segments
    idx = np.floor(tick * (np.arange(num_segments) + 0.5)).astype(np.int64)
    return np.clip(idx, 0, num_frames - 1)


def train_indices(num_frames: int, num_segments: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random frame inside each segment (TSN training sampling)."""
    start, end = segment_bounds(num_frames, num_segments)
    return start + (rng.random(num_segments) * (end - start)).astype(np.int64)


def sample_indices(num_frames: int, num_segments: int, train: bool,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    if train:
        if rng is None:
            raise ValueError("training sampling needs a numpy Generator (rng)")
        return train_indices(num_frames, num_segments, rng)
    return eval_indices(num_frames, num_segments)
