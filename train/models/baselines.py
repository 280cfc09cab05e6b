"""Baselines of the paper's Tables 1 and 4 as first-class models.

All take the same per-resolution frame list as :class:`ARNet` and return an
:class:`ARNetOutput`, so training, evaluation and cost accounting treat them alike:

* ``uniform``    — the biggest backbone on every frame, mean of frame logits;
* ``lstm``       — the biggest backbone's features → LSTM → per-step logits, averaged;
* ``multiscale`` — every branch (all resolutions) on every frame, averaged;
* ``random``, ``resolution_only``, ``skip_only`` — :class:`ARNet` with a random policy or a
  restricted action set (see ``train/models/arnet.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from train.backbones import create_backbone
from train.config import ARNetConfig
from train.models.arnet import ARNetOutput
from train.models.policy import GateSliceLSTMCell


def top_backbone(cfg: ARNetConfig):
    """The biggest branch's backbone (the one Uniform and LSTM run on every frame)."""
    return create_backbone(cfg.backbones[0] if cfg.backbones else cfg.policy_backbone,
                           pretrained=cfg.pretrained)


def dense_output(logits: torch.Tensor, num_actions: int, branch_logits: list[torch.Tensor]) -> ARNetOutput:
    """Output of a policy-free model: every frame processed by "action 0", video = mean."""
    B, T = logits.shape[:2]
    ones = torch.ones(B, T, dtype=torch.bool, device=logits.device)
    idx = torch.zeros(B, T, dtype=torch.long, device=logits.device)
    return ARNetOutput(video_logits=logits.mean(1), frame_logits=logits,
                       actions=F.one_hot(idx, num_actions).float(), action_index=idx,
                       decision=ones, processed=ones, branch_logits=branch_logits)


class UniformModel(nn.Module):
    """Backbone 0 at s_0 on every frame (paper: "Uniform")."""

    def __init__(self, cfg: ARNetConfig):
        super().__init__()
        self.cfg = cfg
        self.resolutions = list(cfg.resolutions)
        self.backbone = top_backbone(cfg)
        self.dropout = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        self.head = nn.Linear(self.backbone.num_features, cfg.num_classes)

    def frame_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.backbone(x)))

    def forward(self, frames: list[torch.Tensor], tau: float = 1.0) -> ARNetOutput:
        B, T = frames[0].shape[:2]
        logits = self.frame_logits(frames[0].flatten(0, 1)).view(B, T, -1)
        return dense_output(logits, self.cfg.num_actions, [logits])


class LSTMModel(nn.Module):
    """Backbone 0 features → LSTM (hidden ``cfg.hidden``) → per-step logits, averaged over time."""

    def __init__(self, cfg: ARNetConfig):
        super().__init__()
        self.cfg = cfg
        self.resolutions = list(cfg.resolutions)
        self.backbone = top_backbone(cfg)
        self.rnn = GateSliceLSTMCell(self.backbone.num_features, cfg.hidden)
        self.dropout = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        self.head = nn.Linear(cfg.hidden, cfg.num_classes)

    def forward(self, frames: list[torch.Tensor], tau: float = 1.0) -> ARNetOutput:
        B, T = frames[0].shape[:2]
        feat = self.backbone(frames[0].flatten(0, 1)).view(B, T, -1)
        h = feat.new_zeros(B, self.cfg.hidden)
        c = feat.new_zeros(B, self.cfg.hidden)
        outs = []
        for t in range(T):
            h, c = self.rnn(feat[:, t], h, c)
            outs.append(self.head(self.dropout(h)))
        logits = torch.stack(outs, 1)
        return dense_output(logits, self.cfg.num_actions, [logits])


class MultiScaleModel(nn.Module):
    """Every branch on every frame; the video prediction averages all of them."""

    def __init__(self, cfg: ARNetConfig):
        super().__init__()
        self.cfg = cfg
        self.resolutions = list(cfg.resolutions)
        names = list(cfg.backbones) + [cfg.policy_backbone]
        self.backbones = nn.ModuleList([create_backbone(n, pretrained=cfg.pretrained) for n in names])
        self.dropout = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        self.heads = nn.ModuleList([nn.Linear(b.num_features, cfg.num_classes) for b in self.backbones])

    def forward(self, frames: list[torch.Tensor], tau: float = 1.0) -> ARNetOutput:
        B, T = frames[0].shape[:2]
        per = [self.heads[i](self.dropout(self.backbones[i](frames[i].flatten(0, 1)))).view(B, T, -1)
               for i in range(len(self.backbones))]
        logits = torch.stack(per, 0).mean(0)
        return dense_output(logits, self.cfg.num_actions, per)
