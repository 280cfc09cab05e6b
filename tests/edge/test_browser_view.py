"""live.py --serve in a real browser: headless Chromium (Debian's chromium + chromium-driver,
installed by scripts/install_chromium.sh) driven over W3C WebDriver opens the page on a
synthetic:// run, sees the label, the image, the policy strip and the fps change, sets a target
fps and sees λ move, and saves screenshots under build/browser_view/."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from edge_helpers import ROOT, LiveServer
from webdriver import Browser, find_browser

SHOTS = ROOT / "build" / "browser_view"
SOURCE = "synthetic://bars?size=320x240&realtime=1"

CHECKSUM = """
const img = document.getElementById('video');
if (!img || !img.naturalWidth) return null;
const c = document.createElement('canvas'); c.width = 64; c.height = 48;
const g = c.getContext('2d'); g.drawImage(img, 0, 0, 64, 48);
const d = g.getImageData(0, 0, 64, 48).data; let s = 0;
for (let i = 0; i < d.length; i += 1) s = (s * 31 + d[i]) % 1000000007;
return s;"""


@pytest.fixture(scope="module")
def browser():
    chrome, driver, why = find_browser()
    if why:
        pytest.skip(why)
    b = Browser(chrome, driver)
    yield b
    b.close()


@pytest.fixture(scope="module")
def fast_model(tmp_path_factory):
    """The fake model sampling 20 frames a second, so labels and λ move within seconds."""
    from edge_runtime.backends.fake import fake_manifest
    d = tmp_path_factory.mktemp("fast_fake_model")
    fake_manifest(seconds_per_step=0.05).save(d)
    return d


def _text(b, css):
    return b.js(f"const e = document.querySelector({json.dumps(css)}); return e ? e.textContent : null;")


def _wait_changes(b, script, what, timeout=30.0):
    first = b.wait(f"return {script};", timeout, what)
    b.wait(f"const v = {script}; return v !== null && v !== undefined && v !== {json.dumps(first)};",
           timeout, what + " to change")
    return first


def _lambda(b):
    t = _text(b, 'dd[data-stat="budget"]') or ""
    m = re.match(r"\s*([0-9.]+)", t)
    return float(m.group(1)) if m else None


def test_one_stream_page_updates_and_controls_move_lambda(browser, fast_model):
    with LiveServer(["--model", fast_model, "--backend", "fake", "--source", SOURCE, "--headless",
                     "--no-power", "--quiet", "--serve", "127.0.0.1:0"]) as srv:
        b = browser
        b.get(srv.url)
        b.wait("return document.querySelectorAll('.arnet-stream').length === 1;", 20, "one stream panel")
        _wait_changes(b, "document.querySelector('#stream-0 .arnet-label').dataset.label || null", "the label")
        _wait_changes(b, f"(() => {{ {CHECKSUM} }})()", "the image")
        _wait_changes(b, "document.querySelector('#stream-0 .arnet-strip').dataset.count || null",
                      "the policy strip")
        _wait_changes(b, "(document.querySelector('dd[data-stat=\"fps\"]') || {}).textContent || null", "the fps")
        assert "–" not in _text(b, 'dd[data-stat="fps"]')
        assert int(b.js("return document.querySelectorAll('#stream-0 .arnet-topk li').length;")) == 3
        assert _lambda(b) is None        # no budget yet
        b.type("#target-value", "100000")
        b.click("#target-set")
        b.wait("const e = document.querySelector('dd[data-stat=\"budget\"]'); "
               "return e && parseFloat(e.textContent) > 0;", 30, "λ to rise after a target of 100000 fps")
        assert _lambda(b) > 0
        with urllib.request.urlopen(srv.base + "/api/status", timeout=10) as r:
            st = json.load(r)
        assert st["budget"]["target_fps"] == 100000.0
        # view.js on its own, fed plain event objects (docs/EVENTS.md): how the phone demo uses it
        got = b.js_async("""
