"""SynthAct: a synthetic action-recognition set where frame resolution and skipping matter.

    python -m train.synthact --out data/synthact_small [--size small|full] [--seed 0] [--probe]

Design (``meta.json`` beside the videos records every parameter):

* Classes come in **groups**.  A group is a coarse look -- object shape, colour and motion
  (rising disc, falling square, swaying triangle, pulsing cross) -- plainly visible at 84 px.
  Members of a group differ only in a **fine texture** on the object: horizontal stripes,
  vertical stripes, a checker, or plain.  The texture is a zero-mean luminance sinusoid whose
  period equals the 84-px pixel pitch (``side / 84`` = 3.05 px on 256-px frames): INTER_AREA
  down to 84 px averages exactly one period per output pixel, so members become identical,
  while 224 px (2.7 output px per period) and 168 px (near Nyquist) resolve it and 112 px sees
  an aliased, 3x weaker version.  Orientation is unchanged by horizontal flips and by the
  66-100 % multi-scale crops of training, so the paper's augmentation is safe (``flip_safe``).
* What would leak the texture into 84 px is avoided on purpose: the texture fades in over 2.5
  periods from the object's edge (a hard cut leaves partial periods along the edges), it is
  fixed in frame coordinates (seen through the moving object, so P-frames predict it exactly),
  the sensor noise is a fixed pattern per video that dithers 8-bit rounding, and the mp4s use a
  fixed MPEG-4 quantiser of 1 (coarser quantisation turns the texture into block artifacts
  whose orientation survives downscaling).  ``probe_files`` measures this on the stored files.
* Only 25-50 % of the frames (one or two contiguous bursts) show the class object; the rest
  are distractors: empty background, dark, blurred, camera shake, or a shared grey diamond with
  a random texture that appears in every class.
* 8 % of the videos are **faint**: their texture is below the noise at every resolution, so a
  perfect 224-px model still confuses them within the group (an accuracy ceiling of about
  96 % for small and 94 % for full); the annotations mark them.
* Everything is seeded: the same ``--seed`` gives the same pixels, whatever ``--workers``.
  Videos are real mp4 files (MPEG-4 Part 2 'mp4v', PyAV, one encoder thread) that PyAV and
  OpenCV decode to the same pixels.

Output tree (paths in lists are relative to ``--out``)::

    videos/<split>/<class>/<class>_<split>_<k>.mp4
    train.txt val.txt test.txt              video lists: "videos/train/<class>/x.mp4 <label>"
    classes.txt                             one class name per line
    frames/activitynet/<split>/<video>/image_00001.jpg ... + frames_activitynet_<split>.txt
    frames/kinetics/<split>/<video>/00001.jpg ...          + frames_kinetics_<split>.txt
    annotations/<split>.jsonl               per video: evidence frames, distractor kinds (one
                                            letter per frame), boxes, contrast, faint
    meta.json                               fps, frames, seconds, sizes, seed, version, checks

``detail_visibility`` / ``self_check`` render pairs of frames that differ only in the member
(or only in the group) and measure how much of the difference survives ``preprocess(frame, s)``
at each resolution: the designed property, checked at generation and in the unit tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

GENERATOR = "synthact"
GENERATOR_VERSION = "1.1"
SPLITS = ("train", "val", "test")

log = logging.getLogger("train.synthact")


@dataclass(frozen=True)
class Group:
    name: str
    shape: str                      # disc | square | triangle | cross
    colour: tuple[int, int, int]    # RGB, channels within [50, 205] (texture headroom)
    motion: str                     # rise | fall | sway | pulse (all flip-symmetric)


GROUPS = (
    Group("disc_rising", "disc", (200, 62, 56), "rise"),
    Group("square_falling", "square", (58, 88, 200), "fall"),
    Group("triangle_swaying", "triangle", (60, 172, 82), "sway"),
    Group("cross_pulsing", "cross", (200, 176, 60), "pulse"),
)
MEMBERS = ("hstripes", "vstripes", "checker", "plain")
DISTRACTORS = {"B": "empty", "D": "dark", "U": "blur", "S": "shake", "P": "shared"}
EVIDENCE = "E"


@dataclass
class SynthSpec:
    """Everything that defines a SynthAct variant (written to meta.json)."""

    size: str = "small"
    num_groups: int = 3
    members_per_group: int = 2
    videos_per_class: dict[str, int] = field(
        default_factory=lambda: {"train": 20, "val": 4, "test": 6})
    width: int = 256
    height: int = 256
    fps: int = 24
    frames: int = 48
    evidence_fraction: tuple[float, float] = (0.25, 0.5)
    two_bursts_prob: float = 0.5
    object_radius: tuple[float, float] = (26.0, 44.0)     # px at 256
    detail_contrast: tuple[float, float] = (10.0, 36.0)   # texture amplitude, grey levels
    faint_fraction: float = 0.08                          # videos whose texture is too faint to
    faint_contrast: tuple[float, float] = (0.0, 1.5)      # see at any resolution (accuracy ceiling)
    detail_period: float = 0.0                            # 0 -> width / policy_resolution
    policy_resolution: int = 84
    noise_sigma: tuple[float, float] = (1.5, 4.0)
    qscale: int = 1                                       # MPEG-4 fixed quantiser (1 best .. 31)
    gop: int = 48                                         # key-frame interval (frames)
    texture_space: str = "frame"                          # "frame" | "object"
    taper_periods: float = 2.5                            # texture fade-in from the edge
    noise_static: bool = True                             # fixed-pattern sensor noise
    frame_videos_per_class: int = 1                       # frame-folder copies (test split)
    frame_split: str = "test"
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        self.evidence_fraction = tuple(self.evidence_fraction)
        self.object_radius = tuple(self.object_radius)
        self.detail_contrast = tuple(self.detail_contrast)
        self.faint_contrast = tuple(self.faint_contrast)
        self.noise_sigma = tuple(self.noise_sigma)
        self.videos_per_class = dict(self.videos_per_class)
        if not 1 <= self.num_groups <= len(GROUPS):
            raise ValueError(f"num_groups={self.num_groups}: must be in 1..{len(GROUPS)}")
        if not 1 <= self.members_per_group <= len(MEMBERS):
            raise ValueError(f"members_per_group={self.members_per_group}: must be in "
                             f"1..{len(MEMBERS)}")
        bad = sorted(set(self.videos_per_class) - set(SPLITS))
        if bad:
            raise ValueError(f"videos_per_class has unknown split(s) {bad}; valid: {list(SPLITS)}")
        if self.texture_space not in ("frame", "object"):
            raise ValueError(f"texture_space={self.texture_space!r} is not one of "
                             f"['frame', 'object']")
        if self.frame_split not in SPLITS:
            raise ValueError(f"frame_split={self.frame_split!r} is not one of {list(SPLITS)}")

    @property
    def period(self) -> float:
        return self.detail_period or min(self.width, self.height) / self.policy_resolution

    @property
    def groups(self) -> list[Group]:
        return list(GROUPS[:self.num_groups])

    @property
    def members(self) -> list[str]:
        return list(MEMBERS[:self.members_per_group])

    @property
    def classes(self) -> list[str]:
        return [f"{g.name}_{m}" for g in self.groups for m in self.members]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SIZES = {
    # 6 classes (3 groups x 2), 120 train videos: CPU tests and the 15-minute CPU demo
    "small": dict(size="small", num_groups=3, members_per_group=2,
                  videos_per_class={"train": 20, "val": 4, "test": 6}),
    # 16 classes (4 groups x 4), 1280 train / 256 val / 384 test videos
    "full": dict(size="full", num_groups=4, members_per_group=4,
                 videos_per_class={"train": 80, "val": 16, "test": 24}),
    # 4 classes, 1 video per split and class: unit tests
    "tiny": dict(size="tiny", num_groups=2, members_per_group=2,
                 videos_per_class={"train": 1, "val": 1, "test": 1}),
}


def make_spec(size: str = "small", **overrides: Any) -> SynthSpec:
    if size not in SIZES:
        raise ValueError(f"size={size!r} is not one of {sorted(SIZES)}")
    d = dict(SIZES[size])
    d.update(overrides)
    return SynthSpec(**d)


# ============================================================================ rendering
def _sdf(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Signed distance (px, negative inside) of a shape of 'radius' r centred at the origin."""
    if shape == "disc":
        return np.sqrt(dx * dx + dy * dy) - r
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) - 0.82 * r
    if shape == "diamond":
        return (np.abs(dx) + np.abs(dy)) / math.sqrt(2.0) - 0.8 * r
    if shape == "triangle":  # apex up, equilateral, circumradius r (flip-symmetric)
        c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
        return np.maximum(np.maximum(dy - s * r, c * dx - s * dy - s * r), -c * dx - s * dy - s * r)
    if shape == "cross":
        w = 0.36 * r
        arm1 = np.maximum(np.abs(dx) - r, np.abs(dy) - w)
        arm2 = np.maximum(np.abs(dx) - w, np.abs(dy) - r)
        return np.minimum(arm1, arm2)
    raise ValueError(f"unknown shape {shape!r}")


