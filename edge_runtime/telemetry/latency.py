"""Per-stage latency statistics (p50/p95) for the streaming runtime and the benchmark.

``LatencyStats`` keeps, per stage (``"decode"``, ``"policy"``, ``"backbone_224"``, ``"step"``, ...):
the exact count, sum, min and max of every sample, and the most recent ``window`` samples
(a ring buffer, default 4096) from which the percentiles are computed exactly. Until a stage has
more than ``window`` samples its percentiles are exact over all of them; afterwards they describe
the latest ``window`` samples (what a live overlay wants). Everything is deterministic: no random
reservoir, no clock inside ``add``.

Percentiles use linear interpolation between closest ranks (``numpy.percentile``'s default
method "linear"): for sorted ``x[0..n-1]`` and ``q`` in [0, 100], ``r = q/100·(n-1)``,
``p = x[floor r] + (r - floor r)·(x[ceil r] - x[floor r])``. Pure Python, so the result does
not depend on the numpy version and the Kotlin core can reproduce it.
"""

from __future__ import annotations

import math
from array import array
import time
from contextlib import contextmanager
from typing import Iterator

DEFAULT_WINDOW = 4096
_INF = math.inf


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolation percentile of an already sorted, non-empty list (numpy "linear")."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("percentile of an empty list")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be in [0, 100], got {q}")
    r = (q / 100.0) * (n - 1)
    lo = int(math.floor(r))
    hi = min(lo + 1, n - 1)
    frac = r - lo
    return sorted_values[lo] + frac * (sorted_values[hi] - sorted_values[lo])


class _Stage:
    """Exact count/sum/min/max and the last ``window`` samples in a ring allocated once (its
    memory does not grow with the run)."""
    __slots__ = ("count", "total", "min", "max", "_ring", "_window")

    def __init__(self, window: int) -> None:
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf
        self._window = window
        self._ring = array("d", bytes(8 * window))

    def add(self, ms: float) -> None:
        self._ring[self.count % self._window] = ms
        self.count += 1
        self.total += ms
        if ms < self.min:
            self.min = ms
        if ms > self.max:
            self.max = ms

    @property
    def recent(self) -> list[float]:
        """The last ``window`` samples, oldest first."""
        n, w = self.count, self._window
        if n <= w:
            return self._ring[:n].tolist()
        k = n % w
        return self._ring[k:].tolist() + self._ring[:k].tolist()


class LatencyStats:
    """Per-stage latency accumulator.

    >>> s = LatencyStats()
    >>> s.add("policy", 3.0); s.add("policy", 5.0)
    >>> s.summary()["policy"]["p50_ms"]
    4.0

    Stages keep their first-seen order in ``summary()`` and ``table()``.
    """

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = int(window)
        self._stages: dict[str, _Stage] = {}

    # ------------------------------------------------------------------ input
    def add(self, stage: str, ms: float) -> None:
        """Record one sample of ``stage`` in milliseconds (finite, >= 0)."""
        ms = float(ms)
        if not math.isfinite(ms) or ms < 0:
            raise ValueError(f"latency of stage {stage!r} must be a finite number >= 0, got {ms}")
        st = self._stages.get(stage)
        if st is None:
            st = self._stages[stage] = _Stage(self.window)
        st.add(ms)

    def add_all(self, ms_by_stage: dict) -> None:
        """:meth:`add` of every ``{stage: ms}`` item (called once per tick: _Stage.add inlined)."""
        stages = self._stages
        for stage, ms in ms_by_stage.items():
            st = stages.get(stage)
            if st is None or type(ms) is not float or not 0.0 <= ms < _INF:   # add() converts, checks
                self.add(stage, ms)
                continue
            n = st.count
            st._ring[n % st._window] = ms
            st.count = n + 1
            st.total += ms
            if ms < st.min:
                st.min = ms
            if ms > st.max:
                st.max = ms

    @contextmanager
    def time(self, stage: str) -> Iterator[None]:
        """``with stats.time("policy"): ...`` records the block's wall time (perf_counter)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, (time.perf_counter() - t0) * 1000.0)

    def merge(self, other: "LatencyStats") -> None:
        """Add every sample ``other`` still holds in its windows (counts beyond them are lost)."""
        for name, st in other._stages.items():
            for ms in st.recent:
                self.add(name, ms)

    def clear(self) -> None:
        self._stages.clear()

    # ----------------------------------------------------------------- output
    @property
    def stages(self) -> list[str]:
        return list(self._stages)

    def count(self, stage: str) -> int:
        st = self._stages.get(stage)
        return st.count if st else 0

    def percentile(self, stage: str, q: float) -> float:
        st = self._stages.get(stage)
        if st is None or st.count == 0:
            raise KeyError(f"no latency samples for stage {stage!r}")
        return percentile(sorted(st.recent), q)

    def stage_summary(self, stage: str) -> dict:
        st = self._stages.get(stage)
        if st is None or st.count == 0:
            raise KeyError(f"no latency samples for stage {stage!r}")
        xs = sorted(st.recent)
        return {
            "count": st.count,
            "mean_ms": st.total / st.count,
            "p50_ms": percentile(xs, 50.0),
            "p95_ms": percentile(xs, 95.0),
            "min_ms": st.min,
            "max_ms": st.max,
            "window": len(xs),
        }

    def summary(self) -> dict:
        """``{stage: {count, mean_ms, p50_ms, p95_ms, min_ms, max_ms, window}}`` (JSON-ready).

        ``count``, ``mean_ms``, ``min_ms``, ``max_ms`` cover every sample; the percentiles
        cover the last ``window`` of them (``window`` = how many that is)."""
        return {name: self.stage_summary(name) for name, st in self._stages.items() if st.count}

    def table(self, title: str | None = None) -> str:
        """A fixed-width text table, one row per stage, for logs and the CLI."""
        head = ("stage", "count", "mean ms", "p50 ms", "p95 ms", "max ms")
        rows = []
        for name, s in self.summary().items():
            rows.append((name, str(s["count"]), f"{s['mean_ms']:.2f}", f"{s['p50_ms']:.2f}",
                         f"{s['p95_ms']:.2f}", f"{s['max_ms']:.2f}"))
        widths = [max(len(head[i]), *(len(r[i]) for r in rows)) if rows else len(head[i])
                  for i in range(len(head))]

        def fmt(r: tuple[str, ...]) -> str:
            return "  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])])

        lines = []
        if title:
            lines.append(title)
        lines.append(fmt(head))
        lines.append("  ".join("-" * w for w in widths))
        lines.extend(fmt(r) for r in rows)
        if not rows:
            lines.append("(no samples)")
        return "\n".join(lines)
