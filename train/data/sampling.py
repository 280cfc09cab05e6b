"""Which T frames of a video make a clip: two rules (``data.sampling``).

``segments`` (TSN, the default): T segments of equal length over the whole video, one frame
from each.  Training takes a random frame inside each segment, evaluation the segment's centre.
A video shorter than T repeats frames (each segment still maps to a valid frame, in order:
pad rule ``repeat_in_order``).  The video's length sets the time between steps, so the device's
``seconds_per_step`` is the typical one (median duration / T, recorded in the manifest).

``seconds``: one frame every ``seconds_per_step`` seconds of the video's own time, by its real
frame rate -- the rule the device applies to a file or a camera.  Step k is at
``t0 + k * seconds_per_step`` and takes the nearest frame, ``ceil(t * fps - 0.5)`` (the device's
"first frame at or after t less half a frame period").  The window of T steps starts at
``t0 = (D - W) / 2`` in evaluation (centred) and uniformly in ``[0, D - W]`` in training, where
``D = (num_frames - 1) / fps`` and ``W = (T - 1) * seconds_per_step``.  A video shorter than the
window starts at 0 and the steps past its end repeat its last frame (pad rule ``repeat_last``).
So UCF101 (25 fps), SSv2 (12 fps) and Kinetics clips (whatever fps) give clips that span the
same seconds of action.

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


SAMPLING_RULES = {
    "segments": "T segments over the whole video, one frame each (TSN)",
    "seconds": "one frame every seconds_per_step seconds of video time, by the video's fps",
}
PAD_RULES = {
    "repeat_in_order": "a video shorter than T frames repeats frames in order (segments rule)",
    "repeat_last": "steps past the end of a video shorter than the T-step window repeat its last "
                   "frame (seconds rule)",
}


def time_indices(num_frames: int, fps: float, num_segments: int, seconds_per_step: float,
                 train: bool, rng: np.random.Generator | None = None) -> np.ndarray:
    """The ``seconds`` rule (module doc): T frame indices one ``seconds_per_step`` apart."""
    if num_frames < 1:
        raise ValueError(f"num_frames={num_frames}: a video needs at least one frame")
    if num_segments < 1:
        raise ValueError(f"num_segments={num_segments}: must be >= 1")
    if not fps or fps <= 0:
        raise ValueError(f"fps={fps}: the seconds rule needs the video's frame rate")
    if seconds_per_step <= 0:
        raise ValueError(f"seconds_per_step={seconds_per_step}: must be > 0")
    duration = (num_frames - 1) / fps
    window = (num_segments - 1) * seconds_per_step
    slack = max(0.0, duration - window)
    if train:
        if rng is None:
            raise ValueError("training sampling needs a numpy Generator (rng)")
        t0 = float(rng.random()) * slack
    else:
        t0 = slack / 2
    t = t0 + np.arange(num_segments, dtype=np.float64) * seconds_per_step
    idx = np.ceil(t * fps - 0.5 - 1e-9).astype(np.int64)
    return np.clip(idx, 0, num_frames - 1)
