"""Small dataset trees in the exact layouts of UCF101, HMDB51, Kinetics, SSv2 and a plain folder.

The clips are tiny SynthAct videos (4 classes, 3 per class: its train / val / test videos),
downscaled to 64 px and re-encoded the way each dataset ships them (frame rate, container,
codec, names), annotated with the official files, including their awkward parts:

* UCF101: ``classInd.txt`` / the lists spell ``HandstandPushups``, the folder and the videos
  ``HandStandPushups``; 25 fps MPEG-4 ``.avi``; three splits by group (``g01..g03``).
* HMDB51: class names with underscores, video names with ``#``, ``(``, ``&``; ``0`` (unused)
  entries; 30 fps ``.avi``.
* Kinetics: ``train.csv`` / ``validate.csv`` / a ``test.csv`` without labels (Kinetics-400's),
  labels with spaces, quotes and commas, clips named ``<id>_<start:06d>_<end:06d>.mp4`` under
  ``<split>/<label>/``, frame rates 24, 29.97 and 15; one training row whose clip is missing.
* SSv2: ``labels.json`` (template -> "index"), ``train.json`` / ``validation.json`` entries
  with templates and placeholders, ``<id>.webm`` (VP8, 12 fps).
* folder: ``root/<class>/*`` in .mp4 / .avi / .mkv, and a non-video file.

Used by tests/train/test_layouts.py; also runnable: ``python tests/train/layout_trees.py OUT``.
"""

from __future__ import annotations

import csv
import json
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

SIDE = 64
UCF_CLASSES = ["ApplyEyeMakeup", "HandstandPushups", "JumpRope", "YoYo"]      # classInd spelling
UCF_FOLDERS = ["ApplyEyeMakeup", "HandStandPushups", "JumpRope", "YoYo"]      # on disk
HMDB_CLASSES = ["brush_hair", "cartwheel", "fall_floor", "ride_bike"]
HMDB_NAMES = ["April_09_{c}_u_nm_np1_ba_goo_{k}", "#20_Rhythm_{c}_f_cm_np1_le_med_{k}",
              "Pirates_(1){c}_h_nm_np1_fr_goo_{k}", "Bob&Ann_{c}_u_cm_np2_ri_bad_{k}"]
KIN_LABELS = ["abseiling", "air drumming", "massaging person's head",
              "passing American football (in game)"]
KIN_FPS = [Fraction(24), Fraction(30000, 1001), Fraction(15)]
SSV2_TEMPLATES = ["Holding [something]", "Moving [something] up",
                  "Pushing [something] from left to right", "Putting [something] into [something]"]
SSV2_PLACEHOLDERS = [["a cup"], ["pen"], ["remote control"], ["potato", "bowl"]]


def synth_sources(synth: Path) -> list[list[Path]]:
    """Per SynthAct class (classes.txt order): its train, val and test videos."""
    classes = (synth / "classes.txt").read_text().split()
    return [[next((synth / "videos" / s / c).glob("*.mp4")) for s in ("train", "val", "test")]
            for c in classes]


def decode(path: Path) -> list[np.ndarray]:
    import av
    with av.open(str(path)) as c:
        return [cv2.resize(f.to_ndarray(format="rgb24"), (SIDE, SIDE), interpolation=cv2.INTER_AREA)
                for f in c.decode(video=0)]


def encode(path: Path, frames: list[np.ndarray], fps, codec: str = "mpeg4") -> Path:
    import av
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = SIDE, SIDE, "yuv420p"
        s.codec_context.thread_count = 1
        if codec == "mpeg4":
            s.codec_context.qmin = s.codec_context.qmax = 2    # fixed quantiser: the texture stays
        else:
            s.bit_rate = 400_000
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def make_ucf101(out: Path, src: list[list[list[np.ndarray]]]) -> Path:
    """``out/UCF101/{UCF-101,ucfTrainTestlist}``; group g0k is the test group of split k."""
    root = out / "UCF101"
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "classInd.txt").write_text("".join(f"{i + 1} {c}\r\n" for i, c in enumerate(UCF_CLASSES)))
    for c, (name, folder) in enumerate(zip(UCF_CLASSES, UCF_FOLDERS)):
        for g in range(3):
            encode(root / "UCF-101" / folder / f"v_{folder}_g{g + 1:02d}_c01.avi", src[c][g], 25)
    for k in (1, 2, 3):
        train, test = [], []
        for c, (name, folder) in enumerate(zip(UCF_CLASSES, UCF_FOLDERS)):
            for g in range(3):
                rel = f"{name}/v_{folder}_g{g + 1:02d}_c01.avi"   # the lists use classInd's case
                (test.append(rel) if g + 1 == k else train.append(f"{rel} {c + 1}"))
        (lists / f"trainlist{k:02d}.txt").write_text("".join(x + "\r\n" for x in train))
        (lists / f"testlist{k:02d}.txt").write_text("".join(x + "\r\n" for x in test))
    return root


