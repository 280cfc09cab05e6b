"""Frames for export: int8 calibration and held-out validation clips.

Sources (``--calib DATA``):

* a folder ``root/<class>/*.mp4`` (the training layout, ``train.data.lists.scan_video_folder``);
  if ``root`` has ``train/`` and ``val/`` (or ``test/``) subfolders of that layout, calibration
  comes from ``train/`` and validation from ``val/``/``test/``; otherwise the clips are split;
* any folder: every video file below it, and every folder of ``.jpg``/``.png`` frames (one clip
  per folder), labels unknown (accuracy is then not measured, agreement still is);
* an ``.npz`` with ``clips`` (N, T, H, W, 3) uint8 RGB and optionally ``labels`` (N,) or
  (N, C) multi-hot;
* a training config ``.yaml``: its ``data`` section through the training pipeline's own
  datasets (``train.data.dataset``), calibration from ``train``, validation from ``val``.

Without ``--calib`` the exporter uses the ``data`` section of the checkpoint's ``run_config``
(the data the model was trained on) when its files exist here.

Clips are sampled like evaluation in training (``train.data.sampling.eval_indices``: the centre
frame of each of T segments) and preprocessed exactly like the device
(``edge_runtime.preprocess``). ``synthetic_clips`` makes deterministic moving-pattern clips for
``--tiny`` and tests; int8 calibrated on them is marked as such.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_runtime.preprocess import preprocess

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


class DataError(ValueError):
    """Calibration / validation data cannot be found or read; the message says what to pass."""


@dataclass
class Clip:
    frames: np.ndarray            # (T, H, W, 3) uint8 RGB, any H, W
    label: object = None          # int, list[int] (multi-label) or None (unknown)
    source: str = ""
    resize: str = "area"          # the model's preprocessing rule (manifest normalization.resize)
    _views: dict = field(default_factory=dict, repr=False)

    def view(self, size: int) -> np.ndarray:
        """(T, size, size, 3) uint8: the device preprocessing of every frame."""
        if size not in self._views:
            self._views[size] = np.stack([preprocess(f, size, self.resize) for f in self.frames])
        return self._views[size]


@dataclass
class ExportData:
    calib: list[Clip]
    val: list[Clip]
    source: str                   # a path, or "synthetic"
    real: bool                    # frames from real data (not generated)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict:
        return {"source": self.source, "real": self.real, "calib_clips": len(self.calib),
                "val_clips": len(self.val),
                "frames_per_clip": int(self.calib[0].frames.shape[0]) if self.calib else 0,
                "notes": list(self.notes)}


# ---------------------------------------------------------------------------------- synthetic
def synthetic_clips(n: int, frames: int, height: int = 72, width: int = 96, seed: int = 0,
                    num_classes: int = 5) -> list[Clip]:
    """Deterministic clips of a moving coloured square on a drifting gradient, with noise.

    Non-square frames so the device's centre crop is exercised. Labels: ``i % num_classes``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    clips = []
    for i in range(n):
        c0, c1, sq = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        pos = rng.uniform([0, 0], [height - 16, width - 16])
        vel = rng.uniform(-6, 6, 2)
        side = int(rng.integers(10, 28))
        phase = rng.uniform(0, 2 * np.pi)
        out = np.empty((frames, height, width, 3), np.uint8)
        for t in range(frames):
            a = 0.5 + 0.5 * np.sin(xx / width * np.pi + yy / height + phase + 0.3 * t)
            img = a[..., None] * c0 + (1 - a[..., None]) * c1
            y, x = (pos + vel * t) % [height - side, width - side]
            img[int(y):int(y) + side, int(x):int(x) + side] = sq
            img += rng.normal(0, 6, img.shape)
            out[t] = np.clip(img, 0, 255).astype(np.uint8)
        clips.append(Clip(out, i % num_classes, f"synthetic#{i}"))
    return clips


# ---------------------------------------------------------------------------------- real data
def _label_map(classes: list[str], labels: list[str]) -> dict[int, int] | None:
    """Folder class index -> model label index, by name when the names match, else identity."""
    if labels and set(classes) <= set(labels):
        return {i: labels.index(c) for i, c in enumerate(classes)}
    if labels and len(classes) != len(labels):
        return None
    return {i: i for i in range(len(classes))}


