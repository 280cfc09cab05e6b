"""Public dataset layouts read as distributed (UCF101, HMDB51, Kinetics CSVs, SSv2, a plain
folder), the sampling rules by real fps, bad input, ``--data`` on every CLI, and the three
commands end to end on a plain folder.  Trees: tests/train/layout_trees.py (tiny SynthAct)."""

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from layout_trees import HMDB_CLASSES, KIN_LABELS, SSV2_TEMPLATES, UCF_CLASSES, make_all
from train.config import ConfigError
from train.data import (DataConfig, LayoutError, build_dataset, detect_layout, eval_indices,
                        time_indices)
from train.data.layouts import DataReport, LayoutRequest, load_layout
from train.data.layouts.folder import assign

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
RES = [48, 40, 32, 24]


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    out = tmp_path_factory.mktemp("layouts")
    synth = out / "synthact_tiny"
    from train.synthact import generate, make_spec
    generate(synth, make_spec("tiny"), seed=0, workers=1, check=False, progress=False)
    return make_all(synth, out)


def ds(root, subset="train", **kw):
    return build_dataset(DataConfig(root=str(root), subset=subset, num_segments=4,
                                    resolutions=RES[:2], **kw))


def tiny_run_config(path: Path, out: Path, name: str, **data) -> Path:
    """A seconds-on-CPU model; its data section names nothing that exists (--data replaces it)."""
    cfg = {"name": name, "out_dir": str(out),
           "model": {"num_classes": 3, "resolutions": RES, "skip_lengths": [1, 2],
                     "backbones": ["tiny_cnn"] * 3, "policy_backbone": "tiny_cnn", "hidden": 16,
                     "pretrained": False, "dropout": 0.0},
           "data": {"format": "video_list", "root": "no/such/root", "num_segments": 4, "flip": False,
                    "seed": 3, "train": {"list_file": "no/such/train.txt"},
                    "val": {"list_file": "no/such/val.txt"}, **data},
           "train": {"warmup_epochs": 1, "joint_epochs": 1, "finetune_epochs": 1, "batch_size": 4,
                     "workers": 0, "seed": 1}}
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_train(args):
    from train.train import main
    torch.set_num_threads(1)
    return main(args + ["--no-progress", "--device", "cpu"])


# ------------------------------------------------------------------------ each layout
EXPECT = {"ucf101": UCF_CLASSES, "hmdb51": sorted(HMDB_CLASSES), "kinetics_csv": sorted(KIN_LABELS),
          "ssv2": [t.replace("[", "").replace("]", "") for t in SSV2_TEMPLATES], "folder": None}


@pytest.mark.parametrize("name", list(EXPECT))
def test_each_layout_is_detected_and_read_with_its_subsets(trees, name):
    root = trees[name]
    assert detect_layout(root) == name
    parts = {s: ds(root, s) for s in ("train", "val", "test")}
    for s, d in parts.items():
        assert d.format == name
        assert d.labels == (EXPECT[name] or sorted(p.name for p in root.iterdir() if p.is_dir()))
        assert sorted(d.targets) == sorted([0, 1, 2, 3] * (2 if s == "train" else 1))
        assert all(Path(r.path).is_file() for r in d.records)
    assert not set(r.path for r in parts["train"].records) & set(r.path for r in parts["val"].records)
    item = parts["val"][0]
    assert [tuple(f.shape) for f in item["frames"]] == [(4, 3, 48, 48), (4, 3, 40, 40)]
    assert not parts["val"].bad_items


def test_ucf101_case_mismatch_and_three_splits(trees):
    root = trees["ucf101"]
    hsp = UCF_CLASSES.index("HandstandPushups")
    for k in (1, 2, 3):
        test = ds(root, "test", format="ucf101", split=k)
        assert sorted(Path(r.path).name for r in test.records if r.label == hsp) == \
            [f"v_HandStandPushups_g{k:02d}_c01.avi"]       # classInd spelling -> folder on disk
        train = ds(root, "train", format="ucf101", split=k)
        assert {Path(r.path).parent.name for r in train.records} >= {"HandStandPushups"}
        assert not (set(r.path for r in train.records) & set(r.path for r in test.records))
        assert train.report.problems() == {}
    with pytest.raises(ConfigError, match=r"data.split=4: ucf101 has the official split\(s\) \[1, 2, 3\]"):
        DataConfig(root=str(root), format="ucf", split=4)


