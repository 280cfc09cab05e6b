"""Frame sources by URI (jetson-utils style), sampled at the model's ``seconds_per_step``.

=============================  ===========================================================
URI                            source
=============================  ===========================================================
``0``, ``1`` …                 camera by index (OpenCV default backend: V4L2 on Linux)
``/dev/video0``                V4L2 device
``csi://0``                    Jetson CSI camera (``nvarguscamerasrc`` GStreamer pipeline)
``rtsp://…``, ``http(s)://…``  network stream (FFmpeg)
``… ! … ! appsink``            a GStreamer pipeline string (needs OpenCV built with GStreamer)
``synthetic://[pattern]?…``    test pattern: ``bars`` (default), ``noise``, ``flat``; query
                               ``size=WxH``, ``fps``, ``frames`` (default: endless),
                               ``channels`` (1/3/4), ``realtime=1`` (pace by the wall clock)
``path/to/video.mp4``          a video file
``frames/video_1/``            an image sequence: a folder of frames (AR-Net/TSN's extracted
``frames/*.jpg``               ``image_00001.jpg`` …, natural order) or a glob, played at
                               ``image_fps`` frames per second (live.py ``--input-rate``)
=============================  ===========================================================

Sampling: one *sampled frame* every ``seconds_per_step``. Files, image sequences and
``synthetic://`` sample by their own timestamps (frame ``i`` has time ``pos_msec`` or ``i / fps``; sample ``k`` at
``k · seconds_per_step`` takes the first frame whose time is within half a frame period of it, so
the nearest frame), independent of the wall clock and of the stream's fps. Live sources sample by
the wall clock: a grab thread per source (``grab_thread``, default on) grabs every frame as it
comes, so the driver's and FFmpeg's queues never fill while a step runs or other streams are
read, and when a step is due the next frame grabbed is taken (at most one camera frame later).
Without the thread (``grab_thread=False``) the frames are grabbed by the caller between steps:
fine for one source, but several read in turn fall behind their queues.

A sampled frame the pipeline will not look at (covered by a skip: ``need()`` returns False) is
grabbed but never decoded (``grab()`` without ``retrieve()``), never converted, never resized.

Frames come out as uint8 RGB HxWx3: BGR is converted, grayscale replicated, BGRA drops alpha;
other shapes or dtypes are rejected with a :class:`SourceError`.

Capture size (cameras: index, ``/dev/videoN``, ``csi://``; ``capture_size=(W, H)``, live.py's
``--input-size WxH``): asked of the driver (V4L2 ``CAP_PROP_FRAME_WIDTH/HEIGHT``, the CSI
pipeline's caps); a camera that delivers another size says so once. Every frame is reduced to
the model's few hundred pixels anyway, and on the host that reduction of a big frame costs the
same for AR-Net and for uniform (the pyramid's first halvings, docs/RESULTS.md §2c): a camera
asked for a small mode saves that work. Files and network streams come at their own size.

Decoder threads (files and network streams, ``decode_threads``): FFmpeg's default decodes with
several threads that keep working beside the inference engine; on a 2-core machine that takes
cores from the engine's thread pool. ``decode_threads=1`` keeps the decoder on one thread (for
256 px SynthAct it is also faster per frame: 0.06 vs 0.10 ms); None / 0 = FFmpeg's default.

Live sources that cannot be opened raise :class:`SourceError` at once (``open_tries`` to retry);
a live stream that stops delivering frames is reopened with exponential backoff
(``reconnect_tries`` attempts, ``backoff_s · 2^i`` capped at ``backoff_max_s``) and then fails with
a clear message. A network stream's connect and each read are bounded by ``stream_timeout_s``
(FFmpeg's own wait is 30 s), so a stalled stream is noticed in seconds.
"""

from __future__ import annotations

import glob
import math
import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlparse

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


# =============================================================================== base
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


