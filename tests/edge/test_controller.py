"""StreamingController = docs/STREAMING.md: skips, argmax, window, scores, top-k, hysteresis."""

from __future__ import annotations

import math
import random
import time

import numpy as np
import pytest

from edge_runtime.pipeline import StreamingController, softmax64


def ctrl(window=4, L=4, skips=(1, 2, 4), C=5, **kw):
    return StreamingController(L, list(skips), C, window=window, **kw)


def onehot(i, C=5, v=3.0):
    x = np.zeros(C, np.float32)
    x[i] = v
    return x


def act_logits(a, A=7):
    x = np.zeros(A, np.float32)
    x[a] = 1.0
    return x


class Reference:
    """An independent plain-Python reading of STREAMING.md (float64 via math)."""

    def __init__(self, L, skips, C, window, top_k, margin, hold, multi, b=None, lam=0.0):
        self.L, self.skips, self.C, self.W = L, skips, C, window
        self.k, self.margin, self.hold, self.multi = top_k, margin, hold, multi
        self.b, self.lam = b, lam
        self.rem, self.skip_a, self.win = 0, -1, []
        self.D, self.cand, self.cnt = None, None, 0

    def step(self, action_logits, class_for):
        if self.rem > 0:
            self.rem -= 1
            kind, a, entry = "skipped", self.skip_a, None
        else:
            z = [float(v) - (self.lam * self.b[i] if self.b is not None else 0.0)
                 for i, v in enumerate(action_logits)]
            a = 0
            for i in range(1, len(z)):
                if z[i] > z[a]:
                    a = i
            if a >= self.L:
                kind, entry = "skip", None
                self.rem, self.skip_a = self.skips[a - self.L] - 1, a
            else:
                kind, entry = "resolution", [float(v) for v in class_for(a)]
        self.win = (self.win + [entry])[-self.W:]
        ent = [e for e in self.win if e is not None]
        if not ent:
            return kind, a, [], self.D
        s = [0.0] * self.C
        for e in ent:
            for i in range(self.C):
                s[i] += e[i]
        m = [v / len(ent) for v in s]
        if self.multi:
            sc = [1 / (1 + math.exp(-v)) for v in m]
        else:
            mx = max(m)
            ex = [math.exp(v - mx) for v in m]
            tot = 0.0
            for v in ex:
                tot += v
            sc = [v / tot for v in ex]
        order = sorted(range(self.C), key=lambda i: (-sc[i], i))
        t1 = order[0]
        if self.D is None:
            self.D, self.cand, self.cnt = t1, None, 0
        elif t1 == self.D or not (sc[t1] - sc[self.D] >= self.margin):
            self.cand, self.cnt = None, 0
        else:
            if t1 == self.cand:
                self.cnt += 1
            else:
                self.cand, self.cnt = t1, 1
            if self.cnt >= self.hold:
                self.D, self.cand, self.cnt = t1, None, 0
        return kind, a, [(i, sc[i]) for i in order[: self.k]], self.D


def drive(c: StreamingController, action_logits, class_logits, bias=None):
    if not c.needs_frame:
        return c.skipped()
    a = c.choose(action_logits, bias)
    return c.commit(a, class_logits if a < c.L else None)


# ------------------------------------------------------------------------------ skips
def test_skip_bookkeeping_covers_this_and_next_F_minus_1_frames():
    c = ctrl()
    r = c.commit(c.choose(act_logits(6)))          # skip 4
    assert (r.kind, r.action) == ("skip", 6)
    assert not c.needs_frame
    kinds = []
    for _ in range(3):
        r = c.skipped()
        kinds.append((r.kind, r.action))
    assert kinds == [("skipped", 6)] * 3
    assert c.needs_frame
    with pytest.raises(RuntimeError):
        c.skipped()
    r = c.commit(c.choose(act_logits(4)))          # skip 1 = only this frame
    assert r.kind == "skip" and c.needs_frame


