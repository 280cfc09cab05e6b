"""MultiStreamPipeline: B streams in one set of engines equal B one-stream pipelines."""

from __future__ import annotations

import numpy as np
import pytest
from edge_helpers import steady_power

from edge_runtime.backends.fake import fake_manifest
from edge_runtime.multistream import MultiStreamPipeline, ViewBatcher, default_resize_workers
from edge_runtime.preprocess import SquareViews, center_square
from edge_runtime.pipeline import AdaptivePipeline


def _streams(B: int, T: int, seed: int = 0) -> list[list[np.ndarray]]:
    """B streams of T frames (different sizes per stream: the resize runs per stream)."""
    rng = np.random.default_rng(seed)
    out = []
    for b in range(B):
        h, w = 60 + 7 * b, 80 + 5 * b
        base = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        out.append([np.clip(base.astype(np.int16) + rng.integers(-60, 60, (h, w, 3)), 0, 255).astype(np.uint8)
                    for _ in range(T)])
    return out


def _single(m, frames, mode):
    p = AdaptivePipeline(m, backend="fake", mode=mode)
    evs = [p.step(f if p.needs_frame() else None) for f in frames]
    return evs, p.clip_scores()


def _same(a, b):
    assert (a.kind, a.action, a.resolution, a.skip, a.label, a.gmacs) == \
        (b.kind, b.action, b.resolution, b.skip, b.label, b.gmacs)
    assert [lab for lab, _ in a.top_k] == [lab for lab, _ in b.top_k]
    np.testing.assert_allclose([s for _, s in a.top_k], [s for _, s in b.top_k], rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode,workers", [("adaptive", 1), ("adaptive", 3), ("uniform", 2), ("uniform@32", 2),
                                           ("smallest", 1)])
def test_streams_equal_one_stream_pipelines(mode, workers):
    m = fake_manifest()
    B, T = 4, 30
    data = _streams(B, T)
    ms = MultiStreamPipeline(m, streams=B, backend="fake", mode=mode, resize_workers=workers)
    assert ms.resizer.workers == workers
    ms.resizer.min_pixels = 0   # these small frames would stay on one thread
    got = {i: [] for i in range(B)}
    for t in range(T):
        evs = ms.step({i: data[i][t] if ms.needs_frame(i) else None for i in range(B)})
        assert sorted(evs) == list(range(B))
        for i, e in evs.items():
            got[i].append(e)
    kinds = set()
    for i in range(B):
        ref, ref_scores = _single(m, data[i], mode)
        for a, b in zip(got[i], ref):
            _same(a, b)
            kinds.add(a.kind if a.kind != "resolution" else a.resolution)
        np.testing.assert_allclose(ms.clip_scores(i), ref_scores, rtol=0, atol=1e-12)
    assert (ms.resizer.parallel_calls > 0) == (workers > 1)
    if mode == "adaptive":  # the fake policy mixes branches and skips on these frames
        assert "skip" in kinds and "skipped" in kinds and len(kinds - {"skip", "skipped"}) >= 2, kinds
    # one tick's time is every stream's: all events of a tick carry the same ms
    assert {tuple(e.ms.items()) for e in (got[0][-1], got[1][-1])} == {tuple(got[0][-1].ms.items())}


def test_streams_that_start_and_end_at_different_ticks():
    m = fake_manifest()
    data = _streams(3, 24, seed=1)
    spans = {0: (0, 24), 1: (5, 17), 2: (10, 24)}   # [first tick, end tick)
    ms = MultiStreamPipeline(m, streams=3, backend="fake")
    got = {i: [] for i in spans}
    for t in range(24):
        live = {i: t - s for i, (s, e) in spans.items() if s <= t < e}
        evs = ms.step({i: data[i][k] if ms.needs_frame(i) else None for i, k in live.items()})
        assert sorted(evs) == sorted(live)
        for i, e in evs.items():
            got[i].append(e)
    for i, (s, e) in spans.items():
        ref, _ = _single(m, data[i][: e - s], "adaptive")
        assert len(got[i]) == len(ref)
        for a, b in zip(got[i], ref):
            _same(a, b)
        assert [e.step for e in got[i]] == list(range(e - s))
    ms.clear(1)
    assert ms.needs_frame(1) and ms.clip_scores(1) is None
    assert ms.clip_scores(0) is not None


