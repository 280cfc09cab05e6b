"""Backends: input/output adaptation, registry, and each real engine on a tiny model whose exact
math is known (tests/edge/make_tiny_artifacts.py), so outputs are checked against numpy."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.backends import (BACKEND_NAMES, BackendError, BackendOptions, check_backend_name,
                                   create_backend, installed_backends)
from edge_runtime.backends.base import EngineTensor, input_adapter, output_adapter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_tiny_artifacts as mk  # noqa: E402

FOLDED = {"mean": [0.5] * 3, "std": [0.5] * 3, "folded": True}
UNFOLDED = {"mean": [0.5] * 3, "std": [0.5] * 3, "folded": False}
RNG = np.random.default_rng(0)
FRAME = RNG.integers(0, 256, (1, 8, 8, 3), dtype=np.uint8)


def T(role, shape, dtype, layout="NHWC", quant=None):
    return EngineTensor("x", role, tuple(shape), np.dtype(dtype), layout, quant)


# ------------------------------------------------------------------------------ adapters
def test_uint8_nhwc_passes_through_and_nchw_float_transposes():
    f = input_adapter(T("frame", (1, 8, 8, 3), np.uint8), FOLDED)
    assert f(FRAME) is FRAME or np.array_equal(f(FRAME), FRAME)
    g = input_adapter(T("frame", (1, 3, 8, 8), np.float32, "NCHW"), FOLDED)
    y = g(FRAME)
    assert y.dtype == np.float32 and y.shape == (1, 3, 8, 8)
    np.testing.assert_array_equal(y, FRAME.transpose(0, 3, 1, 2).astype(np.float32))


def test_unfolded_normalisation_matches_the_training_arithmetic():
    g = input_adapter(T("frame", (1, 8, 8, 3), np.float32), UNFOLDED)
    want = FRAME.astype(np.float32) * np.float32(1 / (255 * 0.5)) + np.float32(-1.0)
    np.testing.assert_array_equal(g(FRAME), want)
    pix = input_adapter(T("frame", (1, 8, 8, 3), np.float32),
                        {"mean": [127.5] * 3, "std": [127.5] * 3, "folded": False})
    np.testing.assert_allclose(pix(FRAME), FRAME / 127.5 - 1, atol=1e-6)
    with pytest.raises(BackendError, match="without quantisation"):
        input_adapter(T("frame", (1, 8, 8, 3), np.uint8), UNFOLDED)


def test_int8_frame_and_state_quantise_and_outputs_dequantise():
    f = input_adapter(T("frame", (1, 8, 8, 3), np.int8, quant=(1.0, -128)), FOLDED)
    np.testing.assert_array_equal(f(FRAME), (FRAME.astype(np.int16) - 128).astype(np.int8))
    q = input_adapter(T("frame", (1, 8, 8, 3), np.int8, quant=(2 / 255, 0)), UNFOLDED)
    real = FRAME / 127.5 - 1
    np.testing.assert_allclose(q(FRAME) * (2 / 255), real, atol=1 / 255 + 1e-6)
    s = input_adapter(T("h", (1, 4), np.int8, "NC", quant=(0.05, 3)), FOLDED)
    h = np.array([[0.0, 1.0, -1.0, 100.0]], np.float32)
    np.testing.assert_array_equal(s(h), np.array([[3, 23, -17, 127]], np.int8))   # clamped
    o = output_adapter(T("h", (1, 4), np.int8, "NC", quant=(0.05, 3)))
    np.testing.assert_allclose(o(s(h)), [[0, 1, -1, 6.2]], atol=1e-6)
    with pytest.raises(BackendError, match="without quantisation"):
        input_adapter(T("c", (1, 4), np.int8, "NC"), FOLDED)
    f16 = input_adapter(T("h", (1, 4), np.float16, "NC"), FOLDED)
    assert f16(h).dtype == np.float16


def test_adapter_rejects_wrong_frames():
    f = input_adapter(T("frame", (1, 8, 8, 3), np.uint8), FOLDED)
    with pytest.raises(ValueError, match="8x8"):
        f(np.zeros((1, 9, 9, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        f(np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(BackendError, match="channels"):
        input_adapter(T("frame", (1, 8, 8, 4), np.uint8), FOLDED)


# ------------------------------------------------------------------------------ registry
def test_registry_names_and_errors():
    assert BACKEND_NAMES == ("litert", "onnxruntime", "executorch", "torch")
    assert set(installed_backends()) <= set(BACKEND_NAMES)
    with pytest.raises(BackendError, match="valid choices: litert, onnxruntime, executorch, torch"):
        check_backend_name("tflite")


def test_missing_engine_is_a_clear_error(monkeypatch):
    from edge_runtime.backends import litert_backend
    monkeypatch.setattr(litert_backend, "_ENGINES", ("no_such_engine_mod",))
    monkeypatch.setattr(litert_backend, "_engine_cache", {})
    with pytest.raises(BackendError, match="pip install ai-edge-litert"):
        litert_backend.import_interpreter()


def test_onnxruntime_unavailable_provider_lists_the_available_ones():
    pytest.importorskip("onnxruntime")
    from edge_runtime.backends.ort_backend import resolve_providers
    assert resolve_providers(None, ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert resolve_providers(["cuda"], ["CUDAExecutionProvider", "CPUExecutionProvider"]) == \
        ["CUDAExecutionProvider", "CPUExecutionProvider"]
    with pytest.raises(BackendError, match="available: CPUExecutionProvider"):
        resolve_providers(["tensorrt"], ["CPUExecutionProvider"])


# ------------------------------------------------------------------------------ real engines
def _load(model: Path, backend: str, precision: str, aid: str, **opt):
    from edge_runtime.manifest import load_manifest
    m = load_manifest(model)
    art = m.find(aid, backend, precision)
    return create_backend(backend, m.verify(art), art, BackendOptions(normalization=m.normalization, **opt))


def _check_engine(model: Path, backend: str, precision: str, tol: float, **opt):
    w = dict(np.load(model / "weights.npz"))
    pol = _load(model, backend, precision, "policy", **opt)
    rng = np.random.default_rng(5)
    h = np.zeros((1, mk.H), np.float32)
    c = h.copy()
    hr, cr = h.copy(), c.copy()
    for _ in range(6):
        fr = rng.integers(0, 256, (1, 24, 24, 3), dtype=np.uint8)
        out = pol.run({"frame": fr, "h": h, "c": c})
        ref = mk.policy_np(w, fr, hr, cr)
        for k, r in zip(("action_logits", "class_logits", "h", "c"), ref):
            assert out[k].dtype == np.float32
            np.testing.assert_allclose(out[k], r, atol=tol, err_msg=f"{backend}/{precision} {k}")
        h, c = out["h"], out["c"]                     # the state goes round, requantised if int8
        hr, cr = ref[2].astype(np.float32), ref[3].astype(np.float32)
    for s in (64, 48, 32):
        bb = _load(model, backend, precision, f"backbone_{s}", **opt)
        fr = rng.integers(0, 256, (1, s, s, 3), dtype=np.uint8)
        np.testing.assert_allclose(bb.run({"frame": fr})["class_logits"], mk.backbone_np(w, s, fr), atol=tol)
    return pol


@pytest.mark.parametrize("precision,tol", [("fp32", 1e-4), ("fp16", 2e-2), ("int8", 0.6)])
def test_litert_engine(engine_models, precision, tol):
    pol = _check_engine(engine_models, "litert", precision, tol, threads=1)
    spec = {s.role: s for s in pol.input_specs()}
    assert spec["frame"].layout == "NHWC"
    if precision == "int8":
        assert spec["frame"].dtype == "int8" and spec["frame"].quant is not None
        assert spec["h"].dtype == "int8" and spec["h"].quant["scale"] > 0


def test_litert_default_threads_per_engine(engine_models, monkeypatch):
    """Every core by default; on tflite_runtime one thread for the policy, and one per network on
    two cores or fewer; --threads given is taken as it is."""
    from edge_runtime.backends import litert_backend as lb
    from edge_runtime.manifest import load_manifest
    assert lb.default_threads("ai_edge_litert", "policy", cores=4) == 4
    assert lb.default_threads("ai_edge_litert", "backbone_224", cores=2) == 2
    assert lb.default_threads("tensorflow", "policy", cores=2) == 2
    assert lb.default_threads("tflite_runtime", "policy", cores=8) == 1
    assert lb.default_threads("tflite_runtime", "backbone_224", cores=8) == 8
    assert lb.default_threads("tflite_runtime", "backbone_224", cores=2) == 1
    monkeypatch.setattr(lb, "available_cores", lambda: 4)
    pol = _load(engine_models, "litert", "fp32", "policy")
    bb = next(a.id for a in load_manifest(engine_models).artifacts if a.id != "policy")
    big = _load(engine_models, "litert", "fp32", bb)
    want = (1, 4) if pol.engine == "tflite_runtime" else (4, 4)
    assert (pol.threads, big.threads) == want, pol.engine
    assert _load(engine_models, "litert", "fp32", "policy", threads=3).threads == 3


def test_litert_by_tensor_name_and_delegate_options(engine_models, tmp_path):
    """Without a signature the backend calls by tensor name; delegate 'none' and a bad external
    delegate path behave."""
    import shutil

    from edge_runtime.manifest import load_manifest
    m = load_manifest(engine_models)
    art = m.find("policy", "litert", "fp32")
    sig = create_backend("litert", m.verify(art), art, BackendOptions(normalization=m.normalization))
    assert sig.call_path == "direct"           # the signature's names, resolved to indices once
    from edge_runtime.backends.litert_backend import import_interpreter
    runner = import_interpreter()[1](model_path=str(m.verify(art))).get_signature_runner(art.signature)
    real = {k: d["name"] for k, d in runner.get_output_details().items()}
    for t in art.outputs:                      # the manifest names the graph's own tensors
        t.name = real[t.name]
    art.signature = None
    b = create_backend("litert", m.verify(art), art, BackendOptions(normalization=m.normalization, delegate="none"))
    assert b.delegates == ["builtin"] and b.call_path == "direct"
    w = dict(np.load(engine_models / "weights.npz"))
    fr = np.full((1, 24, 24, 3), 100, np.uint8)
    z = np.zeros((1, mk.H), np.float32)
    np.testing.assert_allclose(b.run({"frame": fr, "h": z, "c": z})["action_logits"],
                               mk.policy_np(w, fr, z, z)[0], atol=1e-4)
    with pytest.raises(BackendError, match="delegate"):
        create_backend("litert", m.verify(art), art,
                       BackendOptions(normalization=m.normalization, delegate=str(tmp_path / "libnope.so")))
    bad = tmp_path / "junk.tflite"
    bad.write_bytes(b"not a flatbuffer")
    with pytest.raises(BackendError, match="junk.tflite"):
        create_backend("litert", bad, art, BackendOptions())
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_litert_threads_default_to_every_available_core(engine_models, monkeypatch):
    """LiteRT alone would run on 1 thread; the backend passes num_threads explicitly: the
    default rule's count (every core, but see test_litert_default_threads_per_engine) or the one
    asked."""
    from edge_runtime.backends import available_cores, litert_backend
    seen = []
    real = litert_backend.import_interpreter

    def spy(prefer=None):
        mod, Interp, load_delegate, resolver = real(prefer)

        def make(*a, **kw):
            seen.append(kw.get("num_threads"))
            return Interp(*a, **kw)
        return mod, make, load_delegate, resolver
    monkeypatch.setattr(litert_backend, "import_interpreter", spy)
    pol = _load(engine_models, "litert", "fp32", "policy")
    assert pol.threads == litert_backend.default_threads(pol.engine, "policy")
    if pol.engine != "tflite_runtime":
        assert pol.threads == available_cores()
    assert _load(engine_models, "litert", "fp32", "policy", threads=1).threads == 1
    assert seen == [pol.threads, 1]
    assert available_cores() >= 1


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_litert_delegates_say_what_really_runs(engine_models, precision):
    """``delegates`` names XNNPACK only when the default delegate took part of the graph (its
    DELEGATE nodes, counted at load); else the builtin kernels, with a warning (tflite_runtime
    2.14 takes no int8 graph). ``delegate="none"`` counts nothing."""
    b = _load(engine_models, "litert", precision, "backbone_64", threads=1)
    parts = sum(1 for d in b._interp._get_ops_details() if d["op_name"] == "DELEGATE")
    assert b.xnnpack_partitions == parts
    assert b.delegates == (["xnnpack"] if parts else ["builtin"])
    assert (b.warning is None) == (parts > 0)
    if b.engine == "ai_edge_litert":
        assert parts >= 1
    off = _load(engine_models, "litert", precision, "backbone_64", threads=1, delegate="none")
    assert off.delegates == ["builtin"] and off.xnnpack_partitions is None and off.warning is None


def test_a_graph_xnnpack_declines_is_reported_once_per_cause(engine_models, monkeypatch, capsys):
    from edge_runtime import live
    from edge_runtime.backends.litert_backend import LiteRTBackend
    from edge_runtime.pipeline import AdaptivePipeline
    monkeypatch.setattr(LiteRTBackend, "_count_partitions", lambda self: 0)
    p = AdaptivePipeline(engine_models, backend="litert", precision="int8", threads=1)
    eng = p.summary()["engines"]
    assert all(e["delegates"] == ["builtin"] and e["xnnpack_partitions"] == 0 for e in eng.values())
    (w,) = p.engine_warnings()                   # one line naming every network it concerns
    assert w.startswith(", ".join(p.models)) and "applied XNNPACK to none of the int8 graph's ops" in w
    args = live.build_parser().parse_args(["--model", str(engine_models), "--precision", "int8", "--threads", "1"])
    live.make_pipeline(args)
    assert capsys.readouterr().err.count("[arnet-edge] warning: ") == 1


def test_policy_threads_apply_to_the_policy_engine_alone(engine_models):
    from edge_runtime.pipeline import AdaptivePipeline
    p = AdaptivePipeline(engine_models, backend="litert", precision="fp32", threads=2, policy_threads=1)
    threads = {i: e["threads"] for i, e in p.summary()["engines"].items()}
    assert threads.pop("policy") == 1 and threads and set(threads.values()) == {2}
    with pytest.raises(ValueError, match="policy_threads must be >= 1, got 0"):
        AdaptivePipeline(engine_models, backend="litert", precision="fp32", policy_threads=0)


def test_onnxruntime_engine(engine_models):
    pytest.importorskip("onnxruntime")
    pol = _check_engine(engine_models, "onnxruntime", "fp32", 1e-4, threads=1, providers=["cpu"])
    assert pol.providers == ["CPUExecutionProvider"]
    assert {s.role: s.layout for s in pol.input_specs()}["frame"] == "NCHW"


def test_torch_engine_cpu(torch_engine_models):
    pol = _check_engine(torch_engine_models, "torch", "fp32", 1e-4, device="cpu")
    assert pol.device == "cpu" and not pol.cuda_graph


def test_torch_engine_cuda_graphs(torch_engine_models):
    import torch
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    pol = _check_engine(torch_engine_models, "torch", "fp32", 1e-3, device="cuda")
    assert pol.cuda_graph


def test_cuda_graph_buckets():
    from edge_runtime.backends.torch_backend import graph_bucket
    assert [graph_bucket(n, 256) for n in (1, 2, 3, 4, 5, 8, 9, 200, 256)] == [1, 2, 4, 4, 8, 8, 16, 256, 256]
    assert graph_bucket(5, 6) == 6
    with pytest.raises(ValueError, match="7 rows: a graph bucket holds 1 to 6"):
        graph_bucket(7, 6)


def test_executorch_engine(torch_engine_models):
    _check_engine(torch_engine_models, "executorch", "fp32", 1e-4, threads=1)


def test_same_stream_on_every_engine(engine_models, torch_engine_models, small_video):
    """Full pipeline on one clip: every engine takes the same actions and gives the same clip
    prediction (fp32)."""
    from edge_runtime.pipeline import AdaptivePipeline
    from edge_runtime.sources import open_source
    runs = {}
    combos = [(engine_models, "litert"), (engine_models, "onnxruntime"), (torch_engine_models, "torch"),
              (torch_engine_models, "executorch")]
    for model, be in combos:
        if be == "onnxruntime" and importlib.util.find_spec("onnxruntime") is None:
            continue
        p = AdaptivePipeline(model, backend=be, precision="fp32", threads=1,
                             device="cpu" if be == "torch" else None)
        frames = [sf.frame for sf in open_source(str(small_video), p.seconds_per_step).frames()]
        probs, evs = p.predict_clip(frames)
        runs[be] = ([(e.kind, e.action) for e in evs], probs)
    ref_actions, ref_probs = runs["litert"]
    assert len({a for _, a in ref_actions}) >= 3      # the tiny model really varies its actions
    for be, (acts, probs) in runs.items():
        assert acts == ref_actions, be
        np.testing.assert_allclose(probs, ref_probs, atol=1e-4, err_msg=be)