def test_commit_during_skip_and_bad_sizes_are_errors():
    c = ctrl()
    c.commit(5)
    with pytest.raises(RuntimeError):
        c.commit(0, onehot(0))
    c = ctrl()
    with pytest.raises(ValueError):
        c.choose(np.zeros(6))
    with pytest.raises(ValueError):
        c.commit(0, np.zeros(4))
    with pytest.raises(ValueError):
        c.commit(1, None)
    with pytest.raises(ValueError):
        c.commit(7)
    with pytest.raises(ValueError):
        c.choose(np.array([np.nan] * 7))


# ------------------------------------------------------------------------------ argmax + bias
def test_argmax_takes_lowest_index_on_ties_and_bias_subtracts():
    c = ctrl()
    assert c.choose(np.array([1, 3, 3, 0, 3, 0, 0], np.float32)) == 1
    b = np.array([1.0, 0.5, 0.25, 0.1, 0.05, 0.02, 0.0])
    logits = np.array([2.0, 1.9, 1.8, 0, 0, 0, 0], np.float32)
    assert c.choose(logits) == 0
    assert c.choose(logits, 0.0 * b) == 0
    assert c.choose(logits, 1.0 * b) == 2      # 1.0 / 1.4 / 1.55
    assert c.choose(logits, 20.0 * b) == 6


# ------------------------------------------------------------------------------ window + scores
def test_window_counts_empty_entries_and_scores_are_softmax_of_the_mean():
    c = ctrl(window=3)
    r = c.commit(0, onehot(1))
    assert r.top[0][0] == 1 and r.label == 1
    r = c.commit(2, onehot(2, v=1.0))
    m = (onehot(1).astype(np.float64) + onehot(2, v=1.0)) / 2
    np.testing.assert_allclose(r.scores, softmax64(m), rtol=0, atol=1e-15)
    c.commit(4)                                   # skip 1: empty entry
    r = c.commit(3, onehot(3))                    # window = [e2, empty, e4]
    m = (onehot(2, v=1.0).astype(np.float64) + onehot(3)) / 2
    np.testing.assert_allclose(r.scores, softmax64(m), atol=1e-15)
    assert abs(r.scores.sum() - 1) < 1e-12


def test_no_scores_holds_the_label():
    c = ctrl(window=2)
    r = c.commit(0, onehot(4))
    assert r.label == 4
    c.commit(6)                                   # skip 4 → window [e, empty]
    r = c.skipped()                               # window [empty, empty]
    assert r.scores is None and r.top == [] and r.label == 4
    r = c.skipped()
    assert r.scores is None and r.label == 4


def test_multilabel_scores_are_sigmoids():
    c = ctrl(multi_label=True, window=2, margin=0.0, hold=1)
    r = c.commit(1, np.array([0, 2, -2, 0, 0], np.float32))
    np.testing.assert_allclose(r.scores, 1 / (1 + np.exp(-np.array([0, 2, -2, 0, 0.0]))), atol=1e-15)
    assert r.top[0] == (1, pytest.approx(1 / (1 + math.exp(-2))))


def test_top_k_orders_ties_by_lower_index():
    c = ctrl(top_k=4)
    r = c.commit(0, np.array([1, 2, 2, 1, 2], np.float32))
    assert [i for i, _ in r.top] == [1, 2, 4, 0]
    c = ctrl(top_k=10)                           # k > C: all classes
    assert len(c.commit(0, np.zeros(5, np.float32)).top) == 5


# ------------------------------------------------------------------------------ hysteresis
def test_hysteresis_needs_margin_held_for_hold_steps():
    c = ctrl(window=1, margin=0.1, hold=2)
    assert c.commit(0, onehot(0)).label == 0
    assert c.commit(0, onehot(1)).label == 0      # candidate 1, count 1
    assert c.commit(0, onehot(1)).label == 1      # count 2 → switch
    assert c.commit(0, onehot(2)).label == 1      # candidate 2
    assert c.commit(0, onehot(3)).label == 1      # candidate changes → restarts at 1
    assert c.commit(0, onehot(3)).label == 3      # held twice
    # below the margin never switches
    near = np.array([0, 0, 0, 1.0, 1.05], np.float32)
    for _ in range(5):
        assert c.commit(0, near).label == 3
    # a failing step in between resets the count
    assert c.commit(0, onehot(2)).label == 3
    assert c.commit(0, onehot(3)).label == 3
    assert c.commit(0, onehot(2)).label == 3
    assert c.commit(0, onehot(2)).label == 2


