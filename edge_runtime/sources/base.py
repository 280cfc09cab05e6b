"""What every source shares: the sampled frame, the error, the colour conversion, the base
class with the timestamp-sampling rule of files and image sequences, and the URI kinds."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np


class SourceError(RuntimeError):
    """A source cannot be opened or read; the message names it."""


@dataclass
class SampledFrame:
    index: int                 # sampled-frame number k (0, 1, ...)
    t: float                   # seconds: k·seconds_per_step (files, synthetic) / wall clock (live)
    frame: np.ndarray | None   # uint8 RGB HxWx3, None when not decoded (covered by a skip)
    decode_ms: float | None    # retrieve + colour conversion time (None when not decoded)
    source_index: int = -1     # frame number in the underlying stream
    source_t: float | None = None  # the stream's own timestamp of that frame (seconds)


def to_rgb(frame: Any, order: str = "bgr", where: str = "frame") -> np.ndarray:
    """An OpenCV frame (BGR, gray or BGRA) as uint8 RGB HxWx3."""
    import cv2
    if frame is None:
        raise SourceError(f"{where}: no frame data")
    x = np.asarray(frame)
    if x.dtype != np.uint8:
        raise SourceError(f"{where}: frames must be 8-bit, got dtype {x.dtype} shape {tuple(x.shape)}")
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[:, :, 0]
    if x.ndim == 2:
        return cv2.cvtColor(x, cv2.COLOR_GRAY2RGB)
    if x.ndim != 3 or x.shape[2] not in (3, 4):
        raise SourceError(f"{where}: unsupported frame shape {tuple(x.shape)} (expected HxW, HxWx1, "
                          f"HxWx3 or HxWx4)")
    if x.shape[2] == 3:
        return cv2.cvtColor(x, cv2.COLOR_BGR2RGB) if order == "bgr" else x
    return cv2.cvtColor(x, cv2.COLOR_BGRA2RGB if order == "bgr" else cv2.COLOR_RGBA2RGB)


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence the C-level stderr (FFmpeg/GStreamer/V4L2 chatter while opening a capture): our
    own error message says what went wrong."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class FrameSource:
    """Iterate :meth:`frames` for sampled frames; ``close()`` (or ``with``) releases it."""

    uri: str = ""
    live: bool = False

    def __init__(self, seconds_per_step: float) -> None:
        if not seconds_per_step > 0:
            raise ValueError(f"seconds_per_step must be > 0, got {seconds_per_step}")
        self.sps = float(seconds_per_step)
        self.decoded = 0      # frames decoded (retrieved + converted)
        self.grabbed = 0      # frames grabbed from the stream
        self.reconnects = 0

    def frames(self, need: Callable[[], bool] | None = None) -> Iterator[SampledFrame]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def describe(self) -> dict:
        return {"uri": self.uri, "live": self.live, "seconds_per_step": self.sps}

    def _sample_by_time(self, next_time: Callable[[int], float | None],
                        read: Callable[[int], tuple[np.ndarray, float]],
                        need: Callable[[], bool] | None, half: float) -> Iterator[SampledFrame]:
        """Sampling by a stream's own timestamps (files, image sequences): sample ``k`` at
        ``k · seconds_per_step`` takes the first frame whose time is at least that less ``half``
        a frame period (the nearest frame). ``next_time(i)`` moves to frame ``i`` and gives its
        time (None at the end); ``read(i)`` decodes it, only when ``need()`` asks, once even when
        it serves two samples (frames slower than the sampling)."""
        idx, pts, decoded = -1, None, None
        k = 0
        while True:
            target = k * self.sps
            while pts is None or pts < target - half - 1e-6:
                t = next_time(idx + 1)
                if t is None:
                    return
                idx, pts, decoded = idx + 1, t, None
                self.grabbed += 1
            frame = dt = None
            if need is None or need():
                if decoded is None:
                    decoded, dt = read(idx)
                else:
                    dt = 0.0  # the same source frame serves two samples (stream fps < sampling)
                frame = decoded
            yield SampledFrame(k, target, frame, dt, idx, pts)
            k += 1


CAPTURE_SIZE_KINDS = ("camera", "v4l2", "csi")


def parse_size(text: str, what: str | None = "size") -> tuple[int, int]:
    """``"640x480"`` -> (640, 480); anything else is a ValueError naming ``what`` (when given)."""
    w, sep, h = str(text).strip().lower().partition("x")
    try:
        size = (int(w), int(h)) if sep else None
    except ValueError:
        size = None
    if size is None or min(size) < 1:
        raise ValueError(f"{what + ': ' if what else ''}expected WIDTHxHEIGHT with positive integers, "
                         f"e.g. 640x480; got {text!r}")
    return size


def check_capture_size(size: Any, uri: str, kind: str) -> tuple[int, int] | None:
    """A capture size is asked of cameras only (files and streams come at their own size)."""
    if size is None:
        return None
    w, h = int(size[0]), int(size[1])
    if min(w, h) < 1:
        raise ValueError(f"capture size must be positive, got {w}x{h}")
    if kind not in CAPTURE_SIZE_KINDS:
        what = {"file": "a video file", "network": "a network stream", "gstreamer": "a GStreamer pipeline "
                "(set the size in its caps)", "synthetic": "a test pattern (size it with ?size=WxH)",
                "images": "an image sequence"}.get(kind, kind)
        raise SourceError(f"{uri}: a capture size applies to cameras (index, /dev/videoN, csi://); this "
                          f"source is {what}, which comes at its own size")
    return w, h


def classify_uri(uri: str) -> str:
    """``camera`` | ``v4l2`` | ``csi`` | ``network`` | ``gstreamer`` | ``synthetic`` | ``images``
    | ``file``."""
    s = str(uri).strip()
    if s.lstrip("-").isdigit():
        return "camera"
    low = s.lower()
    if low.startswith("synthetic://"):
        return "synthetic"
    if low.startswith("csi://"):
        return "csi"
    if "!" in s:
        return "gstreamer"
    if low.startswith(("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")):
        return "network"
    if low.startswith("v4l2://"):
        return "v4l2"
    if low.startswith("/dev/video"):
        return "v4l2"
    if "*" in s or os.path.isdir(s):
        return "images"
    return "file"
