"""What the OpenCV ``VideoCapture`` sources share: opening with retries (FFmpeg decoder threads
and timeouts, a capture size asked of cameras), grabbing, decoding to RGB, closing. One subclass
per kind: :mod:`edge_runtime.sources.video_file` and :mod:`edge_runtime.sources.live_capture`."""

from __future__ import annotations

import math
import sys
import time
from typing import Any, Callable

import numpy as np

from edge_runtime.sources.base import FrameSource, SourceError, check_capture_size, quiet_stderr, to_rgb


def gstreamer_available() -> bool:
    import cv2
    for line in cv2.getBuildInformation().splitlines():
        if "GStreamer" in line and ":" in line:
            return "YES" in line.split(":", 1)[1].upper()
    return False


def csi_pipeline(sensor_id: int, width: int = 1280, height: int = 720, fps: int = 30) -> str:
    """The usual Jetson CSI camera pipeline (Argus ISP → BGR appsink)."""
    return (f"nvarguscamerasrc sensor-id={sensor_id} ! video/x-raw(memory:NVMM), width={width}, "
            f"height={height}, framerate={fps}/1 ! nvvidconv ! video/x-raw, format=BGRx ! "
            f"videoconvert ! video/x-raw, format=BGR ! appsink drop=1 max-buffers=1")


