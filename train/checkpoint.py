"""Checkpoints: atomic writes, everything needed to rebuild the model and resume training."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edge_runtime.manifest import atomic_write_bytes
from train.config import ARNetConfig, ConfigError

CHECKPOINT_VERSION = 1


class CheckpointError(ValueError):
    pass


@dataclass
class LoadedCheckpoint:
    model: nn.Module
    cfg: ARNetConfig
    labels: list[str]
    sampling: dict
    meta: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)   # optimizer/scheduler/rng states for --resume
    path: Path | None = None


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model  # DDP


def save_checkpoint(path: str | os.PathLike, model: nn.Module, *, labels: list[str], sampling: dict,
                    meta: dict | None = None, **state: Any) -> Path:
    """Write ``path`` atomically (a reader sees the previous file or this one, never half)."""
    m = _unwrap(model)
    payload = {
        "version": CHECKPOINT_VERSION,
        "model_config": m.cfg.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in m.state_dict().items()},
        "labels": list(labels),
        "sampling": dict(sampling),
        "meta": dict(meta or {}),
    }
    payload.update(state)
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Rebuild the model (eval mode) from a checkpoint written by :func:`save_checkpoint`."""
    from train.models import create_model
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: checkpoint not found")
    try:
        raw = torch.load(p, map_location=map_location, weights_only=False)
    except Exception as e:  # truncated / not a torch file
        raise CheckpointError(f"{p}: cannot read checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(raw, dict) or "model_config" not in raw or "state_dict" not in raw:
        raise CheckpointError(f"{p}: not an AR-Net Edge checkpoint (missing model_config/state_dict)")
    cfg_d = dict(raw["model_config"])
    cfg_d["pretrained"] = False  # weights come from the state dict
    try:
        cfg = ARNetConfig.from_dict(cfg_d, where=f"{p}:model_config")
    except ConfigError as e:
        raise CheckpointError(str(e)) from None
    model = create_model(cfg)
    missing, unexpected = model.load_state_dict(raw["state_dict"], strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{p}: weights do not match the model config (missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]})")
    model.eval()
    return LoadedCheckpoint(model=model, cfg=cfg, labels=list(raw.get("labels", [])),
                            sampling=dict(raw.get("sampling", {})), meta=dict(raw.get("meta", {})),
                            raw=raw, path=p)