def make_hmdb51(out: Path, src) -> Path:
    """``out/hmdb51/{<class>/*.avi, testTrainMulti_7030_splits/}``: 4 videos per class; in split
    k video k-1 is test (2), video 3 unused (0), the rest train (1)."""
    root = out / "hmdb51"
    sd = root / "testTrainMulti_7030_splits"
    sd.mkdir(parents=True, exist_ok=True)
    for c, cls in enumerate(HMDB_CLASSES):
        names = [HMDB_NAMES[j].format(c=cls, k=j) + ".avi" for j in range(4)]
        for j, n in enumerate(names):
            frames = src[c][j % 3] if j < 3 else [f[:, ::-1] for f in src[c][0]]
            encode(root / cls / n, frames, 30)
        for k in (1, 2, 3):
            lines = [f"{n} {2 if j == k - 1 else 0 if j == 3 else 1} \n" for j, n in enumerate(names)]
            (sd / f"{cls}_test_split{k}.txt").write_text("".join(lines))
    return root


def make_kinetics(out: Path, src) -> Path:
    """``out/kinetics/{annotations/*.csv, train/<label>/*.mp4, val/<label>/*.mp4}``."""
    root = out / "kinetics"
    ann = root / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    rows = {"train": [], "val": []}
    for c, label in enumerate(KIN_LABELS):
        for j, (subset, vid) in enumerate((("train", 0), ("train", 2), ("val", 1))):
            yid = f"yt{c}{j}-_Ab{c}"          # YouTube ids hold '-' and '_'
            start = 10 * j + c
            rows[subset].append((label, yid, start, start + 10, subset))
            encode(root / subset / label.replace(" ", "_") / f"{yid}_{start:06d}_{start + 10:06d}.mp4",
                   src[c][vid], KIN_FPS[(c + j) % 3])
    rows["train"].append((KIN_LABELS[0], "gone_video1", 5, 15, "train"))   # taken down: no clip
    for subset, name in (("train", "train.csv"), ("val", "validate.csv")):
        with open(ann / name, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["label", "youtube_id", "time_start", "time_end", "split", "is_cc"])
            w.writerows(r + (0,) for r in rows[subset])
    with open(ann / "test.csv", "w", newline="") as f:    # Kinetics-400's test CSV: no labels
        w = csv.writer(f)
        w.writerow(["youtube_id", "time_start", "time_end", "split"])
        w.writerow(["unseen_one", 0, 10, "test"])
    return root


def make_ssv2(out: Path, src) -> Path:
    """``out/ssv2/{labels.json, train.json, validation.json, test.json,
    20bn-something-something-v2/<id>.webm}`` (VP8, 12 fps: every second SynthAct frame)."""
    root = out / "ssv2"
    vids = root / "20bn-something-something-v2"
    vids.mkdir(parents=True, exist_ok=True)
    labels = {t.replace("[", "").replace("]", ""): str(i) for i, t in enumerate(SSV2_TEMPLATES)}
    (root / "labels.json").write_text(json.dumps(labels, indent=1))
    ann = {"train": [], "validation": []}
    vid_id = 1000
    for c, tmpl in enumerate(SSV2_TEMPLATES):
        for subset, j in (("train", 0), ("train", 2), ("validation", 1)):
            vid_id += 7
            ph = SSV2_PLACEHOLDERS[c]
            it = iter(ph)
            text = "".join(next(it) if part.startswith("[") else part
                           for part in _split_slots(tmpl))
            ann[subset].append({"id": str(vid_id), "label": text, "template": tmpl, "placeholders": ph})
            encode(vids / f"{vid_id}.webm", src[c][j][::2], 12, codec="libvpx")
    (root / "train.json").write_text(json.dumps(ann["train"]))
    (root / "validation.json").write_text(json.dumps(ann["validation"]))
    (root / "test.json").write_text(json.dumps([{"id": "99999"}]))
    return root


def _split_slots(tmpl: str) -> list[str]:
    import re
    return [p for p in re.split(r"(\[[^\]]*\])", tmpl) if p]


def make_folder(out: Path, src, classes: list[str]) -> Path:
    """``out/folder/<class>/*``: 4 videos per class in three containers, and a notes file."""
    root = out / "folder"
    for c, cls in enumerate(classes):
        for j, ext in enumerate((".mp4", ".avi", ".mkv", ".mp4")):
            frames = src[c][j] if j < 3 else [f[:, ::-1] for f in src[c][1]]
            encode(root / cls / f"clip_{j}{ext}", frames, 24)
    (root / classes[0] / "notes.txt").write_text("not a video\n")
    return root


def make_all(synth: Path, out: Path) -> dict[str, Path]:
    srcs = synth_sources(synth)
    frames = [[decode(p) for p in per] for per in srcs]
    classes = (synth / "classes.txt").read_text().split()
    return {"ucf101": make_ucf101(out, frames), "hmdb51": make_hmdb51(out, frames),
            "kinetics_csv": make_kinetics(out, frames), "ssv2": make_ssv2(out, frames),
            "folder": make_folder(out, frames, classes)}


if __name__ == "__main__":
    import subprocess
    out = Path(sys.argv[1])
    synth = out / "synthact_tiny"
    subprocess.run([sys.executable, "-m", "train.synthact", "--out", str(synth), "--size", "tiny",
                    "--no-check", "--quiet"], check=True)
    for k, v in make_all(synth, out).items():
        print(k, v)
