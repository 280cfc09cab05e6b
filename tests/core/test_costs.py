"""Measured GMACs: published figures, per-resolution counts, AR-Net cost table, CLI."""

import json

import pytest
import torch
from torch import nn

from train.backbones import create_backbone
from train.backbones.efficientnet_lite import freeze_same_padding
from train.config import ARNetConfig, tiny_config
from train.costs import (CostTable, arnet_cost_table, backbone_gmacs, count_gmacs,
                         cost_table_from_config, main)
from train.models.arnet import ARNet

torch.set_num_threads(1)

G = 1e9


# ------------------------------------------------------------------------------ counting

def test_count_gmacs_linear_and_conv_exact():
    assert count_gmacs(nn.Linear(1280, 1000), torch.zeros(1, 1280)) * G == pytest.approx(1280 * 1000)
    conv = nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False)
    # 42x42 outputs x 32 channels x (3*3*3) MACs each
    assert count_gmacs(conv, torch.zeros(1, 3, 84, 84)) * G == pytest.approx(42 * 42 * 32 * 27)
    dw = nn.Conv2d(16, 16, 5, padding=2, groups=16, bias=False)
    assert count_gmacs(dw, torch.zeros(1, 16, 10, 10)) * G == pytest.approx(10 * 10 * 16 * 25)


def test_count_gmacs_restores_training_mode():
    m = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    m.train()
    count_gmacs(m, torch.zeros(1, 4))
    assert m.training
    m.eval()
    count_gmacs(m, torch.zeros(1, 4))
    assert not m.training


# -------------------------------------------------------------------- published figures

@pytest.mark.parametrize("name,published,tol", [
    ("resnet50", 4.11, 0.02),             # He et al. 2016 / AR-Net paper: 4.11 "GFLOPs" = GMACs
    ("mobilenet_v2", 0.300, 0.03),        # Sandler et al. 2018: 300M multiply-adds
    ("efficientnet_lite0", 0.407, 0.07),  # TF EfficientNet-Lite README: 407M
])
def test_published_figures_at_224(name, published, tol):
    g = backbone_gmacs(name, 224, with_classifier=1000)
    assert g == pytest.approx(published, rel=tol), f"{name}@224: {g:.4f} GMACs vs published {published}"
    # the FC is part of those figures, and is 1000 x num_features MACs
    assert (g - backbone_gmacs(name, 224)) * G == pytest.approx(1000 * create_backbone(name).num_features)


# --------------------------------------------------------- per-resolution Lite costs

LITES = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
RES = [224, 168, 112, 84]


@pytest.mark.parametrize("name", LITES)
def test_lite_cost_grows_with_resolution_and_is_measured_not_scaled(name):
    costs = [backbone_gmacs(name, r) for r in RES]
    assert all(a > b for a, b in zip(costs, costs[1:])), costs
    # the reference code's prior: cost(224) * (s/224)^2. TF-SAME maps round up (84 -> 42, 21, 11,
    # 6, 3), so the measured cost at 84 is clearly above that prior
    prior_84 = costs[0] * (84 / 224) ** 2
    assert costs[-1] > 1.1 * prior_84, (costs[-1], prior_84)


@pytest.mark.parametrize("name,r", [("efficientnet_lite0", 84), ("efficientnet_lite0", 112),
                                    ("efficientnet_lite1", 168), ("efficientnet_lite2", 224)])
