"""Sources: URIs, timestamp sampling, skipped frames not decoded, errors, reconnect/backoff."""

from __future__ import annotations

import time

import numpy as np
import pytest
from edge_helpers import write_video

from edge_runtime.bench_clips import ClipSampledSource, list_videos
from edge_runtime.sources import CaptureSource, SourceError, classify_uri, open_source, to_rgb


def test_classify_uri():
    assert classify_uri("0") == "camera"
    assert classify_uri("/dev/video2") == "v4l2"
    assert classify_uri("csi://0") == "csi"
    assert classify_uri("rtsp://cam.local/stream") == "network"
    assert classify_uri("nvarguscamerasrc ! video/x-raw ! appsink") == "gstreamer"
    assert classify_uri("synthetic://bars?size=64x48") == "synthetic"
    assert classify_uri("clips/a.mp4") == "file"


# ------------------------------------------------------------------------------ synthetic
def test_synthetic_samples_by_its_own_clock_and_skips_rendering():
    src = open_source("synthetic://bars?size=64x48&fps=30&frames=90", 0.25)
    need = iter([True, False, False, True] * 100)
    got = list(src.frames(lambda: next(need)))
    assert len(got) == 12                       # 3 s at 4 samples/s
    assert [g.t for g in got[:3]] == [0.0, 0.25, 0.5]
    assert [g.source_index for g in got[:4]] == [0, 8, 15, 23]   # nearest frame (ties → earlier)
    assert src.decoded == 6 and src.grabbed == 12
    f = got[0].frame
    assert f.dtype == np.uint8 and f.shape == (48, 64, 3)
    assert got[1].frame is None and got[1].decode_ms is None


@pytest.mark.parametrize("channels", [1, 4])
def test_synthetic_gray_and_rgba_become_rgb(channels):
    src = open_source(f"synthetic://flat?size=32x24&frames=4&channels={channels}", 0.1)
    fr = next(iter(src.frames())).frame
    assert fr.shape == (24, 32, 3) and fr.dtype == np.uint8


def test_synthetic_bad_query_is_clear():
    with pytest.raises(SourceError, match="synthetic"):
        open_source("synthetic://bars?size=axb", 0.25)
    with pytest.raises(SourceError, match="pattern"):
        open_source("synthetic://zebra", 0.25)


def test_to_rgb_conversions_and_rejections():
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 0] = 200                             # blue
    assert to_rgb(bgr)[0, 0].tolist() == [0, 0, 200]
    assert to_rgb(np.full((4, 5), 7, np.uint8)).shape == (4, 5, 3)
    assert to_rgb(np.zeros((4, 5, 1), np.uint8)).shape == (4, 5, 3)
    assert to_rgb(np.zeros((4, 5, 4), np.uint8)).shape == (4, 5, 3)
    with pytest.raises(SourceError, match="8-bit"):
        to_rgb(np.zeros((4, 5, 3), np.uint16))
    with pytest.raises(SourceError, match="shape"):
        to_rgb(np.zeros((4, 5, 2), np.uint8))


# ------------------------------------------------------------------------------ files
def test_video_file_sampled_by_timestamps_skipped_frames_not_retrieved(small_video):
    import cv2
    retrieved = []

    class Spy:
        def __init__(self, cap):
            self.cap = cap

        def __getattr__(self, k):
            return getattr(self.cap, k)

        def retrieve(self):
            retrieved.append(1)
            return self.cap.retrieve()

    src = CaptureSource(str(small_video), 0.25, capture_factory=lambda: Spy(cv2.VideoCapture(str(small_video))))
    assert not src.live and src.fps == pytest.approx(12)
    pattern = iter([True, False] * 100)
    got = list(src.frames(lambda: next(pattern)))
    src.close()
    assert len(got) == 12                         # 36 frames at 12 fps = 3 s → 12 samples
    assert [g.source_index for g in got[:5]] == [0, 3, 6, 9, 12]
    assert [g.t for g in got[:3]] == [0.0, 0.25, 0.5]
    assert len(retrieved) == 6 == src.decoded     # only the needed half decoded
    assert got[0].frame.shape == (72, 96, 3) and got[1].frame is None
    # content check: frame 0 of the file is the RGB version of what was written
    assert got[0].frame[0, 0, 0] > 200            # the ramp's red channel (BGR → RGB)


