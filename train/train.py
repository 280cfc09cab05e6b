"""Train AR-Net (or a baseline): ``python train/train.py --config configs/demo.yaml``.

Runs warm-up → joint → fine-tune with a progress bar, ``metrics.csv``, atomic checkpoints
(``runs/<name>/last.pt`` every epoch, ``best.pt``) and ``--resume`` to continue a killed run.
Under ``torchrun --nproc_per_node N`` it trains with DDP (NCCL on GPU, gloo on CPU).

``--data PATH [--format ucf101] [--data-split 2]`` trains the config's model on another dataset:
the config's data section keeps how clips are sampled and augmented, and its dataset (root, lists,
format, splits) is replaced by the dataset at PATH, read as distributed (UCF101, HMDB51, Kinetics
CSVs, Something-Something v2, or a plain root/<class>/* folder; ``train/data/layouts``). Problems
found in its annotations are reported once per kind and written to ``runs/<name>/data_report.json``.

Config (YAML)::

    name: demo
    out_dir: runs
    model: {num_classes: auto, resolutions: [...], backbones: [...], ...}   # ARNetConfig
    data:                       # shared keys of train.data.DataConfig ...
      root: data/synthact_small
      num_segments: 8
      train: {list_file: data/synthact_small/train.txt}   # ... plus per-split overrides
      val: {list_file: data/synthact_small/val.txt}
      seconds_per_step: auto    # live sampling rate (auto: the data's meta.json, else the median
                                # duration of the training videos / T)
    train: {...}                # train.trainer.TrainConfig

A data section with a dataset layout (``format: ucf101`` ..., or ``auto`` on a dataset folder) and
no train/val/test sections reads the layout's own subsets (see configs/your_videos.yaml).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from train.config import ConfigError, load_yaml  # noqa: E402

SPLIT_KEYS = ("train", "val", "test")
# what names a dataset in a data section (replaced by --data); the other keys say how to sample
DATASET_KEYS = ("format", "root", "list_file", "classes_file", "annotations", "split", "subset",
                "image_tmpl", "index_base", "num_classes", "multi_label", "seconds_per_step",
                "fps") + SPLIT_KEYS
DEFAULT_SECONDS_PER_STEP = 0.25


def data_config(data: dict[str, Any], split: str, resolutions: list[int], mode: str):
    from train.data.dataset import DataConfig, canonical_format
    from train.data.layouts import LAYOUTS
    common = {k: v for k, v in data.items() if k not in SPLIT_KEYS}
    if split not in data:
        raise ConfigError(f"data.{split}: missing (give at least its list_file or root)")
    d = {**common, **(data.get(split) or {}), "resolutions": resolutions, "mode": mode}
    if split in SPLIT_KEYS and canonical_format(d.get("format", "auto"), d.get("list_file")) in LAYOUTS:
        d.setdefault("subset", split)      # a layout's test section reads its test subset
    return DataConfig.from_dict(d, where=f"data.{split}")


def with_subsets(data: dict[str, Any]) -> dict[str, Any]:
    """A data section that names a dataset layout (or ``auto`` on a folder) and has no
    train/val/test sections gets one per subset of the layout; ``auto`` becomes the detected
    layout, so the run config (stored in the checkpoints) names it."""
    from train.data.dataset import canonical_format
    from train.data.layouts import LAYOUTS, detect_layout
    if any(k in data for k in SPLIT_KEYS):
        return data
    fmt = canonical_format(data.get("format", "auto"), data.get("list_file"))
    if fmt == "auto" and not data.get("list_file"):
        if not data.get("root"):
            raise ConfigError("data.root is empty: give the dataset folder (or --data PATH)")
        fmt = detect_layout(data["root"])
    if fmt not in LAYOUTS:
        return data
    return {**data, "format": fmt, **{k: {"subset": k} for k in SPLIT_KEYS}}


def replace_dataset(data: dict[str, Any], path: str, fmt: str | None = None,
                    split: int | None = None) -> dict[str, Any]:
    """``--data PATH``: the data section with its dataset replaced by the one at PATH (format
    ``fmt`` or detected, official split ``split``); sampling and augmentation keys are kept."""
    from train.data.layouts import canonical_layout, list_layouts
    if not Path(path).is_dir():
        raise ConfigError(f"--data {path}: no such folder (expected a dataset folder: "
                          f"{', '.join(list_layouts())})")
    if fmt is not None and canonical_layout(fmt) is None and fmt != "auto":
        raise ConfigError(f"--format {fmt!r} is not a dataset layout; valid: {list_layouts()} or "
                          f"auto")
    out = {k: v for k, v in data.items() if k not in DATASET_KEYS}
    out.update(root=str(path), format=canonical_layout(fmt) if fmt not in (None, "auto") else "auto")
    if split is not None:
        out["split"] = int(split)
    if data.get("sampling") == "seconds" and isinstance(data.get("seconds_per_step"), (int, float)):
        out["seconds_per_step"] = data["seconds_per_step"]   # a fixed rate is part of the rule
    return with_subsets(out)


def apply_data_args(d: dict[str, Any], data: str | None, fmt: str | None,
                    split: int | None) -> dict[str, Any]:
    """Run config dict with ``--data/--format/--data-split`` applied (num_classes then follows
    the data)."""
    if data is None:
        if fmt is not None or split is not None:
            raise ConfigError("--format / --data-split need --data PATH (the dataset folder)")
        return d
    d = dict(d)
    d["data"] = replace_dataset(dict(d.get("data") or {}), data, fmt, split)
    d["model"] = {**(d.get("model") or {}), "num_classes": "auto"}
    return d


def add_data_args(ap: argparse.ArgumentParser) -> None:
    """``--data``, ``--format``, ``--data-split`` (train, evaluate, suite, bench_throughput)."""
    from train.data.layouts import LAYOUTS
    ap.add_argument("--data", default=None, metavar="PATH",
                    help="train/evaluate on the dataset at PATH instead of the config's: "
                         + "; ".join(f"{n}: {lay.description}" for n, lay in LAYOUTS.items()))
    ap.add_argument("--format", default=None, metavar="NAME",
                    help=f"layout of --data: {', '.join(LAYOUTS)} (default: detected)")
    ap.add_argument("--data-split", type=int, default=None, metavar="N",
                    help="official split of --data (UCF101 / HMDB51: 1, 2 or 3; default 1)")


def seconds_per_step(data: dict[str, Any], root: str, T: int, timing: dict | None = None
                     ) -> tuple[float, str]:
    """(seconds between steps on live video, where it came from): the config's number, else the
    data's meta.json (SynthAct), else the median duration of the training videos / T."""
    v = data.get("seconds_per_step", "auto")
    if v not in (None, "auto"):
        return float(v), "config"
    meta = Path(root) / "meta.json"
    if meta.is_file():
        m = json.loads(meta.read_text())
        if "frames_per_video" in m and "fps" in m:
            return float(m["frames_per_video"]) / float(m["fps"]) / T, "meta.json"
        if "seconds" in m:
            return float(m["seconds"]) / T, "meta.json"
    if timing and "duration_s" in timing:
        return round(timing["duration_s"]["median"] / T, 6), \
            f"median duration of {timing['videos_probed']} training videos / T"
    return DEFAULT_SECONDS_PER_STEP, "default (no frame rate found)"


