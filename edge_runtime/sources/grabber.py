"""The grab thread of a live source: frames are grabbed as they come, decoded on demand."""

from __future__ import annotations

import threading
from typing import Any

from edge_runtime.sources.base import SourceError


class Grabber:
    """A live capture read on its own thread. Every frame is grabbed as the source sends it, so
    neither the driver's queue nor FFmpeg's fills while the pipeline runs a step or reads other
    streams (several live sources read in turn on one thread would each fall further behind);
    a frame is decoded only when the consumer asks (``take``): the next one grabbed after asking.
    The capture is touched by this thread alone (OpenCV captures are not thread-safe);
    reconnects run here too, and their final ``SourceError`` reaches the consumer.

    ``src`` is a :class:`~edge_runtime.sources.live_capture.LiveCaptureSource` (or anything with
    its public ``grab()``, ``retrieve(where)``, ``reconnect(wait)``, ``clock``, ``uri``,
    ``grabbed`` and ``stream_timeout_s``)."""

    def __init__(self, src: Any, start: float) -> None:
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
                if not src.grab():
                    if self.stopping:
                        return
                    src.reconnect(self.stop_event.wait)   # raises SourceError once it gives up
                    continue
                self.idx += 1
                src.grabbed += 1
                t = src.clock() - self.start
                want = self.want
                if want is None:
                    continue           # grabbed, never decoded
                frame = dt = None
                if want:
                    frame, dt = src.retrieve(f"{src.uri} frame {self.idx}")
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
