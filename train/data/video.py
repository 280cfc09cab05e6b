"""Decode only the frames a clip needs: from video files (PyAV or OpenCV) or frame folders.

Every reader returns uint8 RGB HxWx3 arrays.  PyAV and OpenCV decode the same file to the same
pixels (checked on the SynthAct mp4s), so training with either matches a device that reads the
file with OpenCV.

Video files are read front to back, converting only the wanted frames to RGB (``grab``-style);
when the next wanted frame lies more than ``seek_threshold`` frames ahead the reader seeks to
the preceding key frame instead (long videos).  If a container's frame count is unknown it is
counted from the packets (no decoding).  If a video turns out a little shorter than its header
says (at most 5 %, or 2 frames), the missing indices get its last frame; a video that stops
earlier is truncated.  Any failure raises :class:`DecodeError` naming the path and the reason.
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

DECODERS = ("pyav", "opencv")


class DecodeError(RuntimeError):
    """A video or frame could not be read; the message names the path and the reason."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def _finish(path: str, indices: Sequence[int], got: dict[int, np.ndarray],
            last: tuple[int, np.ndarray] | None, num_frames: int | None) -> list[np.ndarray]:
    """Frames in the order of ``indices``; indices past the decodable end get the last frame.

    A video that ends early by more than a few frames (5 %, at least 2) is treated as corrupt."""
    if last is None:
        raise DecodeError(path, "no frame could be decoded")
    missing = sorted({int(i) for i in indices} - set(got))
    if missing:
        end = last[0] + 1  # frames actually decodable
        if num_frames is not None and num_frames - end > max(2, int(0.05 * num_frames)):
            raise DecodeError(path, f"truncated: only {end} of {num_frames} frames decodable")
        log.debug("%s: %d frames decodable, indices %s use the last one", path, end, missing)
        for i in missing:
            got[i] = last[1]
    return [got[int(i)] for i in indices]


class _SeekFailed(Exception):
    """Seeking landed after the wanted frame or timestamps are missing: read sequentially."""


# --------------------------------------------------------------------------------------- PyAV
class PyAVReader:
    """``with PyAVReader(path) as r: n = r.num_frames; frames = r.read(indices)``."""

    def __init__(self, path: str, seek_threshold: int = 64, threads: int = 1):
        self.path = str(path)
        self.seek_threshold = int(seek_threshold)
        self.threads = int(threads)
        self.container = None
        self._num_frames: int | None = None
        from av.video.reformatter import VideoReformatter
        self._reformatter = VideoReformatter()  # reused: a new SwsContext per frame is ~20x slower
        self._open()

    def _open(self) -> None:
        import av
        self.close()
        try:
            self.container = av.open(self.path, metadata_errors="ignore")
        except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as e:
            reason = "file not found" if isinstance(e, FileNotFoundError) else \
                f"cannot open ({type(e).__name__}: {e})"
            raise DecodeError(self.path, reason) from None
        if not self.container.streams.video:
            self.close()
            raise DecodeError(self.path, "no video stream")
        self.stream = self.container.streams.video[0]
        if self.threads != 1:
            self.stream.thread_type = "AUTO"
        self.stream.codec_context.thread_count = max(0, self.threads)

    def __enter__(self) -> "PyAVReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None

    @property
    def fps(self) -> float:
        rate = self.stream.average_rate or self.stream.guessed_rate
        return float(rate) if rate else 0.0

    @property
    def num_frames(self) -> int:
        """From the container header; counted from the packets when the header has none."""
        import av
        if self._num_frames is None:
            n = int(self.stream.frames or 0)
            if n <= 0:
                try:
                    n = sum(1 for p in self.container.demux(self.stream) if p.size)
                except av.error.FFmpegError as e:
                    raise DecodeError(self.path, f"cannot count frames ({type(e).__name__}: {e})") \
                        from None
                self._open()
            if n <= 0:
                raise DecodeError(self.path, "the video stream has no frames")
            self._num_frames = n
        return self._num_frames

    def _sequential(self):
        for idx, frame in enumerate(self.container.decode(self.stream)):
            yield idx, frame

    def _seek_to(self, target: int):
        start = self.stream.start_time or 0
        tb, fps = float(self.stream.time_base), self.fps
        self.container.seek(start + int(target / fps / tb), stream=self.stream, backward=True,
                            any_frame=False)
        first = True
        for frame in self.container.decode(self.stream):
            if frame.pts is None:
                raise _SeekFailed
            idx = int(round((frame.pts - start) * tb * fps))
            if first and idx > target:
                raise _SeekFailed
            first = False
            yield idx, frame

    def read(self, indices: Sequence[int]) -> list[np.ndarray]:
        """RGB frames at the given 0-based indices (any order, repeats allowed)."""
        import av
        wanted = sorted({int(i) for i in indices})
        can_seek = bool(self.fps) and self.stream.time_base is not None
        try:
            try:
                got, last = self._read_sorted(wanted, allow_seek=can_seek)
            except _SeekFailed:
                self._open()
                got, last = self._read_sorted(wanted, allow_seek=False)
        except (av.error.FFmpegError, MemoryError) as e:
            raise DecodeError(self.path, f"decoding failed ({type(e).__name__}: {e})") from None
        return _finish(self.path, indices, got, last, self._num_frames)

    def _read_sorted(self, wanted: list[int], allow_seek: bool):
        import av
        got: dict[int, np.ndarray] = {}
        cur = None      # (index, av frame, rgb array or None): the last frame pulled
        it = self._sequential()
        try:
            for target in wanted:
                if cur is not None and cur[0] >= target:  # already pulled (timestamp gaps)
                    pass
                else:
                    pos = cur[0] + 1 if cur is not None else 0
                    if allow_seek and target - pos > self.seek_threshold:
                        it = self._seek_to(target)
                    for idx, frame in it:
                        cur = (idx, frame, None)
                        if idx >= target:
                            break
                    else:
                        break  # end of stream
                    if cur[0] < target:
                        break
                if cur[2] is None:
                    cur = (cur[0], cur[1], self._rgb(cur[1]))
                got[target] = cur[2]
        except av.error.FFmpegError as e:
            if cur is None:
                raise
            log.debug("%s: decoding stopped early (%s)", self.path, e)
        if cur is None:
            return got, None
        last = cur[2] if cur[2] is not None else self._rgb(cur[1])
        return got, (cur[0], last)

    def _rgb(self, frame) -> np.ndarray:
        return self._reformatter.reformat(frame, format="rgb24").to_ndarray()


