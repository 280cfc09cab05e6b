"""The phone web app (android_demo/web) end to end in headless Chromium: a fake camera plays a
y4m clip, the page runs the exported tiny model's .tflite files with LiteRT.js, and its actions
and labels on the frames it processed match the Python LiteRT runtime's on the same frames.
Bad input (tampered file, bad manifest, no camera permission, no WebAssembly SIMD) ends in a
message on the page. Screenshots go to build/phone_web_test/.

Skips, saying why, without chromium + chromedriver (scripts/install_chromium.sh), without
@litertjs/core in android_demo/web/node_modules (android_demo/web/run_tests.sh installs it from
the lockfile), without ai_edge_litert, or without exported artifacts (ARNET_TEST_ARTIFACTS)."""

from __future__ import annotations

import base64
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from edge_helpers import ROOT
from webdriver import Browser, find_browser

WEB = ROOT / "android_demo" / "web"
SHOTS = ROOT / "build" / "phone_web_test"
STEPS = 24


def write_y4m(path: Path, frames: int = 48, w: int = 160, h: int = 120, fps: int = 24) -> Path:
    """A synthetic clip (colour ramp + a moving bright disc) as YUV4MPEG2 4:2:0, Chromium's fake
    camera format: a text header, then per frame "FRAME\\n" + Y, U, V planes."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = [f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode()]
    for i in range(frames):
        rgb = np.zeros((h, w, 3), np.float64)
        rgb[..., 0] = (xx * 255 / w + i * 9) % 256
        rgb[..., 1] = (yy * 255 / h) % 256
        rgb[..., 2] = 255 - (i * 11) % 256
        disc = (xx - (10 + 6 * i) % w) ** 2 + (yy - h // 2) ** 2 < (h // 5) ** 2
        rgb[disc] = 255
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        y = 0.299 * r + 0.587 * g + 0.114 * b
        u = (b - y) * 0.564 + 128
        v = (r - y) * 0.713 + 128
        sub = lambda p: p.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))  # noqa: E731
        planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes() for p in (y, sub(u), sub(v))]
        out.append(b"FRAME\n" + b"".join(planes))
    path.write_bytes(b"".join(out))
    return path


def _needs():
    chrome, driver, why = find_browser()
    if why:
        pytest.skip(why)
    if not (WEB / "node_modules/@litertjs/core/dist/index.js").is_file():
        pytest.skip("needs @litertjs/core in android_demo/web/node_modules: bash android_demo/web/run_tests.sh "
                    "installs it from package-lock.json (npm ci)")
    return chrome, driver


class _AppUrl(str):
    """The page's URL, with the built folder (`site`) and the serve module (`serve`) attached."""