def test_bad_use_names_the_stream():
    m = fake_manifest()
    ms = MultiStreamPipeline(m, streams=2, backend="fake")
    with pytest.raises(ValueError, match=r"stream 1: this step is a decision step"):
        ms.step({0: np.zeros((40, 40, 3), np.uint8), 1: None})
    with pytest.raises(ValueError, match=r"stream 5 does not exist; streams are 0\.\.1"):
        ms.step({5: np.zeros((40, 40, 3), np.uint8)})
    with pytest.raises(ValueError, match="streams must be >= 1"):
        MultiStreamPipeline(m, streams=0, backend="fake")
    with pytest.raises(ValueError, match="stream 0: frames must be uint8"):
        ms.step({0: np.zeros((40, 40, 3), np.float32)})
    with pytest.raises(ValueError, match=r"stream 1: frames must have 1, 3 or 4 channels"):
        ms.step({0: np.zeros((40, 40, 3), np.uint8), 1: np.zeros((40, 40, 2), np.uint8)})
    assert list(ms.t_index) == [0, 0] and ms.steps == 0     # nothing moved


def test_next_tick_drops_ended_and_failed_sources():
    from edge_runtime.multistream import next_tick
    from edge_runtime.sources import SourceError

    def gen(n, fail=False):
        yield from range(n)
        if fail:
            raise SourceError("rtsp://cam: stream lost")

    gens = {0: gen(3), 1: gen(1, fail=True), 2: gen(2)}
    errors: dict = {}
    ticks = [next_tick(gens, errors) for _ in range(4)]
    assert ticks == [{0: 0, 1: 0, 2: 0}, {0: 1, 2: 1}, {0: 2}, {}]
    assert errors == {1: "rtsp://cam: stream lost"} and gens == {}
    with pytest.raises(SourceError, match="stream lost"):   # without errors= it propagates
        g = {0: gen(0, fail=True)}
        next_tick(g)


@pytest.mark.parametrize("method", ["pyramid", "area"])
def test_view_batcher_rows_equal_one_view_each(method):
    """Every row of a parallel batch is the stream's own view, bit for bit, whatever the thread
    count (also more threads than rows); the pyramid's halvings stay shared with a later size."""
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (300 + 17 * k, 410, 3), dtype=np.uint8) for k in range(5)]
    ref = [[SquareViews(center_square(f), method).get(s) for f in frames] for s in (48, 128)]
    for workers in (1, 2, 8):
        vb = ViewBatcher(workers, min_pixels=0)
        views = [SquareViews(center_square(f), method) for f in frames]
        for j, s in enumerate((48, 128)):
            got = vb.batch(views, s)
            assert got.shape == (5, s, s, 3) and got.dtype == np.uint8 and got.flags.c_contiguous
            np.testing.assert_array_equal(got, np.stack(ref[j]))
        sub = vb.batch([views[k] for k in (4, 1)], 128)
        np.testing.assert_array_equal(sub, np.stack([ref[1][4], ref[1][1]]))
        if method == "pyramid":   # 300..368 px squares: 48 and 128 both walk the same halvings
            assert all(len(v.levels) >= 2 for v in views)
        assert vb.parallel_calls == (3 if workers > 1 else 0)
        vb.close()
        vb.close()   # twice is fine
    assert ViewBatcher(3).batch([], 48).shape == (0, 48, 48, 3)
    # threads wake for big batches only: 5 frames of ~300 px (0.5 Mpx) stay on the caller's thread;
    # 5 of 720 px (2.6 Mpx) go parallel, and after their halvings the branch view is small again
    vb = ViewBatcher(4)
    vb.batch([SquareViews(center_square(f), "pyramid") for f in frames], 48)
    assert vb.parallel_calls == 0
    big = [SquareViews(rng.integers(0, 256, (720, 720, 3), dtype=np.uint8), "pyramid") for _ in range(5)]
    vb.batch(big, 48)
    vb.batch(big, 128)
    assert vb.parallel_calls == 1
    vb.close()


def test_resize_workers_rule_and_checks():
    assert [default_resize_workers(8, c) for c in (1, 2, 3)] == [1, 2, 3]
    assert [default_resize_workers(B, 16) for B in (1, 4, 32)] == [1, 4, 8]
    assert default_resize_workers(32, 64) == 8
    with pytest.raises(ValueError, match="resize_workers must be >= 1, got 0"):
        MultiStreamPipeline(fake_manifest(), streams=2, backend="fake", resize_workers=0)
    with pytest.raises(ValueError, match="workers must be >= 1"):
        ViewBatcher(0)


