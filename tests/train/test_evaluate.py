"""Evaluation CLI, plots and the train-all-methods suite on tiny generated videos (CPU, seconds).

Checkpoints are built directly with ``save_checkpoint`` (random tiny backbones, the AR-Net policy
biased to always take the longest skip) instead of training, except in the suite test."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[2]

from clipgen import write_video  # noqa: E402  (tests/train/clipgen.py)
LABELS = ["c0", "c1", "c2"]
MODEL = dict(num_classes=3, resolutions=[48, 40, 32, 24], skip_lengths=[1, 2],
             backbones=["tiny_cnn"] * 3, policy_backbone="tiny_cnn", hidden=16, pretrained=False,
             dropout=0.0)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("evids")
    for split, n in (("train", 2), ("val", 2)):
        for c in range(3):
            for i in range(n):
                write_video(root / split / f"c{c}" / f"{i}.mp4", c, seed=i + 10 * c + (100 if split == "val" else 0))
    return root


def data_section(root: Path) -> dict:
    return {"format": "video_folder", "num_segments": 4, "flip": False, "seed": 3,
            "train": {"root": str(root / "train")}, "val": {"root": str(root / "val")},
            "seconds_per_step": 0.25}


def make_checkpoint(path: Path, method: str, root: Path, skip_bias: bool = False, seed: int = 0) -> Path:
    from train.checkpoint import save_checkpoint
    from train.config import ARNetConfig
    from train.models import create_model
    cfg = ARNetConfig(**MODEL, method=method)
    torch.manual_seed(seed)
    model = create_model(cfg)
    if skip_bias:   # the policy always takes the last action (the longest skip)
        with torch.no_grad():
            model.policy.action_head.weight.zero_()
            model.policy.action_head.bias.zero_()
            model.policy.action_head.bias[-1] = 10.0
    run_config = {"name": path.parent.name, "out_dir": str(path.parent.parent), "model": cfg.to_dict(),
                  "data": data_section(root), "train": {"batch_size": 4}}
    return save_checkpoint(path, model, labels=LABELS, sampling={"frames_per_clip": 4, "seconds_per_step": 0.25},
                           meta={"method": method}, run_config=run_config, epoch=0, stage="joint")


@pytest.fixture(scope="module")
def ckpts(tiny_data, tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpts")
    a = make_checkpoint(d / "t_arnet" / "best.pt", "arnet", tiny_data, skip_bias=True)
    u = make_checkpoint(d / "t_uniform" / "best.pt", "uniform", tiny_data)
    return a, u


def run_eval(args):
    from train.evaluate import main
    torch.set_num_threads(1)
    return main([str(a) for a in args] + ["--device", "cpu", "--batch-size", "4"])


@pytest.fixture(scope="module")
def evaluated(ckpts, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    a, u = ckpts
    assert run_eval(["--checkpoint", a, "--checkpoint", u, "--random-policy", "--strip", "3", "--out", out]) == 0
    return out, json.loads((out / "results.json").read_text())


def test_outputs_exist_and_have_the_documented_shape(evaluated):
    out, res = evaluated
    for f in ("results.json", "results.md", "accuracy_vs_gmacs.png", "policy_strip.png"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    assert set(res["methods"]) == {"arnet", "uniform", "random_policy"}
    assert "multiply-accumulates" in res["unit"] and res["split"] == "val"
    for k, r in res["methods"].items():
        for f in ("top1", "mAP", "gmacs_per_frame", "gmacs_per_video", "gmacs_ratio_vs_uniform", "num_clips"):
            assert f in r, (k, f)
        assert r["num_clips"] == 6 and r["frames_per_clip"] == 4
        assert list(r["action_hist"]) == ["48", "40", "32", "24", "skip1", "skip2"]
        assert sum(r["action_hist"].values()) == pytest.approx(1.0)
        assert r["gmacs_per_video"] == pytest.approx(4 * r["gmacs_per_frame"])
        assert 0.0 <= r["top1"] <= 100.0
    md = (out / "results.md").read_text()
    assert "multiply-accumulates" in md and "| AR-Net |" in md and "| Uniform |" in md and "| Random policy |" in md
    strip = cv2.imread(str(out / "policy_strip.png"))
    assert strip is not None and strip.shape[0] > 3 * 112 and strip.shape[1] > 4 * 112
    plot = cv2.imread(str(out / "accuracy_vs_gmacs.png"))
    assert plot is not None and plot.shape[1] > 400


def test_costs_are_consistent(evaluated, ckpts):
    from train.checkpoint import load_checkpoint
    from train.costs import arnet_cost_table, count_gmacs
    _, res = evaluated
    m = res["methods"]
    # Uniform: its per-frame cost is backbone 0 + head on one frame at s_0, counted independently
    um = load_checkpoint(ckpts[1]).model
    x = torch.zeros(1, 3, 48, 48)
    measured = count_gmacs(um.backbone, x) + count_gmacs(um.head, torch.zeros(1, um.backbone.num_features))
    assert m["uniform"]["gmacs_per_frame"] == pytest.approx(measured, rel=1e-9)
    assert m["uniform"]["uniform_gmacs_per_frame"] == pytest.approx(measured, rel=1e-9)
    assert m["uniform"]["gmacs_ratio_vs_uniform"] == pytest.approx(1.0)
    assert m["uniform"]["action_hist"]["48"] == 1.0
    # AR-Net biased to skip2: one policy step per two frames, nothing else
    am = load_checkpoint(ckpts[0]).model
    table = arnet_cost_table(am)
    a = m["arnet"]
    assert a["action_hist"]["skip2"] == 1.0
    assert a["gmacs_per_frame"] == pytest.approx(table.policy_step / 2, rel=1e-9)
    assert a["gmacs_per_frame"] <= m["uniform"]["gmacs_per_frame"]
    assert a["gmacs_ratio_vs_uniform"] == pytest.approx(a["gmacs_per_frame"] / measured)


def test_random_policy_differs_and_is_deterministic(evaluated, ckpts, tmp_path):
    _, res = evaluated
    r0 = res["methods"]["random_policy"]
    assert r0["action_hist"] != res["methods"]["arnet"]["action_hist"]
    assert r0["gmacs_per_frame"] != res["methods"]["arnet"]["gmacs_per_frame"]
    assert r0["seed"] == 0
    a = ckpts[0]
    again = tmp_path / "again"
    assert run_eval(["--checkpoint", a, "--random-policy", "--strip", "0", "--out", again]) == 0
    r1 = json.loads((again / "results.json").read_text())["methods"]["random_policy"]
    for k in ("top1", "mAP", "gmacs_per_frame", "action_hist"):
        assert r1[k] == r0[k], k
    assert not (again / "policy_strip.png").exists()  # --strip 0
    other = tmp_path / "seed1"
    assert run_eval(["--checkpoint", a, "--random-policy", "--seed", "1", "--strip", "0", "--out", other]) == 0
    r2 = json.loads((other / "results.json").read_text())["methods"]["random_policy"]
    assert r2["action_hist"] != r0["action_hist"]


def test_list_override_and_split_errors(ckpts, tiny_data, tmp_path, capsys):
    out = tmp_path / "o"
    # evaluate the uniform model on the training videos instead
    assert run_eval(["--checkpoint", ckpts[1], "--list", tiny_data / "train", "--strip", "0", "--out", out]) == 0
    r = json.loads((out / "results.json").read_text())["methods"]["uniform"]
    assert r["num_clips"] == 6 and r["data"] == str(tiny_data / "train")
    assert run_eval(["--checkpoint", ckpts[1], "--split", "test", "--out", out]) == 2
    assert "no data.test split" in capsys.readouterr().err
    # a run config with a test split: evaluated on it by default
    ck = tmp_path / "t_test" / "best.pt"
    make_checkpoint(ck, "uniform", tiny_data)
    from train.checkpoint import load_checkpoint, save_checkpoint
    loaded = load_checkpoint(ck)
    rc = loaded.raw["run_config"]
    rc["data"]["test"] = {"root": str(tiny_data / "train")}
    save_checkpoint(ck, loaded.model, labels=LABELS, sampling=loaded.sampling, run_config=rc)
    assert run_eval(["--checkpoint", ck, "--strip", "0", "--out", out]) == 0
    r = json.loads((out / "results.json").read_text())
    assert r["split"] == "test" and r["methods"]["uniform"]["data"] == str(tiny_data / "train")
    assert run_eval(["--checkpoint", ck, "--split", "val", "--strip", "0", "--out", out]) == 0
    assert json.loads((out / "results.json").read_text())["split"] == "val"
    assert run_eval(["--checkpoint", ckpts[1], "--split", "test", "--out", out]) == 2
    assert "no data.test split" in capsys.readouterr().err
    assert run_eval(["--checkpoint", ckpts[1], "--random-policy", "--out", out]) == 2
    assert "needs an AR-Net checkpoint" in capsys.readouterr().err


def test_bad_checkpoint_is_a_clear_error_exit_2(tmp_path):
    missing = tmp_path / "nope" / "best.pt"
    r = subprocess.run([sys.executable, str(ROOT / "train" / "evaluate.py"), "--checkpoint", str(missing),
                        "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    assert "checkpoint not found" in r.stderr and str(missing) in r.stderr
    assert "Traceback" not in r.stderr


def test_corrupt_checkpoint_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert run_eval(["--checkpoint", bad, "--out", tmp_path / "o"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "cannot read checkpoint" in err


def test_suite_trains_two_methods_then_reuses_them(tiny_data, tmp_path):
    from train.suite import main
    torch.set_num_threads(1)
    cfg = {"name": "s", "out_dir": str(tmp_path / "runs"), "model": {**MODEL, "num_classes": "auto"},
           "data": data_section(tiny_data),
           "train": {"batch_size": 3, "workers": 0, "seed": 1, "lr_warmup": 3e-3, "lr_joint": 1e-3}}
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(cfg))
    docs = tmp_path / "docs" / "results" / "tiny.json"
    args = ["--config", str(p), "--methods", "arnet,uniform", "--epochs", "0,1,0", "--device", "cpu",
            "--no-progress", "--strip", "2", "--dataset", "tiny", "--results-json", str(docs)]
    assert main(args) == 0
    runs = tmp_path / "runs"
    best = {m: runs / f"s_{m}" / "best.pt" for m in ("arnet", "uniform")}
    assert all(b.is_file() for b in best.values())
    suite = runs / "s_suite"
    for f in ("results.json", "results.md", "accuracy_vs_gmacs.png", "policy_strip.png", "docs_results.json"):
        assert (suite / f).is_file(), f
    res = json.loads((suite / "results.json").read_text())
    assert set(res["methods"]) == {"arnet", "uniform", "random_policy"}
    doc = json.loads(docs.read_text())
    assert set(doc) == {"dataset", "hardware", "commands", "methods"} and doc["dataset"] == "tiny"
    assert set(doc["methods"]) == {"arnet", "uniform", "random_policy"}
    for r in doc["methods"].values():
        assert set(r) == {"top1", "mAP", "gmacs_per_frame", "gmacs_per_video"}
    assert any("--method arnet" in c for c in doc["commands"])
    assert any(c.startswith("python train/evaluate.py") for c in doc["commands"])
    assert doc["methods"]["uniform"] == {k: res["methods"]["uniform"][k] for k in doc["methods"]["uniform"]}
    # second run: nothing retrained, same results
    stamps = {m: b.stat().st_mtime_ns for m, b in best.items()}
    assert main(args) == 0
    assert {m: b.stat().st_mtime_ns for m, b in best.items()} == stamps
    assert json.loads(docs.read_text())["methods"] == doc["methods"]


def test_suite_rejects_unknown_method(tmp_path, capsys):
    from train.suite import main
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({"name": "s", "out_dir": str(tmp_path)}))
    assert main(["--config", str(p), "--methods", "arnet,foo"]) == 2
    assert "foo" in capsys.readouterr().err


def test_uniform_branch_is_the_top_branch_on_every_frame():
    """--uniform-branch: the AR-Net checkpoint's own top branch as the Uniform baseline."""
    from train.config import tiny_config
    from train.evaluate import uniform_from_branch
    from train.models import create_model
    torch.manual_seed(0)
    model = create_model(tiny_config(num_classes=4)).eval()
    frames = [torch.rand(2, 3, 3, s, s) * 255 for s in model.cfg.resolutions]
    uni = uniform_from_branch(model)
    assert uni.cfg.method == "uniform"
    out = uni(frames)
    ref = model.branch(0, frames[0].flatten(0, 1)).view(2, 3, -1).mean(1)
    assert torch.allclose(out.video_logits, ref, atol=1e-6)
    assert bool(out.processed.all())
