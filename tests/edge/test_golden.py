"""Golden traces: the committed ones replay through StreamingController; recording round-trips;
the runtime-made traces regenerate with the same actions and labels."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from edge_helpers import json_lines, run_script

from edge_runtime import golden
from edge_runtime.backends.fake import fake_manifest
from edge_runtime.pipeline import AdaptivePipeline
from edge_runtime.sources import open_source

TRACES = sorted(golden.GOLDEN_DIR.glob("*.json")) if golden.GOLDEN_DIR.is_dir() else []


@pytest.mark.parametrize("path", TRACES, ids=[p.stem for p in TRACES])
def test_committed_trace_replays(path):
    golden.check(golden.load(path), path.name)


def test_there_are_committed_traces():
    if not TRACES:
        pytest.skip(f"no traces in {golden.GOLDEN_DIR}")
    assert any(p.name.startswith("runtime_") for p in TRACES), "the runtime's own traces are missing"


def _fake_trace(**kw):
    m = fake_manifest()
    p = AdaptivePipeline(m, backend="fake", window=kw.pop("window", 6), seed=1)
    clips = [open_source("synthetic://bars?size=80x60&frames=150", p.seconds_per_step).frames(p.needs_frame),
             open_source("synthetic://noise?size=80x60&frames=90", p.seconds_per_step).frames(p.needs_frame)]
    return golden.record(p, clips, name="t", **kw)


def test_recorded_trace_has_the_format_and_replays():
    tr = _fake_trace(lam=0.5)
    assert tr["format"] == "arnet-golden-trace/1"
    assert set(tr["options"]) == {"window", "top_k", "margin", "hold", "lambda"}
    steps = tr["steps"]
    assert [s["t"] for s in steps] == list(range(len(steps)))
    assert [s.get("clear", False) for s in steps].count(True) == 1
    for s in steps:
        if s["expect"]["kind"] == "skipped":
            assert s["policy"] is None and s["backbone"] is None
        else:
            pol = s["policy"]
            assert set(pol) == {"action_logits", "class_logits", "h", "c"}
            for v in pol["action_logits"] + pol["h"]:
                assert float(np.float32(v)) == v          # float32 values written exactly
    assert golden.replay(tr) == []
    json.dumps(tr)                                        # JSON-ready


def test_replay_detects_tampering():
    tr = _fake_trace()
    i = next(k for k, s in enumerate(tr["steps"]) if s["expect"]["kind"] == "resolution" and k > 3)
    t1 = copy.deepcopy(tr)
    t1["steps"][i]["expect"]["action"] = (t1["steps"][i]["expect"]["action"] + 1) % 7
    assert any("action" in e for e in golden.replay(t1))
    t2 = copy.deepcopy(tr)
    t2["steps"][i]["expect"]["top"][0][1] += 1e-6
    assert any("top score" in e for e in golden.replay(t2))
    t3 = copy.deepcopy(tr)
    j = next(k for k, s in enumerate(tr["steps"]) if s["expect"]["kind"] == "skip")
    t3["steps"][j]["policy"]["action_logits"] = [0.0] * 7  # → a different decision
    assert golden.replay(t3)
    with pytest.raises(AssertionError):
        golden.check(t1)


def test_clip_scores_equal_predict_clip():
    m = fake_manifest()
    p = AdaptivePipeline(m, backend="fake", seed=2)
    frames = [sf.frame for sf in open_source("synthetic://bars?size=64x64&frames=120", 0.25).frames()]
    tr = golden.record(p, [iter(frames)], name="c", clip=True)
    probs, _ = p.predict_clip(frames)
    np.testing.assert_allclose(tr["clip"]["scores"], probs, atol=1e-12)
    assert golden.replay(tr) == []


def test_golden_cli(tmp_path, fake_model_dir):
    out = tmp_path / "g.json"
    r = run_script(["-m", "edge_runtime.golden", "--model", str(fake_model_dir), "--backend", "fake",
                    "--video", "synthetic://bars?size=64x48&frames=120", "--out", str(out), "--clip"])
    assert r.returncode == 0, r.stderr
    assert json_lines(r.stdout)[0]["steps"] == 16
    golden.check(golden.load(out))
    r = run_script(["-m", "edge_runtime.golden", "--model", str(fake_model_dir), "--backend", "fake",
                    "--out", str(out)])
    assert r.returncode == 2 and "--video" in r.stderr and "Traceback" not in r.stderr


def test_runtime_fake_trace_regenerates():
    """The committed fake-backend trace comes out of the runtime again with identical actions,
    kinds and labels (tensors within float noise: BLAS and OpenCV builds differ in last bits)."""
    path = golden.GOLDEN_DIR / "runtime_fake_streams.json"
    if not path.exists():
        pytest.skip("runtime_fake_streams.json not committed")
    old = golden.load(path)
    new = make_runtime_fake_streams()
    assert len(new["steps"]) == len(old["steps"])
    for a, b in zip(old["steps"], new["steps"]):
        for k in ("kind", "action", "label"):
            assert a["expect"][k] == b["expect"][k], (a["t"], k)
        assert [i for i, _ in a["expect"]["top"]] == [i for i, _ in b["expect"]["top"]]
        if a["policy"]:
            np.testing.assert_allclose(a["policy"]["action_logits"], b["policy"]["action_logits"], atol=1e-4)


def make_runtime_fake_streams() -> dict:
    """How runtime_fake_streams.json is made (also: python -m edge_runtime.golden --backend fake)."""
    m = fake_manifest(num_classes=6, hidden=8, frames_per_clip=6)
    p = AdaptivePipeline(m, backend="fake", seed=14, window=6, margin=0.1, hold=2)
    clips = [open_source("synthetic://bars?size=96x72&frames=240", p.seconds_per_step).frames(p.needs_frame),
             open_source("synthetic://noise?size=96x72&frames=120&seed=4", p.seconds_per_step).frames(p.needs_frame),
             open_source("synthetic://flat?size=64x64&frames=90", p.seconds_per_step).frames(p.needs_frame)]
    return golden.record(p, clips, name="runtime_fake_streams",
                         description="edge_runtime pipeline, fake backend (seed 14), three synthetic:// "
                                     "streams with clear() between them, window 6, margin 0.1 / hold 2",
                         generator="tests/edge/test_golden.py::make_runtime_fake_streams")


def make_runtime_tiny_traces(model_dir) -> dict:
    """The traces of the real tiny model (tests/edge/make_tiny_artifacts.py) through LiteRT:
    fp32 over two streams with clear(), int8 over one clip with its clip prediction."""
    out = {}
    p = AdaptivePipeline(model_dir, backend="litert", precision="fp32", threads=1, window=6)
    clips = [open_source("synthetic://bars?size=128x96&frames=300", p.seconds_per_step).frames(p.needs_frame),
             open_source("synthetic://noise?size=96x96&frames=150&seed=2", p.seconds_per_step).frames(p.needs_frame)]
    out["runtime_tiny_litert_fp32"] = golden.record(
        p, clips, name="runtime_tiny_litert_fp32",
        description="edge_runtime + LiteRT fp32 on the tiny model of tests/edge/make_tiny_artifacts.py, "
                    "two synthetic:// streams with clear(), window 6",
        generator="tests/edge/test_golden.py::make_runtime_tiny_traces")
    p = AdaptivePipeline(model_dir, backend="litert", precision="int8", threads=1)
    clip = open_source("synthetic://bars?size=128x96&frames=96", p.seconds_per_step).frames(p.needs_frame)
    out["runtime_tiny_litert_int8_clip"] = golden.record(
        p, [clip], name="runtime_tiny_litert_int8_clip", clip=True,
        description="edge_runtime + LiteRT int8 (int8 state requantised every step) on the tiny model, "
                    "one 3.2 s clip with its clip prediction",
        generator="tests/edge/test_golden.py::make_runtime_tiny_traces")
    return out


def test_runtime_tiny_traces_regenerate(engine_models):
    for name, new in make_runtime_tiny_traces(engine_models).items():
        path = golden.GOLDEN_DIR / f"{name}.json"
        if not path.exists():
            pytest.skip(f"{path.name} not committed")
        old = golden.load(path)
        assert [(s["expect"]["kind"], s["expect"]["action"], s["expect"]["label"]) for s in old["steps"]] == \
            [(s["expect"]["kind"], s["expect"]["action"], s["expect"]["label"]) for s in new["steps"]], name


if __name__ == "__main__":  # regenerate the committed runtime traces
    import sys
    golden.write(make_runtime_fake_streams(), golden.GOLDEN_DIR / "runtime_fake_streams.json")
    if len(sys.argv) > 1:  # the tiny model folder (make_tiny_artifacts.py --out DIR)
        for name, tr in make_runtime_tiny_traces(sys.argv[1]).items():
            for msg in golden.near_ties(tr):
                print("near tie:", name, msg)
            golden.write(tr, golden.GOLDEN_DIR / f"{name}.json")


def test_state_is_left_out_for_big_hidden():
    m = fake_manifest(hidden=128)
    p = AdaptivePipeline(m, backend="fake")
    frames = [sf.frame for sf in open_source("synthetic://?size=64x64&frames=40", 0.25).frames()]
    tr = golden.record(p, [iter(frames)], name="big")
    pols = [s["policy"] for s in tr["steps"] if s["policy"]]
    assert pols and all(set(pol) == {"action_logits", "class_logits"} for pol in pols)
    assert golden.replay(tr) == []
    tr = golden.record(p, [iter(frames)], name="big", state=True)
    assert all("h" in s["policy"] for s in tr["steps"] if s["policy"])


def test_int8_codec_matches_the_kotlin_pins():
    """base.py's adapters produce exactly the bytes android_demo's codec_cases.json pins (the
    Kotlin int8 codec is tested against the same file)."""
    import base64

    from edge_runtime.backends.base import EngineTensor, input_adapter, output_adapter
    path = golden.GOLDEN_DIR.parent / "codec_cases.json"
    if not path.exists():
        pytest.skip("codec_cases.json not there")
    cases = json.loads(path.read_text())["cases"]
    y, x = np.mgrid[0:8, 0:8]
    img = np.zeros((8, 8, 3), np.uint8)
    for ch in range(3):
        img[..., ch] = ((x * 37 + y * 91 + ch * 53) ^ (x * y + 7 * ch)) & 255
    for c in cases:
        q = None if c["quant"] is None else (c["quant"]["scale"], c["quant"]["zero_point"])
        role = "frame" if c["kind"] == "frame" else "h"
        t = EngineTensor(role, role, tuple(c["shape"]), np.dtype(c["dtype"]), c["layout"], q)
        if c["kind"] == "frame":
            enc = input_adapter(t, c["normalization"])(img[None])
        else:
            enc = input_adapter(t, None)(np.asarray(c["values"], np.float32))
            if c["decoded"] is not None:
                assert np.asarray(output_adapter(t)(enc), np.float32).reshape(-1).tolist() == c["decoded"], c["name"]
        assert base64.b64encode(np.ascontiguousarray(enc).tobytes()).decode() == c["bytes_b64"], c["name"]