def test_video_independent_of_fps(tmp_path):
    v = write_video(tmp_path / "v30.mp4", frames=30, fps=30)
    got = list(open_source(str(v), 0.25).frames())
    assert [g.source_index for g in got] == [0, 7, 15, 22]   # 0.233 (nearest, tie → earlier), 0.5, 0.733


def test_video_slower_than_sampling_repeats_frames(tmp_path):
    v = write_video(tmp_path / "v2.mp4", frames=4, fps=2)    # frames at 0, .5, 1, 1.5 s; samples every .25 s
    src = open_source(str(v), 0.25)
    got = list(src.frames())
    assert [g.source_index for g in got] == [0, 0, 1, 1, 2, 2, 3, 3]   # nearest; a tie → the earlier
    assert src.decoded == 4                       # a repeated frame is decoded once


def test_clip_sampling_spreads_T_frames(small_video):
    src = ClipSampledSource(small_video, 4, 0.25)
    assert src.n == 36 and src.indices() == [4, 13, 22, 31]
    got = list(src.frames(lambda: True))
    assert [g.source_index for g in got] == [4, 13, 22, 31]


@pytest.mark.parametrize("threads", [1, 2])
def test_decode_threads_reach_the_decoder_and_change_no_pixel(small_video, threads):
    import cv2
    ref = open_source(str(small_video), 0.25, quiet=True)
    src = open_source(str(small_video), 0.25, quiet=True, decode_threads=threads)
    assert src.cap.get(cv2.CAP_PROP_N_THREADS) == threads
    assert src.describe()["decode_threads"] == threads and ref.describe()["decode_threads"] is None
    a = [f.frame for f in ref.frames()]
    b = [f.frame for f in src.frames()]
    assert len(a) == len(b) > 1 and all(np.array_equal(x, y) for x, y in zip(a, b))
    clip = ClipSampledSource(small_video, 4, 0.25, quiet=True, decode_threads=threads)
    assert clip._src.cap.get(cv2.CAP_PROP_N_THREADS) == threads
    assert len(list(clip.frames())) == 4
    with pytest.raises(ValueError, match="decode_threads must be >= 0"):
        open_source(str(small_video), 0.25, decode_threads=-1)


def test_missing_corrupt_and_directory_files_are_clear(tmp_path):
    with pytest.raises(SourceError, match="no such video file"):
        open_source(str(tmp_path / "nope.mp4"), 0.25)
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x01garbage" * 500)
    with pytest.raises(SourceError, match="corrupt.mp4"):
        src = open_source(str(bad), 0.25, quiet=True)
        list(src.frames())
    with pytest.raises(SourceError, match="directory"):
        open_source(str(tmp_path), 0.25)


def test_truncated_file_is_an_error_or_a_short_clip(small_video, tmp_path):
    data = small_video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    try:
        src = open_source(str(cut), 0.25, quiet=True)
        frames = list(src.frames())
    except SourceError as e:
        assert "cut.mp4" in str(e)
    else:
        assert len(frames) <= 12


def test_list_videos_with_class_folders(tmp_path, small_video):
    for c in ("wave", "clap"):
        (tmp_path / c).mkdir()
        (tmp_path / c / "a.mp4").write_bytes(small_video.read_bytes())
    got = list_videos(tmp_path)
    assert [(p.parent.name, lab) for p, lab in got] == [("clap", "clap"), ("wave", "wave")]
    assert list_videos(small_video) == [(small_video, None)]
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no video files"):
        list_videos(tmp_path / "empty")


# ------------------------------------------------------------------------------ cameras
class FakeCap:
    """A VideoCapture that delivers ``n`` frames then dies (grab() False)."""

    def __init__(self, n=5, opened=True):
        self.n, self.opened, self.i = n, opened, 0

    def isOpened(self):
        return self.opened

    def set(self, *a):
        return True

    def get(self, prop):
        return 30.0

    def grab(self):
        if self.i >= self.n:
            return False
        self.i += 1
        return True

    def retrieve(self):
        return True, np.full((48, 64, 3), self.i, np.uint8)

    def release(self):
        self.opened = False


def test_missing_camera_fails_fast_with_a_clear_message():
    t0 = time.perf_counter()
    with pytest.raises(SourceError, match="cannot open the camera"):
        open_source("97", 0.25, quiet=True)
    assert time.perf_counter() - t0 < 10
    with pytest.raises(SourceError, match="no such video device"):
        open_source("/dev/video97", 0.25)