def _texture(member: str, x: np.ndarray, y: np.ndarray, period: float, phase: float) -> np.ndarray:
    """Zero-mean pattern in [-1, 1]-ish; x, y in object coordinates (moves with the object)."""
    k = 2.0 * math.pi / period
    if member == "hstripes":
        return np.sin(k * y + phase) + 0.0 * x
    if member == "vstripes":
        return np.sin(k * x + phase) + 0.0 * y
    if member == "checker":
        return math.sqrt(2.0) * np.sin(k * x + phase) * np.sin(k * y + phase)
    if member == "plain":
        return np.zeros(np.broadcast(x, y).shape)
    raise ValueError(f"unknown member texture {member!r}")


def _paint(img: np.ndarray, shape: str, cx: float, cy: float, r: float, colour: np.ndarray,
           member: str, amp: float, period: float, phase: float,
           tex_origin: tuple[float, float] | None = None, taper: float = 0.0
           ) -> tuple[int, int, int, int]:
    """Composite an anti-aliased textured shape into float32 HxWx3 ``img``; returns its bbox."""
    h, w = img.shape[:2]
    x0, x1 = max(0, int(cx - r - 2)), min(w, int(math.ceil(cx + r + 2)))
    y0, y1 = max(0, int(cy - r - 2)), min(h, int(math.ceil(cy + r + 2)))
    if x0 >= x1 or y0 >= y1:
        return (0, 0, 0, 0)
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5 - cy
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5 - cx
    sdf = _sdf(shape, xs, ys, r)
    alpha = np.clip(0.5 - sdf, 0.0, 1.0)[..., None]
    if tex_origin is None:  # texture printed on the object (moves with it)
        tx, ty = xs, ys
    else:                   # texture fixed in the frame, seen through the object's shape
        tx, ty = xs + (cx - tex_origin[0]), ys + (cy - tex_origin[1])
    # the texture fades in over ``taper`` px from the edge: a hard cut would leave partial
    # periods along the edges that survive downscaling (an orientation cue at 84 px)
    env = np.clip(-sdf / max(taper, 1e-6), 0.0, 1.0) if taper > 0 else (sdf <= 0)
    env = env * env * (3.0 - 2.0 * env)
    lum = (amp * env * _texture(member, tx, ty, period, phase))[..., None]
    obj = colour[None, None, :] + lum
    region = img[y0:y1, x0:x1]
    region += alpha * (obj - region)
    return (x0, y0, x1, y1)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A muted, smooth scene: tinted base, gradient and a few soft blobs (float32)."""
    import cv2
    base = rng.uniform(70, 150) + rng.uniform(-18, 18, size=3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    grad = ((xx - w / 2) * math.cos(ang) + (yy - h / 2) * math.sin(ang)) / max(h, w)
    img = base[None, None, :] + rng.uniform(10, 40) * grad[..., None]
    for _ in range(int(rng.integers(3, 7))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        ax, ay = rng.uniform(15, 60), rng.uniform(15, 60)
        blob = np.exp(-(((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2))
        img += blob[..., None] * rng.uniform(-30, 30, size=3)[None, None, :]
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 2.0)
    return np.clip(img, 20, 235).astype(np.float32)


@dataclass
class VideoPlan:
    """Everything random about one video, drawn up front from its own seed."""

    group: Group
    member: str
    kinds: str                       # one char per frame: E evidence or a DISTRACTORS key
    radius: float
    amp: float
    phase: float
    colour: np.ndarray
    noise: float
    path: list[tuple[float, float, float]]   # (cx, cy, r) per evidence frame (in order)
    shared: dict[str, Any]
    faint: bool = False              # texture below the noise: members indistinguishable


def _bursts(rng: np.random.Generator, n: int, frac: tuple[float, float],
            two_prob: float) -> list[tuple[int, int]]:
    e = int(round(rng.uniform(*frac) * n))
    e = max(2, min(n, e))
    if e >= 8 and rng.random() < two_prob:
        a = int(rng.integers(4, e - 3))
        lens = [a, e - a]
        gap_total = n - e
        # split the remaining frames into three gaps (before, between >= 2, after)
        if gap_total >= 2:
            cuts = np.sort(rng.integers(0, gap_total - 2 + 1, size=2))
            g0, g1 = int(cuts[0]), int(cuts[1] - cuts[0]) + 2
            s0 = g0
            s1 = s0 + lens[0] + g1
            return [(s0, s0 + lens[0]), (s1, s1 + lens[1])]
    start = int(rng.integers(0, n - e + 1))
    return [(start, start + e)]


def plan_video(spec: SynthSpec, group: Group, member: str, seed: Sequence[int]) -> VideoPlan:
    rng = np.random.default_rng(list(seed))
    n, h, w = spec.frames, spec.height, spec.width
    bursts = _bursts(rng, n, spec.evidence_fraction, spec.two_bursts_prob)
    kinds = ["?"] * n
    for s, e in bursts:
        kinds[s:e] = [EVIDENCE] * (e - s)
    i = 0
    keys = list(DISTRACTORS)
    while i < n:  # distractor chunks of 4-12 frames
        if kinds[i] != "?":
            i += 1
            continue
        j = i
        while j < n and kinds[j] == "?":
            j += 1
        while i < j:
            k = min(j, i + int(rng.integers(4, 13)))
            kinds[i:k] = [keys[int(rng.integers(len(keys)))]] * (k - i)
            i = k
    radius = rng.uniform(*spec.object_radius)
    colour = np.clip(np.array(group.colour, np.float32) + rng.uniform(-12, 12, 3), 50, 205)
    headroom = float(np.min(np.minimum(colour, 255 - colour)))
    faint = bool(rng.random() < spec.faint_fraction)
    amp = rng.uniform(*(spec.faint_contrast if faint else spec.detail_contrast))
    amp = min(amp, headroom / (math.sqrt(2) if member == "checker" else 1.0))
    # evidence-frame trajectory (per burst, from the group's motion)
    path: list[tuple[float, float, float]] = []
    for s, e in bursts:
        L = e - s
        t = np.arange(L, dtype=np.float64)
        m = radius * 1.3 + 4
        if group.motion in ("rise", "fall"):
            v = rng.uniform(1.5, 3.2)
            travel = min(v * max(L - 1, 1), h - 2 * m)
            v = travel / max(L - 1, 1)
            y_start = rng.uniform(m + travel, h - m) if group.motion == "rise" else \
                rng.uniform(m, h - m - travel)
            ys = y_start - v * t if group.motion == "rise" else y_start + v * t
            xs = rng.uniform(m, w - m) + rng.uniform(-0.3, 0.3) * t
            rs = np.full(L, radius)
        elif group.motion == "sway":
            ax = rng.uniform(18, 40)
            per = rng.uniform(12, 22)
            ph = rng.uniform(0, 2 * math.pi)
            x0 = rng.uniform(m + ax, w - m - ax)
            xs = x0 + ax * np.sin(2 * math.pi * t / per + ph)
            ys = rng.uniform(m, h - m) + rng.uniform(-0.3, 0.3) * t
            rs = np.full(L, radius)
        else:  # pulse
            per = rng.uniform(10, 18)
            ph = rng.uniform(0, 2 * math.pi)
            rs = radius * (1.0 + 0.22 * np.sin(2 * math.pi * t / per + ph))
            mm = radius * 1.22 * 1.3 + 4
            xs = np.full(L, rng.uniform(mm, w - mm)) + rng.uniform(-0.3, 0.3) * t
            ys = np.full(L, rng.uniform(mm, h - mm)) + rng.uniform(-0.3, 0.3) * t
        xs = np.clip(xs, m, w - m)
        ys = np.clip(ys, m, h - m)
        path += [(float(x), float(y), float(r)) for x, y, r in zip(xs, ys, rs)]
    shared = dict(
        member=MEMBERS[int(rng.integers(len(MEMBERS)))],
        grey=float(rng.uniform(120, 190)),
        radius=float(rng.uniform(*spec.object_radius)),
        x=float(rng.uniform(60, w - 60)), y=float(rng.uniform(60, h - 60)),
        vx=float(rng.uniform(-2.5, 2.5)), vy=float(rng.uniform(-2.5, 2.5)),
        amp=float(rng.uniform(*spec.detail_contrast)), phase=float(rng.uniform(0, 2 * math.pi)),
    )
    return VideoPlan(group, member, "".join(kinds), float(radius), float(amp),
                     float(rng.uniform(0, 2 * math.pi)), colour,
                     float(rng.uniform(*spec.noise_sigma)), path, shared, faint)


def render_video(spec: SynthSpec, plan: VideoPlan, seed: Sequence[int],
                 member: str | None = None, group: Group | None = None
                 ) -> tuple[list[np.ndarray], list[list[int] | None]]:
    """uint8 RGB frames and per-frame object boxes (evidence frames) of a planned video.

    ``member`` / ``group`` override the class look while keeping every random draw (the
    self-check renders pairs that differ only in the fine texture or only in the group)."""
    import cv2
    member = member or plan.member
    group = group or plan.group
    rng = np.random.default_rng(list(seed) + [7])
    h, w, pad = spec.height, spec.width, 16
    bg_big = _background(rng, h + 2 * pad, w + 2 * pad)
    noise_bank = rng.normal(0.0, plan.noise, size=(h + 32, w + 32, 3)).astype(np.float32)
    sh = plan.shared
    colour = np.clip(np.array(group.colour, np.float32) + (plan.colour - np.array(
        plan.group.colour, np.float32)), 50, 205)
    frames: list[np.ndarray] = []
    boxes: list[list[int] | None] = []
    ev = 0
    for t, kind in enumerate(plan.kinds):
        box = None
        if kind == "S":  # camera shake: shifted, motion-blurred background
            dx, dy = rng.integers(-pad, pad + 1, size=2)
            img = bg_big[pad + dy:pad + dy + h, pad + dx:pad + dx + w].copy()
            klen = int(rng.integers(5, 12))
            kern = np.zeros((klen, klen), np.float32)
            if rng.random() < 0.5:
                kern[klen // 2, :] = 1.0 / klen
            else:
                kern[:, klen // 2] = 1.0 / klen
            img = cv2.filter2D(img, -1, kern, borderType=cv2.BORDER_REFLECT)
        else:
            img = bg_big[pad:pad + h, pad:pad + w].copy()
        if kind in ("P", "U", "D"):  # the shared grey diamond, class-agnostic
            sx = (sh["x"] + sh["vx"] * t) % (w - 40) + 20
            sy = (sh["y"] + sh["vy"] * t) % (h - 40) + 20
            _paint(img, "diamond", sx, sy, sh["radius"], np.full(3, sh["grey"], np.float32),
                   sh["member"], min(sh["amp"], 255 - sh["grey"] - 5), spec.period, sh["phase"],
                   (0.0, 0.0) if spec.texture_space == "frame" else None,
                   spec.taper_periods * spec.period)
        if kind == EVIDENCE:
            cx, cy, r = plan.path[ev]
            ev += 1
            box = list(_paint(img, group.shape, cx, cy, r, colour, member, plan.amp,
                              spec.period, plan.phase,
                              (0.0, 0.0) if spec.texture_space == "frame" else None,
                              spec.taper_periods * spec.period))
        if kind == "U":
            img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(4.0, 8.0)))
        if kind == "D":
            img = img * float(rng.uniform(0.08, 0.2))
        ox, oy = (8, 8) if spec.noise_static else rng.integers(0, 32, size=2)
        img += noise_bank[oy:oy + h, ox:ox + w]
        frames.append(np.clip(img + 0.5, 0, 255).astype(np.uint8))
        boxes.append(box)
    return frames, boxes


# ============================================================================ video files
def write_mp4(path: str | Path, frames: Sequence[np.ndarray], fps: int, qscale: int = 1,
              gop: int = 48) -> None:
    """MPEG-4 Part 2 in mp4 ('mp4v'), fixed quantiser, one encoder thread: deterministic."""
    import av
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    h, w = frames[0].shape[:2]
    with av.open(str(tmp), "w", format="mp4") as c:
        s = c.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.thread_count = 1
        s.codec_context.qmin = s.codec_context.qmax = int(qscale)  # fixed quantiser
        s.codec_context.gop_size = int(gop)
        c.metadata["comment"] = f"{GENERATOR} {GENERATOR_VERSION}"
        for f in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    os.replace(tmp, path)


def decode_all(path: str | Path) -> list[np.ndarray]:
    import av
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _count_decodable(path: str | Path) -> int:
    import av
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


# ============================================================================ generation
def _video_seed(seed: int, split: str, label: int, k: int) -> list[int]:
    return [int(seed), SPLITS.index(split), int(label), int(k)]


def _task_list(spec: SynthSpec, seed: int) -> list[dict[str, Any]]:
    tasks = []
    classes = spec.classes
    for split in SPLITS:
        n = spec.videos_per_class.get(split, 0)
        for label, name in enumerate(classes):
            gi, mi = divmod(label, spec.members_per_group)
            for k in range(n):
                vname = f"{name}_{split}_{k:04d}"
                tasks.append(dict(split=split, label=label, cls=name, group=gi, member=mi, k=k,
                                  name=vname, rel=f"videos/{split}/{name}/{vname}.mp4",
                                  seed=_video_seed(seed, split, label, k),
                                  frames=(split == spec.frame_split
                                          and k < spec.frame_videos_per_class)))
    return tasks


def _make_video(args: tuple[SynthSpec, str, dict[str, Any]]) -> dict[str, Any]:
    spec, out, task = args
    group = spec.groups[task["group"]]
    member = spec.members[task["member"]]
    plan = plan_video(spec, group, member, task["seed"])
    frames, boxes = render_video(spec, plan, task["seed"])
    path = Path(out) / task["rel"]
    write_mp4(path, frames, spec.fps, spec.qscale, spec.gop)
    n = _count_decodable(path)
    if n != spec.frames:
        raise RuntimeError(f"{path}: wrote {spec.frames} frames but {n} decode back")
    if task["frames"]:
        import cv2
        decoded = decode_all(path)  # extract from the mp4, as a real pipeline would
        split = task["split"]
        for style, tmpl in (("activitynet", "image_{:05d}.jpg"), ("kinetics", "{:05d}.jpg")):
            d = Path(out) / "frames" / style / split / task["name"]
            d.mkdir(parents=True, exist_ok=True)
            for i, f in enumerate(decoded):
                cv2.imwrite(str(d / tmpl.format(i + 1)), cv2.cvtColor(f, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, spec.jpeg_quality])
    ev = [i for i, k in enumerate(plan.kinds) if k == EVIDENCE]
    runs, start = [], None
    for i in range(spec.frames + 1):
        on = i < spec.frames and plan.kinds[i] == EVIDENCE
        if on and start is None:
            start = i
        if not on and start is not None:
            runs.append([start, i])
            start = None
    return dict(path=task["rel"], label=task["label"], cls=task["cls"], group=group.name,
                member=member, split=task["split"], frames=spec.frames,
                evidence=runs, evidence_fraction=round(len(ev) / spec.frames, 4),
                kinds=plan.kinds, contrast=round(plan.amp, 3), faint=plan.faint,
                radius=round(plan.radius, 2),
                noise=round(plan.noise, 3), period=round(spec.period, 5),
                boxes={str(i): boxes[i] for i in ev}, has_frames=task["frames"],
                name=task["name"])


def generate(out: str | Path, spec: SynthSpec, seed: int = 0, workers: int = 1,
             check: bool = True, progress: bool = False) -> dict[str, Any]:
    """Write a SynthAct dataset to ``out``; returns the meta dict (also ``out/meta.json``)."""
    out = Path(out)
    t0 = time.time()
    for sub in ("videos", "frames", "annotations"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    out.mkdir(parents=True, exist_ok=True)
    tasks = _task_list(spec, seed)
    jobs = [(spec, str(out), t) for t in tasks]
    if workers > 1:
        import multiprocessing as mp
        with mp.get_context("fork" if sys.platform.startswith("linux") else "spawn"
                            ).Pool(workers) as pool:
            results = list(_progress(pool.imap(_make_video, jobs, chunksize=4), len(jobs),
                                     progress))
    else:
        results = list(_progress(map(_make_video, jobs), len(jobs), progress))
    classes = spec.classes
    (out / "classes.txt").write_text("".join(c + "\n" for c in classes))
    (out / "annotations").mkdir(exist_ok=True)
    lists: dict[str, str] = {}
    counts: dict[str, int] = {}
    for split in SPLITS:
        rows = [r for r in results if r["split"] == split]
        counts[split] = len(rows)
        if not rows:
            continue
        (out / f"{split}.txt").write_text("".join(f"{r['path']} {r['label']}\n" for r in rows))
        lists[f"video_list_{split}"] = f"{split}.txt"
        with open(out / "annotations" / f"{split}.jsonl", "w") as f:
            for r in rows:
                f.write(json.dumps({k: v for k, v in r.items() if k != "split"}) + "\n")
        fr = [r for r in rows if r["has_frames"]]
        if fr:
            (out / f"frames_activitynet_{split}.txt").write_text("".join(
                f"frames/activitynet/{split}/{r['name']},{r['frames']},{r['label']}\n" for r in fr))
            (out / f"frames_kinetics_{split}.txt").write_text("".join(
                f"frames/kinetics/{split}/{r['name']} {r['frames']} {r['label']}\n" for r in fr))
            lists[f"frames_activitynet_{split}"] = f"frames_activitynet_{split}.txt"
            lists[f"frames_kinetics_{split}"] = f"frames_kinetics_{split}.txt"
    ev = [r["evidence_fraction"] for r in results]
    meta: dict[str, Any] = dict(
        generator=GENERATOR, version=GENERATOR_VERSION, size=spec.size, seed=int(seed),
        fps=spec.fps, frames_per_video=spec.frames, seconds=spec.frames / spec.fps,
        width=spec.width, height=spec.height, classes=classes,
        groups={g.name: dict(shape=g.shape, colour=list(g.colour), motion=g.motion,
                             classes=[f"{g.name}_{m}" for m in spec.members])
                for g in spec.groups},
        members=spec.members, num_classes=len(classes), videos=counts, lists=lists,
        codec=dict(container="mp4", codec="mpeg4", fourcc="mp4v", qscale=spec.qscale,
                   gop=spec.gop, pix_fmt="yuv420p"),
        detail_period_px=spec.period, flip_safe=True,
        faint_videos={sp: sum(1 for r in results if r["split"] == sp and r["faint"])
                      for sp in SPLITS},
        evidence_fraction_mean=round(float(np.mean(ev)), 4) if ev else None,
        distractor_kinds=DISTRACTORS, spec=spec.to_dict(),
        formats=dict(video_list="<relpath> <label>  (relative to this folder)",
                     activitynet="<folder>,<num_frames>,<label>  frames image_{:05d}.jpg",
                     kinetics="<folder> <num_frames> <label>  frames {:05d}.jpg",
                     video_folder="videos/<split>/<class>/*.mp4"),
    )
    if check:
        meta["self_check"] = self_check(spec, seed=seed)
    meta["generation_seconds"] = round(time.time() - t0, 2)
    tmp = out / "meta.json.part"
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, out / "meta.json")
    return meta


def _progress(it, total: int, show: bool):
    if not show:
        yield from it
        return
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        yield from it
        return
    yield from tqdm(it, total=total, desc="synthact", unit="video")


# ============================================================================ self-check
def detail_visibility(spec: SynthSpec | None = None, n: int = 4, seed: int = 0,
                      resolutions: Sequence[int] = (224, 168, 112, 84),
                      codec: bool = False) -> dict[str, dict[int, float]]:
    """How much member (fine) and group (coarse) difference survives at each resolution.

    For ``n`` evidence frames, renders the same frame (same background, noise, position,
    phase) twice: with two members of one group (fine), and with one member in two groups
    (coarse).  Returns the mean absolute difference in grey levels, over the object's box, of
    ``edge_runtime.preprocess.preprocess(frame, s)`` of the pair: ``{"fine": {s: d},
    "coarse": {s: d}, "fine_over_coarse": {s: ratio}}``.  With ``codec=True`` the pair goes
    through the mp4 encoder and decoder first."""
    from edge_runtime.preprocess import preprocess
    spec = dataclasses.replace(spec or make_spec("small"), faint_fraction=0.0)
    groups = spec.groups
    members = spec.members if len(spec.members) >= 2 else list(MEMBERS[:2])
    fine = {int(s): [] for s in resolutions}
    coarse = {int(s): [] for s in resolutions}
    tmpdir = tempfile.mkdtemp(prefix="synthact_check_") if codec else None
    try:
        for i in range(n):
            g = groups[i % len(groups)]
            g2 = GROUPS[(GROUPS.index(g) + 1) % len(GROUPS)]
            m_a, m_b = members[i % len(members)], members[(i + 1) % len(members)]
            vseed = [int(seed), 99, i]
            plan = plan_video(spec, g, m_a, vseed)
            vid_a, boxes = render_video(spec, plan, vseed, member=m_a)
            vid_b, _ = render_video(spec, plan, vseed, member=m_b)
            vid_c, _ = render_video(spec, plan, vseed, member=m_a, group=g2)
            if codec:
                vids = []
                for name, v in (("a", vid_a), ("b", vid_b), ("c", vid_c)):
                    p = os.path.join(tmpdir, f"{i}_{name}.mp4")
                    write_mp4(p, v, spec.fps, spec.qscale, spec.gop)
                    vids.append(decode_all(p))
                vid_a, vid_b, vid_c = vids
            t = next(k for k, b in enumerate(boxes) if b is not None and b[2] > b[0])
            x0, y0, x1, y1 = boxes[t]
            side = min(spec.width, spec.height)
            ox, oy = (spec.width - side) // 2, (spec.height - side) // 2
            for s in fine:
                sc = s / side
                bx0, by0 = int((x0 - ox) * sc), int((y0 - oy) * sc)
                bx1, by1 = int(math.ceil((x1 - ox) * sc)), int(math.ceil((y1 - oy) * sc))
                a = preprocess(vid_a[t], s)[by0:by1, bx0:bx1].astype(np.float32)
                b = preprocess(vid_b[t], s)[by0:by1, bx0:bx1].astype(np.float32)
                c = preprocess(vid_c[t], s)[by0:by1, bx0:bx1].astype(np.float32)
                fine[s].append(float(np.abs(a - b).mean()))
                coarse[s].append(float(np.abs(a - c).mean()))
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
    f = {s: round(float(np.mean(v)), 3) for s, v in fine.items()}
    c = {s: round(float(np.mean(v)), 3) for s, v in coarse.items()}
    return {"fine": f, "coarse": c,
            "fine_over_coarse": {s: round(f[s] / max(c[s], 1e-6), 4) for s in f}}


def self_check(spec: SynthSpec | None = None, seed: int = 0, n: int = 4,
               low: int = 84, highs: Sequence[int] = (224, 168),
               max_fine_low: float = 1.0, min_ratio: float = 4.0) -> dict[str, Any]:
    """Check the designed property: the member difference is gone at ``low`` px (mean abs
    difference < ``max_fine_low`` grey levels) but at each of ``highs`` it is at least
    ``min_ratio`` times larger; the group difference stays large at ``low``.  Returns the
    numbers and ``ok``; see :func:`detail_visibility`."""
    spec = spec or make_spec("small")
    res = sorted({low, *highs, 112}, reverse=True)
    vis = detail_visibility(spec, n=n, seed=seed, resolutions=res)
    f, c = vis["fine"], vis["coarse"]
    problems = []
    if f[low] >= max_fine_low:
        problems.append(f"fine difference at {low}px is {f[low]} >= {max_fine_low}")
    for s in highs:
        if f[s] < min_ratio * max(f[low], 0.25):
            problems.append(f"fine difference at {s}px ({f[s]}) is not {min_ratio}x the one at "
                            f"{low}px ({f[low]})")
    if c[low] < 5 * max(f[low], 1.0):
        problems.append(f"group difference at {low}px ({c[low]}) is too small")
    return {"ok": not problems, "problems": problems, **vis}


def _spectrum(img: np.ndarray, cx: float, cy: float, win: int) -> np.ndarray:
    s = img.shape[0]
    x0 = min(max(int(round(cx - win / 2)), 0), s - win)
    y0 = min(max(int(round(cy - win / 2)), 0), s - win)
    c = img[y0:y0 + win, x0:x0 + win].astype(np.float64).mean(axis=2)
    c = c - c.mean()
    hann = np.hanning(win)
    return np.abs(np.fft.rfft2(c * hann[:, None] * hann[None, :])) ** 2


def probe_files(out: str | Path, split: str = "train",
                resolutions: Sequence[int] = (224, 168, 112, 84), max_per_class: int = 20,
                folds: int = 5, every: int = 2) -> dict[str, Any]:
    """How much *member* (fine) information the stored videos carry at each resolution.

    A cheap stand-in for training: for each (not faint) video, the log power spectrum of a
    window on the class object (annotated boxes, every ``every``-th evidence frame, after
    ``preprocess(frame, s)``) is averaged over frames, and a ridge one-vs-rest classifier
    predicts the member (texture) with ``folds``-fold cross-validation, pooled over groups.
    Chance is 1 / members.  Unlike :func:`detail_visibility` this sees the codec's effect."""
    from edge_runtime.preprocess import preprocess
    out = Path(out)
    meta = json.loads((out / "meta.json").read_text())
    members = meta["members"]
    ann = out / "annotations" / f"{split}.jsonl"
    rows = [json.loads(x) for x in ann.read_text().splitlines()]
    per: dict[str, int] = {}
    chosen = []
    for r in rows:
        if not r.get("faint") and per.get(r["cls"], 0) < max_per_class:
            per[r["cls"]] = per.get(r["cls"], 0) + 1
            chosen.append(r)
    side = min(meta["width"], meta["height"])
    ox, oy = (meta["width"] - side) / 2, (meta["height"] - side) / 2
    feats: dict[int, list[np.ndarray]] = {int(s): [] for s in resolutions}
    y = []
    for r in chosen:
        frames = decode_all(out / r["path"])
        boxes = sorted(r["boxes"].items(), key=lambda kv: int(kv[0]))[::every]
        for s in feats:
            win = max(8, int(round(s * 48 / 256)))
            acc = 0.0
            for t, (x0, y0, x1, y1) in boxes:
                img = preprocess(frames[int(t)], s)
                acc = acc + _spectrum(img, ((x0 + x1) / 2 - ox) * s / side,
                                      ((y0 + y1) / 2 - oy) * s / side, win)
            feats[s].append(np.log(acc / max(len(boxes), 1) + 1e-3).ravel())
        y.append(members.index(r["member"]))
    y_arr = np.array(y)
    order = np.argsort(y_arr, kind="stable")
    fold_of = np.empty(len(y_arr), int)
    fold_of[order] = np.arange(len(y_arr)) % folds  # stratified folds
    accs = {}
    for s, fs in feats.items():
        X = np.array(fs)
        X = (X - X.mean(0)) / (X.std(0) + 1e-6)
        Y = np.where(y_arr[:, None] == np.arange(len(members))[None, :], 1.0, -1.0)
        correct = 0
        for f in range(folds):
            te, tr = fold_of == f, fold_of != f
            A = X[tr]
            W = np.linalg.solve(A.T @ A + 10.0 * np.eye(A.shape[1]), A.T @ Y[tr])
            correct += int(np.sum(np.argmax(X[te] @ W, axis=1) == y_arr[te]))
        accs[int(s)] = round(correct / len(y_arr), 4)
    return {"member_accuracy": accs, "chance": round(1 / len(members), 4),
            "videos": len(y_arr), "split": split}


