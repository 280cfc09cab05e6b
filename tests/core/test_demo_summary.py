"""scripts/demo_summary.py: the end-of-demo summary prints AR-Net against Uniform of the same weights."""

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
    (tmp_path / "run" / "eval").mkdir(parents=True)
    (tmp_path / "run" / "eval" / "results.json").write_text(
        json.dumps({"methods": {"arnet": row, "uniform_branch": uni}}))
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo_summary.py"), "--run", str(tmp_path / "run"),
                        "--artifacts", str(tmp_path / "missing")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "AR-Net vs Uniform 128 (same weights): +5.6 points top-1, +0.6 mAP, at 0.70x" in p.stdout
    assert "one clip is 2.8 points" in p.stdout
