"""LiteRT backend's call path: names resolved through the signature once at load, then plain
``set_tensor`` / ``invoke`` / ``get_tensor`` per call. It must give bit-identical outputs to the
signature runner (the old per-call path) on every engine and precision, with the LSTM state going
round (requantised every step for int8), and keep the runner for a signature that is not the
primary subgraph.

TensorFlow's own interpreter (the third engine) is checked in a subprocess: importing TensorFlow
into the test process makes a later first import of ``torch._dynamo`` crash (segfault in triton's
import), and which test imports what first depends on the selection and order of tests.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for _p in (str(HERE), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import make_tiny_artifacts as mk  # noqa: E402

from edge_runtime.backends import BackendError, BackendOptions, create_backend  # noqa: E402
from edge_runtime.backends import litert_backend  # noqa: E402

ENGINES = {"ai_edge_litert": "ai_edge_litert.interpreter", "tflite_runtime": "tflite_runtime.interpreter",
           "tensorflow": "tensorflow.lite.python.interpreter"}
CASES = [(p, d) for p in ("fp32", "fp16", "int8") for d in ("xnnpack", "none")]


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


class _Swap:
    """Set module attributes, put them back on exit (pytest's monkeypatch, usable in the subprocess)."""

    def __init__(self, **attrs):
        self.attrs, self.old = attrs, {}

    def __enter__(self):
        for k, v in self.attrs.items():
            self.old[k] = getattr(litert_backend, k)
            setattr(litert_backend, k, v)

    def __exit__(self, *exc):
        for k, v in self.old.items():
            setattr(litert_backend, k, v)


def pinned(engine: str) -> _Swap:
    """The backend restricted to one engine."""
    return _Swap(_ENGINES=(ENGINES[engine],), _engine_cache={})


# ------------------------------------------------------------------------------ the checks
def _pair(model: Path, precision: str, aid: str, delegate: str):
    """(direct backend, signature-runner backend) of one artifact, on the pinned engine."""
    from edge_runtime.manifest import load_manifest
    m = load_manifest(model)
    art = m.find(aid, "litert", precision)
    opt = BackendOptions(normalization=m.normalization, threads=1, delegate=delegate)
    direct = create_backend("litert", m.verify(art), art, opt)
    with _Swap(_primary_signature=lambda *a: False):   # as if not the primary subgraph
        runner = create_backend("litert", m.verify(art), art, opt)
    assert direct.call_path == "direct" and direct._runner is None
    assert runner.call_path == "signature_runner" and runner._runner is not None
    return direct, runner


def _tolerance(b, role: str) -> float:
    """One output quantum for int8 outputs, a few float ulps else."""
    t = next(t for t in b._outputs if t.role == role)
    return float(t.quant[0]) * 1.01 if t.quant else 1e-5


def check_bit_identical(model: Path, engine: str, precision: str, delegate: str) -> None:
    """Bit-identical, with each path carrying its own (requantised) state, except in one case:
    tflite_runtime 2.14's signature runner allocates its subgraph without the interpreter's lazy
    default delegate, so there the old path ran builtin kernels even with "xnnpack", while
    ``allocate_tensors()`` applies XNNPACK. That case is checked step by step (same inputs on
    both) to a float ulp / one int8 quantum; with ``delegate="none"`` it is bit-identical too."""
    exact = not (engine == "tflite_runtime" and delegate == "xnnpack")
    rng = np.random.default_rng(11)
    d, r = _pair(model, precision, "policy", delegate)
    assert d.engine == r.engine == engine, (d.engine, engine)
    assert [(t.name, t.dtype, t.quant) for t in d._inputs] == [(t.name, t.dtype, t.quant) for t in r._inputs]
    hd = cd = hr = cr = np.zeros((1, mk.H), np.float32)
    for step in range(8):
        fr = rng.integers(0, 256, (1, 24, 24, 3), dtype=np.uint8)
        od = d.run({"frame": fr, "h": hd, "c": cd})
        orr = r.run({"frame": fr, "h": hr, "c": cr})
        assert set(od) == set(orr) == {"action_logits", "class_logits", "h", "c"}
        for k in od:
            assert od[k].dtype == orr[k].dtype == np.float32
            msg = f"{engine}/{precision}/{delegate} step {step} {k}"
            if exact:
                np.testing.assert_array_equal(od[k], orr[k], err_msg=msg)
            else:
                np.testing.assert_allclose(od[k], orr[k], rtol=0, atol=_tolerance(r, k), err_msg=msg)
        hr, cr = orr["h"], orr["c"]
        hd, cd = (od["h"], od["c"]) if exact else (hr, cr)      # exact: each path its own state
    assert np.abs(hr).max() > 0                                  # the state really went round
    for s in (64, 48, 32):
        d, r = _pair(model, precision, f"backbone_{s}", delegate)
        for _ in range(3):
            fr = rng.integers(0, 256, (1, s, s, 3), dtype=np.uint8)
            yd, yr = d.run({"frame": fr})["class_logits"], r.run({"frame": fr})["class_logits"]
            if exact:
                np.testing.assert_array_equal(yd, yr)
            else:
                np.testing.assert_allclose(yd, yr, rtol=0, atol=_tolerance(r, "class_logits"))


def check_copies_and_errors(model: Path) -> None:
    """Outputs must not alias engine buffers (the next invoke would overwrite them, or refuse to
    run while a view is alive); a missing role and a wrong shape name the input."""
    from edge_runtime.manifest import load_manifest
    m = load_manifest(model)
    art = m.find("policy", "litert", "fp32")
    b = create_backend("litert", m.verify(art), art, BackendOptions(normalization=m.normalization, threads=1))
    z = np.zeros((1, mk.H), np.float32)
    first = b.run({"frame": np.full((1, 24, 24, 3), 10, np.uint8), "h": z, "c": z})
    keep = {k: v.copy() for k, v in first.items()}
    b.run({"frame": np.full((1, 24, 24, 3), 250, np.uint8), "h": z + 1, "c": z + 1})
    for k in first:
        np.testing.assert_array_equal(first[k], keep[k])
    with pytest.raises(BackendError, match="missing input role 'c'"):
        b.run({"frame": np.zeros((1, 24, 24, 3), np.uint8), "h": z})
    with pytest.raises(ValueError, match="24x24"):
        b.run({"frame": np.zeros((1, 25, 25, 3), np.uint8), "h": z, "c": z})
    with pytest.raises(ValueError, match="input 'frame'"):     # batch 2: the engine's own check
        b.run({"frame": np.zeros((2, 24, 24, 3), np.uint8), "h": z, "c": z})


def build_two_signatures(out: Path) -> None:
    """A model with two signatures (two subgraphs) over a (1, 8, 8, 3) float frame:
    ``first`` = 2·mean_hw, ``second`` = max_hw − 1 (needs TensorFlow)."""
    import tensorflow as tf

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32, name="frame")])
        def first(self, frame):
            return {"class_logits": tf.reshape(tf.reduce_mean(frame, axis=[1, 2]), [1, 3]) * 2.0}

        @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32, name="frame")])
        def second(self, frame):
            return {"class_logits": tf.reshape(tf.reduce_max(frame, axis=[1, 2]), [1, 3]) - 1.0}

    mod = M()
    conv = tf.lite.TFLiteConverter.from_concrete_functions(
        [mod.first.get_concrete_function(), mod.second.get_concrete_function()], mod)
    out = Path(out)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(conv.convert())
    tmp.replace(out)


