"""Configuration dataclasses for AR-Net models and training (no globals: pass these around)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

METHODS = ("arnet", "uniform", "lstm", "random", "multiscale", "resolution_only", "skip_only")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and the valid choices."""


@dataclass
class ARNetConfig:
    """The adaptive model: resolutions, skips, one backbone per resolution (but the lowest).

    ``backbones[i]`` runs at ``resolutions[i]`` for i < L-1; the lowest resolution is served by
    the policy's feature extractor ``policy_backbone`` plus an FC head (paper Sec. 3)."""

    num_classes: int = 10
    resolutions: list[int] = field(default_factory=lambda: [224, 168, 112, 84])
    skip_lengths: list[int] = field(default_factory=lambda: [1, 2, 4])
    backbones: list[str] = field(default_factory=lambda: ["efficientnet_lite2", "efficientnet_lite1",
                                                          "efficientnet_lite0"])
    policy_backbone: str = "efficientnet_lite0"
    hidden: int = 512
    pretrained: bool = True
    dropout: float = 0.2
    method: str = "arnet"          # one of METHODS
    multi_label: bool = False

    def __post_init__(self) -> None:
        self.resolutions = [int(r) for r in self.resolutions]
        self.skip_lengths = [int(f) for f in self.skip_lengths]
        self.backbones = list(self.backbones)
        self.validate()

    @property
    def num_resolutions(self) -> int:
        return len(self.resolutions)

    @property
    def num_actions(self) -> int:
        return len(self.resolutions) + len(self.skip_lengths)

    def validate(self) -> None:
        r, f = self.resolutions, self.skip_lengths
        if not r or any(x <= 0 for x in r):
            raise ConfigError(f"resolutions={r}: expected a non-empty list of positive sizes")
        if any(a <= b for a, b in zip(r, r[1:])):
            raise ConfigError(f"resolutions={r}: must be strictly decreasing (s_0 > s_1 > ... > s_L-1)")
        if any(x <= 0 for x in f) or any(a >= b for a, b in zip(f, f[1:])):
            raise ConfigError(f"skip_lengths={f}: expected strictly increasing positive frame counts, "
                              f"e.g. [1, 2, 4]")
        if len(self.backbones) != len(r) - 1:
            raise ConfigError(
                f"backbones={self.backbones} has {len(self.backbones)} entries but resolutions={r} "
                f"needs {len(r) - 1} (one per resolution except the lowest, which the policy's "
                f"feature extractor '{self.policy_backbone}' serves)")
        if self.method not in METHODS:
            raise ConfigError(f"method={self.method!r} is not one of {list(METHODS)}")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int):
            raise ConfigError(f"num_classes={self.num_classes!r}: expected an integer >= 1 "
                              f"(\"auto\" is resolved from the data by train/train.py)")
        if self.num_classes < 1:
            raise ConfigError(f"num_classes={self.num_classes}: must be >= 1")
        if self.hidden < 1:
            raise ConfigError(f"hidden={self.hidden}: must be >= 1")
        from train.backbones import check_backbone_name  # late: registry imports torch
        for i, name in enumerate(self.backbones):
            check_backbone_name(name, f"backbones[{i}]")
        check_backbone_name(self.policy_backbone, "policy_backbone")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any], where: str = "model") -> "ARNetConfig":
        return from_dict(ARNetConfig, d, where)


def from_dict(cls: type, d: dict[str, Any] | None, where: str) -> Any:
    """Build dataclass ``cls`` from a dict, naming unknown keys and the valid ones."""
    d = dict(d or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {sorted(names)}")
    try:
        return cls(**d)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from None


def tiny_config(num_classes: int = 5, **kw: Any) -> ARNetConfig:
    """A seconds-on-CPU configuration for tests and quick demos (tiny random backbones)."""
    base = dict(num_classes=num_classes, resolutions=[64, 48, 32, 24], skip_lengths=[1, 2, 4],
                backbones=["tiny_cnn", "tiny_cnn", "tiny_cnn"], policy_backbone="tiny_cnn",
                hidden=32, pretrained=False, dropout=0.0)
    base.update(kw)
    return ARNetConfig(**base)


def load_yaml(path: str | Path) -> dict[str, Any]:
    import yaml
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    try:
        d = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({e})") from None
    if not isinstance(d, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level, got {type(d).__name__}")
    return d
