"""Budget controller (docs/STREAMING.md "Budget"): exact arithmetic, and a simulated plant whose
frame rate depends on the chosen actions' costs. Deterministic, torch-free, < 1 s."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_runtime.budget import BudgetController, FpsMeter, normalised_costs
from edge_runtime.manifest import Manifest
from edge_runtime.profile import PROFILE_NAME

POLICY, BRANCH = 0.2, [1.1, 0.6, 0.3, 0.0, 0.0, 0.0, 0.0]


def arnet_manifest(policy_step=POLICY, actions=tuple(BRANCH), root=None):
    res, skips = [224, 168, 112, 84], [1, 2, 4]
    acts = [{"kind": "resolution", "size": s, "backbone": f"backbone_{s}" if s != 84 else "policy"}
            for s in res] + [{"kind": "skip", "frames": f} for f in skips]
    m = Manifest.from_dict({
        "schema": 1, "name": "toy", "labels": ["a", "b"], "resolutions": res, "skip_lengths": skips,
        "actions": acts, "normalization": {"mean": [0.5] * 3, "std": [0.5] * 3, "folded": True},
        "policy": {"resolution": 84, "hidden": 8}, "sampling": {"frames_per_clip": 8, "seconds_per_step": 0.25},
        "costs": {"policy_step": policy_step, "actions": list(actions), "uniform_per_frame": 1.1},
        "artifacts": []})
    m.root = root
    return m


# ----------------------------------------------------------------------- the spec's maths
def test_normalised_costs_amortise_skips():
    b = normalised_costs(arnet_manifest())
    cost = np.array([1.3, 0.8, 0.5, 0.2, 0.2 / 1, 0.2 / 2, 0.2 / 4])
    assert b.dtype == np.float64
    np.testing.assert_allclose(b, cost / 1.3, rtol=0, atol=1e-15)
    ms = [30.0, 18.0, 9.0, 3.0, 3.0, 3.0, 3.0]  # measured ms per decision step
    np.testing.assert_allclose(normalised_costs(arnet_manifest(), ms),
                               np.array([30, 18, 9, 3, 3, 1.5, 0.75]) / 30.0)
    assert not normalised_costs(arnet_manifest(0.0, [0.0] * 7)).any()
    with pytest.raises(ValueError, match="7 values"):
        normalised_costs(arnet_manifest(), [1.0, 2.0])
    with pytest.raises(ValueError):
        normalised_costs(arnet_manifest(), [1.0] * 6 + [-1.0])


def test_update_every_and_integral_step_exact():
    c = BudgetController(arnet_manifest(), target_fps=20.0)
    assert c.active and c.lam == 0.0 and not c.bias().any()
    for _ in range(7):
        assert c.update(measured_fps=10.0) == 0.0  # only every 8th call acts
    assert c.update(measured_fps=10.0) == pytest.approx(2.0 * (20 - 10) / 20)  # 1.0
    for _ in range(8):
        c.update(measured_fps=25.0)
    assert c.lam == pytest.approx(1.0 + 2.0 * (20 - 25) / 20)  # 0.5
    for _ in range(16):
        c.update(measured_fps=40.0)
    assert c.lam == 0.0  # clamped at 0 (0.5 - 1.0 - 1.0)
    c2 = BudgetController(arnet_manifest(), target_fps=20.0, k=5.0, lambda_max=3.0, update_every=1)
    assert c2.update(measured_fps=1.0) == 3.0  # clamped at lambda_max
    np.testing.assert_allclose(c2.bias(), 3.0 * normalised_costs(arnet_manifest()))


def test_power_target_and_both_targets():
    c = BudgetController(arnet_manifest(), target_mw=5000.0, update_every=1)
    assert c.update(measured_mw=6000.0) == pytest.approx(2.0 * 0.2)
    assert c.update(measured_mw=None) == pytest.approx(0.4)  # nothing measured: unchanged
    assert c.update(measured_fps=3.0) == pytest.approx(0.4)  # no fps target: ignored
    both = BudgetController(arnet_manifest(), target_fps=10.0, target_mw=5000.0, update_every=1)
    # fps fine (e = -0.5), power over by 10 % (e = 0.1): the tighter constraint wins
    assert both.update(measured_fps=15.0, measured_mw=5500.0) == pytest.approx(0.2)
    assert both.error(measured_fps=5.0) == pytest.approx(0.5)
    assert both.state()["lambda"] == pytest.approx(0.2)
    idle = BudgetController(arnet_manifest(), update_every=1)
    assert not idle.active and idle.update(measured_fps=1.0, measured_mw=1e9) == 0.0
    with pytest.raises(ValueError):
        BudgetController(arnet_manifest(), target_fps=0.0)
    with pytest.raises(ValueError):
        BudgetController(arnet_manifest(), update_every=0)


def test_bias_shifts_argmax_to_cheaper_actions():
    c = BudgetController(arnet_manifest(), target_fps=30.0, update_every=1)
    logits = np.array([2.0, 1.8, 1.5, 1.0, 0.2, 0.1, 0.0], dtype=np.float32)
    assert c.choose(logits) == 0
    picks = []
    for lam in (0.0, 0.5, 1.0, 2.0, 4.0, 20.0):
        c.lam = lam
        picks.append(c.choose(logits))
        assert c.apply(logits).dtype == np.float64
    costs = normalised_costs(arnet_manifest())
    assert picks[0] == 0 and picks[-1] == 6
    assert all(costs[b] <= costs[a] for a, b in zip(picks, picks[1:]))  # never more expensive
    c.lam = 0.0
    assert c.choose([1.0, 1.0, 0, 0, 0, 0, 0]) == 0  # ties: lowest index
    with pytest.raises(ValueError):
        c.apply([1.0, 2.0])


# ----------------------------------------------------------------------- simulated plant
MS_PER_GMAC, FRAME_OVERHEAD_MS = 20.0, 1.0
BASE_LOGITS = np.array([2.0, 1.0, 0.5, 0.0, -0.5, -1.0, -1.5])


def simulate(ctl, frames, seed=0, target_schedule=None):
    """Stream ``frames`` sampled frames through a plant: a decision step taking ``a`` costs
    ``MS_PER_GMAC · cost_a`` ms plus a fixed overhead, a skipped frame only the overhead; the
    policy's logits are noisy around ``BASE_LOGITS`` (favouring the biggest backbone). The
    runtime measures fps with an ``FpsMeter`` (last 32 frames) and calls ``update`` every frame.
    Returns (ms per frame, measured fps at the controller's updates, λ per frame, actions)."""
    m = ctl.manifest
    rng = np.random.default_rng(seed)
    L = m.num_resolutions
    meter = FpsMeter(window=32)
    skip_remaining = 0
    ms_trace, measured, lams, actions = [], [], [], []
    for t in range(frames):
        if target_schedule:
            ctl.target_fps = target_schedule(t)
        if skip_remaining > 0:
            skip_remaining -= 1
            ms = FRAME_OVERHEAD_MS
        else:
            a = ctl.choose(BASE_LOGITS + rng.standard_normal(len(BASE_LOGITS)))
            actions.append(a)
            if a >= L:
                skip_remaining = m.skip_lengths[a - L] - 1
            ms = FRAME_OVERHEAD_MS + MS_PER_GMAC * m.action_cost(a)
        meter.add_ms(ms)
        ms_trace.append(ms)
        if (t + 1) % ctl.update_every == 0:
            measured.append(meter.fps)
        lams.append(ctl.update(measured_fps=meter.fps))
    return np.array(ms_trace), np.array(measured), np.array(lams), actions


def real_fps(ms_trace):
    return 1000.0 * len(ms_trace) / float(np.sum(ms_trace))


def test_plant_converges_to_feasible_target():
    base_ms, _, base_lams, _ = simulate(BudgetController(arnet_manifest()), 6000)
    base = real_fps(base_ms[-3000:])
    assert 40.0 < base < 50.0 and not base_lams.any()
    target = 1.5 * base
    ctl = BudgetController(arnet_manifest(), target_fps=target)
    ms, measured, lams, _ = simulate(ctl, 6000)
    # the integral drives what the controller sees onto the target ...
    assert measured[-375:].mean() == pytest.approx(target, rel=0.02)
    # ... and the real frame rate (frames / time) follows within 5 %
    assert real_fps(ms[-3000:]) == pytest.approx(target, rel=0.05)
    assert 0.0 < lams[-3000:].mean() < ctl.lambda_max  # inside the clamp, not saturated
    # deterministic: the same run gives the same lambda trace bit for bit
    _, _, lams2, _ = simulate(BudgetController(arnet_manifest(), target_fps=target), 6000)
    assert np.array_equal(lams, lams2)


def test_lambda_returns_to_zero_with_headroom():
    ctl = BudgetController(arnet_manifest(), target_fps=80.0)
    # a demanding target for 3000 frames, then a relaxed one the free-running policy meets
    _, _, lams, actions = simulate(ctl, 5000, target_schedule=lambda t: 80.0 if t < 3000 else 10.0)
    assert lams[2999] > 0.5
    assert (lams[-1000:] == 0.0).all()
    assert actions[-100:].count(0) > 30  # the big backbone is back


def test_lambda_saturates_when_infeasible():
    ctl = BudgetController(arnet_manifest(), target_fps=5000.0)  # faster than any action allows
    ms, _, lams, actions = simulate(ctl, 1000)
    assert (lams[-500:] == ctl.lambda_max).all()
    late = actions[-100:]
    # saturated: only the cheapest branches (lowest resolution, skips) are ever chosen
    assert all(a >= 3 for a in late) and late.count(6) > 20


def test_fps_meter():
    f = FpsMeter(window=4)
    assert f.fps is None
    for ms in (10.0, 10.0, 30.0):
        f.add_ms(ms)
    assert f.fps == pytest.approx(3000.0 / 50.0)
    for ms in (20.0, 20.0, 20.0, 20.0):
        f.add_ms(ms)
    assert f.fps == pytest.approx(50.0)
    g = FpsMeter(window=3)
    for t in (0.0, 0.1, 0.2, 0.4):  # timestamps in seconds: the last 3 intervals
        g.tick(t)
    assert g.fps == pytest.approx(3 / 0.4)
    with pytest.raises(ValueError):
        FpsMeter(window=0)


# ----------------------------------------------------------------------- measured costs
def test_for_model_uses_profile_json_when_present(tmp_path):
    m = arnet_manifest(root=tmp_path)
    assert BudgetController.for_model(m).cost_source == "gmacs"
    entry = {"backend": "litert", "precision": "fp32", "created": "2026-01-01T00:00:00Z",
             "actions": ["res224", "res168", "res112", "res84", "skip1", "skip2", "skip4"],
             "ms_per_decision": [40.0, 20.0, 10.0, 4.0, 4.0, 4.0, 4.0],
             "ms_per_action": [40.0, 20.0, 10.0, 4.0, 4.0, 2.0, 1.0], "artifacts_sha256": {}}
    (tmp_path / PROFILE_NAME).write_text(json.dumps({"schema": 1, "model": "toy", "entries": [entry]}))
    c = BudgetController.for_model(m, target_fps=25.0)
    assert c.cost_source == "measured" and c.target_fps == 25.0
    np.testing.assert_allclose(c.normalised_costs(), np.array([40, 20, 10, 4, 4, 2, 1]) / 40.0)
    assert BudgetController.for_model(m, precision="int8").cost_source == "gmacs"  # no such entry
    assert BudgetController.for_model(m, use_profile=False).cost_source == "gmacs"
    explicit = BudgetController.for_model(m, costs=[1.0] * 7)
    np.testing.assert_allclose(explicit.normalised_costs(), [1, 1, 1, 1, 1, 0.5, 0.25])