def check_two_signatures(model_file: Path) -> str | None:
    """Both signatures of the two-signature model give their own function; the one that is not
    the primary subgraph keeps the runner. Returns a skip reason or None."""
    from edge_runtime.manifest import Artifact, TensorSpec
    f = Path(model_file)
    _, Interp, _, _ = litert_backend.import_interpreter()
    sigs = Interp(model_path=str(f)).get_signature_list()
    if sorted(sigs) != ["first", "second"]:
        return f"the converter wrote signatures {sorted(sigs)}"
    rng = np.random.default_rng(3)
    fr = rng.integers(0, 256, (1, 8, 8, 3), dtype=np.uint8)
    want = {"first": fr.astype(np.float32).mean(axis=(1, 2)) * 2.0,
            "second": fr.astype(np.float32).max(axis=(1, 2)) - 1.0}
    paths = {}
    for key in ("first", "second"):
        art = Artifact(id="backbone_8", role="backbone", resolution=8, format="tflite", backend="litert",
                       precision="fp32", file=f.name, sha256="0" * 64, bytes=f.stat().st_size,
                       inputs=[TensorSpec("frame", "frame", [1, 8, 8, 3], "float32", "NHWC")],
                       outputs=[TensorSpec("class_logits", "class_logits", [1, 3], "float32", "NC")],
                       signature=key)
        b = create_backend("litert", f, art, BackendOptions(normalization={"folded": True}, threads=1))
        for _ in range(2):
            np.testing.assert_allclose(b.run({"frame": fr})["class_logits"], want[key], rtol=1e-6)
        paths[key] = b.call_path
    # the first signature may or may not be the primary subgraph; the two cannot both be
    assert "signature_runner" in paths.values(), paths
    return None


