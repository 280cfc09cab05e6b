"""Many streams through one set of engines, batched: the GPU's way to use AR-Net.

At batch 1 a GPU is latency-bound: a 128 px branch costs nearly what the 224 px one does, so
skipping resolution saves little time per stream (docs/RESULTS.md §4.2). With B streams each
tick runs the policy once on the B streams that need a decision, then each branch once on the
streams that chose it: the work per stream follows the GMACs again.

    ms = MultiStreamPipeline("artifacts/edge_fast", streams=8, backend="torch", device="cuda")
    events = ms.step({i: frame_i for i in range(8)})      # {stream: StepEvent}

Per stream everything is :class:`edge_runtime.pipeline.AdaptivePipeline`'s: its own
:class:`StreamingController` (skips, window, labels, hysteresis), LSTM state and low-head
fallback, so stream i's events equal a one-stream pipeline's on the same frames (up to the
engines' batched arithmetic). A stream inside a skip takes no frame (``needs_frame(i)`` is
False). A tick's ``ms`` (resize, policy, backbone, step) is the whole tick's, shared by its
streams. The torch and ONNX Runtime (dynamic batch) and LiteRT (one interpreter per row count)
backends run a batch in one call; ExecuTorch runs the rows one by one: correct, not faster.
Budget control (``target_fps`` / ``target_mw``): one λ biases every stream's policy, updated once
per tick with the tick rate (each stream's sampled-frame rate) and the device's power.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Sequence

import numpy as np

from edge_runtime.pipeline import (AdaptivePipeline, StepEvent, StreamingController, after_tick,
                                   ensure_rgb_uint8, scores_with_fallback)
from edge_runtime.preprocess import SquareViews, center_square


def next_tick(gens: dict, errors: dict | None = None) -> dict:
    """One sampled frame from each stream's ``source.frames(...)`` generator: {stream: SampledFrame}.
    A stream whose source has ended is removed from ``gens``; {} once every one has.

    errors: when given, a stream whose source fails for good (``SourceError``: a camera gone after
    its reconnect attempts, a broken stream) is removed too and ``errors[stream]`` holds the
    message, so the other streams go on; without it the error propagates."""
    from edge_runtime.sources import SourceError
    got = {}
    for i in list(gens):
        try:
            got[i] = next(gens[i])
        except StopIteration:
            del gens[i]
        except SourceError as e:
            if errors is None:
                raise
            errors[i] = str(e)
            del gens[i]
    return got


class ViewBatcher:
    """Stacks the streams' views at one size into one uint8 batch, resizing in parallel.

    OpenCV releases the GIL while it resizes, so up to ``workers`` threads (the caller's
    included) each fill a contiguous slice of the batch's rows: with many streams, or
    camera-sized frames, the resizes would otherwise dominate a tick whose networks run on a GPU.
    Threads are woken only when the batch reads at least ``min_pixels`` source pixels (the
    largest image each view still has to resize from: the whole frame before the pyramid's
    halvings are made, a small level after): waking a thread costs more than it saves on a few
    small frames. Each row is computed exactly as one stream would compute it (bit-identical
    whatever the threads). workers=1 runs in the calling thread only."""

    def __init__(self, workers: int = 1, min_pixels: int = 1_000_000) -> None:
        if int(workers) < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = int(workers)
        self.min_pixels = int(min_pixels)
        self.parallel_calls = 0   # batches that used the threads
        self._pool: ThreadPoolExecutor | None = None

    def batch(self, views: Sequence[SquareViews], size: int) -> np.ndarray:
        n = len(views)
        out = np.empty((n, size, size, 3), np.uint8)

        def fill(lo: int, hi: int) -> None:
            for j in range(lo, hi):
                views[j].get(size, dst=out[j])

        k = min(self.workers, n)
        if k <= 1 or sum(v.levels[-1].shape[0] * v.levels[-1].shape[1] for v in views) < self.min_pixels:
            fill(0, n)
            return out
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers - 1, thread_name_prefix="arnet-resize")
        self.parallel_calls += 1
        cut = [n * w // k for w in range(k + 1)]
        futs = [self._pool.submit(fill, cut[w], cut[w + 1]) for w in range(1, k)]
        fill(cut[0], cut[1])
        for f in futs:
            f.result()
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def default_resize_workers(streams: int, cores: int | None = None) -> int:
    """Threads that may resize a tick's frames: one per CPU core, at most 8 and at most
    ``streams`` (they wake only for big batches: :class:`ViewBatcher`)."""
    cores = (os.cpu_count() or 1) if cores is None else int(cores)
    return max(1, min(int(streams), cores, 8))


class MultiStreamPipeline:
    """B streams of AR-Net streaming inference sharing one set of (batched) engines.

    streams: number of streams B (their indices are 0 … B-1).
    The other arguments are :class:`AdaptivePipeline`'s (engines load once, sha256 checked);
    ``mode`` is ``adaptive`` | ``uniform`` | ``smallest`` as there.
    resize_workers: threads that resize a tick's frames (:class:`ViewBatcher`; default
    :func:`default_resize_workers`)."""

    def __init__(self, manifest: Any, streams: int, backend: str = "litert", precision: str = "fp32", *,
                 mode: str = "adaptive", window: int | None = None, top_k: int = 3, margin: float = 0.1,
                 hold: int = 2, resize_workers: int | None = None, **engine_kw: Any) -> None:
        if int(streams) < 1:
            raise ValueError(f"streams must be >= 1, got {streams}")
        if resize_workers is not None and int(resize_workers) < 1:
            raise ValueError(f"resize_workers must be >= 1, got {resize_workers}")
        self.pipe = AdaptivePipeline(manifest, backend=backend, precision=precision, mode=mode,
                                     window=window, top_k=top_k, margin=margin, hold=hold, **engine_kw)
        p = self.pipe
        self.manifest, self.mode, self.L = p.manifest, p.mode, p.L
        self.B = int(streams)
        # budget and power (built by the one-stream pipeline from target_fps / target_mw / budget /
        # power): one λ for every stream, updated once per tick with the tick rate and the power
        self.budget, self.power, self.energy = p.budget, p.power, p.energy
        self._ema_ms: float | None = None
        self.ctrls = [StreamingController.from_manifest(p.manifest, window=window, top_k=top_k,
                                                        margin=margin, hold=hold) for _ in range(self.B)]
        self.h = np.zeros((self.B, p.manifest.hidden), np.float32)
        self.c = np.zeros((self.B, p.manifest.hidden), np.float32)
        self._low_acc = np.zeros((self.B, p.manifest.num_classes), np.float64)
        self._low_n = np.zeros(self.B, np.int64)
        self.t_index = np.zeros(self.B, np.int64)
        self.steps = 0
        self.resizer = ViewBatcher(default_resize_workers(self.B) if resize_workers is None
                                   else int(resize_workers))

    def close(self) -> None:
        """Stop the resize threads (the pipeline stays usable: they restart on the next tick)."""
        self.resizer.close()

    @property
    def backend_name(self) -> str:
        return self.pipe.backend_name

    # ------------------------------------------------------------------ state
    def _check(self, i: int) -> int:
        if not 0 <= int(i) < self.B:
            raise ValueError(f"stream {i} does not exist; streams are 0..{self.B - 1}")
        return int(i)

    def clear(self, i: int | None = None) -> None:
        """Reset stream ``i`` (every stream when None): state, skips, window, label."""
        for j in (range(self.B) if i is None else [self._check(i)]):
            self.ctrls[j].clear()
            self.h[j] = 0.0
            self.c[j] = 0.0
            self._low_acc[j] = 0.0
            self._low_n[j] = 0
            self.t_index[j] = 0

    def needs_frame(self, i: int) -> bool:
        """Whether stream ``i``'s next sampled frame will be looked at."""
        return self.mode != "adaptive" or self.ctrls[self._check(i)].needs_frame

    def clip_scores(self, i: int) -> np.ndarray | None:
        """Stream ``i``'s window scores, with the low-head fallback (as ``AdaptivePipeline``)."""
        i = self._check(i)
        return scores_with_fallback(self.ctrls[i], self._low_acc[i], int(self._low_n[i]),
                                    self.manifest.multi_label)

    def warm(self) -> None:
        """Call every engine once at every row count a tick can give it (1, 2, 4, … and B): a
        CUDA-graph backend captures its batch buckets here rather than inside a timed tick."""
        p = self.pipe
        counts = sorted({min(self.B, 1 << k) for k in range(self.B.bit_length() + 1)} | {self.B})
        for mid, eng in p.models.items():
            size = p.sizes[-1] if eng is p.policy else next(
                a.size for a in self.manifest.actions[:self.L] if a.backbone == mid)
            for n in counts:
                x = {"frame": np.zeros((n, size, size, 3), np.uint8)}
                if eng is p.policy:
                    x["h"] = np.zeros((n, self.manifest.hidden), np.float32)
                    x["c"] = np.zeros((n, self.manifest.hidden), np.float32)
                eng.run_batch(x, n)

    # ------------------------------------------------------------------ one tick
    @property
    def measured_fps(self) -> float | None:
        """Ticks per second this device sustains (EMA of the tick's wall time, decode included
        when ``step`` is told it): each stream's sampled-frame rate, what ``target_fps`` steers."""
        return 1000.0 / self._ema_ms if self._ema_ms else None

    def step(self, frames: Mapping[int, Any], decode_ms: float | None = None) -> dict[int, StepEvent]:
        """One sampled frame for each stream in ``frames`` ({stream: uint8 RGB frame, or None
        when ``needs_frame(stream)`` is False}); streams not in it do not advance. Returns
        {stream: its event}. decode_ms: the time spent getting this tick's frames (budget)."""
        p, m = self.pipe, self.manifest
        t0 = time.perf_counter()
        ids = sorted(self._check(i) for i in frames)
        dec = [i for i in ids if self.needs_frame(i)]
        for i in dec:
            if frames[i] is None:
                raise ValueError(f"stream {i}: this step is a decision step and needs a frame "
                                 f"(check needs_frame({i}))")
        views = [self._view(i, frames[i]) for i in dec]   # a bad frame fails before any state moves
        results: dict[int, tuple] = {}   # stream -> (controller result, resolution, skip F, GMACs)
        for i in ids:
            if i not in dec:
                r = self.ctrls[i].skipped()
                results[i] = (r, None, self.ctrls[i].skip_lengths[r.action - self.L], 0.0)
        ms = {"resize": 0.0, "policy": 0.0, "backbone": 0.0}
        if dec:
            if self.mode == "uniform" and self.L > 1:
                ta = time.perf_counter()
                big = self.resizer.batch(views, p.sizes[0])
                tb = time.perf_counter()
                out = p.backbones[0].run_batch({"frame": big}, len(dec))
                ms["resize"] = (tb - ta) * 1000.0
                ms["backbone"] = (time.perf_counter() - tb) * 1000.0
                for k, i in enumerate(dec):
                    r = self.ctrls[i].commit(0, out["class_logits"][k])
                    results[i] = (r, p.sizes[0], None, float(m.costs["actions"][0]))
            else:
                self._policy_tick(dec, views, results, ms)
        step_ms = (time.perf_counter() - t0) * 1000.0
        ms["step"] = step_ms
        if decode_ms is not None:
            ms["decode"] = float(decode_ms)
        lam, power_mw, energy, battery = after_tick(self, step_ms + (decode_ms or 0.0),
                                                    [results[i][0].kind == "resolution" for i in ids])
        events = {}
        for i in ids:
            r, res, skip_f, gm = results[i]
            events[i] = StepEvent(
                step=int(self.t_index[i]), t=float(self.t_index[i]) * p.seconds_per_step, kind=r.kind,
                action=r.action, action_name=p.names[r.action], resolution=res, skip=skip_f,
                top_k=[(p.labels[c], s) for c, s in r.top],
                label=None if r.label is None else p.labels[r.label], ms=dict(ms), gmacs=gm, top=r.top,
                scores=r.scores, lam=lam, power_mw=power_mw, energy_mj=energy, battery_pct=battery)
            self.t_index[i] += 1
        self.steps += 1
        return events

    def _view(self, i: int, frame: Any) -> SquareViews:
        try:
            return SquareViews(center_square(ensure_rgb_uint8(frame)), self.pipe.resize)
        except ValueError as e:   # a bad frame: say whose
            raise ValueError(f"stream {i}: {e}") from None

    def _policy_tick(self, dec: list[int], views: list, results: dict, ms: dict) -> None:
        p, m = self.pipe, self.manifest
        n = len(dec)
        ta = time.perf_counter()
        low = self.resizer.batch(views, p.sizes[-1])
        tb = time.perf_counter()
        out = p.policy.run_batch({"frame": low, "h": self.h[dec], "c": self.c[dec]}, n)
        tc = time.perf_counter()
        ms["resize"] += (tb - ta) * 1000.0
        ms["policy"] = (tc - tb) * 1000.0
        self.h[dec] = out["h"].reshape(n, -1)
        self.c[dec] = out["c"].reshape(n, -1)
        low_logits = out["class_logits"].reshape(n, -1)
        self._low_acc[dec] += low_logits
        self._low_n[dec] += 1
        if self.mode == "adaptive":
            bias = self.budget.bias() if self.budget is not None else None
            acts = [self.ctrls[i].choose(out["action_logits"][k], bias) for k, i in enumerate(dec)]
        else:
            acts = [self.L - 1] * n
        logits: list = [None] * n
        for a in sorted({a for a in acts if a < self.L - 1}):
            rows = [k for k in range(n) if acts[k] == a]
            td = time.perf_counter()
            big = self.resizer.batch([views[k] for k in rows], p.sizes[a])
            te = time.perf_counter()
            bout = p.backbones[a].run_batch({"frame": big}, len(rows))
            ms["resize"] += (te - td) * 1000.0
            ms["backbone"] += (time.perf_counter() - te) * 1000.0
            for j, k in enumerate(rows):
                logits[k] = bout["class_logits"][j]
        for k, i in enumerate(dec):
            a = acts[k]
            lg = logits[k] if a < self.L - 1 else (low_logits[k] if a == self.L - 1 else None)
            r = self.ctrls[i].commit(a, lg)
            res = p.sizes[a] if a < self.L else None
            skip_f = self.ctrls[i].skip_lengths[a - self.L] if a >= self.L else None
            results[i] = (r, res, skip_f, m.action_cost(a))
