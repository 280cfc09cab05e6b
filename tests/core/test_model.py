"""AR-Net semantics: skip bookkeeping, Gumbel hard/soft, clip forward == streaming steps."""

import math

import pytest
import torch
import torch.nn.functional as F

from train.config import ARNetConfig, ConfigError, tiny_config
from train.models import ARNet, create_model
from train.models.policy import GateSliceLSTMCell

torch.set_num_threads(1)


def clip(cfg, B=2, T=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (B, T, 3, s, s), generator=g).float() for s in cfg.resolutions]


def test_gate_slice_lstm_equals_lstmcell():
    torch.manual_seed(0)
    ref = torch.nn.LSTMCell(7, 5)
    mine = GateSliceLSTMCell(7, 5)
    mine.load_from_lstmcell(ref)
    x, h, c = torch.randn(3, 7), torch.randn(3, 5), torch.randn(3, 5)
    h1, c1 = ref(x, (h, c))
    h2, c2 = mine(x, h, c)
    assert torch.allclose(h1, h2, atol=1e-6) and torch.allclose(c1, c2, atol=1e-6)


def _bias_policy(model, action):
    """Make the policy always choose ``action`` (large bias on the action head)."""
    with torch.no_grad():
        model.policy.action_head.weight.zero_()
        model.policy.action_head.bias.fill_(-10.0)
        model.policy.action_head.bias[action] = 10.0


@pytest.mark.parametrize("skip_action,F_", [(4, 1), (5, 2), (6, 4)])
def test_skip_bookkeeping(skip_action, F_):
    cfg = tiny_config()
    model = ARNet(cfg).eval()
    _bias_policy(model, skip_action)
    out = model(clip(cfg, B=1, T=9))
    # the policy decides on frames 0, F, 2F, ...; every frame carries the skip action
    dec = out.decision[0].tolist()
    assert dec == [t % F_ == 0 for t in range(9)]
    assert out.action_index[0].tolist() == [skip_action] * 9
    assert not out.processed.any()
    # nothing processed: fallback = mean low-branch logits over decision steps
    low = out.branch_logits[-1][0][out.decision[0]].mean(0)
    assert torch.allclose(out.video_logits[0], low, atol=1e-5)


def test_skipped_frames_do_not_touch_policy_state():
    """Changing a frame the policy skips must not change anything."""
    cfg = tiny_config()
    model = ARNet(cfg).eval()
    _bias_policy(model, 6)  # skip 4
    frames = clip(cfg, B=1, T=8)
    a = model(frames)
    frames2 = [f.clone() for f in frames]
    for f in frames2:
        f[:, 1:4] = 255 - f[:, 1:4]
    b = model(frames2)
    assert torch.equal(a.action_index, b.action_index)
    assert torch.allclose(a.video_logits, b.video_logits)


def test_resolution_action_uses_its_branch():
    cfg = tiny_config()
    model = ARNet(cfg).eval()
    frames = clip(cfg, B=1, T=4)
    for a in range(cfg.num_resolutions):
        _bias_policy(model, a)
        out = model(frames)
        assert out.processed.all()
        expect = out.branch_logits[a][0].mean(0)
        assert torch.allclose(out.video_logits[0], expect, atol=1e-5)
        if a < cfg.num_resolutions - 1:
            direct = model.branch(a, frames[a][0]).mean(0)
            assert torch.allclose(out.video_logits[0], direct, atol=1e-4)


