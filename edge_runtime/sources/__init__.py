"""Frame sources by URI (jetson-utils style), sampled at the model's ``seconds_per_step``.

One module per kind: :mod:`.video_file`, :mod:`.live_capture` (cameras, CSI, GStreamer, network
streams; reconnect), :mod:`.grabber` (the grab thread), :mod:`.synthetic`, :mod:`.images`;
:data:`SOURCE_KINDS` maps a URI's kind (:func:`classify_uri`) to its class.

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
same for AR-Net and for uniform (the pyramid's first halvings;
docs/RESULTS.md, "Several streams, batched (edge_runtime/multistream.py)"): a camera asked for a
small mode saves that work. Files and network streams come at their own size.

Decoder threads (files and network streams, ``decode_threads``): FFmpeg's default decodes with
several threads that keep working beside the inference engine; on a 2-core machine that takes
cores from the engine's thread pool. ``decode_threads=1`` keeps the decoder on one thread (for
small frames it is also faster per frame); None / 0 = FFmpeg's default.

Live sources that cannot be opened raise :class:`SourceError` at once (``open_tries`` to retry);
a live stream that stops delivering frames is reopened with exponential backoff
(``reconnect_tries`` attempts, ``backoff_s · 2^i`` capped at ``backoff_max_s``) and then fails with
a clear message. A network stream's connect and each read are bounded by ``stream_timeout_s``
(FFmpeg's own wait is 30 s), so a stalled stream is noticed in seconds.
"""

from __future__ import annotations

from typing import Any

from edge_runtime.sources.base import (CAPTURE_SIZE_KINDS, FrameSource, SampledFrame, SourceError,  # noqa: F401
                                       check_capture_size, classify_uri, parse_size, quiet_stderr, to_rgb)
from edge_runtime.sources.capture import OpenCVSource, csi_pipeline, gstreamer_available  # noqa: F401
from edge_runtime.sources.images import IMAGE_EXTENSIONS, ImageSequenceSource, list_images  # noqa: F401
from edge_runtime.sources.live_capture import (CameraSource, CsiSource, GStreamerSource,  # noqa: F401
                                               LiveCaptureSource, NetworkSource, V4L2Source)
from edge_runtime.sources.synthetic import SyntheticSource  # noqa: F401
from edge_runtime.sources.video_file import VideoFileSource  # noqa: F401

# the URI kind (classify_uri) -> the class that opens it
SOURCE_KINDS = {
    "camera": CameraSource,
    "v4l2": V4L2Source,
    "csi": CsiSource,
    "gstreamer": GStreamerSource,
    "network": NetworkSource,
    "file": VideoFileSource,
    "synthetic": SyntheticSource,
    "images": ImageSequenceSource,
}


def CaptureSource(uri: str, seconds_per_step: float, *, kind: str | None = None, **kw: Any) -> OpenCVSource:  # noqa: N802
    """The OpenCV source for ``uri`` (its kind from the URI unless ``kind`` names one of the
    OpenCV kinds), with :class:`OpenCVSource`'s keyword arguments."""
    k = kind or classify_uri(str(uri))
    cls = SOURCE_KINDS.get(k)
    if cls is None or not issubclass(cls, OpenCVSource):
        valid = [n for n, c in SOURCE_KINDS.items() if issubclass(c, OpenCVSource)]
        raise ValueError(f"kind {k!r} is not an OpenCV capture kind; valid choices: {', '.join(valid)}")
    return cls(str(uri), seconds_per_step, **kw)


def open_source(uri: Any, seconds_per_step: float, **kw: Any) -> FrameSource:
    """Open ``uri`` (see the module doc) for sampling every ``seconds_per_step`` seconds.

    Keyword arguments go to the OpenCV sources (``open_tries``, ``reconnect_tries``,
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
    return SOURCE_KINDS[kind](s, seconds_per_step, **kw)
