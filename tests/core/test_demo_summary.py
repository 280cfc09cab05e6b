"""scripts/demo_summary.py: the end-of-demo summary prints AR-Net against Uniform and the Random policy of
the same weights, and the benchmark's cheapest branch as accurate as AR-Net."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_summary_prints_the_difference_to_uniform(tmp_path):
    row = {"top1": 88.9, "mAP": 97.2, "gmacs_per_frame": 0.0874, "num_clips": 36, "label": "AR-Net",
           "gmacs_ratio_vs_uniform": 0.70, "action_hist": {"128": 0.4, "skip1": 0.6}}
    uni = {"top1": 83.3, "mAP": 96.6, "gmacs_per_frame": 0.1254, "num_clips": 36,
           "label": "Uniform 128 (same weights)", "gmacs_ratio_vs_uniform": 1.0}
    rnd = {"top1": 38.9, "mAP": 60.1, "gmacs_per_frame": 0.0368, "num_clips": 36, "label": "Random policy",
           "gmacs_ratio_vs_uniform": 0.29}
    (tmp_path / "run" / "eval").mkdir(parents=True)
    (tmp_path / "run" / "eval" / "results.json").write_text(
        json.dumps({"methods": {"arnet": row, "random_policy": rnd, "uniform_branch": uni}}))
    out = summary(tmp_path)
    assert "AR-Net vs Uniform 128 (same weights): +5.6 points top-1, +0.6 mAP, at 0.70x" in out
    assert "one clip is 2.8 points" in out
    assert "AR-Net vs Random policy: +50.0 points top-1, +37.1 mAP, at 2.38x its GMACs per frame" in out
    rows = [line.split()[0] for line in out.splitlines()
            if line.startswith(("AR-Net  ", "Random policy  ", "Uniform 128"))]
    assert rows == ["AR-Net", "Random", "Uniform"]                # all three in the accuracy table


def test_summary_prints_the_benchmarks_cheapest_branch_as_accurate(tmp_path):
    (tmp_path / "run").mkdir()
    bench = {"speedup": 1.4, "gmacs_ratio": 0.69, "methods": {"adaptive": {"accuracy": 0.75}},
             "cheapest_as_accurate": {"method": "uniform@96", "accuracy": 0.8, "gmacs_per_frame": 0.07},
             "cheapest_as_accurate_reason": None, "speedup_vs_cheapest_as_accurate": 1.1,
             "gmacs_ratio_vs_cheapest_as_accurate": 1.23}
    (tmp_path / "run" / "bench.json").write_text(json.dumps(bench))
    assert ("cheapest branch as accurate as adaptive: uniform@96 (80.0% vs adaptive's 75.0%): adaptive 1.10x "
            "its fps at 1.230x its GMACs") in summary(tmp_path)
    bench.update(cheapest_as_accurate=None, speedup_vs_cheapest_as_accurate=None,
                 gmacs_ratio_vs_cheapest_as_accurate=None,
                 cheapest_as_accurate_reason="no uniform method is as accurate as adaptive (90.0%)")
    (tmp_path / "run" / "bench.json").write_text(json.dumps(bench))
    assert ("cheapest branch as accurate as adaptive: none (no uniform method is as accurate as adaptive (90.0%))"
            in summary(tmp_path))
    del bench["cheapest_as_accurate_reason"], bench["cheapest_as_accurate"]      # a bench.json from before
    (tmp_path / "run" / "bench.json").write_text(json.dumps(bench))
    out = summary(tmp_path)
    assert "Benchmark: adaptive vs uniform speedup 1.40x" in out and "as accurate" not in out


def summary(tmp_path) -> str:
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo_summary.py"), "--run", str(tmp_path / "run"),
                        "--artifacts", str(tmp_path / "missing")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout
