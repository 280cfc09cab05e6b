"""Losses on hand-made inputs with known values."""

import math

import torch
import torch.nn.functional as F

from train.losses import LossWeights, accuracy_loss, action_cover, arnet_loss, flops_loss, uniform_loss
from train.models.arnet import ARNetOutput


def onehot(idx, A):
    return F.one_hot(torch.tensor(idx), A).float()


def test_accuracy_loss_ce_and_bce():
    logits = torch.tensor([[0.0, 0.0]])
    assert math.isclose(accuracy_loss(logits, torch.tensor([1])).item(), math.log(2), rel_tol=1e-6)
    ml = accuracy_loss(torch.zeros(1, 3), torch.tensor([[1.0, 0.0, 1.0]]), multi_label=True)
    assert math.isclose(ml.item(), math.log(2), rel_tol=1e-6)


def test_flops_loss_known_value():
    # A = 3 actions: costs per decision step 2.0, 1.0, 0.5 (skip 2); uniform = 4 GMACs/frame
    step_cost = torch.tensor([2.0, 1.0, 0.5])
    cover = torch.tensor([1.0, 1.0, 2.0])
    actions = onehot([[0, 1, 2, 2]], 3)          # (1, 4, 3); frame 3 is covered by the skip
    # decision steps cost 2 + 1 + 0.5 (the skip covers frames 2 and 3): 3.5 / 4 frames / 4
    assert math.isclose(flops_loss(actions, step_cost, 4.0, cover).item(), 0.21875, rel_tol=1e-6)
    # without cover every frame is charged its own step (the old, mask-free reading): 4 / 4 / 4
    assert math.isclose(flops_loss(actions, step_cost, 4.0).item(), 0.25, rel_tol=1e-6)


def test_flops_gradient_credits_a_skip_with_the_policy_steps_it_saves():
    """Straight-through: the decision's one-hot is copied onto the frames a skip covers. The
    gradient must make "skip 4" cheaper than looking at the same 4 frames at the lowest
    resolution (same policy-only cost per decision step): policy vs 4 x policy."""
    policy = 1.0
    step_cost = torch.tensor([3.0 + policy, policy, policy])     # res hi, res lo, skip 4
    cover = action_cover(2, [4])
    y = F.one_hot(torch.tensor(2), 3).float().requires_grad_(True)   # decision at frame 0: skip 4
    actions = y.expand(1, 4, 3)                                  # copied onto frames 1..3
    flops_loss(actions, step_cost, 1.0, cover).backward()
    g = y.grad * 4                                               # x T x uniform
    assert math.isclose(g[2].item(), policy, rel_tol=1e-6)       # one policy step for 4 frames
    assert math.isclose(g[1].item(), 4 * policy, rel_tol=1e-6)   # 4 policy steps
    assert math.isclose(g[0].item(), 4 * (3.0 + policy), rel_tol=1e-6)


def test_uniform_loss_known_values():
    A = 4
    even = onehot([[0, 1, 2, 3]], A)
    assert uniform_loss(even).item() < 1e-7
    allzero = onehot([[0, 0, 0, 0]], A)
    # usage = (1,0,0,0), mean 0.25: ||(0.75,-0.25,-0.25,-0.25)|| = sqrt(0.75)
    assert math.isclose(uniform_loss(allzero).item(), math.sqrt(0.75), rel_tol=1e-6)


def test_combined_eq12():
    A, C = 3, 2
    actions = onehot([[0, 1]], A)
    out = ARNetOutput(video_logits=torch.tensor([[0.0, 0.0]]), frame_logits=torch.zeros(1, 2, C),
                      actions=actions, action_index=actions.argmax(-1),
                      decision=torch.tensor([[True, True]]), processed=torch.tensor([[True, True]]))
    step_cost = torch.tensor([4.0, 2.0, 0.0])
    total, parts = arnet_loss(out, torch.tensor([0]), step_cost, 4.0, LossWeights(alpha=0.1, beta=0.3))
    l_acc, l_fl = math.log(2), (4 + 2) / 2 / 4
    usage = torch.tensor([0.5, 0.5, 0.0])
    l_uni = torch.linalg.vector_norm(usage - usage.mean()).item()
    assert math.isclose(parts["acc"], l_acc, rel_tol=1e-6)
    assert math.isclose(parts["flops"], l_fl, rel_tol=1e-6)
    assert math.isclose(parts["uni"], l_uni, rel_tol=1e-6)
    assert math.isclose(total.item(), 0.9 * l_acc + 0.1 * l_fl + 0.3 * l_uni, rel_tol=1e-6)
