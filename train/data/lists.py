"""List files (AR-Net / TSN conventions), class-name files and video-folder scanning.

Three list styles, paths relative to a root folder:

* ``activitynet`` (ActivityNet / FCVID, comma separated, multi-label capable)::

      path,num_frames,label[,label...]        frames: path/image_00001.jpg ... (1-based)

* ``kinetics`` (mini-Kinetics, space separated)::

      path num_frames label                     frames: path/00001.jpg ... (1-based)

* ``video_list`` (a video file per line; several labels as ``3,7``)::

      relpath label

Blank lines and lines starting with ``#`` are ignored.  A malformed line raises
:class:`ListFileError` naming ``file:line``, what was expected and what was found.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".3gp", ".flv",
                    ".wmv", ".ogv", ".ts", ".mts", ".m2ts")

EXPECTED = {
    "activitynet": "'path,num_frames,label[,label...]' (ActivityNet/FCVID style, comma separated)",
    "kinetics": "'path num_frames label' (mini-Kinetics style, space separated)",
    "video_list": "'relpath label' (label an integer, or several as '3,7')",
}


class ListFileError(ValueError):
    """A list or class-names file is malformed; the message names file:line."""


@dataclass(frozen=True)
class VideoRecord:
    """One dataset entry: a video file or a folder of frames, and its label(s)."""

    path: str                      # as written in the list (relative to the root) or absolute
    labels: tuple[int, ...]        # one or more class indices
    num_frames: int | None = None  # known for frame folders; None for video files (read at decode)
    source: str = ""               # "file:line" the record came from (or the scanned folder)

    @property
    def label(self) -> int:
        return self.labels[0]


def _iter_lines(list_file: Path):
    try:
        text = list_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ListFileError(f"{list_file}: list file not found") from None
    except UnicodeDecodeError as e:
        raise ListFileError(f"{list_file}: not a UTF-8 text file ({e})") from None
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield n, line


def _int(value: str, what: str, where: str, expected: str, line: str, minimum: int = 0) -> int:
    try:
        v = int(value)
    except ValueError:
        raise ListFileError(f"{where}: {what} {value!r} is not an integer; expected {expected}, "
                            f"got {line!r}") from None
    if v < minimum:
        raise ListFileError(f"{where}: {what} {v} must be >= {minimum}; expected {expected}, "
                            f"got {line!r}")
    return v


def parse_list(list_file: str | Path, style: str) -> list[VideoRecord]:
    """Parse a list file of the given style (``activitynet`` / ``kinetics`` / ``video_list``)."""
    if style not in EXPECTED:
        raise ValueError(f"style={style!r} is not one of {sorted(EXPECTED)}")
    list_file = Path(list_file)
    expected = EXPECTED[style]
    out: list[VideoRecord] = []
    for n, line in _iter_lines(list_file):
        where = f"{list_file}:{n}"
        if style == "activitynet":
            parts = [p.strip() for p in line.split(",")]
            if len(parts) < 3 or not parts[0]:
                raise ListFileError(f"{where}: expected {expected}, got {line!r} "
                                    f"({len(parts)} comma-separated field(s))")
            nf = _int(parts[1], "num_frames", where, expected, line, minimum=1)
            labels = tuple(_int(p, "label", where, expected, line) for p in parts[2:])
            out.append(VideoRecord(parts[0], labels, nf, where))
        elif style == "kinetics":
            parts = line.rsplit(maxsplit=2)  # the path may contain spaces
            if len(parts) != 3:
                raise ListFileError(f"{where}: expected {expected}, got {line!r} "
                                    f"({len(parts)} field(s))")
            nf = _int(parts[1], "num_frames", where, expected, line, minimum=1)
            label = _int(parts[2], "label", where, expected, line)
            out.append(VideoRecord(parts[0], (label,), nf, where))
        else:  # video_list
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2:
                raise ListFileError(f"{where}: expected {expected}, got {line!r} "
                                    f"(no label field)")
            labels = tuple(_int(p, "label", where, expected, line)
                           for p in parts[1].split(","))
            out.append(VideoRecord(parts[0], labels, None, where))
    if not out:
        raise ListFileError(f"{list_file}: the list is empty (no entries of the form {expected})")
    return out


def sniff_style(list_file: str | Path) -> str:
    """Guess the list style from the first entry (used by ``format='auto'``)."""
    list_file = Path(list_file)
    for n, line in _iter_lines(list_file):
        commas = [p.strip() for p in line.split(",")]
        if len(commas) >= 3 and commas[1].isdigit() and all(p.isdigit() for p in commas[2:]):
            return "activitynet"
        if line.rsplit(maxsplit=1)[0].lower().endswith(VIDEO_EXTENSIONS):
            return "video_list"
        parts = line.rsplit(maxsplit=2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            return "kinetics"
        if len(line.rsplit(maxsplit=1)) == 2:
            return "video_list"
        raise ListFileError(f"{list_file}:{n}: cannot tell the list style from {line!r}; expected "
                            + "; or ".join(EXPECTED.values()))
    raise ListFileError(f"{list_file}: the list is empty")


def read_classes(path: str | Path) -> list[str]:
    """One class name per line (blank lines ignored)."""
    path = Path(path)
    try:
        names = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except FileNotFoundError:
        raise ListFileError(f"{path}: classes file not found") from None
    if not names:
        raise ListFileError(f"{path}: classes file is empty (expected one class name per line)")
    if len(set(names)) != len(names):
        dup = sorted({x for x in names if names.count(x) > 1})
        raise ListFileError(f"{path}: duplicate class names {dup}")
    return names


def scan_video_folder(root: str | Path, extensions: tuple[str, ...] = VIDEO_EXTENSIONS
                      ) -> tuple[list[VideoRecord], list[str]]:
    """``root/<class>/*.<ext>`` -> (records, class names); classes are the sorted folder names."""
    root = Path(root)
    if not root.is_dir():
        raise ListFileError(f"{root}: video folder not found (expected root/<class>/*.mp4)")
    exts = tuple(e.lower() for e in extensions)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise ListFileError(f"{root}: no class folders (expected root/<class>/*.mp4)")
    records: list[VideoRecord] = []
    for label, name in enumerate(classes):
        for f in sorted(os.listdir(root / name)):
            if f.lower().endswith(exts) and not f.startswith("."):
                records.append(VideoRecord(f"{name}/{f}", (label,), None, str(root / name)))
    if not records:
        raise ListFileError(f"{root}: no video files with extensions {list(exts)} under "
                            f"{len(classes)} class folder(s)")
    return records, classes
