"""AdaptivePipeline with scripted and fake engines: calls, events, modes, clips, budget, power."""

from __future__ import annotations

import numpy as np
import pytest
from edge_helpers import ScriptedBackbone, ScriptedPolicy, dummy_artifact_model, steady_power

from edge_runtime.backends.fake import fake_manifest
from edge_runtime.manifest import ManifestError
from edge_runtime.pipeline import AdaptivePipeline, FixedLambda, ensure_rgb_uint8, softmax64

# fake_manifest(): resolutions 64/48/32/24, skips 1/2/4, 5 classes, hidden 32, window 8
A = 7


def act(a):
    x = np.full(A, -1.0, np.float32)
    x[a] = 2.0
    return x


def cls(i, v=2.0):
    x = np.zeros(5, np.float32)
    x[i] = v
    return x


def scripted(actions, low=None, bb=None, **kw):
    m = fake_manifest()
    low = low or (lambda k: cls(k % 5, 1.0))
    pol = ScriptedPolicy([(act(a), low(k)) for k, a in enumerate(actions)], hidden=32, size=24)
    bbs = {f"backbone_{s}": ScriptedBackbone(bb or (lambda k, s=s: cls((k + s) % 5)), s) for s in (64, 48, 32)}
    p = AdaptivePipeline(m, backend="fake", backends={"policy": pol, **bbs}, **kw)
    return p, pol, bbs


FRAME = np.random.default_rng(0).integers(0, 256, (72, 96, 3), dtype=np.uint8)


def test_decision_and_skipped_steps_call_the_right_models():
    p, pol, bbs = scripted([0, 5, 1, 3, 6, 2])
    evs = []
    for _ in range(11):
        evs.append(p.step(FRAME if p.needs_frame() else None))
    kinds = [(e.kind, e.action_name) for e in evs]
    assert kinds == [("resolution", "res64"), ("skip", "skip2"), ("skipped", "skip2"),
                     ("resolution", "res48"), ("resolution", "res24"), ("skip", "skip4"),
                     ("skipped", "skip4"), ("skipped", "skip4"), ("skipped", "skip4"),
                     ("resolution", "res32"), ("resolution", "res64")]
    assert pol.calls == 7 and pol.seen_sizes == [24] * 7
    assert bbs["backbone_64"].seen_sizes == [64, 64] and bbs["backbone_48"].calls == 1
    assert bbs["backbone_32"].calls == 1
    # the LSTM state is carried across decisions and not touched by skipped frames
    assert [float(h[0, 0]) for h in pol.seen_h] == [0, 1, 2, 3, 4, 5, 6]
    m = p.manifest
    assert evs[0].gmacs == pytest.approx(m.costs["policy_step"] + m.costs["actions"][0])
    assert evs[2].gmacs == 0.0 and evs[4].gmacs == pytest.approx(m.costs["policy_step"])
    assert evs[1].skip == 2 and evs[2].skip == 2 and evs[0].resolution == 64 and evs[4].resolution == 24
    assert evs[2].t == pytest.approx(0.5) and [e.step for e in evs] == list(range(11))
    assert set(evs[0].ms) == {"resize", "policy", "backbone", "step"}
    assert "policy" not in evs[2].ms
    d = evs[0].to_dict()
    assert d["kind"] == "resolution" and d["resolution"] == 64 and len(d["top_k"]) == 3
    assert d["label"] == d["top_k"][0][0]


@pytest.mark.parametrize("rule", ["area", "pyramid", None])
def test_frames_are_resized_by_the_manifests_rule(rule):
    from edge_runtime.preprocess import preprocess
    m = fake_manifest()
    if rule is None:
        m.normalization.pop("resize", None)          # manifests from before the field: area
    else:
        m.normalization["resize"] = rule
    pol = ScriptedPolicy([(act(0), cls(0))], hidden=32, size=24)
    bb = ScriptedBackbone(lambda k: cls(1), 64)
    p = AdaptivePipeline(m, backend="fake", backends={"policy": pol, "backbone_64": bb,
                         "backbone_48": ScriptedBackbone(lambda k: cls(1), 48),
                         "backbone_32": ScriptedBackbone(lambda k: cls(1), 32)})
    big = np.random.default_rng(1).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    p.step(big)
    want = preprocess(big, 24, rule or "area")
    assert p.resize == (rule or "area")
    assert np.array_equal(pol.last_frame[0], want)
    other = preprocess(big, 24, "area" if rule == "pyramid" else "pyramid")
    assert not np.array_equal(want, other)          # the rules really differ on this frame


def test_a_decision_step_needs_a_frame_and_frames_are_checked():
    p, _, _ = scripted([3])
    with pytest.raises(ValueError, match="needs a frame"):
        p.step(None)
    with pytest.raises(ValueError, match="uint8"):
        p.step(FRAME.astype(np.float32))
    p.step(FRAME[:, :, 0])                                      # grayscale
    p.step(np.concatenate([FRAME, FRAME[:, :, :1]], axis=2))    # RGBA
    with pytest.raises(ValueError, match="channels"):
        p.step(np.zeros((10, 10, 2), np.uint8))
    assert ensure_rgb_uint8(np.zeros((4, 4, 1), np.uint8)).shape == (4, 4, 3)


