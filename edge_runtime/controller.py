"""The streaming rules of docs/STREAMING.md on model outputs: no model calls.

:class:`StreamingController` keeps one stream's skip bookkeeping, the argmax over budget-biased
action logits, the sliding window, scores, top-k and the hysteresis of the displayed label.
:meth:`StreamingController.route` and :meth:`StreamingController.settle` are the action routing
(a decision runs branch ``a`` for ``a < L-1``, takes the policy's own head for ``a == L-1``, skips
``F`` frames for ``a >= L``) used by the step engine (:mod:`edge_runtime.engine`), golden replay
(:mod:`edge_runtime.golden`) and the budget. Golden traces pin what it does and the Kotlin core
(``android_demo/core``) replays them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import reduce
from operator import add, itemgetter
from typing import Any, Sequence

import numpy as np

from edge_runtime.manifest import Manifest

KINDS = ("resolution", "skip", "skipped")


# =============================================================================== controller
@dataclass
class ControllerResult:
    """What the controller decided for one sampled frame."""
    kind: str                         # resolution | skip | skipped
    action: int
    scores: np.ndarray | None         # float64 per class, None when the window has no entry
    top: list                         # [(class index, score)] top-k, [] without scores
    label: int | None                 # displayed label index (hysteresis), None before any score


def softmax64(m: np.ndarray) -> np.ndarray:
    """Softmax in float64 as STREAMING.md spells it: subtract max, exp, divide by the sum
    (summed in index order)."""
    z = np.exp(m - np.maximum.reduce(m, axis=None))   # = m.max(), without the method's wrapper
    z /= z.cumsum()[-1]
    return z


_subtract, _divide, _exp, _add_reduce = np.subtract, np.divide, np.exp, np.add.reduce


def _softmax64_and_list(m: np.ndarray, scalar: np.ndarray) -> tuple:
    """``softmax64(m)`` of a short vector, computed in ``m`` itself (the caller's scratch), the
    same values as a list of Python floats, and the exponentials' sum, with fewer numpy calls:
    Python's max and left-to-right sum (``reduce(add)``, the order of ``cumsum``) give the same
    doubles as numpy's. With a NaN, or an infinity that makes one, the sum is NaN and every score
    is NaN, as in :func:`softmax64`; otherwise every exponential lies in [0, 1] (one is 1), so a
    sum that is no NaN also says that no score is NaN.

    scalar: a 0-d float64 scratch array that carries the max and the sum into numpy (the same
    float64 operation as a Python float operand, which numpy converts at a higher cost per call)."""
    scalar[()] = max(m.tolist())
    _subtract(m, scalar, m)   # in place; out given by position (cheaper to parse than out=)
    _exp(m, m)
    total = reduce(add, m.tolist())
    scalar[()] = total
    _divide(m, scalar, m)
    return m, m.tolist(), total


def sigmoid64(m: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-m))


def mean_in_order(entries: Sequence[np.ndarray]) -> np.ndarray:
    """Mean of float64 vectors summed in time order then divided by the count."""
    acc = np.array(entries[0], dtype=np.float64, copy=True)
    for e in entries[1:]:
        acc += e
    return acc / len(entries)


def top_k_of(scores: np.ndarray, k: int) -> list:
    """Indices by score descending, ties by the lower index; [(index, score)]."""
    order = (-scores).argsort(kind="stable")[:k].tolist()
    return list(zip(order, scores[order].tolist()))


# Up to this many classes, softmax's last steps, top-k and the hysteresis work on a list of
# Python floats: sorting a short list costs less than the numpy calls it replaces; above it
# numpy's argsort wins.
_PY_TOP_K_MAX = 64


_SCORE = itemgetter(1)


def _top_k_list(values: list, k: int) -> list:
    """:func:`top_k_of` of scores given as a list of floats free of NaN: Python's sort is stable,
    also with ``reverse=True``, so equal scores keep the lower index first. The (index, score)
    pairs are sorted themselves, by score: no second pass to build them."""
    return sorted(enumerate(values), key=_SCORE, reverse=True)[:k]


_EXACT_IN_FLOAT64 = (np.dtype(np.float32), np.dtype(np.float64))


def biased_argmax(action_logits: Any, bias: Any = None, num_actions: int | None = None) -> int:
    """The decision rule (STREAMING.md, Budget): ``argmax(action_logits − bias)`` in float64,
    the lowest index on ties; a NaN is a ValueError. Used by the controller and the budget."""
    if bias is None and type(action_logits) is np.ndarray and action_logits.dtype in _EXACT_IN_FLOAT64:
        # float32 -> float64 is exact and keeps the order, ties and NaN positions: no cast needed.
        # A short vector as Python floats: max() keeps the first of equal values and index()
        # finds the first equal one, numpy's argmax and its ties. A sum that is NaN means a NaN
        # (or +inf and -inf): numpy's path below says which.
        z = action_logits.ravel()   # a view of an engine's contiguous output (a copy otherwise)
        if z.shape[0] <= _PY_TOP_K_MAX:
            values = z.tolist()
            if num_actions is not None and len(values) != num_actions:
                raise ValueError(f"expected {num_actions} action logits, got {len(values)}")
            total = sum(values)
            if total == total:
                return values.index(max(values))
    else:
        z = np.asarray(action_logits, dtype=np.float64).reshape(-1)
    if num_actions is not None and z.shape[0] != num_actions:
        raise ValueError(f"expected {num_actions} action logits, got {z.shape[0]}")
    if bias is not None:
        z = z - np.asarray(bias, dtype=np.float64).reshape(-1)
    a = int(z.argmax())
    if z[a] != z[a]:   # argmax stops at the first NaN
        raise ValueError(f"action logits contain NaN: {z.tolist()}")
    return a


def scores_with_fallback(ctrl: "StreamingController", low_acc: Any, low_n: int, multi_label: bool):
    """The window's scores; when no frame was processed since ``clear()`` (STREAMING.md), the mean
    of the low head's logits summed in ``low_acc`` over ``low_n`` decision steps; None without."""
    s = ctrl.current_scores()
    if s is not None or low_n == 0:
        return s
    m = low_acc / low_n
    return sigmoid64(m) if multi_label else softmax64(m)


class StreamingController:
    """The normative streaming rules (docs/STREAMING.md) on model outputs; no model calls.

    Per sampled frame either :meth:`skipped` (when :attr:`needs_frame` is False) or a decision
    step: :meth:`choose` on the policy's action logits, then :meth:`commit` with the class logits
    of the chosen branch (None for a skip)."""

    def __init__(self, num_resolutions: int, skip_lengths: Sequence[int], num_classes: int, *,
                 window: int, top_k: int = 3, margin: float = 0.1, hold: int = 2,
                 multi_label: bool = False) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if hold < 1:
            raise ValueError(f"hold must be >= 1, got {hold}")
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.L = int(num_resolutions)
        self.skip_lengths = [int(f) for f in skip_lengths]
        self.num_actions = self.L + len(self.skip_lengths)
        self.num_classes = int(num_classes)
        self.window = int(window)
        self.top_k = int(top_k)
        self.margin = float(margin)
        self.hold = int(hold)
        self.multi_label = bool(multi_label)
        self.clear()

    @classmethod
    def from_manifest(cls, m: Manifest, window: int | None = None, **kw: Any) -> "StreamingController":
        w = int(window) if window else int(m.sampling["frames_per_clip"])
        return cls(m.num_resolutions, m.skip_lengths, m.num_classes, window=w,
                   multi_label=m.multi_label, **kw)

    # ------------------------------------------------------------------ state
    def clear(self) -> None:
        self.skip_remaining = 0
        self.skip_action = -1
        # The window: one flag per entry (True = non-empty), oldest first, and the non-empty
        # entries' float64 logits as the contiguous rows _rows[_lo:_hi], in time order. The mean
        # is then one reduction over axis 0, which numpy computes row after row (the time-order
        # sum; see _window_sum). Twice the window's rows, so the live rows move to the front only
        # once every `window` appends.
        self._flags: deque = deque(maxlen=self.window)
        self._rows = np.empty((2 * self.window, self.num_classes), np.float64)
        self._lo = self._hi = 0
        self._same = False          # the window's entries are those self.scores was computed from
        self.displayed: int | None = None
        self.candidate: int | None = None
        self.count = 0
        self.scores: np.ndarray | None = None
        self.top: list = []
        self._score_list: Any = None   # self.scores as a list (few classes) or the array itself
        self._scalar = np.zeros((), np.float64)   # scratch: one float64 operand of the scores' numpy ops

    @property
    def needs_frame(self) -> bool:
        """True when the next sampled frame is a decision step (it must be decoded)."""
        return self.skip_remaining == 0

    def resize_window(self, window: int) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        kept = list(self._window)[-int(window):]
        self.window = int(window)
        self._flags = deque(maxlen=self.window)
        self._rows = np.empty((2 * self.window, self.num_classes), np.float64)
        self._lo = self._hi = 0
        for e in kept:
            if e is None:
                self._flags.append(False)
            else:
                self._push(e)
        self._same = False

    @property
    def _window(self) -> list:
        """The window's entries, oldest first: a float64 vector of class logits, or None for an
        empty entry (skip, skipped)."""
        rows = iter(self._rows[self._lo:self._hi].copy())
        return [next(rows) if f else None for f in self._flags]

    # ------------------------------------------------------------------ steps
    def skipped(self) -> ControllerResult:
        """A sampled frame covered by an earlier skip."""
        if self.skip_remaining <= 0:
            raise RuntimeError("skipped() called on a decision step (needs_frame is True)")
        self.skip_remaining -= 1
        self._append_empty()
        return self._finish("skipped", self.skip_action)

    def choose(self, action_logits: Any, bias: Any = None) -> int:
        """``argmax(action_logits − bias)`` (float64, lowest index on ties)."""
        return biased_argmax(action_logits, bias, self.num_actions)

    def commit(self, action: int, class_logits: Any = None) -> ControllerResult:
        """Finish a decision step that took ``action`` (class logits for resolution actions)."""
        return self._commit(self._decision(action), class_logits)

    def _decision(self, action: int) -> int:
        """``action`` as a checked int, on a decision step."""
        if self.skip_remaining != 0:
            raise RuntimeError("commit() during a skip; call skipped()")
        a = action if type(action) is int else int(action)
        if not 0 <= a < self.num_actions:
            raise ValueError(f"action {a} out of range [0, {self.num_actions})")
        return a

    def _commit(self, a: int, class_logits: Any) -> ControllerResult:
        """:meth:`commit` of a checked action."""
        if a >= self.L:
            self.skip_remaining = self.skip_lengths[a - self.L] - 1
            self.skip_action = a
            self._append_empty()
            return self._finish("skip", a)
        if class_logits is None:
            raise ValueError(f"resolution action {a} needs class logits")
        e = class_logits
        if type(e) is not np.ndarray or e.ndim != 1:   # an engine's row is one already
            e = np.asarray(e).reshape(-1)
        if e.shape[0] != self.num_classes:
            raise ValueError(f"expected {self.num_classes} class logits, got {e.shape[0]}")
        self._push(e)
        self._same = False
        return self._finish("resolution", a)

    # ------------------------------------------------------------------ action routing
    def branch(self, action: int) -> int | None:
        """The branch a decision runs: ``action`` for ``action < L-1`` (backbone ``action`` on the
        frame at ``s_action``); None for the policy's own head (``L-1``) and for skips."""
        return int(action) if action < self.L - 1 else None

    def skip_of(self, action: int) -> int | None:
        """``F`` of a skip action, None for a resolution action."""
        return self.skip_lengths[action - self.L] if action >= self.L else None

    def settle(self, action: int, low_logits: Any, branch_logits: Any = None) -> ControllerResult:
        """Commit a decision by its route: the chosen branch's class logits (``action < L-1``),
        the policy's own head ``low_logits`` (``L-1``), nothing for a skip."""
        a = self._decision(action)
        top = self.L - 1
        if a < top:
            if branch_logits is None:
                raise ValueError(f"action {a} runs branch {a}: its class logits are needed")
            return self._commit(a, branch_logits)
        return self._commit(a, low_logits if a == top else None)

    def current_scores(self) -> np.ndarray | None:
        n = self._hi - self._lo
        if n == 0:
            return None
        m = self._window_sum()
        m /= n
        return sigmoid64(m) if self.multi_label else softmax64(m)

    def _window_sum(self) -> np.ndarray:
        """:func:`mean_in_order`'s sum of the non-empty entries, in time order. numpy reduces
        axis 0 of a C-contiguous block row after row (``acc += row``); only a single column is
        reduced as one contiguous run, pairwise, so one class takes the running sum instead."""
        live = self._rows[self._lo:self._hi]
        if self.num_classes == 1:
            return np.add.accumulate(live, axis=0)[-1]
        return np.add.reduce(live, axis=0)

    def _push(self, e: np.ndarray) -> None:
        """A non-empty entry (cast to float64 into the next row)."""
        if self._hi == self._rows.shape[0]:   # no row left: the live rows move to the front
            n = self._hi - self._lo
            self._rows[:n] = self._rows[self._lo:self._hi]
            self._lo, self._hi = 0, n
        self._rows[self._hi] = e   # first: values that are no numbers fail before the window moves
        self._hi += 1
        w = self._flags
        if len(w) == w.maxlen and w[0]:
            self._lo += 1   # the oldest entry, non-empty, leaves the window
        w.append(True)

    def _append_empty(self) -> None:
        """An empty entry; the scores stay valid unless it pushes a non-empty one out."""
        w = self._flags
        if len(w) == w.maxlen and w[0]:
            self._lo += 1
            self._same = False
        w.append(False)

    def _finish(self, kind: str, action: int) -> ControllerResult:
        if self._same and self.scores is not None:   # same entries: the same scores and top-k
            s, top = self.scores, self.top
            self._hysteresis(self._score_list, top[0][0])
            return ControllerResult(kind, action, s, top, self.displayed)
        self._same = True
        n = self._hi - self._lo
        if n == 0:
            # no scores: the displayed label is held, the hysteresis count untouched
            self.scores, self.top = None, []
            return ControllerResult(kind, action, None, [], self.displayed)
        # _window_sum(), its usual case inline (a call is a noticeable share of this step)
        m = _add_reduce(self._rows[self._lo:self._hi], 0) if self.num_classes != 1 else self._window_sum()
        scalar = self._scalar
        scalar[()] = n   # n as a 0-d float64 array: the same division, a cheaper numpy call
        _divide(m, scalar, m)
        if self.num_classes > _PY_TOP_K_MAX:
            s = sigmoid64(m) if self.multi_label else softmax64(m)
            values = None
        elif self.multi_label:
            s = sigmoid64(m)
            values = s.tolist()
            total = sum(values)
        else:   # few classes: the scores also as a list, read by top-k and the hysteresis
            s, values, total = _softmax64_and_list(m, scalar)
        if values is not None and total == total:   # no score is NaN
            top = _top_k_list(values, self.top_k)
        else:
            top = top_k_of(s, self.top_k)
        self._score_list = s if values is None else values
        self._hysteresis(self._score_list, top[0][0])
        self.scores, self.top = s, top
        return ControllerResult(kind, action, s, top, self.displayed)

    def _hysteresis(self, s: Any, top1: int) -> None:
        """s: the scores (array or list, indexed by class)."""
        if self.displayed is None:
            self.displayed, self.candidate, self.count = top1, None, 0
            return
        if top1 == self.displayed or not (s[top1] - s[self.displayed] >= self.margin):
            self.candidate, self.count = None, 0
            return
        if top1 == self.candidate:
            self.count += 1
        else:
            self.candidate, self.count = top1, 1
        if self.count >= self.hold:
            self.displayed, self.candidate, self.count = top1, None, 0


class FixedLambda:
    """A budget with a constant λ (golden traces, experiments): ``bias() = λ·b_a``."""

    def __init__(self, manifest: Manifest, lam: float) -> None:
        from edge_runtime.budget import normalised_costs
        if not (lam >= 0 and np.isfinite(lam)):
            raise ValueError(f"lambda must be a finite value >= 0, got {lam}")
        self.lam = float(lam)
        self._b = normalised_costs(manifest)

    def bias(self) -> np.ndarray:
        return self.lam * self._b

    def update(self, *a: Any, **k: Any) -> float:
        return self.lam

    def state(self) -> dict:
        return {"lambda": self.lam, "fixed": True, "b": [float(x) for x in self._b]}
