"""AR-Net (Meng et al., ECCV 2020): adaptive frame resolution and skipping.

Inputs everywhere are RGB frames as float tensors in [0, 255] (the backbones normalise), given
per resolution: ``frames[i]`` has shape (B, T, 3, s_i, s_i) for ``s_i = cfg.resolutions[i]``.

Semantics (docs/STREAMING.md is the normative text):
* action ``a < L``: process the frame at ``s_a`` — with backbone ``a`` (a < L-1) or, for the
  lowest resolution, with the policy's own features Φ and an FC head;
* action ``a ≥ L``: skip this frame and the next ``F_{a-L} − 1`` frames; the policy does not
  look at the skipped frames (its LSTM state is carried over unchanged);
* training: Gumbel-softmax straight-through (hard one-hot forward, soft gradient); eval: argmax;
* video prediction = mean of the frame logits of processed frames (fallback when none was
  processed: mean of the lowest branch's logits over the decision steps).

``step`` / ``branch`` are exactly what the exported artifacts compute, and ``stream`` is the
per-frame loop the device runtime runs; ``forward`` (the batched clip forward used in training)
equals ``stream`` in eval mode — a test checks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from train.backbones import create_backbone
from train.config import ARNetConfig
from train.models.policy import PolicyNet

NEG = -1e4  # added to the logits of actions a method may not take (fits fp16)


@dataclass
class ARNetOutput:
    video_logits: torch.Tensor        # (B, C)
    frame_logits: torch.Tensor        # (B, T, C): selected branch's logits, 0 where not processed
    actions: torch.Tensor             # (B, T, A): one-hot (straight-through in training); a skip's
                                      # one-hot is repeated over the frames it covers
    action_index: torch.Tensor        # (B, T) long
    decision: torch.Tensor            # (B, T) bool: the policy ran on this frame
    processed: torch.Tensor           # (B, T) bool: a resolution branch produced logits
    branch_logits: list[torch.Tensor] = field(default_factory=list)  # L x (B, T, C), all frames
    action_logits: torch.Tensor | None = None  # (B, T, A) raw policy logits (decision steps)


def allowed_action_mask(cfg: ARNetConfig) -> torch.Tensor:
    """Additive mask over actions: 0 where the method may take the action, NEG elsewhere."""
    L, A = cfg.num_resolutions, cfg.num_actions
    allowed = torch.ones(A, dtype=torch.bool)
    if cfg.method == "resolution_only":
        allowed[L:] = False
    elif cfg.method == "skip_only":
        allowed[1:L] = False
    return torch.where(allowed, torch.zeros(A), torch.full((A,), NEG))


class ARNet(nn.Module):
    """AR-Net and its policy-variants (random, resolution-only, skip-only)."""

    def __init__(self, cfg: ARNetConfig):
        super().__init__()
        if cfg.method not in ("arnet", "random", "resolution_only", "skip_only"):
            raise ValueError(f"ARNet cannot build method={cfg.method!r}; use train.models.create_model")
        self.cfg = cfg
        L = cfg.num_resolutions
        self.resolutions = list(cfg.resolutions)
        self.skip_lengths = list(cfg.skip_lengths)
        self.backbones = nn.ModuleList(
            [create_backbone(name, pretrained=cfg.pretrained) for name in cfg.backbones])
        self.heads = nn.ModuleList(
            [nn.Linear(b.num_features, cfg.num_classes) for b in self.backbones])
        self.dropout = nn.Dropout(cfg.dropout) if cfg.dropout > 0 else nn.Identity()
        self.policy = PolicyNet(create_backbone(cfg.policy_backbone, pretrained=cfg.pretrained),
                                cfg.hidden, cfg.num_actions, cfg.num_classes, cfg.dropout)
        self.register_buffer("action_mask", allowed_action_mask(cfg), persistent=False)
        self.register_buffer("skip_table", torch.tensor([0] * L + list(cfg.skip_lengths)),
                             persistent=False)
        self.random_generator: torch.Generator | None = None  # method == "random"

    # ---------------------------------------------------------------- device-side compute
    @property
    def num_actions(self) -> int:
        return self.cfg.num_actions

    def init_state(self, n: int = 1, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.zeros(n, self.cfg.hidden, device=device)
        return z, z.clone()

    def step(self, frame_low: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        """One policy step on a frame at the lowest resolution:
        (action_logits (N, A), lowest-branch class_logits (N, C), h', c')."""
        a, cls, h2, c2 = self.policy(frame_low, h, c)
        return a + self.action_mask, cls, h2, c2

    def branch(self, i: int, frame: torch.Tensor) -> torch.Tensor:
        """Class logits of backbone ``i`` (< L-1) on frames at ``resolutions[i]``."""
        return self.heads[i](self.dropout(self.backbones[i](frame)))

    def export_modules(self) -> dict[str, nn.Module]:
        """The modules the device runs: ``policy`` and ``backbone_<s>`` per resolution but the lowest."""
        mods: dict[str, nn.Module] = {"policy": PolicyStep(self)}
        for i, s in enumerate(self.resolutions[:-1]):
            mods[f"backbone_{s}"] = BranchModule(self, i)
        return mods

    # ------------------------------------------------------------------ action choice
    def _choose(self, logits: torch.Tensor, tau: float) -> torch.Tensor:
        """One-hot actions (B, A) from masked logits."""
        if self.cfg.method == "random":
            allowed = (self.action_mask == 0).nonzero().flatten()
            g = self.random_generator
            idx = allowed[torch.randint(len(allowed), (logits.shape[0],), generator=g).to(allowed.device)]
            return F.one_hot(idx.to(logits.device), self.num_actions).to(logits.dtype)
        if self.training:
            return F.gumbel_softmax(logits.float(), tau=tau, hard=True).to(logits.dtype)
        return F.one_hot(logits.argmax(-1), self.num_actions).to(logits.dtype)

    # -------------------------------------------------------------------- clip forward
    def forward(self, frames: list[torch.Tensor], tau: float = 1.0,
                branch_logits: list[torch.Tensor] | None = None) -> ARNetOutput:
        """``branch_logits`` (L x (B, T, C), optional): every branch's frame logits given from
        outside instead of computed -- held-out predictions, so that the policy learns which
        resolution pays off on clips the branches were not fitted to (the branches then only run
        for the policy's own features)."""
        L = len(self.resolutions)
        if len(frames) != L:
            raise ValueError(f"expected {L} frame tensors (one per resolution {self.resolutions}), "
                             f"got {len(frames)}")
        B, T = frames[0].shape[:2]
        feat = self.policy.features(frames[L - 1].flatten(0, 1)).view(B, T, -1)
        if branch_logits is not None:
            if len(branch_logits) != L:
                raise ValueError(f"branch_logits: expected {L} tensors, got {len(branch_logits)}")
            branch_logits = list(branch_logits)
            low_logits = branch_logits[L - 1]
        else:
            low_logits = self.policy.low_head(self.policy.dropout(feat))
            branch_logits = [self.branch(i, frames[i].flatten(0, 1)).view(B, T, -1) for i in range(L - 1)]
            branch_logits.append(low_logits)

        h, c = self.init_state(B, device=feat.device)
        h, c = h.to(feat.dtype), c.to(feat.dtype)
        remaining = torch.zeros(B, dtype=torch.long, device=feat.device)
        r_old = torch.zeros(B, self.num_actions, device=feat.device, dtype=feat.dtype)
        rs, decisions, logits_t = [], [], []
        for t in range(T):
            a_logits, _, h_new, c_new = self.policy.recur(feat[:, t], h, c)
            a_logits = a_logits + self.action_mask
            decide = remaining == 0
            r_new = self._choose(a_logits, tau)
            d = decide[:, None]
            r = torch.where(d, r_new, r_old)
            h = torch.where(d, h_new, h)
            c = torch.where(d, c_new, c)
            new_rem = (self.skip_table[r_new.argmax(-1)] - 1).clamp(min=0)
            remaining = torch.where(decide, new_rem, remaining - 1)
            rs.append(r)
            decisions.append(decide)
            logits_t.append(a_logits)
            r_old = r
        actions = torch.stack(rs, 1)                       # (B, T, A)
        decision = torch.stack(decisions, 1)               # (B, T)
        weights = actions[..., :L]                         # (B, T, L)
        stacked = torch.stack(branch_logits, 2)            # (B, T, L, C)
        frame_logits = (weights.unsqueeze(-1) * stacked).sum(2)
        w = weights.sum(-1)                                # (B, T), exactly 0/1 forward
        denom = w.sum(1)
        video = frame_logits.sum(1) / denom.clamp(min=1.0)[:, None]
        # fallback when no frame was processed: lowest branch over the decision steps
        dmask = decision.to(low_logits.dtype)
        fallback = (low_logits * dmask[..., None]).sum(1) / dmask.sum(1).clamp(min=1.0)[:, None]
        video = torch.where((denom > 0.5)[:, None], video, fallback)
        return ARNetOutput(video_logits=video, frame_logits=frame_logits, actions=actions,
                           action_index=actions.argmax(-1), decision=decision, processed=w > 0.5,
                           branch_logits=branch_logits, action_logits=torch.stack(logits_t, 1))

    # --------------------------------------------------------------- streaming reference
    @torch.no_grad()
    def stream(self, frames: list[torch.Tensor]) -> dict:
        """The device loop (docs/STREAMING.md) on one clip: ``frames[i]`` is (T, 3, s_i, s_i).

        Returns actions per frame, kinds, per-frame logits and the video logits (window = T)."""
        L = len(self.resolutions)
        T = frames[0].shape[0]
        h, c = self.init_state(1, device=frames[0].device)
        remaining, last_skip = 0, -1
        actions, kinds, processed_logits, low_at_decisions = [], [], [], []
        for t in range(T):
            if remaining > 0:
                remaining -= 1
                actions.append(last_skip)
                kinds.append("skipped")
                continue
            if self.cfg.method == "random":
                a_logits, low, h, c = self.step(frames[L - 1][t:t + 1], h, c)
                a = int(self._choose(a_logits, 1.0).argmax(-1))
            else:
                a_logits, low, h, c = self.step(frames[L - 1][t:t + 1], h, c)
                a = int(a_logits.argmax(-1))
            low_at_decisions.append(low[0])
            actions.append(a)
            if a < L:
                kinds.append("resolution")
                logit = low[0] if a == L - 1 else self.branch(a, frames[a][t:t + 1])[0]
                processed_logits.append(logit)
            else:
                kinds.append("skip")
                remaining = self.skip_lengths[a - L] - 1
                last_skip = a
        if processed_logits:
            video = torch.stack(processed_logits).mean(0)
        else:
            video = torch.stack(low_at_decisions).mean(0)
        return {"actions": actions, "kinds": kinds, "video_logits": video,
                "num_processed": len(processed_logits)}


class PolicyStep(nn.Module):
    """Exported policy: (frame (N,3,s,s) float [0,255], h, c) → (action_logits, class_logits, h, c)."""

    def __init__(self, model: ARNet):
        super().__init__()
        self.policy = model.policy
        self.register_buffer("action_mask", model.action_mask.clone(), persistent=False)

    def forward(self, frame: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        a, cls, h2, c2 = self.policy(frame, h, c)
        return a + self.action_mask, cls, h2, c2


class BranchModule(nn.Module):
    """Exported backbone ``i``: frame (N,3,s_i,s_i) float [0,255] → class logits."""

    def __init__(self, model: ARNet, i: int):
        super().__init__()
        self.backbone = model.backbones[i]
        self.head = model.heads[i]

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(frame))
