"""What gets exported: the model's device modules, wrapped to the device input contract.

Device contract (every artifact, every format): the frame is uint8 RGB NHWC ``(1, s, s, 3)``
at the module's exact resolution (``edge_runtime.preprocess``: centre square + the manifest's resize rule);
normalisation is folded into the model (``DeviceModule``: cast to float32, normalise, permute to
NCHW); the LSTM state ``h``/``c`` is float32
``(1, hidden)``. Outputs: ``action_logits`` (1, A), ``class_logits`` (1, C), ``h``/``c``
(1, hidden) for the policy; ``class_logits`` for a backbone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

#: Output roles per module role, in the order the modules return them.
OUTPUT_ROLES = {"policy": ("action_logits", "class_logits", "h", "c"), "backbone": ("class_logits",)}
INPUT_ROLES = {"policy": ("frame", "h", "c"), "backbone": ("frame",)}
#: Tensor names used where a format lets us choose them (ONNX, TFLite fp32/fp16 signatures).
#: ONNX forbids an output sharing an input's name, hence ``h_out``/``c_out``.
INPUT_NAMES = {"frame": "frame", "h": "h", "c": "c"}
OUTPUT_NAMES = {"action_logits": "action_logits", "class_logits": "class_logits", "h": "h_out", "c": "c_out"}


class DeviceModule(nn.Module):
    """uint8 RGB NHWC frame -> float -> normalise -> NCHW -> the model's module.

    Where the normalisation runs decides the TFLite graph (onnx2tf keeps NHWC inside):

    * channel-uniform (every backbone in ``inner`` has one scale and one shift for all channels:
      EfficientNet-Lite, the tiny CNNs) — here, on the NHWC frame with scalar constants, before
      the permute; ``inner`` is a copy whose backbones skip their own. The graph starts
      CAST → (QUANTIZE) → MUL → ADD → CONV_2D, no transpose;
    * per channel (ImageNet mean/std) — inside ``inner`` on NCHW, as in training. onnx2tf then
      wraps it in TRANSPOSE (uint8) … TRANSPOSE; NHWC with a (3,) constant would be worse, since
      XNNPACK broadcasts an innermost dimension of 3 element-triple by element-triple.

    Both compute x · scale + shift elementwise in float32 with the same constants, so the device
    module's outputs equal the training model's. Measured on the 2-core x86 (LiteRT int8,
    ``edge_fast``): the uniform path makes the 224 px branch 6 % and the policy 10 % faster than
    the transposed graph
    (docs/RESULTS.md, "Edge benchmark models (configs/edge.yaml, configs/edge_fast.yaml)")."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        from train.backbones.registry import Backbone
        norms = {m.uniform_normalization() for m in inner.modules() if isinstance(m, Backbone)}
        self.norm: tuple[float, float] | None = None
        if len(norms) == 1 and None not in norms:
            (self.norm,) = norms
            inner = copy.deepcopy(inner)
            for m in inner.modules():
                if isinstance(m, Backbone):
                    m.normalize_input = False
        self.inner = inner

    def forward(self, frame: torch.Tensor, *state: torch.Tensor):
        if self.norm is None:
            x = frame.permute(0, 3, 1, 2).to(torch.float32)
        else:
            x = (frame.to(torch.float32) * self.norm[0] + self.norm[1]).permute(0, 3, 1, 2)
        return self.inner(x, *state)


@dataclass
class ModuleSpec:
    """One exported module: ``policy`` or ``backbone_<s>``."""

    id: str
    role: str               # policy | backbone
    resolution: int
    module: nn.Module       # the model's module: NCHW float [0, 255] in
    hidden: int
    num_classes: int
    num_actions: int
    skip_lengths: tuple[int, ...] = ()
    _device: nn.Module | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def num_resolutions(self) -> int:
        return self.num_actions - len(self.skip_lengths)

    @property
    def input_roles(self) -> tuple[str, ...]:
        return INPUT_ROLES[self.role]

    @property
    def output_roles(self) -> tuple[str, ...]:
        return OUTPUT_ROLES[self.role]

    def input_shape(self, role: str) -> list[int]:
        return [1, self.resolution, self.resolution, 3] if role == "frame" else [1, self.hidden]

    def input_dtype(self, role: str) -> str:
        return "uint8" if role == "frame" else "float32"

    def output_shape(self, role: str) -> list[int]:
        return {"action_logits": [1, self.num_actions], "class_logits": [1, self.num_classes],
                "h": [1, self.hidden], "c": [1, self.hidden]}[role]

    def input_layout(self, role: str) -> str:
        return "NHWC" if role == "frame" else "NC"

    def device_module(self) -> nn.Module:
        """The module every format exports (built once: it may hold a copy of the weights)."""
        if self._device is None:
            self._device = DeviceModule(self.module).eval()
        return self._device

    def example_inputs(self, seed: int = 0) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(seed)
        s = self.resolution
        frame = torch.randint(0, 256, (1, s, s, 3), dtype=torch.uint8, generator=g)
        if self.role == "policy":
            h = torch.randn(1, self.hidden, generator=g) * 0.1
            c = torch.randn(1, self.hidden, generator=g) * 0.1
            return frame, h, c
        return (frame,)

    def as_args(self, sample: dict[str, np.ndarray]) -> tuple[torch.Tensor, ...]:
        return tuple(torch.from_numpy(np.ascontiguousarray(sample[r])) for r in self.input_roles)

    @torch.no_grad()
    def reference(self, sample: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """PyTorch outputs by role for one role-keyed input sample (the device contract)."""
        out = self.device_module()(*self.as_args(sample))
        if not isinstance(out, (tuple, list)):
            out = (out,)
        return {r: o.detach().float().numpy() for r, o in zip(self.output_roles, out)}


def module_specs(model: nn.Module) -> list[ModuleSpec]:
    """The export list of an AR-Net model: ``policy`` first, then ``backbone_<s>`` high to low."""
    cfg = model.cfg
    mods = model.export_modules()
    skips = tuple(int(f) for f in cfg.skip_lengths)
    specs = []
    for mid, mod in mods.items():
        mod.eval()
        if mid == "policy":
            specs.append(ModuleSpec("policy", "policy", int(cfg.resolutions[-1]), mod, int(cfg.hidden),
                                    int(cfg.num_classes), int(cfg.num_actions), skips))
        elif mid.startswith("backbone_"):
            specs.append(ModuleSpec(mid, "backbone", int(mid.split("_", 1)[1]), mod, int(cfg.hidden),
                                    int(cfg.num_classes), int(cfg.num_actions), skips))
        else:
            raise ValueError(f"export_modules() returned an unknown module id {mid!r} "
                             f"(expected 'policy' or 'backbone_<size>')")
    specs.sort(key=lambda s: (s.role != "policy", -s.resolution))
    return specs
