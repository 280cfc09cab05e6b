"""HMDB51 as distributed: ``<class>/<video>.avi`` and ``testTrainMulti_7030_splits/``.

Each ``<class>_test_split{1,2,3}.txt`` lists ``<video>.avi <0|1|2>``: 1 = training, 2 = testing,
0 = not used in that split (counted as ``unused``, never an error).  Classes are the sorted class
names of the split files.  HMDB51 has no validation set: ``val`` is the split's test videos.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from train.data.layouts.base import (DataReport, Layout, LayoutError, LayoutRequest, Rows,
                                     candidate_dirs, class_dir_root, register_layout)

SPLIT_DIR = "testTrainMulti_7030_splits"
_NAME = re.compile(r"^(?P<cls>.+)_test_split(?P<split>[123])\.txt$")
WANT = {"train": "1", "val": "2", "test": "2"}


def split_dir(root: Path, annotations: str | None) -> Path:
    if annotations:
        d = Path(annotations)
        if d.is_dir():
            return d
        raise LayoutError(f"hmdb51: data.annotations={annotations} is not a folder (expected "
                          f"{SPLIT_DIR}/ with <class>_test_split1.txt ...)")
    for d in candidate_dirs(root, 2):
        if d.name == SPLIT_DIR or (d / SPLIT_DIR).is_dir():
            return d if d.name == SPLIT_DIR else d / SPLIT_DIR
    raise LayoutError(f"hmdb51: {SPLIT_DIR}/ not found in {root} or two levels below; set "
                      f"data.annotations to the folder of <class>_test_split1.txt files")


def load(req: LayoutRequest):
    root = Path(req.root)
    sd = split_dir(root, req.annotations)
    files = {}
    for f in sorted(os.listdir(sd)):
        m = _NAME.match(f)
        if m and int(m["split"]) == int(req.split):
            files[m["cls"]] = sd / f
    if not files:
        raise LayoutError(f"hmdb51: no <class>_test_split{req.split}.txt files in {sd}")
    classes = sorted(files)
    video_root, folder_of = class_dir_root(root, classes, "hmdb51 (<class>/*.avi)")
    report = DataReport(f"hmdb51 split {req.split} {req.subset} ({sd.name})")
    if req.subset == "val":
        report.note("HMDB51 has no validation set: val is the split's test videos")
    want = WANT[req.subset]
    rows = Rows("hmdb51", req, report)
    for label, cls in enumerate(classes):
        lst = files[cls]
        folder = folder_of.get(cls.lower())
        try:
            on_disk = {f.lower(): f for f in os.listdir(video_root / folder)} if folder else {}
        except OSError:
            on_disk = {}
        for n, line in enumerate(lst.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            where = f"{lst.name}:{n}"
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                report.add("bad_row", f"{where} {line!r} (expected '<video>.avi <0|1|2>')")
                continue
            if parts[1] == "0":
                if req.subset == "train":
                    report.add("unused", f"{where} {parts[0]}")
                continue
            if parts[1] != want:
                continue
            f = on_disk.get(parts[0].lower())
            rows.add(parts[0].lower(), None if f is None else str(video_root / folder / f), label,
                     where, f"{cls}/{parts[0]}")
    return rows.finish(classes, f"{sd}/*_test_split{req.split}.txt", str(video_root))


def detect(root: Path) -> bool:
    return any(d.name == SPLIT_DIR or (d / SPLIT_DIR).is_dir() for d in candidate_dirs(root, 2))


LAYOUT = register_layout(Layout(
    name="hmdb51", load=load, detect=detect, splits=(1, 2, 3), aliases=("hmdb", "hmdb-51"),
    description="HMDB51: testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt over <class>/*.avi"))