def test_camera_open_retries_are_bounded():
    sleeps = []
    opened = []

    def factory():
        opened.append(1)
        return FakeCap(opened=False)

    with pytest.raises(SourceError, match="after 3 attempt"):
        CaptureSource("3", 0.25, kind="camera", open_tries=3, backoff_s=0.1, capture_factory=factory,
                      sleep=sleeps.append)
    assert len(opened) == 3 and sleeps == [0.1, 0.2]


def test_camera_disappearing_reconnects_with_backoff_then_gives_up():
    sleeps, logs = [], []
    caps = [FakeCap(n=3), FakeCap(opened=False), FakeCap(n=2), FakeCap(opened=False),
            FakeCap(opened=False), FakeCap(opened=False)]
    clock = iter(range(10_000))
    src = CaptureSource("0", 1.0, kind="camera", reconnect_tries=3, backoff_s=0.5, backoff_max_s=1.5,
                        capture_factory=lambda: caps.pop(0), sleep=sleeps.append, log=logs.append,
                        clock=lambda: float(next(clock)), grab_thread=False)
    got = []
    with pytest.raises(SourceError, match="3 reconnect attempt"):
        for sf in src.frames():
            got.append(sf)
    assert len(got) == 5                          # 3 frames, reconnect, 2 frames, then lost for good
    assert src.reconnects == 1
    assert sleeps == [0.5, 1.0, 0.5, 1.0, 1.5]    # exponential, capped, reset after a success
    assert len(logs) == 5 and "reconnecting" in logs[0]


def test_live_source_paces_by_the_wall_clock_and_skips_decoding():
    t = [0.0]

    def clock():
        t[0] += 0.1                               # each grab/clock read = 0.1 s
        return t[0]

    cap = FakeCap(n=40)
    retrieved = []
    real = cap.retrieve

    def spy():
        retrieved.append(cap.i)
        return real()

    cap.retrieve = spy
    src = CaptureSource("0", 0.5, kind="camera", capture_factory=lambda: cap, clock=clock,
                        reconnect_tries=0, grab_thread=False)
    need = iter([True, False] * 50)
    got = []
    with pytest.raises(SourceError):
        for sf in src.frames(lambda: next(need)):
            got.append(sf)
    assert 4 <= len(got) <= 12                    # ~1 sample per 0.5 s of 40 × ~0.2 s
    assert all(k * 0.5 - 1e-3 <= g.t < k * 0.5 + 0.5 for k, g in enumerate(got))   # one sample per due slot
    assert len(retrieved) == (len(got) + 1) // 2
    assert src.grabbed == 40


def test_gstreamer_without_support_is_clear():
    from edge_runtime.sources import gstreamer_available
    if gstreamer_available():
        pytest.skip("this OpenCV has GStreamer")
    with pytest.raises(SourceError, match="GStreamer"):
        open_source("videotestsrc ! videoconvert ! appsink", 0.25)
    with pytest.raises(SourceError, match="GStreamer"):
        open_source("csi://0", 0.25)


class SizedCap(FakeCap):
    """A camera whose driver rounds a requested size to one of its modes."""

    MODES = [(320, 240), (640, 480), (1280, 720)]

    def __init__(self, **kw):
        super().__init__(**kw)
        self.size, self.asked = (1280, 720), []

    def set(self, prop, value):
        import cv2
        if prop in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT):
            self.asked.append((prop, value))
            if prop == cv2.CAP_PROP_FRAME_HEIGHT:
                w = self.asked[-2][1]
                self.size = min(self.MODES, key=lambda m: abs(m[0] - w) + abs(m[1] - value))
        return True

    def get(self, prop):
        import cv2
        return {cv2.CAP_PROP_FRAME_WIDTH: self.size[0], cv2.CAP_PROP_FRAME_HEIGHT: self.size[1]}.get(prop, 30.0)