def _eval_indices(num_frames: int, num_segments: int) -> np.ndarray:
    """Centre frame of each of T segments (= ``train.data.sampling.eval_indices``)."""
    tick = num_frames / num_segments
    idx = np.floor(tick * (np.arange(num_segments) + 0.5)).astype(np.int64)
    return np.clip(idx, 0, num_frames - 1)


def _read_video(path: str, frames: int) -> np.ndarray:
    from train.data.sampling import eval_indices
    from train.data.video import read_video
    imgs, _, _ = read_video(path, lambda n: eval_indices(n, frames), decoder="opencv")
    return np.stack(imgs)


def _read_frame_dir(folder: Path, frames: int) -> np.ndarray:
    from train.data.sampling import eval_indices
    from train.data.video import read_image
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))
    idx = eval_indices(len(files), frames)
    return np.stack([read_image(str(folder / files[i])) for i in idx])


def _class_layout(root: Path, labels: list[str]) -> list[tuple[str, object]] | None:
    """[(video path, label)] for a ``root/<class>/*.mp4`` folder, None if it is not one."""
    from train.data.lists import ListFileError, scan_video_folder
    try:
        records, classes = scan_video_folder(root)
    except ListFileError:
        return None
    m = _label_map(classes, labels)
    return [(str(root / r.path), (m[r.label] if m else None)) for r in records]


def _any_layout(root: Path) -> list[tuple[str, object]]:
    from train.data.lists import VIDEO_EXTENSIONS
    items = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        fs = sorted(filenames)
        items += [(os.path.join(dirpath, f), None) for f in fs if f.lower().endswith(VIDEO_EXTENSIONS)]
        if sum(f.lower().endswith(IMAGE_EXTENSIONS) for f in fs) >= 1:
            items.append((dirpath, None))
    return items


def _pick(items: list, n: int, seed: int) -> list:
    """A seeded, class-balanced-ish subset of ``n`` items (round-robin over labels)."""
    if len(items) <= n:
        return list(items)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(items))
    by_label: dict = {}
    for i in order:
        by_label.setdefault(str(items[i][1]), []).append(items[i])
    out, queues = [], list(by_label.values())
    while len(out) < n:
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


def _load_items(items: list[tuple[str, object]], frames: int) -> list[Clip]:
    clips = []
    for path, label in items:
        p = Path(path)
        arr = _read_frame_dir(p, frames) if p.is_dir() else _read_video(str(p), frames)
        clips.append(Clip(arr, label, str(p)))
    return clips


def _load_npz(path: Path, frames: int) -> list[Clip]:
    with np.load(path) as z:
        key = "clips" if "clips" in z else ("frames" if "frames" in z else None)
        if key is None:
            raise DataError(f"{path}: an .npz for --calib needs an array 'clips' (N, T, H, W, 3) uint8; "
                            f"it has {sorted(z.keys())}")
        arr = z[key]
        labels = z["labels"] if "labels" in z else None
    if arr.ndim != 5 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        raise DataError(f"{path}:{key}: expected (N, T, H, W, 3) uint8 RGB, got {arr.dtype} {arr.shape}")
    clips = []
    for i in range(arr.shape[0]):
        f = arr[i][_eval_indices(arr.shape[1], frames)]
        lab = None
        if labels is not None:
            lab = labels[i].tolist() if np.ndim(labels[i]) else int(labels[i])
            if isinstance(lab, list):  # multi-hot -> positives
                lab = [j for j, v in enumerate(lab) if v]
        clips.append(Clip(np.ascontiguousarray(f), lab, f"{path}#{i}"))
    return clips


