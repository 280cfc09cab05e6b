"""export_all's command line: format selection, errors, a failing format, checkpoints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from convert import export_all
from convert.formats import FORMATS, FormatSelectionError, select_formats
from edge_runtime.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--no-latency", "--calib-clips", "2", "--val-clips", "2"]


def test_format_table_and_selection():
    assert list(FORMATS) == ["onnx", "tflite-fp32", "tflite-fp16", "tflite-int8", "pte-fp32", "pte-int8", "pt2"]
    assert select_formats(None) == list(FORMATS) == select_formats("all")
    assert select_formats("pt2,onnx") == ["onnx", "pt2"]
    assert select_formats("tflite") == ["tflite-fp32", "tflite-fp16", "tflite-int8"]
    with pytest.raises(FormatSelectionError, match="valid: onnx, tflite-fp32.*pt2"):
        select_formats("onnx,tflite-int4")


def test_unknown_format_is_a_usage_error(capsys, tmp_path):
    assert export_all.main(["--tiny", "--formats", "bogus", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "bogus" in err and "pte-int8" in err
    assert not (tmp_path / "x").exists()


def test_no_checkpoint_says_what_to_do(capsys, tmp_path):
    rc = export_all.main(["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "no checkpoint found" in err and "runs/*/*.pt" in err.replace(str(tmp_path) + "/", "")
    assert "make demo" in err and "train/train.py" in err and "--checkpoint" in err


def test_script_entry_point_runs_from_anywhere(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "convert" / "export_all.py"), "--help"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--formats" in proc.stdout and "tflite-int8" in proc.stdout


class _Boom(FORMATS["pt2"].__class__):
    """pt2 that works for the policy and then fails on the next module."""

    def export(self, ctx, spec, dest):
        if spec.id != "policy":
            raise RuntimeError("injected failure for the test")
        return super().export(ctx, spec, dest)


def test_failing_format_is_reported_and_others_finish(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(FORMATS, "pt2", _Boom())
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text("{}")  # a stale manifest is removed, not kept
    rc = export_all.main(["--tiny", "--formats", "onnx,pt2", "--out", str(out), *FAST])
    assert rc == 1
    log = capsys.readouterr().out
    assert "[pt2] FAILED" in log and "injected failure" in log
    m = load_manifest(out, verify=True)
    assert {a.format for a in m.artifacts} == {"onnx"} and len(m.artifacts) == 4
    f = m.validation["formats"]["pt2"]
    assert f["status"] == "failed" and "injected failure for the test" in f["error"]
    assert "injected failure" in (out / "report.md").read_text()
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.endswith(".pt2") or n.startswith(".")], names  # incl. policy's
    assert m.validation["pipelines"]["onnxruntime/fp32"]["action_agreement"] == 1.0


def test_checkpoint_export_and_int8_without_calibration(tmp_path, capsys):
    """Default checkpoint discovery (newest runs/*/*.pt); int8 without real frames fails with a
    message naming --calib while the other formats finish."""
    import os
    import time

    from convert.tiny import tiny_model
    from train.checkpoint import save_checkpoint
    runs = tmp_path / "runs"
    old = save_checkpoint(runs / "old" / "model.pt", tiny_model(1), labels=list("abcde"),
                          sampling={"frames_per_clip": 4, "seconds_per_step": 0.5})
    os.utime(old, (time.time() - 100, time.time() - 100))
    save_checkpoint(runs / "new" / "model.pt", tiny_model(0), labels=list("vwxyz"),
                    sampling={"frames_per_clip": 4, "seconds_per_step": 0.5, "resize": "pyramid"})
    out = tmp_path / "art"
    rc = export_all.main(["--runs", str(runs), "--formats", "onnx,pte-int8", "--out", str(out), *FAST])
    log = capsys.readouterr().out
    assert rc == 1
    assert "--calib" in log
    m = load_manifest(out, verify=True)
    assert m.labels == list("vwxyz") and m.training["checkpoint"].endswith("new/model.pt")
    assert m.sampling == {"frames_per_clip": 4, "seconds_per_step": 0.5}
    assert m.normalization["resize"] == "pyramid"     # the training rule moves to the manifest
    assert {a.format for a in m.artifacts} == {"onnx"}
    assert "--calib" in m.validation["formats"]["pte-int8"]["error"]


def test_calibration_data_sources(tmp_path):
    import numpy as np

    from convert.data import DataError, load_export_data, synthetic_clips
    a = synthetic_clips(3, 4, seed=3)
    b = synthetic_clips(3, 4, seed=3)
    assert all(np.array_equal(x.frames, y.frames) for x, y in zip(a, b))
    assert a[0].frames.shape == (4, 72, 96, 3) and a[0].view(24).shape == (4, 24, 24, 3)
    clips = np.stack([c.frames for c in synthetic_clips(6, 10, seed=1)])
    np.savez(tmp_path / "clips.npz", clips=clips, labels=np.arange(6) % 3)
    d = load_export_data(tmp_path / "clips.npz", labels=["a", "b", "c"], frames_per_clip=5)
    assert d.real and len(d.calib) == 3 and len(d.val) == 3
    assert d.calib[0].frames.shape == (5, 72, 96, 3) and d.val[0].label in (0, 1, 2)
    assert not {c.source for c in d.calib} & {c.source for c in d.val}  # held out
    with pytest.raises(DataError, match="not found"):
        load_export_data(tmp_path / "nope", labels=["a"], frames_per_clip=4)
    with pytest.raises(DataError, match="--calib"):
        load_export_data(None, labels=["a"], frames_per_clip=4)


def test_too_few_calibration_frames_refuse_int8_with_the_count_needed(tmp_path, capsys):
    """Real frames, but fewer than MIN_CALIB_FRAMES per network: the int8 formats fail before any
    conversion, naming the count needed; the float formats finish."""
    import numpy as np

    from convert.data import synthetic_clips
    from convert.tiny import tiny_model
    from train.checkpoint import save_checkpoint
    ck = save_checkpoint(tmp_path / "runs" / "m" / "model.pt", tiny_model(0), labels=list("abcde"),
                         sampling={"frames_per_clip": 4, "seconds_per_step": 0.5})
    clips = np.stack([c.frames for c in synthetic_clips(6, 4, seed=2, num_classes=5)])
    np.savez(tmp_path / "clips.npz", clips=clips, labels=np.arange(6) % 5)
    out = tmp_path / "art"
    rc = export_all.main(["--checkpoint", str(ck), "--formats", "onnx,tflite-int8", "--out", str(out),
                          "--calib", str(tmp_path / "clips.npz"), "--no-latency"])
    log = capsys.readouterr().out
    assert rc == 1
    m = load_manifest(out, verify=True)
    err = m.validation["formats"]["tflite-int8"]["error"]
    need = export_all.MIN_CALIB_FRAMES
    assert f"at least {need} frames per network ({need // 4} clips of 4 frames)" in err, err
    assert "3 readable clip(s), 12 frames" in err and "--calib" in err
    assert {a.format for a in m.artifacts} == {"onnx"} and "WARNING" in log
    assert all(a.validation.status == "passed" for a in m.artifacts)      # onnx checked and marked


def test_validation_clips_come_from_val_then_test(tmp_path):
    """A train/val/test folder: calibration from train/, held-out clips from val/, topped up from
    test/ while val/ has fewer than asked for (both are held out)."""
    import cv2
    import numpy as np

    from convert.data import load_export_data

    def video(path, shade):
        path.parent.mkdir(parents=True, exist_ok=True)
        w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 24))
        for t in range(6):
            w.write(np.full((24, 32, 3), (shade + 10 * t) % 255, np.uint8))
        w.release()

    for split, n in (("train", 3), ("val", 2), ("test", 3)):
        for i in range(n):
            video(tmp_path / split / ("a" if i % 2 else "b") / f"{split}{i}.mp4", 40 * i + 7)
    d = load_export_data(tmp_path, labels=["a", "b"], frames_per_clip=4, calib_clips=3, val_clips=4)
    assert sorted(Path(c.source).parent.parent.name for c in d.val) == ["test", "test", "val", "val"]
    assert {Path(c.source).parent.parent.name for c in d.calib} == {"train"}
    assert "validation from val/ + test/" in d.notes[0]
    d = load_export_data(tmp_path, labels=["a", "b"], frames_per_clip=4, calib_clips=3, val_clips=2)
    assert {Path(c.source).parent.parent.name for c in d.val} == {"val"}
