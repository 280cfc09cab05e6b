"""`make results`' chain: frozen-prefix feature cache, training on it, statistics, the JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from train.backbones import create_backbone
from train.featcache import cached_inputs, enable_cached_inputs, prefix_forward, suffix_fn
from train.results import bootstrap_ci, paired_difference, summarise

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name,cut", [("efficientnet_lite0", "pool"), ("efficientnet_lite0", "head"),
                                      ("efficientnet_lite0_early", "head")])
def test_prefix_then_suffix_is_the_backbone(name, cut):
    torch.manual_seed(0)
    bb = create_backbone(name, pretrained=True).eval()
    x = torch.rand(2, 3, 64, 64) * 255
    ref = bb(x)
    got = suffix_fn(bb, cut)(prefix_forward(bb, x, cut))
    assert torch.allclose(got, ref, atol=1e-5)


def test_cached_inputs_restores_the_model():
    from train.config import ARNetConfig
    from train.models import create_model
    cfg = ARNetConfig(num_classes=3, resolutions=[64, 48, 32], backbones=["efficientnet_lite0"] * 2,
                      policy_backbone="efficientnet_lite0_early", hidden=16)
    model = create_model(cfg).eval()
    frames = [torch.rand(1, 2, 3, s, s) * 255 for s in cfg.resolutions]
    ref = model(frames).video_logits
    cuts = ["pool", "pool", "head"]
    bbs = list(model.backbones) + [model.policy.extractor]
    cached = [prefix_forward(bb, f.flatten(0, 1), c).unflatten(0, (1, 2)) for bb, f, c in zip(bbs, frames, cuts)]
    with cached_inputs(model, "pool"):
        assert torch.allclose(model(cached).video_logits, ref, atol=1e-5)
    assert torch.allclose(model(frames).video_logits, ref)      # frames again after the block
    keys = set(model.state_dict())
    frozen = enable_cached_inputs(model, "pool")
    assert set(model.state_dict()) == keys                        # checkpoints unchanged
    ids = {id(p) for p in model.backbones[0].net.blocks.parameters()}
    assert ids <= frozen
    assert not {id(p) for p in model.policy.extractor.net.conv_head.parameters()} & frozen  # new head trains


def test_bootstrap_interval_covers_the_mean_and_narrows_with_clips():
    rng = np.random.default_rng(0)
    small = (rng.random(40) < 0.8).astype(float)
    big = (rng.random(4000) < 0.8).astype(float)
    lo, hi = bootstrap_ci(small)
    assert lo <= small.mean() <= hi
    blo, bhi = bootstrap_ci(big)
    assert (bhi - blo) < (hi - lo) / 5
    assert bootstrap_ci(np.ones(10)) == (1.0, 1.0)


def test_summary_and_paired_difference():
    a = {0: {"correct": [1, 1, 0, 1], "mAP": 90.0, "gmacs_per_frame": 0.1},
         1: {"correct": [1, 0, 0, 1], "mAP": 80.0, "gmacs_per_frame": 0.2}}
    b = {0: {"correct": [1, 1, 1, 1], "mAP": 100.0, "gmacs_per_frame": 0.4},
         1: {"correct": [1, 1, 1, 0], "mAP": 90.0, "gmacs_per_frame": 0.4}}
    row = summarise(a)
    assert row["top1"] == pytest.approx(62.5)
    assert row["top1_per_seed"] == [75.0, 50.0]
    assert row["top1_sd"] == pytest.approx(np.std([75, 50], ddof=1))
    assert row["gmacs_per_frame"] == pytest.approx(0.15) and row["mAP"] == pytest.approx(85.0)
    assert row["seeds"] == [0, 1] and row["test_clips"] == 4
    d = paired_difference(a, b)
    assert d["mean"] == pytest.approx(62.5 - 87.5)
    assert d["per_seed"] == [-25.0, -25.0]
    assert d["ci"][0] <= d["mean"] <= d["ci"][1]


@pytest.mark.slow
def test_make_results_chain_on_tiny(tmp_path):
    """The whole `make results` chain at the tiny size: data, cache, every method, JSON; a second
    run trains nothing again."""
    out, js = tmp_path / "run", tmp_path / "r.json"
    cmd = [sys.executable, "-m", "train.results", "--size", "tiny", "--data-root", str(tmp_path / "data"),
           "--out", str(out), "--json", str(js), "--no-progress"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    t = json.loads(js.read_text())
    m = t["methods"]
    want = {"arnet", "uniform", "uniform_80", "uniform_64", "uniform_48", "lstm", "multiscale", "random",
            "resolution_only", "skip_only", "arnet_alpha0.3"}
    assert want <= set(m), sorted(m)
    for k, r in m.items():
        assert {"top1", "top1_ci", "mAP", "gmacs_per_frame", "seeds", "test_clips"} <= set(r), k
        assert r["top1_ci"][0] <= r["top1"] <= r["top1_ci"][1], k
        assert r["test_clips"] == 4
    assert m["arnet"]["seeds"] == [0, 1] and m["uniform"]["seeds"] == [0, 1]
    assert m["lstm"]["seeds"] == [0]
    # Uniform costs come from the cost table: each lower branch is cheaper
    assert m["uniform"]["gmacs_per_frame"] > m["uniform_80"]["gmacs_per_frame"] > m["uniform_64"]["gmacs_per_frame"]
    assert {"mean", "ci", "per_seed"} <= set(t["arnet_minus_uniform"])
    assert (out / "results.md").is_file() and (out / "accuracy_vs_gmacs.png").is_file()
    assert (out / "arnet_s0" / "done").is_file()
    # resumable: finished runs are not trained again
    p2 = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p2.returncode == 0, p2.stderr[-3000:]
    assert "epochs" not in p2.stdout and json.loads(js.read_text())["methods"]["arnet"]["top1"] == m["arnet"]["top1"]


def test_bad_results_config_is_named(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text((ROOT / "configs" / "results_synthact.yaml").read_text().replace("cache_cut: pool",
                                                                                    "cache_cut: middle"))
    p = subprocess.run([sys.executable, "-m", "train.results", "--config", str(cfg), "--size", "tiny",
                        "--data-root", str(tmp_path / "d")], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 2
    assert "results.cache_cut='middle'" in p.stderr and "pool" in p.stderr
