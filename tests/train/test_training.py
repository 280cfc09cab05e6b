"""Training: the 3-stage schedule runs, learns, resumes with identical results, and a
2-process torchrun (gloo, CPU) smoke run works."""

import json
import os
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


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("vids")
    for split, n in (("train", 4), ("val", 2)):
        for c in range(3):
            for i in range(n):
                write_video(root / split / f"c{c}" / f"{i}.mp4", c, seed=i + 10 * c)
    return root


def make_config(root: Path, out: Path, name="t", **train_kw):
    tr = dict(warmup_epochs=1, joint_epochs=1, finetune_epochs=1, batch_size=4, workers=0,
              lr_warmup=3e-3, lr_joint=1e-3, lr_finetune=1e-3, seed=1)
    tr.update(train_kw)
    cfg = {
        "name": name, "out_dir": str(out),
        "model": {"num_classes": "auto", "resolutions": [48, 40, 32, 24], "skip_lengths": [1, 2],
                  "backbones": ["tiny_cnn"] * 3, "policy_backbone": "tiny_cnn", "hidden": 16,
                  "pretrained": False, "dropout": 0.0},
        "data": {"format": "video_folder", "num_segments": 4, "flip": False, "seed": 3,
                 "train": {"root": str(root / "train")}, "val": {"root": str(root / "val")},
                 "seconds_per_step": 0.25},
        "train": tr,
    }
    p = out / f"{name}.yaml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(yaml.safe_dump(cfg))
    return p


def run_train(args):
    from train.train import main
    torch.set_num_threads(1)
    return main(args + ["--no-progress", "--device", "cpu"])


def test_three_stage_schedule_writes_checkpoints_and_log(tiny_data, tmp_path):
    cfg = make_config(tiny_data, tmp_path)
    assert run_train(["--config", str(cfg)]) == 0
    run = tmp_path / "t"
    assert (run / "last.pt").is_file() and (run / "best.pt").is_file()
    lines = (run / "metrics.csv").read_text().splitlines()
    assert len(lines) == 4  # header + warmup, joint, finetune
    assert [l.split(",")[1] for l in lines[1:]] == ["warmup", "joint", "finetune"]
    from train.checkpoint import load_checkpoint
    ck = load_checkpoint(run / "last.pt")
    assert ck.labels == ["c0", "c1", "c2"]
    fps = {"median": 12.0, "min": 12.0, "max": 12.0}    # clipgen writes 12 frames at 12 fps
    assert ck.sampling == {"frames_per_clip": 4, "seconds_per_step": 0.25, "resize": "pyramid",
                           "rule": "segments", "pad": "repeat_in_order",
                           "seconds_per_step_from": "config", "videos_probed": 12, "fps": fps,
                           "duration_s": {"median": 1.0, "min": 1.0, "max": 1.0}}
    assert ck.meta["cost_table"]["actions"][-1] == 0.0
    best = load_checkpoint(run / "best.pt")   # the best of the last stage, whatever joint scored
    assert best.meta["stage"] == "finetune" and best.meta["epoch"] == 2


def test_finetune_freezes_policy_and_warmup_freezes_lstm(tiny_data, tmp_path):
    from train.checkpoint import load_checkpoint
    cfg = make_config(tiny_data, tmp_path, name="f", warmup_epochs=1, joint_epochs=0, finetune_epochs=0)
    from train.models import create_model
    from train.trainer import RunConfig
    assert run_train(["--config", str(cfg)]) == 0
    after = load_checkpoint(tmp_path / "f" / "last.pt").model
    init_cfg = RunConfig.from_dict({**yaml.safe_load(cfg.read_text()),
                                    "model": {**yaml.safe_load(cfg.read_text())["model"], "num_classes": 3}})
    torch.manual_seed(1)
    init = create_model(init_cfg.model)
    # warm-up: LSTM and action head untouched, backbones trained
    assert torch.equal(after.policy.rnn.ih.weight, init.policy.rnn.ih.weight)
    assert torch.equal(after.policy.action_head.weight, init.policy.action_head.weight)
    assert not torch.equal(after.heads[0].weight, init.heads[0].weight)


def test_resume_after_interruption_gives_identical_results(tiny_data, tmp_path):
    full = make_config(tiny_data, tmp_path / "a", name="r")
    assert run_train(["--config", str(full)]) == 0
    # the same run "killed" after 2 epochs, then resumed
    part = make_config(tiny_data, tmp_path / "b", name="r", finetune_epochs=0)
    assert run_train(["--config", str(part)]) == 0
    resumed = make_config(tiny_data, tmp_path / "b", name="r")
    assert run_train(["--config", str(resumed), "--resume"]) == 0
    from train.checkpoint import load_checkpoint
    a = load_checkpoint(tmp_path / "a" / "r" / "last.pt").model.state_dict()
    b = load_checkpoint(tmp_path / "b" / "r" / "last.pt").model.state_dict()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-6), k


