"""Live captures: cameras (index, ``/dev/videoN``, ``csi://``), GStreamer pipelines and network
streams. Sampled by the wall clock, each read by a grab thread (:mod:`edge_runtime.sources.grabber`)
so no queue fills while steps run; a stream that stops is reopened with exponential backoff."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator

from edge_runtime.sources.base import SampledFrame, SourceError
from edge_runtime.sources.capture import OpenCVSource, csi_pipeline, gstreamer_available
from edge_runtime.sources.grabber import Grabber


class LiveCaptureSource(OpenCVSource):
    """A live OpenCV capture: sampled by the wall clock, reconnected when it stops."""

    live = True

    def __init__(self, uri: str, seconds_per_step: float, **kw: Any) -> None:
        self._grabber: Grabber | None = None
        super().__init__(uri, seconds_per_step, **kw)

    def reconnect(self, wait: Callable[[float], bool] | None = None) -> None:
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
        super().close()

    # ------------------------------------------------------------------ iteration
    def frames(self, need: Callable[[], bool] | None = None) -> Iterator[SampledFrame]:
        if self.cap is None:
            raise SourceError(f"{self.uri}: source is closed")
        return self._threaded_frames(need) if self.grab_thread else self._live_frames(need)

    def _threaded_frames(self, need: Callable[[], bool] | None) -> Iterator[SampledFrame]:
        """Live sampling with a grab thread (:class:`~edge_runtime.sources.grabber.Grabber`): wait until a step is due, then
        take the next frame the camera sends, decoded when ``need()`` says so."""
        if self._grabber is not None:
            raise SourceError(f"{self.uri}: frames() is already being read")
        start = self.clock()
        g = self._grabber = Grabber(self, start)
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
            if not self.grab():
                self.reconnect()
                continue
            idx += 1
            self.grabbed += 1
            now = self.clock() - start
            if now + 1e-4 < due:
                continue  # not time for a step yet: grabbed, never decoded
            frame = dt = None
            if need is None or need():
                frame, dt = self.retrieve(f"{self.uri} frame {idx}")
            yield SampledFrame(k, now, frame, dt, idx, now)
            k += 1
            due = self._next_due(due, start)

    def _next_due(self, due: float, start: float) -> float:
        """The next step's time; more than a step behind, the missed slots are dropped."""
        due += self.sps
        now = self.clock() - start
        return now if now > due + self.sps else due


class CameraSource(LiveCaptureSource):
    """A camera by index (OpenCV's default backend: V4L2 on Linux)."""

    kind, noun, asks_size = "camera", "camera", True

    def make_factory(self) -> Callable[[], Any]:
        import cv2
        idx = int(self.uri)
        return lambda: cv2.VideoCapture(idx)


class V4L2Source(LiveCaptureSource):
    """A V4L2 device, ``/dev/videoN`` (or ``v4l2:///dev/videoN``)."""

    kind, noun, asks_size = "v4l2", "camera", True

    def make_factory(self) -> Callable[[], Any]:
        import cv2
        uri = self.uri
        dev = uri[len("v4l2://"):] if uri.lower().startswith("v4l2://") else uri
        if not os.path.exists(dev):
            raise SourceError(f"{uri}: no such video device (is the camera plugged in? "
                              f"ls /dev/video*)")
        return lambda: cv2.VideoCapture(dev, cv2.CAP_V4L2)


class GStreamerSource(LiveCaptureSource):
    """A GStreamer pipeline string (OpenCV built with GStreamer); ``appsink`` added if missing."""

    kind, noun = "gstreamer", "GStreamer pipeline"

    def pipeline(self) -> str:
        pipe = self.uri
        return pipe if "appsink" in pipe else pipe.rstrip().rstrip("!") + " ! appsink drop=1 max-buffers=1"

    def make_factory(self) -> Callable[[], Any]:
        import cv2
        if not gstreamer_available():
            raise SourceError(f"{self.uri}: this OpenCV ({cv2.__version__}) is built without GStreamer; "
                              f"the pip wheels have none — on Jetson use the system OpenCV "
                              f"(python3-opencv from JetPack) in a venv with --system-site-packages")
        pipe = self.pipeline()
        return lambda: cv2.VideoCapture(pipe, cv2.CAP_GSTREAMER)


class CsiSource(GStreamerSource):
    """A Jetson CSI camera, ``csi://N`` (the ``nvarguscamerasrc`` pipeline, at ``capture_size``)."""

    kind, noun = "csi", "CSI camera"

    def pipeline(self) -> str:
        try:
            sensor = int(self.uri[len("csi://"):] or 0)
        except ValueError:
            raise SourceError(f"{self.uri}: expected csi://<sensor id>, e.g. csi://0") from None
        w, h = self.capture_size or (1280, 720)
        return csi_pipeline(sensor, w, h)


class NetworkSource(LiveCaptureSource):
    """A network stream (``rtsp://``, ``http(s)://``, ...) through FFmpeg, its connect and reads
    bounded by ``stream_timeout_s``."""

    kind, noun, uses_stream_timeout = "network", "stream", True

    def make_factory(self) -> Callable[[], Any]:
        import cv2
        return self._ffmpeg_opener(self.uri, cv2.CAP_FFMPEG, self.stream_timeout_s)
