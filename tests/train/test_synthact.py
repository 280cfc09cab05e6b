"""SynthAct: determinism, output structure, loaders on its files, the 84-vs-224 detail check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from train.data import DataConfig, build_dataset, parse_list
from train.synthact import (GENERATOR_VERSION, MEMBERS, decode_all, detail_visibility, generate,
                            main, make_spec, plan_video, probe_files, render_video, self_check)

SEED = 5


def _tiny(**kw):
    # 4 classes x 3 splits x 1 video; short check
    return make_spec("tiny", **kw)


@pytest.fixture(scope="module")
def tiny_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "a"
    generate(out, _tiny(), seed=SEED, workers=1, check=False)
    return out


def _decoded(out: Path) -> dict[str, list[np.ndarray]]:
    return {str(p.relative_to(out)): decode_all(p) for p in sorted(out.glob("videos/**/*.mp4"))}


def test_structure_and_meta(tiny_out):
    meta = json.loads((tiny_out / "meta.json").read_text())
    spec = _tiny()
    assert meta["version"] == GENERATOR_VERSION and meta["seed"] == SEED and meta["size"] == "tiny"
    assert meta["fps"] == 24 and meta["frames_per_video"] == 48 and meta["seconds"] == 2.0
    assert (meta["width"], meta["height"]) == (256, 256) and meta["flip_safe"] is True
    classes = (tiny_out / "classes.txt").read_text().split()
    assert classes == meta["classes"] == spec.classes and len(classes) == 4
    assert meta["videos"] == {"train": 4, "val": 4, "test": 4}
    for split in ("train", "val", "test"):
        assert sorted(p.name for p in (tiny_out / "videos" / split).iterdir()) == sorted(classes)
        recs = parse_list(tiny_out / f"{split}.txt", "video_list")
        assert len(recs) == 4
        for r in recs:
            assert (tiny_out / r.path).is_file() and r.path.split("/")[2] == classes[r.label]
        ann = [json.loads(x) for x in (tiny_out / "annotations" / f"{split}.jsonl").open()]
        for a in ann:
            assert len(a["kinds"]) == 48 and 0.2 <= a["evidence_fraction"] <= 0.55
            assert 1 <= len(a["evidence"]) <= 2
            assert sum(e - s for s, e in a["evidence"]) == a["kinds"].count("E")
            assert set(a["kinds"]) - {"E"} <= set("BDUSP")
    for p in tiny_out.glob("videos/**/*.mp4"):
        frames = decode_all(p)
        assert len(frames) == 48 and frames[0].shape == (256, 256, 3)
    assert (tiny_out / "frames_activitynet_test.txt").read_text().count("\n") == 4
    assert (tiny_out / "frames_kinetics_test.txt").read_text().count("\n") == 4


def test_loaders_read_every_synthact_format(tiny_out):
    kw = dict(num_segments=8, resolutions=[224, 112, 84], root=str(tiny_out))
    vids = build_dataset(DataConfig(list_file=str(tiny_out / "test.txt"), **kw))
    folder = build_dataset(DataConfig(**{**kw, "root": str(tiny_out / "videos" / "test")}))
    anet = build_dataset(DataConfig(list_file=str(tiny_out / "frames_activitynet_test.txt"), **kw))
    kin = build_dataset(DataConfig(list_file=str(tiny_out / "frames_kinetics_test.txt"), **kw))
    assert (vids.format, folder.format, anet.format, kin.format) == \
        ("video_list", "video_folder", "activitynet", "kinetics")
    assert vids.labels == folder.labels == anet.labels == kin.labels == _tiny().classes
    for ds in (vids, folder, anet, kin):
        item = ds[0]
        assert [tuple(f.shape) for f in item["frames"]] == [(8, 3, s, s) for s in (224, 112, 84)]
        assert item["label"] == 0 and not ds.bad_items
    # the frame folders hold the decoded video, as JPEG (close, not equal)
    a = anet[0]["frames"][0].float()
    v = vids[0]["frames"][0].float()
    assert (a - v).abs().mean() < 3.0


def test_same_seed_same_pixels_other_seed_differs(tiny_out, tmp_path):
    again = tmp_path / "b"
    generate(again, _tiny(), seed=SEED, workers=2, check=False)  # worker count does not matter
    for name in ("train.txt", "val.txt", "test.txt", "classes.txt", "frames_kinetics_test.txt",
                 "annotations/train.jsonl"):
        assert (tiny_out / name).read_text() == (again / name).read_text()
    a, b = _decoded(tiny_out), _decoded(again)
    assert a.keys() == b.keys()
    assert all(all(np.array_equal(x, y) for x, y in zip(a[k], b[k])) for k in a)
    other = tmp_path / "c"
    generate(other, _tiny(videos_per_class={"train": 1}), seed=SEED + 1, workers=1, check=False)
    k = next(iter(_decoded(other)))
    assert not np.array_equal(decode_all(other / k)[24], a[k][24])


def test_render_pair_differs_only_in_texture():
    spec = make_spec("full")
    g = spec.groups[0]
    plan = plan_video(spec, g, "hstripes", [1, 2, 3])
    a, boxes = render_video(spec, plan, [1, 2, 3])
    b, _ = render_video(spec, plan, [1, 2, 3], member="vstripes")
    for t, box in enumerate(boxes):
        if box is None:
            assert np.array_equal(a[t], b[t])  # distractor frames identical
        else:
            x0, y0, x1, y1 = box
            diff = np.abs(a[t].astype(int) - b[t]).sum(axis=2)
            outside = diff.copy()
            outside[y0:y1, x0:x1] = 0
            assert outside.max() == 0 and diff[y0:y1, x0:x1].max() > 10


@pytest.mark.parametrize("size", ["small", "full"])
def test_fine_detail_gone_at_84_visible_at_224(size):
    rep = self_check(make_spec(size), n=4)
    assert rep["ok"], rep["problems"]
    f, c = rep["fine"], rep["coarse"]
    assert f[84] < 1.0 and f[224] > 4 * f[84] and f[168] > 4 * f[84]
    assert f[224] >= f[168] >= f[112] > f[84]          # information grows with resolution
    assert c[84] > 20 * f[84]                          # the group is plain at 84 px


def test_self_check_detects_a_coarse_texture():
    """A texture 3x coarser than designed survives at 84 px: the check must say so."""
    spec = make_spec("small", detail_period=9.0)
    rep = self_check(spec, n=2)
    assert not rep["ok"] and any("84px" in p for p in rep["problems"])
    assert detail_visibility(spec, n=2)["fine"][84] > 1.0


def test_probe_files_runs_on_stored_videos(tiny_out):
    rep = probe_files(tiny_out, split="train", folds=2, every=4)
    assert set(rep["member_accuracy"]) == {224, 168, 112, 84} and rep["chance"] == 0.5
    assert 2 <= rep["videos"] <= 4 and all(0 <= a <= 1 for a in rep["member_accuracy"].values())


def test_cli_main(tmp_path, caplog):
    out = tmp_path / "cli"
    assert main(["--out", str(out), "--size", "tiny", "--seed", "2", "--workers", "1",
                 "--quiet"]) == 0
    meta = json.loads((out / "meta.json").read_text())
    assert meta["self_check"]["ok"] and meta["seed"] == 2 and meta["members"] == list(MEMBERS[:2])
    stamp = (out / "train.txt").stat().st_mtime_ns
    assert main(["--out", str(out), "--size", "tiny", "--seed", "2", "--quiet"]) == 0  # up to date
    assert (out / "train.txt").stat().st_mtime_ns == stamp
    with pytest.raises(SystemExit):
        main(["--out", str(out), "--size", "huge"])
