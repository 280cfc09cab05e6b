"""The 3-stage AR-Net schedule (paper Sec. 4.1): warm-up → joint → fine-tune.

* warm-up: every branch (backbones, Φ + its head) learns on its own clip prediction; the
  policy (LSTM + action head) is not trained;
* joint: everything, Gumbel-softmax straight-through, L = (1-α)·L_acc + α·L_flops + β·L_uni,
  τ = τ₀·exp(−decay·epoch) per epoch;
* fine-tune: the policy (Φ, LSTM, action head) frozen, the backbones adapt to its decisions.

Baselines that have no policy (uniform, lstm, multiscale) and the random policy train one stage
on L_acc. GPU when present (bf16 autocast, channels-last, cudnn autotune), CPU otherwise;
DDP under ``torchrun`` (NCCL on GPU, gloo on CPU). Each epoch ends with an atomic
``last.pt`` (full state, so ``--resume`` continues a killed run with the same results) and
``best.pt`` (best validation top-1 within the last stage reached: during joint training the
policy's cost keeps falling, so an early joint epoch with a costly policy must not win over the
trained one; fine-tune epochs share one frozen policy and compare like with like);
``metrics.csv`` logs every epoch.
"""

from __future__ import annotations

import csv
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from train.checkpoint import load_checkpoint, save_checkpoint
from train.config import ARNetConfig, ConfigError, from_dict
from train.losses import LossWeights, accuracy_loss, action_cover, arnet_loss, branch_loss
from train.models import create_model

POLICY_METHODS = ("arnet", "resolution_only", "skip_only")


@dataclass
class TrainConfig:
    warmup_epochs: int = 2
    joint_epochs: int = 4
    finetune_epochs: int = 1
    lr_warmup: float = 1e-3
    lr_joint: float = 5e-4
    lr_finetune: float = 2e-4
    weight_decay: float = 1e-4
    batch_size: int = 8
    alpha: float = 0.1
    beta: float = 0.3
    tau0: float = 5.0
    tau_decay: float = 0.045
    workers: int = 2
    seed: int = 0
    amp: bool = True              # bf16 autocast on CUDA (ignored on CPU)
    channels_last: bool = True    # CUDA only
    max_steps_per_epoch: int = 0  # 0 = whole epoch (tests/demos cap it)
    eval_every: int = 1
    policy_lr_mult: float = 1.0   # the policy's LSTM + action head learn this much faster
    freeze_backbone_fraction: float = 0.0  # freeze the first share of every backbone's parameters
                                           # (pretrained early layers; their BN stays in eval)
    efficiency_warmup_epochs: int = 0  # the first joint epochs train the policy for accuracy
                                       # alone (alpha = 0), then the efficiency loss switches on
    feature_cache: str = ""       # "pool" | "head": every backbone's frozen pretrained part runs
                                  # once per clip and resolution (train/featcache.py); "" = off
    cache_views: int = 3          # TSN samplings cached per training clip (view 0 = centre)
    policy_folds: int = 0         # >= 2: the policy learns on held-out branch predictions from
                                  # that many warm-ups, each without one fold (needs the cache)

    def validate(self) -> None:
        for k in ("warmup_epochs", "joint_epochs", "finetune_epochs", "efficiency_warmup_epochs"):
            if getattr(self, k) < 0:
                raise ConfigError(f"train.{k}={getattr(self, k)}: must be >= 0")
        if self.batch_size < 1:
            raise ConfigError(f"train.batch_size={self.batch_size}: must be >= 1")
        from train.featcache import CUTS
        if self.feature_cache not in ("",) + CUTS:
            raise ConfigError(f"train.feature_cache={self.feature_cache!r} is not one of {['', *CUTS]}")
        if self.cache_views < 1:
            raise ConfigError(f"train.cache_views={self.cache_views}: must be >= 1")
        if self.policy_folds == 1 or self.policy_folds < 0:
            raise ConfigError(f"train.policy_folds={self.policy_folds}: 0 (off) or >= 2")
        if self.policy_folds and not self.feature_cache:
            raise ConfigError("train.policy_folds needs train.feature_cache ('pool' or 'head')")

    def stages(self, method: str) -> list[tuple[str, int, float]]:
        if method in POLICY_METHODS:
            st = [("warmup", self.warmup_epochs, self.lr_warmup), ("joint", self.joint_epochs, self.lr_joint),
                  ("finetune", self.finetune_epochs, self.lr_finetune)]
        else:  # one supervised stage as long as the whole AR-Net schedule
            total = self.warmup_epochs + self.joint_epochs + self.finetune_epochs
            st = [("supervised", total, self.lr_warmup)]
        return [s for s in st if s[1] > 0]


