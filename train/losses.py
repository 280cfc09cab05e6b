"""AR-Net losses (paper Eq. 9-12): L = (1-α)·L_acc + α·L_flops + β·L_uni."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from train.models.arnet import ARNetOutput


@dataclass
class LossWeights:
    alpha: float = 0.1   # efficiency weight (paper α)
    beta: float = 0.3    # uniform-usage weight (paper β)


def accuracy_loss(video_logits: torch.Tensor, target: torch.Tensor, multi_label: bool = False) -> torch.Tensor:
    """Softmax cross-entropy for single-label data, BCE-with-logits for multi-hot targets."""
    if multi_label:
        return F.binary_cross_entropy_with_logits(video_logits.float(), target.float())
    return F.cross_entropy(video_logits.float(), target)


def action_cover(num_resolutions: int, skip_lengths) -> torch.Tensor:
    """Frames one decision covers, per action: 1 for a resolution, F for "skip F"."""
    return torch.tensor([1.0] * num_resolutions + [float(f) for f in skip_lengths])


def flops_loss(actions: torch.Tensor, step_cost: torch.Tensor, uniform_per_frame: float,
               cover: torch.Tensor | None = None) -> torch.Tensor:
    """Expected GMACs per frame relative to Uniform: mean over frames of the cost rate
    ``(policy + action cost) / cover`` of the decision that covers the frame.

    ``actions`` (B, T, A) one-hot (straight-through; a skip's one-hot is repeated on every frame it
    covers), ``step_cost`` (A,) GMACs per decision step, ``cover`` (A,) frames per decision
    (:func:`action_cover`; None = 1 for every action).

    The value is the same as summing the decision steps' costs (a "skip F" decision costs one
    policy step over F frames), but the gradient is not: the naive sum over decision steps weights
    a skip's one-hot by the policy step alone, exactly like the lowest resolution's, because the
    F−1 policy steps it saves sit behind a boolean "is this a decision step" mask. Spread over the
    frames it covers, "skip 4" is credited with the 3 policy steps it saves, so the estimator
    can tell skipping from looking at every frame at low resolution.
    """
    T = actions.shape[1]
    rate = step_cost.to(actions.device).float()
    if cover is not None:
        rate = rate / cover.to(actions.device).float()
    per = (actions.float() * rate).sum(-1)
    return per.sum(1).mean() / (T * uniform_per_frame)


def uniform_loss(actions: torch.Tensor) -> torch.Tensor:
    """‖u − mean(u)‖₂ with u the usage share of each action over batch and time (as the
    reference implementation: a skip's one-hot counts on every frame it covers)."""
    usage = actions.float().mean(dim=(0, 1))
    return torch.linalg.vector_norm(usage - usage.mean())


def arnet_loss(out: ARNetOutput, target: torch.Tensor, step_cost: torch.Tensor, uniform_per_frame: float,
               weights: LossWeights = LossWeights(), multi_label: bool = False,
               cover: torch.Tensor | None = None):
    """Eq. 12. Returns (total, {"acc", "flops", "uni"} as floats)."""
    l_acc = accuracy_loss(out.video_logits, target, multi_label)
    l_flops = flops_loss(out.actions, step_cost, uniform_per_frame, cover)
    l_uni = uniform_loss(out.actions)
    total = (1 - weights.alpha) * l_acc + weights.alpha * l_flops + weights.beta * l_uni
    return total, {"acc": float(l_acc.detach()), "flops": float(l_flops.detach()),
                   "uni": float(l_uni.detach())}


def branch_loss(out: ARNetOutput, target: torch.Tensor, multi_label: bool = False) -> torch.Tensor:
    """Warm-up: every branch trained on its own clip prediction (mean of its frame logits)."""
    losses = [accuracy_loss(b.mean(1), target, multi_label) for b in out.branch_logits]
    return torch.stack(losses).mean()