def load_export_data(calib: str | os.PathLike | None, *, labels: list[str], frames_per_clip: int,
                     resolutions: list[int] = (224, 168, 112, 84), calib_clips: int = 16,
                     val_clips: int = 16, seed: int = 0, synthetic_ok: bool = False) -> ExportData:
    """Calibration and held-out clips from ``calib`` (see the module doc); synthetic clips when
    ``calib`` is None and ``synthetic_ok``."""
    T = int(frames_per_clip)
    if calib is None:
        if not synthetic_ok:
            raise DataError("no calibration data: pass --calib DATA (a folder of training videos "
                            "root/<class>/*.mp4, a folder of videos or frame folders, or an .npz of "
                            "clips); int8 must be calibrated on real frames")
        n = len(labels) or 5
        return ExportData(synthetic_clips(calib_clips, T, seed=seed, num_classes=n),
                          synthetic_clips(val_clips, T, seed=seed + 1000, num_classes=n),
                          "synthetic", False, ["generated frames (no --calib given)"])
    root = Path(calib)
    if root.suffix in (".yaml", ".yml") and root.is_file():
        from train.config import load_yaml
        data_d = load_yaml(root).get("data")
        if not isinstance(data_d, dict):
            raise DataError(f"--calib {root}: the config has no 'data' section")
        return load_from_data_section(data_d, labels=labels, frames_per_clip=T, resolutions=resolutions,
                                      calib_clips=calib_clips, val_clips=val_clips, seed=seed,
                                      where=str(root))
    if not root.exists():
        raise DataError(f"--calib {root}: not found (expected a folder of videos root/<class>/*.mp4, "
                        f"a folder of frame folders, or an .npz of clips)")
    notes: list[str] = []
    if root.is_file():
        if root.suffix != ".npz":
            raise DataError(f"--calib {root}: a file must be an .npz of clips; pass a folder for videos")
        clips = _load_npz(root, T)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(clips)).tolist()
        k = max(1, len(clips) // 2) if len(clips) > 1 else 1
        cal = [clips[i] for i in order[:k]][:calib_clips]
        val = [clips[i] for i in order[k:]][:val_clips] or cal[:val_clips]
        if len(clips) < 2:
            notes.append("only one clip: validation reuses the calibration clip")
        return ExportData(cal, val, str(root), True, notes)
    split_cal = next((root / d for d in ("train",) if (root / d).is_dir()), None)
    split_vals = [root / d for d in ("val", "valid", "test") if (root / d).is_dir()]
    if split_cal is not None and split_vals:
        cal_items = _class_layout(split_cal, labels) or _any_layout(split_cal)
        val_items, used = [], []
        for sv in split_vals:       # val first; test too while there are fewer than val_clips
            if len(val_items) >= val_clips:
                break
            val_items += _class_layout(sv, labels) or _any_layout(sv)
            used.append(sv.name + "/")
        notes.append(f"calibration from {split_cal.name}/, validation from {' + '.join(used)}")
    else:
        items = _class_layout(root, labels) or _any_layout(root)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(items)).tolist()
        val_idx = set(order[::4]) if len(items) > 1 else set()
        cal_items = [it for i, it in enumerate(items) if i not in val_idx]
        val_items = [it for i, it in enumerate(items) if i in val_idx] or cal_items
        notes.append("one folder: every 4th clip (seeded) held out for validation")
    if not cal_items:
        raise DataError(f"--calib {root}: no video files or frame folders found below it")
    cal = _load_items(_pick(cal_items, calib_clips, seed), T)
    val = _load_items(_pick(val_items, val_clips, seed + 1), T)
    return ExportData(cal, val, str(root), True, notes)


# ------------------------------------------------------------------- training-config data
def _resolve_paths(data_d: dict, base: Path | None) -> dict:
    """Make the relative paths of a config's data section exist from here (cwd, then ``base``)."""
    def fix(v):
        if isinstance(v, str) and v and not os.path.isabs(v) and not Path(v).exists() and base is not None \
                and (base / v).exists():
            return str(base / v)
        return v
    out = {}
    for k, v in data_d.items():
        if isinstance(v, dict):
            out[k] = {kk: fix(vv) if kk in ("root", "list_file", "classes_file") else vv for kk, vv in v.items()}
        else:
            out[k] = fix(v) if k in ("root", "list_file", "classes_file") else v
    return out


def data_section_usable(data_d: dict | None) -> bool:
    """True when a training config's ``data`` section names a train split that exists here."""
    if not isinstance(data_d, dict) or "train" not in data_d:
        return False
    d = _resolve_paths(data_d, Path(__file__).resolve().parents[1])
    root = (d.get("train") or {}).get("root") or d.get("root")
    lst = (d.get("train") or {}).get("list_file")
    return bool((lst and Path(lst).is_file()) or (root and Path(root).is_dir()))


