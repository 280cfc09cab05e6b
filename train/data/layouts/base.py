"""The layout table and what every layout shares: the request, the result, the problem report.

A *layout* reads a public dataset as it is distributed (its own annotation files over its own
folder of videos) and returns the records of one subset (``train`` / ``val`` / ``test``) of one
official split.  Layouts register themselves in :data:`LAYOUTS` (name -> :class:`Layout`), the
one table ``data.format`` is looked up in.

Bad input is not fatal where training can go on: an annotation row naming a missing file, an
unknown class, a duplicate id, a class with no training video are counted in a
:class:`DataReport` (one warning per kind, with the first examples).  A subset whose files are
(almost) all missing means the annotation files and the video folder do not belong together:
:class:`LayoutError` names both paths.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from train.data.lists import VIDEO_EXTENSIONS, ListFileError, VideoRecord

log = logging.getLogger("train.data")

SUBSETS = ("train", "val", "test")

# kind -> (what it means, True when it is a problem worth a warning)
REPORT_KINDS = {
    "missing_file": ("listed in the annotations but not found on disk (skipped)", True),
    "unknown_class": ("labelled with a class that is not in the class list (skipped)", True),
    "duplicate_id": ("listed more than once (first kept)", True),
    "no_label": ("without a label (skipped)", True),
    "bad_row": ("annotation rows that could not be parsed (skipped)", True),
    "no_training_video": ("classes with no training video", True),
    "empty_split": ("subsets with no usable video", True),
    "not_a_video": ("files in class folders without a video extension (ignored; "
                    "data.video_extensions lists the ones read)", True),
    "unused": ("videos the split marks as unused (0 in HMDB51's split files)", False),
}


class LayoutError(ListFileError):
    """A dataset's annotation files and its folder do not match (or are not there); the message
    names the paths to check."""


@dataclass
class DataReport:
    """Problems (and notable facts) found while reading a dataset: a count per kind and the
    first ``max_examples`` examples of each.  ``log_once`` warns once per kind."""

    where: str
    max_examples: int = 3
    counts: dict = field(default_factory=dict)
    examples: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def add(self, kind: str, example: str) -> None:
        if kind not in REPORT_KINDS:
            raise ValueError(f"report kind {kind!r} is not one of {sorted(REPORT_KINDS)}")
        self.counts[kind] = self.counts.get(kind, 0) + 1
        ex = self.examples.setdefault(kind, [])
        if len(ex) < self.max_examples:
            ex.append(example)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def problems(self) -> dict:
        return {k: n for k, n in self.counts.items() if REPORT_KINDS[k][1]}

    def lines(self) -> list[str]:
        out = []
        for kind, n in self.counts.items():
            what = REPORT_KINDS[kind][0]
            ex = "; ".join(self.examples.get(kind, []))
            more = ", ..." if n > len(self.examples.get(kind, [])) else ""
            out.append(f"{self.where}: {n} {what}: {ex}{more}")
        return out

    def log_once(self, logger: logging.Logger = log) -> None:
        for kind, line in zip(self.counts, self.lines()):
            (logger.warning if REPORT_KINDS[kind][1] else logger.info)("%s", line)
        for n in self.notes:
            logger.info("%s: %s", self.where, n)

    def to_dict(self) -> dict:
        return {"where": self.where, "counts": dict(self.counts),
                "examples": {k: list(v) for k, v in self.examples.items()}, "notes": list(self.notes)}


@dataclass(frozen=True)
class LayoutRequest:
    """What a layout is asked for (built from ``DataConfig``)."""

    root: str
    subset: str = "train"             # train | val | test
    split: int = 1                    # official split number where the dataset has several
    annotations: str | None = None    # folder (or file) of the annotation files; default: found under root
    split_seed: int = 0               # plain folders without split folders: the seeded split
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    max_missing_fraction: float = 0.5
    extensions: tuple = VIDEO_EXTENSIONS


@dataclass
class LayoutSplit:
    """The records of one subset: absolute paths, labels as indices into ``classes``."""

    layout: str
    subset: str
    split: int
    records: list
    classes: list
    report: DataReport
    source: str = ""                  # the annotation file(s) read (for messages)


@dataclass(frozen=True)
class Layout:
    """One entry of the layout table."""

    name: str
    description: str                               # the files it reads, for --help and errors
    load: Callable[[LayoutRequest], LayoutSplit]
    detect: Callable[[Path], bool]
    splits: tuple = (1,)                           # official split numbers
    aliases: tuple = ()
    decoder: str | None = None                     # a decoder the files need (None: any)


LAYOUTS: dict = {}


def register_layout(layout: Layout) -> Layout:
    for n in (layout.name,) + tuple(layout.aliases):
        if n in LAYOUTS or n in _ALIASES:
            raise ValueError(f"layout name {n!r} is already registered")
    LAYOUTS[layout.name] = layout
    for a in layout.aliases:
        _ALIASES[a] = layout.name
    return layout


_ALIASES: dict = {}


def layout_aliases() -> dict:
    return dict(_ALIASES)


def canonical_layout(name: str) -> str | None:
    """The registered name for ``name`` or one of its aliases (case-insensitive), else None."""
    n = str(name).lower()
    if n in LAYOUTS:
        return n
    return _ALIASES.get(n)


def list_layouts() -> list[str]:
    return list(LAYOUTS)


def get_layout(name: str) -> Layout:
    n = canonical_layout(name)
    if n is None:
        raise LayoutError(f"data.format={name!r} is not a dataset layout; valid: {list(LAYOUTS)} "
                          f"(aliases: {sorted(_ALIASES)})")
    return LAYOUTS[n]


def detect_layout(root: str | os.PathLike) -> str:
    """The first layout (in table order) that recognises ``root``; the plain folder is last."""
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{root}: dataset folder not found")
    for name, lay in LAYOUTS.items():
        if lay.detect(root):
            return name
    raise LayoutError(f"{root}: cannot tell the dataset layout; expected one of: "
                      + "; ".join(f"{n}: {lay.description}" for n, lay in LAYOUTS.items())
                      + " (or set data.format / --format)")


def load_layout(name: str, req: LayoutRequest) -> LayoutSplit:
    lay = get_layout(name)
    if req.subset not in SUBSETS:
        raise LayoutError(f"data.subset={req.subset!r} is not one of {list(SUBSETS)}")
    if int(req.split) not in lay.splits:
        raise LayoutError(f"data.split={req.split}: {lay.name} has the official split(s) "
                          f"{list(lay.splits)}")
    if not Path(req.root).is_dir():
        raise LayoutError(f"{req.root}: {lay.name} dataset folder not found (expected {lay.description})")
    return lay.load(req)


# ----------------------------------------------------------------------------- helpers
def candidate_dirs(root: Path, depth: int = 2) -> list[Path]:
    """``root`` and its sub-folders down to ``depth`` (hidden ones skipped), breadth first."""
    out, level = [root], [root]
    for _ in range(depth):
        nxt = []
        for d in level:
            try:
                with os.scandir(d) as it:
                    nxt += sorted(Path(e.path) for e in it
                                  if e.is_dir() and not e.name.startswith("."))
            except OSError:
                continue
        out += nxt
        level = nxt
    return out


def find_file(root: Path, annotations: str | None, names: Iterable[str], what: str,
              depth: int = 2) -> Path:
    """The first of ``names`` in ``annotations`` (a folder, or the file itself) or under ``root``."""
    names = list(names)
    if annotations:
        a = Path(annotations)
        if a.is_file() and a.name in names:
            return a
        dirs = [a] if a.is_dir() else [a.parent]
    else:
        dirs = candidate_dirs(root, depth)
    for d in dirs:
        for n in names:
            if (d / n).is_file():
                return d / n
    where = annotations or f"{root} (and its sub-folders, {depth} levels)"
    raise LayoutError(f"{what}: none of {names} found in {where}; set data.annotations to the "
                      f"folder holding them")


def class_dir_root(root: Path, classes: list[str], what: str) -> tuple[Path, dict]:
    """The folder under ``root`` holding the most ``<class>/`` folders (matched case-insensitively)
    and its map lower-case class name -> folder name on disk."""
    want = {c.lower() for c in classes}
    best, best_map = None, {}
    for d in candidate_dirs(root, 2):
        try:
            with os.scandir(d) as it:
                m = {e.name.lower(): e.name for e in it if e.is_dir() and e.name.lower() in want}
        except OSError:
            continue
        if len(m) > len(best_map):
            best, best_map = d, m
    if best is None:
        raise LayoutError(f"{root}: no class folders of {what} found (looked for "
                          f"{sorted(classes)[:3]}... in {root} and two levels below); check that "
                          f"data.root / --data is the dataset folder")
    return best, best_map


def index_files(root: Path, extensions: Iterable[str]) -> dict:
    """stem -> path of every video file below ``root`` (first by sorted walk order wins)."""
    exts = tuple(e.lower() for e in extensions)
    out: dict = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if f.lower().endswith(exts) and not f.startswith("."):
                out.setdefault(os.path.splitext(f)[0], os.path.join(dirpath, f))
    return out


def check_found(layout: str, listed: int, missing: int, list_file: str, video_root: str,
                max_fraction: float, examples: list[str]) -> None:
    """Raise :class:`LayoutError` when the annotations and the folder do not belong together."""
    if listed and (missing == listed or missing / listed > max_fraction):
        raise LayoutError(
            f"{layout}: {missing} of {listed} videos listed in {list_file} are not under "
            f"{video_root} (e.g. {'; '.join(examples[:3])}); the split files do not match the "
            f"folder: check that data.root / --data is the {layout} folder these annotation files "
            f"come from (data.max_missing_fraction={max_fraction} allows up to that share missing)")


def finish(layout: str, req: LayoutRequest, records: list, classes: list, report: DataReport,
           source: str, train_labels: Iterable[int] | None = None) -> LayoutSplit:
    """Report classes with no training video and an empty subset; raise when nothing is left."""
    if train_labels is not None:
        have = set(train_labels)
        for i, c in enumerate(classes):
            if i not in have:
                report.add("no_training_video", c)
    if not records:
        report.add("empty_split", f"{req.subset} of split {req.split} ({source})")
        raise LayoutError(f"{layout}: the {req.subset} subset of split {req.split} has no usable "
                          f"video ({source}; problems: {report.problems() or 'none'}); check the "
                          f"annotation files and data.root {req.root}")
    return LayoutSplit(layout, req.subset, int(req.split), records, classes, report, source)


def rec(path: str, label: int, source: str) -> VideoRecord:
    return VideoRecord(path, (int(label),), None, source)


class Rows:
    """The records of one subset as a layout reads its annotation rows: a duplicate key is
    reported (first kept), a row whose file is not on disk (``path`` None) counted as missing;
    :meth:`finish` checks the missing share and returns the :class:`LayoutSplit`."""

    def __init__(self, layout: str, req: LayoutRequest, report: DataReport):
        self.layout, self.req, self.report = layout, req, report
        self.records: list = []
        self.seen: set = set()
        self.listed = self.missing = 0
        self.missing_examples: list = []

    def add(self, key: str, path: str | None, label: int, where: str, shown: str,
            source: str | None = None) -> None:
        if key in self.seen:
            self.report.add("duplicate_id", f"{where} {shown}")
            return
        self.seen.add(key)
        self.listed += 1
        if path is None:
            self.missing += 1
            self.report.add("missing_file", f"{where} {shown}")
            if len(self.missing_examples) < 3:
                self.missing_examples.append(shown)
            return
        self.records.append(rec(path, label, source or where))

    def finish(self, classes: list, list_file: str, video_root: str) -> LayoutSplit:
        check_found(self.layout, self.listed, self.missing, list_file, video_root,
                    self.req.max_missing_fraction, self.missing_examples)
        train = [r.label for r in self.records] if self.req.subset == "train" else None
        return finish(self.layout, self.req, self.records, classes, self.report, list_file, train)