def test_capture_size_is_asked_of_cameras_and_a_rounded_mode_is_reported_once():
    import cv2
    cap, logs = SizedCap(n=3), []
    src = CaptureSource("0", 0.25, kind="camera", capture_factory=lambda: cap, capture_size=(640, 480),
                        log=logs.append)
    assert cap.asked == [(cv2.CAP_PROP_FRAME_WIDTH, 640.0), (cv2.CAP_PROP_FRAME_HEIGHT, 480.0)]
    assert src.delivered_size == (640, 480) and logs == []
    assert src.describe()["capture_size"] == [640, 480] and src.describe()["delivered_size"] == [640, 480]
    caps, logs = [SizedCap(n=2), SizedCap(n=2)], []
    src = CaptureSource("/dev/video0", 0.25, kind="v4l2", capture_factory=lambda: caps.pop(0),
                        capture_size=(600, 400), log=logs.append, sleep=lambda s: None, reconnect_tries=1,
                        grab_thread=False)
    with pytest.raises(SourceError):
        list(src.frames())   # 2 frames, reconnect (the same size asked again), 2 frames, gone
    assert src.delivered_size == (640, 480) and src.reconnects == 1
    said = [m for m in logs if "asked the camera" in m]
    assert said == ["[arnet-edge] /dev/video0: asked the camera for 600x400, it delivers 640x480"]


def test_capture_size_names_what_is_wrong(small_video):
    from edge_runtime.sources import csi_pipeline, parse_size
    assert parse_size(" 640X480 ") == (640, 480)
    for bad in ("640", "0x480", "axb", "640x-1", ""):
        with pytest.raises(ValueError, match=r"--input-size: expected WIDTHxHEIGHT.*got"):
            parse_size(bad, "--input-size")
    with pytest.raises(SourceError, match="capture size applies to cameras.*this source is a video file"):
        open_source(str(small_video), 0.25, capture_size=(640, 480))
    with pytest.raises(SourceError, match=r"synthetic://bars: a capture size applies to cameras"):
        open_source("synthetic://bars", 0.25, capture_size=(640, 480))
    assert "width=640, height=480" in csi_pipeline(0, 640, 480)


# ------------------------------------------------------------------------------ grab thread
class LiveCam:
    """A camera sending a frame every 1/fps s into an unbounded queue (what FFmpeg does with an RTSP
    stream): grab() takes the oldest queued frame, or waits for the next one; a retrieved frame
    carries its number. ``dies_after`` frames (or once ``dies_after_retrieved`` were decoded), grab()
    fails."""

    def __init__(self, fps=200.0, dies_after=None, dies_after_retrieved=None):
        self.t0, self.period, self.dies_after = time.monotonic(), 1.0 / fps, dies_after
        self.dies_after_retrieved = dies_after_retrieved
        self.taken, self.retrieved, self.opened = 0, 0, True

    def isOpened(self):
        return self.opened

    def set(self, *a):
        return True

    def get(self, prop):
        return 1.0 / self.period

    def grab(self):
        if self.dies_after is not None and self.taken >= self.dies_after:
            return False
        if self.dies_after_retrieved is not None and self.retrieved >= self.dies_after_retrieved:
            return False
        wait = self.t0 + self.taken * self.period - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.taken += 1
        return True

    def retrieve(self):
        self.retrieved += 1
        return True, np.full((6, 8, 3), (self.taken - 1) % 256, np.uint8)

    def age(self, idx):
        """Seconds since frame ``idx`` was sent."""
        return time.monotonic() - (self.t0 + idx * self.period)

    def release(self):
        self.opened = False


@pytest.mark.parametrize("threaded", [True, False])
def test_two_live_sources_stay_fresh_with_grab_threads(threaded):
    """Two 200 fps cameras sampled every 50 ms, read in turn as ``live.py`` does with several
    sources, with a 20 ms step after each tick. With grab threads each camera's queue is drained
    while the consumer is busy (checked by waiting for it, not by a wall-clock bound); read in turn
    on one thread, the second camera's queue grows by ~9
    frames a tick and its frames age without bound (what the threads are for)."""
    from edge_runtime.multistream import next_tick
    cams = [LiveCam(), LiveCam()]
    srcs = [CaptureSource(str(i), 0.05, kind="camera", capture_factory=lambda c=c: c, grab_thread=threaded)
            for i, c in enumerate(cams)]
    gens = {i: s.frames() for i, s in enumerate(srcs)}
    ages = {0: [], 1: []}
    drained = 0
    for _ in range(16):
        for i, sf in next_tick(gens).items():
            ages[i].append(cams[i].age(sf.source_index))
            assert sf.frame is not None and sf.frame[0, 0, 0] == sf.source_index % 256
        before = [c.taken for c in cams]
        time.sleep(0.02)                                   # the tick's inference
        if threaded:
            # event-based, no wall-clock bound: while the consumer is busy, each camera's grab
            # thread keeps taking frames off its queue (so the queue cannot fill)
            deadline = time.monotonic() + 30
            while any(c.taken <= b for c, b in zip(cams, before)):
                assert time.monotonic() < deadline, "a grab thread stopped draining its camera"
                time.sleep(0.005)
            drained += 1
    for s in srcs:
        s.close()
    if threaded:
        assert drained == 16
        assert all(s._grabber is None for s in srcs)
    else:
        # read in turn on one thread, the second camera falls behind its queue: once behind, each
        # tick takes one frame from it while it sent at least 0.02 s x 200 fps = 4 during the tick's
        # sleep alone, so its frames' age grows by >= 15 ms a tick on any machine (more on a slow one)
        growth = np.diff(ages[1][4:])
        assert (growth > 0.01).all() and ages[1][-1] > ages[1][4] + 0.15, ages


