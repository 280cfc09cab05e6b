"""An image sequence: a folder of extracted frames or a glob, played as a video."""

from __future__ import annotations

import glob
import math
import re
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from edge_runtime.sources.base import FrameSource, SampledFrame, SourceError, to_rgb

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def _natural_key(p: Path) -> list:
    """``image_2`` before ``image_10``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


def list_images(uri: str) -> list[Path]:
    """The images of a folder, or those a glob matches, in natural order."""
    if "*" in uri:
        found = [Path(f) for f in glob.glob(uri)]
    else:
        found = list(Path(uri).iterdir())
    return sorted((f for f in found if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file()),
                  key=_natural_key)


class ImageSequenceSource(FrameSource):
    """A folder of frames or a glob of images, played as a video of ``fps`` frames per second:
    image ``i`` has time ``i / fps`` and sampling follows the video-file rule, so a folder of the
    frames extracted from a clip samples like the clip. Images are read (``cv2.imread``, any
    8/16-bit, grey or colour image comes out as 8-bit RGB) only for the frames ``need()`` wants."""

    live = False

    def __init__(self, uri: str, seconds_per_step: float, fps: float = 30.0) -> None:
        super().__init__(seconds_per_step)
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"image sequence frame rate must be a positive number, got {fps}")
        self.uri, self.fps = str(uri), float(fps)
        if "*" not in self.uri and not Path(self.uri).is_dir():
            raise SourceError(f"{self.uri}: no such folder of frames")
        self.files = list_images(self.uri)
        if not self.files:
            exts = ", ".join(IMAGE_EXTENSIONS)
            if "*" in self.uri:
                raise SourceError(f"{self.uri}: no images ({exts}) match this pattern")
            raise SourceError(f"{self.uri}: a directory with no images ({exts}) in it (a folder is "
                              f"read as a sequence of frames; a video is given by its file)")

    def _read(self, i: int) -> tuple[np.ndarray, float]:
        import cv2
        t0 = time.perf_counter()
        path = self.files[i]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise SourceError(f"{path}: cannot read this image (corrupt, truncated or not an image)")
        rgb = to_rgb(bgr, "bgr", str(path))
        self.decoded += 1
        return rgb, (time.perf_counter() - t0) * 1000.0

    def frames(self, need: Callable[[], bool] | None = None) -> Iterator[SampledFrame]:
        n = len(self.files)
        return self._sample_by_time(lambda i: i / self.fps if i < n else None, self._read, need,
                                    0.5 / self.fps)

    def describe(self) -> dict:
        d = super().describe()
        d.update(kind="images", fps=self.fps, images=len(self.files))
        return d
