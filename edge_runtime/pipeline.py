"""The streaming runtime: controller (pure logic), pipeline (models + controller), telemetry.

:class:`StreamingController` is docs/STREAMING.md and nothing else: skip bookkeeping, the
argmax over budget-biased action logits, the sliding window, scores, top-k and the hysteresis of
the displayed label. It never calls a model; golden traces pin exactly what it does and the
Kotlin core (``android_demo/core``) replays them.

:class:`AdaptivePipeline` loads the policy and the backbones once (sha256 checked), and per
sampled frame runs ``resize → policy → (backbone)`` through the controller::

    pipe = AdaptivePipeline("artifacts/demo", backend="litert", precision="fp32", threads=4)
    for t, frame in frames:                  # uint8 RGB HxWx3
        ev = pipe.step(frame if pipe.needs_frame() else None, t=t)
        print(ev.kind, ev.resolution, ev.label, ev.top_k)

``mode="uniform"`` (biggest backbone on every frame, no policy) and ``mode="smallest"`` (the
policy's low-resolution head on every frame) are the baselines ``bench.py`` compares against.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from edge_runtime.manifest import Manifest, ManifestError, load_manifest
from edge_runtime.preprocess import SquareViews, center_square

MODES = ("adaptive", "uniform", "smallest")
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
    return z / np.cumsum(z)[-1]


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
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), float(scores[i])) for i in order]


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

    # ------------------------------------------------------------------ steps
    def skipped(self) -> ControllerResult:
        """A sampled frame covered by an earlier skip."""
        if self.skip_remaining <= 0:
            raise RuntimeError("skipped() called on a decision step (needs_frame is True)")
        self.skip_remaining -= 1
        self._window.append(None)
        return self._finish("skipped", self.skip_action)

    def choose(self, action_logits: Any, bias: Any = None) -> int:
        """``argmax(action_logits − bias)`` (float64, lowest index on ties)."""
        z = np.asarray(action_logits, dtype=np.float64).reshape(-1)
        if z.shape[0] != self.num_actions:
            raise ValueError(f"expected {self.num_actions} action logits, got {z.shape[0]}")
        if bias is not None:
            z = z - np.asarray(bias, dtype=np.float64).reshape(-1)
        if np.isnan(z).any():
            raise ValueError(f"action logits contain NaN: {z.tolist()}")
        return int(np.argmax(z))

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
            self._window.append(None)
            return self._finish("skip", a)
        if class_logits is None:
            raise ValueError(f"resolution action {a} needs class logits")
        e = np.array(class_logits, dtype=np.float64).reshape(-1)
        if e.shape[0] != self.num_classes:
            raise ValueError(f"expected {self.num_classes} class logits, got {e.shape[0]}")
        self._window.append(e)
        return self._finish("resolution", a)

    def current_scores(self) -> np.ndarray | None:
        entries = [e for e in self._window if e is not None]
        if not entries:
            return None
        m = mean_in_order(entries)
        return sigmoid64(m) if self.multi_label else softmax64(m)

    def _finish(self, kind: str, action: int) -> ControllerResult:
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


# =============================================================================== events
@dataclass
class StepEvent:
    """One sampled frame, as the runtime reports it (JSON line via :meth:`to_dict`)."""
    step: int
    t: float
    kind: str                          # resolution | skip | skipped
    action: int
    action_name: str
    resolution: int | None             # resolution actions
    skip: int | None                   # skip / skipped: F of the skip action
    top_k: list                        # [(label, score)]
    label: str | None                  # displayed label (hysteresis)
    ms: dict                           # per stage: decode?, resize, policy, backbone, step
    gmacs: float                       # GMACs spent on this frame
    top: list = field(default_factory=list)     # [(class index, score)]
    scores: Any = None                 # float64 class scores (not serialised)
    lam: float | None = None           # budget λ in effect (None without a budget)
    power_mw: float | None = None
    energy_mj: float | None = None     # cumulative since start/clear
    battery_pct: float | None = None
    outputs: dict | None = None        # raw model outputs when record_outputs=True

    def to_dict(self) -> dict:
        d = {"step": self.step, "t": round(self.t, 6), "kind": self.kind, "action": self.action,
             "action_name": self.action_name}
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


# =============================================================================== pipeline
def after_tick(owner: Any, total_ms: float, processed: Sequence[bool]) -> tuple:
    """The end of one step (one stream) or tick (several) of ``owner`` (:class:`AdaptivePipeline`
    or ``MultiStreamPipeline``): the EMA of its time, one power sample, the frames for energy,
    then one budget update with the measured rate and power. Returns (λ used by this step or
    tick, power mW, energy mJ, battery %), None where unknown."""
    owner._ema_ms = total_ms if owner._ema_ms is None else 0.9 * owner._ema_ms + 0.1 * total_ms
    power_mw = battery = energy = None
    if owner.power is not None:
        owner.energy.add_sample(owner.power.poll())
        last = owner.power.last
        if last is not None:
            power_mw, battery = last.mw, last.battery_pct
        energy = owner.energy.mj
    for done in processed:
        owner.energy.add_frames(1, processed=bool(done))
    lam = None
    if owner.budget is not None:
        lam = float(owner.budget.lam)
        owner.budget.update(measured_fps=1000.0 / owner._ema_ms if owner._ema_ms else None,
                            measured_mw=power_mw)
    return lam, power_mw, energy, battery


class AdaptivePipeline:
    """AR-Net streaming inference on one model folder.

    manifest: a model folder / manifest.json path, or a loaded :class:`Manifest`.
    backend, precision: which artifacts to run (``fake`` = deterministic numpy stand-in, no files).
    threads: CPU threads of every engine; policy_threads: of the policy's engine alone (default
        ``threads``). On the 2-core x86 a full-Lite0 48 px policy loses ~0.1 ms per step on 1 thread;
        the 16-layer early policy is the same on 1 or 2 (docs/RESULTS.md §2b).
    window: sliding window in sampled frames (default ``sampling.frames_per_clip``).
    top_k, margin, hold: labels (STREAMING.md).
    mode: ``adaptive`` | ``uniform`` (biggest backbone every frame) | ``smallest`` (policy's low head
        every frame).
    target_fps / target_mw / budget: budget control (:class:`edge_runtime.budget.BudgetController`).
    power: a ``PowerMonitor`` (``edge_runtime.telemetry``) polled every step; energy per event.
    backends: ``{artifact id: loaded backend}`` to inject engines (tests); skips loading files.
    verify: check the sha256 of every artifact this pipeline loads.
    record_outputs: keep the raw model outputs on each event (golden traces).
    """

    def __init__(self, manifest: Manifest | str | Path, backend: str = "litert", precision: str = "fp32",
                 *, threads: int | None = None, policy_threads: int | None = None,
                 delegate: str | None = None,
                 delegate_options: dict | None = None, providers: Sequence[str] | None = None,
                 device: str | None = None, window: int | None = None, top_k: int = 3,
                 margin: float = 0.1, hold: int = 2, mode: str = "adaptive",
                 target_fps: float | None = None, target_mw: float | None = None, budget: Any = None,
                 power: Any = None, backends: dict | None = None, verify: bool = True,
                 record_outputs: bool = False, seed: int = 0, cuda_graphs: bool = True) -> None:
        from edge_runtime.backends import BackendOptions, check_backend_name
        from edge_runtime.manifest import PRECISIONS

        m = manifest if isinstance(manifest, Manifest) else load_manifest(manifest, verify=False)
        self.manifest = m
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {list(MODES)}")
        self.mode = mode
        self.backend_name = check_backend_name(backend) if backends is None else backend
        if precision not in PRECISIONS:
            raise ManifestError(f"unknown precision {precision!r}; valid choices: {', '.join(PRECISIONS)}"
                                + (f" (this model has {', '.join(m.precisions(backend)) or 'none'} "
                                   f"for backend {backend!r})" if backend in m.backends() else ""))
        self.precision = precision
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
        self.ctrl = StreamingController.from_manifest(m, window=window, top_k=top_k, margin=margin,
                                                      hold=hold)
        self.record_outputs = bool(record_outputs)
        # which networks this mode needs
        need = []
        if mode in ("adaptive", "smallest") or self.L == 1:
            need.append("policy")
        if mode == "adaptive":
            need += [a.backbone for a in m.actions[:self.L - 1]]
        elif mode == "uniform" and self.L > 1:
            need.append(m.actions[0].backbone)
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
            for i in need:  # every file checked before any engine loads one
                art = m.find(i, backend, precision)
                paths[i] = m.verify(art) if verify else m.artifact_path(art)
                self.artifacts[i] = art
            for i in need:
                opts = self.options
                if i == "policy" and policy_threads is not None:
                    opts = replace(opts, threads=policy_threads)
                self.models[i] = create_backend(backend, paths[i], self.artifacts[i], opts)
        # the resolution each network takes (from the loaded engine when it says)
        self.policy = self.models.get("policy")
        self.backbones = [self.models.get(a.backbone) if a.backbone != "policy" else None
                          for a in m.actions[:self.L - 1]]
        self.sizes = list(m.resolutions)
        self.resize = m.resize
        self._check_sizes()
        # budget
        if budget is None and (target_fps or target_mw):
            from edge_runtime.budget import BudgetController
            budget = BudgetController.for_model(m, backend=backend, precision=precision,
                                                target_fps=target_fps, target_mw=target_mw)
        self.budget = budget
        # telemetry
        from edge_runtime.telemetry import CostAccounting, EnergyIntegrator, LatencyStats
        self.latency = LatencyStats()
        self.accounting = CostAccounting(m)
        self.power = power if (power is not None and getattr(power, "available", True)) else None
        self.energy = EnergyIntegrator()
        self._ema_ms: float | None = None
        self.steps = 0
        self.gmacs_total = 0.0
        self._state_zero = np.zeros((1, m.hidden), np.float32)
        self.clear()

    # ------------------------------------------------------------------ setup helpers
    def _check_sizes(self) -> None:
        m = self.manifest
        for i, mod in self.models.items():
            fs = getattr(mod, "frame_size", lambda: None)()
            want = m.resolutions[-1] if i == "policy" else next(
                a.size for a in m.actions[:self.L] if a.backbone == i)
            if fs is not None and fs != want:
                raise ManifestError(f"artifact {i!r} takes {fs}x{fs} frames but the manifest runs it at "
                                    f"{want}x{want}")

    # ------------------------------------------------------------------ state
    def clear(self) -> None:
        """Reset the stream: LSTM state, skips, window, displayed label (telemetry is kept)."""
        self.ctrl.clear()
        self.h = self._state_zero.copy()
        self.c = self._state_zero.copy()
        self._low_acc: np.ndarray | None = None   # sum of class_logits_low over decision steps
        self._low_n = 0
        self.t_index = 0

    def reset_telemetry(self) -> None:
        from edge_runtime.telemetry import CostAccounting, LatencyStats
        self.latency = LatencyStats()
        self.accounting = CostAccounting(self.manifest)
        self.energy.reset()
        self.steps = 0
        self.gmacs_total = 0.0
        self._ema_ms = None

    def needs_frame(self) -> bool:
        """Whether the next sampled frame will be looked at (else skip decoding/resizing it)."""
        if self.mode != "adaptive":
            return True
        return self.ctrl.needs_frame

    @property
    def window(self) -> int:
        return self.ctrl.window

    # ------------------------------------------------------------------ one step
    def step(self, frame: Any = None, t: float | None = None, decode_ms: float | None = None) -> StepEvent:
        """Process one sampled frame (uint8 RGB HxWx3; None allowed when ``needs_frame()`` is
        False) and return its event."""
        m = self.manifest
        ctrl = self.ctrl
        t0 = time.perf_counter()
        ms: dict[str, float] = {}
        if decode_ms is not None:
            ms["decode"] = float(decode_ms)
        outputs = None
        res_size = None
        skip_f = None
        gm = 0.0
        if self.mode == "adaptive" and not ctrl.needs_frame:
            r = ctrl.skipped()
            skip_f = ctrl.skip_lengths[r.action - self.L]
        else:
            if frame is None:
                raise ValueError("this step is a decision step: it needs a frame (check needs_frame())")
            views = SquareViews(center_square(ensure_rgb_uint8(frame)), self.resize)
            ta = time.perf_counter()
            if self.mode == "uniform" and self.L > 1:
                big = views.get(self.sizes[0])[None]
                tb = time.perf_counter()
                out = self.backbones[0].run({"frame": big})
                tc = time.perf_counter()
                ms["resize"] = (tb - ta) * 1000.0
                ms["backbone"] = (tc - tb) * 1000.0
                logits = out["class_logits"].reshape(-1)
                r = ctrl.commit(0, logits)
                gm = float(m.costs["actions"][0])
                res_size = self.sizes[0]
                if self.record_outputs:
                    outputs = {"policy": None, "backbone": {"id": m.actions[0].backbone,
                                                            "class_logits": logits.copy()}}
            else:
                low = views.get(self.sizes[-1])[None]
                tb = time.perf_counter()
                out = self.policy.run({"frame": low, "h": self.h, "c": self.c})
                tc = time.perf_counter()
                self.h, self.c = out["h"], out["c"]
                a_logits = out["action_logits"].reshape(-1)
                low_logits = out["class_logits"].reshape(-1)
                self._add_low(low_logits)
                resize_ms = (tb - ta) * 1000.0
                policy_ms = (tc - tb) * 1000.0
                backbone_ms = 0.0
                bb = None
                if self.mode != "adaptive":  # smallest (or uniform of a one-resolution model)
                    a = self.L - 1
                else:
                    bias = self.budget.bias() if self.budget is not None else None
                    a = ctrl.choose(a_logits, bias)
                if a < self.L - 1:
                    td = time.perf_counter()
                    big = views.get(self.sizes[a])[None]
                    te = time.perf_counter()
                    bout = self.backbones[a].run({"frame": big})
                    tf = time.perf_counter()
                    resize_ms += (te - td) * 1000.0
                    backbone_ms = (tf - te) * 1000.0
                    logits = bout["class_logits"].reshape(-1)
                    bb = m.actions[a].backbone
                elif a == self.L - 1:
                    logits = low_logits
                else:
                    logits = None
                r = ctrl.commit(a, logits)
                ms["resize"] = resize_ms
                ms["policy"] = policy_ms
                ms["backbone"] = backbone_ms
                gm = m.action_cost(a)
                if a < self.L:
                    res_size = self.sizes[a]
                else:
                    skip_f = ctrl.skip_lengths[a - self.L]
                self.accounting.record_artifact("policy", policy_ms)
                if bb is not None:
                    self.accounting.record_artifact(bb, backbone_ms)
                if self.record_outputs:
                    outputs = {"policy": {"action_logits": a_logits.copy(), "class_logits": low_logits.copy(),
                                          "h": np.asarray(self.h, np.float32).reshape(-1).copy(),
                                          "c": np.asarray(self.c, np.float32).reshape(-1).copy()},
                               "backbone": None if bb is None else
                               {"id": bb, "class_logits": logits.copy()}}
        step_ms = (time.perf_counter() - t0) * 1000.0
        ms["step"] = step_ms
        # telemetry
        lat = self.latency
        for k, v in ms.items():
            lat.add(k, v)
        if self.mode == "adaptive":
            self.accounting.record(r.action, None if r.kind == "skipped" else step_ms,
                                   skipped=r.kind == "skipped")
        self.gmacs_total += gm
        lam, power_mw, energy, battery = after_tick(self, step_ms + (decode_ms or 0.0), [r.kind == "resolution"])
        ev = StepEvent(
            step=self.steps, t=float(t) if t is not None else self.t_index * self.seconds_per_step,
            kind=r.kind, action=r.action, action_name=self.names[r.action], resolution=res_size,
            skip=skip_f, top_k=[(self.labels[i], s) for i, s in r.top],
            label=None if r.label is None else self.labels[r.label], ms=ms, gmacs=gm, top=r.top,
            scores=r.scores, lam=lam, power_mw=power_mw, energy_mj=energy, battery_pct=battery,
            outputs=outputs)
        self.steps += 1
        self.t_index += 1
        return ev

    def engine_warnings(self) -> list[str]:
        """What the engines reported at load (e.g. a delegate that took none of a graph), one line
        per distinct report with the networks it concerns."""
        by: dict[str, list[str]] = {}
        for i, mod in self.models.items():
            w = getattr(mod, "warning", None)
            if w:
                by.setdefault(w, []).append(i)
        return [f"{', '.join(ids)}: {w}" for w, ids in by.items()]

    def _add_low(self, low: np.ndarray) -> None:
        v = np.asarray(low, np.float64)
        if self._low_acc is None:
            self._low_acc = v.copy()
        else:
            self._low_acc += v
        self._low_n += 1

    @property
    def measured_fps(self) -> float | None:
        """Sampled frames per second this device sustains (EMA of the per-frame wall time)."""
        if not self._ema_ms:
            return None
        return 1000.0 / self._ema_ms

    # ------------------------------------------------------------------ clips
    def clip_scores(self) -> np.ndarray | None:
        """Scores of the current window, with STREAMING.md's fallback when no frame was
        processed since ``clear()``: the mean of the low head's logits over the decision steps."""
        return scores_with_fallback(self.ctrl, self._low_acc, self._low_n, self.manifest.multi_label)

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

    # ------------------------------------------------------------------ summary
    def summary(self) -> dict:
        m = self.manifest
        frames = self.steps
        gpf = self.gmacs_total / frames if frames else 0.0
        uni = m.uniform_cost
        d: dict[str, Any] = {
            "model": m.name, "backend": self.backend_name, "precision": self.precision,
            "mode": self.mode, "steps": frames,
            "latency_ms": self.latency.summary(),
            "gmacs_per_frame": gpf, "uniform_gmacs_per_frame": uni,
            "gmacs_ratio": (gpf / uni) if uni > 0 else None,
            "gmacs_unit": "GMACs (multiply-accumulates)",
        }
        acc = self.accounting.summary()
        if self.mode == "adaptive":
            d["actions"] = acc["histogram"]
            d["per_action"] = acc["actions"]
        d["ms_per_gmac"] = self.accounting.ms_per_gmac()
        if self.power is not None:
            d["energy"] = self.energy.summary()
            d["power_source"] = getattr(self.power, "name", None)
        if self.budget is not None:
            d["budget"] = self.budget.state()
        engines = {}
        for i, mod in self.models.items():
            engines[i] = {k: getattr(mod, k) for k in ("engine", "threads", "delegates", "xnnpack_partitions",
                                                        "providers", "device", "cuda_graph", "warning")
                          if getattr(mod, k, None) is not None}
        d["engines"] = engines
        return d
