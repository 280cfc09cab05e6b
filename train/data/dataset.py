"""``DataConfig`` -> ``ClipDataset``: T-segment clips at every AR-Net resolution, uint8 RGB.

Item (``dataset[i]``)::

    {"frames": [uint8 tensor (T, 3, s, s) for s in resolutions (descending)],
     "label": int                          (single-label)
              | float tensor (C,) multi-hot (multi_label=True),
     "index": int}                         the record actually returned (see bad items)

``collate`` batches items to ``frames[k]``: (B, T, 3, s_k, s_k) uint8, ``label``: (B,) long or
(B, C) float, ``index``: (B,) long.

Bad items: a video or frame that cannot be read is logged (warning naming the path and the
reason), recorded in ``dataset.bad_items`` (per process: each DataLoader worker keeps its own;
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
from train.data.sampling import sample_indices
from edge_runtime.preprocess import RESIZE_METHODS
from train.data.transforms import DEFAULT_SCALES, TrainAugment, eval_views
from train.data.video import DECODERS, DecodeError, open_video, read_frame_folder

log = logging.getLogger("train.data")

FORMATS = ("auto", "video_folder", "video_list", "activitynet", "kinetics")
FORMAT_ALIASES = {"fcvid": "activitynet", "mini-kinetics": "kinetics", "minik": "kinetics",
                  "videos": "video_folder", "folder": "video_folder"}
DEFAULT_IMAGE_TMPL = {"activitynet": "image_{:05d}.jpg", "kinetics": "{:05d}.jpg"}
MODES = ("train", "eval")


@dataclass
class DataConfig:
    """Where the clips come from and how they are sampled (no globals: pass this around).

    format: ``video_folder`` (root/<class>/*.mp4, classes = sorted folder names),
    ``video_list`` (lines ``relpath label``), ``activitynet`` (``path,num_frames,label[,...]``,
    frames ``image_{:05d}.jpg``), ``kinetics`` (``path num_frames label``, frames
    ``{:05d}.jpg``), or ``auto`` (no list_file -> video_folder, else sniffed from the list).
    Paths in lists are relative to ``root``.  Class names: ``classes_file``, else a
    ``classes.txt`` beside the list file or in root, else "0".."C-1".
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

    def __post_init__(self) -> None:
        self.format = FORMAT_ALIASES.get(self.format, self.format)
        self.resolutions = [int(r) for r in self.resolutions]
        self.scales = [float(s) for s in self.scales]
        self.video_extensions = [e if e.startswith(".") else "." + e for e in self.video_extensions]
        self.validate()

    @property
    def train(self) -> bool:
        return self.mode == "train"

    def validate(self) -> None:
        if self.format not in FORMATS:
            raise ConfigError(f"data.format={self.format!r} is not one of {list(FORMATS)} "
                              f"(aliases: {sorted(FORMAT_ALIASES)})")
        if self.resize not in RESIZE_METHODS:
            raise ConfigError(f"data.resize={self.resize!r} is not one of {list(RESIZE_METHODS)}")
        if self.mode not in MODES:
            raise ConfigError(f"data.mode={self.mode!r} is not one of {list(MODES)}")
        if not self.root:
            raise ConfigError("data.root is empty: give the folder the list paths are relative to "
                              "(or the root/<class>/*.mp4 folder)")
        if self.format in ("video_list", "activitynet", "kinetics") and not self.list_file:
            raise ConfigError(f"data.format={self.format!r} needs data.list_file")
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
    if cfg.format != "auto":
        return cfg.format
    return "video_folder" if not cfg.list_file else sniff_style(cfg.list_file)


def load_records(cfg: DataConfig) -> tuple[str, list[VideoRecord], list[str]]:
    """(resolved format, records, class names) for a config; checks labels against classes."""
    fmt = resolve_format(cfg)
    if fmt == "video_folder":
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
                 labels: Sequence[str] | None = None):
        self.cfg = cfg
        if records is None:
            self.format, records, labels = load_records(cfg)
        else:
            self.format = resolve_format(cfg)
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

        def pick(n: int) -> np.ndarray:
            return sample_indices(n, self.num_segments, train, rng)

        if self.image_tmpl is not None and self.format in ("activitynet", "kinetics"):
            if not os.path.isdir(path):
                raise DecodeError(path, "frame folder not found")
            idx = pick(rec.num_frames)
            return read_frame_folder(path, idx, self.image_tmpl, self.cfg.index_base), idx
        with open_video(path, self.cfg.decoder, self.cfg.seek_threshold,
                        self.cfg.decoder_threads) as reader:
            idx = pick(reader.num_frames)
            return reader.read(idx.tolist()), idx

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
        log.warning("skipping unreadable item %d %s: %s", i, self.path_of(i), reason)
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
        if self.image_tmpl is not None and self.format in ("activitynet", "kinetics"):
            if not os.path.isdir(path):
                raise DecodeError(path, "frame folder not found")
            for k in (0, self.records[i].num_frames - 1):
                f = os.path.join(path, self.image_tmpl.format(k + self.cfg.index_base))
                if not os.path.isfile(f):
                    raise DecodeError(f, "file not found")
            return
        with open_video(path, self.cfg.decoder, self.cfg.seek_threshold) as r:
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
