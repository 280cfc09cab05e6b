"""edge_runtime is torch-free: importing it (and running its litert/fake paths) never imports torch,
train or convert. In the device venv (--edge-venv) torch must not even be installed."""

from __future__ import annotations

import importlib.util
import json

from edge_helpers import run_script

MODULES = ["edge_runtime", "edge_runtime.manifest", "edge_runtime.preprocess", "edge_runtime.pipeline",
           "edge_runtime.sources", "edge_runtime.live", "edge_runtime.bench", "edge_runtime.golden",
           "edge_runtime.overlay", "edge_runtime.backends", "edge_runtime.backends.base",
           "edge_runtime.backends.litert_backend", "edge_runtime.backends.ort_backend",
           "edge_runtime.backends.executorch_backend", "edge_runtime.backends.torch_backend",
           "edge_runtime.backends.fake", "edge_runtime.telemetry", "edge_runtime.budget"]


def test_torch_absent_in_the_edge_venv(edge_venv):
    if edge_venv:
        assert importlib.util.find_spec("torch") is None, "the device venv must not have torch"


def test_importing_and_running_the_runtime_imports_no_torch(fake_model_dir):
    code = (
        "import sys, json\n"
        f"mods = {MODULES!r}\n"
        "import importlib\n"
        "for m in mods: importlib.import_module(m)\n"
        "from edge_runtime.pipeline import AdaptivePipeline\n"
        "from edge_runtime.sources import open_source\n"
        f"p = AdaptivePipeline({str(fake_model_dir)!r}, backend='fake')\n"
        "for ev in p.run(open_source('synthetic://?frames=40', 0.25)): pass\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('torch', 'train', 'convert', 'tensorflow'))\n"
        "print(json.dumps(bad))\n")
    r = run_script(["-c", code])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == []
