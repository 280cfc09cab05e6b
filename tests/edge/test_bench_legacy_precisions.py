"""scripts/bench_legacy_precisions.py: its table and JSON shape, the XNNPACK coverage walk and the
output matching (no timing assertions). The end-to-end run uses the tiny TFLite models
(``engine_models``) with one round of two invokes; it runs in the desktop venv and in the edge
venvs (tflite_runtime / ai_edge_litert) once the desktop venv has built them."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

PATH = Path(__file__).resolve().parents[2] / "scripts" / "bench_legacy_precisions.py"


def script():
    spec = importlib.util.spec_from_file_location("bench_legacy_precisions", PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_parses_as_python_3_8():
    src = PATH.read_text()
    ast.parse(src, feature_version=(3, 8))
    assert "from __future__ import annotations" in src
    assert "import torch" not in src


def test_coverage_walks_each_partition_back_to_its_inputs():
    # t0 -CAST-> t1 -CONV-> t2 -ADD-> t3 -DW-> t4 ; XNNPACK took CONV+ADD (one partition t1 -> t3)
    ops = [{"index": 0, "op_name": "CAST", "inputs": [0], "outputs": [1]},
           {"index": 1, "op_name": "CONV_2D", "inputs": [1, 10, 11], "outputs": [2]},
           {"index": 2, "op_name": "ADD", "inputs": [2, 12], "outputs": [3]},
           {"index": 3, "op_name": "DEPTHWISE_CONV_2D", "inputs": [3, 13, -1], "outputs": [4]},
           {"index": 4, "op_name": "DELEGATE", "inputs": [1, 10, 11, 12], "outputs": [3]}]
    cov = script().xnnpack_coverage(ops)
    assert cov == {"partitions": 1, "ops": 4, "delegated_ops": 2,
                   "not_delegated": {"CAST": 1, "DEPTHWISE_CONV_2D": 1}}
    none = script().xnnpack_coverage([o for o in ops if o["op_name"] != "DELEGATE"])
    assert none["partitions"] == 0 and none["delegated_ops"] == 0 and sum(none["not_delegated"].values()) == 4


def test_outputs_match_by_shape_then_by_value():
    mod = script()
    ref = {"a": np.array([[1.0, 2.0]]), "b": np.array([[5.0, -5.0, 0.0]]), "c": np.array([[9.0, 0.0, 1.0]])}
    got = {"x": np.array([[9.1, 0.0, 1.0]]), "y": np.array([[1.0, 2.1]]), "z": np.array([[5.0, -4.9, 0.0]])}
    mapping, clear = mod.match_outputs(got, ref)
    assert mapping == {"x": "c", "y": "a", "z": "b"} and clear
    with pytest.raises(ValueError, match="by shape"):
        mod.match_outputs({"x": np.zeros((1, 4))}, {"a": np.zeros((1, 2))})


def test_find_models_reads_network_and_precision_from_the_name(tmp_path):
    for name in ("policy_fp32.tflite", "policy_dynrange_pc.tflite", "policy_dynrange.tflite",
                 "backbone_96_int8.tflite", "backbone_96_fp16.tflite", "notes_fp64.tflite", "x.onnx"):
        (tmp_path / name).write_bytes(b"")
    found = script().find_models(tmp_path)
    assert {n: list(p) for n, p in found.items()} == {
        "backbone_96": ["fp16", "int8"], "policy": ["fp32", "dynrange", "dynrange_pc"]}
    assert list(script().find_models(tmp_path, networks=["policy"])) == ["policy"]


def test_runs_on_the_tiny_models_and_writes_table_and_json(engine_models, tmp_path, capsys):
    from edge_runtime.backends import BackendError
    from edge_runtime.backends.litert_backend import import_interpreter
    try:
        import_interpreter()
    except BackendError as e:
        pytest.skip(str(e))
    mod = script()
    out = tmp_path / "r.json"
    assert mod.main(["--models", str(engine_models), "--networks", "policy,backbone_32", "--rounds", "1",
                     "--invokes", "2", "--warmup", "0", "--frames", "1", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["engine"] in ("ai_edge_litert", "tflite_runtime", "tensorflow") and r["engine_version"]
    assert r["python"] and r["threads"] == 2 and r["rounds"] == 1 and r["invokes_per_round"] == 2
    assert list(r["networks"]) == ["backbone_32", "policy"]
    for net, res in r["networks"].items():
        assert list(res) == ["fp32", "fp16", "int8"]
        for prec, x in res.items():
            assert x["ms_median"] > 0 and len(x["ms_round_medians"]) == 1 and x["ms_best_round"] > 0
            assert x["speed_vs_fp32"] > 0
            cov = x["xnnpack"]
            assert cov["ops"] > 0 and 0 <= cov["delegated_ops"] <= cov["ops"]
            assert cov["delegated_ops"] + sum(cov["not_delegated"].values()) == cov["ops"]
            assert x["max_rel_err_vs_fp32"] >= 0
        assert res["fp32"]["max_rel_err_vs_fp32"] == 0.0
        assert res["fp32"]["xnnpack"]["partitions"] >= 1
    assert set(r["networks"]["policy"]["fp32"]["rel_err_by_output"]) == \
        {"action_logits", "class_logits", "h_out", "c_out"}
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(r["engine"])
    rows = [ln for ln in lines if ln.startswith("| backbone_32 |") or ln.startswith("| policy |")]
    assert len(rows) == 6 and all(ln.count("|") == 12 for ln in rows)
