"""torchvision backbones for paper-faithful runs: MobileNetV2, EfficientNet-B0..B3, ResNet-50.

No ImageNet weights ship offline for these, and nothing is ever downloaded: they start from a
random init unless ``weights=<path>`` names a torchvision state dict (e.g. the file torchvision's
own ``weights=...`` would download, fetched by the user beforehand). The classifier keys of such a
file (``classifier.*`` / ``fc.*``) are accepted and dropped: the backbone returns pooled features.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from torch import nn

from train.backbones.efficientnet_lite import load_strict, read_state_dict
from train.backbones.registry import BackboneError, register_backbone

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# name -> (torchvision builder name, num_features, native resolution, classifier attribute)
TV_BACKBONES: dict[str, tuple[str, int, int, str]] = {
    "mobilenet_v2": ("mobilenet_v2", 1280, 224, "classifier"),
    "efficientnet_b0": ("efficientnet_b0", 1280, 224, "classifier"),
    "efficientnet_b1": ("efficientnet_b1", 1280, 240, "classifier"),
    "efficientnet_b2": ("efficientnet_b2", 1408, 260, "classifier"),
    "efficientnet_b3": ("efficientnet_b3", 1536, 300, "classifier"),
    "resnet50": ("resnet50", 2048, 224, "fc"),
}


def build_tv(name: str, with_classifier: bool = False) -> nn.Module:
    """torchvision ``name`` with random init (``weights=None``: never downloads). Without the
    classifier the model returns pooled, flattened features (N, num_features)."""
    import torchvision.models as tvm
    builder, _, _, head = TV_BACKBONES[name]
    net = getattr(tvm, builder)(weights=None)
    if not with_classifier:
        setattr(net, head, nn.Identity())
    return net


def _tv_features(name: str, pretrained: bool, weights: str | None) -> nn.Module:
    if weights:
        path = Path(weights)
        _, _, _, head = TV_BACKBONES[name]
        sd = read_state_dict(path, name)
        sd = {k: v for k, v in sd.items() if not k.startswith(head + ".")}
        net = build_tv(name, with_classifier=False)
        load_strict(net, sd, path, name, f"torchvision {TV_BACKBONES[name][0]}")
        return net
    if pretrained:
        raise BackboneError(
            f"backbone {name!r}: no offline pretrained weights ship for it (torchvision weights are "
            f"never downloaded here). Pass weights=<path to a torchvision {TV_BACKBONES[name][0]} "
            f"state dict .pth> (in a config: the backbone's weights path), use pretrained=False for "
            f"a random init, or pick an offline-pretrained backbone: efficientnet_lite0/1/2")
    return build_tv(name, with_classifier=False)


def _make(name: str) -> Callable[..., nn.Module]:
    def factory(pretrained: bool = False, weights: str | None = None) -> nn.Module:
        return _tv_features(name, pretrained, weights)
    factory.__name__ = name
    factory.__doc__ = f"torchvision {TV_BACKBONES[name][0]} features (global average pool)"
    return factory


for _name, (_b, _nf, _res, _h) in TV_BACKBONES.items():
    register_backbone(_name, family="torchvision", num_features=_nf, mean=IMAGENET_MEAN,
                      std=IMAGENET_STD, default_resolution=_res,
                      pretrained_source="none offline: pass weights=<torchvision state dict>")(_make(_name))
del _name, _b, _nf, _res, _h
