"""Fixtures and options for the device-runtime tests (they must pass in the desktop venv and in a
torch-free venv: ``.venv-edge/bin/python -m pytest tests/edge --edge-venv``).

Options (also settable by environment, for runs where this conftest is not an initial one,
e.g. ``pytest tests``):

``--edge-venv`` (``ARNET_EDGE_VENV=1``)
    this is the torch-free device venv: ``test_no_torch`` then requires that torch is not even
    installed.
``--artifacts DIR`` (``ARNET_TEST_ARTIFACTS``)
    a real exported tiny model folder (``python -m convert.export_all --tiny --out DIR``) for the
    tests that need real artifacts; without it those tests are skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest


def pytest_addoption(parser):
    g = parser.getgroup("arnet-edge")
    g.addoption("--edge-venv", action="store_true", default=False,
                help="running in the torch-free device venv: assert torch is not importable")
    g.addoption("--artifacts", default=None, metavar="DIR",
                help="exported tiny model folder for the real-artifact tests (or ARNET_TEST_ARTIFACTS)")


def _opt(config, name, default=None):
    try:
        return config.getoption(name)
    except ValueError:  # this conftest was not an initial one: options not registered
        return default


@pytest.fixture(scope="session")
def edge_venv(pytestconfig) -> bool:
    return bool(_opt(pytestconfig, "--edge-venv", False)) or os.environ.get("ARNET_EDGE_VENV") == "1"


@pytest.fixture(scope="session")
def tiny_artifacts(pytestconfig) -> Path:
    """A real exported tiny model folder, or skip."""
    p = _opt(pytestconfig, "--artifacts") or os.environ.get("ARNET_TEST_ARTIFACTS")
    if not p:
        pytest.skip("needs real exported artifacts: pass --artifacts DIR or set ARNET_TEST_ARTIFACTS "
                    "(make: python -m convert.export_all --tiny --out build/test_artifacts)")
    path = Path(p)
    if not (path / "manifest.json").is_file() and not (path.is_file() and path.name == "manifest.json"):
        pytest.fail(f"--artifacts/ARNET_TEST_ARTIFACTS={p}: no manifest.json there")
    return path if path.is_dir() else path.parent


@pytest.fixture(scope="session")
def fake_model_dir(tmp_path_factory) -> Path:
    """A manifest folder without artifacts, for ``--backend fake`` runs."""
    from edge_runtime.backends.fake import fake_manifest
    d = tmp_path_factory.mktemp("fake_model")
    fake_manifest().save(d)
    return d


@pytest.fixture(scope="session")
def small_video(tmp_path_factory) -> Path:
    """A 3 s, 12 fps, 96x72 mp4 (mp4v) with a moving disc."""
    from edge_helpers import write_video
    d = tmp_path_factory.mktemp("videos")
    return write_video(d / "clip.mp4", frames=36, fps=12)


def _cached_tiny_build(formats: list[str], needs: list[str]) -> Path:
    """Build (once, cached under build/test_cache keyed by the generator's hash) the tiny
    multi-engine model of tests/edge/make_tiny_artifacts.py, or skip if the venv cannot."""
    import hashlib
    import importlib.util
    import subprocess
    import sys

    here = Path(__file__).resolve().parent
    src = (here / "make_tiny_artifacts.py").read_bytes()
    key = hashlib.sha256(src).hexdigest()[:10]
    out = here.parents[1] / "build" / "test_cache" / f"tiny_{'_'.join(formats)}_{key}"
    if not (out / "manifest.json").is_file():
        missing = [m for m in needs if importlib.util.find_spec(m) is None]
        if missing:  # the device venv reuses what the desktop venv built (make test runs it first)
            pytest.skip(f"building {'/'.join(formats)} test models needs {', '.join(missing)} (the desktop "
                        f"venv builds them into {out.parent})")
        r = subprocess.run([sys.executable, str(here / "make_tiny_artifacts.py"), "--out", str(out),
                            "--formats", ",".join(formats)], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            pytest.fail(f"make_tiny_artifacts failed: {r.stderr[-2000:]}")
    from edge_runtime.manifest import load_manifest
    m = load_manifest(out)
    if not m.artifacts:
        pytest.skip(f"could not build {formats} here")
    return out


@pytest.fixture(scope="session")
def engine_models() -> Path:
    """Tiny model as TFLite (fp32/fp16/int8) and ONNX, built with TensorFlow/onnx (desktop venv)."""
    return _cached_tiny_build(["tflite", "onnx"], ["tensorflow", "onnx"])


@pytest.fixture(scope="session")
def torch_engine_models() -> Path:
    """Tiny model as pt2 (torch.export) and pte (ExecuTorch); running them needs torch."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("the torch and executorch backends need torch")
    return _cached_tiny_build(["pt2", "pte"], ["torch", "executorch"])
