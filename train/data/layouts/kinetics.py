"""Kinetics-400/600/700 as distributed: CSV annotations over trimmed clips (``kinetics_csv``).

``data.format: kinetics`` means this layout when no ``list_file`` is given (with one it is the
mini-Kinetics frame list of ``train/data/lists.py``); ``kinetics400`` / ``600`` / ``700`` always.

CSV files (``train.csv``, ``validate.csv`` / ``val.csv``, ``test.csv``; any name holding
``train`` / ``val`` / ``test``) with the header ``label,youtube_id,time_start,time_end,split``
(extra columns such as ``is_cc`` ignored).  Clips are found anywhere below the root by the name the
common downloaders give them, ``<youtube_id>_<start:06d>_<end:06d>.<ext>`` (``<youtube_id>.<ext>``
accepted too), so both ``<split>/<label>/<clip>.mp4`` and flat ``<split>/<clip>.mp4`` trees work.
Clips that are missing (YouTube takedowns: every copy of Kinetics lacks some) are counted and
reported, not fatal.  Classes are the sorted labels of the training CSV.  A test CSV without labels
(Kinetics-400's) is not usable: ``test`` then is the validation CSV.
"""

from __future__ import annotations

import csv
from pathlib import Path

from train.data.layouts.base import (DataReport, Layout, LayoutError, LayoutRequest, Rows,
                                     candidate_dirs, index_files, register_layout)

NEED = ("youtube_id", "time_start", "time_end")
KEYWORD = {"train": ("train",), "val": ("val",), "test": ("test",)}


def _header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as f:
            return [h.strip() for h in next(csv.reader(f), [])]
    except OSError:
        return []


def annotation_csvs(root: Path, annotations: str | None) -> list[Path]:
    dirs = [Path(annotations)] if annotations else candidate_dirs(root, 2)
    out = []
    for d in dirs:
        if d.is_file():
            cands = [d]
        else:
            cands = sorted(d.glob("*.csv")) if d.is_dir() else []
        out += [p for p in cands if all(k in _header(p) for k in NEED)]
    return out


def csv_for(subset: str, csvs: list[Path], root: Path) -> Path | None:
    hits = [p for p in csvs if any(k in p.stem.lower() for k in KEYWORD[subset])]
    if len(hits) > 1:
        raise LayoutError(f"kinetics: several {subset} CSVs found: {[str(p) for p in hits]}; set "
                          f"data.annotations to the one folder (or file) to use")
    return hits[0] if hits else None


def clip_name(youtube_id: str, start: str, end: str) -> str:
    return f"{youtube_id}_{int(float(start)):06d}_{int(float(end)):06d}"


def _rows(path: Path):
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        for n, row in enumerate(csv.DictReader(f), 2):
            yield n, {(k or "").strip(): (v or "").strip() for k, v in row.items()}


def load(req: LayoutRequest):
    root = Path(req.root)
    csvs = annotation_csvs(root, req.annotations)
    if not csvs:
        raise LayoutError(f"kinetics: no CSV with the columns label,{','.join(NEED)} found in "
                          f"{req.annotations or root} (or two levels below); set data.annotations")
    train_csv = csv_for("train", csvs, root)
    if train_csv is None or "label" not in _header(train_csv):
        raise LayoutError(f"kinetics: no training CSV with a label column among {[str(p) for p in csvs]} "
                          f"(the class list is read from it)")
    classes = sorted({r["label"] for _, r in _rows(train_csv) if r.get("label")})
    index_of = {c: i for i, c in enumerate(classes)}
    report = DataReport(f"kinetics {req.subset}")
    lst = csv_for(req.subset, csvs, root)
    if req.subset == "test" and (lst is None or "label" not in _header(lst)):
        report.note(f"no labelled test CSV ({lst or 'none found'}): test is the validation CSV")
        lst = csv_for("val", csvs, root)
    if lst is None:
        raise LayoutError(f"kinetics: no {req.subset} CSV among {[str(p) for p in csvs]}")
    report.where = f"kinetics {req.subset} ({lst.name})"
    clips = index_files(root, req.extensions)
    rows = Rows("kinetics_csv", req, report)
    for n, r in _rows(lst):
        where = f"{lst.name}:{n}"
        label = r.get("label", "")
        try:
            name = clip_name(r["youtube_id"], r["time_start"], r["time_end"])
        except (KeyError, ValueError, TypeError):
            report.add("bad_row", f"{where} {r} (expected youtube_id, integer time_start/time_end)")
            continue
        if not label:
            report.add("no_label", f"{where} {name}")
            continue
        if label not in index_of:
            report.add("unknown_class", f"{where} {name} label {label!r} (not in {train_csv.name})")
            continue
        rows.add(name, clips.get(name) or clips.get(r["youtube_id"]), index_of[label], where, name)
    return rows.finish(classes, str(lst), str(root))


def detect(root: Path) -> bool:
    return bool(annotation_csvs(root, None))


LAYOUT = register_layout(Layout(
    name="kinetics_csv", load=load, detect=detect, splits=(1,),
    aliases=("kinetics400", "kinetics600", "kinetics700", "kinetics-400", "kinetics-600",
             "kinetics-700", "k400", "k600", "k700"),
    description="Kinetics-400/600/700: {train,validate,test}.csv (label,youtube_id,time_start,"
                "time_end,split) over <youtube_id>_<start:06d>_<end:06d>.mp4 clips"))