@dataclass
class RunConfig:
    name: str = "arnet"
    out_dir: str = "runs"
    model: ARNetConfig = field(default_factory=ARNetConfig)
    data: dict = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)

    @staticmethod
    def from_dict(d: dict[str, Any], where: str = "config") -> "RunConfig":
        d = dict(d)
        valid = {"name", "out_dir", "model", "data", "train"}
        unknown = sorted(set(d) - valid)
        if unknown:
            raise ConfigError(f"{where}: unknown top-level key(s) {unknown}; valid keys: {sorted(valid)}")
        model = ARNetConfig.from_dict(d.get("model", {}), f"{where}.model")
        tr = from_dict(TrainConfig, d.get("train", {}), f"{where}.train")
        tr.validate()
        return RunConfig(name=str(d.get("name", "arnet")), out_dir=str(d.get("out_dir", "runs")),
                         model=model, data=dict(d.get("data", {})), train=tr)

    def to_dict(self) -> dict:
        return {"name": self.name, "out_dir": self.out_dir, "model": self.model.to_dict(),
                "data": self.data, "train": asdict(self.train)}

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name


# ---------------------------------------------------------------------------- distributed
@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str | None = None) -> Dist:
    want = device or ("cuda" if torch.cuda.is_available() else "cpu")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if want.startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend)
    rank = dist.get_rank() if dist.is_initialized() else 0
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if want.startswith("cuda"):
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    return Dist(rank=rank, world=world, local_rank=local, device=dev)


