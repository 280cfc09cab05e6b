"""DeviceModule: where the normalisation runs, and that it never changes a value."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from convert.modules import DeviceModule, module_specs
from convert.tiny import tiny_model
from train.backbones.registry import Backbone, BackboneSpec


def _nchw(frame: torch.Tensor) -> torch.Tensor:
    return frame.permute(0, 3, 1, 2).to(torch.float32)


@pytest.mark.parametrize("seed", [0, 1])
def test_uniform_normalisation_runs_on_the_nhwc_frame_with_identical_outputs(seed):
    for spec in module_specs(tiny_model(0)):
        dm = spec.device_module()
        assert dm.norm == pytest.approx((1 / 127.5, -1.0))
        # the export copy skips its backbones' own normalisation; the training model keeps it
        assert all(not m.normalize_input for m in dm.inner.modules() if isinstance(m, Backbone))
        assert all(m.normalize_input for m in spec.module.modules() if isinstance(m, Backbone))
        args = spec.example_inputs(seed)
        with torch.no_grad():
            ref = spec.module(_nchw(args[0]), *args[1:])
            got = dm(*args)
        ref, got = (ref, got) if isinstance(ref, tuple) else ((ref,), (got,))
        for r, g in zip(ref, got):
            assert torch.equal(r, g), spec.id
        assert spec.device_module() is dm  # built once per spec


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)

    def forward(self, x):
        return self.conv(x).mean((2, 3))


def _backbone(mean, std) -> Backbone:
    torch.manual_seed(0)
    return Backbone(BackboneSpec("t", "test", lambda **k: None, 4, mean, std, 32), _Net()).eval()


def test_per_channel_normalisation_stays_inside_on_nchw():
    bb = _backbone((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert bb.uniform_normalization() is None
    dm = DeviceModule(bb).eval()
    assert dm.norm is None and dm.inner is bb and bb.normalize_input
    frame = torch.randint(0, 256, (1, 32, 32, 3), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.equal(dm(frame), bb(_nchw(frame)))


def test_mixed_normalisations_keep_the_inner_path():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = _backbone((0.5,) * 3, (0.5,) * 3)
            self.b = _backbone((0.4,) * 3, (0.2,) * 3)

        def forward(self, x):
            return self.a(x) + self.b(x)

    two = Two().eval()
    assert two.a.uniform_normalization() != two.b.uniform_normalization()
    dm = DeviceModule(two).eval()
    assert dm.norm is None and dm.inner is two
