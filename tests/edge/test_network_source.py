"""A real network stream: MJPEG over HTTP from a local server that stalls, then comes back.

FFmpeg waits 30 s on a silent stream by default; ``stream_timeout_s`` (``live.py
--stream-timeout``) bounds the connect and each read, so a stalled camera is noticed, reconnected
and, when it stays away, reported in seconds. No fakes: OpenCV's FFmpeg reads a socket.
"""
import threading
import time

import pytest
from edge_helpers import MjpegServer

from edge_runtime.sources import SourceError, open_source


@pytest.fixture
def server(request):
    srv = MjpegServer(request.param)
    yield srv
    srv.close()


def _grab_threads():
    return [t for t in threading.enumerate() if t.name.startswith("arnet-grab")]


@pytest.mark.parametrize("server", [[("frames", 20), ("frames", 400)]], indirect=True)
def test_a_stalled_stream_is_reconnected_within_the_timeout(server):
    log = []
    src = open_source(server.uri, 0.005, stream_timeout_s=0.5, reconnect_tries=3, backoff_s=0.05,
                      quiet=True, log=log.append)
    levels = []
    t0 = time.monotonic()
    try:
        for f in src.frames():
            levels.append(int(round(float(f.frame.mean()) / 40)))
            if levels[-1] == 2 or time.monotonic() - t0 > 20:
                break
    finally:
        src.close()
    waited = time.monotonic() - t0
    assert levels[0] == 1 and levels[-1] == 2          # frames of the first, then the second connection
    assert src.reconnects == 1 and any("stream lost; reconnecting" in m for m in log)
    assert waited < 8, f"the stall took {waited:.1f} s to notice (FFmpeg's default would be 30 s)"
    assert src.describe()["stream_timeout_s"] == 0.5
    assert not _grab_threads()


@pytest.mark.parametrize("server", [[("frames", 10)]], indirect=True)
def test_a_camera_that_stays_away_ends_with_a_clear_error(server):
    src = open_source(server.uri, 0.005, stream_timeout_s=0.4, reconnect_tries=2, backoff_s=0.05,
                      quiet=True, log=lambda m: None)
    t0 = time.monotonic()
    got = 0
    with pytest.raises(SourceError, match=r"cam\.mjpg: the source stopped delivering frames and 2 "
                                          r"reconnect attempt\(s\)"):
        for f in src.frames():
            got += 1
    src.close()
    assert 1 <= got <= 10
    assert time.monotonic() - t0 < 10     # one read timeout + 2 x (backoff + open timeout)
    assert not _grab_threads()


@pytest.mark.parametrize("server", [["silent"]], indirect=True)
def test_a_server_that_never_answers_fails_to_open_in_time(server):
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=r"cam\.mjpg: cannot open the stream after 1 attempt\(s\) "
                                          r"\(each attempt waited up to 0\.5 s"):
        open_source(server.uri, 0.04, stream_timeout_s=0.5, quiet=True)
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("server", [[("frames", 5)]], indirect=True)
def test_close_during_a_stall_ends_the_grab_thread(server):
    src = open_source(server.uri, 0.005, stream_timeout_s=0.5, reconnect_tries=50, backoff_s=0.05,
                      quiet=True, log=lambda m: None)
    it = src.frames()
    next(it)
    time.sleep(1.0)                       # stalled now: the grab thread is reconnecting
    t0 = time.monotonic()
    it.close()                            # the generator's finally stops its grab thread
    src.close()
    assert time.monotonic() - t0 < 4
    assert not _grab_threads()


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_stream_timeout_must_be_positive(bad):
    with pytest.raises(ValueError, match="stream_timeout_s must be a positive number of seconds"):
        open_source("rtsp://127.0.0.1:9/x", 0.04, stream_timeout_s=bad)