def test_predict_clip_equals_the_mean_of_processed_logits():
    p, pol, bbs = scripted([0, 3, 5, 2, 6, 1])
    frames = [FRAME] * 12
    probs, evs = p.predict_clip(frames)
    # replay the script by hand: collect the class logits of processed frames
    expect = []
    k_pol = 0
    counters = {64: 0, 48: 0, 32: 0}
    sizes = [64, 48, 32]
    for e in evs:
        if e.kind == "skipped":
            continue
        low = cls((k_pol % 6) % 5, 1.0)    # the 6-entry script cycles
        k_pol += 1
        if e.kind == "resolution":
            if e.action == 3:
                expect.append(low)
            else:
                s = sizes[e.action]
                expect.append(cls((counters[s] + s) % 5))
                counters[s] += 1
    want = softmax64(np.mean(np.asarray(expect, np.float64), axis=0))
    np.testing.assert_allclose(probs, want, atol=1e-12)
    assert p.ctrl.window == 8 and p.needs_frame()             # window restored, state cleared


def test_all_skip_clip_falls_back_to_the_policy_class_logits():
    p, pol, bbs = scripted([6, 6], low=lambda k: cls(2, 1.5) if k % 2 else cls(4, 1.0))
    probs, evs = p.predict_clip([FRAME] * 9)
    assert {e.kind for e in evs} == {"skip", "skipped"}
    assert all(e.top_k == [] and e.label is None for e in evs)
    lows = [cls(4, 1.0), cls(2, 1.5), cls(4, 1.0)]             # decisions at t = 0, 4, 8
    np.testing.assert_allclose(probs, softmax64(np.mean(np.asarray(lows, np.float64), 0)), atol=1e-12)


def test_uniform_and_smallest_modes():
    p, pol, bbs = scripted([0, 5, 6], mode="uniform")
    evs = [p.step(FRAME) for _ in range(5)]
    assert pol.calls == 0 and bbs["backbone_64"].calls == 5
    assert all(e.kind == "resolution" and e.resolution == 64 for e in evs)
    assert evs[0].gmacs == pytest.approx(p.manifest.costs["actions"][0])
    p, pol, bbs = scripted([0, 5, 6], mode="smallest")
    evs = [p.step(FRAME) for _ in range(5)]
    assert pol.calls == 5 and sum(b.calls for b in bbs.values()) == 0
    assert all(e.action_name == "res24" for e in evs)
    with pytest.raises(ValueError, match="mode"):
        AdaptivePipeline(fake_manifest(), backend="fake", mode="fastest")


def test_uniform_at_an_intermediate_branch_runs_that_backbone_alone():
    p, pol, bbs = scripted([0, 5, 6], mode="uniform@48")
    evs = [p.step(FRAME) for _ in range(5)]
    assert p.mode == "uniform@48" and p.branch == 1
    assert pol.calls == 0 and bbs["backbone_48"].calls == 5
    assert bbs["backbone_64"].calls == 0 and bbs["backbone_32"].calls == 0
    assert bbs["backbone_48"].seen_sizes == [48] * 5
    assert all(e.kind == "resolution" and e.resolution == 48 and e.action_name == "res48" for e in evs)
    assert evs[0].gmacs == pytest.approx(p.manifest.costs["actions"][1])   # the backbone alone, no policy
    assert set(evs[0].ms) == {"resize", "backbone", "step"}
    s = p.summary()
    assert s["mode"] == "uniform@48" and s["streams"][0]["actions"] == {"res48": 5}
    assert s["gmacs_per_frame"] == pytest.approx(p.manifest.costs["actions"][1])
    np.testing.assert_allclose(p.clip_scores(), softmax64(np.mean([cls((k + 48) % 5) for k in range(5)], 0)),
                               atol=1e-12)                     # the branch's logits, nothing else


def test_mode_names_aliases_and_the_networks_each_mode_loads():
    from edge_runtime.engine import Engines, mode_names, networks_for, resolve_mode
    m = fake_manifest()
    assert mode_names(m) == ["adaptive", "uniform", "uniform@48", "uniform@32", "smallest"]
    assert [resolve_mode(m, x) for x in ("adaptive", "uniform", "uniform@64", "uniform@48", "uniform@32",
                                         "uniform@24", "smallest")] == \
        [("adaptive", None), ("uniform", 0), ("uniform", 0), ("uniform@48", 1), ("uniform@32", 2),
         ("smallest", 3), ("smallest", 3)]
    want = {"adaptive": ["policy", "backbone_64", "backbone_48", "backbone_32"], "uniform": ["backbone_64"],
            "uniform@64": ["backbone_64"], "uniform@48": ["backbone_48"], "uniform@32": ["backbone_32"],
            "uniform@24": ["policy"], "smallest": ["policy"]}
    for mode, nets in want.items():
        assert networks_for(m, mode) == nets, mode
        e = Engines(m, backend="fake", mode=mode)
        assert sorted(e.models) == sorted(nets), mode          # only what the mode runs is loaded
        assert e.mode == resolve_mode(m, mode)[0]
    one = fake_manifest(resolutions=(24,))
    assert mode_names(one) == ["adaptive", "uniform"]
    assert networks_for(one, "uniform") == ["policy"] and resolve_mode(one, "uniform@24") == ("uniform", 0)


