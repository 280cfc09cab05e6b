"""One stream of AR-Net streaming inference: the step engine with B = 1.

:class:`AdaptivePipeline` loads the policy and the backbones once (sha256 checked), and per
sampled frame runs ``resize → policy → (backbone)`` through the controller::

    pipe = AdaptivePipeline("artifacts/demo", backend="litert", precision="fp32", threads=4)
    for t, frame in frames:                  # uint8 RGB HxWx3
        ev = pipe.step(frame if pipe.needs_frame() else None, t=t)
        print(ev.kind, ev.resolution, ev.label, ev.top_k)

``mode="uniform"`` (biggest backbone on every frame, no policy), ``mode="uniform@<size>"`` (that
branch on every frame) and ``mode="smallest"`` (the policy's low head on every frame) are the
baselines ``bench.py`` compares against (:func:`edge_runtime.engine.mode_names`). The step
itself is :class:`edge_runtime.engine.StepEngine`'s, shared with ``MultiStreamPipeline``; the
rules are :class:`edge_runtime.controller.StreamingController`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from edge_runtime.controller import (KINDS, ControllerResult, FixedLambda, StreamingController,  # noqa: F401
                                     mean_in_order, scores_with_fallback, sigmoid64, softmax64, top_k_of)
from edge_runtime.engine import (MODES, Engines, StepEngine, StepEvent, action_names,  # noqa: F401
                                 ensure_rgb_uint8, mode_names)
from edge_runtime.manifest import Manifest
from edge_runtime.preprocess import SquareViews, center_square


class AdaptivePipeline(StepEngine):
    """AR-Net streaming inference on one model folder, one stream.

    manifest: a model folder / manifest.json path, or a loaded :class:`Manifest`.
    backend, precision: which artifacts to run (``fake`` = deterministic numpy stand-in, no files);
        precision ``"auto"`` picks the fastest that passed validation (:mod:`edge_runtime.precision`).
    allow_failed: load artifacts marked failed at export (refused otherwise), with a warning
        (``engine_warnings()``).
    threads: CPU threads of every engine; policy_threads: of the policy's engine alone (default
        ``threads``).
    window: sliding window in sampled frames (default ``sampling.frames_per_clip``).
    top_k, margin, hold: labels (STREAMING.md).
    mode: ``adaptive`` | ``uniform`` (biggest backbone every frame) | ``uniform@<size>`` (the branch
        of that resolution every frame) | ``smallest`` (policy's low head every frame).
    target_fps / target_mw / budget: budget control (:class:`edge_runtime.budget.BudgetController`).
    power: a ``PowerMonitor`` (``edge_runtime.telemetry``) polled every step; energy per event.
    backends: ``{artifact id: loaded backend}`` to inject engines (tests); skips loading files.
    engines: an :class:`~edge_runtime.engine.Engines` already loaded (shared with other pipelines).
    verify: check the sha256 of every artifact this pipeline loads.
    record_outputs: keep the raw model outputs on each event (golden traces).
    """

    def __init__(self, manifest: Manifest | str | Path | None = None, backend: str = "litert",
                 precision: str = "fp32", *, threads: int | None = None, policy_threads: int | None = None,
                 delegate: str | None = None,
                 delegate_options: dict | None = None, providers: Sequence[str] | None = None,
                 device: str | None = None, window: int | None = None, top_k: int = 3,
                 margin: float = 0.1, hold: int = 2, mode: str = "adaptive",
                 target_fps: float | None = None, target_mw: float | None = None, budget: Any = None,
                 power: Any = None, backends: dict | None = None, verify: bool = True,
                 record_outputs: bool = False, seed: int = 0, cuda_graphs: bool = True,
                 engines: Engines | None = None, allow_failed: bool = False) -> None:
        if engines is None:
            engines = Engines(manifest, backend, precision, mode=mode, threads=threads,
                              policy_threads=policy_threads, delegate=delegate,
                              delegate_options=delegate_options, providers=providers, device=device,
                              backends=backends, verify=verify, seed=seed, cuda_graphs=cuda_graphs,
                              allow_failed=allow_failed)
        super().__init__(engines, 1, mode=mode, window=window, top_k=top_k, margin=margin, hold=hold,
                         target_fps=target_fps, target_mw=target_mw, budget=budget, power=power,
                         record_outputs=record_outputs, resize_workers=1)
        self.ctrl = self.ctrls[0]

    @property
    def options(self) -> Any:
        return self.engines.options

    @property
    def artifacts(self) -> dict:
        return self.engines.artifacts

    @property
    def resize(self) -> str:
        return self.engines.resize

    def needs_frame(self) -> bool:
        """Whether the next sampled frame will be looked at (else skip decoding/resizing it)."""
        return self.mode != "adaptive" or self.ctrl.skip_remaining == 0

    @property
    def window(self) -> int:
        return self.ctrl.window

    def step(self, frame: Any = None, t: float | None = None, decode_ms: float | None = None) -> StepEvent:
        """Process one sampled frame (uint8 RGB HxWx3; None allowed when ``needs_frame()`` is
        False) and return its event."""
        return self._tick([0], {0: frame}, decode_ms, None if t is None else {0: t})[0]

    def _need_frame_msg(self, i: int) -> str:
        return "this step is a decision step: it needs a frame (check needs_frame())"

    def _view(self, i: int, frame: Any) -> SquareViews:
        return SquareViews(center_square(ensure_rgb_uint8(frame)), self.engines.resize)

    # ------------------------------------------------------------------ clips
    def clip_scores(self) -> np.ndarray | None:
        """Scores of the current window, with STREAMING.md's fallback when no frame was
        processed since ``clear()``: the mean of the low head's logits over the decision steps."""
        return self.stream_scores(0)

    def predict_clip(self, frames: Iterable[Any], lam: float | None = None
                     ) -> tuple[np.ndarray | None, list[StepEvent]]:
        """Offline parity API: the clip's T frames through the stream with window T, state cleared
        before and after. No budget bias (the PyTorch model has none) unless ``lam`` gives a fixed
        λ. Returns (class probabilities, events)."""
        frames = list(frames)
        if not frames:
            raise ValueError("predict_clip needs at least one frame")
        saved_window, saved_budget = self.ctrl.window, self.budget
        self.ctrl.resize_window(len(frames))
        self.budget = FixedLambda(self.manifest, lam) if lam else None
        try:
            self.clear()
            events = [self.step(f if self.needs_frame() else None) for f in frames]
            probs = self.clip_scores()
        finally:
            self.ctrl.resize_window(saved_window)
            self.budget = saved_budget
            self.clear()
        return probs, events

    def run(self, source: Any, max_steps: int | None = None) -> Iterator[StepEvent]:
        """Events for a source's sampled frames (see :mod:`edge_runtime.sources`)."""
        n = 0
        for sf in source.frames(self.needs_frame):
            if max_steps is not None and n >= max_steps:
                break
            yield self.step(sf.frame, t=sf.t, decode_ms=sf.decode_ms)
            n += 1