def test_hmdb51_unused_entries_and_odd_names(trees):
    d = ds(trees["hmdb51"], "train", format="hmdb51", split=2)
    assert d.report.counts == {"unused": 4}                 # 0 = not in this split: not a problem
    assert d.report.problems() == {}
    names = {Path(r.path).name for r in d.records}
    assert "#20_Rhythm_brush_hair_f_cm_np1_le_med_1.avi" not in names    # test video of split 2
    assert "Pirates_(1)brush_hair_h_nm_np1_fr_goo_2.avi" in names
    assert not any("Bob&Ann" in n for n in names)
    test = ds(trees["hmdb51"], "test", format="hmdb51", split=2)
    assert all("#20_Rhythm" in Path(r.path).name for r in test.records)
    test[0]


def test_kinetics_missing_clip_counted_and_real_fps(trees, caplog):
    with caplog.at_level(logging.WARNING, logger="train.data"):
        d = ds(trees["kinetics_csv"], "train", format="kinetics400")
    assert d.format == "kinetics_csv" and len(d) == 8
    assert d.report.counts == {"missing_file": 1}
    assert "gone_video1_000005_000015" in d.report.examples["missing_file"][0]
    assert sum("not found on disk" in r.message for r in caplog.records) == 1
    t = d.timing()
    assert t["fps"]["min"] == 15.0 and t["fps"]["max"] == 29.97 and t["videos_probed"] == 8
    test = ds(trees["kinetics_csv"], "test", format="kinetics")     # test.csv has no labels
    assert any("validation CSV" in n for n in test.report.notes)
    assert [Path(r.path).parent.parent.name for r in test.records] == ["val"] * 4


def test_kinetics_flat_trees_float_times_and_bare_ids(trees, tmp_path):
    from train.data.layouts.kinetics import clip_name
    assert clip_name("abc-_12", "14.0", "24") == "abc-_12_000014_000024"
    root = tmp_path / "k"
    (root / "ann").mkdir(parents=True)
    shutil.copytree(trees["kinetics_csv"] / "annotations", root / "ann", dirs_exist_ok=True)
    clips = sorted((trees["kinetics_csv"] / "train").glob("*/*.mp4"))
    (root / "train").mkdir()
    for i, c in enumerate(clips):                  # flat train/<clip>.mp4; one named by its id only
        name = c.name if i else c.name[: -len("_000000_000010.mp4")] + ".mp4"
        shutil.copy(c, root / "train" / name)
    csv = root / "ann" / "train.csv"
    csv.write_text(csv.read_text().replace(",0,10,train", ",0.0,10.0,train"))
    d = ds(root, "train", format="kinetics600")
    assert len(d) == 8 and d.report.counts == {"missing_file": 1}


def test_ssv2_webm_templates_and_captions(trees):
    d = ds(trees["ssv2"], "val", format="something-something-v2", decoder="opencv")
    assert d.decoder == "pyav"                       # the layout's decoder for .webm
    put = [r for r in d.records if r.label == 3][0]
    assert put.path.endswith(".webm") and "'Putting potato into bowl'" in put.source
    assert d.timing()["fps"]["median"] == 12.0
    frames, idx = d.load_frames(0)
    assert len(frames) == 4 and frames[0].shape == (64, 64, 3)