# ------------------------------------------------------------------------------ pytest
@pytest.fixture(scope="module")
def two_signatures() -> Path:
    """The two-signature model, built once per builder version under build/test_cache (the device
    venvs, which have no TensorFlow, reuse what the desktop venv built)."""
    import inspect
    key = hashlib.sha256(inspect.getsource(build_two_signatures).encode()).hexdigest()[:10]
    out = ROOT / "build" / "test_cache" / f"two_signatures_{key}.tflite"
    if not out.is_file():
        if not _installed("tensorflow"):
            pytest.skip(f"building the two-signature model needs tensorflow (the desktop venv builds {out})")
        out.parent.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([sys.executable, __file__, "build_two_signatures", str(out)], cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
    return out


@pytest.fixture(params=["ai_edge_litert", "tflite_runtime"])
def engine(request):
    if not _installed(request.param):
        pytest.skip(f"{request.param} is not installed here")
    with pinned(request.param):
        yield request.param


@pytest.mark.parametrize("precision,delegate", CASES)
def test_direct_path_is_bit_identical_to_the_signature_runner(engine_models, engine, precision, delegate):
    check_bit_identical(engine_models, engine, precision, delegate)


def test_direct_path_outputs_are_copies_and_errors_are_clear(engine_models, engine):
    check_copies_and_errors(engine_models)


def test_a_signature_on_another_subgraph_keeps_the_runner(two_signatures, engine):
    reason = check_two_signatures(two_signatures)
    if reason:
        pytest.skip(reason)


def test_tensorflow_engine_in_a_subprocess(engine_models, two_signatures):
    """The same checks on ``tensorflow.lite.python.interpreter`` (what tf.lite.Interpreter is)."""
    if not _installed("tensorflow"):
        pytest.skip("tensorflow is not installed here")
    cmd = [sys.executable, __file__, "tensorflow_checks", str(engine_models), str(two_signatures)]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert r.returncode == 0 and "tensorflow checks: ok" in r.stdout, (r.stdout[-2000:], r.stderr[-3000:])


def _main(argv: list[str]) -> None:
    if argv[0] == "build_two_signatures":
        build_two_signatures(Path(argv[1]))
    elif argv[0] == "tensorflow_checks":
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        model, two = Path(argv[1]), Path(argv[2])
        with pinned("tensorflow"):
            for precision, delegate in CASES:
                check_bit_identical(model, "tensorflow", precision, delegate)
            check_copies_and_errors(model)
            reason = check_two_signatures(two)
        print(f"tensorflow checks: ok{f' (two signatures skipped: {reason})' if reason else ''}")
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")


if __name__ == "__main__":
    _main(sys.argv[1:])