def load_from_data_section(data_d: dict, *, labels: list[str], frames_per_clip: int,
                           resolutions: list[int], calib_clips: int, val_clips: int, seed: int = 0,
                           where: str = "data") -> ExportData:
    """Clips from a training config's ``data`` section (the training pipeline's own datasets,
    eval-mode sampling): calibration from ``train``, validation from ``val`` (else held out)."""
    from train.data.dataset import build_dataset
    from train.train import data_config
    d = _resolve_paths(data_d, Path(__file__).resolve().parents[1])
    T = int(frames_per_clip)

    def ds_for(split):
        return build_dataset(data_config(d, split, list(resolutions), "eval"), num_segments=T)

    def clips_of(ds, n, sd, exclude=()):
        items = [(i, list(ds.records[i].labels) if ds.multi_label else ds.records[i].label)
                 for i in range(len(ds)) if i not in exclude]
        out = []
        for i, lab in _pick(items, n, sd):
            frames, _ = ds.load_frames(i)
            m = _label_map(ds.labels, labels)
            if m is not None:
                lab = [m[x] for x in lab] if isinstance(lab, list) else m[lab]
            else:
                lab = None
            out.append(Clip(np.stack(frames), lab, ds.path_of(i)))
        return out

    try:
        cal_ds = ds_for("train")
        val_ds = ds_for("val") if "val" in d else None
    except Exception as e:
        raise DataError(f"{where}: cannot open the training data ({type(e).__name__}: {e})") from None
    notes = [f"frames from the training config's data section ({where}): calibration from its "
             f"train split" + (", validation from its val split" if val_ds is not None else "")]
    if val_ds is not None:
        cal = clips_of(cal_ds, calib_clips, seed)
        val = clips_of(val_ds, val_clips, seed + 1)
        if len(val) < val_clips and "test" in d:    # held out too: fill up to val_clips
            try:
                val += clips_of(ds_for("test"), val_clips - len(val), seed + 2)
                notes[0] += " and its test split"
            except Exception as e:
                notes.append(f"test split not used ({type(e).__name__}: {e})")
    else:
        val = clips_of(cal_ds, val_clips, seed + 1)
        held = {c.source for c in val}
        cal = [c for c in clips_of(cal_ds, calib_clips + val_clips, seed) if c.source not in held][:calib_clips]
    src = (d.get("train") or {}).get("list_file") or (d.get("train") or {}).get("root") or d.get("root")
    return ExportData(cal, val, str(src), True, notes)


# ---------------------------------------------------------------------------- module samples
def stream_samples(specs, clips: list[Clip], max_samples: int, seed: int = 0) -> dict[str, list[dict]]:
    """Role-keyed input samples per module id, as the device would feed them.

    policy: every frame at the lowest resolution with the LSTM state the streaming loop
    (docs/STREAMING.md) has at that frame (state advances at decision steps only);
    backbones: every frame at their resolution. Capped at ``max_samples`` per module
    (evenly spread, deterministic)."""
    import torch
    out: dict[str, list[dict]] = {s.id: [] for s in specs}
    pol = next(s for s in specs if s.role == "policy")
    L = pol.num_resolutions
    dev = pol.device_module()
    for clip in clips:
        low = clip.view(pol.resolution)
        h = np.zeros((1, pol.hidden), np.float32)
        c = np.zeros((1, pol.hidden), np.float32)
        remaining = 0
        for t in range(low.shape[0]):
            sample = {"frame": low[t:t + 1], "h": h, "c": c}
            out[pol.id].append(sample)
            if remaining > 0:
                remaining -= 1
                continue
            with torch.no_grad():
                a, _, h2, c2 = dev(*pol.as_args(sample))
            h, c = h2.numpy(), c2.numpy()
            act = int(a.argmax(-1))
            if act >= L:
                remaining = pol.skip_lengths[act - L] - 1
        for s in specs:
            if s.role == "backbone":
                v = clip.view(s.resolution)
                out[s.id] += [{"frame": v[t:t + 1]} for t in range(v.shape[0])]
    for k, v in out.items():
        if len(v) > max_samples:
            idx = np.linspace(0, len(v) - 1, max_samples).round().astype(int)
            out[k] = [v[i] for i in idx]
    return out
