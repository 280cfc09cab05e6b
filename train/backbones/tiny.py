"""Tiny randomly initialised CNNs so unit tests and CPU demos run in seconds."""

from __future__ import annotations

from torch import nn

from train.backbones.registry import register_backbone


class TinyCNN(nn.Module):
    def __init__(self, width: int = 16, num_features: int = 32):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU6(inplace=True),
            nn.Conv2d(w, w, 3, stride=2, padding=1, groups=w, bias=False), nn.BatchNorm2d(w), nn.ReLU6(inplace=True),
            nn.Conv2d(w, 2 * w, 1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU6(inplace=True),
            nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU6(inplace=True),
            nn.Conv2d(2 * w, num_features, 1, bias=False), nn.BatchNorm2d(num_features), nn.ReLU6(inplace=True),
        )
        self.num_features = num_features

    def forward(self, x):
        # a mean over H, W (not pool + flatten: onnx2tf turns that flatten into RESHAPE + GATHER)
        return self.features(x).mean((2, 3))


def _no_weights(name: str, pretrained: bool, weights: str | None) -> None:
    if pretrained or weights:
        from train.backbones.registry import BackboneError
        raise BackboneError(f"backbone {name!r} is a random test network and has no pretrained weights")


@register_backbone("tiny_cnn", family="tiny", num_features=32, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
                   default_resolution=64)
def tiny_cnn(pretrained: bool = False, weights: str | None = None) -> nn.Module:
    _no_weights("tiny_cnn", pretrained, weights)
    return TinyCNN(16, 32)


@register_backbone("tiny_cnn_wide", family="tiny", num_features=64, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
                   default_resolution=64)
def tiny_cnn_wide(pretrained: bool = False, weights: str | None = None) -> nn.Module:
    _no_weights("tiny_cnn_wide", pretrained, weights)
    return TinyCNN(32, 64)
