"""The registry itself: names -> factories, plus the normalising wrapper."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn


class BackboneError(ValueError):
    """Unknown backbone name, or weights that do not fit it."""


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    family: str
    factory: Callable[..., nn.Module]   # factory(pretrained: bool, weights: str|None) -> features net
    num_features: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    default_resolution: int
    pretrained_source: str = ""         # where pretrained weights come from (offline)


_REGISTRY: dict[str, BackboneSpec] = {}


def register_backbone(name: str, *, family: str, num_features: int, mean, std,
                      default_resolution: int = 224, pretrained_source: str = ""):
    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise BackboneError(f"backbone {name!r} registered twice")
        _REGISTRY[name] = BackboneSpec(name, family, fn, num_features, tuple(mean), tuple(std),
                                       default_resolution, pretrained_source)
        return fn
    return deco


def list_backbones() -> list[str]:
    return sorted(_REGISTRY)


def check_backbone_name(name: str, field: str = "backbone") -> None:
    if name not in _REGISTRY:
        raise BackboneError(f"{field}={name!r} is not a registered backbone; valid choices: "
                            f"{list_backbones()}")


def get_spec(name: str) -> BackboneSpec:
    check_backbone_name(name)
    return _REGISTRY[name]


class Backbone(nn.Module):
    """Normalise [0, 255] RGB -> features net -> (N, num_features).

    ``normalize_input = False`` skips the normalisation: the export wrapper
    (``convert.modules.DeviceModule``) sets it on its own copy when it applies a channel-uniform
    normalisation itself, on the NHWC frame."""

    def __init__(self, spec: BackboneSpec, net: nn.Module):
        super().__init__()
        self.name = spec.name
        self.num_features = spec.num_features
        self.mean = spec.mean
        self.std = spec.std
        scale = torch.tensor([1.0 / (255.0 * s) for s in spec.std]).view(1, 3, 1, 1)
        shift = torch.tensor([-m / s for m, s in zip(spec.mean, spec.std)]).view(1, 3, 1, 1)
        self.register_buffer("norm_scale", scale, persistent=False)
        self.register_buffer("norm_shift", shift, persistent=False)
        self.net = net
        self.normalize_input = True

    def uniform_normalization(self) -> tuple[float, float] | None:
        """(scale, shift) when every channel is normalised alike (EfficientNet-Lite and the tiny
        CNNs: mean = std = 0.5), else None (per-channel ImageNet statistics)."""
        sc, sh = self.norm_scale.flatten(), self.norm_shift.flatten()
        if bool((sc == sc[0]).all()) and bool((sh == sh[0]).all()):
            return float(sc[0]), float(sh[0])
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalize_input:
            x = x * self.norm_scale + self.norm_shift
        return self.net(x)


def create_backbone(name: str, pretrained: bool = False, weights: str | Path | None = None) -> Backbone:
    """Build backbone ``name``. ``pretrained`` loads the offline weights its family knows;
    ``weights`` loads a user file (a state dict for the family's architecture)."""
    spec = get_spec(name)
    net = spec.factory(pretrained=pretrained, weights=str(weights) if weights else None)
    return Backbone(spec, net)