@pytest.fixture(scope="module")
def app(tiny_artifacts, tmp_path_factory):
    """The built app (int8 + fp32), plus broken model folders, served with COOP/COEP on localhost."""
    _needs()
    import importlib.util
    spec = importlib.util.spec_from_file_location("phone_build", WEB / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    spec2 = importlib.util.spec_from_file_location("phone_serve", WEB / "serve.py")
    serve = importlib.util.module_from_spec(spec2)
    spec2.loader.exec_module(serve)
    out = build.build(tiny_artifacts, tmp_path_factory.mktemp("phone") / "site", ["int8", "fp32"])
    tampered = out / "model_tampered"
    shutil.copytree(out / "model", tampered)
    f = tampered / "backbone_48_int8.tflite"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    bad = out / "model_badschema"
    shutil.copytree(out / "model", bad)
    doc = json.loads((bad / "manifest.json").read_text())
    doc["schema"] = 7
    (bad / "manifest.json").write_text(json.dumps(doc))
    srv = serve.make_server(out, "127.0.0.1", 0)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/index.html"
    url_str = _AppUrl(url)
    url_str.site, url_str.serve = out, serve
    yield url_str
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chrome, driver = _needs()
    clip = write_y4m(tmp_path_factory.mktemp("clip") / "clip.y4m")
    b = Browser(chrome, driver, extra_args=("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                                             f"--use-file-for-fake-video-capture={clip}"))
    yield b
    b.close()


def _run_page(b, url, steps=STEPS, processed=4, shot=None):
    b.get(url)
    b.wait(f"return window.arnet && (window.arnet.status === 'error' || window.arnet.events.length >= {steps} && "
           f"window.arnet.events.filter((e) => e.kind === 'resolution').length >= {processed});",
           120, f"{steps} steps with {processed} processed frames, or an error on the page")
    if shot:
        b.screenshot(shot)       # while the camera still plays
    st = b.js("arnet.stop(); return {status: arnet.status, error: arnet.error, events: arnet.events, frames: arnet.frames, stats: arnet.stats};")
    assert st["error"] is None, st["error"]
    return st


class _RecordedViews:
    """The model inputs the page made from one camera frame (its centre square resized by the
    manifest's rule in JS), for the Python runtime: both run the same .tflite on the same inputs."""

    def __init__(self, views: dict, square: np.ndarray, method: str) -> None:
        self.views = {int(s): _rgb(b, int(s)) for s, b in views.items()}
        self.square, self.method = square, method

    def get(self, size: int, dst=None):
        if size not in self.views:      # the Python runtime chose another branch than the page
            from edge_runtime.preprocess import resize_image
            self.views[size] = resize_image(self.square, size, self.method)
        v = self.views[size]
        if dst is not None:
            dst[...] = v
            return dst
        return v


def _rgb(b64: str, size: int) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), np.uint8).reshape(size, size, 3)


def _python_replay(model_dir, precision, st, strict=True):
    """The Python LiteRT runtime on the page's frames: with the page's resized views (`exact`)
    and with its own cv2 resize of the page's centre squares (`own`). Not `strict`: stops at the
    first step where the two runs disagree on whether a frame is needed (a different skip)."""
    from edge_runtime.pipeline import AdaptivePipeline
    out = {}
    for how in ("exact", "own"):
        try:
            pipe = AdaptivePipeline(model_dir, "litert", precision, threads=1, record_outputs=True)
        except ImportError as e:
            pytest.skip(f"the Python LiteRT runtime is not importable here ({e})")
        frames = {f["step"]: f for f in st["frames"]}
        cur = {}
        if how == "exact":
            pipe._view = lambda i, frame: cur["v"]
        got = []
        for ev in st["events"]:
            fr = frames.get(ev["step"])
            img = None
            if fr is not None:
                img = _rgb(fr["rgb"], fr["size"])
                cur["v"] = _RecordedViews(fr["views"], img, pipe.manifest.normalization.get("resize", "area"))
            if (img is not None) != pipe.needs_frame():
                # with its own resize (`own`) Python may take another action: compare up to there
                assert not strict or how == "own", f"step {ev['step']}: a frame recorded = {img is not None}"
                break
            got.append(pipe.step(img))
            if strict and how == "exact" and got[-1].action != ev["action"] and _near_tie(ev):
                break   # fp32 logits within 1e-6 can still flip an exact tie: compare up to it
        out[how] = got
    return out


def _near_tie(ev, gap=1e-4) -> bool:
    """The page's top two action logits at this step are within ``gap``."""
    lg = sorted(ev.get("action_logits") or [], reverse=True)
    return len(lg) >= 2 and lg[0] - lg[1] < gap


def _resize_diff(st, method):
    from edge_runtime.preprocess import resize_image
    worst, n_diff, n = 0, 0, 0
    for fr in st["frames"]:
        sq = _rgb(fr["rgb"], fr["size"])
        for s, b in fr["views"].items():
            d = np.abs(resize_image(sq, int(s), method).astype(int) - _rgb(b, int(s)).astype(int))
            worst, n_diff, n = max(worst, int(d.max())), n_diff + int((d > 0).sum()), n + d.size
    return worst, n_diff / max(1, n)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_page_matches_python_runtime_on_the_same_frames(app, browser, tiny_artifacts, precision):
    b = browser
    st = _run_page(b, f"{app}?precision={precision}&record=1&fast=1&sw=0&threads=0", shot=SHOTS / f"phone_{precision}.png")
    # LiteRT.js and ai_edge_litert share LiteRT's kernels: identical actions for both precisions.
    # tflite_runtime (the JetPack path) has older int8 kernels: there the two int8 engines agree
    # within what the export's validation allows each (its litert/int8 action agreement with PyTorch).
    import importlib.util
    strict = precision == "fp32" or importlib.util.find_spec("ai_edge_litert") is not None
    runs = _python_replay(tiny_artifacts, precision, st, strict=strict)
    py = runs["exact"]
    if not strict:
        val = json.loads((tiny_artifacts / "manifest.json").read_text())["validation"]["pipelines"]["litert/int8"]
        n = len(py)
        agree = sum(e["action"] == p.action for e, p in zip(st["events"], py)) / n
        print(f"\nint8 with tflite_runtime: {n} steps compared, actions agree {100 * agree:.1f}% "
              f"(export validation: {100 * val['action_agreement']:.1f}%)")
        # each engine takes PyTorch's action on about val's share of steps, so the two agree with each
        # other on at least 1 - 2 * (1 - that share) (disagreements add up at worst)
        bound = 1.0 - 2.0 * (1.0 - val["action_agreement"])
        assert n >= 8 and agree >= bound, (n, agree, val["action_agreement"], bound)
        return
    st["events"] = st["events"][:len(py)]   # up to an exact tie the two runtimes broke differently
    assert len(py) >= 30, len(py)
    js_actions = [e["action"] for e in st["events"]]
    assert js_actions == [e.action for e in py]
    assert [e["kind"] for e in st["events"]] == [e.kind for e in py]
    assert [e["label"] for e in st["events"]] == [e.label for e in py]
    for je, pe in zip(st["events"], py):
        assert [i for i, _ in je["top"]] == [i for i, _ in pe.top], je["step"]
    score_err = max([abs(a - c) for je, pe in zip(st["events"], py) for (_, a), (_, c) in zip(je["top"], pe.top)] or [0.0])
    logit_err = max(float(np.max(np.abs(np.asarray(je["action_logits"], np.float64)
                                        - np.asarray(pe.outputs["policy"]["action_logits"], np.float64).ravel())))
                    for je, pe in zip(st["events"], py) if pe.outputs and pe.outputs.get("policy") is not None)
    kinds = {e["kind"] for e in st["events"]}
    assert "resolution" in kinds, kinds
    # The JS resize (a port of the manifest's rule) against cv2 on the same centre squares: within
    # 1 grey level; the Python runtime with its own resize then agrees on most actions.
    worst, frac = _resize_diff(st, json.loads((tiny_artifacts / "manifest.json").read_text())["normalization"].get("resize", "area"))
    own = [e.action for e in runs["own"]]
    agree = sum(a == b for a, b in zip(js_actions, own)) / max(1, len(own))
    print(f"\n{precision}: {len(py)} steps {dict((k, sum(e['kind'] == k for e in st['events'])) for k in kinds)}, "
          f"max |policy logit diff| {logit_err:.3g}, max |score diff| {score_err:.3g}; "
          f"resize vs cv2: max {worst} grey levels, {100 * frac:.2f}% of values differ; actions with cv2 resize agree {100 * agree:.1f}%")
    assert logit_err <= (1e-5 if precision == "fp32" else 1e-6), logit_err
    assert score_err <= 1e-5, score_err
    assert worst <= 1, worst
    assert b.js("return document.querySelector('.arnet-label').dataset.label;") == py[-1].label
    assert int(b.js("return document.querySelectorAll('.arnet-topk li').length;")) == 3
    assert "Uniform" in b.js("return document.querySelector('dd[data-stat=\"gmacs/frame\"]').textContent;")
    assert (SHOTS / f"phone_{precision}.png").stat().st_size > 10_000


@pytest.mark.parametrize("query, expect", [
    ("model=./model_tampered/", "backbone_48_int8.tflite: sha256"),
    ("model=./model_badschema/", "manifest.schema: expected 1 (got 7)"),
    ("model=./no_such_folder/", "manifest.json"),
    ("precision=fp16x", "no tflite fp16x artifact"),
    ("simulate_no_simd=1", "does not support WebAssembly SIMD"),
])
def test_bad_input_shows_a_message(app, browser, query, expect):
    b = browser
    b.get(f"{app}?{query}&sw=0")
    b.wait("return window.arnet && window.arnet.status === 'error';", 60, f"an error for {query}")
    msg = b.js("const m = document.getElementById('msg'); return m.hidden ? '' : m.textContent;")
    assert expect in msg, msg
    b.screenshot(SHOTS / f"error_{query.split('=')[0]}_{len(query)}.png")


def test_camera_permission_denied_shows_a_message(app, tmp_path):
    chrome, driver = _needs()
    b = Browser(chrome, driver, extra_args=("--deny-permission-prompts", "--use-fake-device-for-media-stream"))
    try:
        b.get(f"{app}?sw=0")
        b.wait("return window.arnet && window.arnet.status === 'error';", 60, "a camera error")
        msg = b.js("return document.getElementById('msg').textContent;")
        assert msg.startswith("camera:"), msg
        assert "denied" in msg or "NotAllowedError" in msg, msg
        b.screenshot(SHOTS / "error_camera.png")
    finally:
        b.close()


def test_installable_and_works_offline_once_loaded(app, browser):
    """The web manifest is linked and the service worker, once it controls the page, answers every
    request from its cache: the page reloads and runs the model with the server gone."""
    srv = app.serve.make_server(app.site, "127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/index.html"
    b = browser
    try:
        b.get(url)
        b.wait("return window.arnet && arnet.status === 'live';", 60, "the page to run")
        man = b.js_async("""const done = arguments[arguments.length - 1];
fetch(document.querySelector('link[rel=manifest]').href).then((r) => r.json()).then(done, (e) => done(String(e)));""")
        assert man["display"] == "standalone" and man["icons"], man
        b.wait("return navigator.serviceWorker.controller !== null || (location.reload(), false);", 60,
               "the service worker to control the page")
    finally:
        srv.shutdown()
        srv.server_close()
    b.get(url + "?precision=fp32")
    b.wait("return window.arnet && (arnet.status === 'error' || arnet.events.length >= 3);", 60,
           "the page to run offline")
    assert b.js("return arnet.error;") is None, b.js("return arnet.error;")
    b.screenshot(SHOTS / "offline.png")


def test_bench_turns_clips_into_the_fake_cameras_y4m_and_measures_steady_fps(tmp_path):
    """android_demo/web/bench.py: --video clips become one 4:2:0 y4m (centre square, every frame
    of every clip in order), and a page run's fps leaves out its first steps."""
    cv2 = pytest.importorskip("cv2")
    import importlib.util
    spec = importlib.util.spec_from_file_location("web_bench", WEB / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for name, frames in (("a.avi", 5), ("b.avi", 3)):
        w = cv2.VideoWriter(str(tmp_path / name), cv2.VideoWriter_fourcc(*"MJPG"), 24, (64, 48))
        for i in range(frames):
            w.write(np.full((48, 64, 3), 20 * i, np.uint8))
        w.release()
    path, n = bench.video_to_y4m(tmp_path, tmp_path / "out.y4m", size=32)
    data = path.read_bytes()
    head, _, body = data.partition(b"\n")
    assert head.startswith(b"YUV4MPEG2 W32 H32 F24:1") and n == 8
    frame = len(b"FRAME\n") + 32 * 32 * 3 // 2
    assert len(body) == n * frame and body.count(b"FRAME\n") >= n
    luma = [body[k * frame + 6] for k in range(n)]          # first Y sample of each frame: a's ramp, then b's
    assert luma[0] < luma[4] and luma[5] < luma[4]
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no video files"):
        bench.video_to_y4m(tmp_path / "empty", tmp_path / "x.y4m")
    ev = [{"t": 10.0 + (0 if k < 5 else k * 0.01), "kind": "resolution" if k % 4 else "skip", "ms": 2.0}
          for k in range(45)]
    st = bench.steady({"events": ev, "stats": {"gmacs_per_frame": 0.1, "uniform_gmacs_per_frame": 0.4}}, 5)
    assert st["fps"] == pytest.approx(100.0) and st["step_ms_p50"] == 2.0
    assert st["skipped_or_skip"] == pytest.approx(10 / 40)
    with pytest.raises(RuntimeError, match="fewer than --warmup"):
        bench.steady({"events": ev[:6], "stats": {}}, 5)
