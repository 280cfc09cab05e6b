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
    z = np.exp(m - m.max())
    z /= z.cumsum()[-1]
    return z


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


def biased_argmax(action_logits: Any, bias: Any = None, num_actions: int | None = None) -> int:
    """The decision rule (STREAMING.md, Budget): ``argmax(action_logits − bias)`` in float64,
    the lowest index on ties; a NaN is a ValueError. Used by the controller and the budget."""
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
        self._window: deque = deque(maxlen=self.window)
        self._same = False          # the window's entries are those self.scores was computed from
        self.displayed: int | None = None
        self.candidate: int | None = None
        self.count = 0
        self.scores: np.ndarray | None = None
        self.top: list = []

    @property
    def needs_frame(self) -> bool:
        """True when the next sampled frame is a decision step (it must be decoded)."""
        return self.skip_remaining == 0

    def resize_window(self, window: int) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = int(window)
        self._window = deque(self._window, maxlen=self.window)
        self._same = False

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
        if self.skip_remaining != 0:
            raise RuntimeError("commit() during a skip; call skipped()")
        a = int(action)
        if not 0 <= a < self.num_actions:
            raise ValueError(f"action {a} out of range [0, {self.num_actions})")
        if a >= self.L:
            self.skip_remaining = self.skip_lengths[a - self.L] - 1
            self.skip_action = a
            self._append_empty()
            return self._finish("skip", a)
        if class_logits is None:
            raise ValueError(f"resolution action {a} needs class logits")
        e = np.array(class_logits, dtype=np.float64).reshape(-1)
        if e.shape[0] != self.num_classes:
            raise ValueError(f"expected {self.num_classes} class logits, got {e.shape[0]}")
        self._window.append(e)
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
        a = int(action)
        if a < self.L - 1:
            if branch_logits is None:
                raise ValueError(f"action {a} runs branch {a}: its class logits are needed")
            return self.commit(a, branch_logits)
        return self.commit(a, low_logits if a == self.L - 1 else None)

    def current_scores(self) -> np.ndarray | None:
        acc = None   # mean_in_order of the window's entries, in one pass over the window
        n = 0
        for e in self._window:
            if e is not None:
                if acc is None:
                    acc = e.copy()
                else:
                    acc += e
                n += 1
        if acc is None:
            return None
        m = acc / n
        return sigmoid64(m) if self.multi_label else softmax64(m)

    def _append_empty(self) -> None:
        """An empty entry; the scores stay valid unless it pushes a non-empty one out."""
        w = self._window
        if len(w) == w.maxlen and w[0] is not None:
            self._same = False
        w.append(None)

    def _finish(self, kind: str, action: int) -> ControllerResult:
        if self._same and self.scores is not None:   # same entries: the same scores and top-k
            s, top = self.scores, self.top
            self._hysteresis(s, top[0][0])
            return ControllerResult(kind, action, s, top, self.displayed)
        self._same = True
        s = self.current_scores()
        if s is None:
            # no scores: the displayed label is held, the hysteresis count untouched
            self.scores, self.top = None, []
            return ControllerResult(kind, action, None, [], self.displayed)
        top = top_k_of(s, self.top_k)
        self._hysteresis(s, top[0][0])
        self.scores, self.top = s, top
        return ControllerResult(kind, action, s, top, self.displayed)

    def _hysteresis(self, s: np.ndarray, top1: int) -> None:
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
