"""The step engine: one model's networks, loaded once, stepping 1..B streams.

:class:`Engines` loads the policy and the backbones a mode needs (sha256 checked) and says which
resolution each takes. :class:`StepEngine` runs B ≥ 1 streams through them, one *tick* at a time
(one sampled frame of each stream that advances): per stream a
:class:`~edge_runtime.controller.StreamingController`, LSTM state and the low head's fallback;
per tick one policy call on the streams that need a decision, one call per branch on the streams
that chose it (a batch of rows where the backend has one), then one budget update and one
power sample. Every tick yields one :class:`StepEvent` per stream (docs/EVENTS.md), and
:meth:`StepEngine.summary` has one shape for any number of streams.

``AdaptivePipeline`` (one stream, ``step(frame)``) and ``MultiStreamPipeline`` (``step({i:
frame})``) are this engine; golden replay and the budget share its routing
(:meth:`~edge_runtime.controller.StreamingController.settle`).

Modes (:func:`mode_names` lists a model's): ``adaptive`` (the policy decides) and one *uniform*
mode per branch, which runs that branch on every frame: ``uniform@<size>`` for the resolution
``size`` of the manifest. ``uniform`` is the top branch (the biggest backbone, no policy; the same
as ``uniform@<s_0>``) and ``smallest`` the lowest one (the policy's own low-resolution head; the
same as ``uniform@<s_L-1>``); an intermediate branch ``i`` runs backbone ``i`` alone. These are
the baselines ``bench.py`` compares against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from edge_runtime.controller import StreamingController, scores_with_fallback
from edge_runtime.manifest import Manifest, ManifestError, load_manifest
from edge_runtime.preprocess import SquareViews, ViewBatcher, center_square, default_resize_workers

_UINT8 = np.dtype(np.uint8)
_add = np.add
_NO_TELEMETRY = (None, None, None, None)   # a tick's λ, power, energy, battery without budget or power
MODES = ("adaptive", "uniform", "smallest")   # the named modes; every model also has uniform@<size>
UNIFORM_AT = "uniform@"


# =============================================================================== events
@dataclass
class StepEvent:
    """One sampled frame of one stream, as the runtime reports it (a JSON line via
    :meth:`to_dict`; the schema is docs/EVENTS.md)."""
    step: int
    t: float
    kind: str                          # resolution | skip | skipped
    action: int
    action_name: str
    resolution: int | None             # resolution actions
    skip: int | None                   # skip / skipped: F of the skip action
    top_k: list                        # [(label, score)]
    label: str | None                  # displayed label (hysteresis)
    ms: dict                           # per stage of the tick: decode?, resize, policy, backbone, step
    gmacs: float                       # GMACs spent on this frame
    top: list = field(default_factory=list)     # [(class index, score)]
    scores: Any = None                 # float64 class scores (not serialised)
    lam: float | None = None           # budget λ in effect (None without a budget)
    power_mw: float | None = None
    energy_mj: float | None = None     # cumulative since start/clear
    battery_pct: float | None = None
    outputs: dict | None = None        # raw model outputs when record_outputs=True
    stream: int = 0                    # which stream (0 for a one-stream pipeline)

    def to_dict(self) -> dict:
        d = {"stream": self.stream, "step": self.step, "t": round(self.t, 6), "kind": self.kind,
             "action": self.action, "action_name": self.action_name}
        if self.resolution is not None:
            d["resolution"] = self.resolution
        if self.skip is not None:
            d["skip"] = self.skip
        d["top_k"] = [[lab, round(sc, 6)] for lab, sc in self.top_k]
        d["label"] = self.label
        d["ms"] = {k: round(v, 4) for k, v in self.ms.items()}
        d["gmacs"] = round(self.gmacs, 6)
        if self.lam is not None:
            d["lambda"] = round(self.lam, 6)
        for k in ("power_mw", "energy_mj", "battery_pct"):
            v = getattr(self, k)
            if v is not None:
                d[k] = round(v, 3)
        return d


def action_names(m: Manifest) -> list[str]:
    return [f"res{a.size}" if a.kind == "resolution" else f"skip{a.frames}" for a in m.actions]


def ensure_rgb_uint8(frame: Any) -> np.ndarray:
    """A uint8 HxWx3 RGB view of ``frame``: grayscale (HxW, HxWx1) is replicated to 3 channels,
    RGBA drops alpha; anything else is a ValueError that says what came in."""
    x = np.asarray(frame)
    if x.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 RGB, got dtype {x.dtype} shape {tuple(x.shape)}")
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"frames must be HxWx3 (or HxW grayscale), got shape {tuple(x.shape)}")
    c = x.shape[2]
    if c == 3:
        return x
    if c == 1:
        return np.repeat(x, 3, axis=2)
    if c == 4:
        return x[:, :, :3]
    raise ValueError(f"frames must have 1, 3 or 4 channels, got shape {tuple(x.shape)}")


def mode_names(m: Manifest) -> list[str]:
    """The modes of model ``m``, in branch order: ``adaptive``, ``uniform`` (top branch),
    ``uniform@<size>`` per intermediate branch, ``smallest`` (lowest branch; absent when the
    model has one resolution, where ``uniform`` is that branch)."""
    sizes = list(m.resolutions)
    names = ["adaptive", "uniform"] + [f"{UNIFORM_AT}{s}" for s in sizes[1:-1]]
    return names + (["smallest"] if len(sizes) > 1 else [])


def resolve_mode(m: Manifest, mode: str) -> tuple[str, int | None]:
    """``(canonical name, branch index)`` of a mode of model ``m``: ``("adaptive", None)``; a
    uniform mode's branch ``i`` (``uniform`` = 0, ``smallest`` = L-1, ``uniform@<size>`` = the
    index of ``size``; ``uniform@<s_0>`` is named ``uniform`` and ``uniform@<s_L-1>``
    ``smallest``). Anything else is a ValueError naming the mode and listing this model's."""
    L = m.num_resolutions
    sizes = [int(s) for s in m.resolutions]
    i: int | None = None
    if mode == "adaptive":
        return "adaptive", None
    if mode == "uniform":
        i = 0
    elif mode == "smallest":
        i = L - 1
    elif isinstance(mode, str) and mode.startswith(UNIFORM_AT) and mode[len(UNIFORM_AT):].isdigit() \
            and int(mode[len(UNIFORM_AT):]) in sizes:
        i = sizes.index(int(mode[len(UNIFORM_AT):]))
    if i is None:
        raise ValueError(f"mode {mode!r} is not one of {mode_names(m)} (this model's resolutions: "
                         f"{', '.join(map(str, sizes))}; uniform@<size> runs that branch on every frame, "
                         f"uniform = uniform@{sizes[0]}"
                         + (f", smallest = uniform@{sizes[-1]})" if L > 1 else ")"))
    if i == 0:
        return "uniform", 0
    if i == L - 1:
        return "smallest", i
    return f"{UNIFORM_AT}{sizes[i]}", i