def test_mixed_actions_video_is_mean_over_processed_frames():
    cfg = tiny_config()
    model = ARNet(cfg).eval()
    torch.manual_seed(3)
    with torch.no_grad():
        model.policy.action_head.weight.normal_(0, 3.0)
    frames = clip(cfg, B=3, T=12, seed=5)
    out = model(frames)
    for b in range(3):
        sel = [out.branch_logits[int(a)][b, t] for t, a in enumerate(out.action_index[b])
               if out.processed[b, t]]
        if sel:
            assert torch.allclose(out.video_logits[b], torch.stack(sel).mean(0), atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_clip_forward_equals_streaming_steps(seed):
    cfg = tiny_config()
    torch.manual_seed(seed)
    model = ARNet(cfg).eval()
    with torch.no_grad():  # spread the policy so several actions occur
        model.policy.action_head.weight.normal_(0, 2.0)
    frames = clip(cfg, B=2, T=16, seed=seed)
    out = model(frames)
    for b in range(2):
        ref = model.stream([f[b] for f in frames])
        assert out.action_index[b].tolist() == ref["actions"]
        assert out.decision[b].tolist() == [k != "skipped" for k in ref["kinds"]]
        assert torch.allclose(out.video_logits[b], ref["video_logits"], atol=1e-4, rtol=1e-4)
    # across the seeds, both resolution and skip actions are exercised
    assert out.processed.any()


def test_stream_matches_export_modules():
    cfg = tiny_config()
    model = ARNet(cfg).eval()
    mods = model.export_modules()
    assert set(mods) == {"policy", "backbone_64", "backbone_48", "backbone_32"}
    f = clip(cfg, B=1, T=1)
    h, c = model.init_state(1)
    a1 = model.step(f[-1][:, 0], h, c)
    a2 = mods["policy"](f[-1][:, 0], h, c)
    for x, y in zip(a1, a2):
        assert torch.equal(x, y)
    assert torch.equal(model.branch(0, f[0][:, 0]), mods["backbone_64"](f[0][:, 0]))


def test_gumbel_straight_through_hard_forward_soft_backward():
    cfg = tiny_config()
    model = ARNet(cfg).train()
    torch.manual_seed(0)
    out = model(clip(cfg, B=4, T=6), tau=5.0)
    # forward: exactly one-hot
    assert torch.equal(out.actions.sum(-1), torch.ones(4, 6))
    assert set(out.actions.unique().tolist()) <= {0.0, 1.0}
    # backward: gradients reach the policy's action head through the soft sample
    loss = (out.actions * torch.arange(cfg.num_actions).float()).sum() + out.video_logits.sum()
    loss.backward()
    g = model.policy.action_head.weight.grad
    assert g is not None and g.abs().sum() > 0


def test_gumbel_temperature_controls_sampling_spread():
    """Low τ follows the logits' argmax; τ is really applied."""
    cfg = tiny_config()
    model = ARNet(cfg).train()
    logits = torch.tensor([[3.0, 0, 0, 0, 0, 0, 0]]).repeat(2000, 1)
    torch.manual_seed(0)
    cold = model._choose(logits, tau=0.05).argmax(-1)
    # hard Gumbel-max samples from softmax(logits) regardless of τ in the forward pass
    share = (cold == 0).float().mean().item()
    p0 = math.exp(3) / (math.exp(3) + 6)
    assert abs(share - p0) < 0.04


def test_methods_restrict_actions():
    cfg = tiny_config(method="resolution_only")
    m = ARNet(cfg).eval()
    _bias_policy(m, 5)  # a skip, masked away
    out = m(clip(cfg, B=1, T=4))
    assert (out.action_index < cfg.num_resolutions).all()
    cfg = tiny_config(method="skip_only")
    m = ARNet(cfg).eval()
    _bias_policy(m, 2)  # resolution 2 is not allowed for skip-only
    out = m(clip(cfg, B=1, T=4))
    assert set(out.action_index.unique().tolist()) <= {0, 4, 5, 6}
    cfg = tiny_config(method="random")
    m = ARNet(cfg).eval()
    m.random_generator = torch.Generator().manual_seed(0)
    out = m(clip(cfg, B=8, T=8))
    assert len(out.action_index.unique()) >= 4


@pytest.mark.parametrize("method", ["uniform", "lstm", "multiscale", "arnet", "random",
                                    "resolution_only", "skip_only"])
def test_every_method_builds_and_runs(method):
    cfg = tiny_config(method=method)
    model = create_model(cfg).eval()
    out = model(clip(cfg, B=2, T=4))
    assert out.video_logits.shape == (2, cfg.num_classes)
    assert torch.isfinite(out.video_logits).all()


def test_config_errors_name_value_and_choices():
    with pytest.raises(Exception, match="not a registered backbone.*valid choices"):
        tiny_config(backbones=["tiny_cnn", "nope", "tiny_cnn"])
    with pytest.raises(ConfigError, match=r"backbones=.*needs 2"):
        tiny_config(backbones=["tiny_cnn"] * 3, resolutions=[64, 48, 32])
    with pytest.raises(ConfigError, match="strictly decreasing"):
        tiny_config(resolutions=[32, 48, 64, 24])
    with pytest.raises(ConfigError, match="strictly increasing"):
        tiny_config(skip_lengths=[2, 1])
    with pytest.raises(ConfigError, match="method='fast'.*arnet"):
        tiny_config(method="fast")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['resolution'\]"):
        ARNetConfig.from_dict({"resolution": [1]})


def test_checkpoint_roundtrip(tmp_path):
    from train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
    cfg = tiny_config()
    model = ARNet(cfg).eval()
    p = save_checkpoint(tmp_path / "c.pt", model, labels=list("abcde"),
                        sampling={"frames_per_clip": 8, "seconds_per_step": 0.25})
    ck = load_checkpoint(p)
    f = clip(cfg, B=1, T=4)
    assert torch.allclose(ck.model(f).video_logits, model(f).video_logits)
    assert ck.labels == list("abcde") and ck.sampling["frames_per_clip"] == 8
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_checkpoint(tmp_path / "bad.pt")
