"""UCF101 as distributed: ``UCF-101/<Class>/v_<Class>_gXX_cYY.avi`` and ``ucfTrainTestlist/``.

* ``classInd.txt``: ``<index 1..101> <Class>``;
* ``trainlist0{1,2,3}.txt``: ``<Class>/v_*.avi <index>``; ``testlist0{1,2,3}.txt``: ``<Class>/v_*.avi``
  (the label is the folder's class).

Class and file names are matched case-insensitively: the official files spell one class
``HandstandPushups`` while its folder and videos are ``HandStandPushups``.  UCF101 has no
validation list: ``val`` is the split's test list (as the AR-Net and TSN code evaluate).
"""

from __future__ import annotations

import os
from pathlib import Path

from train.data.layouts.base import (DataReport, Layout, LayoutError, LayoutRequest, Rows,
                                     candidate_dirs, class_dir_root, find_file, register_layout)


def read_class_ind(path: Path) -> list[str]:
    names: dict[int, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[0].isdigit():
            raise LayoutError(f"{path}:{n}: expected '<index> <ClassName>', got {line!r}")
        i = int(parts[0])
        if i in names:
            raise LayoutError(f"{path}:{n}: class index {i} given twice")
        names[i] = parts[1]
    if not names or sorted(names) != list(range(1, len(names) + 1)):
        raise LayoutError(f"{path}: expected class indices 1..N, got {sorted(names)[:5]}...")
    return [names[i] for i in range(1, len(names) + 1)]


class _Resolver:
    """Finds ``<Class>/<file>`` on disk case-insensitively (one listing per class folder)."""

    def __init__(self, video_root: Path, folder_of: dict):
        self.root, self.folder_of, self.listing = video_root, folder_of, {}

    def __call__(self, relpath: str) -> str | None:
        parts = relpath.replace("\\", "/").split("/")
        if len(parts) != 2:
            return None
        folder = self.folder_of.get(parts[0].lower())
        if folder is None:
            return None
        if folder not in self.listing:
            try:
                self.listing[folder] = {f.lower(): f for f in os.listdir(self.root / folder)}
            except OSError:
                self.listing[folder] = {}
        f = self.listing[folder].get(parts[1].lower())
        return None if f is None else str(self.root / folder / f)


def load(req: LayoutRequest):
    root = Path(req.root)
    ind = find_file(root, req.annotations, ["classInd.txt"], "ucf101 class list")
    classes = read_class_ind(ind)
    index_of = {c.lower(): i for i, c in enumerate(classes)}
    video_root, folder_of = class_dir_root(root, classes, "ucf101 (<Class>/v_*.avi)")
    kind = "train" if req.subset == "train" else "test"
    lst = ind.parent / f"{kind}list{int(req.split):02d}.txt"
    if not lst.is_file():
        raise LayoutError(f"ucf101: {lst} not found (expected beside {ind.name}: trainlist0N.txt and "
                          f"testlist0N.txt for split N in 1..3)")
    report = DataReport(f"ucf101 split {req.split} {req.subset} ({lst.name})")
    if req.subset == "val":
        report.note("UCF101 has no validation list: val is the split's test list")
    resolve = _Resolver(video_root, folder_of)
    rows = Rows("ucf101", req, report)
    for n, line in enumerate(lst.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        where = f"{lst.name}:{n}"
        relpath = parts[0]
        cls = relpath.replace("\\", "/").split("/")[0].lower()
        if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
            report.add("bad_row", f"{where} {line!r} (expected '<Class>/v_*.avi [index]')")
            continue
        if len(parts) == 2:
            label = int(parts[1]) - 1
            if not 0 <= label < len(classes):
                report.add("unknown_class", f"{where} index {parts[1]} (classInd has 1..{len(classes)})")
                continue
        elif cls in index_of:
            label = index_of[cls]
        else:
            report.add("unknown_class", f"{where} {relpath} (class folder not in {ind.name})")
            continue
        rows.add(relpath.lower(), resolve(relpath), label, where, relpath)
    return rows.finish(classes, str(lst), str(video_root))


def detect(root: Path) -> bool:
    return any((d / "classInd.txt").is_file() for d in candidate_dirs(root, 2))


LAYOUT = register_layout(Layout(
    name="ucf101", load=load, detect=detect, splits=(1, 2, 3), aliases=("ucf", "ucf-101"),
    description="UCF101: ucfTrainTestlist/{classInd,trainlist0N,testlist0N}.txt over "
                "UCF-101/<Class>/v_*.avi"))
