"""AR-Net and its baselines; ``create_model(cfg)`` builds the one ``cfg.method`` names."""

from __future__ import annotations

from torch import nn

from train.config import METHODS, ARNetConfig, ConfigError
from train.models.arnet import ARNet, ARNetOutput
from train.models.baselines import LSTMModel, MultiScaleModel, UniformModel

_BUILDERS = {
    "arnet": ARNet, "random": ARNet, "resolution_only": ARNet, "skip_only": ARNet,
    "uniform": UniformModel, "lstm": LSTMModel, "multiscale": MultiScaleModel,
}
assert set(_BUILDERS) == set(METHODS)


def create_model(cfg: ARNetConfig) -> nn.Module:
    if cfg.method not in _BUILDERS:
        raise ConfigError(f"method={cfg.method!r} is not one of {sorted(_BUILDERS)}")
    return _BUILDERS[cfg.method](cfg)


__all__ = ["ARNet", "ARNetOutput", "LSTMModel", "MultiScaleModel", "UniformModel", "create_model"]