def _build_train_dataset(data_d: dict[str, Any], res: list[int]):
    """The training dataset and the sampling block (rule, seconds per step, fps and durations)."""
    from train.data.dataset import ClipDataset, build_dataset
    tcfg = data_config(data_d, "train", res, "train")
    auto = tcfg.seconds_per_step in (None, "auto")
    probe = build_dataset(tcfg.replace(sampling="segments")) if tcfg.sampling == "seconds" and auto \
        else build_dataset(tcfg)
    timing = probe.timing()
    sps, origin = seconds_per_step(data_d, probe.cfg.root, tcfg.num_segments, timing)
    if probe.cfg.sampling != tcfg.sampling:        # the seconds rule at the rate just found
        data_d["seconds_per_step"] = sps
        tcfg = data_config(data_d, "train", res, "train")
        train_ds = ClipDataset(tcfg, probe.records, probe.labels, probe.report)
    else:
        train_ds = probe
    sampling = {"frames_per_clip": tcfg.num_segments, "seconds_per_step": sps,
                "resize": tcfg.resize,   # the export moves it to normalization.resize
                "rule": tcfg.sampling, "pad": tcfg.pad, "seconds_per_step_from": origin, **timing}
    return train_ds, sampling


def build(cfg_dict: dict[str, Any], where: str):
    """RunConfig + datasets from a config dict (num_classes "auto" = from the data's labels)."""
    from train.data.dataset import build_dataset, build_loader
    from train.data.layouts import LayoutError
    from train.trainer import RunConfig

    model_d = dict(cfg_dict.get("model", {}))
    data_d = with_subsets(dict(cfg_dict.get("data", {})))
    res = model_d.get("resolutions", [224, 168, 112, 84])
    train_ds, sampling = _build_train_dataset(data_d, res)
    val_ds = None
    if "val" in data_d:
        try:
            val_ds = build_dataset(data_config(data_d, "val", res, "eval"))
        except LayoutError as e:
            if "has no usable video" not in str(e):
                raise
            logging.getLogger("train").warning("no validation data, training without it: %s", e)
    if val_ds is not None and train_ds.format == "video_folder" and val_ds.labels != train_ds.labels:
        raise ConfigError(f"{where}: the class folders of the val data {val_ds.labels} differ from "
                          f"the training data's {train_ds.labels} (data.val.root)")
    if model_d.get("num_classes", "auto") == "auto":
        model_d["num_classes"] = train_ds.num_classes
    model_d.setdefault("multi_label", bool(data_d.get("multi_label", False)))
    cfg = RunConfig.from_dict({**cfg_dict, "model": model_d, "data": data_d}, where)
    if cfg.model.num_classes != train_ds.num_classes:
        raise ConfigError(f"{where}: model.num_classes={cfg.model.num_classes} but the training data "
                          f"has {train_ds.num_classes} classes")
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


