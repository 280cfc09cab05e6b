"""Frame preprocessing shared by training-time evaluation and the device runtime.

A device does exactly this and nothing else: centre-crop the camera frame to a square, resize
it with OpenCV's INTER_AREA to the branch's size, keep uint8 RGB HWC. Normalisation is folded
into the exported models. Evaluation data in ``train/`` uses the same function, which is what
makes offline parity (runtime == PyTorch) exact.
"""

from __future__ import annotations

import numpy as np


def center_square(frame: np.ndarray) -> np.ndarray:
    """Centre crop an HxWx3 frame to min(H, W) square (a view, no copy)."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 frame, got shape {tuple(frame.shape)}")
    h, w = frame.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return frame[y:y + s, x:x + s]


def resize_square(square: np.ndarray, size: int) -> np.ndarray:
    """Resize a square uint8 RGB image to size x size (INTER_AREA; identity when equal)."""
    import cv2
    if square.shape[0] == size and square.shape[1] == size:
        return np.ascontiguousarray(square)
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)


def preprocess(frame: np.ndarray, size: int) -> np.ndarray:
    """uint8 RGB HxWx3 (any aspect) -> uint8 RGB size x size x 3."""
    if frame.dtype != np.uint8:
        raise ValueError(f"expected a uint8 frame, got dtype {frame.dtype}")
    return resize_square(center_square(frame), size)
