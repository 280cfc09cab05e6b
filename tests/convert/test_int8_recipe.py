"""int8 recipe pieces that need no export: activation range rules, GPTQ rounding, the checks
that mark artifacts failed, and the refusal of too little calibration data."""

from __future__ import annotations

import numpy as np
import pytest

from convert import calibration as C
from convert import validate as V
from convert.weight_rounding import LayerStats, _patches, gptq


def _hist(values: np.ndarray) -> C.Histogram:
    h = C.Histogram(float(values.min()), float(values.max()))
    h.add(values)
    return h


def test_range_rules_cut_outliers_and_keep_zero():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0.0, 1.0, 200_000), [60.0, -45.0]])      # two outliers
    h = _hist(x)
    assert C.tensor_range(h, "minmax") == (h.lo, h.hi)
    for m in ("percentile", "entropy"):
        lo, hi = C.tensor_range(h, m)
        assert lo <= 0.0 <= hi
        assert 2.0 < hi < 20.0 and -20.0 < lo < -2.0, (m, lo, hi)         # outliers cut, bulk kept
    pos = _hist(np.abs(rng.normal(0, 1, 10_000)) + 1.0)                      # never 0: range still has it
    assert C.tensor_range(pos, "mse")[0] == 0.0


def test_mse_rule_minimises_the_histogram_error():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.laplace(0.0, 0.3, 1_000_000), np.full(3, 6.0)])     # rare far values
    h = _hist(x)
    lo, hi = C.tensor_range(h, "mse")
    assert hi < 6.0 and C._mse(h, lo, hi) < 0.8 * C._mse(h, h.lo, h.hi)
    for other in ("minmax", "percentile"):
        assert C._mse(h, lo, hi) <= C._mse(h, *C.tensor_range(h, other)) * 1.0001


def test_exact_ranges_are_kept_and_unknown_methods_name_the_choices():
    h = _hist(np.concatenate([np.zeros(10), np.full(10, 255.0), np.arange(256.0)]))
    assert C.choose_ranges({3: h}, "mse") == {}                              # the cast frame: exact
    with pytest.raises(C.CalibrationError, match="valid choices: minmax, percentile, mse, entropy"):
        C.check_method("kl")
    with pytest.raises(C.CalibrationError, match="weight rounding 'adaround'.*gptq, nearest"):
        C.Int8Options(weight_rounding="adaround")


def test_gptq_beats_round_to_nearest_on_correlated_inputs():
    rng = np.random.default_rng(2)
    d, o, n = 48, 16, 4000
    mix = rng.normal(size=(d, d)) * 0.3 + np.eye(d)
    x = rng.normal(size=(n, d)) @ mix + 0.5                                  # correlated, non-zero mean
    w = rng.normal(size=(o, d)) * np.linspace(0.2, 3.0, d)
    scale = np.abs(w).max(1) / 127
    h = x.T @ x / n
    q_rtn = np.clip(np.round(w / scale[:, None]), -127, 127)
    q = gptq(w, h, scale)
    assert q.dtype.kind == "i" and np.abs(q).max() <= 127
    err = lambda qq: np.linalg.norm(x @ (w - qq * scale[:, None]).T)       # noqa: E731
    assert err(q) < 0.7 * err(q_rtn)
    assert np.abs(q - w / scale[:, None]).max() < 127                      # still on the same grid


def test_layer_statistics_match_brute_force_windows():
    rng = np.random.default_rng(3)
    x = rng.random((2, 6, 7, 4), dtype=np.float32)
    st = LayerStats("DEPTHWISE_CONV_2D", (3, 3), (1, 1))
    st.add(x)
    p = _patches(x, "DEPTHWISE_CONV_2D", (3, 3), (1, 1))                    # k, M, C
    for c in range(4):
        v = p[:, :, c].astype(np.float64)
        np.testing.assert_allclose(st.hsum[c], v @ v.T, rtol=1e-5)
    cols = _patches(x, "CONV_2D", (3, 3), (2, 2))
    xp = np.pad(x, ((0, 0), (1, 3), (1, 3), (0, 0)))
    np.testing.assert_allclose(cols[1].reshape(3, 3, 4), xp[0, 0:3, 2:5, :])
    assert cols.shape == (2 * 3 * 4, 36)


def test_logit_agreement_counts_sure_frames_only_where_fp32_is_sure():
    ref = np.array([[5.0, 0.0, 0.0], [0.1, 0.0, 0.05], [0.0, 4.0, 0.0], [0.2, 0.21, 0.0]])
    got = np.array([[4.0, 0.5, 0.0], [0.0, 0.1, 0.0], [0.0, 3.0, 0.1], [0.3, 0.1, 0.0]])
    m = V.logit_agreement(got, ref)
    assert m["top1_agree"] == 0.5 and m["top1_agree_sure"] == 1.0 and m["sure_share"] == 0.5
    assert m["kl"] > 0 and 0 < m["rel_err"] < 1