const done = arguments[arguments.length - 1];
import('./view.js').then((m) => {
  const root = document.createElement('div');
  const v = new m.StreamView(root, {title: 'phone', resolutions: [224, 168]});
  v.event({stream: 0, step: 0, t: 0, kind: 'resolution', action: 1, action_name: 'res168', resolution: 168,
           top_k: [['walking', 0.8], ['running', 0.2]], label: 'walking', ms: {step: 3}, gmacs: 1.2});
  v.event({stream: 0, step: 1, t: 0.25, kind: 'skip', action: 4, action_name: 'skip2', skip: 2,
           top_k: [], label: 'walking', ms: {step: 1}, gmacs: 0});
  v.draw();
  const stats = document.createElement('div');
  m.renderStats(stats, {fps: 12.5, p50_ms: 3, p95_ms: 5, gmacs_per_frame: 0.6, uniform_gmacs_per_frame: 4.1,
                        lambda: 0.5, target_fps: 15});
  done([root.querySelector('.arnet-label').textContent, root.querySelectorAll('.arnet-topk li').length,
        root.querySelector('.arnet-strip').dataset.count, root.querySelector('.arnet-strip').dataset.last,
        stats.querySelector('dd[data-stat="gmacs/frame"]').textContent,
        stats.querySelector('dd[data-stat="budget"]').textContent]);
}).catch((e) => done(String(e)));""")
        assert got == ["walking", 2, "2", "skip2", "0.600 vs Uniform 4.100 (15%)", "0.50 (target 15.0 fps)"], got
        b.screenshot(SHOTS / "one_stream.png")
        assert (SHOTS / "one_stream.png").stat().st_size > 10_000
        b.click("#target-off")
        b.wait("return (document.querySelector('dd[data-stat=\"budget\"]') || {}).textContent"
               " && document.querySelector('dd[data-stat=\"budget\"]').textContent.includes('target none');",
               20, "the target to be dropped")
    assert srv.rc == 0, "".join(srv.err)
    assert srv.summary["serve"]["images_encoded"] > 0


def test_multi_stream_page_shows_every_stream(browser, fast_model):
    with LiveServer(["--model", fast_model, "--backend", "fake", "--source", SOURCE, "--source",
                     "synthetic://bars?size=240x180&realtime=1", "--headless", "--no-power", "--quiet",
                     "--serve", "127.0.0.1:0"]) as srv:
        b = browser
        b.get(srv.url)
        b.wait("return document.querySelectorAll('.arnet-stream').length === 2;", 20, "two stream panels")
        for i in (0, 1):
            _wait_changes(b, f"document.querySelector('#stream-{i} .arnet-strip').dataset.count || null",
                          f"stream {i}'s policy strip")
            b.wait(f"return document.querySelector('#stream-{i} .arnet-label').dataset.label;", 20,
                   f"stream {i}'s label")
        _wait_changes(b, f"(() => {{ {CHECKSUM} }})()", "the grid image")
        w, h = b.js("const i = document.getElementById('video'); return [i.naturalWidth, i.naturalHeight];")
        assert (w, h) == (960, 360)      # two overlaid cells side by side
        b.screenshot(SHOTS / "multi_stream.png")
    assert srv.rc == 0, "".join(srv.err)


def test_page_with_a_token(browser, fast_model):
    with LiveServer(["--model", fast_model, "--backend", "fake", "--source", SOURCE, "--headless",
                     "--no-power", "--quiet", "--serve", "127.0.0.1:0", "--serve-token", "t0ken"]) as srv:
        b = browser
        assert srv.url.endswith("?token=t0ken")
        b.get(srv.base + "/")                            # no token: refused, nothing served
        assert "a token is required" in b.js("return document.body.textContent;")
        b.get(srv.url)
        b.wait("return document.querySelectorAll('.arnet-stream').length === 1;", 20, "the stream panel")
        _wait_changes(b, f"(() => {{ {CHECKSUM} }})()", "the image")
        b.click("#pause")
        b.wait("return document.getElementById('conn').textContent === 'paused';", 20, "paused")
        b.click("#pause")
        b.wait("return document.getElementById('conn').textContent === 'live';", 20, "live again")
    assert srv.rc == 0, "".join(srv.err)