def data_report(train_ds, val_ds) -> dict[str, Any]:
    """What reading the data skipped, per subset (``data_report.json`` in the run folder)."""
    out = {}
    for name, ds in (("train", train_ds), ("val", val_ds)):
        if ds is not None and getattr(ds, "report", None) is not None:
            out[name] = {"videos": len(ds), **ds.report.to_dict()}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="YAML run config")
    add_data_args(ap)
    ap.add_argument("--resume", action="store_true", help="continue runs/<name>/last.pt")
    ap.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    ap.add_argument("--name", default=None, help="override the run name")
    ap.add_argument("--method", default=None, help="override model.method (train a baseline)")
    ap.add_argument("--epochs", default=None, help="override warmup,joint,finetune epochs e.g. 1,2,1")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        from train.trainer import Trainer
        d = apply_data_args(load_yaml(args.config), args.data, args.format, args.data_split)
        if args.name:
            d["name"] = args.name
        if args.method:
            d.setdefault("model", {})["method"] = args.method
        if args.epochs:
            try:
                w, j, f = (int(x) for x in args.epochs.split(","))
            except ValueError:
                raise ConfigError(f"--epochs {args.epochs!r}: expected three integers w,j,f, e.g. 1,2,1") \
                    from None
            d.setdefault("train", {}).update(warmup_epochs=w, joint_epochs=j, finetune_epochs=f)
        cfg, train_ds, loader_fn, val_loader, sampling = build(d, args.config)
        prepare = None
        val_ds = getattr(val_loader, "dataset", None)
        if cfg.train.feature_cache:   # frozen prefixes computed once (train/featcache.py)
            from train.featcache import cached_training
            loader_fn, val_loader, prepare = cached_training(
                cfg, train_ds, val_ds, device=args.device,
                progress=not args.no_progress)
        trainer = Trainer(cfg, loader_fn, val_loader, train_ds.labels, sampling, device=args.device,
                          resume=args.resume, progress=not args.no_progress, prepare_model=prepare)
        if trainer.d.main:
            report = data_report(train_ds, val_ds)
            if report:
                from edge_runtime.manifest import atomic_write_text
                cfg.run_dir.mkdir(parents=True, exist_ok=True)
                atomic_write_text(cfg.run_dir / "data_report.json", json.dumps(report, indent=2) + "\n")
            fps = sampling.get("fps", {}).get("median")
            print(f"training {cfg.model.method} '{cfg.name}' on {trainer.d.device} x{trainer.d.world}: "
                  f"{len(train_ds)} clips ({train_ds.format}), {cfg.model.num_classes} classes, "
                  f"T={sampling['frames_per_clip']}, {sampling['rule']} sampling, "
                  f"{sampling['seconds_per_step']:.4g} s/step"
                  + (f", median {fps:g} fps" if fps else "") + f" -> {cfg.run_dir}", flush=True)
            for part in report.values():
                for note in part["notes"]:
                    print(f"note: {part['where']}: {note}", flush=True)
        metrics = trainer.fit()
        if trainer.d.main:
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