def test_cost_counted_on_a_net_built_for_that_resolution(name, r):
    # a net whose TF-SAME pads are frozen for r (it refuses any other size) gives the same count:
    # the table entry is the cost of the branch as it runs (and exports) at r
    frozen = freeze_same_padding(create_backbone(name).eval(), r)
    assert count_gmacs(frozen, torch.zeros(1, 3, r, r)) == pytest.approx(backbone_gmacs(name, r), rel=1e-9)
    # stem conv alone at r: ceil(r/2)^2 x 32 x 27 MACs
    stem = frozen.net.conv_stem
    s = -(-r // 2)
    assert count_gmacs(stem, torch.zeros(1, 3, r, r)) * G == pytest.approx(s * s * 32 * 27)


# -------------------------------------------------------------------- AR-Net tables

@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return ARNet(tiny_config(num_classes=5))


def test_policy_step_counts_the_lstm(tiny_model):
    cfg = tiny_model.cfg
    t = arnet_cost_table(tiny_model)
    pol = t.details["branches"]["policy"]
    n_in, H, A, C = 32, cfg.hidden, cfg.num_actions, cfg.num_classes  # tiny_cnn: 32 features
    lstm_macs = 4 * H * (n_in + H)
    assert pol["lstm"] * G == pytest.approx(lstm_macs)
    # independent of the breakdown: whole step - extractor - both heads == the LSTM's MACs
    feats = count_gmacs(tiny_model.policy.extractor, torch.zeros(1, 3, 24, 24))
    rest = (t.policy_step - feats) * G - H * A - n_in * C
    assert rest == pytest.approx(lstm_macs)
    assert t.policy_step == pytest.approx(pol["features"] + pol["lstm"] + pol["action_head"] + pol["low_head"])


def test_cost_table_semantics(tiny_model):
    cfg = tiny_model.cfg
    t = arnet_cost_table(tiny_model)
    L, C = cfg.num_resolutions, cfg.num_classes
    assert len(t.actions) == cfg.num_actions
    for i in range(L - 1):
        expect = backbone_gmacs(cfg.backbones[i], cfg.resolutions[i]) + 32 * C / G
        assert t.actions[i] == pytest.approx(expect), i
    assert t.actions[L - 1] * G == pytest.approx(32 * C)          # lowest branch: FC head only
    assert t.actions[L:] == [0.0] * len(cfg.skip_lengths)        # skips cost nothing extra
    assert t.uniform_per_frame == pytest.approx(t.actions[0])
    assert t.actions[0] > t.actions[1] > t.actions[2] > t.actions[3]
    assert t.step_cost(0) == pytest.approx(t.policy_step + t.actions[0])
    assert t.per_frame_cost(L + 2) == pytest.approx(t.policy_step / 4)


def test_to_manifest_is_the_manifest_costs_object(tiny_model):
    from edge_runtime.manifest import Manifest
    t = arnet_cost_table(tiny_model)
    costs = t.to_manifest()
    assert set(costs) == {"unit", "policy_step", "actions", "uniform_per_frame", "measured_with", "branches"}
    assert costs["unit"] == "GMACs (multiply-accumulates)"
    assert costs["measured_with"] == "torch.utils.flop_counter"
    assert set(costs["branches"]) == {"backbone_64", "backbone_48", "backbone_32", "policy"}
    json.dumps(costs)   # JSON-serialisable
    cfg = tiny_model.cfg
    L = cfg.num_resolutions
    manifest = {
        "schema": 1, "name": "t", "labels": [f"c{i}" for i in range(cfg.num_classes)],
        "resolutions": cfg.resolutions, "skip_lengths": cfg.skip_lengths,
        "actions": [{"kind": "resolution", "size": s, "backbone": f"backbone_{s}" if i < L - 1 else "policy"}
                    for i, s in enumerate(cfg.resolutions)] + [{"kind": "skip", "frames": f} for f in cfg.skip_lengths],
        "normalization": {"mean": [0.5] * 3, "std": [0.5] * 3, "folded": True},
        "policy": {"resolution": cfg.resolutions[-1], "hidden": cfg.hidden, "state": ["h", "c"]},
        "costs": costs, "sampling": {"frames_per_clip": 8, "seconds_per_step": 0.25}, "artifacts": [],
    }
    m = Manifest.from_dict(json.loads(json.dumps(manifest)))
    assert m.costs["actions"] == t.actions


def test_cost_table_rejects_wrong_action_count():
    with pytest.raises(ValueError, match="expected 5"):
        CostTable(0.1, [1.0, 0.5], 1.0, [224, 112], [1, 2, 4])


def test_default_lite_arnet_table():
    # the product's default: Lite2@224, Lite1@168, Lite0@112, policy Lite0@84, hidden 512
    cfg = ARNetConfig(num_classes=10, pretrained=False)
    t = cost_table_from_config(cfg)
    pol = t.details["branches"]["policy"]
    assert pol["lstm"] * G == pytest.approx(4 * 512 * (1280 + 512))
    assert pol["features"] == pytest.approx(backbone_gmacs("efficientnet_lite0", 84))
    for i, (name, r) in enumerate(zip(cfg.backbones, cfg.resolutions)):
        assert t.actions[i] == pytest.approx(backbone_gmacs(name, r) + 1280 * 10 / G)
    assert t.uniform_per_frame == pytest.approx(backbone_gmacs("efficientnet_lite2", 224) + 1280 * 10 / G)
    assert t.policy_step < t.actions[2] < t.actions[1] < t.actions[0]


# --------------------------------------------------------------------------------- CLI

def test_cli_config_table_and_json(tmp_path, capsys):
    p = tmp_path / "tiny.yaml"
    p.write_text("model:\n  num_classes: 5\n  resolutions: [64, 48, 32, 24]\n"
                 "  backbones: [tiny_cnn, tiny_cnn, tiny_cnn]\n  policy_backbone: tiny_cnn\n"
                 "  hidden: 32\n  pretrained: true\n")          # counting forces pretrained off
    assert main(["--config", str(p)]) == 0
    out = capsys.readouterr().out
    for s in ("res 64", "res 24", "skip 4", "vs uniform", "GMACs"):
        assert s in out
    assert main(["--config", str(p), "--json"]) == 0
    costs = json.loads(capsys.readouterr().out)
    assert len(costs["actions"]) == 7 and costs["actions"][4:] == [0.0, 0.0, 0.0]


def test_cli_num_classes_auto_reads_the_datas_classes(tmp_path, capsys):
    """Training configs say ``num_classes: auto``; the cost CLI counts their class file."""
    (tmp_path / "classes.txt").write_text("a\nb\nc\n")
    (tmp_path / "train.txt").write_text("")
    p = tmp_path / "auto.yaml"
    p.write_text("model:\n  num_classes: auto\n  resolutions: [64, 48, 32, 24]\n"
                 "  backbones: [tiny_cnn, tiny_cnn, tiny_cnn]\n  policy_backbone: tiny_cnn\n  hidden: 32\n"
                 f"data:\n  root: {tmp_path}\n  train: {{list_file: {tmp_path / 'train.txt'}}}\n")
    assert main(["--config", str(p)]) == 0
    assert "classes=3" in capsys.readouterr().out
    p.write_text(p.read_text().replace(str(tmp_path), str(tmp_path / "elsewhere")))
    assert main(["--config", str(p), "--classes", "7"]) == 0      # no classes.txt here: --classes
    assert "classes=7" in capsys.readouterr().out
    p.write_text(p.read_text().replace("num_classes: auto", "num_classes: many"))
    assert main(["--config", str(p)]) == 2
    assert "num_classes='many': expected an integer" in capsys.readouterr().err


def test_cli_backbone(capsys):
    assert main(["--backbone", "efficientnet_lite0", "--resolution", "224", "84"]) == 0
    out = capsys.readouterr().out
    assert "efficientnet_lite0" in out and " 224 " in out and " 84 " in out
    assert main(["--backbone", "efficientnet_lite0", "--resolution", "224", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert row["total"] == pytest.approx(backbone_gmacs("efficientnet_lite0", 224, with_classifier=1000))


def test_cli_errors_name_the_problem(tmp_path, capsys):
    assert main(["--backbone", "resnet5", "--resolution", "224"]) == 2
    assert "valid choices" in capsys.readouterr().err
    p = tmp_path / "bad.yaml"
    p.write_text("model:\n  backbones: [nope, tiny_cnn, tiny_cnn]\n")
    assert main(["--config", str(p)]) == 2
    assert "backbones[0]" in capsys.readouterr().err
