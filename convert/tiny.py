"""The ``--tiny`` model: a fresh seeded tiny AR-Net that actually takes different actions.

A freshly initialised tiny CNN barely reacts to its input (fresh BatchNorm statistics), so its
policy picks the same action on every frame and the exported pipeline would never exercise
skips or the bigger backbones. Two deterministic, data-free-of-labels touches fix that:

1. BatchNorm statistics re-estimated on generated frames (what a first training epoch would
   do), so features vary with the input;
2. the action head, the LSTM input weights and the class heads scaled up, so logits spread
   and decisions depend on the frames.

With seed 0 the held-out generated clips then use every resolution and two of the three skip
lengths, and the video predictions vary across clips.
"""

from __future__ import annotations

TINY_LABELS = [f"class_{i}" for i in range(5)]
TINY_SAMPLING = {"frames_per_clip": 8, "seconds_per_step": 0.25, "resize": "pyramid"}


def tiny_model(seed: int = 0):
    import torch
    from torch import nn

    from convert.data import synthetic_clips
    from train.config import tiny_config
    from train.models.arnet import ARNet

    torch.manual_seed(seed)
    model = ARNet(tiny_config(num_classes=len(TINY_LABELS)))
    clips = synthetic_clips(8, 8, seed=5 + seed)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the batches below
    model.train()
    with torch.no_grad():
        for i, s in enumerate(model.cfg.resolutions):
            x = torch.cat([torch.from_numpy(c.view(s)).permute(0, 3, 1, 2).float() for c in clips])
            net = model.backbones[i] if i < len(model.backbones) else model.policy.extractor
            net(x)
        model.policy.action_head.weight.mul_(10.0)
        model.policy.rnn.ih.weight.mul_(6.0)
        for head in list(model.heads) + [model.policy.low_head]:
            head.weight.mul_(10.0)
    for bn in bns:
        bn.momentum = 0.1
    return model.eval()