def test_unscored_steps_neither_count_nor_reset_the_hold():
    c = ctrl(window=1, margin=0.1, hold=2)
    c.commit(0, onehot(0))
    c.commit(0, onehot(1))                        # candidate 1 (count 1)
    r = c.commit(6)                               # skip: no scores
    assert r.scores is None and r.label == 0
    for _ in range(3):
        assert c.skipped().label == 0
    assert c.commit(0, onehot(1)).label == 1      # count 2 across the unscored steps


def test_margin_zero_hold_one_is_raw_top1():
    c = ctrl(window=1, margin=0.0, hold=1)
    for cls in (0, 3, 1, 1, 4, 0):
        r = c.commit(0, onehot(cls))
        assert r.label == cls == r.top[0][0]


def test_clear_resets_everything():
    c = ctrl(window=3)
    c.commit(0, onehot(2))
    c.commit(5)
    c.clear()
    assert c.needs_frame and c.displayed is None
    r = c.commit(1, onehot(4))
    assert r.label == 4 and [i for i, _ in r.top][0] == 4
    np.testing.assert_allclose(r.scores, softmax64(onehot(4).astype(np.float64)))


# ------------------------------------------------------------------------------ vs reference
@pytest.mark.parametrize("seed,window,margin,hold,multi,lam", [
    (0, 4, 0.1, 2, False, 0.0), (1, 1, 0.0, 1, False, 0.0), (2, 16, 0.05, 3, False, 0.7),
    (3, 3, 0.2, 1, True, 0.0), (4, 7, 0.1, 2, True, 2.5)])