# ============================================================================ CLI
def _up_to_date(out: Path, spec: SynthSpec, seed: int) -> bool:
    try:
        meta = json.loads((out / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return (meta.get("version") == GENERATOR_VERSION and meta.get("seed") == seed
            and meta.get("spec") == json.loads(json.dumps(spec.to_dict())))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.synthact",
                                 description="Generate the SynthAct synthetic video dataset.")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--size", default="small", choices=sorted(SIZES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=0,
                    help="processes (0: one per CPU core, at most 8)")
    ap.add_argument("--force", action="store_true",
                    help="regenerate even if OUT/meta.json matches size, seed and version")
    ap.add_argument("--no-check", action="store_true", help="skip the detail-visibility check")
    ap.add_argument("--probe", action="store_true",
                    help="also run the file-level linear probe (probe_files) and store it in meta")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if a.quiet else logging.INFO, format="%(message)s")
    spec = make_spec(a.size)
    out = Path(a.out)
    if not a.force and _up_to_date(out, spec, a.seed):
        log.info("%s: SynthAct %s (seed %d) is up to date", out, a.size, a.seed)
        return 0
    workers = a.workers or min(8, os.cpu_count() or 1)
    meta = generate(out, spec, seed=a.seed, workers=workers, check=not a.no_check,
                    progress=not a.quiet)
    log.info("%s: %d classes, videos %s, %.1f s", out, meta["num_classes"], meta["videos"],
             meta["generation_seconds"])
    if a.probe:
        meta["probe"] = probe_files(out)
        (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        log.info("file probe, member accuracy by resolution (chance %.2f): %s",
                 meta["probe"]["chance"], meta["probe"]["member_accuracy"])
    chk = meta.get("self_check")
    if chk is not None:
        log.info("detail visibility (mean |diff| of group members, grey levels): %s; "
                 "group difference: %s", chk["fine"], chk["coarse"])
        if not chk["ok"]:
            log.error("self-check failed: %s", "; ".join(chk["problems"]))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
