"""The browser view's server (edge_runtime/serve.py, live.py --serve): routes, token, viewer limit,
controls, and that a slow or stalled viewer never slows the run."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import numpy as np
import pytest
from edge_helpers import LiveServer, json_lines

from edge_runtime import live
from edge_runtime.engine import StepEvent
from edge_runtime.serve import LiveView, ServeError, ViewServer, parse_bind, redact


def ev(step: int, stream: int = 0, label: str = "a") -> StepEvent:
    return StepEvent(step=step, t=step * 0.25, kind="resolution", action=0, action_name="res64",
                     resolution=64, skip=None, top_k=[(label, 0.9), ("b", 0.1)], label=label,
                     ms={"step": 1.0}, gmacs=0.1, stream=stream)


def noise_render(frames, evs, rate):
    return np.random.default_rng(len(evs)).integers(0, 255, (480, 640, 3), dtype=np.uint8)


@pytest.fixture
def server(request):
    kw = getattr(request, "param", {})
    view = LiveView(["synthetic://"], noise_render, {"model": "m"}, max_viewers=kw.get("max_viewers", 2),
                    max_fps=kw.get("max_fps", 50.0))
    srv = ViewServer(view, "127.0.0.1", 0, token=kw.get("token"),
                     write_timeout_s=kw.get("write_timeout_s", 10.0)).start()
    stop = threading.Event()

    def run():   # the run's loop: publish ticks
        i = 0
        while not stop.is_set():
            view.publish({0: ev(i)}, {0: np.zeros((8, 8, 3), np.uint8)}, 10.0)
            view.apply(_Engine)
            i += 1
            time.sleep(0.01)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    yield srv
    stop.set()
    t.join(5)
    srv.close()


class _Engine:
    budget = SimpleNamespace(target_fps=None, target_mw=None, reset=lambda: None)
    cleared: list = []

    @classmethod
    def clear(cls, i=None):
        cls.cleared.append(i)


def get(srv, path, headers=None, method="GET", body=None, host=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    h = dict(headers or {})
    if host:
        h["Host"] = host
    c.request(method, path, body=None if body is None else json.dumps(body).encode(), headers=h)
    r = c.getresponse()
    data = r.read() if r.getheader("Content-Type", "").startswith(("application/json", "text/")) else b""
    c.close()
    return r.status, data


def test_parse_bind():
    assert parse_bind("8080") == ("127.0.0.1", 8080)
    assert parse_bind("0.0.0.0:8080") == ("0.0.0.0", 8080)
    assert parse_bind("[::1]:9000") == ("::1", 9000)
    for bad in ("http", "1.2.3.4:", "99999", ":80", "[::1]8080"):
        with pytest.raises(ServeError, match="expected \\[HOST:\\]PORT"):
            parse_bind(bad)


def test_source_credentials_are_not_shown():
    assert redact("rtsp://admin:hunter2@10.0.0.5:554/stream1") == "rtsp://***@10.0.0.5:554/stream1"
    assert redact("http://cam/video.mjpg") == "http://cam/video.mjpg"
    assert redact("0") == "0" and redact("synthetic://bars?size=96x72") == "synthetic://bars?size=96x72"
    view = LiveView(["rtsp://u:p@cam/1"], noise_render)
    view.set_status({"streams": [{"stream": 0, "source": {"uri": "rtsp://u:p@cam/1"}}]})
    st = view.status()
    assert st["sources"] == ["rtsp://***@cam/1"] and st["streams"][0]["source"]["uri"] == "rtsp://***@cam/1"


def test_routes_and_unknown_route(server):
    for path, ctype in (("/", b"<!doctype html>"), ("/app.js", b"import"), ("/view.js", b"export"),
                        ("/style.css", b":root")):
        code, body = get(server, path)
        assert code == 200 and body.startswith(ctype) or ctype in body, path
    code, body = get(server, "/api/status")
    st = json.loads(body)
    assert code == 200 and st["model"] == "m" and st["max_viewers"] == 2 and st["sources"] == ["synthetic://"]
    code, body = get(server, "/api/events?since=0")
    d = json.loads(body)
    assert code == 200 and d["events"] and d["events"][-1]["label"] == "a" and d["seq"] >= len(d["events"])
    code, body = get(server, f"/api/events?since={d['seq']}")
    assert all(e["step"] > d["events"][-1]["step"] for e in json.loads(body)["events"])
    for path in ("/nope", "/../edge_runtime/serve.py", "/web/index.html", "/%2e%2e/manifest.json",
                 "/app.js/../../etc/passwd", "/static/app.js"):
        code, body = get(server, path)
        assert code == 404 and "no such page" in json.loads(body)["error"], path
    code, body = get(server, "/api/events?since=x")
    assert code == 400 and "since" in json.loads(body)["error"]
    code, _ = get(server, "/api/pause")                      # controls are POST only
    assert code == 405
    code, _ = get(server, "/api/status", method="POST", body={})
    assert code == 405


def test_loopback_server_refuses_foreign_host_header(server):
    code, body = get(server, "/api/status", host="evil.example:8080")
    assert code == 403 and "loopback" in json.loads(body)["error"]
    assert get(server, "/api/status", host=f"localhost:{server.port}")[0] == 200


@pytest.mark.parametrize("server", [{"token": "s3cret"}], indirect=True)
def test_token_is_checked_on_every_route(server):
    for path in ("/", "/app.js", "/api/status", "/api/events", "/stream.mjpg", "/api/live"):
        code, body = get(server, path)
        assert code == 401 and "token" in json.loads(body)["error"], path
        code, body = get(server, path + "?token=wrong")
        assert code == 403 and json.loads(body)["error"] == "wrong token", path
    assert get(server, "/?token=s3cret")[0] == 200
    assert get(server, "/api/status", {"X-Token": "s3cret"})[0] == 200
    assert get(server, "/api/status", {"Authorization": "Bearer s3cret"})[0] == 200
    code, _ = get(server, "/api/pause", method="POST", body={"paused": True})
    assert code == 401
    code, _ = get(server, "/api/pause", {"X-Token": "nope"}, method="POST", body={"paused": True})
    assert code == 403 and not server.view.paused
    code, body = get(server, "/api/pause", {"X-Token": "s3cret"}, method="POST", body={"paused": True})
    assert code == 200 and server.view.paused
    code, body = get(server, "/nope?token=s3cret")
    assert code == 404


@pytest.mark.parametrize("server", [{"token": "s3cret"}], indirect=True)
def test_the_page_cookie_carries_the_token_for_gets_only(server):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    c.request("GET", "/?token=s3cret")
    r = c.getresponse()
    r.read()
    cookie = r.getheader("Set-Cookie")
    assert r.status == 200 and "s3cret" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    jar = {"Cookie": cookie.split(";")[0]}
    assert get(server, "/app.js", jar)[0] == 200
    assert get(server, "/api/status", jar)[0] == 200
    assert get(server, "/api/status", {"Cookie": f"arnet_token_{server.port}=wrong"})[0] == 403
    assert get(server, "/api/pause", jar, method="POST", body={"paused": True})[0] == 401
    assert not server.view.paused


def test_non_loopback_bind_generates_a_token():
    view = LiveView(["x"], noise_render)
    srv = ViewServer(view, "0.0.0.0", 0)
    try:
        assert srv.generated and srv.token and len(srv.token) >= 16
        assert f"?token={srv.token}" in srv.url()
    finally:
        srv.httpd.server_close()
    with pytest.raises(ServeError, match="must not be empty"):
        ViewServer(LiveView(["x"], noise_render), "127.0.0.1", 0, token=" ")
    with pytest.raises(ServeError, match="--serve-max-viewers must be >= 1, got 0"):
        LiveView(["x"], noise_render, max_viewers=0)


def _open_mjpeg(srv):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    return s, head


def test_too_many_viewers_get_503_and_a_slot_frees_when_one_leaves(server):
    a, ha = _open_mjpeg(server)
    b, hb = _open_mjpeg(server)
    assert b" 200 " in ha and b"multipart/x-mixed-replace" in ha and b" 200 " in hb
    code, body = get(server, "/stream.mjpg")
    assert code == 503 and "too many viewers: at most 2" in json.loads(body)["error"]
    assert get(server, "/stream.mjpg", method="HEAD")[0] == 503
    assert server.view.refused >= 1
    a.close()
    t_end = time.monotonic() + 20
    while server.view.viewers["mjpeg"] > 1 and time.monotonic() < t_end:
        time.sleep(0.1)
    c, hc = _open_mjpeg(server)
    assert b" 200 " in hc
    for s in (b, c):
        s.close()


@pytest.mark.parametrize("server", [{"max_fps": 200.0, "write_timeout_s": 1.0}], indirect=True)
def test_a_stalled_viewer_never_slows_the_run_and_is_dropped(server):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", server.port))
    s.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")   # and never read
    view = server.view
    t_end = time.monotonic() + 5
    while view.viewers["mjpeg"] < 1 and time.monotonic() < t_end:
        time.sleep(0.02)
    times = []
    for i in range(2000):
        t0 = time.perf_counter()
        view.publish({0: ev(i)}, {0: np.zeros((480, 640, 3), np.uint8)}, 10.0)
        times.append(time.perf_counter() - t0)
    # a publish that waited on the stalled viewer would take its 1 s write timeout; 0.1 s leaves a
    # loaded machine 20 GIL switch intervals for the publishing thread's turn
    assert sorted(times)[int(0.99 * len(times))] < 0.1, "publishing a tick must not wait for viewers"
    t_end = time.monotonic() + 30                       # the stalled viewer is dropped (write timeout)
    while view.viewers["mjpeg"] > 0 and time.monotonic() < t_end:
        time.sleep(0.1)
    assert view.viewers["mjpeg"] == 0
    s.close()


def test_big_frames_are_scaled_down_for_viewers():
    import cv2
    view = LiveView(["cam"], lambda frames, evs, rate: cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR))
    srv = ViewServer(view, "127.0.0.1", 0).start()
    try:
        view.publish({0: ev(0)}, {0: np.full((1080, 1920, 3), 128, np.uint8)}, 1.0)
        s, head = _open_mjpeg(srv)
        f = s.makefile("rb")
        line = f.readline()
        while not line.lower().startswith(b"content-length:"):
            line = f.readline()
        n = int(line.split(b":")[1])
        f.readline()                                    # the blank line before the image
        img = cv2.imdecode(np.frombuffer(f.read(n), np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (540, 960, 3)
        s.close()
    finally:
        srv.close()


def test_controls_queue_commands_for_the_run(server):
    code, body = get(server, "/api/target", method="POST", body={"fps": 12.5})
    assert code == 200 and json.loads(body) == {"ok": True, "target_fps": 12.5, "target_mw": None}
    t_end = time.monotonic() + 5
    while _Engine.budget.target_fps != 12.5 and time.monotonic() < t_end:
        time.sleep(0.02)
    assert _Engine.budget.target_fps == 12.5
    for bad, needle in (({"fps": -1}, "fps must be a positive number or null, got -1"),
                        ({"fps": "fast"}, "got 'fast'"), ({"speed": 3}, "expected one of"),
                        ({"fps": 1, "mw": 2}, "expected one of"), ([1], "JSON object")):
        code, body = get(server, "/api/target", method="POST", body=bad)
        assert code == 400 and needle in json.loads(body)["error"], bad
    code, body = get(server, "/api/target", method="POST", body={"mw": 3000})
    assert code == 409 and "set a target fps instead" in json.loads(body)["error"]
    code, body = get(server, "/api/clear", method="POST", body={"stream": 3})
    assert code == 400 and "stream must be one of 0..0 or null, got 3" in json.loads(body)["error"]
    _Engine.cleared.clear()
    assert get(server, "/api/clear", method="POST", body={"stream": 0})[0] == 200
    t_end = time.monotonic() + 5
    while not _Engine.cleared and time.monotonic() < t_end:
        time.sleep(0.02)
    assert _Engine.cleared == [0]
    code, body = get(server, "/api/pause", method="POST", body={"paused": "yes"})
    assert code == 400 and "paused must be true or false" in json.loads(body)["error"]
    assert get(server, "/api/pause", method="POST")[0] == 200 and server.view.paused   # toggle
    assert get(server, "/api/pause", method="POST", body={"paused": False})[0] == 200
    assert not server.view.paused


def test_sse_stream_carries_status_and_events(server):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    c.request("GET", "/api/live")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Type") == "text/event-stream"
    line = r.fp.readline()
    d = json.loads(line[len(b"data: "):])
    assert d["status"]["model"] == "m" and d["status"]["viewers"]["sse"] == 1 and d["events"]
    assert d["seq"] >= len(d["events"])
    c2 = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    c2.request("GET", "/api/live")
    r2 = c2.getresponse()
    seen = [set(), set()]
    for _ in range(8):                        # both viewers get the same shared messages
        for k, rr in enumerate((r, r2)):
            line = rr.fp.readline()
            while not line.startswith(b"data: "):
                line = rr.fp.readline()
            seen[k].add(line)
    assert seen[0] & seen[1]
    for cc in (c, c2):
        cc.close()


# ---------------------------------------------------------------- live.py --serve
def test_live_serve_controls_a_real_run(fake_model_dir, tmp_path):
    out = tmp_path / "s.json"
    with LiveServer(["--model", fake_model_dir, "--backend", "fake", "--source",
                     "synthetic://bars?size=96x72&realtime=1&fps=40", "--headless", "--no-power", "--quiet",
                     "--serve", "127.0.0.1:0", "--json-out", out]) as srv:
        def call(path, body=None):
            req = urllib.request.Request(srv.base + path, method="GET" if body is None else "POST",
                                         data=None if body is None else json.dumps(body).encode())
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.load(r)
        t_end = time.monotonic() + 20
        while call("/api/status").get("steps", 0) < 2 and time.monotonic() < t_end:
            time.sleep(0.1)
        assert call("/api/target", {"fps": 1e6})["ok"]
        t_end = time.monotonic() + 30
        while not (call("/api/status").get("budget") or {}).get("lambda") and time.monotonic() < t_end:
            time.sleep(0.2)
        assert call("/api/status")["budget"]["lambda"] > 0
        assert call("/api/pause", {"paused": True})["paused"]
        time.sleep(0.5)
        n = call("/api/status")["steps"]
        time.sleep(1.0)
        assert call("/api/status")["steps"] == n and call("/api/status")["paused"]
        assert call("/api/clear", {})["ok"]
        call("/api/pause", {"paused": False})
        t_end = time.monotonic() + 20
        while call("/api/status")["steps"] == n and time.monotonic() < t_end:
            time.sleep(0.1)
        assert call("/api/status")["steps"] > n
    assert srv.rc == 0, "".join(srv.err)
    assert srv.summary["serve"]["max_viewers"] == 4 and srv.summary["budget"]["target_fps"] == 1e6
    assert "browser view at http://127.0.0.1:" in "".join(srv.err)


def assert_clean_error(rc, err, needle):
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("arnet-live: error:") and needle in lines[0], err


def test_bad_serve_options_are_one_clean_error(capsys, fake_model_dir):
    base = ["--model", str(fake_model_dir), "--backend", "fake", "--source", "synthetic://?frames=5",
            "--headless", "--no-power", "--quiet"]
    for extra, needle in ((["--serve", "web"], "--serve 'web': expected [HOST:]PORT"),
                          (["--serve", "8080", "--serve-max-viewers", "0"], "--serve-max-viewers must be >= 1, got 0"),
                          (["--serve-token", "x"], "give --serve [HOST:]PORT too"),
                          (["--serve", "8080", "--serve-token", ""], "--serve-token must not be empty")):
        rc = live.main(base + extra)
        _, err = capsys.readouterr()
        assert_clean_error(rc, err, needle)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    rc = live.main(base + ["--serve", f"127.0.0.1:{busy.getsockname()[1]}"])
    _, err = capsys.readouterr()
    busy.close()
    assert_clean_error(rc, err, "cannot listen there")


def test_live_serve_generates_and_prints_a_token_off_loopback(capsys, fake_model_dir):
    rc = live.main(["--model", str(fake_model_dir), "--backend", "fake", "--source", "synthetic://?frames=3",
                    "--headless", "--no-power", "--quiet", "--serve", "0.0.0.0:0"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "browser view at http://<this-device's-address>:" in err and "?token=" in err
    assert "token generated" in err
    s = json_lines(out)[-1]["summary"]
    assert s["serve"]["token"] is True and "token=" not in s["serve"]["url"]   # no secret in the summary