def networks_for(m: Manifest, mode: str) -> list[str]:
    """The artifact ids a mode runs: the policy (adaptive, and the lowest branch: ``smallest``,
    or ``uniform`` of a one-resolution model), the branches (adaptive), one backbone (any other
    uniform mode: ``uniform`` the biggest)."""
    L = m.num_resolutions
    _, branch = resolve_mode(m, mode)
    if branch is None:
        return ["policy"] + [a.backbone for a in m.actions[:L - 1]]
    if branch == L - 1:
        return ["policy"]
    return [m.actions[branch].backbone]


def _run(engine: Any, inputs: dict, n: int) -> dict:
    """One call of a network on n rows: ``run`` for one row, ``run_batch`` for several."""
    return engine.run(inputs) if n == 1 else engine.run_batch(inputs, n)


# =============================================================================== engines
class Engines:
    """The networks of one model folder for one mode, loaded once.

    manifest: a model folder / manifest.json path, or a loaded :class:`Manifest`.
    backend, precision: which artifacts to run (``fake`` = deterministic numpy stand-in, no files).
    threads: CPU threads of every engine; policy_threads: of the policy's engine alone.
    backends: ``{artifact id: loaded backend}`` to inject engines (tests); skips loading files.
    verify: check the sha256 of every artifact loaded.
    precision ``"auto"``: :func:`edge_runtime.precision.choose_precision` picks it (``precision`` is
        then the one chosen, ``precision_choice`` says why).
    allow_failed: load artifacts marked failed at export (refused otherwise), with one warning in
        :meth:`engine_warnings`."""

    def __init__(self, manifest: Manifest | str | Path, backend: str = "litert", precision: str = "fp32",
                 *, mode: str = "adaptive", threads: int | None = None, policy_threads: int | None = None,
                 delegate: str | None = None, delegate_options: dict | None = None,
                 providers: Sequence[str] | None = None, device: str | None = None,
                 backends: dict | None = None, verify: bool = True, seed: int = 0,
                 cuda_graphs: bool = True, allow_failed: bool = False) -> None:
        from edge_runtime.backends import BackendOptions, check_backend_name
        from edge_runtime.manifest import PRECISIONS
        from edge_runtime.precision import AUTO, check_failed, choose_precision

        m = manifest if isinstance(manifest, Manifest) else load_manifest(manifest, verify=False)
        self.manifest = m
        self.mode, self.branch = resolve_mode(m, mode)
        self.backend_name = check_backend_name(backend) if backends is None else backend
        if precision not in PRECISIONS + (AUTO,):
            raise ManifestError(f"unknown precision {precision!r}; valid choices: {', '.join(PRECISIONS + (AUTO,))}"
                                + (f" (this model has {', '.join(m.precisions(backend)) or 'none'} "
                                   f"for backend {backend!r})" if backend in m.backends() else ""))
        self.precision_choice = None
        if precision == AUTO:
            self.precision_choice = choose_precision(m, self.backend_name, allow_failed=allow_failed)
            precision = self.precision_choice.precision
        self.precision = precision
        self.allow_failed = allow_failed
        self._warnings: list[str] = []
        self.L = m.num_resolutions
        self.labels = list(m.labels)
        self.names = action_names(m)
        self.seconds_per_step = float(m.sampling["seconds_per_step"])
        if policy_threads is not None and int(policy_threads) < 1:
            raise ValueError(f"policy_threads must be >= 1, got {policy_threads}")
        self.options = BackendOptions(threads=threads, delegate=delegate,
                                      delegate_options=dict(delegate_options or {}),
                                      providers=list(providers) if providers else None, device=device,
                                      cuda_graphs=cuda_graphs, normalization=m.normalization)
        need = networks_for(m, mode)
        self.models: dict[str, Any] = {}
        self.artifacts: dict[str, Any] = {}
        if backends is not None:
            missing = [i for i in need if i not in backends]
            if missing:
                raise ValueError(f"backends= lacks {missing} (needs {need})")
            self.models = {i: backends[i] for i in need}
        elif backend == "fake":
            from edge_runtime.backends.fake import FakeBackend
            self.models = {i: FakeBackend.for_manifest(m, i, seed=seed, options=self.options) for i in need}
        else:
            from edge_runtime.backends import create_backend
            paths = {}
            arts = {i: m.find(i, backend, precision) for i in need}
            note = check_failed(m, backend, precision, list(arts.values()), allow_failed)
            self._warnings += [note] if note else []
            for i in need:  # every file checked before any engine loads one
                art = arts[i]
                paths[i] = m.verify(art) if verify else m.artifact_path(art)
                self.artifacts[i] = art
            for i in need:
                opts = self.options
                if i == "policy" and policy_threads is not None:
                    opts = replace(opts, threads=policy_threads)
                self.models[i] = create_backend(backend, paths[i], self.artifacts[i], opts)
        self.policy = self.models.get("policy")
        self.backbones = [self.models.get(a.backbone) if a.backbone != "policy" else None
                          for a in m.actions[:self.L - 1]]
        self.sizes = list(m.resolutions)
        self.resize = m.resize
        self._check_sizes()

    def _check_sizes(self) -> None:
        for i, mod in self.models.items():
            fs = getattr(mod, "frame_size", lambda: None)()
            if fs is not None and fs != self.size_of(i):
                raise ManifestError(f"artifact {i!r} takes {fs}x{fs} frames but the manifest runs it at "
                                    f"{self.size_of(i)}x{self.size_of(i)}")

    def size_of(self, artifact_id: str) -> int:
        """The frame size a network runs at."""
        m = self.manifest
        if artifact_id == "policy":
            return m.resolutions[-1]
        return next(a.size for a in m.actions[:self.L] if a.backbone == artifact_id)

    def engine_warnings(self) -> list[str]:
        """What the engines reported at load (e.g. a delegate that took none of a graph), one line
        per distinct report with the networks it concerns."""
        by: dict[str, list[str]] = {}
        for i, mod in self.models.items():
            w = getattr(mod, "warning", None)
            if w:
                by.setdefault(w, []).append(i)
        return list(self._warnings) + [f"{', '.join(ids)}: {w}" for w, ids in by.items()]

    def describe(self) -> dict:
        """Per network: engine, threads, delegates, providers, device, CUDA graph, warning."""
        return {i: {k: getattr(mod, k) for k in ("engine", "threads", "delegates", "xnnpack_partitions",
                                                  "providers", "device", "cuda_graph", "warning")
                    if getattr(mod, k, None) is not None}
                for i, mod in self.models.items()}


