"""train/bench_throughput.py: loader / compute / train rates of a config, side by side."""

import json

import pytest
import torch
from test_training import make_config, tiny_data  # noqa: F401  (fixture)

from train import bench_throughput
from train.data.dataset import WORKER_PRELOAD, build_loader


def test_bench_throughput_reports_all_three_measures(tiny_data, tmp_path, capsys):  # noqa: F811
    torch.set_num_threads(1)
    cfg = make_config(tiny_data, tmp_path)
    out = tmp_path / "tp.json"
    rc = bench_throughput.main(["--config", str(cfg), "--device", "cpu", "--steps", "2",
                                "--warmup-steps", "1", "--batch-size", "2", "--json", str(out)])
    stdout = capsys.readouterr().out
    assert rc == 0
    r = json.loads(out.read_text())
    assert r["method"] == "arnet" and r["stage"] == "joint" and r["batch_size"] == 2
    assert r["frames_per_clip"] == 4 and not r["amp_bf16"]
    for k in ("loader", "compute", "train"):
        assert r["results"][k]["clips_per_s"] > 0, k
        assert k in stdout
    assert r["results"]["loader"]["clips"] == 4                  # 2 timed batches of 2
    for k in ("compute", "train"):
        assert 0.0 <= r["results"][k]["data_wait_share"] < 1.0


def test_bench_throughput_baseline_stage_and_bad_arguments(tiny_data, tmp_path, capsys):  # noqa: F811
    cfg = make_config(tiny_data, tmp_path)
    assert bench_throughput.main(["--config", str(cfg), "--device", "cpu", "--method", "uniform",
                                  "--stage", "supervised", "--steps", "1", "--warmup-steps", "0",
                                  "--measure", "compute"]) == 0
    capsys.readouterr()
    assert bench_throughput.main(["--config", str(cfg), "--device", "cpu", "--stage", "supervised",
                                  "--steps", "1"]) == 2
    assert "does not apply to method 'arnet'" in capsys.readouterr().err
    assert bench_throughput.main(["--config", str(cfg), "--measure", "gpu"]) == 2
    assert "valid items are loader, compute, train" in capsys.readouterr().err


def test_loader_workers_come_from_a_preloaded_fork_server(tiny_data):  # noqa: F811
    import multiprocessing as mp
    from train.data.dataset import DataConfig, build_dataset
    if "forkserver" not in mp.get_all_start_methods():
        pytest.skip("no fork server on this platform")
    ds = build_dataset(DataConfig(format="video_folder", root=str(tiny_data / "val"), num_segments=2,
                                  resolutions=[32, 24], mode="eval"))
    loader = build_loader(ds, 2, num_workers=1)
    assert loader.multiprocessing_context.get_start_method() == "forkserver"
    assert {"torch", "cv2", "train.data.dataset"} <= set(WORKER_PRELOAD)
    batch = next(iter(loader))
    assert batch["frames"][0].shape[:2] == (2, 2)