@pytest.mark.parametrize("bad", ["uniform@50", "uniform@", "uniform@-48", "Uniform", "fastest", "uniform@48x"])
def test_a_bad_mode_names_itself_and_lists_this_models_modes(bad):
    with pytest.raises(ValueError) as ei:
        AdaptivePipeline(fake_manifest(), backend="fake", mode=bad)
    msg = str(ei.value)
    assert repr(bad) in msg
    assert "['adaptive', 'uniform', 'uniform@48', 'uniform@32', 'smallest']" in msg
    assert "64, 48, 32, 24" in msg                              # the manifest's resolutions


def test_a_mode_needs_the_networks_its_engines_loaded():
    from edge_runtime.engine import Engines, StepEngine
    e = Engines(fake_manifest(), backend="fake", mode="uniform@32")
    assert StepEngine(e).mode == "uniform@32"
    with pytest.raises(ValueError, match=r"mode 'uniform@48' needs networks \['backbone_48'\]"):
        StepEngine(e, mode="uniform@48")
    shared = Engines(fake_manifest(), backend="fake")          # adaptive: every network, any mode runs on it
    for mode in ("uniform", "uniform@48", "uniform@32", "smallest"):
        assert StepEngine(shared, mode=mode).mode == mode


def test_fixed_lambda_biases_towards_cheap_actions():
    p, _, _ = scripted([0] * 4)
    assert p.step(FRAME).action == 0
    p.budget = FixedLambda(p.manifest, 50.0)
    ev = p.step(FRAME)
    assert ev.action == 6 and ev.lam == 50.0                # skip 4 is the cheapest per frame
    with pytest.raises(ValueError):
        FixedLambda(p.manifest, -1.0)


def test_budget_controller_raises_lambda_when_too_slow():
    p, _, _ = scripted([0] * 4, target_fps=1e9)              # unreachable target → over budget
    lams = [p.step(FRAME if p.needs_frame() else None).lam for _ in range(40)]
    assert lams[0] == 0.0 and max(lams) > 0
    assert p.summary()["budget"]["target_fps"] == 1e9


def test_power_monitor_fills_energy_fields():
    p, _, _ = scripted([0, 3], power=steady_power(2000.0, 80.0))
    evs = [p.step(FRAME) for _ in range(5)]
    assert evs[0].power_mw == 2000.0 and evs[0].battery_pct == 80.0
    assert evs[-1].energy_mj == pytest.approx(2000.0 * 0.25 * 4)
    s = p.summary()
    assert s["energy"]["mean_mw"] == pytest.approx(2000.0)
    assert "power_mw" in evs[1].to_dict()


def test_fake_backend_is_deterministic_and_summary_adds_up():
    m = fake_manifest()
    runs = []
    for _ in range(2):
        p = AdaptivePipeline(m, backend="fake", seed=3)
        runs.append([(e.kind, e.action, e.label, tuple(round(s, 12) for _, s in e.top_k))
                     for e in (p.step(np.roll(FRAME, 7 * i, axis=1) if p.needs_frame() else None)
                               for i in range(60))])
    assert runs[0] == runs[1]
    s = p.summary()
    assert sum(s["actions"].values()) == s["steps"] == 60
    assert {"decode", "resize", "policy", "backbone", "step"} >= set(s["latency_ms"])
    assert s["gmacs_per_frame"] <= s["uniform_gmacs_per_frame"] * 1.5
    assert s["ms_per_gmac"]["policy"] > 0


def test_sha256_is_checked_for_the_artifacts_loaded(tmp_path):
    d = dummy_artifact_model(tmp_path / "bad", corrupt="backbone_48")
    with pytest.raises(ManifestError, match="sha256 mismatch"):
        AdaptivePipeline(d, backend="litert")
    d = dummy_artifact_model(tmp_path / "gone", missing="policy")
    with pytest.raises(ManifestError, match="missing"):
        AdaptivePipeline(d, backend="litert")
    with pytest.raises(ManifestError, match="available"):
        AdaptivePipeline(d, backend="onnxruntime")
    with pytest.raises(ManifestError, match="precision"):
        AdaptivePipeline(d, backend="litert", precision="int4")


def test_unknown_backend_lists_choices():
    from edge_runtime.backends import BackendError
    with pytest.raises(BackendError, match="litert, onnxruntime, executorch, torch"):
        AdaptivePipeline(fake_manifest(), backend="tensorrt")
