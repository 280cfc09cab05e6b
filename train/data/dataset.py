"""``DataConfig`` -> ``ClipDataset``: T-segment clips at every AR-Net resolution, uint8 RGB.

Item (``dataset[i]``)::

    {"frames": [uint8 tensor (T, 3, s, s) for s in resolutions (descending)],
     "label": int                          (single-label)
              | float tensor (C,) multi-hot (multi_label=True),
     "index": int}                         the record actually returned (see bad items)

``collate`` batches items to ``frames[k]``: (B, T, 3, s_k, s_k) uint8, ``label``: (B,) long or
(B, C) float, ``index``: (B,) long.

Bad items: a video or frame that cannot be read is logged (a warning naming the path and the
reason for the first ``WARN_BAD_ITEMS`` of a process, then one saying the rest are logged at debug
level), recorded in ``dataset.bad_items`` (per process: each DataLoader worker keeps its own;
``cfg.bad_items_file`` collects them from all workers) and replaced by the next readable record
(i+1, i+2, ... mod N, so ``item["index"]`` may differ from i): an epoch never stops on a broken
file.  ``max_replacements`` failures in a row raise (something systematic is wrong).
``dataset.validate()`` checks every record up front instead, if you prefer to fail early.

Randomness (training): with ``cfg.seed`` unset, crops and offsets come from torch's RNG, which
DataLoader seeds per worker and epoch; with ``cfg.seed`` set they depend only on (seed, epoch,
index) -- call ``set_epoch`` every epoch (not seen by persistent workers).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from train.config import ConfigError, from_dict
from train.data.lists import (VIDEO_EXTENSIONS, ListFileError, VideoRecord, parse_list,
                              read_classes, scan_video_folder, sniff_style)
from train.data.layouts import (LAYOUTS, SUBSETS, LayoutRequest, detect_layout, load_layout,
                                layout_aliases)
from train.data.sampling import SAMPLING_RULES, sample_indices, time_indices
from edge_runtime.preprocess import RESIZE_METHODS
from train.data.transforms import DEFAULT_SCALES, TrainAugment, eval_views
from train.data.video import DECODERS, DecodeError, open_video, read_frame_folder

log = logging.getLogger("train.data")

LIST_FORMATS = ("auto", "video_folder", "video_list", "activitynet", "kinetics")
# list formats + the dataset layouts (train/data/layouts: ucf101, hmdb51, kinetics_csv, ssv2,
# folder). "kinetics" with a list_file is the mini-Kinetics frame list, without one kinetics_csv.
FORMATS = LIST_FORMATS + tuple(LAYOUTS)     # as imported; formats() also has later registrations
LIST_ALIASES = {"fcvid": "activitynet", "mini-kinetics": "kinetics", "minik": "kinetics",
                "videos": "video_folder"}
FORMAT_ALIASES = {**LIST_ALIASES, **layout_aliases()}


def formats() -> tuple[str, ...]:
    """Every valid ``data.format``: the list formats and the layouts registered so far."""
    return LIST_FORMATS + tuple(LAYOUTS)


def canonical_format(name: str, list_file: str | None = None) -> str:
    """The format name an alias stands for; ``kinetics`` without a list file is the Kinetics CSV
    layout."""
    n = str(name).lower()
    n = {**LIST_ALIASES, **layout_aliases()}.get(n, n)
    return "kinetics_csv" if n == "kinetics" and not list_file else n
DEFAULT_IMAGE_TMPL = {"activitynet": "image_{:05d}.jpg", "kinetics": "{:05d}.jpg"}
MODES = ("train", "eval")
WARN_BAD_ITEMS = 3      # unreadable items warned about one by one (per process); then debug only


@dataclass
class DataConfig:
    """Where the clips come from and how they are sampled (no globals: pass this around).

    format: ``video_folder`` (root/<class>/*.mp4, classes = sorted folder names),
    ``video_list`` (lines ``relpath label``), ``activitynet`` (``path,num_frames,label[,...]``,
    frames ``image_{:05d}.jpg``), ``kinetics`` (``path num_frames label``, frames
    ``{:05d}.jpg``), or ``auto`` (no list_file -> video_folder, else sniffed from the list).
    Paths in lists are relative to ``root``.  Class names: ``classes_file``, else a
    ``classes.txt`` beside the list file or in root, else "0".."C-1".

    Dataset layouts (``train/data/layouts``, read as distributed, ``subset`` picks train / val /
    test of official split ``split``): ``ucf101``, ``hmdb51``, ``kinetics`` (the CSV annotations;
    with no list_file), ``ssv2``, ``folder`` (root/<class>/* split by a seeded rule, or
    root/{train,val,test}/<class>/*).  ``auto`` with ``subset`` set and no list_file detects the
    layout.

    sampling: ``segments`` (TSN: T segments over the whole video, one frame each; a video shorter
    than T repeats frames in order) or ``seconds`` (one frame every ``seconds_per_step`` seconds
    of the video's own time, by its real fps, the way the device samples; the T-step window is
    centred in eval, random in training; steps past the end of a shorter video repeat its last
    frame).  See ``train/data/sampling.py``.
    """

    format: str = "auto"
    root: str = ""
    list_file: str | None = None
    classes_file: str | None = None
    mode: str = "eval"                    # "train": random offsets + augmentation; "eval": centre
    num_segments: int = 16                # T
    resolutions: list[int] = field(default_factory=lambda: [224, 168, 112, 84])
    scales: list[float] = field(default_factory=lambda: list(DEFAULT_SCALES))
    max_distort: int = 1
    flip: bool = True                     # random horizontal flip in training (off for L/R classes)
    cascade_resize: bool = False          # train: resize the crop to s_0, lower ones from that
    resize: str = "pyramid"               # edge_runtime.preprocess.RESIZE_METHODS; the manifest
                                          # records it and the device resizes the same way
    multi_label: bool = False             # label -> multi-hot float tensor (else first label)
    num_classes: int | None = None        # default: len(labels)
    image_tmpl: str | None = None         # frame folders; default per format
    index_base: int = 1                   # first frame file number
    decoder: str = "pyav"                 # "pyav" or "opencv" (same pixels)
    decoder_threads: int = 1
    seek_threshold: int = 64              # seek instead of decoding through gaps > this
    video_extensions: list[str] = field(default_factory=lambda: list(VIDEO_EXTENSIONS))
    seed: int | None = None               # train sampling: None -> torch RNG (worker-seeded);
                                          # int -> fixed per (seed, epoch, index), see set_epoch
    max_replacements: int = 32
    bad_items_file: str | None = None     # also append "path<TAB>reason" lines here (a file all
                                          # DataLoader workers share; bad_items is per process)
    subset: str | None = None             # layouts: train | val | test (None: from mode)
    split: int = 1                        # layouts: official split (UCF101 / HMDB51: 1, 2, 3)
    annotations: str | None = None        # layouts: folder of the annotation files (default:
                                          # found under root)
    split_seed: int = 0                   # folder layout without split folders: seeded split
    val_fraction: float = 0.1             # ... share of each class for val
    test_fraction: float = 0.1            # ... and for test
    max_missing_fraction: float = 0.5     # layouts: more listed files missing than this = error
    sampling: str = "segments"            # segments | seconds (see above)
    seconds_per_step: float | str | None = "auto"   # seconds rule: video time between steps
                                          # ("auto": train.py sets median duration / T)
    fps: float | None = None              # frame rate of frame folders / videos whose container
                                          # has none (seconds rule)

    def __post_init__(self) -> None:
        self.format = canonical_format(self.format, self.list_file)
        if self.seconds_per_step not in (None, "auto"):
            try:
                self.seconds_per_step = float(self.seconds_per_step)
            except (TypeError, ValueError):
                raise ConfigError(f"data.seconds_per_step={self.seconds_per_step!r}: expected a "
                                  f"number of seconds or 'auto'") from None
        self.resolutions = [int(r) for r in self.resolutions]
        self.scales = [float(s) for s in self.scales]
        self.video_extensions = [e if e.startswith(".") else "." + e for e in self.video_extensions]
        self.validate()

    @property
    def train(self) -> bool:
        return self.mode == "train"

    @property
    def layout(self) -> str | None:
        """The dataset layout this config names (None: a list format, the plain class folder, or
        ``auto``)."""
        return self.format if self.format in LAYOUTS else None

    @property
    def pad(self) -> str:
        """How a video shorter than the T sampled steps is filled (``PAD_RULES``)."""
        return "repeat_in_order" if self.sampling == "segments" else "repeat_last"

    def validate(self) -> None:
        if self.format not in formats():
            raise ConfigError(f"data.format={self.format!r} is not one of {list(formats())} "
                              f"(aliases: {sorted({**LIST_ALIASES, **layout_aliases()})})")
        if self.resize not in RESIZE_METHODS:
            raise ConfigError(f"data.resize={self.resize!r} is not one of {list(RESIZE_METHODS)}")
        if self.mode not in MODES:
            raise ConfigError(f"data.mode={self.mode!r} is not one of {list(MODES)}")
        if not self.root:
            raise ConfigError("data.root is empty: give the folder the list paths are relative to "
                              "(or the root/<class>/*.mp4 folder)")
        if self.format in ("video_list", "activitynet") and not self.list_file:
            raise ConfigError(f"data.format={self.format!r} needs data.list_file")
        if self.subset is not None and self.subset not in SUBSETS:
            raise ConfigError(f"data.subset={self.subset!r} is not one of {list(SUBSETS)}")
        if self.layout is not None:
            splits = LAYOUTS[self.layout].splits
            if self.split not in splits:
                raise ConfigError(f"data.split={self.split}: {self.layout} has the official "
                                  f"split(s) {list(splits)}")
        for k in ("val_fraction", "test_fraction"):
            if not 0 <= getattr(self, k) < 1:
                raise ConfigError(f"data.{k}={getattr(self, k)}: expected a share in [0, 1)")
        if self.val_fraction + self.test_fraction >= 1:
            raise ConfigError(f"data.val_fraction + data.test_fraction = "
                              f"{self.val_fraction + self.test_fraction}: must be < 1")
        if not 0 <= self.max_missing_fraction <= 1:
            raise ConfigError(f"data.max_missing_fraction={self.max_missing_fraction}: expected a "
                              f"share in [0, 1]")
        if self.sampling not in SAMPLING_RULES:
            raise ConfigError(f"data.sampling={self.sampling!r} is not one of {list(SAMPLING_RULES)}")
        if isinstance(self.seconds_per_step, float) and self.seconds_per_step <= 0:
            raise ConfigError(f"data.seconds_per_step={self.seconds_per_step}: must be > 0")
        if self.fps is not None and self.fps <= 0:
            raise ConfigError(f"data.fps={self.fps}: must be > 0")
        if self.num_segments < 1:
            raise ConfigError(f"data.num_segments={self.num_segments}: must be >= 1")
        r = self.resolutions
        if not r or any(x <= 0 for x in r) or any(a <= b for a, b in zip(r, r[1:])):
            raise ConfigError(f"data.resolutions={r}: expected strictly decreasing positive sizes, "
                              f"e.g. [224, 168, 112, 84]")
        if not self.scales or any(not 0 < s <= 1 for s in self.scales):
            raise ConfigError(f"data.scales={self.scales}: expected crop scales in (0, 1], "
                              f"e.g. {list(DEFAULT_SCALES)}")
        if self.max_distort < 0:
            raise ConfigError(f"data.max_distort={self.max_distort}: must be >= 0")
        if self.decoder not in DECODERS:
            raise ConfigError(f"data.decoder={self.decoder!r} is not one of {list(DECODERS)}")
        if self.num_classes is not None and self.num_classes < 1:
            raise ConfigError(f"data.num_classes={self.num_classes}: must be >= 1")
        if self.seek_threshold < 1:
            raise ConfigError(f"data.seek_threshold={self.seek_threshold}: must be >= 1")
        if self.max_replacements < 0:
            raise ConfigError(f"data.max_replacements={self.max_replacements}: must be >= 0")
        if self.image_tmpl is not None:
            try:
                self.image_tmpl.format(1)
            except (IndexError, KeyError, ValueError) as e:
                raise ConfigError(f"data.image_tmpl={self.image_tmpl!r}: not a format string "
                                  f"taking the frame number, e.g. 'image_{{:05d}}.jpg' ({e})") \
                    from None

    def replace(self, **kw: Any) -> "DataConfig":
        return dataclasses.replace(self, **kw)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any], where: str = "data") -> "DataConfig":
        return from_dict(DataConfig, d, where)


@dataclass(frozen=True)
class BadItem:
    index: int
    path: str
    reason: str


def find_classes_file(classes_file: str | None, list_file: str | None, root: str | None
                      ) -> Path | None:
    """``classes_file``, else a ``classes.txt`` beside the list file or in ``root`` (DataConfig's
    rule), else None."""
    if classes_file:
        return Path(classes_file)
    for d in ([Path(list_file).parent] if list_file else []) + ([Path(root)] if root else []):
        if (d / "classes.txt").is_file():
            return d / "classes.txt"
    return None


def resolve_format(cfg: DataConfig) -> str:
    """The format a config reads: a list style, ``video_folder`` or a layout name."""
    if cfg.format != "auto":
        return cfg.format
    if cfg.list_file:
        return sniff_style(cfg.list_file)
    return detect_layout(cfg.root) if cfg.subset is not None else "video_folder"


def layout_request(cfg: DataConfig) -> LayoutRequest:
    return LayoutRequest(root=cfg.root, subset=cfg.subset or ("train" if cfg.train else "val"),
                         split=int(cfg.split), annotations=cfg.annotations,
                         split_seed=int(cfg.split_seed), val_fraction=float(cfg.val_fraction),
                         test_fraction=float(cfg.test_fraction),
                         max_missing_fraction=float(cfg.max_missing_fraction),
                         extensions=tuple(cfg.video_extensions))


def load_layout_records(cfg: DataConfig, fmt: str):
    """(records, class names, report) of a layout; the report is logged once here."""
    part = load_layout(fmt, layout_request(cfg))
    part.report.log_once(log)
    return part.records, part.classes, part.report


def load_records(cfg: DataConfig, reports: list | None = None
                 ) -> tuple[str, list[VideoRecord], list[str]]:
    """(resolved format, records, class names) for a config; checks labels against classes.
    A layout's :class:`DataReport` is appended to ``reports`` when given."""
    fmt = resolve_format(cfg)
    if fmt in LAYOUTS:
        records, labels, report = load_layout_records(cfg, fmt)
        if reports is not None:
            reports.append(report)
    elif fmt == "video_folder":
        records, labels = scan_video_folder(cfg.root, tuple(cfg.video_extensions))
        if cfg.classes_file:
            names = read_classes(cfg.classes_file)
            if names != labels:
                raise ListFileError(f"{cfg.classes_file}: class names {names} differ from the "
                                    f"folders under {cfg.root}: {labels}")
    else:
        records = parse_list(cfg.list_file, fmt)
        cf = find_classes_file(cfg.classes_file, cfg.list_file, cfg.root)
        if cf is not None:
            labels = read_classes(cf)
        else:
            n = cfg.num_classes or 1 + max(max(r.labels) for r in records)
            labels = [str(i) for i in range(n)]
        n = cfg.num_classes or len(labels)
        for r in records:
            bad = [x for x in r.labels if x >= n]
            if bad:
                raise ListFileError(f"{r.source}: label {bad[0]} is out of range: there are {n} "
                                    f"classes (0..{n - 1})"
                                    + (f" in {cf}" if cf is not None else ""))
    if cfg.num_classes is not None and cfg.num_classes != len(labels):
        if cfg.num_classes < len(labels):
            raise ConfigError(f"data.num_classes={cfg.num_classes} but the dataset has "
                              f"{len(labels)} classes")
        labels = labels + [str(i) for i in range(len(labels), cfg.num_classes)]
    return fmt, records, labels


class ClipDataset(torch.utils.data.Dataset):
    """T-segment clips of videos / frame folders at every resolution (see module doc)."""

    def __init__(self, cfg: DataConfig, records: Sequence[VideoRecord] | None = None,
                 labels: Sequence[str] | None = None, report: Any = None):
        self.cfg = cfg
        reports: list = [report] if report is not None else []
        if records is None:
            self.format, records, labels = load_records(cfg, reports)
        else:
            self.format = resolve_format(cfg)
        self.report = reports[0] if reports else None   # layouts: DataReport of what was skipped
        self.decoder = (LAYOUTS[self.format].decoder if self.format in LAYOUTS else None) \
            or cfg.decoder
        self.sampling = cfg.sampling
        if cfg.sampling == "seconds" and not isinstance(cfg.seconds_per_step, float):
            raise ConfigError(f"data.sampling='seconds' needs data.seconds_per_step in seconds, got "
                              f"{cfg.seconds_per_step!r} (train/train.py sets 'auto' to the median "
                              f"duration / T of the training videos)")
        self.records = list(records)
        self.labels = list(labels) if labels is not None else \
            [str(i) for i in range(1 + max(max(r.labels) for r in self.records))]
        self.num_classes = len(self.labels)
        self.multi_label = bool(cfg.multi_label)
        self.resolutions = list(cfg.resolutions)
        self.num_segments = cfg.num_segments
        self.image_tmpl = cfg.image_tmpl or DEFAULT_IMAGE_TMPL.get(self.format)
        self.augment = TrainAugment(cfg.resolutions, cfg.scales, cfg.flip, cfg.max_distort,
                                    cfg.cascade_resize, cfg.resize) if cfg.train else None
        self.resize = cfg.resize
        self.epoch = 0
        self.bad_items: list[BadItem] = []
        self._bad: set[int] = set()

    # ------------------------------------------------------------------ bookkeeping
    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """With ``cfg.seed`` set, training samples depend on (seed, epoch, index) only."""
        self.epoch = int(epoch)

    @property
    def bad_paths(self) -> list[str]:
        return [b.path for b in self.bad_items]

    @property
    def targets(self) -> list[int]:
        """First label of every record (e.g. for samplers, class counts)."""
        return [r.label for r in self.records]

    def path_of(self, i: int) -> str:
        p = self.records[i].path
        return p if os.path.isabs(p) else os.path.join(self.cfg.root, p)

    def _rng(self, i: int) -> np.random.Generator:
        if self.cfg.seed is not None:
            return np.random.default_rng([int(self.cfg.seed), self.epoch, int(i)])
        return np.random.default_rng(int(torch.randint(0, 2 ** 62, (1,)).item()))

    # ------------------------------------------------------------------ loading
    def load_frames(self, i: int, rng: np.random.Generator | None = None
                    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Decoded RGB frames of record i at its T sampled indices (raises DecodeError)."""
        rec = self.records[i]
        path = self.path_of(i)
        train = self.cfg.train
        if train and rng is None:
            rng = self._rng(i)

        def pick(n: int, fps: float | None) -> np.ndarray:
            if self.sampling == "seconds":
                fps = fps or self.cfg.fps
                if not fps:
                    raise DecodeError(path, "no frame rate (the seconds sampling rule needs one): "
                                            "set data.fps")
                return time_indices(n, fps, self.num_segments, float(self.cfg.seconds_per_step),
                                    train, rng)
            return sample_indices(n, self.num_segments, train, rng)

        if self.frame_folders:
            if not os.path.isdir(path):
                raise DecodeError(path, "frame folder not found")
            idx = pick(rec.num_frames, None)
            return read_frame_folder(path, idx, self.image_tmpl, self.cfg.index_base), idx
        with open_video(path, self.decoder, self.cfg.seek_threshold,
                        self.cfg.decoder_threads) as reader:
            idx = pick(reader.num_frames, reader.fps)
            return reader.read(idx.tolist()), idx

    @property
    def frame_folders(self) -> bool:
        """Records are folders of extracted frames (ActivityNet / mini-Kinetics lists)."""
        return self.image_tmpl is not None and self.format in ("activitynet", "kinetics")

    def timing(self, max_videos: int = 32, seed: int = 0) -> dict[str, Any]:
        """Frame rate and duration of up to ``max_videos`` records (a seeded pick; headers only):
        ``{"videos_probed", "fps": {median, min, max}, "duration_s": {median, min, max}}`` (a
        key is missing when nothing could be measured)."""
        n = len(self.records)
        pick = np.random.default_rng(seed).permutation(n)[:max_videos] if n else []
        fps, dur = [], []
        for i in pick:
            i = int(i)
            try:
                if self.frame_folders:
                    f, nf = self.cfg.fps, self.records[i].num_frames
                else:
                    with open_video(self.path_of(i), self.decoder, self.cfg.seek_threshold) as r:
                        f, nf = (r.fps or self.cfg.fps), r.num_frames
            except Exception:  # noqa: BLE001 - unreadable ones are reported when loaded
                continue
            if f:
                fps.append(float(f))
                dur.append(nf / float(f))

        def stats(v):
            return {"median": round(float(np.median(v)), 4), "min": round(float(min(v)), 4),
                    "max": round(float(max(v)), 4)}
        out: dict[str, Any] = {"videos_probed": len(fps)}
        if fps:
            out["fps"] = stats(fps)
            out["duration_s"] = stats(dur)
        return out

    def load(self, i: int, rng: np.random.Generator | None = None) -> dict[str, Any]:
        """Item i without bad-item replacement (raises DecodeError / other errors)."""
        if self.cfg.train and rng is None:
            rng = self._rng(i)
        frames, _ = self.load_frames(i, rng)
        shapes = {f.shape for f in frames}
        if len(shapes) != 1 or next(iter(shapes))[2:] != (3,):
            raise DecodeError(self.path_of(i),
                              f"frames of differing or non-RGB shapes {sorted(shapes)}")
        if self.augment is not None:
            views = self.augment(frames, rng)
        else:
            views = eval_views(frames, self.resolutions, self.resize)
        tensors = [torch.from_numpy(v).permute(0, 3, 1, 2).contiguous() for v in views]
        return {"frames": tensors, "label": self.target(i), "index": int(i)}

    def target(self, i: int) -> int | torch.Tensor:
        labels = self.records[i].labels
        if self.multi_label:
            t = torch.zeros(self.num_classes, dtype=torch.float32)
            t[list(labels)] = 1.0
            return t
        return int(labels[0])

    def _mark_bad(self, i: int, err: BaseException) -> None:
        if isinstance(err, DecodeError):
            inner = os.path.relpath(err.path, self.path_of(i))
            reason = err.reason if inner == "." else f"{inner}: {err.reason}"
        else:
            reason = f"{type(err).__name__}: {err}"
        self._bad.add(i)
        self.bad_items.append(BadItem(i, self.path_of(i), reason))
        n = len(self.bad_items)
        if n <= WARN_BAD_ITEMS:
            log.warning("skipping unreadable item %d %s: %s", i, self.path_of(i), reason)
        else:
            log.debug("skipping unreadable item %d %s: %s", i, self.path_of(i), reason)
        if n == WARN_BAD_ITEMS:
            log.warning("further unreadable videos are skipped with a debug message only (all are "
                        "in dataset.bad_items%s)", f" and {self.cfg.bad_items_file}"
                        if self.cfg.bad_items_file else "; data.bad_items_file collects them")
        if self.cfg.bad_items_file:
            try:
                with open(self.cfg.bad_items_file, "a", encoding="utf-8") as f:
                    f.write(f"{self.path_of(i)}\t{reason}\n")
            except OSError as e:
                log.warning("cannot append to bad_items_file %s: %s", self.cfg.bad_items_file, e)

    def __getitem__(self, i: int) -> dict[str, Any]:
        n = len(self.records)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for a dataset of {n} items")
        i %= n
        errors: list[str] = []
        j = i
        for attempt in range(min(n, self.cfg.max_replacements + 1)):
            if j not in self._bad:
                try:
                    return self.load(j)
                except (KeyboardInterrupt, SystemExit, MemoryError):
                    raise
                except Exception as e:  # noqa: BLE001 - an epoch must not stop on one file
                    self._mark_bad(j, e)
                    errors.append(f"{self.path_of(j)}: {self.bad_items[-1].reason}")
            j = (j + 1) % n
        raise RuntimeError(f"item {i} and its {self.cfg.max_replacements} replacements are all "
                           f"unreadable (something systematic?): " + "; ".join(errors[-5:]))

    def validate(self, decode: bool = False) -> list[BadItem]:
        """Check every record now (open it; with ``decode`` also read a clip).

        Returns the newly found bad items (also in ``bad_items``; later ``__getitem__`` calls
        skip them without retrying)."""
        before = len(self.bad_items)
        for i in range(len(self.records)):
            if i in self._bad:
                continue
            try:
                if decode:
                    self.load_frames(i, np.random.default_rng(0))
                else:
                    self._probe(i)
            except Exception as e:  # noqa: BLE001
                self._mark_bad(i, e)
        return self.bad_items[before:]

    def _probe(self, i: int) -> None:
        path = self.path_of(i)
        if self.frame_folders:
            if not os.path.isdir(path):
                raise DecodeError(path, "frame folder not found")
            for k in (0, self.records[i].num_frames - 1):
                f = os.path.join(path, self.image_tmpl.format(k + self.cfg.index_base))
                if not os.path.isfile(f):
                    raise DecodeError(f, "file not found")
            return
        with open_video(path, self.decoder, self.cfg.seek_threshold) as r:
            _ = r.num_frames


def build_dataset(cfg: DataConfig | dict[str, Any], **overrides: Any) -> ClipDataset:
    """The factory: ``build_dataset(DataConfig(...))`` or from a dict (e.g. a YAML section)."""
    if isinstance(cfg, dict):
        cfg = DataConfig.from_dict(cfg)
    if overrides:
        cfg = cfg.replace(**overrides)
    return ClipDataset(cfg)


def collate(items: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """Batch items: frames -> list of (B, T, 3, s, s) uint8; label -> (B,) long or (B, C) float."""
    items = [it for it in items if it is not None]
    if not items:
        raise ValueError("collate: empty batch")
    frames = [torch.stack([it["frames"][k] for it in items])
              for k in range(len(items[0]["frames"]))]
    labels = [it["label"] for it in items]
    label = torch.stack(labels) if isinstance(labels[0], torch.Tensor) else \
        torch.tensor(labels, dtype=torch.long)
    index = torch.tensor([it["index"] for it in items], dtype=torch.long)
    return {"frames": frames, "label": label, "index": index}


# modules the DataLoader fork server imports before forking workers (a missing one is skipped)
WORKER_PRELOAD = ("torch", "numpy", "cv2", "av", "train.data.dataset")


def worker_init_fn(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: one thread per worker for OpenCV and torch."""
    import cv2
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def build_loader(dataset: ClipDataset, batch_size: int, shuffle: bool | None = None,
                 num_workers: int = 0, sampler: Any = None, drop_last: bool | None = None,
                 pin_memory: bool = False, persistent_workers: bool = False,
                 prefetch_factor: int | None = None) -> torch.utils.data.DataLoader:
    """A DataLoader with :func:`collate` and :func:`worker_init_fn` (shuffle/drop_last default
    to the dataset's mode).

    Workers start from a fork server where the platform has one (Linux): a plain ``fork`` of a
    process whose OpenCV / torch thread pools have been used can inherit a lock or condition
    variable mid-use, and the worker then hangs for ever (seen: ``cv2.setNumThreads`` blocked in
    ``pthread_cond_destroy`` in a forked worker during the test suite). The fork server imports
    torch, OpenCV, PyAV and this module once (:data:`WORKER_PRELOAD`; imports start no thread pool),
    so a loader's workers start in a fraction of a second instead of each importing them again: on
    a 16-core GPU machine with 12 workers that start-up took tens of seconds per loader, and the
    trainer builds two loaders per epoch."""
    import multiprocessing as mp
    train = dataset.cfg.train
    kw: dict[str, Any] = {}
    if num_workers > 0:
        kw["persistent_workers"] = persistent_workers
        if "forkserver" in mp.get_all_start_methods():
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(list(WORKER_PRELOAD))  # no effect once the server runs
            kw["multiprocessing_context"] = ctx
        if prefetch_factor is not None:
            kw["prefetch_factor"] = prefetch_factor
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size,
        shuffle=(train if shuffle is None else shuffle) if sampler is None else False,
        sampler=sampler, num_workers=num_workers, collate_fn=collate,
        worker_init_fn=worker_init_fn, pin_memory=pin_memory,
        drop_last=train if drop_last is None else drop_last, **kw)
