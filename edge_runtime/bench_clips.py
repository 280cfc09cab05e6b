"""Benchmark inputs: the videos of a file or a class-folder tree, and a video sampled like an
evaluation clip (T frames at the centres of T equal segments) for ``bench.py --sampling clip``.
Not a device source: a camera or stream has no length to divide."""

from __future__ import annotations

import math
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Iterator

from edge_runtime.sources import FrameSource, SampledFrame, SourceError, VideoFileSource, quiet_stderr


VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


def list_videos(root: str | os.PathLike) -> list[tuple[Path, str | None]]:
    """A video file → [(file, None)]; a folder → every video under it, labelled by its parent
    folder's name when the layout is ``root/<class>/*.mp4`` (else None)."""
    p = Path(root)
    if p.is_file():
        return [(p, None)]
    if not p.is_dir():
        raise SourceError(f"{p}: no such video file or folder")
    out = []
    for f in sorted(p.rglob("*")):
        if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS:
            label = f.parent.name if f.parent != p else None
            out.append((f, label))
    if not out:
        raise SourceError(f"{p}: no video files ({', '.join(VIDEO_EXTENSIONS)}) under this folder")
    return out


class ClipSampledSource(FrameSource):
    """A video file sampled like an evaluation clip: ``T`` frames at the centres of ``T`` equal
    segments (frame ``floor((k + 0.5)·n / T)`` of ``n``), whatever its duration. The other frames
    are grabbed, never retrieved. ``t`` is ``k · seconds_per_step``."""

    live = False

    def __init__(self, path: str | os.PathLike, frames_per_clip: int, seconds_per_step: float,
                 quiet: bool = False, decode_threads: int | None = None) -> None:
        super().__init__(seconds_per_step)
        if frames_per_clip < 1:
            raise ValueError(f"frames_per_clip must be >= 1, got {frames_per_clip}")
        self.T = int(frames_per_clip)
        self._src = VideoFileSource(str(path), seconds_per_step, quiet=quiet, decode_threads=decode_threads)
        self.uri = self._src.uri
        self.n = self._count()

    def _count(self) -> int:
        n = 0
        with quiet_stderr() if self._src.quiet else nullcontext():
            while self._src.grab():
                n += 1
        if n == 0:
            raise SourceError(f"{self.uri}: no decodable video frames (corrupt or empty file)")
        self._src.close()
        self._src.open(1)
        self.fps = self._src.fps
        return n

    def indices(self) -> list[int]:
        return [min(self.n - 1, int(math.floor((k + 0.5) * self.n / self.T))) for k in range(self.T)]

    def frames(self, need: Callable[[], bool] | None = None) -> Iterator[SampledFrame]:
        idx = -1
        for k, want in enumerate(self.indices()):
            while idx < want:
                if not self._src.grab():
                    raise SourceError(f"{self.uri}: frame {idx + 1} could not be read (file changed?)")
                idx += 1
                self.grabbed += 1
            frame = dt = None
            if need is None or need():
                frame, dt = self._src.retrieve(f"{self.uri} frame {idx}")
                self.decoded += 1
            yield SampledFrame(k, k * self.sps, frame, dt, idx, idx / self.fps if self.fps else None)

    def close(self) -> None:
        self._src.close()

    def describe(self) -> dict:
        d = super().describe()
        d.update(kind="clip", frames_per_clip=self.T, frame_count=self.n)
        return d
