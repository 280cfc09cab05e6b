"""Something-Something v2 as distributed: ``labels.json``, ``train.json``, ``validation.json``
over ``20bn-something-something-v2/<id>.webm`` (12 fps VP9, decoded by PyAV).

``labels.json`` maps the 174 class templates (``"Putting something into something"``) to their
index (a string); every entry of ``train.json`` / ``validation.json`` is
``{"id", "label", "template", "placeholders"}``, its class the template without the brackets
(``"Putting [something] into [something]"``).  The caption (the template with the placeholders
filled in, ``"Putting potato into bowl"``) is kept in each record's source for messages.  The
test set has no labels: ``val`` and ``test`` are both ``validation.json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from train.data.layouts.base import (DataReport, Layout, LayoutError, LayoutRequest, Rows,
                                     candidate_dirs, find_file, index_files, register_layout)

FILES = {"train": "train.json", "val": "validation.json", "test": "validation.json"}
_SLOT = re.compile(r"\[([^\]]*)\]")


def class_of(template: str) -> str:
    return template.replace("[", "").replace("]", "")


def caption(template: str, placeholders) -> str:
    """The template with its ``[...]`` slots filled from ``placeholders`` in order (a slot with no
    placeholder keeps its own word)."""
    it = iter(placeholders or [])
    return _SLOT.sub(lambda m: str(next(it, m.group(1))), template)


def _json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise LayoutError(f"ssv2: {path}: not readable JSON ({e})") from None


def load(req: LayoutRequest):
    root = Path(req.root)
    lab_file = find_file(root, req.annotations, ["labels.json", "something-something-v2-labels.json"],
                         "ssv2 class list")
    labels = _json(lab_file)
    if not isinstance(labels, dict) or not labels:
        raise LayoutError(f"ssv2: {lab_file}: expected a JSON object {{template: index}}")
    try:
        order = sorted(labels.items(), key=lambda kv: int(kv[1]))
    except (TypeError, ValueError):
        raise LayoutError(f"ssv2: {lab_file}: class indices must be integers (or integer strings)") \
            from None
    classes = [k for k, _ in order]
    if [int(v) for _, v in order] != list(range(len(classes))):
        raise LayoutError(f"ssv2: {lab_file}: class indices must be 0..{len(classes) - 1}")
    index_of = {c: i for i, c in enumerate(classes)}
    name = FILES[req.subset]
    ann = lab_file.parent / name
    if not ann.is_file():
        alt = lab_file.parent / f"something-something-v2-{name}"
        if not alt.is_file():
            raise LayoutError(f"ssv2: {ann} not found (expected {name} beside {lab_file.name})")
        ann = alt
    entries = _json(ann)
    if not isinstance(entries, list):
        raise LayoutError(f"ssv2: {ann}: expected a JSON list of {{id, label, template, placeholders}}")
    report = DataReport(f"ssv2 {req.subset} ({ann.name})")
    if req.subset == "test":
        report.note("the SSv2 test set has no labels: test is validation.json")
    videos = index_files(root, req.extensions)
    rows = Rows("ssv2", req, report)
    for n, e in enumerate(entries):
        where = f"{ann.name}[{n}]"
        if not isinstance(e, dict) or "id" not in e:
            report.add("bad_row", f"{where} {str(e)[:80]} (expected an object with id)")
            continue
        vid = str(e["id"])
        tmpl = e.get("template")
        if not tmpl:
            report.add("no_label", f"{where} id {vid}")
            continue
        text = caption(tmpl, e.get("placeholders"))
        cls = class_of(tmpl)
        if cls not in index_of:
            report.add("unknown_class", f"{where} id {vid} template {tmpl!r} (not in {lab_file.name})")
            continue
        rows.add(vid, videos.get(vid), index_of[cls], where, f"{vid}.webm",
                 source=f"{where} id {vid}: {text!r}")
    return rows.finish(classes, str(ann), str(root))


def detect(root: Path) -> bool:
    return any((d / "labels.json").is_file() and (d / "train.json").is_file()
               for d in candidate_dirs(root, 2))


LAYOUT = register_layout(Layout(
    name="ssv2", load=load, detect=detect, splits=(1,), decoder="pyav",
    aliases=("something-something-v2", "something_something_v2", "sthv2", "sth-sth-v2", "smth-smth-v2"),
    description="Something-Something v2: labels.json + train.json/validation.json over <id>.webm"))