def test_grab_thread_decodes_only_asked_frames_and_hands_over_the_final_error():
    logs = []
    caps = [LiveCam(dies_after=40), FakeCap(opened=False)]
    cam = caps[0]
    src = CaptureSource("rtsp://cam/1", 0.02, kind="network", capture_factory=lambda: caps.pop(0),
                        reconnect_tries=1, backoff_s=0.001, log=logs.append)
    need = iter([True, False, False] * 100)
    got = []
    with pytest.raises(SourceError, match="rtsp://cam/1: the source stopped delivering frames"):
        for sf in src.frames(lambda: next(need)):
            got.append(sf)
    src.close()
    assert 3 <= len(got) < 40 and src.reconnects == 0 and len(logs) == 1 and "reconnecting" in logs[0]
    asked = sum(1 for sf in got if sf.frame is not None)
    assert [sf.frame is not None for sf in got] == [k % 3 == 0 for k in range(len(got))]
    assert cam.retrieved == asked == src.decoded and src.grabbed == 40
    assert all(b.source_index > a.source_index for a, b in zip(got, got[1:]))


def test_a_grab_thread_stops_when_the_source_closes():
    cam = LiveCam(fps=500.0)
    src = CaptureSource("0", 0.01, kind="camera", capture_factory=lambda: cam)
    it = src.frames()
    assert next(it).frame is not None
    th = src._grabber.thread
    assert th.is_alive()
    src.close()
    assert not th.is_alive() and not cam.opened
    with pytest.raises(SourceError, match="closed"):
        next(it)                                   # a reader left over after close() is told so
    with pytest.raises(SourceError, match="closed"):
        src.frames()


def test_grab_threads_do_not_outlive_their_sources():
    """Twenty live sources opened, read and closed (or dropped mid-read): no thread is left."""
    import threading
    before = threading.active_count()
    for k in range(20):
        src = CaptureSource("0", 0.005, kind="camera", capture_factory=lambda: LiveCam(fps=1000.0))
        it = src.frames()
        for _ in range(3):
            next(it)
        if k % 2:
            src.close()
        else:
            it.close()        # the generator ends first (a consumer that stopped reading)
            src.close()
    assert threading.active_count() == before


def test_closing_during_a_long_reconnect_backoff_returns_at_once():
    """A camera gone, the grab thread waiting out a 30 s backoff: close() wakes it, the thread
    ends and no further open is tried."""
    import threading
    logs, opens = [], []
    cam = LiveCam(fps=500.0, dies_after_retrieved=1)   # gone once the consumer has its frame

    def factory():
        opens.append(1)
        return cam if len(opens) == 1 else FakeCap(opened=False)

    src = CaptureSource("rtsp://cam/1", 0.002, kind="network", capture_factory=factory,
                        reconnect_tries=5, backoff_s=30.0, backoff_max_s=30.0, log=logs.append)
    it = src.frames()
    next(it)
    deadline = time.monotonic() + 10
    while not logs:                                   # the thread is in its first backoff now
        assert time.monotonic() < deadline
        time.sleep(0.01)
    th = src._grabber.thread
    src.close()
    th.join(20)                                       # well below the 30 s backoff it was woken from
    assert not th.is_alive()
    assert len(opens) == 1 and "reconnecting in 30.00s" in logs[0]
    with pytest.raises(SourceError, match="closed"):
        next(it)
    assert not [t for t in threading.enumerate() if t.name.startswith("arnet-grab")]
