"""Data loaders: list formats, video folders, TSN sampling, augmentation, bad items (seconds)."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from edge_runtime.preprocess import preprocess
from train.config import ConfigError
from train.data import (DataConfig, DecodeError, ListFileError, build_dataset, build_loader,
                        collate, eval_indices, open_video, parse_list, segment_bounds,
                        sniff_style, train_indices)
from train.synthact import decode_all, write_mp4

RES = [64, 48, 32, 24]
T = 4


def _level(i: int) -> int:
    return 20 + 10 * i  # frame i is a flat image of this grey level (index readable back)


def _flat(i: int, h: int, w: int) -> np.ndarray:
    f = np.full((h, w, 3), _level(i), np.uint8)
    f[: h // 4, : w // 4] = (200, 30, 30)  # an asymmetric mark (flip / crop visible)
    return f


def _index_of(img: np.ndarray) -> int:
    """Recover the frame index from the centre of a (3, s, s) or (s, s, 3) view."""
    a = img.numpy() if isinstance(img, torch.Tensor) else img
    if a.shape[0] == 3:
        a = a.transpose(1, 2, 0)
    h, w = a.shape[:2]
    v = float(a[h // 2 - 1:h // 2 + 2, w // 2 - 1:w // 2 + 2].mean())
    return int(round((v - 20) / 10))


@pytest.fixture(scope="module")
def frames_root(tmp_path_factory) -> Path:
    """Frame folders in both naming styles + list files (ActivityNet multi-label, Kinetics)."""
    root = tmp_path_factory.mktemp("frames")
    lengths = {"vid_a": 12, "vid_b": 6, "vid c": 3}  # a path with a space; one shorter than T
    for name, n in lengths.items():
        d = root / "clips" / name
        d.mkdir(parents=True)
        for i in range(n):
            bgr = cv2.cvtColor(_flat(i, 40, 52), cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(d / f"image_{i + 1:05d}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 98])
            cv2.imwrite(str(d / f"{i + 1:05d}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 98])
    (root / "anet.txt").write_text("clips/vid_a,12,0,2\nclips/vid_b,6,1\n\n# comment\n"
                                   "clips/vid c,3,2\n")
    (root / "kin.txt").write_text("clips/vid_a 12 0\nclips/vid_b 6 1\nclips/vid c 3 2\n")
    (root / "classes.txt").write_text("zero\none\ntwo\n")
    return root


def _video(n: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    return [_flat(i, h, w) for i in range(n)]


@pytest.fixture(scope="module")
def video_root(tmp_path_factory) -> Path:
    """root/<class>/*.mp4 with index-coded frames; a short one; a video list."""
    root = tmp_path_factory.mktemp("videos")
    write_mp4(root / "walk" / "w0.mp4", _video(20), 24)
    write_mp4(root / "walk" / "w1.mp4", _video(16), 24)
    write_mp4(root / "jump" / "j0.mp4", _video(3), 24)       # fewer frames than T
    write_mp4(root / "jump" / "j1.mp4", _video(18, 40, 40), 24)
    (root / "list.txt").write_text("walk/w0.mp4 1\njump/j1.mp4 0\njump/j0.mp4 0,1\n")
    return root


@pytest.fixture()
def bad_root(tmp_path, video_root) -> Path:
    """A video folder with a garbage file and a truncated mp4 among good ones."""
    root = tmp_path / "bad"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
    good = (video_root / "walk" / "w0.mp4").read_bytes()
    (root / "a" / "0_good.mp4").write_bytes(good)
    (root / "a" / "1_garbage.mp4").write_bytes(np.random.default_rng(0).bytes(3000))
    (root / "b" / "0_truncated.mp4").write_bytes(good[: len(good) // 2])
    (root / "b" / "1_good.mp4").write_bytes(good)
    return root


def cfg(**kw) -> DataConfig:
    base = dict(num_segments=T, resolutions=RES)
    base.update(kw)
    return DataConfig(**base)


# ------------------------------------------------------------------------------ sampling
@pytest.mark.parametrize("n", [1, 3, 4, 7, 16, 48, 301])
def test_sampling_in_range_and_ordered(n):
    rng = np.random.default_rng(0)
    start, end = segment_bounds(n, 8)
    ev = eval_indices(n, 8)
    assert ev.shape == (8,) and ev.min() >= 0 and ev.max() < n and np.all(np.diff(ev) >= 0)
    for _ in range(50):
        tr = train_indices(n, 8, rng)
        assert tr.min() >= 0 and tr.max() < n and np.all(np.diff(tr) >= 0)
        assert np.all(tr >= start) and np.all(tr < end)


def test_sampling_eval_centre_and_train_spread():
    assert eval_indices(48, 16).tolist() == [1 + 3 * k for k in range(16)]   # tick 3: centre
    assert eval_indices(40, 4).tolist() == [5, 15, 25, 35]
    assert eval_indices(4, 4).tolist() == [0, 1, 2, 3]
    assert eval_indices(2, 4).tolist() == [0, 0, 1, 1]                      # short: repeats
    rng = np.random.default_rng(1)
    seen = np.stack([train_indices(40, 4, rng) for _ in range(400)])
    for k in range(4):  # every offset of each 10-frame segment is used
        assert set(seen[:, k].tolist()) == set(range(10 * k, 10 * k + 10))
    with pytest.raises(ValueError, match="num_frames=0"):
        eval_indices(0, 4)


# ------------------------------------------------------------------------------ list files
def test_activitynet_list_multilabel(frames_root):
    recs = parse_list(frames_root / "anet.txt", "activitynet")
    assert [(r.path, r.num_frames, r.labels) for r in recs] == [
        ("clips/vid_a", 12, (0, 2)), ("clips/vid_b", 6, (1,)), ("clips/vid c", 3, (2,))]
    ds = build_dataset(cfg(format="activitynet", root=str(frames_root),
                           list_file=str(frames_root / "anet.txt"), multi_label=True))
    assert ds.labels == ["zero", "one", "two"] and ds.multi_label and len(ds) == 3
    item = ds[0]
    assert item["label"].tolist() == [1.0, 0.0, 1.0] and item["index"] == 0
    assert [tuple(f.shape) for f in item["frames"]] == [(T, 3, s, s) for s in RES]
    assert all(f.dtype == torch.uint8 for f in item["frames"])
    assert [_index_of(f) for f in item["frames"][0]] == eval_indices(12, T).tolist()
    single = build_dataset(cfg(format="activitynet", root=str(frames_root),
                               list_file=str(frames_root / "anet.txt")))
    assert single[0]["label"] == 0  # single-label: the first label


def test_kinetics_list_and_eval_pixels(frames_root):
    ds = build_dataset(cfg(format="kinetics", root=str(frames_root),
                           list_file=str(frames_root / "kin.txt")))
    assert [r.labels for r in ds.records] == [(0,), (1,), (2,)]
    for i, n in enumerate([12, 6, 3]):
        item = ds[i]
        idx = eval_indices(n, T)
        for k, s in enumerate(RES):
            for t, fi in enumerate(idx):
                bgr = cv2.imread(str(frames_root / ds.records[i].path / f"{fi + 1:05d}.jpg"))
                ref = preprocess(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), s, ds.cfg.resize)
                assert torch.equal(item["frames"][k][t], torch.from_numpy(ref).permute(2, 0, 1))


@pytest.mark.parametrize("style,text,line,expect", [
    ("activitynet", "a,3,1\nb,three,1\n", 2, "num_frames 'three' is not an integer"),
    ("activitynet", "a,3,1\nb 3 1\n", 2, "path,num_frames,label"),
    ("activitynet", "a,3,1\nb,3,x\n", 2, "label 'x' is not an integer"),
    ("kinetics", "a 3 1\n\nb 3\n", 3, "'path num_frames label'"),
    ("kinetics", "a 0 1\n", 1, "num_frames 0 must be >= 1"),
    ("video_list", "v.mp4 1\nw.mp4\n", 2, "'relpath label'"),
    ("video_list", "v.mp4 -1\n", 1, "label -1 must be >= 0"),
])
def test_malformed_list_line_names_file_and_line(tmp_path, style, text, line, expect):
    p = tmp_path / "list.txt"
    p.write_text(text)
    with pytest.raises(ListFileError) as e:
        parse_list(p, style)
    assert f"list.txt:{line}:" in str(e.value) and expect in str(e.value)
    fmt = {"video_list": "video_list"}.get(style, style)
    with pytest.raises(ListFileError, match=f"list.txt:{line}:"):
        build_dataset(cfg(format=fmt, root=str(tmp_path), list_file=str(p)))


def test_label_out_of_range_and_sniffing(tmp_path, frames_root, video_root):
    p = tmp_path / "l.txt"
    p.write_text("clips/vid_a 12 0\nclips/vid_b 6 7\n")
    with pytest.raises(ListFileError, match=r"l.txt:2: label 7 is out of range: there are 3"):
        build_dataset(cfg(format="kinetics", root=str(frames_root), list_file=str(p),
                          classes_file=str(frames_root / "classes.txt")))
    assert sniff_style(frames_root / "anet.txt") == "activitynet"
    assert sniff_style(frames_root / "kin.txt") == "kinetics"
    assert sniff_style(video_root / "list.txt") == "video_list"
    ds = build_dataset(cfg(root=str(frames_root), list_file=str(frames_root / "kin.txt")))
    assert ds.format == "kinetics"


def test_config_errors_name_value_and_choices():
    with pytest.raises(ConfigError, match=r"data.format='tsv' is not one of \['auto'"):
        DataConfig(format="tsv", root="x")
    with pytest.raises(ConfigError, match=r"data.mode='test' is not one of \['train', 'eval'\]"):
        DataConfig(mode="test", root="x")
    with pytest.raises(ConfigError, match="resolutions=\\[84, 224\\]"):
        DataConfig(root="x", resolutions=[84, 224])
    with pytest.raises(ConfigError, match="needs data.list_file"):
        DataConfig(format="activitynet", root="x")
    # "kinetics" is the mini-Kinetics frame list with a list file, the Kinetics CSVs without one
    assert DataConfig(format="kinetics", root="x", list_file="l").format == "kinetics"
    assert DataConfig(format="kinetics", root="x").format == "kinetics_csv"
    with pytest.raises(ConfigError, match="decoder='ffmpeg'"):
        DataConfig(root="x", decoder="ffmpeg")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['segments'\]"):
        DataConfig.from_dict({"root": "x", "segments": 8})
    assert DataConfig(root="x", format="fcvid", list_file="l").format == "activitynet"


# ------------------------------------------------------------------------------ videos
@pytest.mark.parametrize("decoder", ["pyav", "opencv"])
@pytest.mark.parametrize("rule", ["pyramid", "area"])
def test_video_folder_eval_equals_device_preprocess(video_root, decoder, rule):
    ds = build_dataset(cfg(root=str(video_root), decoder=decoder, resize=rule))
    assert ds.cfg.resize == rule
    assert ds.format == "video_folder" and ds.labels == ["jump", "walk"]
    assert [r.path for r in ds.records] == ["jump/j0.mp4", "jump/j1.mp4", "walk/w0.mp4",
                                            "walk/w1.mp4"]
    assert ds.targets == [0, 0, 1, 1]
    for i in range(len(ds)):
        decoded = decode_all(ds.path_of(i))
        idx = eval_indices(len(decoded), T)
        item = ds[i]
        assert item["label"] == ds.targets[i] and item["index"] == i
        for k, s in enumerate(RES):
            ref = np.stack([preprocess(decoded[j], s, ds.cfg.resize) for j in idx])
            assert torch.equal(item["frames"][k], torch.from_numpy(ref).permute(0, 3, 1, 2))
    assert not ds.bad_items


def test_video_list_and_short_video(video_root):
    ds = build_dataset(cfg(format="video_list", root=str(video_root),
                           list_file=str(video_root / "list.txt"), multi_label=True))
    assert ds.num_classes == 2 and ds.labels == ["0", "1"]
    assert ds[2]["label"].tolist() == [1.0, 1.0]
    short = ds[2]["frames"][0]  # 3 frames, T=4: frames repeat in order
    assert [_index_of(f) for f in short] == eval_indices(3, T).tolist() == [0, 1, 1, 2]


def _write(path: Path, frames, options=None) -> None:
    import av
    with av.open(str(path), "w", options=options or {}) as c:
        s = c.add_stream("mpeg4", rate=24)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        s.codec_context.gop_size = 12
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.mark.parametrize("decoder", ["pyav", "opencv"])
@pytest.mark.parametrize("ext", ["mp4", "mkv"])  # mkv: no frame count in the header
def test_seek_equals_sequential(tmp_path, decoder, ext):
    path = tmp_path / f"long.{ext}"
    _write(path, [_flat(i % 23, 32, 32) for i in range(150)])
    want = [3, 70, 71, 149, 120, 3]
    with open_video(str(path), decoder, seek_threshold=10_000) as r:
        assert r.num_frames == 150
        seq = r.read(want)
    with open_video(str(path), decoder, seek_threshold=8) as r:
        seek = r.read(want)
    for a, b, i in zip(seq, seek, want):
        assert np.array_equal(a, b) and _index_of(a) == i % 23


def test_train_mode_augmentation(video_root):
    c = cfg(root=str(video_root), mode="train", seed=3, flip=False)
    ds = build_dataset(c)
    a, b = ds[1], ds[1]
    assert all(torch.equal(x, y) for x, y in zip(a["frames"], b["frames"]))  # seeded
    seen = set()
    for ep in range(6):
        ds.set_epoch(ep)
        item = ds[1]
        idx = [_index_of(f) for f in item["frames"][0]]
        start, end = segment_bounds(18, T)
        assert all(s <= i < e for i, s, e in zip(idx, start, end))
        seen.add(tuple(idx))
        for k, s in enumerate(RES):
            assert item["frames"][k].shape == (T, 3, s, s)
            assert item["frames"][k].dtype == torch.uint8
    assert len(seen) > 1  # random offsets change with the epoch
    # the same crop for every frame: the red mark's footprint is identical across frames
    def mark_box(f):
        a = f.numpy().astype(int)
        ys, xs = np.nonzero(a[0] - a[1] > 100)
        return np.array([ys.min(), ys.max(), xs.min(), xs.max()])
    boxes = [mark_box(f) for f in ds[1]["frames"][0]]
    assert all(np.abs(boxes[0] - b).max() <= 1 for b in boxes)


def test_flip_is_configurable(frames_root):
    def red_left_fraction(flip: bool) -> float:
        ds = build_dataset(cfg(format="kinetics", root=str(frames_root), seed=0,
                               list_file=str(frames_root / "kin.txt"), mode="train", flip=flip,
                               scales=[1.0]))
        lefts = []
        for ep in range(16):
            ds.set_epoch(ep)
            f = ds[0]["frames"][0][0].numpy().transpose(1, 2, 0)
            red = f[..., 0].astype(int) - f[..., 1] > 100
            lefts.append(red[:, : f.shape[1] // 2].sum() > red[:, f.shape[1] // 2:].sum())
        return float(np.mean(lefts))
    assert red_left_fraction(False) == 1.0   # the mark stays top-left
    assert 0.0 < red_left_fraction(True) < 1.0


# ------------------------------------------------------------------------------ bad items
def test_corrupt_videos_reported_and_skipped(bad_root, caplog):
    ds = build_dataset(cfg(root=str(bad_root)))
    assert [r.path for r in ds.records] == ["a/0_good.mp4", "a/1_garbage.mp4",
                                            "b/0_truncated.mp4", "b/1_good.mp4"]
    with caplog.at_level(logging.WARNING, logger="train.data"):
        loader = build_loader(ds, batch_size=2, num_workers=0)
        batches = list(loader)  # a whole epoch, no exception
    assert sum(b["label"].shape[0] for b in batches) == 4
    assert batches[0]["frames"][0].shape == (2, T, 3, 64, 64)
    assert batches[0]["frames"][3].dtype == torch.uint8
    assert sorted(Path(p).name for p in ds.bad_paths) == ["0_truncated.mp4", "1_garbage.mp4"]
    assert all(b.reason for b in ds.bad_items)
    text = caplog.text
    assert "1_garbage.mp4" in text and "0_truncated.mp4" in text
    # deterministic replacement: the next readable record
    assert ds[1]["index"] == 3 and ds[2]["index"] == 3 and ds[0]["index"] == 0
    with pytest.raises(DecodeError, match="1_garbage.mp4"):
        ds.load(1)


@pytest.mark.parametrize("decoder", ["pyav", "opencv"])
def test_truncated_after_header_is_detected(tmp_path, decoder):
    """moov first (faststart), data cut: the header promises 60 frames, ~half decode."""
    path = tmp_path / "cut.mp4"
    _write(path, [_flat(i % 17, 48, 64) for i in range(60)], {"movflags": "faststart"})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError, match=r"cut.mp4: truncated: only \d+ of 60 frames"):
        with open_video(str(path), decoder) as r:
            r.read(eval_indices(r.num_frames, 8).tolist())
    (tmp_path / "c").mkdir()
    path.rename(tmp_path / "c" / "cut.mp4")
    write_mp4(tmp_path / "c" / "ok.mp4", _video(10), 24)
    log_file = tmp_path / "bad.tsv"
    ds = build_dataset(cfg(root=str(tmp_path), decoder=decoder, bad_items_file=str(log_file)))
    assert ds[0]["index"] == 1
    assert log_file.read_text().startswith(str(tmp_path / "c" / "cut.mp4") + "\ttruncated")


def test_missing_frames_are_bad_items_and_validate(frames_root, tmp_path, caplog):
    lst = tmp_path / "l.txt"
    lst.write_text(f"{frames_root}/clips/vid_a 12 0\n{frames_root}/clips/nope 5 1\n"
                   f"{frames_root}/clips/vid_b 60 1\n")  # claims 60 frames: files missing
    ds = build_dataset(cfg(format="kinetics", root=str(tmp_path), list_file=str(lst)))
    with caplog.at_level(logging.WARNING, logger="train.data"):
        bad = ds.validate()
    assert [(b.index, Path(b.path).name) for b in bad] == [(1, "nope"), (2, "vid_b")]
    assert bad[0].reason == "frame folder not found" and "00060.jpg" in bad[1].reason
    assert ds[1]["index"] == 0 and "nope" in caplog.text
    ds2 = build_dataset(cfg(format="kinetics", root=str(tmp_path), list_file=str(lst)))
    assert ds2[2]["index"] == 0 and "vid_b" in ds2.bad_items[0].path


def test_all_bad_raises_after_max_replacements(tmp_path):
    (tmp_path / "c").mkdir()
    for i in range(3):
        (tmp_path / "c" / f"{i}.mp4").write_bytes(b"not a video")
    ds = build_dataset(cfg(root=str(tmp_path), max_replacements=5))
    with pytest.raises(RuntimeError, match="unreadable"):
        ds[0]


def test_dataloader_workers_and_collate(video_root):
    ds = build_dataset(cfg(root=str(video_root), mode="train"))
    batch = next(iter(build_loader(ds, batch_size=2, num_workers=1, shuffle=False)))
    assert [tuple(f.shape) for f in batch["frames"]] == [(2, T, 3, s, s) for s in RES]
    assert batch["label"].dtype == torch.long and batch["index"].tolist() == [0, 1]
    ml = collate([{"frames": [torch.zeros(T, 3, 8, 8, dtype=torch.uint8)],
                   "label": torch.tensor([1.0, 0.0]), "index": 5}] * 3)
    assert ml["label"].shape == (3, 2) and ml["label"].dtype == torch.float32