class OpenCVSource(FrameSource):
    """An OpenCV ``VideoCapture``; subclasses say how to open their kind (:meth:`make_factory`).

    capture_factory: a callable returning an opened capture (tests, custom backends) instead of
    :meth:`make_factory`'s."""

    kind = ""                   # the URI kind (edge_runtime.sources.SOURCE_KINDS)
    noun = "source"             # for messages: "cannot open the <noun>"
    asks_size = False           # cameras: ask the driver for capture_size
    uses_stream_timeout = False  # network streams: bound FFmpeg's connect and reads

    def __init__(self, uri: str, seconds_per_step: float, *,
                 open_tries: int = 1, reconnect_tries: int = 5, backoff_s: float = 0.5,
                 backoff_max_s: float = 8.0, capture_factory: Callable[[], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 log: Callable[[str], None] | None = None, quiet: bool = False,
                 decode_threads: int | None = None, capture_size: tuple[int, int] | None = None,
                 grab_thread: bool = True, stream_timeout_s: float | None = 5.0) -> None:
        super().__init__(seconds_per_step)
        self.quiet = bool(quiet)
        if decode_threads is not None and int(decode_threads) < 0:
            raise ValueError(f"decode_threads must be >= 0 (0 = the decoder's default), got {decode_threads}")
        self.decode_threads = int(decode_threads) if decode_threads else None
        self.uri = str(uri)
        if stream_timeout_s is not None and not (math.isfinite(stream_timeout_s) and stream_timeout_s > 0):
            raise ValueError(f"stream_timeout_s must be a positive number of seconds (or None for "
                             f"FFmpeg's 30 s), got {stream_timeout_s}")
        # network streams only: FFmpeg gives up a connect or a read after this long (then reconnect)
        self.stream_timeout_s = float(stream_timeout_s) if stream_timeout_s and self.uses_stream_timeout else None
        self.capture_size = check_capture_size(capture_size, self.uri, self.kind)
        self.delivered_size: tuple[int, int] | None = None   # what the camera agreed to, (W, H)
        self.grab_thread = bool(grab_thread) and self.live
        self.open_tries = max(1, int(open_tries))
        self.reconnect_tries = max(0, int(reconnect_tries))
        self.backoff_s = float(backoff_s)
        self.backoff_max_s = float(backoff_max_s)
        self.clock, self.sleep = clock, sleep
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self._factory = capture_factory or self.make_factory()
        self.cap = None
        self.fps = 0.0
        self.open(self.open_tries)

    # ------------------------------------------------------------------ opening
    def make_factory(self) -> Callable[[], Any]:
        """A callable that opens this source's capture (raises SourceError when it cannot be)."""
        raise NotImplementedError

    def _ffmpeg_opener(self, target: str, api: int, timeout_s: float | None = None) -> Callable[[], Any]:
        """Open ``target``; with ``decode_threads`` through FFmpeg with that many decoder threads
        (``CAP_PROP_N_THREADS``), falling back to the default open where FFmpeg cannot (files).
        ``timeout_s`` (network streams) bounds FFmpeg's connect and each read
        (``CAP_PROP_OPEN/READ_TIMEOUT_MSEC``; FFmpeg's own default is 30 s): a stalled stream's
        ``grab()`` then returns False and the source reconnects."""
        import cv2
        params: list[int] = []
        if self.decode_threads:
            params += [cv2.CAP_PROP_N_THREADS, self.decode_threads]
        if timeout_s:
            ms = max(1, int(round(timeout_s * 1000)))
            params += [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        if not params:
            return lambda: cv2.VideoCapture(target, api)

        def open_with_params() -> Any:
            cap = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
            if cap.isOpened() or api == cv2.CAP_FFMPEG:
                return cap     # a stream that timed out is not tried again without its timeout
            cap.release()
            return cv2.VideoCapture(target, api)
        return open_with_params

    def _open_once(self) -> Any:
        import cv2
        try:
            if self.quiet:
                with quiet_stderr():
                    cap = self._factory()
            else:
                cap = self._factory()
        except SourceError:
            raise
        except Exception as e:  # cv2.error and friends
            self._last_error = f"{type(e).__name__}: {e}"
            return None
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            return None
        if self.live:
            try:
                cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            except Exception:
                pass
        if self.capture_size is not None and self.asks_size:
            self._ask_size(cap)
        return cap

    def _ask_size(self, cap: Any) -> None:
        """Ask a camera for ``capture_size``; say once when it delivers another size (drivers
        round to the modes they have)."""
        import cv2
        w, h = self.capture_size
        try:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, float(w))
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, float(h))
            got = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        except Exception as e:  # a driver without the properties
            got = None
            self._last_error = f"{type(e).__name__}: {e}"
        if got != self.delivered_size and got != (w, h):
            self.log(f"[arnet-edge] {self.uri}: asked the camera for {w}x{h}, it delivers "
                     f"{'an unknown size' if got is None or 0 in got else f'{got[0]}x{got[1]}'}")
        self.delivered_size = got

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_s * (2 ** attempt), self.backoff_max_s)

    def open(self, tries: int) -> None:
        """Open the capture, up to ``tries`` attempts with backoff; SourceError when none works."""
        self._last_error = ""
        for attempt in range(tries):
            if attempt > 0:
                self.sleep(self._backoff(attempt - 1))
            cap = self._open_once()
            if cap is not None:
                self.cap = cap
                self._read_props()
                return
        raise SourceError(self.open_failed(tries, f" ({self._last_error})" if self._last_error else ""))

    def open_failed(self, tries: int, extra: str) -> str:
        if self.stream_timeout_s:
            extra += f" (each attempt waited up to {self.stream_timeout_s:g} s for the stream)"
        return (f"{self.uri}: cannot open the {self.noun} after {tries} attempt(s){extra}; "
                f"check that it is connected and not used by another program")

    def _read_props(self) -> None:
        import cv2
        try:
            self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0)
        except Exception:
            self.fps = 0.0
        if not math.isfinite(self.fps) or self.fps < 0 or self.fps > 1000:
            self.fps = 0.0

    def grab(self) -> bool:
        """Grab the next frame (not decoded); False when the capture gives none."""
        return bool(self.cap.grab())

    def retrieve(self, where: str) -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        ok, raw = self.cap.retrieve()
        if not ok or raw is None:
            raise SourceError(f"{where}: could not decode the frame (corrupt data?)")
        rgb = to_rgb(raw, "bgr", where)
        self.decoded += 1
        return rgb, (time.perf_counter() - t0) * 1000.0

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None

    def describe(self) -> dict:
        d = super().describe()
        d.update(kind=self.kind, fps=self.fps, reconnects=self.reconnects,
                 decode_threads=self.decode_threads)
        if self.stream_timeout_s:
            d.update(stream_timeout_s=self.stream_timeout_s)
        if self.capture_size is not None:
            d.update(capture_size=list(self.capture_size),
                     delivered_size=None if self.delivered_size is None else list(self.delivered_size))
        return d
