"""Evaluate a model (AR-Net or a baseline) on a loader: accuracy, mAP, GMACs, action usage."""

from __future__ import annotations


import numpy as np
import torch
from torch import nn

from train.metrics import gmacs_per_frame, mean_average_precision, top1

POLICY_FAMILY = ("arnet", "random", "resolution_only", "skip_only")


def constant_frame_gmacs(model: nn.Module) -> float:
    """GMACs per frame of a policy-free baseline: count one frame through the whole model."""
    from train.costs import count_gmacs
    cfg = model.cfg
    frames = [torch.zeros(1, 1, 3, s, s) for s in cfg.resolutions]
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    g = count_gmacs(_ClipWrap(model), [f.to(dev) for f in frames])
    model.train(was)
    return g


class _ClipWrap(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, frames):
        return self.m(frames).video_logits


@torch.no_grad()
def evaluate_model(model: nn.Module, loader, device, cost_table=None, max_batches: int = 0) -> dict:
    """Returns top1 (%), mAP (%), gmacs_per_frame, gmacs_per_video, action_hist (share per action
    over all frames, skipped frames counted under the skip that covers them), num_clips."""
    model.eval()
    method = model.cfg.method
    scores, targets, acts, decs = [], [], [], []
    for i, batch in enumerate(loader):
        if max_batches and i >= max_batches:
            break
        frames = [f.to(device, non_blocking=True).float() for f in batch["frames"]]
        out = model(frames)
        v = out.video_logits.float()
        p = torch.sigmoid(v) if model.cfg.multi_label else torch.softmax(v, -1)
        scores.append(p.cpu().numpy())
        targets.append(batch["label"].cpu().numpy())
        acts.append(out.action_index.cpu().numpy())
        decs.append(out.decision.cpu().numpy())
    if not scores:
        raise ValueError("evaluation loader yielded no clips")
    S, Y = np.concatenate(scores), np.concatenate(targets)
    A, D = np.concatenate(acts), np.concatenate(decs)
    T = A.shape[1]
    if method in POLICY_FAMILY:
        if cost_table is None:
            from train.costs import arnet_cost_table
            cost_table = arnet_cost_table(model)
        step_cost = np.array([cost_table.policy_step + a for a in cost_table.actions])
        per_frame = float(gmacs_per_frame(A, D, step_cost).mean())
    else:
        per_frame = _cached_constant(model)
    hist = np.bincount(A.ravel(), minlength=model.cfg.num_actions) / A.size
    return {"top1": top1(S, Y), "mAP": mean_average_precision(S, Y), "gmacs_per_frame": per_frame,
            "gmacs_per_video": per_frame * T, "action_hist": hist.tolist(), "num_clips": int(len(S)),
            "frames_per_clip": int(T)}


def _cached_constant(model: nn.Module) -> float:
    key = "_arnet_constant_gmacs"
    if not hasattr(model, key):
        setattr(model, key, constant_frame_gmacs(model))
    return getattr(model, key)