def test_folder_split_is_seeded_stratified_and_split_folders_work(trees, tmp_path):
    files = [f"v{i}.mp4" for i in range(20)]
    a = assign(files, "wave", 0, 0.1, 0.2)
    assert a == assign(list(files), "wave", 0, 0.1, 0.2)              # deterministic
    assert sorted(a.values()).count("test") == 4 and list(a.values()).count("val") == 2
    assert a != assign(files, "wave", 1, 0.1, 0.2)                   # the seed matters
    assert set(assign(files[:3], "x", 0, 0.1, 0.1).values()) == {"train", "val", "test"}
    assert list(assign(files[:1], "x", 0, 0.1, 0.1).values()) == ["train"]
    d = ds(trees["folder"], "train")
    assert d.report.counts == {"not_a_video": 1}
    assert d.report.examples["not_a_video"] == [f"{d.labels[0]}/notes.txt"]
    # root/{train,val}/<class>/*: no test/ -> test is val/
    root = tmp_path / "split_folders"
    for sub, k in (("train", 0), ("train", 1), ("val", 2)):
        for c in ("jump", "wave"):
            dst = root / sub / c
            dst.mkdir(parents=True, exist_ok=True)
            shutil.copy(next((trees["folder"] / sorted(p.name for p in trees["folder"].iterdir()
                                                        if p.is_dir())[0]).glob(f"clip_{k}.*")),
                        dst / f"{c}{k}.mp4")
    assert detect_layout(root) == "folder"
    assert len(ds(root, "train")) == 4 and ds(root, "train").labels == ["jump", "wave"]
    test = ds(root, "test")
    assert len(test) == 2 and any("test is val/" in n for n in test.report.notes)


# ------------------------------------------------------------------------- bad input
def _ucf_copy(trees, tmp_path) -> Path:
    dst = tmp_path / "UCF101"
    shutil.copytree(trees["ucf101"], dst)
    return dst


def test_bad_rows_counted_once_per_kind_and_training_goes_on(trees, tmp_path, caplog):
    root = _ucf_copy(trees, tmp_path)
    lst = root / "ucfTrainTestlist" / "trainlist01.txt"
    lines = lst.read_text().splitlines()
    keep = [x for x in lines if not x.startswith("YoYo/")]       # YoYo: no training video
    lst.write_text("\n".join(keep + [
        "JumpRope/v_JumpRope_g09_c01.avi 3",                      # missing file
        "JumpRope/v_JumpRope_g08_c01.avi 3",                      # missing file
        "Juggling/v_Juggling_g02_c01.avi 99",                     # unknown class index
        keep[0],                                                  # duplicate
        "three fields here 1",                                    # unparsable
    ]) + "\n")
    with caplog.at_level(logging.INFO, logger="train.data"):
        d = ds(root, "train", format="ucf101")
    assert len(d) == 6
    assert d.report.counts == {"missing_file": 2, "unknown_class": 1, "duplicate_id": 1,
                               "bad_row": 1, "no_training_video": 1}
    assert d.report.examples["no_training_video"] == ["YoYo"]
    warned = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 5 and any("2 listed in the annotations but not found" in w for w in warned)
    assert any("trainlist01.txt:" in w and "v_JumpRope_g09_c01.avi" in w for w in warned)


def test_undecodable_listed_videos_are_skipped_and_warned_about_a_few_times(trees, tmp_path, caplog):
    root = _ucf_copy(trees, tmp_path)
    broken = sorted((root / "UCF-101").glob("*/*_g02_c01.avi")) + \
        sorted((root / "UCF-101").glob("JumpRope/*_g03_c01.avi"))
    for p in broken:
        p.write_bytes(b"not a video at all")
    d = ds(root, "train", format="ucf101")          # split 1 trains on g02 and g03
    with caplog.at_level(logging.DEBUG, logger="train.data"):
        items = [d[i] for i in range(len(d))]
    assert len(items) == 8 and sorted(Path(p).name for p in d.bad_paths) == sorted(p.name for p in broken)
    assert {it["index"] for it in items} == {i for i, r in enumerate(d.records)
                                             if Path(r.path) not in broken}
    warned = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 4 and "further unreadable videos" in warned[-1]
    assert sum(r.levelno == logging.DEBUG and "skipping unreadable" in r.message
               for r in caplog.records) == 2