def all_reduce_mean(x: float, d: Dist) -> float:
    if d.world == 1:
        return x
    t = torch.tensor([x], dtype=torch.float64, device=d.device if d.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return float(t.item() / d.world)


# ---------------------------------------------------------------------------------- utils
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def rng_state() -> dict:
    st = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def frozen_backbone_params(model: nn.Module, fraction: float) -> set[int]:
    """ids of the first ``fraction`` of each backbone's parameters (definition order)."""
    from train.backbones import Backbone
    ids: set[int] = set()
    if fraction <= 0:
        return ids
    for m in model.modules():
        if isinstance(m, Backbone):
            ps = list(m.parameters())
            ids.update(id(p) for p in ps[:int(len(ps) * fraction)])
    return ids


def freeze_bn_of_frozen(model: nn.Module, frozen: set[int]) -> None:
    """Keep BatchNorm layers whose parameters are all frozen in eval mode (pretrained stats)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            ps = list(m.parameters())
            if ps and all(id(p) in frozen for p in ps):
                m.eval()


def set_trainable(model: nn.Module, stage: str, method: str, frozen: set[int] | None = None) -> None:
    for p in model.parameters():
        p.requires_grad_(id(p) not in (frozen or set()))
    if method not in POLICY_METHODS:
        return
    pol = model.policy
    if stage == "warmup":
        for m in (pol.rnn, pol.action_head):
            for p in m.parameters():
                p.requires_grad_(False)
    elif stage == "finetune":
        for m in (pol.extractor, pol.rnn, pol.action_head):
            for p in m.parameters():
                p.requires_grad_(False)


def to_device(batch: dict, device: torch.device, channels_last: bool) -> tuple[list[torch.Tensor], torch.Tensor]:
    frames = [f.to(device, non_blocking=True).float() for f in batch["frames"]]
    label = batch["label"].to(device, non_blocking=True)
    return frames, label


class Trainer:
    """Runs (or resumes) one training run; ``fit()`` returns the final validation metrics."""

    def __init__(self, cfg: RunConfig, train_loader_fn, val_loader, labels: list[str], sampling: dict,
                 device: str | None = None, resume: bool = False, progress: bool = True,
                 cost_table=None, init_from: str | Path | None = None, prepare_model=None):
        """``init_from``: a checkpoint whose weights start the run (e.g. a shared warm-up; ignored
        when resuming). ``prepare_model(model) -> set of parameter ids``: called once the cost
        table is counted on the real network (e.g. :func:`train.featcache.enable_cached_inputs`);
        the ids it returns stay frozen in every stage."""
        self.cfg = cfg
        self.d = setup_distributed(device)
        self.train_loader_fn = train_loader_fn   # fn(epoch, seed) -> DataLoader
        self.val_loader = val_loader
        self.labels = labels
        self.sampling = sampling
        self.progress = progress and self.d.main
        self.run_dir = cfg.run_dir
        self.resume = resume
        seed_everything(cfg.train.seed)
        self.model = create_model(cfg.model).to(self.d.device)
        if self.d.device.type == "cuda" and cfg.train.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        if cost_table is None and cfg.model.method in POLICY_METHODS + ("random",):
            from train.costs import arnet_cost_table
            cost_table = arnet_cost_table(self.model)
        self.cost_table = cost_table
        self.step_cost = self.cover = None
        if cost_table is not None:
            self.step_cost = torch.tensor([cost_table.policy_step + a for a in cost_table.actions],
                                          device=self.d.device)
            self.cover = action_cover(len(cfg.model.resolutions), cfg.model.skip_lengths).to(self.d.device)
        self.frozen = frozen_backbone_params(self.model, cfg.train.freeze_backbone_fraction)
        if init_from is not None and not resume:
            ck = load_checkpoint(init_from)
            same = ("pretrained", "method")   # a policy variant may start from another's weights
            if {**ck.cfg.to_dict(), **dict.fromkeys(same)} != {**self.cfg.model.to_dict(), **dict.fromkeys(same)}:
                raise ConfigError(f"{init_from}: its model config differs from this run's; a run can "
                                  f"only start from a checkpoint of the same architecture")
            self.model.load_state_dict(ck.model.state_dict())
        if prepare_model is not None:
            self.frozen |= set(prepare_model(self.model))
        self.start_epoch = 0
        self.best = -math.inf
        self.best_stage: str | None = None
        self.state: dict = {}
        if resume:
            self._load_resume()

    # --------------------------------------------------------------------- checkpoints
    def _load_resume(self) -> None:
        last = self.run_dir / "last.pt"
        if not last.is_file():
            raise FileNotFoundError(f"{last}: nothing to resume (no last.pt in {self.run_dir}); "
                                    f"start without --resume")
        ck = load_checkpoint(last)
        self.model.load_state_dict(ck.model.state_dict())
        raw = ck.raw
        if raw.get("run_config", {}).get("model") != self.cfg.model.to_dict() and \
                {**raw.get("run_config", {}).get("model", {}), "pretrained": None} != \
                {**self.cfg.model.to_dict(), "pretrained": None}:
            raise ConfigError(f"{last}: was trained with a different model config; resume with the "
                              f"same --config")
        self.start_epoch = int(raw["epoch"]) + 1
        self.best = float(raw.get("best", -math.inf))
        self.best_stage = raw.get("best_stage")
        self.state = raw

    def _save(self, epoch: int, stage: str, optimizer, scheduler, metrics: dict) -> None:
        if not self.d.main:
            return
        meta = {"epoch": epoch, "stage": stage, "metrics": metrics, "method": self.cfg.model.method,
                "cost_table": self.cost_table.to_manifest() if self.cost_table is not None else None}
        score = metrics.get("val_top1", -math.inf)
        if stage != self.best_stage:   # a later stage supersedes: best.pt is the best of the last one
            self.best, self.best_stage = -math.inf, stage
        improved = stage != "warmup" and score is not None and score >= self.best
        if improved:
            self.best = score
        extra = {"epoch": epoch, "stage": stage, "best": self.best, "best_stage": self.best_stage,
                 "run_config": self.cfg.to_dict(),
                 "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                 "rng": rng_state()}
        save_checkpoint(self.run_dir / "last.pt", self.model, labels=self.labels, sampling=self.sampling,
                        meta=meta, **extra)
        if improved:
            save_checkpoint(self.run_dir / "best.pt", self.model, labels=self.labels,
                            sampling=self.sampling, meta=meta, epoch=epoch, stage=stage, best=self.best,
                            run_config=self.cfg.to_dict())

    # -------------------------------------------------------------------------- loop
    def epoch_plan(self) -> list[tuple[int, str, int, float, int]]:
        """(global epoch, stage, epoch within stage, lr, stage length) for the whole run."""
        plan, g = [], 0
        for stage, n, lr in self.cfg.train.stages(self.cfg.model.method):
            for e in range(n):
                plan.append((g, stage, e, lr, n))
                g += 1
        return plan

    def param_groups(self, lr: float) -> list[dict]:
        """Trainable parameters; the policy's LSTM and action head at ``policy_lr_mult`` x lr."""
        fast: set[int] = set()
        if self.cfg.model.method in POLICY_METHODS:
            fast = {id(p) for m in (self.model.policy.rnn, self.model.policy.action_head)
                    for p in m.parameters()}
        slow_p = [p for p in self.model.parameters() if p.requires_grad and id(p) not in fast]
        fast_p = [p for p in self.model.parameters() if p.requires_grad and id(p) in fast]
        groups = [{"params": slow_p, "lr": lr}]
        if fast_p:
            groups.append({"params": fast_p, "lr": lr * self.cfg.train.policy_lr_mult})
        return groups

    def tau(self, stage: str, epoch_in_policy: int) -> float:
        t = self.cfg.train
        return t.tau0 * math.exp(-t.tau_decay * epoch_in_policy)

    def fit(self) -> dict:
        t = self.cfg.train
        plan = self.epoch_plan()
        if self.d.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        metrics: dict = {}
        optimizer = scheduler = None
        cur_stage = None
        policy_epoch = 0
        for g, stage, e, lr, n in plan:
            if stage in ("joint", "finetune"):
                policy_epoch_g = policy_epoch
                policy_epoch += 1
            else:
                policy_epoch_g = 0
            if stage != cur_stage:
                set_trainable(self.model, stage, self.cfg.model.method, self.frozen)
                optimizer = torch.optim.AdamW(self.param_groups(lr), lr=lr, weight_decay=t.weight_decay)
                scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(n, 1))
                net = self.model
                if self.d.world > 1:
                    net = DDP(self.model, device_ids=[self.d.local_rank] if self.d.device.type == "cuda" else None,
                              find_unused_parameters=True)
                cur_stage = stage
                for _ in range(e):      # resuming inside a stage: catch the schedule up
                    scheduler.step()
                if g == self.start_epoch and self.state.get("stage") == stage and "optimizer" in self.state:
                    optimizer.load_state_dict(self.state["optimizer"])
                    scheduler.load_state_dict(self.state["scheduler"])
            if g < self.start_epoch:
                continue
            tau = self.tau(stage, policy_epoch_g)
            t0 = time.time()
            alpha = t.alpha if (stage != "joint" or e >= t.efficiency_warmup_epochs) else 0.0
            train_stats = self._train_epoch(net, optimizer, stage, g, tau, alpha)
            scheduler.step()
            metrics = {"epoch": g, "stage": stage, "tau": tau, "lr": optimizer.param_groups[0]["lr"],
                       **train_stats, "epoch_s": time.time() - t0}
            # warm-up epochs are not validated: the untrained policy's choices mean nothing yet
            due = (g + 1) % t.eval_every == 0 and stage != "warmup"
            if self.val_loader is not None and (due or g == len(plan) - 1):
                from train.evaluation import evaluate_model
                ev = evaluate_model(self.model, self.val_loader, self.d.device, self.cost_table)
                metrics.update({f"val_{k}": v for k, v in ev.items() if not isinstance(v, (list, dict))})
            self._save(g, stage, optimizer, scheduler, metrics)
            self._log(metrics)
        return metrics

    def _train_epoch(self, net, optimizer, stage: str, epoch: int, tau: float,
                     alpha: float | None = None) -> dict:
        t = self.cfg.train
        alpha = t.alpha if alpha is None else alpha
        self.model.train()
        freeze_bn_of_frozen(self.model, self.frozen)
        seed = t.seed * 1000 + epoch
        torch.manual_seed(seed)
        loader = self.train_loader_fn(epoch, seed)
        cuda = self.d.device.type == "cuda"
        amp = torch.autocast("cuda", dtype=torch.bfloat16) if (cuda and t.amp) else _Null()
        totals = {"loss": 0.0, "acc": 0.0, "flops": 0.0, "uni": 0.0}
        n = clips = 0
        wait = compute = 0.0
        it = iter(loader)
        bar = None
        steps = len(loader) if t.max_steps_per_epoch <= 0 else min(len(loader), t.max_steps_per_epoch)
        if self.progress:
            try:
                from tqdm import tqdm
                bar = tqdm(total=steps, desc=f"epoch {epoch} {stage}", leave=False, dynamic_ncols=True)
            except ImportError:
                bar = None
        multi = self.cfg.model.multi_label
        for i in range(steps):
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                break
            frames, label = to_device(batch, self.d.device, t.channels_last)
            t1 = time.perf_counter()
            given = batch.get("branch_logits") if stage == "joint" else None
            with amp:
                if given is not None:   # held-out branch predictions (train/results.py)
                    out = net(frames, tau=tau, branch_logits=[g.to(self.d.device) for g in given])
                else:
                    out = net(frames, tau=tau)
                if stage == "warmup":
                    loss = branch_loss(out, label, multi)
                    parts = {"acc": float(loss.detach())}
                elif stage in ("joint", "finetune"):
                    loss, parts = arnet_loss(out, label, self.step_cost, self.cost_table.uniform_per_frame,
                                             LossWeights(alpha, t.beta), multi, cover=self.cover)
                else:
                    loss = accuracy_loss(out.video_logits, label, multi)
                    parts = {"acc": float(loss.detach())}
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if cuda:
                torch.cuda.synchronize()
            t2 = time.perf_counter()
            wait += t1 - t0
            compute += t2 - t1
            totals["loss"] += float(loss.detach())
            for k, v in parts.items():
                totals[k] += v
            n += 1
            clips += frames[0].shape[0]
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{totals['loss'] / n:.3f}")
        if bar is not None:
            bar.close()
        stats = {f"train_{k}": all_reduce_mean(v / max(n, 1), self.d) for k, v in totals.items()}
        el = wait + compute
        stats["clips_per_s"] = clips * self.d.world / el if el > 0 else 0.0
        stats["data_wait_share"] = wait / el if el > 0 else 0.0
        return stats

    def _log(self, metrics: dict) -> None:
        if not self.d.main:
            return
        path = self.run_dir / "metrics.csv"
        row = {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in metrics.items()}
        new = not path.exists()
        fields = list(row)
        if not new:
            with open(path, newline="") as f:
                header = next(csv.reader(f), [])
            fields = header + [k for k in row if k not in header]
            if fields != header:  # new columns (validation appears later): rewrite with the union
                with open(path, newline="") as f:
                    rows = list(csv.DictReader(f))
                from edge_runtime.manifest import atomic_write_text
                import io
                buf = io.StringIO()
                w = csv.DictWriter(buf, fieldnames=fields)
                w.writeheader()
                w.writerows(rows)
                atomic_write_text(path, buf.getvalue())
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields)
            if new:
                w.writeheader()
            w.writerow(row)
        if self.progress:
            keys = ["epoch", "stage", "train_loss", "val_top1", "val_mAP", "val_gmacs_per_frame", "clips_per_s"]
            print("  ".join(f"{k}={row[k]}" for k in keys if k in row), flush=True)


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False