def test_resume_without_checkpoint_is_a_clear_error(tiny_data, tmp_path, capsys):
    cfg = make_config(tiny_data, tmp_path, name="none")
    assert run_train(["--config", str(cfg), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_bad_config_names_the_field(tiny_data, tmp_path, capsys):
    cfg = make_config(tiny_data, tmp_path, name="bad")
    d = yaml.safe_load(cfg.read_text())
    d["train"]["batch_sise"] = 3
    cfg.write_text(yaml.safe_dump(d))
    assert run_train(["--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "batch_sise" in err and "valid keys" in err


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tiny_data, tmp_path):
    cfg = make_config(tiny_data, tmp_path, name="ddp", warmup_epochs=1, joint_epochs=1, finetune_epochs=0,
                      batch_size=2)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        str(ROOT / "train" / "train.py"), "--config", str(cfg), "--device", "cpu",
                        "--no-progress"], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "x2" in r.stdout  # world size 2
    assert (tmp_path / "ddp" / "last.pt").is_file()


@pytest.mark.slow
def test_feature_cache_with_heldout_policy_training(tiny_data, tmp_path):
    """train.feature_cache: frozen prefixes cached once, K held-out warm-ups for the policy, and a
    checkpoint that scores on real frames what it scored on the cached validation features."""
    from train.checkpoint import load_checkpoint
    from train.data.dataset import build_dataset, build_loader
    from train.evaluation import evaluate_model
    from train.train import data_config
    cfg = make_config(tiny_data, tmp_path, name="fc", feature_cache="pool", cache_views=2, policy_folds=2,
                      warmup_epochs=2, joint_epochs=1, finetune_epochs=1)
    d = yaml.safe_load(cfg.read_text())
    d["model"].update(resolutions=[96, 80, 64, 48], backbones=["efficientnet_lite0"] * 3,
                      policy_backbone="efficientnet_lite0_early", pretrained=True)
    cfg.write_text(yaml.safe_dump(d))
    assert run_train(["--config", str(cfg)]) == 0
    run = tmp_path / "fc"
    specs = [json.loads(p.read_text()) for p in (tmp_path / "feature_cache").glob("*/spec.json")]
    assert len(specs) == 2   # train (2 views) and val (centre frames)
    spec = max(specs, key=lambda x: x["views"])
    assert spec["views"] == 2 and spec["cut"] == "pool" and spec["resolutions"] == [96, 80, 64, 48]
    for k in (0, 1):
        assert (run / "folds" / f"fold{k}" / "done").is_file()
    ck = load_checkpoint(run / "best.pt")
    ds = build_dataset(data_config(d["data"], "val", d["model"]["resolutions"], "eval"))
    real = evaluate_model(ck.model, build_loader(ds, 4, shuffle=False, num_workers=0), torch.device("cpu"))
    assert real["top1"] == pytest.approx(ck.meta["metrics"]["val_top1"])
    assert real["gmacs_per_frame"] == pytest.approx(ck.meta["metrics"]["val_gmacs_per_frame"])
    # a second run reuses the cache and the held-out warm-ups
    mtime = (run / "folds" / "fold0" / "last.pt").stat().st_mtime
    assert run_train(["--config", str(cfg), "--name", "fc"]) == 0
    assert (run / "folds" / "fold0" / "last.pt").stat().st_mtime == mtime


def test_feature_cache_needs_a_splittable_pretrained_backbone(tiny_data, tmp_path, capsys):
    cfg = make_config(tiny_data, tmp_path, name="bad", feature_cache="pool")
    assert run_train(["--config", str(cfg)]) == 2
    assert "pretrained" in capsys.readouterr().err
    bad = make_config(tiny_data, tmp_path, name="bad2", feature_cache="middle")
    assert run_train(["--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "train.feature_cache='middle'" in err and "'pool'" in err


def test_efficiency_warmup_switches_alpha_on_after_n_joint_epochs(tiny_data, tmp_path, monkeypatch):
    from train.trainer import Trainer
    seen = []
    orig = Trainer._train_epoch

    def spy(self, net, opt, stage, epoch, tau, alpha=None):
        seen.append((stage, alpha))
        return orig(self, net, opt, stage, epoch, tau, alpha)

    monkeypatch.setattr(Trainer, "_train_epoch", spy)
    cfg = make_config(tiny_data, tmp_path, name="ew", warmup_epochs=1, joint_epochs=3, finetune_epochs=1,
                      efficiency_warmup_epochs=2, alpha=0.4)
    assert run_train(["--config", str(cfg)]) == 0
    assert seen == [("warmup", 0.4), ("joint", 0.0), ("joint", 0.0), ("joint", 0.4), ("finetune", 0.4)]
