"""Tiny labelled videos for training/evaluation tests (imported by the test modules here)."""

from pathlib import Path

import cv2
import numpy as np


def write_video(path: Path, cls: int, n: int = 12, size: int = 72, seed: int = 0) -> None:
    """Class 0: bright square moving right; class 1: moving down; class 2: stripes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12, (size, size))
    rng = np.random.default_rng(seed)
    for t in range(n):
        f = np.full((size, size, 3), 40, np.uint8) + rng.integers(0, 20, (size, size, 3), dtype=np.uint8)
        k = 8 + 4 * t
        if cls == 0:
            f[20:40, k % size:(k % size) + 20] = (250, 60, 60)
        elif cls == 1:
            f[k % size:(k % size) + 20, 20:40] = (60, 250, 60)
        else:
            f[:, ::6] = (60, 60, 250)
        w.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    w.release()