def test_split_files_not_matching_the_folder_fail_with_the_paths(trees, tmp_path, capsys):
    root = _ucf_copy(trees, tmp_path)
    for p in (root / "UCF-101").glob("*/*.avi"):
        p.rename(p.with_name(p.name.replace("_c01", "_c05")))   # another copy of the dataset
    with pytest.raises(LayoutError) as e:
        ds(root, "train", format="ucf101")
    msg = str(e.value)
    assert "8 of 8 videos listed in" in msg and "trainlist01.txt" in msg
    assert str(root / "UCF-101") in msg and "do not match" in msg
    cfg = tiny_run_config(tmp_path / "c.yaml", tmp_path / "runs", "bad")
    assert run_train(["--config", str(cfg), "--data", str(root), "--format", "ucf101"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ucf101: 8 of 8") and "Traceback" not in err


def test_empty_val_subset_trains_without_validation(trees, tmp_path, caplog):
    root = tmp_path / "kin"
    shutil.copytree(trees["kinetics_csv"], root)
    (root / "annotations" / "validate.csv").write_text("label,youtube_id,time_start,time_end,split\n")
    with pytest.raises(LayoutError, match="the val subset of split 1 has no usable video"):
        ds(root, "val", format="kinetics")
    from train.train import build, with_subsets
    d = yaml.safe_load(tiny_run_config(tmp_path / "c.yaml", tmp_path / "runs", "k").read_text())
    d["data"] = with_subsets({"root": str(root), "num_segments": 4})
    d["model"]["num_classes"] = "auto"
    with caplog.at_level(logging.WARNING):
        cfg, train_ds, _, val_loader, sampling = build(d, "test")
    assert val_loader is None and len(train_ds) == 8 and cfg.data["format"] == "kinetics_csv"
    assert any("training without it" in r.message for r in caplog.records)


def test_layout_with_explicit_sections_reads_each_subset(trees):
    from train.train import data_config
    data = {"format": "hmdb", "root": str(trees["hmdb51"]), "split": 3, "num_segments": 4,
            "train": {}, "val": {}, "test": {"split": 2}}
    parts = {s: build_dataset(data_config(data, s, RES, "eval")) for s in ("train", "val", "test")}
    assert [p.cfg.subset for p in parts.values()] == ["train", "val", "test"]
    assert len(parts["train"]) == 8 and parts["test"].cfg.split == 2
    assert all("#20_Rhythm" in Path(r.path).name for r in parts["test"].records)   # split 2's test


def test_cli_errors_name_the_argument(tmp_path, capsys, trees):
    cfg = tiny_run_config(tmp_path / "c.yaml", tmp_path / "runs", "e")
    assert run_train(["--config", str(cfg), "--data", str(tmp_path / "nope")]) == 2
    assert "--data" in capsys.readouterr().err
    assert run_train(["--config", str(cfg), "--data", str(trees["folder"]), "--format", "avi"]) == 2
    err = capsys.readouterr().err
    assert "--format 'avi'" in err and "ucf101" in err and "ssv2" in err
    assert run_train(["--config", str(cfg), "--format", "ucf101"]) == 2
    assert "need --data" in capsys.readouterr().err
    assert run_train(["--config", str(cfg), "--data", str(trees["hmdb51"]), "--data-split", "5"]) == 2
    assert "hmdb51 has the official split(s) [1, 2, 3]" in capsys.readouterr().err


# --------------------------------------------------------------------------- sampling
def test_seconds_rule_spans_the_same_time_at_any_fps():
    T, sps = 8, 0.25
    for fps, n in ((25, 250), (12, 120), (30000 / 1001, 300)):          # 10 s videos
        idx = time_indices(n, fps, T, sps, train=False)
        t0 = ((n - 1) / fps - (T - 1) * sps) / 2                       # centred window
        want = t0 + sps * np.arange(T)
        assert np.all(np.abs(idx / fps - want) <= 0.5 / fps + 1e-9)     # the nearest frames
    rng = np.random.default_rng(0)
    for _ in range(50):
        idx = time_indices(100, 25, T, sps, train=True, rng=rng)
        assert idx[0] >= 0 and idx[-1] <= 99 and np.all(np.diff(idx) > 0)
    # the device's rule for a file: sample k at k*sps takes the first frame at or after it less
    # half a frame period; a video shorter than the window starts at 0 and repeats its last frame
    short = time_indices(30, 25, T, sps, train=False)
    dev = [next(i for i in range(30) if i / 25 >= k * sps - 0.5 / 25 - 1e-6) if k * sps <= 29 / 25
           else 29 for k in range(T)]
    assert short.tolist() == dev == [0, 6, 12, 19, 25, 29, 29, 29]
    assert eval_indices(3, 4).tolist() == [0, 1, 1, 2]                  # segments: in order


def test_dataset_uses_each_videos_fps(trees):
    for name, fps in (("ucf101", 25.0), ("ssv2", 12.0)):
        d = ds(trees[name], "val", sampling="seconds", seconds_per_step=0.2)
        frames, idx = d.load_frames(0)
        with __import__("av").open(d.path_of(0)) as c:
            n = sum(1 for _ in c.decode(video=0))
        assert idx.tolist() == time_indices(n, fps, 4, 0.2, False).tolist()
    with pytest.raises(ConfigError, match="seconds_per_step in seconds"):
        ds(trees["ucf101"], "val", sampling="seconds")


# ----------------------------------------------------------- a short training per layout
@pytest.mark.parametrize("name,extra", [
    ("ucf101", ["--format", "ucf101", "--data-split", "2"]),
    ("hmdb51", ["--format", "hmdb51", "--data-split", "3"]),
    ("kinetics_csv", ["--format", "kinetics700"]),
    ("ssv2", ["--format", "ssv2"]),
    ("folder", []),
])
def test_short_training_per_layout(trees, tmp_path, capsys, name, extra):
    data = {"sampling": "seconds"} if name == "ssv2" else {}
    cfg = tiny_run_config(tmp_path / "c.yaml", tmp_path / "runs", name, **data)
    assert run_train(["--config", str(cfg), "--data", str(trees[name]), "--epochs", "1,1,0"] + extra) == 0
    from train.checkpoint import load_checkpoint
    ck = load_checkpoint(tmp_path / "runs" / name / "best.pt")
    assert ck.labels == (EXPECT[name] or ck.labels) and len(ck.labels) == 4
    rc = ck.raw["run_config"]["data"]
    assert rc["format"] == name and rc["root"] == str(trees[name]) and rc["train"] == {"subset": "train"}
    s = ck.sampling
    assert s["frames_per_clip"] == 4 and s["videos_probed"] == 8 and "median" in s["fps"]
    if name == "ssv2":      # the seconds rule at the median duration / T, 12 fps
        assert s["rule"] == "seconds" and s["pad"] == "repeat_last" and s["fps"]["median"] == 12.0
        assert s["seconds_per_step"] == pytest.approx(2.0 / 4) and rc["seconds_per_step"] == s["seconds_per_step"]
    else:
        assert s["rule"] == "segments" and s["pad"] == "repeat_in_order"
        assert s["seconds_per_step"] == pytest.approx(s["duration_s"]["median"] / 4)
    out = capsys.readouterr().out
    assert f"8 clips ({name}), 4 classes, T=4" in out
    if name == "ucf101":
        assert "note: ucf101 split 2 val (testlist02.txt): UCF101 has no validation list" in out
    if name == "kinetics_csv":
        report = json.loads((tmp_path / "runs" / name / "data_report.json").read_text())
        assert report["train"]["counts"] == {"missing_file": 1}


# ------------------------------------------------ --data on evaluate.py / bench / suite
def test_data_on_evaluate_bench_and_suite(trees, tmp_path, capsys):
    cfg = tiny_run_config(tmp_path / "c.yaml", tmp_path / "runs", "f")
    from train.suite import main as suite_main
    assert suite_main(["--config", str(cfg), "--methods", "uniform", "--epochs", "1,0,0", "--device",
                       "cpu", "--no-progress", "--strip", "0", "--data", str(trees["folder"])]) == 0
    ck = tmp_path / "runs" / "f_uniform" / "best.pt"
    from train.evaluate import main as eval_main
    out = tmp_path / "ev"
    assert eval_main(["--checkpoint", str(ck), "--data", str(trees["hmdb51"]), "--format", "hmdb51",
                      "--data-split", "2", "--out", str(out), "--strip", "0", "--device", "cpu"]) == 0
    r = json.loads((out / "results.json").read_text())["methods"]["uniform"]
    assert r["num_clips"] == 4 and r["split"] == "test" and r["data"] == str(trees["hmdb51"])
    from train.bench_throughput import run
    b = run(str(cfg), stage="supervised", steps=1, warmup_steps=0, device="cpu", method="uniform",
            measure=("loader",), data=str(trees["ssv2"]))
    assert b["data"] == str(trees["ssv2"]) and b["results"]["loader"]["clips"] == 4


# ------------------------------------------------------- the three commands, end to end
def test_three_commands_on_a_plain_folder(trees, tmp_path):
    """README's three commands through their CLIs: train.py --data, export_all.py, live.py."""
    cfg = tiny_run_config(tmp_path / "c.yaml", tmp_path / "runs", "mine")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

    def run(*args, timeout=300):
        p = subprocess.run([PY, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=timeout)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        return p.stdout
    out = run("train/train.py", "--config", str(cfg), "--data", str(trees["folder"]), "--epochs",
              "1,1,1", "--device", "cpu", "--no-progress")
    assert "4 classes" in out and "(folder)" in out
    art = tmp_path / "artifacts" / "mine"
    run("convert/export_all.py", "--checkpoint", str(tmp_path / "runs" / "mine" / "best.pt"),
        "--out", str(art), "--formats", "onnx", "--no-latency")
    m = json.loads((art / "manifest.json").read_text())
    assert m["labels"] == sorted(p.name for p in trees["folder"].iterdir() if p.is_dir())
    assert m["sampling"]["rule"] == "segments" and m["sampling"]["fps"]["median"] == 24.0
    assert m["sampling"]["seconds_per_step"] == pytest.approx(2.0 / 4)
    video = sorted(trees["folder"].glob("*/clip_2.mkv"))[0]
    lines = run("edge_runtime/live.py", "--model", str(art), "--source", str(video), "--headless",
                "--backend", "onnxruntime", "--no-power", "--max-steps", "4").splitlines()
    events = [json.loads(x) for x in lines if x.startswith("{")]
    steps = [e for e in events if "step" in e]
    assert events[-1]["summary"]["steps"] == len(steps) == 4
    assert all(e["label"] in m["labels"] for e in steps)
    assert [e["t"] for e in steps] == [0.0, 0.5, 1.0, 1.5]        # the trained seconds per step


# ------------------------------------------------------------------------- the table
def test_layout_table_registration(tmp_path):
    from train.data.layouts import Layout, LayoutSplit, register_layout
    from train.data.layouts.base import LAYOUTS, _ALIASES
    from train.data.lists import VideoRecord
    with pytest.raises(ValueError, match="'ucf' is already registered"):
        register_layout(Layout("ucf", "dup", load=lambda r: None, detect=lambda p: False))
    video = tmp_path / "one.mp4"
    from clipgen import write_video
    write_video(video, 0)

    def load(req: LayoutRequest):
        return LayoutSplit("mine_test", req.subset, 1, [VideoRecord(str(video), (0,))], ["only"],
                           DataReport("mine_test"))
    register_layout(Layout("mine_test", "one video", load=load, detect=lambda p: False,
                           aliases=("mine-alias",)))
    try:
        d = build_dataset(DataConfig(root=str(tmp_path), format="Mine-Alias", num_segments=2,
                                     resolutions=[32]))
        assert d.format == "mine_test" and d.labels == ["only"] and len(d) == 1
        assert load_layout("mine_test", LayoutRequest(root=str(tmp_path))).classes == ["only"]
    finally:
        del LAYOUTS["mine_test"], _ALIASES["mine-alias"]
    with pytest.raises(ConfigError, match=r"data.format='mine_test' is not one of \[.*'ssv2', 'folder'\]"):
        DataConfig(root="x", format="mine_test")