def _validation(agree_sure=0.99, sure=200, top1=90.0, actions=0.95, gmacs=1.0):
    return {
        "formats": {"tflite-int8": {"backend": "litert", "precision": "int8", "status": "ok"},
                    "tflite-fp32": {"backend": "litert", "precision": "fp32", "status": "ok"}},
        "artifacts": {
            "tflite-int8/backbone_96": {"precision": "int8", "top1_agree_sure": agree_sure, "sure_frames": sure},
            "tflite-int8/policy": {"precision": "int8", "top1_agree_sure": 1.0, "sure_frames": 3,
                                   "action_top1_agree_sure": 0.99, "action_sure_frames": 300},
            "tflite-fp32/backbone_96": {"precision": "fp32", "max_rel_logit_err": 1e-6}},
        "pytorch": {"top1": 90.0},
        "pipelines": {"litert/int8": {"top1": top1, "action_agreement": actions, "gmacs_per_frame": gmacs,
                                      "gmacs_per_frame_torch": 1.0, "labelled_clips": 128},
                      "litert/fp32": {"top1": 90.0, "action_agreement": 1.0, "gmacs_per_frame": 1.0,
                                      "gmacs_per_frame_torch": 1.0}},
        "notes": []}


class _Art:
    def __init__(self, id, precision):
        self.id, self.precision, self.backend, self.format = id, precision, "litert", "tflite"
        self.file = f"{id}_{precision}.tflite"
        self.validation = None


class _Man:
    def __init__(self):
        self.artifacts = [_Art(i, p) for p in ("int8", "fp32") for i in ("policy", "backbone_96")]


def test_checks_pass_and_mark_every_artifact_passed():
    val = _validation()
    val["checks"] = V.check_targets(val)
    assert all(c["ok"] for c in val["checks"])
    assert any("not checked: 3 frames" in n for n in val["notes"])        # too few sure frames: noted
    man = _Man()
    assert V.mark_artifacts(man, val) == []
    assert {a.validation["status"] for a in man.artifacts} == {"passed"}
    assert val["pipelines"]["litert/int8"]["passed"] is True


@pytest.mark.parametrize("kw,what", [
    ({"agree_sure": 0.95}, "backbone_96 class top-1 agreement where fp32 is sure"),
    ({"top1": 88.0}, "top-1 drop"),
    ({"actions": 0.85}, "actions equal"),
    ({"gmacs": 1.08}, "GMACs/frame over PyTorch's")])
def test_a_missed_target_marks_its_artifacts_failed(kw, what):
    val = _validation(**kw)
    val["checks"] = V.check_targets(val)
    missed = [c for c in val["checks"] if not c["ok"]]
    assert len(missed) == 1 and what in missed[0]["what"]
    man = _Man()
    failed = V.mark_artifacts(man, val)
    if kw.get("agree_sure"):
        assert failed == ["backbone_96_int8.tflite"]                          # that network only
    else:
        assert sorted(failed) == ["backbone_96_int8.tflite", "policy_int8.tflite"]   # the pipeline's
        assert val["pipelines"]["litert/int8"]["passed"] is False
    fp32 = [a for a in man.artifacts if a.precision == "fp32"]
    assert all(a.validation["status"] == "passed" for a in fp32)
    bad = next(a for a in man.artifacts if a.file == failed[0])
    assert bad.validation["missed"] and "target" in bad.validation["missed"][0]


def test_the_drop_target_is_one_clip_where_fewer_than_100_clips_cannot_tell_a_point():
    assert V.drop_allowed(128) == (1.0, "<= 1.0")
    allowed, text = V.drop_allowed(60)
    assert abs(allowed - 100 / 60) < 1e-9 and "one clip of 60" in text
    val = _validation(top1=90.0 - 100 / 60)
    val["pipelines"]["litert/int8"]["labelled_clips"] = 60
    assert all(c["ok"] for c in V.check_targets(val))                         # one clip of 60: allowed
    val = _validation(top1=90.0 - 200 / 60)
    val["pipelines"]["litert/int8"]["labelled_clips"] = 60
    assert [c["ok"] for c in V.check_targets(val) if "drop" in c["what"]] == [False]   # two clips: not


