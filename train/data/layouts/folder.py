"""A plain folder of your own videos: ``root/<class>/*`` or ``root/{train,val,test}/<class>/*``.

Any container OpenCV / PyAV decode (:data:`train.data.lists.VIDEO_EXTENSIONS`); other files are
ignored (counted as ``not_a_video``).  Classes are the sorted class-folder names (of ``train/``
when there are split folders).

Without split folders the videos of every class are split deterministically: the class's files,
sorted by name, are permuted by a generator seeded with ``(data.split_seed, crc32(class))``; the
first ``round(n * test_fraction)`` go to test, the next ``round(n * val_fraction)`` to val, the rest
to train (stratified: every class is split on its own).  A class with 3 or more videos gets at
least one val and one test video; every class keeps at least one training video.  With split
folders a missing ``val/`` is the test folder and a missing ``test/`` the val folder.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np

from train.data.layouts.base import (DataReport, Layout, LayoutError, LayoutRequest, finish, rec,
                                     register_layout)

SPLIT_DIRS = {"train": ("train", "training"), "val": ("val", "valid", "validation"),
              "test": ("test", "testing")}


def split_dirs(root: Path) -> dict:
    out = {}
    for subset, names in SPLIT_DIRS.items():
        for n in names:
            if (root / n).is_dir():
                out[subset] = root / n
                break
    return out


def class_files(folder: Path, exts: tuple, report: DataReport) -> dict:
    """class name -> sorted video file names of ``folder/<class>/``."""
    out = {}
    for d in sorted(os.listdir(folder)):
        p = folder / d
        if d.startswith(".") or not p.is_dir():
            continue
        files = []
        for f in sorted(os.listdir(p)):
            if f.startswith("."):
                continue
            if f.lower().endswith(exts) and (p / f).is_file():
                files.append(f)
            else:
                report.add("not_a_video", f"{d}/{f}")
        out[d] = files
    return out


def assign(files: list[str], cls: str, seed: int, val_fraction: float, test_fraction: float) -> dict:
    """file -> subset for one class (the rule in the module doc)."""
    n = len(files)
    n_test = int(round(n * test_fraction))
    n_val = int(round(n * val_fraction))
    if n >= 3:
        n_test = max(n_test, 1 if test_fraction > 0 else 0)
        n_val = max(n_val, 1 if val_fraction > 0 else 0)
    while n_test + n_val > max(n - 1, 0):
        if n_test >= n_val and n_test > 0:
            n_test -= 1
        else:
            n_val -= 1
    perm = np.random.default_rng([int(seed), zlib.crc32(cls.encode("utf-8"))]).permutation(n)
    out = {}
    for rank, i in enumerate(perm.tolist()):
        out[files[i]] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return out


def load(req: LayoutRequest):
    root = Path(req.root)
    exts = tuple(e.lower() for e in req.extensions)
    dirs = split_dirs(root)
    report = DataReport(f"folder {req.subset}")
    if dirs:
        if "train" not in dirs:
            raise LayoutError(f"{root}: split folders {sorted(p.name for p in dirs.values())} but no "
                              f"train/ (expected root/{{train,val,test}}/<class>/*)")
        classes = sorted(class_files(dirs["train"], exts, DataReport("")))
        if not classes:
            raise LayoutError(f"{dirs['train']}: no class folders (expected train/<class>/*.mp4)")
        subset = req.subset
        if subset not in dirs:
            other = "test" if subset == "val" else "val"
            if subset == "train" or other not in dirs:
                raise LayoutError(f"{root}: no {subset}/ folder (have {sorted(dirs)})")
            report.note(f"no {subset}/ folder: {subset} is {dirs[other].name}/")
            subset = other
        folder = dirs[subset]
        report.where = f"folder {req.subset} ({folder})"
        index_of = {c: i for i, c in enumerate(classes)}
        records = []
        for cls, files in class_files(folder, exts, report).items():
            if cls not in index_of:
                for f in files:
                    report.add("unknown_class", f"{folder.name}/{cls}/{f} (no {cls}/ in train/)")
                continue
            records += [rec(str(folder / cls / f), index_of[cls], str(folder / cls)) for f in files]
        train_labels = [r.label for r in records] if req.subset == "train" else None
        return finish("folder", req, records, classes, report, str(folder), train_labels)
    per_class = class_files(root, exts, report)
    classes = sorted(per_class)
    if not classes:
        raise LayoutError(f"{root}: no class folders (expected root/<class>/*.mp4 or "
                          f"root/{{train,val,test}}/<class>/*.mp4)")
    report.where = f"folder {req.subset} ({root}, seeded split {req.split_seed})"
    records, train_labels = [], []
    for label, cls in enumerate(classes):
        where = assign(per_class[cls], cls, req.split_seed, req.val_fraction, req.test_fraction)
        for f in per_class[cls]:
            if where[f] == "train":
                train_labels.append(label)
            if where[f] == req.subset:
                records.append(rec(str(root / cls / f), label, str(root / cls)))
    return finish("folder", req, records, classes, report, str(root),
                  train_labels if req.subset == "train" else None)


def detect(root: Path) -> bool:
    if split_dirs(root).get("train") is not None:
        return True
    try:
        for d in os.scandir(root):
            if d.is_dir() and not d.name.startswith("."):
                return True
    except OSError:
        return False
    return False


LAYOUT = register_layout(Layout(
    name="folder", load=load, detect=detect, splits=(1,), aliases=("plain", "own"),
    description="your own videos: root/<class>/* (split train/val/test by a seeded, stratified "
                "rule) or root/{train,val,test}/<class>/*"))