def test_matches_an_independent_reference(seed, window, margin, hold, multi, lam):
    rng = random.Random(seed)
    L, skips, C = 4, [1, 2, 4], 6
    A = L + len(skips)
    b = [rng.uniform(0, 1) for _ in range(A)]
    c = StreamingController(L, skips, C, window=window, top_k=3, margin=margin, hold=hold, multi_label=multi)
    ref = Reference(L, skips, C, window, 3, margin, hold, multi, b=b, lam=lam)
    bias = lam * np.asarray(b)
    for t in range(600):
        if t == 300:
            c.clear()
            ref = Reference(L, skips, C, window, 3, margin, hold, multi, b=b, lam=lam)
        al = np.array([rng.uniform(-2, 2) for _ in range(A)], np.float32)
        cls = (t // 25) % C
        logits = {a: np.array([rng.uniform(-1, 1) + (2.0 if i == cls else 0) for i in range(C)], np.float32)
                  for a in range(L)}
        r = drive(c, al, None, bias) if not c.needs_frame else None
        if r is None:
            a = c.choose(al, bias)
            r = c.commit(a, logits[a] if a < L else None)
        kind, a, top, D = ref.step(al, lambda a: logits[a])
        assert (r.kind, r.action, r.label) == (kind, a, D), t
        assert [i for i, _ in r.top] == [i for i, _ in top], t
        for (_, s1), (_, s2) in zip(r.top, top):
            assert abs(s1 - s2) <= 1e-12


def test_controller_overhead_is_small():
    c = ctrl(window=16, C=200)
    rng = np.random.default_rng(0)
    al = rng.standard_normal((64, 7)).astype(np.float32)
    cl = rng.standard_normal((64, 200)).astype(np.float32)
    n = 2000
    t0 = time.perf_counter()
    for i in range(n):
        if not c.needs_frame:
            c.skipped()
        else:
            a = c.choose(al[i % 64])
            c.commit(a, cl[i % 64] if a < 4 else None)
    us = (time.perf_counter() - t0) / n * 1e6
    print(f"controller: {us:.1f} us/step (W=16, C=200)")
    assert us < 2000  # generous: 2 shared cores; typically ~30-60 us


def test_scores_kept_across_empty_entries_equal_a_fresh_computation():
    """Skipped frames that push no processed frame out of the window reuse the last scores; every
    step's scores still equal the window's mean computed afresh (bit for bit)."""
    from edge_runtime.controller import mean_in_order
    rng = np.random.default_rng(3)
    c = ctrl(window=5, C=6)
    for i in range(400):
        if not c.needs_frame:
            r = c.skipped()
        else:
            a = int(rng.integers(0, c.num_actions))
            r = c.commit(a, rng.standard_normal(6).astype(np.float32) if a < c.L else None)
        entries = [e for e in c._window if e is not None]
        if not entries:
            assert r.scores is None
            continue
        want = softmax64(mean_in_order(entries))
        assert r.scores is not None and np.array_equal(r.scores, want), i
        assert [k for k, _ in r.top] == [int(k) for k in np.argsort(-want, kind="stable")[:c.top_k]]


@pytest.mark.parametrize("C", [1, 2, 6, 65, 200])
@pytest.mark.parametrize("multi", [False, True])
def test_window_rows_give_the_time_order_mean_bit_for_bit(C, multi):
    """The window's non-empty entries kept as rows and reduced at once equal summing them in time
    order then dividing (mean_in_order), for any class count, across window resizes; top-k and the
    label follow the same scores."""
    from edge_runtime.controller import mean_in_order, sigmoid64
    rng = np.random.default_rng(C)
    c = ctrl(window=7, C=C, multi_label=multi)
    for i in range(600):
        if i in (200, 400):
            c.resize_window(3 if i == 200 else 11)
        if not c.needs_frame:
            r = c.skipped()
        else:
            a = int(rng.integers(0, c.num_actions))
            scale = 10.0 ** float(rng.integers(-3, 3))
            r = c.commit(a, (rng.standard_normal(C) * scale).astype(np.float32) if a < c.L else None)
        entries = [e for e in c._window if e is not None]
        if not entries:
            assert r.scores is None
            continue
        m = mean_in_order(entries)
        want = sigmoid64(m) if multi else softmax64(m)
        assert np.array_equal(r.scores, want), i
        assert np.array_equal(c.current_scores(), want), i
        order = [int(k) for k in np.argsort(-want, kind="stable")[:c.top_k]]
        assert [k for k, _ in r.top] == order and [s for _, s in r.top] == want[order].tolist()


def test_nan_logits_give_nan_scores_and_index_order():
    c = ctrl(window=3, C=5)
    x = onehot(2)
    x[3] = np.nan
    r = c.commit(0, x)
    assert np.isnan(r.scores).all()
    assert [k for k, _ in r.top] == [0, 1, 2]


def test_argmax_of_a_short_vector_equals_numpy_argmax_with_ties_signed_zeros_and_infinities():
    from edge_runtime.controller import biased_argmax
    rng = np.random.default_rng(5)
    cases = [[0.0, -0.0, 0.0], [-0.0, 0.0], [1, 3, 3, 0, 3], [-np.inf, -np.inf], [np.inf, -np.inf, np.inf],
             [1e38, 3e38, 3e38], [np.inf, 1.0, np.inf]]
    cases += [rng.integers(-2, 3, int(rng.integers(1, 9))).tolist() for _ in range(300)]
    for x in cases:
        for dt in (np.float32, np.float64):
            z = np.array(x, dt)
            assert biased_argmax(z) == int(np.asarray(z, np.float64).argmax()), (x, dt)
            assert biased_argmax(z[None]) == int(np.asarray(z, np.float64).argmax()), (x, dt)
    for x in ([1.0, np.nan, 2.0], [np.nan, np.inf, -np.inf], [3.0, 1.0, np.nan]):
        with pytest.raises(ValueError, match="NaN"):
            biased_argmax(np.array(x, np.float32))
    with pytest.raises(ValueError, match="expected 3 action logits, got 2"):
        biased_argmax(np.zeros(2, np.float32), num_actions=3)