def test_executorch_quantizer_observes_relu6_after_the_clamp_and_leaves_first_layers_float():
    """conv + BN + ReLU6: the int8 observer sits after the clamp ([0, 6], not the conv's wide
    range), and float_layers=1 leaves the first conv (and its clamp) unobserved."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("executorch")
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

    from convert.formats.executorch import _quantizer

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.b1 = torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8)
            self.c2, self.b2 = torch.nn.Conv2d(8, 8, 1), torch.nn.BatchNorm2d(8)

        def forward(self, x):
            x = torch.nn.functional.relu6(self.b1(self.c1(x)))             # aten.relu6
            return torch.nn.functional.hardtanh(self.b2(self.c2(x)), 0.0, 6.0, inplace=True)  # hardtanh_

    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8) * 20                    # pre-activation ranges far beyond [0, 6]

    def observed(float_layers):
        m = prepare_pt2e(torch.export.export(Net().eval(), (x,)).module(), _quantizer(float_layers))
        m(x)
        out = {}
        for n in m.graph.nodes:
            if n.op == "call_module" and "activation_post_process" in n.target:
                obs = getattr(m, n.target)
                src = n.args[0]
                if getattr(src, "op", "") == "call_function" and getattr(obs, "min_val", torch.zeros(2)).numel() == 1:
                    out.setdefault(str(src.target).split(".")[-2], []).append((float(obs.min_val), float(obs.max_val)))
                elif getattr(src, "op", "") == "get_attr" and getattr(obs, "ch_axis", None) is not None:
                    out.setdefault("weights", []).append(src.target)
        return out

    obs = observed(0)
    assert "conv2d" not in obs                                          # no observer on a conv's output
    clamps = obs.get("relu6", []) + obs.get("hardtanh_", [])
    assert len(clamps) == 2 and all(0.0 <= lo and hi <= 6.0 for lo, hi in clamps), obs
    assert len(obs["weights"]) == 2
    obs = observed(1)
    # the first conv stays float: its weights unobserved; its clamp's output is the int8 input of the next
    assert len(obs["weights"]) == 1 and "conv2d" not in obs, obs


def test_executorch_gptq_keeps_the_observer_grid_and_cuts_the_output_error():
    """PT2E GPTQ (convert.pt2e_rounding): convert_pt2e stores exactly the chosen integers on the
    weight observers' unchanged per-channel scales, and the int8 net follows fp32 more closely
    than round to nearest on inputs whose windows cancel (correlated, non-zero mean)."""
    import copy

    torch = pytest.importorskip("torch")
    pytest.importorskip("executorch")
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from convert.formats.executorch import _quantizer
    from convert.pt2e_rounding import _target, gptq_depthwise, round_prepared

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = torch.nn.Conv2d(3, 16, 3, padding=1)
            self.dw = torch.nn.Conv2d(16, 16, 3, padding=1, groups=16)
            self.pw = torch.nn.Conv2d(16, 24, 1)
            self.fc = torch.nn.Linear(24, 5)

        def forward(self, x):
            x = torch.nn.functional.relu6(self.c1(x))
            x = self.pw(torch.nn.functional.relu6(self.dw(x)))
            return self.fc(x.mean((2, 3)))

    torch.manual_seed(0)
    net = Net().eval()
    base = torch.rand(1, 3, 12, 12)
    xs = [(base + 0.05 * torch.randn(4, 3, 12, 12),) for _ in range(12)]    # flat-ish frames
    ref = [net(*x) for x in xs]

    def prepared(model):
        m = prepare_pt2e(torch.export.export(model, xs[0]).module(), _quantizer(0))
        for x in xs:
            m(*x)
        weights = {n.args[0].target: getattr(m, n.target) for n in m.graph.nodes
                   if n.op == "call_module" and n.args[0].op == "get_attr"
                   and getattr(getattr(m, n.target), "ch_axis", None) == 0}
        return m, {k: (_target(m, k), obs.calculate_qparams()[0].clone()) for k, obs in weights.items()}

    def weight_error(m):        # observers pass values through: this is the weights' rounding alone
        with torch.no_grad():
            return sum(float((m(*x) - r).norm() / r.norm()) for x, r in zip(xs, ref)) / len(xs)

    m, weights = prepared(copy.deepcopy(net))
    with torch.no_grad():                        # round to nearest on the same grid
        for w, s in weights.values():
            sc = s.reshape(-1, *([1] * (w.dim() - 1))).to(w.dtype)
            w.copy_(torch.clamp(torch.round(w / sc), -127, 127) * sc)
    err_rtn = weight_error(m)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    m, weights = prepared(net)
    info = round_prepared(m, xs)
    # the exported graph shares tensors with the model it came from: that model stays float
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    assert info["layers"] == info["of"] == 4 and not info["skipped"]
    for k, (_, s) in weights.items():            # the new weights sit on the observers' unchanged grid
        w = _target(m, k)
        assert torch.equal(getattr(m, next(n.target for n in m.graph.nodes if n.op == "call_module"
                                           and n.args[0].op == "get_attr" and n.args[0].target == k)
                                   ).calculate_qparams()[0], s)
        v = w.detach().reshape(s.numel(), -1).double() / s.double().reshape(-1, 1)
        assert torch.allclose(v, v.round(), atol=1e-4) and float(v.abs().max()) <= 127 + 1e-4
    err = weight_error(m)
    assert err < 0.8 * err_rtn, (err, err_rtn)
    q = convert_pt2e(m)                          # and it converts to a working int8 graph
    assert q(*xs[0]).shape == ref[0].shape
    # the batched depthwise solver equals the one-row solver channel by channel
    rng = np.random.default_rng(4)
    w = rng.normal(size=(6, 9))
    xw = rng.normal(size=(6, 200, 9)) + 0.5
    h = np.einsum("cmk,cml->ckl", xw, xw) / 200
    s = np.abs(w).max(1) / 127
    one = np.stack([gptq(w[c:c + 1], h[c], s[c:c + 1], act_order=False)[0] for c in range(6)])
    np.testing.assert_array_equal(gptq_depthwise(w, h, s), one)