# =============================================================================== synthetic
class SyntheticSource(FrameSource):
    """Deterministic moving test pattern (no decoder involved)."""

    live = False

    def __init__(self, uri: str, seconds_per_step: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(seconds_per_step)
        self.uri = uri
        u = urlparse(uri)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        self.pattern = (u.netloc or u.path.strip("/") or "bars").lower()
        if self.pattern not in ("bars", "noise", "flat"):
            raise SourceError(f"{uri}: unknown synthetic pattern {self.pattern!r}; choose bars, noise or flat")
        try:
            w, h = (int(v) for v in q.get("size", "320x240").lower().split("x"))
            self.fps = float(q.get("fps", 30.0))
            self.max_frames = int(q["frames"]) if "frames" in q else None
            self.channels = int(q.get("channels", 3))
            self.realtime = q.get("realtime", "0").lower() in ("1", "true", "yes")
            self.seed = int(q.get("seed", 0))
        except ValueError as e:
            raise SourceError(f"{uri}: bad query ({e}); e.g. synthetic://bars?size=320x240&fps=30&frames=100") from None
        if w < 1 or h < 1 or self.fps <= 0 or self.channels not in (1, 3, 4):
            raise SourceError(f"{uri}: size must be positive, fps > 0, channels 1, 3 or 4")
        self.w, self.h = w, h
        self.clock, self.sleep = clock, sleep
        xs = np.arange(w, dtype=np.int32)
        ys = np.arange(h, dtype=np.int32)
        base = np.empty((h, w, 3), np.uint8)
        base[:, :, 0] = ((xs[None, :] * 255) // max(w - 1, 1)).astype(np.uint8)
        base[:, :, 1] = ((ys[:, None] * 255) // max(h - 1, 1)).astype(np.uint8)
        base[:, :, 2] = (((xs[None, :] // 16 + ys[:, None] // 16) % 2) * 200).astype(np.uint8)
        self._base = base
        self._buf = np.empty_like(base)

    def _render(self, i: int) -> np.ndarray:
        if self.pattern == "noise":
            rng = np.random.default_rng([self.seed, i])
            f = rng.integers(0, 256, size=(self.h, self.w, 3), dtype=np.uint8)
        elif self.pattern == "flat":
            f = np.full((self.h, self.w, 3), (i * 7) % 256, np.uint8)
        else:
            shift = (i * 4) % self.w
            f = self._buf
            f[:, : self.w - shift] = self._base[:, shift:]
            f[:, self.w - shift:] = self._base[:, :shift]
            # a bright square that moves diagonally: gives the policy something to look at
            s = max(self.h // 6, 2)
            y0 = (i * 3) % max(self.h - s, 1)
            x0 = (i * 5) % max(self.w - s, 1)
            f[y0:y0 + s, x0:x0 + s] = (255, 255, 255)
            f = f.copy()
        if self.channels == 1:
            return f[:, :, 0]
        if self.channels == 4:
            return np.concatenate([f, np.full((self.h, self.w, 1), 255, np.uint8)], axis=2)
        return f

    def frames(self, need: Callable[[], bool] | None = None) -> Iterator[SampledFrame]:
        start = self.clock()
        k = 0
        while True:
            i = int(math.floor(k * self.sps * self.fps + 0.5))
            if self.max_frames is not None and i >= self.max_frames:
                return
            t = k * self.sps
            if self.realtime:
                delay = start + t - self.clock()
                if delay > 0:
                    self.sleep(delay)
            self.grabbed += 1
            frame = dt = None
            if need is None or need():
                t0 = time.perf_counter()
                raw = self._render(i)
                frame = raw if raw.ndim == 3 and raw.shape[2] == 3 else to_rgb(raw, "rgb", self.uri)
                dt = (time.perf_counter() - t0) * 1000.0
                self.decoded += 1
            yield SampledFrame(k, t, frame, dt, i, i / self.fps)
            k += 1

    def describe(self) -> dict:
        d = super().describe()
        d.update(kind="synthetic", pattern=self.pattern, size=[self.w, self.h], fps=self.fps)
        return d


# =============================================================================== OpenCV
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


class CaptureSource(FrameSource):
    """An OpenCV ``VideoCapture`` (file, camera, network stream or GStreamer pipeline)."""

    def __init__(self, uri: str, seconds_per_step: float, *, kind: str | None = None,
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
        self.kind = kind or classify_uri(self.uri)
        if stream_timeout_s is not None and not (math.isfinite(stream_timeout_s) and stream_timeout_s > 0):
            raise ValueError(f"stream_timeout_s must be a positive number of seconds (or None for "
                             f"FFmpeg's 30 s), got {stream_timeout_s}")
        # network streams only: FFmpeg gives up a connect or a read after this long (then reconnect)
        self.stream_timeout_s = float(stream_timeout_s) if stream_timeout_s and self.kind == "network" else None
        self.live = self.kind != "file"
        self.capture_size = check_capture_size(capture_size, self.uri, self.kind)
        self.delivered_size: tuple[int, int] | None = None   # what the camera agreed to, (W, H)
        self.grab_thread = bool(grab_thread) and self.live
        self._grabber: _Grabber | None = None
        self.open_tries = max(1, int(open_tries))
        self.reconnect_tries = max(0, int(reconnect_tries))
        self.backoff_s = float(backoff_s)
        self.backoff_max_s = float(backoff_max_s)
        self.clock, self.sleep = clock, sleep
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self._factory = capture_factory or self._default_factory()
        self.cap = None
        self.fps = 0.0
        self._open_with_retries(self.open_tries)

    # ------------------------------------------------------------------ opening
    def _default_factory(self) -> Callable[[], Any]:
        import cv2
        uri, kind = self.uri, self.kind
        if kind == "camera":
            idx = int(uri)
            return lambda: cv2.VideoCapture(idx)
        if kind == "v4l2":
            dev = uri[len("v4l2://"):] if uri.lower().startswith("v4l2://") else uri
            if not os.path.exists(dev):
                raise SourceError(f"{uri}: no such video device (is the camera plugged in? "
                                  f"ls /dev/video*)")
            return lambda: cv2.VideoCapture(dev, cv2.CAP_V4L2)
        if kind in ("csi", "gstreamer"):
            if not gstreamer_available():
                raise SourceError(f"{uri}: this OpenCV ({cv2.__version__}) is built without GStreamer; "
                                  f"the pip wheels have none — on Jetson use the system OpenCV "
                                  f"(python3-opencv from JetPack) in a venv with --system-site-packages")
            pipe = uri
            if kind == "csi":
                try:
                    sensor = int(uri[len("csi://"):] or 0)
                except ValueError:
                    raise SourceError(f"{uri}: expected csi://<sensor id>, e.g. csi://0") from None
                w, h = self.capture_size or (1280, 720)
                pipe = csi_pipeline(sensor, w, h)
            elif "appsink" not in pipe:
                pipe = pipe.rstrip().rstrip("!") + " ! appsink drop=1 max-buffers=1"
            return lambda: cv2.VideoCapture(pipe, cv2.CAP_GSTREAMER)
        if kind == "network":
            return self._ffmpeg_opener(uri, cv2.CAP_FFMPEG, self.stream_timeout_s)
        # file
        path = uri[len("file://"):] if uri.lower().startswith("file://") else uri
        p = Path(path)
        if not p.exists():
            raise SourceError(f"{path}: no such video file (nor a camera index, /dev/videoN, "
                              f"rtsp://, csi://, GStreamer pipeline or synthetic:// URI)")
        if p.is_dir():
            raise SourceError(f"{path}: is a directory, not a video file")
        self.path = p
        return self._ffmpeg_opener(str(p), cv2.CAP_ANY)

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
        if self.capture_size is not None and self.kind in ("camera", "v4l2"):
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

    def _open_with_retries(self, tries: int) -> None:
        self._last_error = ""
        for attempt in range(tries):
            if attempt > 0:
                self.sleep(self._backoff(attempt - 1))
            cap = self._open_once()
            if cap is not None:
                self.cap = cap
                self._read_props()
                return
        what = {"camera": "camera", "v4l2": "camera", "csi": "CSI camera", "network": "stream",
                "gstreamer": "GStreamer pipeline", "file": "video file"}[self.kind]
        extra = f" ({self._last_error})" if self._last_error else ""
        if self.kind == "file":
            raise SourceError(f"{self.uri}: cannot open the video file (corrupt, truncated or an "
                              f"unsupported codec){extra}")
        if self.stream_timeout_s:
            extra += f" (each attempt waited up to {self.stream_timeout_s:g} s for the stream)"
        raise SourceError(f"{self.uri}: cannot open the {what} after {tries} attempt(s){extra}; "
                          f"check that it is connected and not used by another program")

    def _read_props(self) -> None:
        import cv2
        try:
            self.fps = float(self.cap.get(cv2.CAP_PROP_FPS) or 0.0)
        except Exception:
            self.fps = 0.0
        if not math.isfinite(self.fps) or self.fps < 0 or self.fps > 1000:
            self.fps = 0.0

    def _reconnect(self, wait: Callable[[float], bool] | None = None) -> None:
        """The live stream stopped: reopen with exponential backoff, or raise. ``wait`` (the grab
        thread's stop event) sleeps a backoff and says True once the source is being closed,
        which ends the attempts at once; without it the backoff is ``self.sleep``."""
        if self.cap is not None:
            self.cap.release()
            self.cap = None
        for attempt in range(self.reconnect_tries):
            delay = self._backoff(attempt)
            self.log(f"[arnet-edge] {self.uri}: stream lost; reconnecting in {delay:.2f}s "
                     f"(attempt {attempt + 1}/{self.reconnect_tries})")
            if wait is None:
                self.sleep(delay)
            elif wait(delay):
                raise SourceError(f"{self.uri}: source is closed")
            cap = self._open_once()
            if cap is not None:
                self.cap = cap
                self._read_props()
                self.reconnects += 1
                return
        raise SourceError(f"{self.uri}: the source stopped delivering frames and "
                          f"{self.reconnect_tries} reconnect attempt(s) with exponential backoff "
                          f"failed; check the camera/stream and restart")

    def close(self) -> None:
        g, self._grabber = self._grabber, None
        if g is not None and not g.shutdown():
            # the thread is stuck in grab() on a dead stream: releasing the capture under it
            # could crash OpenCV; the daemon thread and its capture go with the process
            self.cap = None
            return
        if self.cap is not None:
            self.cap.release()
            self.cap = None

    def _retrieve(self, where: str) -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        ok, raw = self.cap.retrieve()
        if not ok or raw is None:
            raise SourceError(f"{where}: could not decode the frame (corrupt data?)")
        rgb = to_rgb(raw, "bgr", where)
        self.decoded += 1
        return rgb, (time.perf_counter() - t0) * 1000.0

    # ------------------------------------------------------------------ iteration
    def frames(self, need: Callable[[], bool] | None = None) -> Iterator[SampledFrame]:
        if self.cap is None:
            raise SourceError(f"{self.uri}: source is closed")
        if self.live:
            return self._threaded_frames(need) if self.grab_thread else self._live_frames(need)
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

        return self._sample_by_time(next_time, lambda i: self._retrieve(f"{self.uri} frame {i}"), need,
                                    0.5 / fps if fps > 0 else 1e-6)

    def _threaded_frames(self, need: Callable[[], bool] | None) -> Iterator[SampledFrame]:
        """Live sampling with a grab thread (:class:`_Grabber`): wait until a step is due, then
        take the next frame the camera sends, decoded when ``need()`` says so."""
        if self._grabber is not None:
            raise SourceError(f"{self.uri}: frames() is already being read")
        start = self.clock()
        g = self._grabber = _Grabber(self, start)
        due = 0.0
        k = 0
        try:
            while True:
                now = self.clock() - start
                if now + 1e-4 < due:
                    self.sleep(due - now)
                frame, dt, idx, t = g.take(need is None or need())
                yield SampledFrame(k, t, frame, dt, idx, t)
                k += 1
                due = self._next_due(due, start)
        finally:
            if self._grabber is g:
                self._grabber = None
                g.shutdown()

    def _live_frames(self, need: Callable[[], bool] | None) -> Iterator[SampledFrame]:
        start = self.clock()
        due = 0.0
        k = 0
        idx = -1
        while True:
            if not self.cap.grab():
                self._reconnect()
                continue
            idx += 1
            self.grabbed += 1
            now = self.clock() - start
            if now + 1e-4 < due:
                continue  # not time for a step yet: grabbed, never decoded
            frame = dt = None
            if need is None or need():
                frame, dt = self._retrieve(f"{self.uri} frame {idx}")
            yield SampledFrame(k, now, frame, dt, idx, now)
            k += 1
            due = self._next_due(due, start)

    def _next_due(self, due: float, start: float) -> float:
        """The next step's time; more than a step behind, the missed slots are dropped."""
        due += self.sps
        now = self.clock() - start
        return now if now > due + self.sps else due

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


class _Grabber:
    """A live capture read on its own thread. Every frame is grabbed as the source sends it, so
    neither the driver's queue nor FFmpeg's fills while the pipeline runs a step or reads other
    streams (several live sources read in turn on one thread would each fall further behind);
    a frame is decoded only when the consumer asks (``take``): the next one grabbed after asking.
    The capture is touched by this thread alone (OpenCV captures are not thread-safe);
    reconnects run here too, and their final ``SourceError`` reaches the consumer."""

    def __init__(self, src: "CaptureSource", start: float) -> None:
        self.src, self.start = src, start
        self.cond = threading.Condition()
        self.want: bool | None = None    # a frame is asked for (decoded when True)
        self.result: tuple | None = None
        self.error: BaseException | None = None
        self.stopping = False
        self.stop_event = threading.Event()   # wakes a reconnect backoff when the source closes
        self.idx = -1
        self.thread = threading.Thread(target=self._run, name=f"arnet-grab {src.uri}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        src = self.src
        try:
            while not self.stopping:
                if not src.cap.grab():
                    if self.stopping:
                        return
                    src._reconnect(self.stop_event.wait)   # raises SourceError once it gives up
                    continue
                self.idx += 1
                src.grabbed += 1
                t = src.clock() - self.start
                want = self.want
                if want is None:
                    continue           # grabbed, never decoded
                frame = dt = None
                if want:
                    frame, dt = src._retrieve(f"{src.uri} frame {self.idx}")
                with self.cond:
                    self.result, self.want = (frame, dt, self.idx, t), None
                    self.cond.notify_all()
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            with self.cond:
                self.error = e
                self.cond.notify_all()

    def take(self, decode: bool) -> tuple:
        """(frame or None, decode ms or None, source index, seconds since start) of the next frame."""
        with self.cond:
            self.result, self.want = None, bool(decode)
            while self.result is None and self.error is None:
                if self.stopping or not self.thread.is_alive():
                    raise SourceError(f"{self.src.uri}: source is closed")
                self.cond.wait(0.2)
            if self.result is None:
                raise self.error
            r, self.result = self.result, None
            return r

    def shutdown(self, timeout: float | None = None) -> bool:
        """Stop the thread; False when it did not end within ``timeout`` (blocked in grab()).
        The default waits 2 s more than a network stream's timeout, which bounds its grab()."""
        self.stopping = True
        self.stop_event.set()
        self.thread.join(2.0 + (self.src.stream_timeout_s or 0.0) if timeout is None else timeout)
        return not self.thread.is_alive()


# =============================================================================== image sequences
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


# =============================================================================== factory
def open_source(uri: Any, seconds_per_step: float, **kw: Any) -> FrameSource:
    """Open ``uri`` (see the module doc) for sampling every ``seconds_per_step`` seconds.

    Keyword arguments go to :class:`CaptureSource` (``open_tries``, ``reconnect_tries``,
    ``backoff_s``, ``backoff_max_s``, ``capture_factory``, ``clock``, ``sleep``, ``log``,
    ``decode_threads``, ``capture_size`` (W, H): cameras only, ``stream_timeout_s``: network
    streams only), to :class:`SyntheticSource` (``clock``, ``sleep``) or to
    :class:`ImageSequenceSource` (``image_fps``)."""
    s = str(uri).strip()
    if not s:
        raise SourceError("empty source URI")
    kind = classify_uri(s)
    image_fps = kw.pop("image_fps", None)
    if kind == "synthetic":
        check_capture_size(kw.get("capture_size"), s, "synthetic")
        kw = {k: v for k, v in kw.items() if k in ("clock", "sleep")}
        return SyntheticSource(s, seconds_per_step, **kw)
    if kind == "images":
        check_capture_size(kw.get("capture_size"), s, "images")
        return ImageSequenceSource(s, seconds_per_step, fps=30.0 if image_fps is None else image_fps)
    return CaptureSource(s, seconds_per_step, kind=kind, **kw)


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
        self._src = CaptureSource(str(path), seconds_per_step, kind="file", quiet=quiet,
                                  decode_threads=decode_threads)
        self.uri = self._src.uri
        self.n = self._count()

    def _count(self) -> int:
        import cv2
        n = 0
        with quiet_stderr() if self._src.quiet else _null_ctx():
            while self._src.cap.grab():
                n += 1
        if n == 0:
            raise SourceError(f"{self.uri}: no decodable video frames (corrupt or empty file)")
        self._src.close()
        self._src._open_with_retries(1)
        self.fps = self._src.fps
        _ = cv2
        return n

    def indices(self) -> list[int]:
        return [min(self.n - 1, int(math.floor((k + 0.5) * self.n / self.T))) for k in range(self.T)]

    def frames(self, need: Callable[[], bool] | None = None) -> Iterator[SampledFrame]:
        cap = self._src.cap
        idx = -1
        for k, want in enumerate(self.indices()):
            while idx < want:
                if not cap.grab():
                    raise SourceError(f"{self.uri}: frame {idx + 1} could not be read (file changed?)")
                idx += 1
                self.grabbed += 1
            frame = dt = None
            if need is None or need():
                frame, dt = self._src._retrieve(f"{self.uri} frame {idx}")
                self.decoded += 1
            yield SampledFrame(k, k * self.sps, frame, dt, idx, idx / self.fps if self.fps else None)

    def close(self) -> None:
        self._src.close()

    def describe(self) -> dict:
        d = super().describe()
        d.update(kind="clip", frames_per_clip=self.T, frame_count=self.n)
        return d


@contextmanager
def _null_ctx() -> Iterator[None]:
    yield