# ------------------------------------------------------------------------------------- OpenCV
class OpenCVReader:
    """Same interface as :class:`PyAVReader`, on ``cv2.VideoCapture`` (grab / retrieve)."""

    def __init__(self, path: str, seek_threshold: int = 64, threads: int = 1):
        import cv2
        self.path = str(path)
        self.seek_threshold = seek_threshold
        if not os.path.isfile(self.path):
            raise DecodeError(self.path, "file not found")
        self.cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
        if not self.cap.isOpened():
            self.close()
            raise DecodeError(self.path, "cannot open (OpenCV VideoCapture failed)")
        self._num_frames: int | None = None

    def __enter__(self) -> "OpenCVReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        cap = getattr(self, "cap", None)
        if cap is not None:
            cap.release()
            self.cap = None

    @property
    def fps(self) -> float:
        import cv2
        return float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0)

    @property
    def num_frames(self) -> int:
        import cv2
        if self._num_frames is None:
            n = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            if n <= 0:  # unknown: count by grabbing, then reopen
                n = 0
                while self.cap.grab():
                    n += 1
                self.cap.release()
                self.cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
            if n <= 0:
                raise DecodeError(self.path, "the video stream has no frames")
            self._num_frames = n
        return self._num_frames

    def read(self, indices: Sequence[int]) -> list[np.ndarray]:
        """RGB frames at the given 0-based indices (any order, repeats allowed)."""
        import cv2
        wanted = sorted({int(i) for i in indices})
        got: dict[int, np.ndarray] = {}
        last_rgb = None
        pos = 0  # index of the next frame grab() would decode
        try:
            for target in wanted:
                if target - pos > self.seek_threshold:
                    self.cap.set(cv2.CAP_PROP_POS_FRAMES, target)
                    pos = int(self.cap.get(cv2.CAP_PROP_POS_FRAMES))
                    if pos != target:  # inexact seek: restart and grab sequentially
                        self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                        pos = 0
                while pos < target and self.cap.grab():
                    pos += 1
                if pos < target:
                    break
                ok, bgr = self.cap.read()
                if not ok or bgr is None:
                    break
                pos += 1
                last_rgb = got[target] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        except cv2.error as e:
            raise DecodeError(self.path, f"decoding failed (cv2.error: {e})") from None
        last = (pos - 1, last_rgb) if last_rgb is not None else None
        return _finish(self.path, indices, got, last, self._num_frames)


def open_video(path: str, decoder: str = "pyav", seek_threshold: int = 64, threads: int = 1):
    if decoder == "pyav":
        return PyAVReader(path, seek_threshold=seek_threshold, threads=threads)
    if decoder == "opencv":
        return OpenCVReader(path, seek_threshold=seek_threshold, threads=threads)
    raise ValueError(f"decoder={decoder!r} is not one of {list(DECODERS)}")


def read_video(path: str, indices_for, decoder: str = "pyav", seek_threshold: int = 64,
               threads: int = 1) -> tuple[list[np.ndarray], np.ndarray, int]:
    """Open ``path``, pick indices with ``indices_for(num_frames)``, decode just those.

    Returns (frames, indices, num_frames)."""
    with open_video(path, decoder, seek_threshold, threads) as r:
        n = r.num_frames
        idx = np.asarray(indices_for(n), dtype=np.int64)
        return r.read(idx.tolist()), idx, n


# ------------------------------------------------------------------------------- frame folders
def read_image(path: str) -> np.ndarray:
    import cv2
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        reason = "file not found" if not os.path.exists(path) else "not a readable image"
        raise DecodeError(path, reason)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_frame_folder(folder: str, indices: Sequence[int], image_tmpl: str,
                      index_base: int = 1) -> list[np.ndarray]:
    """Frames ``folder/image_tmpl.format(i + index_base)`` for 0-based ``indices``."""
    cache: dict[int, np.ndarray] = {}
    out = []
    for i in indices:
        i = int(i)
        if i not in cache:
            cache[i] = read_image(os.path.join(folder, image_tmpl.format(i + index_base)))
        out.append(cache[i])
    return out
