"""scripts/bench_design_choices.py on the tiny LiteRT model: every row measured and written."""

from __future__ import annotations

import json

import pytest
from edge_helpers import load_script


def test_design_choices_bench_measures_every_row(engine_models, tmp_path, capsys):
    mod = load_script("scripts/bench_design_choices.py")
    out = tmp_path / "design.json"
    assert mod.main(["--model", str(engine_models), "--precision", "fp32", "--size", "16", "--calls", "8",
                     "--repeat", "1", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["precision"] == "fp32"
    r = res["resize_720p_square_ms"]
    assert r["area"] > 0 and r["pyramid"] > 0
    calls = res["litert_call_ms"]
    nets = [k for k, v in calls.items() if isinstance(v, dict) and "direct" in v]
    assert "policy" in nets and len(nets) >= 2
    assert all(calls[k]["direct"] > 0 and calls[k]["invoke"] > 0 for k in nets)
    assert set(calls["policy_invoke_after"]) == {"warm", "after_backbone", "after_backbone_and_32mb"}
    assert res["batch_interpreter"]["resize_and_allocate_ms"] > 0
    assert "resize 720 -> 16" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--precision int4"):
        mod.main(["--model", str(engine_models), "--precision", "int4"])
    with pytest.raises(SystemExit, match="no manifest.json"):
        mod.main(["--model", str(tmp_path)])
