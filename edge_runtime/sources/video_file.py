"""A video file, sampled by its own timestamps (independent of the wall clock)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Iterator

from edge_runtime.sources.base import SampledFrame, SourceError
from edge_runtime.sources.capture import OpenCVSource


class VideoFileSource(OpenCVSource):
    """A video file (``path/to/video.mp4`` or ``file://...``) through OpenCV/FFmpeg."""

    kind = "file"
    noun = "video file"
    live = False

    def make_factory(self) -> Callable[[], Any]:
        import cv2
        uri = self.uri
        path = uri[len("file://"):] if uri.lower().startswith("file://") else uri
        p = Path(path)
        if not p.exists():
            raise SourceError(f"{path}: no such video file (nor a camera index, /dev/videoN, "
                              f"rtsp://, csi://, GStreamer pipeline or synthetic:// URI)")
        if p.is_dir():
            raise SourceError(f"{path}: is a directory, not a video file")
        self.path = p
        return self._ffmpeg_opener(str(p), cv2.CAP_ANY)

    def open_failed(self, tries: int, extra: str) -> str:
        return (f"{self.uri}: cannot open the video file (corrupt, truncated or an unsupported "
                f"codec){extra}")

    def frames(self, need: Callable[[], bool] | None = None) -> Iterator[SampledFrame]:
        if self.cap is None:
            raise SourceError(f"{self.uri}: source is closed")
        return self._file_frames(need)

    def _file_frames(self, need: Callable[[], bool] | None) -> Iterator[SampledFrame]:
        import cv2
        cap = self.cap
        fps = self.fps if self.fps > 0 else 0.0
        state = {"prev": None, "use_msec": True}

        def next_time(i: int) -> float | None:
            """Grab frame ``i``; its time from ``POS_MSEC`` while that increases, else ``i / fps``."""
            if not cap.grab():
                if i == 0:
                    raise SourceError(f"{self.uri}: no decodable video frames (corrupt or empty file)")
                return None
            p = None
            if state["use_msec"]:
                ms = cap.get(cv2.CAP_PROP_POS_MSEC)
                prev = state["prev"]
                if ms is not None and math.isfinite(ms) and ms >= 0 and (prev is None or ms / 1000.0 > prev):
                    p = ms / 1000.0
                elif i > 0:
                    state["use_msec"] = False
            if p is None:
                p = i / (fps if fps > 0 else 30.0)
            state["prev"] = p
            return p

        return self._sample_by_time(next_time, lambda i: self.retrieve(f"{self.uri} frame {i}"), need,
                                    0.5 / fps if fps > 0 else 1e-6)