# =============================================================================== the step
class StepEngine:
    """B ≥ 1 streams of AR-Net streaming inference on one :class:`Engines`.

    engines: the loaded networks (:class:`Engines`; its mode unless ``mode`` is given, which
        must only need networks it holds).
    streams: number of streams B (indices 0 … B-1).
    window, top_k, margin, hold: labels (STREAMING.md).
    target_fps / target_mw / budget: budget control (:class:`edge_runtime.budget.BudgetController`):
        one λ biases every stream, updated once per tick with the tick rate and the power.
    power: a ``PowerMonitor`` (``edge_runtime.telemetry``) polled once per tick.
    record_outputs: keep the raw model outputs on each event (golden traces).
    resize_workers: threads that resize a tick's frames (:class:`ViewBatcher`)."""

    def __init__(self, engines: Engines, streams: int = 1, *, mode: str | None = None,
                 window: int | None = None, top_k: int = 3, margin: float = 0.1, hold: int = 2,
                 target_fps: float | None = None, target_mw: float | None = None, budget: Any = None,
                 power: Any = None, record_outputs: bool = False, resize_workers: int | None = None) -> None:
        if int(streams) < 1:
            raise ValueError(f"streams must be >= 1, got {streams}")
        if resize_workers is not None and int(resize_workers) < 1:
            raise ValueError(f"resize_workers must be >= 1, got {resize_workers}")
        mode, branch = resolve_mode(engines.manifest, engines.mode if mode is None else mode)
        missing = [i for i in networks_for(engines.manifest, mode) if i not in engines.models]
        if missing:
            raise ValueError(f"mode {mode!r} needs networks {missing} that these engines did not load")
        self.engines = e = engines
        self.manifest, self.mode, self.L = e.manifest, mode, e.L
        self.branch = branch                              # the uniform modes' branch; None: adaptive
        self._policy_runs = branch is None or branch == e.L - 1   # adaptive or smallest
        self.labels, self.names, self.sizes = e.labels, e.names, e.sizes
        self.seconds_per_step = e.seconds_per_step
        self.B = int(streams)
        m = self.manifest
        self.ctrls = [StreamingController.from_manifest(m, window=window, top_k=top_k, margin=margin,
                                                        hold=hold) for _ in range(self.B)]
        self.record_outputs = bool(record_outputs)
        if budget is None and (target_fps or target_mw):
            from edge_runtime.budget import BudgetController
            budget = BudgetController.for_model(m, backend=e.backend_name, precision=e.precision,
                                                target_fps=target_fps, target_mw=target_mw)
        self.budget = budget
        self.power = power if (power is not None and getattr(power, "available", True)) else None
        from edge_runtime.telemetry import EnergyIntegrator
        self.energy = EnergyIntegrator()
        self.resizer = ViewBatcher(default_resize_workers(self.B) if resize_workers is None
                                   else int(resize_workers))
        self._cost = [m.action_cost(a) for a in range(len(m.actions))]
        self._bb_ids = [a.backbone for a in m.actions[:self.L]]
        # per action, the backbone a decision runs (None: the policy's own head, a skip)
        self._bb_ran = [self._bb_ids[a] if a < self.L - 1 else None for a in range(len(m.actions))]
        self._state_shape = (1, m.hidden)                # one stream's LSTM state as the policy gives it
        self.h = np.zeros((self.B, m.hidden), np.float32)
        self.c = np.zeros((self.B, m.hidden), np.float32)
        self._low_acc = np.zeros((self.B, m.num_classes), np.float64)
        self._low_rows = list(self._low_acc)   # its rows as views: one stream's in-place add
        self._low_n = [0] * self.B
        self.t_index = [0] * self.B                      # sampled frames since clear(), per stream
        self.reset_telemetry()

    # ------------------------------------------------------------------ engines
    @property
    def models(self) -> dict:
        return self.engines.models

    @property
    def policy(self) -> Any:
        return self.engines.policy

    @property
    def backbones(self) -> list:
        return self.engines.backbones

    @property
    def backend_name(self) -> str:
        return self.engines.backend_name

    @property
    def precision(self) -> str:
        return self.engines.precision

    def engine_warnings(self) -> list[str]:
        return self.engines.engine_warnings()

    def close(self) -> None:
        """Stop the resize threads (the engine stays usable: they restart on the next tick)."""
        self.resizer.close()

    def warm(self) -> None:
        """Call every engine once at every row count a tick can give it (1, 2, 4, … and B): a
        CUDA-graph backend captures its batch buckets here rather than inside a timed tick."""
        e, m = self.engines, self.manifest
        counts = sorted({min(self.B, 1 << k) for k in range(self.B.bit_length() + 1)} | {self.B})
        for mid, eng in e.models.items():
            size = e.size_of(mid)
            for n in counts:
                x = {"frame": np.zeros((n, size, size, 3), np.uint8)}
                if eng is e.policy:
                    x["h"] = np.zeros((n, m.hidden), np.float32)
                    x["c"] = np.zeros((n, m.hidden), np.float32)
                eng.run_batch(x, n)

    # ------------------------------------------------------------------ state
    def _check(self, i: int) -> int:
        if type(i) is int and 0 <= i < self.B:   # the usual stream id, as it is
            return i
        if not 0 <= int(i) < self.B:
            raise ValueError(f"stream {i} does not exist; streams are 0..{self.B - 1}")
        return int(i)

    def clear(self, i: int | None = None) -> None:
        """Reset stream ``i`` (every stream when None): LSTM state, skips, window, displayed label
        (telemetry is kept)."""
        for j in (range(self.B) if i is None else [self._check(i)]):
            self.ctrls[j].clear()
            self.h[j] = 0.0
            self.c[j] = 0.0
            self._low_acc[j] = 0.0
            self._low_n[j] = 0
            self.t_index[j] = 0

    def reset_telemetry(self) -> None:
        """Forget latency, accounting, energy and counts (state and λ are kept)."""
        from edge_runtime.telemetry import CostAccounting, LatencyStats
        self.latency = LatencyStats()
        self.accounting = CostAccounting(self.manifest)
        self.energy.reset()
        self.steps = 0                                   # ticks
        self.gmacs_total = 0.0
        self.stream_steps = [0] * self.B
        self.stream_gmacs = [0.0] * self.B
        self.stream_actions = [[0] * len(self.names) for _ in range(self.B)]   # decisions per action
        self.stream_label: list = [None] * self.B
        self._ema_ms: float | None = None

    def stream_needs_frame(self, i: int) -> bool:
        """Whether stream ``i``'s next sampled frame will be looked at (else skip decoding it)."""
        return self.mode != "adaptive" or self.ctrls[self._check(i)].skip_remaining == 0

    def stream_scores(self, i: int) -> np.ndarray | None:
        """Stream ``i``'s window scores, with STREAMING.md's fallback when no frame was processed
        since ``clear()``: the mean of the low head's logits over the decision steps."""
        i = self._check(i)
        return scores_with_fallback(self.ctrls[i], self._low_acc[i], self._low_n[i],
                                    self.manifest.multi_label)

    @property
    def measured_fps(self) -> float | None:
        """Ticks per second this device sustains (EMA of the tick's wall time, decode included
        when the tick is told it): each stream's sampled-frame rate, what ``target_fps`` steers."""
        return 1000.0 / self._ema_ms if self._ema_ms else None

    # ------------------------------------------------------------------ one tick
    def tick(self, frames: Mapping[int, Any], decode_ms: float | None = None,
             t: Mapping[int, float] | None = None) -> dict[int, StepEvent]:
        """One sampled frame for each stream in ``frames`` ({stream: uint8 RGB frame, or None
        when the stream is inside a skip}); streams not in it do not advance. Returns {stream:
        its event}. decode_ms: time spent getting this tick's frames (budget, latency); t: the
        sources' timestamps in seconds (default: the stream's step × seconds_per_step)."""
        t0 = time.perf_counter()
        if len(frames) == 1 and self._policy_runs:
            for i in frames:
                i = self._check(i)
                return self._tick_one(i, frames, decode_ms, t, t0)
        ids = sorted(self._check(i) for i in frames) if len(frames) > 1 else [self._check(i) for i in frames]
        return self._tick(ids, frames, decode_ms, t, t0)

    def _tick(self, ids: list[int], frames: Mapping[int, Any], decode_ms: float | None,
              t: Mapping[int, float] | None, t0: float | None = None) -> dict[int, StepEvent]:
        """:meth:`tick` on checked, sorted stream ids."""
        if t0 is None:
            t0 = time.perf_counter()
        if len(ids) == 1 and self._policy_runs:
            return self._tick_one(ids[0], frames, decode_ms, t, t0)
        adaptive = self.mode == "adaptive"
        ctrls = self.ctrls
        dec = [i for i in ids if not adaptive or ctrls[i].skip_remaining == 0]
        for i in dec:
            if frames[i] is None:
                raise ValueError(self._need_frame_msg(i))
        views = [self._view(i, frames[i]) for i in dec]   # a bad frame fails before any state moves
        res: dict[int, tuple] = {}   # stream -> (controller result, GMACs, outputs)
        if len(dec) < len(ids):
            for i in ids:
                if i not in dec:
                    res[i] = (ctrls[i].skipped(), 0.0, None)
        ms: dict[str, float] = {}
        if decode_ms is not None:
            ms["decode"] = float(decode_ms)
        if dec:
            if self.branch is not None and self.branch < self.L - 1:
                self._uniform_tick(dec, views, res, ms, self.branch)
            else:
                self._policy_tick(dec, views, res, ms)
        step_ms = (time.perf_counter() - t0) * 1000.0
        ms["step"] = step_ms
        return self._events(ids, res, ms, step_ms + (decode_ms or 0.0), t)

    def _tick_one(self, i: int, frames: Mapping[int, Any], decode_ms: float | None,
                  t: Mapping[int, float] | None, t0: float) -> dict[int, StepEvent]:
        """:meth:`_tick` of one stream in a mode that runs the policy (a one-stream pipeline's
        every tick): no lists of deciding streams, no dict of results."""
        ctrl = self.ctrls[i]
        adaptive = self.mode == "adaptive"
        if ctrl.skip_remaining != 0 and adaptive:
            r, gm, outputs = ctrl.skipped(), 0.0, None
            ms = {} if decode_ms is None else {"decode": float(decode_ms)}
            step_ms = (time.perf_counter() - t0) * 1000.0
            self.accounting.record(r.action, skipped=True)
        else:
            frame = frames[i]
            if frame is None:
                raise ValueError(self._need_frame_msg(i))
            view = self._view(i, frame)
            ms = {} if decode_ms is None else {"decode": float(decode_ms)}
            r, gm, outputs = self._decide_one(i, view, ms)
            step_ms = (time.perf_counter() - t0) * 1000.0
            a = r.action
            self.accounting.record_decision(a if adaptive else None, step_ms, ms["policy"], self._bb_ran[a],
                                            ms["backbone"])
        ms["step"] = step_ms
        tel = self._tick_end(ms, step_ms + (decode_ms or 0.0))
        event = self._event(i, r, gm, outputs, ms, t, tel)
        self.steps += 1
        return {i: event}

    def _need_frame_msg(self, i: int) -> str:
        return (f"stream {i}: this step is a decision step and needs a frame "
                f"(check needs_frame({i}))")

    def _view(self, i: int, frame: Any) -> SquareViews:
        # the usual frame, a uint8 HxWx3 array, needs no conversion: two tests instead of the
        # general checks (a dtype that is not this very object takes the general path)
        if type(frame) is np.ndarray and frame.dtype is _UINT8 and frame.ndim == 3:
            h, w, c = frame.shape
            if c == 3 and h > 0 and w > 0:
                return SquareViews(frame if h == w else center_square(frame), self.engines.resize)
        try:
            return SquareViews(center_square(ensure_rgb_uint8(frame)), self.engines.resize)
        except ValueError as e:   # a bad frame: say whose
            raise ValueError(f"stream {i}: {e}") from None

    def _uniform_tick(self, dec: list[int], views: list, res: dict, ms: dict, b: int) -> None:
        """Branch ``b`` < L-1 alone on every stream that decides (no policy): a uniform mode."""
        e = self.engines
        n = len(dec)
        ta = time.perf_counter()
        big = self.resizer.batch(views, e.sizes[b])
        tb = time.perf_counter()
        out = _run(e.backbones[b], {"frame": big}, n)
        tc = time.perf_counter()
        ms["resize"] = (tb - ta) * 1000.0
        ms["backbone"] = (tc - tb) * 1000.0
        bb = self._bb_ids[b]
        self.accounting.record_artifact(bb, ms["backbone"] / n, rows=n)
        logits = out["class_logits"].reshape(n, -1)
        cost = float(self.manifest.costs["actions"][b])   # the backbone alone: no policy step
        for k, i in enumerate(dec):
            outputs = None
            if self.record_outputs:
                outputs = {"policy": None, "backbone": {"id": bb, "class_logits": logits[k].copy()}}
            res[i] = (self.ctrls[i].commit(b, logits[k]), cost, outputs)

    def _policy_tick(self, dec: list[int], views: list, res: dict, ms: dict) -> None:
        e, ctrls, pc = self.engines, self.ctrls, time.perf_counter
        n = len(dec)
        if n == 1:
            res[dec[0]] = got = self._decide_one(dec[0], views[0], ms)
            self.accounting.record_decision(None, 0.0, ms["policy"], self._bb_ran[got[0].action], ms["backbone"])
            return
        full = n == self.B
        if not full:
            lo = dec[0]
            rows = slice(lo, lo + n) if dec[-1] - lo == n - 1 else dec   # contiguous streams: no gather
        ta = pc()
        low = self.resizer.batch(views, e.sizes[-1])
        tb = pc()
        feed = {"frame": low, "h": self.h if full else self.h[rows], "c": self.c if full else self.c[rows]}
        out = e.policy.run(feed) if n == 1 else e.policy.run_batch(feed, n)
        tc = pc()
        resize_ms = (tb - ta) * 1000.0
        policy_ms = (tc - tb) * 1000.0
        low_logits = out["class_logits"].reshape(n, -1)
        if full:
            if n == 1:   # one stream: the state is the engine's output (consumed by the next call)
                self.h = out["h"].reshape(1, -1)
                self.c = out["c"].reshape(1, -1)
            else:        # several: copied, a later call on some rows must not touch the others
                self.h[...] = out["h"].reshape(n, -1)
                self.c[...] = out["c"].reshape(n, -1)
            self._low_acc += low_logits
        else:
            self.h[rows] = out["h"].reshape(n, -1)
            self.c[rows] = out["c"].reshape(n, -1)
            if type(rows) is slice:
                acc = self._low_acc[rows]
                acc += low_logits
            else:
                self._low_acc[rows] += low_logits
        for i in dec:
            self._low_n[i] += 1
        acc_art = self.accounting.record_artifact
        acc_art("policy", policy_ms / n, n)
        a_logits = out["action_logits"].reshape(n, -1)
        if self.mode == "adaptive":
            bias = self.budget.bias() if self.budget is not None else None
            acts = [ctrls[i].choose(a_logits[k], bias) for k, i in enumerate(dec)]
        else:
            acts = [self.L - 1] * n
        branch_logits: list = [None] * n
        backbone_ms = 0.0
        top = self.L - 1
        for a in (sorted(set(acts)) if n > 1 else acts):
            if a >= top:
                continue
            sel = [k for k in range(n) if acts[k] == a] if n > 1 else [0]
            td = pc()
            big = self.resizer.batch([views[k] for k in sel] if n > 1 else views, e.sizes[a])
            te = pc()
            bout = _run(e.backbones[a], {"frame": big}, len(sel))
            tf = pc()
            resize_ms += (te - td) * 1000.0
            backbone_ms += (tf - te) * 1000.0
            acc_art(self._bb_ids[a], (tf - te) * 1000.0 / len(sel), len(sel))
            bl = bout["class_logits"].reshape(len(sel), -1)
            for j, k in enumerate(sel):
                branch_logits[k] = bl[j]
        ms["resize"] = resize_ms
        ms["policy"] = policy_ms
        ms["backbone"] = backbone_ms
        cost, rec = self._cost, self.record_outputs
        for k, i in enumerate(dec):
            a = acts[k]
            outputs = None
            if rec:
                bb = self._bb_ran[a]
                outputs = {"policy": {"action_logits": a_logits[k].copy(), "class_logits": low_logits[k].copy(),
                                      "h": self.h[i].copy(), "c": self.c[i].copy()},
                           "backbone": None if bb is None else {"id": bb, "class_logits": branch_logits[k].copy()}}
            res[i] = (ctrls[i].settle(a, low_logits[k], branch_logits[k]), cost[a], outputs)

    def _decide_one(self, i: int, view: SquareViews, ms: dict) -> tuple:
        """:meth:`_policy_tick` for one deciding stream: the same calls and numbers without the
        batch bookkeeping (row selections, sorting actions), which would cost a one-stream tick
        more than the host work it does. Returns (controller result, GMACs, outputs)."""
        e, ctrl, pc = self.engines, self.ctrls[i], time.perf_counter
        top = self.L - 1
        ta = pc()
        low = view.get(e.sizes[-1])[None]
        tb = pc()
        one = self.B == 1
        out = e.policy.run({"frame": low, "h": self.h if one else self.h[i:i + 1],
                            "c": self.c if one else self.c[i:i + 1]})
        tc = pc()
        resize_ms = (tb - ta) * 1000.0
        policy_ms = (tc - tb) * 1000.0
        low_logits = out["class_logits"].ravel()   # a view of a contiguous output
        if one:   # the state is the engine's output (consumed by the next call)
            h, c = out["h"], out["c"]
            self.h = h if h.shape == self._state_shape else h.reshape(1, -1)
            self.c = c if c.shape == self._state_shape else c.reshape(1, -1)
        else:     # copied: a later call on other rows must not touch this one
            self.h[i] = out["h"].reshape(-1)
            self.c[i] = out["c"].reshape(-1)
        row = self._low_rows[i]
        _add(row, low_logits, row)   # row += low_logits, out given by position (a cheaper call)
        self._low_n[i] += 1
        a_logits = out["action_logits"]   # any shape: the argmax reads it flat
        if self.mode == "adaptive":
            a = ctrl.choose(a_logits, self.budget.bias() if self.budget is not None else None)
        else:
            a = top
        branch_logits = None
        backbone_ms = 0.0
        if a < top:
            td = pc()
            big = view.get(e.sizes[a])[None]
            te = pc()
            bout = e.backbones[a].run({"frame": big})
            tf = pc()
            resize_ms += (te - td) * 1000.0
            backbone_ms = (tf - te) * 1000.0
            branch_logits = bout["class_logits"].ravel()
        ms["resize"] = resize_ms
        ms["policy"] = policy_ms
        ms["backbone"] = backbone_ms
        outputs = None
        if self.record_outputs:
            bb = self._bb_ran[a]
            outputs = {"policy": {"action_logits": a_logits.reshape(-1).copy(), "class_logits": low_logits.copy(),
                                  "h": self.h[i].copy(), "c": self.c[i].copy()},
                       "backbone": None if bb is None else {"id": bb, "class_logits": branch_logits.copy()}}
        return ctrl.settle(a, low_logits, branch_logits), self._cost[a], outputs

    def _events(self, ids: list[int], res: dict, ms: dict, total_ms: float,
                t: Mapping[int, float] | None) -> dict[int, StepEvent]:
        """Telemetry of the tick (latency, accounting, energy, one budget update) and its events."""
        tel = self._tick_end(ms, total_ms)
        one = len(ids) == 1
        step_ms = ms["step"] if one else None   # a step's own time only when it had the tick alone
        record = self.accounting.record if self.mode == "adaptive" else None
        events = {}
        for i in ids:
            r, gm, outputs = res[i]
            if record is not None:
                skipped = r.kind == "skipped"
                record(r.action, None if skipped else step_ms, skipped=skipped)
            events[i] = self._event(i, r, gm, outputs, ms if one else dict(ms), t, tel)
        self.steps += 1
        return events

    def _tick_end(self, ms: dict, total_ms: float) -> tuple:
        """The end of a tick: latency, EMA of its time, one power sample, one budget update.
        Returns what its events report: (λ, power mW, energy mJ, battery %)."""
        self.latency.add_all(ms)
        self._ema_ms = total_ms if self._ema_ms is None else 0.9 * self._ema_ms + 0.1 * total_ms
        if self.power is None and self.budget is None:
            return _NO_TELEMETRY
        power_mw = battery = energy = None
        if self.power is not None:
            self.energy.add_sample(self.power.poll())
            last = self.power.last
            if last is not None:
                power_mw, battery = last.mw, last.battery_pct
            energy = self.energy.mj
        lam = None
        if self.budget is not None:
            lam = float(self.budget.lam)
            self.budget.update(measured_fps=1000.0 / self._ema_ms if self._ema_ms else None,
                               measured_mw=power_mw)
        return lam, power_mw, energy, battery

    def _event(self, i: int, r: Any, gm: float, outputs: Any, ms: dict,
               t: Mapping[int, float] | None, tel: tuple) -> StepEvent:
        """Stream ``i``'s event of the tick and its counts (frames, GMACs, actions; the caller
        records the accounting)."""
        a = r.action
        kind = r.kind
        self.energy.add_frames(1, kind == "resolution")
        self.gmacs_total += gm
        self.stream_gmacs[i] += gm
        if kind != "skipped":
            self.stream_actions[i][a] += 1
        labels, L = self.labels, self.L
        label = None if r.label is None else labels[r.label]
        self.stream_label[i] = label
        lam, power_mw, energy, battery = tel
        # positional, in StepEvent's field order (keywords would cost as much as the rest)
        event = StepEvent(
            self.stream_steps[i],                                                      # step
            float(t[i]) if t is not None and t.get(i) is not None
            else float(self.t_index[i]) * self.seconds_per_step,                       # t
            kind, a, self.names[a],                                                    # kind, action, action_name
            self.sizes[a] if a < L else None,                                          # resolution
            self.ctrls[i].skip_lengths[a - L] if a >= L else None,                     # skip
            [(labels[c], s) for c, s in r.top], label,                                 # top_k, label
            ms, gm, r.top, r.scores, lam,                                              # ms, gmacs, top, scores, lam
            power_mw, energy, battery, outputs, i)                                     # ..., outputs, stream
        self.stream_steps[i] += 1
        self.t_index[i] += 1
        return event

    # ------------------------------------------------------------------ summary
    def summary(self) -> dict:
        """The run's numbers, one shape for any number of streams (docs/EVENTS.md)."""
        m = self.manifest
        frames = sum(self.stream_steps)
        gpf = self.gmacs_total / frames if frames else 0.0
        uni = m.uniform_cost
        d: dict[str, Any] = {
            "model": m.name, "backend": self.backend_name, "precision": self.precision,
            "mode": self.mode, "streams": [], "ticks": self.steps, "steps": frames,
            "latency_ms": self.latency.summary(),
            "gmacs_per_frame": gpf, "uniform_gmacs_per_frame": uni,
            "gmacs_ratio": (gpf / uni) if uni > 0 else None,
            "gmacs_unit": "GMACs (multiply-accumulates)",
        }
        for i in range(self.B):
            n = self.stream_steps[i]
            g = self.stream_gmacs[i] / n if n else 0.0
            d["streams"].append({
                "stream": i, "steps": n, "last_label": self.stream_label[i],
                "actions": {name: c for name, c in zip(self.names, self.stream_actions[i]) if c},
                "gmacs_per_frame": g, "gmacs_ratio": g / uni if uni > 0 else None})
        acc = self.accounting.summary()
        if self.mode == "adaptive":
            d["actions"] = acc["histogram"]
            d["per_action"] = acc["actions"]
        d["ms_per_gmac"] = self.accounting.ms_per_gmac()
        d["capacity_fps"] = self.measured_fps
        if self.power is not None:
            d["energy"] = self.energy.summary()
            d["power_source"] = getattr(self.power, "name", None)
        if self.budget is not None:
            d["budget"] = self.budget.state()
        d["engines"] = self.engines.describe()
        return d
