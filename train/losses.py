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


def step_costs(cost_per_action: torch.Tensor, policy_step: float) -> torch.Tensor:
    """GMACs of a decision step per action: policy step + the action's own cost."""
    return cost_per_action + policy_step


def flops_loss(actions: torch.Tensor, decision: torch.Tensor, step_cost: torch.Tensor,
               uniform_per_frame: float) -> torch.Tensor:
    """Expected GMACs per frame relative to Uniform: mean_b Σ_t d_t (r_t · cost) / (T · uniform).

    ``actions`` (B, T, A) one-hot (straight-through), ``decision`` (B, T) bool, ``step_cost`` (A,).
    Frames covered by an earlier skip (d_t = 0) cost nothing."""
    T = actions.shape[1]
    per = (actions.float() * step_cost.to(actions.device).float()).sum(-1) * decision.float()
    return per.sum(1).mean() / (T * uniform_per_frame)


def uniform_loss(actions: torch.Tensor) -> torch.Tensor:
    """‖u − mean(u)‖₂ with u the usage share of each action over batch and time (as the
    reference implementation: a skip's one-hot counts on every frame it covers)."""
    usage = actions.float().mean(dim=(0, 1))
    return torch.linalg.vector_norm(usage - usage.mean())


def arnet_loss(out: ARNetOutput, target: torch.Tensor, step_cost: torch.Tensor, uniform_per_frame: float,
               weights: LossWeights = LossWeights(), multi_label: bool = False):
    """Eq. 12. Returns (total, {"acc", "flops", "uni"} as floats)."""
    l_acc = accuracy_loss(out.video_logits, target, multi_label)
    l_flops = flops_loss(out.actions, out.decision, step_cost, uniform_per_frame)
    l_uni = uniform_loss(out.actions)
    total = (1 - weights.alpha) * l_acc + weights.alpha * l_flops + weights.beta * l_uni
    return total, {"acc": float(l_acc.detach()), "flops": float(l_flops.detach()),
                   "uni": float(l_uni.detach())}


def branch_loss(out: ARNetOutput, target: torch.Tensor, multi_label: bool = False) -> torch.Tensor:
    """Warm-up: every branch trained on its own clip prediction (mean of its frame logits)."""
    losses = [accuracy_loss(b.mean(1), target, multi_label) for b in out.branch_logits]
    return torch.stack(losses).mean()
