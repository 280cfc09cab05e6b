"""Training throughput of a run config, side by side in one process (clips/s on a GPU or CPU).

``python train/bench_throughput.py --config configs/arnet_lite.yaml [--stage joint] [--steps 40]
[--device cuda] [--json PATH] [--data PATH [--format F]]``

Three measurements of the same model, optimiser and stage, one after another:

* ``loader``  -- the real training DataLoader alone (decode + sample + resize + collate): the rate
  the input pipeline can feed;
* ``compute`` -- training steps on one real batch held in memory (host-to-device copy, forward,
  loss, backward, optimiser step): the rate the model can train at with a free loader;
* ``train``   -- the real thing, :meth:`train.trainer.Trainer._train_epoch` on the real loader, with
  the share of wall time spent waiting for data (``data_wait_share``).

Each runs ``--warmup-steps`` untimed steps first (cuDNN autotune, worker start-up). The loader is
"not the bottleneck" when ``train`` clips/s is within a few percent of ``compute`` and the data
wait share is small. Prints a table and writes JSON (``--json``). The numbers are wall-clock rates
on whatever machine runs it: compare rows of one run, not runs on different machines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from train.config import ConfigError, load_yaml  # noqa: E402

STAGES = ("warmup", "joint", "finetune", "supervised")


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def bench_loader(loader_fn, steps: int, warmup: int) -> dict[str, float]:
    """Clips per second of the loader alone after ``warmup`` untimed batches, and the seconds to
    its first batch (worker start-up). Workers prefetch while the untimed batches are consumed, so
    the rate is an upper bound unless ``steps`` is well above workers x prefetch_factor batches."""
    start = time.perf_counter()
    it = iter(loader_fn(0, 0))
    clips = 0
    t0 = None
    first = None
    for i in range(warmup + steps):
        if i == 1:
            first = time.perf_counter() - start
        if i == warmup:
            t0 = time.perf_counter()
        try:
            batch = next(it)
        except StopIteration:
            break
        if i >= warmup:
            clips += int(batch["frames"][0].shape[0])
    el = time.perf_counter() - t0 if t0 is not None else 0.0
    return {"clips_per_s": clips / el if el > 0 else 0.0, "clips": clips, "seconds": el,
            "first_batch_s": first}


def run(config: str, stage: str = "joint", steps: int = 40, warmup_steps: int = 5,
        device: str | None = None, batch_size: int | None = None, workers: int | None = None,
        measure: Sequence[str] = ("loader", "compute", "train"), method: str | None = None,
        random_init: bool = False, data: str | None = None, data_format: str | None = None,
        data_split: int | None = None) -> dict[str, Any]:
    from train.train import apply_data_args, build
    from train.trainer import POLICY_METHODS, Trainer, set_trainable

    if stage not in STAGES:
        raise ConfigError(f"--stage {stage!r} is not one of {list(STAGES)}")
    d = apply_data_args(load_yaml(config), data, data_format, data_split)
    if method:
        d.setdefault("model", {})["method"] = method
    if random_init:            # speed does not depend on the weights; no weight packages needed
        d.setdefault("model", {})["pretrained"] = False
    tr = d.setdefault("train", {})
    if batch_size:
        tr["batch_size"] = int(batch_size)
    if workers is not None:
        tr["workers"] = int(workers)
    cfg, train_ds, loader_fn, _, sampling = build(d, config)
    method = cfg.model.method
    if (stage == "supervised") != (method not in POLICY_METHODS):
        valid = ["supervised"] if method not in POLICY_METHODS else ["warmup", "joint", "finetune"]
        raise ConfigError(f"--stage {stage!r} does not apply to method {method!r}; valid: {valid}")
    results: dict[str, Any] = {}
    if "loader" in measure:
        results["loader"] = bench_loader(loader_fn, steps, warmup_steps)

    trainer = Trainer(cfg, loader_fn, None, train_ds.labels, sampling, device=device, progress=False)
    dev = trainer.d.device
    set_trainable(trainer.model, stage, method, trainer.frozen)
    opt = torch.optim.AdamW(trainer.param_groups(1e-4), lr=1e-4)
    tau = trainer.tau(stage, 0)

    def timed(fn_loader, n: int) -> dict[str, float]:
        cfg.train.max_steps_per_epoch = warmup_steps
        trainer.train_loader_fn = fn_loader
        trainer._train_epoch(trainer.model, opt, stage, 0, tau)           # warm-up, untimed
        _sync(dev)
        cfg.train.max_steps_per_epoch = n
        st = trainer._train_epoch(trainer.model, opt, stage, 1, tau)
        return {"clips_per_s": st["clips_per_s"], "data_wait_share": st["data_wait_share"]}

    if "compute" in measure:
        batch = next(iter(loader_fn(0, 0)))
        if dev.type == "cuda":
            batch = {k: ([f.pin_memory() for f in v] if isinstance(v, list) else v.pin_memory())
                     for k, v in batch.items()}
        results["compute"] = timed(lambda e, s: [batch] * max(steps, warmup_steps), steps)
    if "train" in measure:
        results["train"] = timed(loader_fn, steps)
    from train.suite import hardware_string
    hw = hardware_string(str(dev))
    return {"config": config, "data": data, "method": method, "stage": stage, "device": str(dev), "hardware": hw,
            "torch": torch.__version__, "batch_size": cfg.train.batch_size, "workers": cfg.train.workers,
            "frames_per_clip": sampling["frames_per_clip"], "resolutions": list(cfg.model.resolutions),
            "amp_bf16": bool(cfg.train.amp and dev.type == "cuda"), "steps": steps,
            "warmup_steps": warmup_steps, "pretrained": bool(cfg.model.pretrained), "results": results}


def table(r: dict[str, Any]) -> str:
    lines = [f"{r['method']} / {r['stage']} on {r['hardware']} (batch {r['batch_size']}, T={r['frames_per_clip']}, "
             f"workers {r['workers']}, bf16 {r['amp_bf16']})",
             f"{'measure':<10} {'clips/s':>9} {'data wait':>10}"]
    for k in ("loader", "compute", "train"):
        if k in r["results"]:
            v = r["results"][k]
            wait = f"{100 * v['data_wait_share']:.1f} %" if "data_wait_share" in v else "-"
            lines.append(f"{k:<10} {v['clips_per_s']:>9.1f} {wait:>10}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="YAML run config")
    ap.add_argument("--stage", default="joint", help=f"training stage to time: {', '.join(STAGES)} "
                                                     f"(supervised = the baselines' one stage)")
    ap.add_argument("--method", default=None, help="override model.method")
    ap.add_argument("--steps", type=int, default=40, help="timed steps per measurement")
    ap.add_argument("--warmup-steps", type=int, default=5)
    ap.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--random-init", action="store_true",
                    help="random weights instead of the pretrained ones (same speed)")
    ap.add_argument("--measure", default="loader,compute,train", help="subset of loader,compute,train")
    ap.add_argument("--json", default=None, help="write the results here")
    from train.train import add_data_args
    add_data_args(ap)
    a = ap.parse_args(argv)
    try:
        measure = [m.strip() for m in a.measure.split(",") if m.strip()]
        bad = [m for m in measure if m not in ("loader", "compute", "train")]
        if bad or not measure:
            raise ConfigError(f"--measure {a.measure!r}: valid items are loader, compute, train")
        if a.steps < 1 or a.warmup_steps < 0:
            raise ConfigError(f"--steps {a.steps} / --warmup-steps {a.warmup_steps}: need steps >= 1, "
                              f"warmup >= 0")
        r = run(a.config, a.stage, a.steps, a.warmup_steps, a.device, a.batch_size, a.workers, measure,
                a.method, a.random_init, a.data, a.format, a.data_split)
    except (ConfigError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(table(r))
    if a.json:
        from edge_runtime.manifest import atomic_write_text
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(a.json), json.dumps(r, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
