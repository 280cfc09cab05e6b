"""Many streams through one set of engines, batched: the GPU's way to use AR-Net.

At batch 1 a GPU is latency-bound: a 128 px branch costs nearly what the 224 px one does, so
skipping resolution saves little time per stream
(docs/RESULTS.md, "Runtime on the GPU: torch backend, CUDA graphs (goal: adaptive step ≤ 0.6× uniform)").
With B streams each tick runs the policy once on the B streams that need a decision, then each
branch once on the streams that chose it: the work per stream follows the GMACs again.

    ms = MultiStreamPipeline("artifacts/edge_fast", streams=8, backend="torch", device="cuda")
    events = ms.step({i: frame_i for i in range(8)})      # {stream: StepEvent}

The step is :class:`edge_runtime.engine.StepEngine`'s, as for one stream: per stream its own
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

from typing import Any

import numpy as np

from edge_runtime.engine import Engines, StepEngine
from edge_runtime.preprocess import ViewBatcher, default_resize_workers  # noqa: F401


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


class MultiStreamPipeline(StepEngine):
    """B streams of AR-Net streaming inference sharing one set of (batched) engines.

    streams: number of streams B (their indices are 0 … B-1).
    The other arguments are :class:`~edge_runtime.pipeline.AdaptivePipeline`'s (engines load
    once, sha256 checked; or ``engines=`` shares loaded ones); ``mode`` is ``adaptive`` |
    ``uniform`` | ``uniform@<size>`` | ``smallest`` as there.
    resize_workers: threads that resize a tick's frames (:class:`ViewBatcher`; default
    :func:`default_resize_workers`)."""

    def __init__(self, manifest: Any = None, streams: int = 1, backend: str = "litert", precision: str = "fp32", *,
                 mode: str = "adaptive", window: int | None = None, top_k: int = 3, margin: float = 0.1,
                 hold: int = 2, resize_workers: int | None = None, target_fps: float | None = None,
                 target_mw: float | None = None, budget: Any = None, power: Any = None,
                 record_outputs: bool = False, engines: Engines | None = None, **engine_kw: Any) -> None:
        if int(streams) < 1:
            raise ValueError(f"streams must be >= 1, got {streams}")
        if engines is None:
            engines = Engines(manifest, backend, precision, mode=mode, **engine_kw)
        super().__init__(engines, streams, mode=mode, window=window, top_k=top_k, margin=margin, hold=hold,
                         target_fps=target_fps, target_mw=target_mw, budget=budget, power=power,
                         record_outputs=record_outputs, resize_workers=resize_workers)

    @property
    def pipe(self) -> Engines:
        """The loaded networks (``policy``, ``models``, ``backbones``, ``sizes``, ...)."""
        return self.engines

    def needs_frame(self, i: int) -> bool:
        """Whether stream ``i``'s next sampled frame will be looked at."""
        return self.stream_needs_frame(i)

    def clip_scores(self, i: int) -> np.ndarray | None:
        """Stream ``i``'s window scores, with the low-head fallback (as ``AdaptivePipeline``)."""
        return self.stream_scores(i)

    # one sampled frame for each stream in ``frames`` ({stream: uint8 RGB frame, or None when
    # ``needs_frame(stream)`` is False}): the engine's tick itself, no wrapper call per tick
    step = StepEngine.tick