def test_a_budget_biases_every_stream_like_one_stream_pipelines():
    """A fixed λ (k = 0: no feedback) biases each stream's policy exactly as it biases a one-stream
    pipeline: the same events, λ on every event, and cheaper actions than without a budget."""
    from edge_runtime.budget import BudgetController
    m = fake_manifest()
    B, T = 3, 40
    data = _streams(B, T, seed=4)

    def fixed():
        b = BudgetController(m, target_fps=1.0, k=0.0)
        b.lam = 3.0
        return b
    ms = MultiStreamPipeline(m, streams=B, backend="fake", budget=fixed())
    free = MultiStreamPipeline(m, streams=B, backend="fake")
    got = {i: [] for i in range(B)}
    gm = {"budget": 0.0, "free": 0.0}
    for t in range(T):
        for name, pipe in (("budget", ms), ("free", free)):
            evs = pipe.step({i: data[i][t] if pipe.needs_frame(i) else None for i in range(B)})
            gm[name] += sum(e.gmacs for e in evs.values())
            if name == "budget":
                for i, e in evs.items():
                    got[i].append(e)
    for i in range(B):
        p = AdaptivePipeline(m, backend="fake", budget=fixed())
        ref = [p.step(f if p.needs_frame() else None) for f in data[i]]
        for a, b in zip(got[i], ref):
            _same(a, b)
            assert a.lam == b.lam == 3.0
    assert gm["budget"] < 0.8 * gm["free"]


def test_the_budget_updates_once_per_tick_with_the_tick_rate_and_power():
    """target_fps: λ moves on every update_every-th tick from the measured tick rate (step plus
    the tick's decode time); a power monitor is polled once per tick and its energy summed."""
    m = fake_manifest()
    ms = MultiStreamPipeline(m, streams=2, backend="fake", target_fps=1e9, power=steady_power(1500.0, 50.0))
    data = _streams(2, 40, seed=2)
    lams = []
    for t in range(40):
        evs = ms.step({i: data[i][t] if ms.needs_frame(i) else None for i in range(2)}, decode_ms=50.0)
        assert len({e.lam for e in evs.values()}) == 1           # one λ per tick, for every stream
        lams.append(evs[0].lam)
        assert evs[0].power_mw == 1500.0 and evs[0].battery_pct == 50.0 and evs[0].ms["decode"] == 50.0
    every = ms.budget.update_every
    assert lams[0] == 0.0 and lams[-1] > 0                      # 1e9 ticks/s is out of reach
    changes = [t for t in range(1, 40) if lams[t] != lams[t - 1]]
    assert changes and all(t % every == 0 for t in changes)
    assert ms.measured_fps is not None and ms.measured_fps < 1000.0 / 50.0   # decode counted
    assert evs[0].energy_mj == pytest.approx(1500.0 * 0.25 * 39)
    assert ms.energy.summary()["frames"] == 80


def test_host_tick_benchmark_runs_and_reports_each_row(fake_model_dir, tmp_path, capsys):
    """scripts/bench_host_tick.py on a manifest alone: one row per frame size x streams x threads,
    with the policy's actions in the asked shares; an unknown action is named."""
    import json

    from edge_helpers import load_script
    mod = load_script("scripts/bench_host_tick.py")
    out = tmp_path / "host.json"
    assert mod.main(["--model", str(fake_model_dir), "--streams", "1,3", "--frame", "64x48,96x96",
                     "--workers", "1,2", "--mix", "res48=0.5,skip2=0.5", "--ticks", "20", "--repeat", "2",
                     "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["frame"], r["streams"], r["resize_workers"]) for r in rows] == \
        [(f, b, w) for f in ("64x48", "96x96") for b in (1, 3) for w in (1, 2)]
    assert all(r["adaptive_ms"] > 0 and r["uniform_ms"] > 0 and len(r["rounds_ms"]) == 2 for r in rows)
    assert "adaptive ms" in capsys.readouterr().out
    plan = mod.parse_mix("res48=0.5,skip2=0.25", ["res64", "res48", "skip2"])
    assert sorted(plan) == [1] * 50 + [2] * 25
    with pytest.raises(SystemExit, match="unknown action 'res9'; valid choices: res64, res48"):
        mod.parse_mix("res9=1", ["res64", "res48"])
    # the stand-in engines answer with the plan's actions in turn, also when rows are batched
    from edge_runtime.manifest import load_manifest
    from edge_runtime.pipeline import action_names
    man = load_manifest(fake_model_dir)
    names = action_names(man)
    plan = mod.parse_mix("res64=0.5,res48=0.25,skip2=0.25", names)
    for B in (1, 3):
        ms = MultiStreamPipeline(man, B, backend="fake", resize_workers=1)
        for eng in ms.pipe.models.values():
            mod.instant(eng, plan if eng is ms.pipe.policy else None)
        frame = np.zeros((64, 64, 3), np.uint8)
        for _ in range(200):
            ms.step({i: frame if ms.needs_frame(i) else None for i in range(B)})
        taken = np.sum(ms.stream_actions, axis=0)
        share = dict(zip(names, taken / taken.sum()))
        assert share["res64"] == pytest.approx(0.5, abs=0.03) and share["skip2"] == pytest.approx(0.25, abs=0.03)
