"""Train AR-Net (or a baseline): ``python train/train.py --config configs/demo.yaml``.

Runs warm-up → joint → fine-tune with a progress bar, ``metrics.csv``, atomic checkpoints
(``runs/<name>/last.pt`` every epoch, ``best.pt``) and ``--resume`` to continue a killed run.
Under ``torchrun --nproc_per_node N`` it trains with DDP (NCCL on GPU, gloo on CPU).

Config (YAML)::

    name: demo
    out_dir: runs
    model: {num_classes: auto, resolutions: [...], backbones: [...], ...}   # ARNetConfig
    data:                       # shared keys of train.data.DataConfig ...
      root: data/synthact_small
      num_segments: 8
      train: {list_file: data/synthact_small/train.txt}   # ... plus per-split overrides
      val: {list_file: data/synthact_small/val.txt}
      seconds_per_step: auto    # live sampling rate (auto: from the data's meta.json)
    train: {...}                # train.trainer.TrainConfig
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from train.config import ConfigError, load_yaml  # noqa: E402

SPLIT_KEYS = ("train", "val", "test", "seconds_per_step")


def data_config(data: dict[str, Any], split: str, resolutions: list[int], mode: str):
    from train.data.dataset import DataConfig
    common = {k: v for k, v in data.items() if k not in SPLIT_KEYS}
    if split not in data:
        raise ConfigError(f"data.{split}: missing (give at least its list_file or root)")
    d = {**common, **(data.get(split) or {}), "resolutions": resolutions, "mode": mode}
    return DataConfig.from_dict(d, where=f"data.{split}")


def seconds_per_step(data: dict[str, Any], root: str, T: int) -> float:
    v = data.get("seconds_per_step", "auto")
    if v not in (None, "auto"):
        return float(v)
    meta = Path(root) / "meta.json"
    if meta.is_file():
        m = json.loads(meta.read_text())
        if "frames_per_video" in m and "fps" in m:
            return float(m["frames_per_video"]) / float(m["fps"]) / T
        if "seconds" in m:
            return float(m["seconds"]) / T
    return 0.25


def build(cfg_dict: dict[str, Any], where: str):
    """RunConfig + datasets from a config dict (num_classes "auto" = from the data's labels)."""
    from train.data.dataset import build_dataset, build_loader
    from train.trainer import RunConfig

    model_d = dict(cfg_dict.get("model", {}))
    data_d = dict(cfg_dict.get("data", {}))
    res = model_d.get("resolutions", [224, 168, 112, 84])
    train_ds = build_dataset(data_config(data_d, "train", res, "train"))
    val_ds = build_dataset(data_config(data_d, "val", res, "eval")) if "val" in data_d else None
    if model_d.get("num_classes", "auto") == "auto":
        model_d["num_classes"] = train_ds.num_classes
    model_d.setdefault("multi_label", bool(data_d.get("multi_label", False)))
    cfg = RunConfig.from_dict({**cfg_dict, "model": model_d}, where)
    if cfg.model.num_classes != train_ds.num_classes:
        raise ConfigError(f"{where}: model.num_classes={cfg.model.num_classes} but the training data "
                          f"has {train_ds.num_classes} classes")
    T = train_ds.cfg.num_segments
    sampling = {"frames_per_clip": T, "seconds_per_step": seconds_per_step(data_d, train_ds.cfg.root, T),
                "resize": train_ds.cfg.resize}   # the export moves it to normalization.resize
    t = cfg.train

    def train_loader_fn(epoch: int, seed: int):
        if hasattr(train_ds, "set_epoch"):
            train_ds.set_epoch(epoch)
        sampler = None
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            sampler = torch.utils.data.distributed.DistributedSampler(train_ds, shuffle=True, seed=t.seed,
                                                                      drop_last=True)
            sampler.set_epoch(epoch)
        loader = build_loader(train_ds, t.batch_size, num_workers=t.workers, sampler=sampler,
                              pin_memory=torch.cuda.is_available(),
                              prefetch_factor=4 if t.workers > 0 else None)
        loader.generator = torch.Generator().manual_seed(seed)
        return loader

    val_loader = build_loader(val_ds, t.batch_size, num_workers=t.workers) if val_ds is not None else None
    return cfg, train_ds, train_loader_fn, val_loader, sampling


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="YAML run config")
    ap.add_argument("--resume", action="store_true", help="continue runs/<name>/last.pt")
    ap.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    ap.add_argument("--name", default=None, help="override the run name")
    ap.add_argument("--method", default=None, help="override model.method (train a baseline)")
    ap.add_argument("--epochs", default=None, help="override warmup,joint,finetune epochs e.g. 1,2,1")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    try:
        from train.trainer import Trainer
        d = load_yaml(args.config)
        if args.name:
            d["name"] = args.name
        if args.method:
            d.setdefault("model", {})["method"] = args.method
        if args.epochs:
            w, j, f = (int(x) for x in args.epochs.split(","))
            d.setdefault("train", {}).update(warmup_epochs=w, joint_epochs=j, finetune_epochs=f)
        cfg, train_ds, loader_fn, val_loader, sampling = build(d, args.config)
        trainer = Trainer(cfg, loader_fn, val_loader, train_ds.labels, sampling, device=args.device,
                          resume=args.resume, progress=not args.no_progress)
        if trainer.d.main:
            print(f"training {cfg.model.method} '{cfg.name}' on {trainer.d.device} x{trainer.d.world}: "
                  f"{len(train_ds)} clips, {cfg.model.num_classes} classes, T={sampling['frames_per_clip']}"
                  f" -> {cfg.run_dir}", flush=True)
        metrics = trainer.fit()
        if trainer.d.main:
            bad = getattr(train_ds, "bad_paths", None)
            print(json.dumps({k: v for k, v in metrics.items() if not isinstance(v, (list, dict))}))
            print(f"checkpoints: {cfg.run_dir / 'last.pt'}, {cfg.run_dir / 'best.pt'}")
        return 0
    except (ConfigError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
