"""The accuracy table that can tell: AR-Net vs Uniform (every resolution) and the paper's baselines,
on SynthAct, trained on CPU, with bootstrap intervals and several seeds.

    python -m train.results --config configs/results_synthact.yaml            # `make results`
    python -m train.results --config configs/results_synthact.yaml --size tiny --json /tmp/r.json

What it runs (every stage resumable: a finished run is not trained again, a killed one resumes
from its last epoch; ``--force`` starts over):

1. ``data``: SynthAct at ``results.size`` (generated once, seeded);
2. ``cache``: the frozen prefix of every branch (``train/featcache.py``) for train (``cache_views``
   TSN samplings per clip), val and test (centre frames);
3. per seed, a shared **warm-up** (every branch on its own clip prediction), then from it
   **Uniform** (the branches trained on alone for as many epochs as AR-Net's joint + fine-tune
   stages: ``uniform`` is the top branch, ``uniform_<res>`` every other one, the policy's own
   head included) and **AR-Net** (joint + fine-tune); from the first seed's warm-up also
   Resolution-only and Skip-only, the LSTM and Multi-Scale baselines trained on their own for the
   whole schedule, the Random policy on AR-Net's weights, and AR-Net at every ``results.alphas``
   (the accuracy-vs-GMACs curve, the paper's Fig. 3);
4. every model evaluated on the test split: top-1 with a 95 % bootstrap interval over the test
   clips, mAP, GMACs per frame from the measured cost table; methods with several seeds: mean
   and sd over seeds, the interval over clips of the seed-averaged correctness, and the paired
   AR-Net − Uniform difference per clip with its interval.

Outputs: ``--json`` (default ``docs/results/synthact_full_cpu.json``), ``<out>/results.md`` and
``<out>/accuracy_vs_gmacs.png``. The checkpoints are ordinary ones: ``<out>/arnet_s0/best.pt``
exports with ``convert/export_all.py``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from train.config import ConfigError, from_dict, load_yaml  # noqa: E402

POLICY_FAMILY = ("arnet", "random", "resolution_only", "skip_only")
BOOTSTRAP = 2000


@dataclass
class ResultsConfig:
    """The ``results:`` section of a results config."""

    size: str = "full"                 # SynthAct size generated into data.root
    data_seed: int = 0
    cache_cut: str = "pool"            # train/featcache.py CUTS
    cache_views: int = 3               # TSN samplings cached per training clip
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])   # AR-Net and Uniform
    alphas: list[float] = field(default_factory=lambda: [0.1, 0.3, 0.7])  # extra AR-Net runs, seed 0
    baselines: list[str] = field(default_factory=lambda: ["resolution_only", "skip_only", "lstm",
                                                          "multiscale"])
    random_seed: int = 0
    policy_folds: int = 2              # the policy learns on held-out branch predictions: K
                                       # warm-ups, each without one fold of the training clips
                                       # (0: on the branches' own training predictions)
    threads: int = 0                   # torch threads (0: torch's default)

    def validate(self) -> None:
        from train.featcache import CUTS
        if self.cache_cut not in CUTS:
            raise ConfigError(f"results.cache_cut={self.cache_cut!r} is not one of {list(CUTS)}")
        if self.cache_views < 1:
            raise ConfigError(f"results.cache_views={self.cache_views}: must be >= 1")
        if not self.seeds:
            raise ConfigError("results.seeds is empty: give at least one seed")
        ok = ("resolution_only", "skip_only", "lstm", "multiscale")
        bad = [b for b in self.baselines if b not in ok]
        if bad:
            raise ConfigError(f"results.baselines: {bad} not among {list(ok)}")
        if self.policy_folds == 1 or self.policy_folds < 0:
            raise ConfigError(f"results.policy_folds={self.policy_folds}: 0 (off) or >= 2")
        if any(not 0 <= a < 1 for a in self.alphas):
            raise ConfigError(f"results.alphas={self.alphas}: every alpha must be in [0, 1)")


# ------------------------------------------------------------------------------------ statistics
def bootstrap_ci(values: np.ndarray, n: int = BOOTSTRAP, seed: int = 0, level: float = 0.95
                 ) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` (one per test clip), resampling clips."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("bootstrap_ci: no values")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n, v.size))].mean(1)
    lo, hi = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def summarise(per_seed: dict[int, dict]) -> dict:
    """One method's row from its per-seed evaluations (each: correct (N,), mAP, gmacs)."""
    seeds = sorted(per_seed)
    C = np.stack([np.asarray(per_seed[s]["correct"], dtype=np.float64) for s in seeds])  # (S, N)
    accs = C.mean(1) * 100
    per_clip = C.mean(0)
    lo, hi = bootstrap_ci(per_clip)
    row = {"top1": float(per_clip.mean() * 100), "top1_ci": [lo * 100, hi * 100],
           "mAP": float(np.mean([per_seed[s]["mAP"] for s in seeds])),
           "gmacs_per_frame": float(np.mean([per_seed[s]["gmacs_per_frame"] for s in seeds])),
           "seeds": seeds, "test_clips": int(C.shape[1]),
           "top1_per_seed": [float(a) for a in accs]}
    if len(seeds) > 1:
        row["top1_sd"] = float(accs.std(ddof=1))
    for k in ("action_hist",):
        if all(k in per_seed[s] for s in seeds):
            row[k] = np.mean([per_seed[s][k] for s in seeds], 0).tolist()
    return row


def paired_difference(a: dict[int, dict], b: dict[int, dict]) -> dict:
    """Per test clip, A's seed-averaged correctness minus B's, over the seeds both have."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        raise ValueError("paired_difference: no common seed")
    ca = np.stack([np.asarray(a[s]["correct"], np.float64) for s in seeds]).mean(0)
    cb = np.stack([np.asarray(b[s]["correct"], np.float64) for s in seeds]).mean(0)
    d = ca - cb
    lo, hi = bootstrap_ci(d, seed=1)
    per_seed = [float((np.mean(a[s]["correct"]) - np.mean(b[s]["correct"])) * 100) for s in seeds]
    return {"mean": float(d.mean() * 100), "ci": [lo * 100, hi * 100], "seeds": seeds,
            "per_seed": per_seed}


# ------------------------------------------------------------------------------------ evaluation
@torch.no_grad()
def evaluate_cached(model, fs, cost_table=None, batch_size: int = 64) -> dict:
    """A model on a cached split (its backbones already read cached inputs): per-clip
    correctness, mAP, GMACs per frame, action usage."""
    from train.metrics import gmacs_per_frame, mean_average_precision
    model.eval()
    scores, acts, decs = [], [], []
    for k in range(0, len(fs), batch_size):
        idx = torch.arange(k, min(k + batch_size, len(fs)))
        out = model(fs.batch(idx)["frames"])
        v = out.video_logits.float()
        scores.append((torch.sigmoid(v) if model.cfg.multi_label else torch.softmax(v, -1)).numpy())
        acts.append(out.action_index.numpy())
        decs.append(out.decision.numpy())
    S, A, D = np.concatenate(scores), np.concatenate(acts), np.concatenate(decs)
    Y = fs.labels.numpy()
    res = {"correct": _correct(S, Y), "mAP": mean_average_precision(S, Y)}
    if model.cfg.method in POLICY_FAMILY:
        step = np.array([cost_table.policy_step + a for a in cost_table.actions])
        res["gmacs_per_frame"] = float(gmacs_per_frame(A, D, step).mean())
        res["action_hist"] = (np.bincount(A.ravel(), minlength=model.cfg.num_actions) / A.size).tolist()
    else:
        res["gmacs_per_frame"] = float(model._arnet_constant_gmacs)
    return res


def _correct(S: np.ndarray, Y: np.ndarray) -> list[int]:
    pred = S.argmax(1)
    if Y.ndim == 2:   # multi-hot: top-1 counts when the top class is one of the labels
        return [int(Y[i, pred[i]] > 0) for i in range(len(pred))]
    return [int(p == y) for p, y in zip(pred, Y)]


@torch.no_grad()
def evaluate_branches(model, fs, cost_table, batch_size: int = 64) -> list[dict]:
    """Uniform at every resolution from one AR-Net model: branch i on every frame (the lowest:
    the policy's Φ + its head), video = mean of the frame logits; cost = that branch alone."""
    from train.metrics import mean_average_precision
    model.eval()
    L = len(model.resolutions)
    Y = fs.labels.numpy()
    pol = cost_table.details["branches"]["policy"]
    costs = list(cost_table.actions[:L - 1]) + [pol["features"] + pol["low_head"]]
    rows = []
    for i in range(L):
        scores = []
        for k in range(0, len(fs), batch_size):
            idx = torch.arange(k, min(k + batch_size, len(fs)))
            x = fs.batch(idx)["frames"][i]
            B, T = x.shape[:2]
            if i < L - 1:
                logits = model.branch(i, x.flatten(0, 1))
            else:
                logits = model.policy.low_head(model.policy.features(x.flatten(0, 1)))
            v = logits.view(B, T, -1).mean(1).float()
            scores.append((torch.sigmoid(v) if model.cfg.multi_label else torch.softmax(v, -1)).numpy())
        S = np.concatenate(scores)
        rows.append({"correct": _correct(S, Y), "mAP": mean_average_precision(S, Y),
                     "gmacs_per_frame": float(costs[i])})
    return rows


# ------------------------------------------------------------------------------------ the driver
class Stages:
    """Prints the time of every stage and of the whole run."""

    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.t0 = time.time()
        self.times: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        t = time.time()
        self.log(f"== [{time.time() - self.t0:6.0f}s] {name}")
        out = fn()
        self.times[name] = time.time() - t
        self.log(f"   {name}: {self.times[name]:.0f}s")
        return out


class ResultsRun:
    def __init__(self, cfg_dict: dict, rc: ResultsConfig, out: Path, force: bool = False,
                 progress: bool = True, log: Callable[[str], None] = print):
        self.cfg_dict = cfg_dict
        self.rc = rc
        self.out = out
        self.force = force
        self.progress = progress
        self.log = log
        self.stages = Stages(log)
        self.evals: dict[str, dict[int, dict]] = {}
        self.heldout: dict[int, Any] = {}

    # ---------------------------------------------------------------- data and cache
    def data(self) -> None:
        from train.synthact import main as synth_main
        root = Path(self.cfg_dict["data"]["root"])
        args = ["--out", str(root), "--size", self.rc.size, "--seed", str(self.rc.data_seed)]
        if not self.progress:
            args.append("--quiet")
        if synth_main(args) != 0:
            raise RuntimeError(f"SynthAct generation into {root} failed")

    def build(self):
        from train.train import build
        d = copy.deepcopy(self.cfg_dict)
        d["out_dir"] = str(self.out)
        d.setdefault("train", {})["workers"] = 0
        return build(d, "results config")

    def cache(self):
        from train.featcache import build_cache
        from train.data.dataset import build_dataset
        from train.train import data_config
        cfg, train_ds, _, _, sampling = self.build()
        self.cfg, self.sampling, self.labels = cfg, sampling, train_ds.labels
        res = cfg.model.resolutions
        fs = {}
        for split, views in (("train", self.rc.cache_views), ("val", 1), ("test", 1)):
            ds = train_ds if split == "train" else build_dataset(
                data_config(self.cfg_dict["data"], split, res, "eval"))
            fs[split] = build_cache(ds, cfg.model, self.out / "feature_cache", cut=self.rc.cache_cut,
                                    views=views, seed=self.rc.data_seed, progress=self.progress,
                                    log=self.log)
        self.fs = fs
        return fs

    # ---------------------------------------------------------------------- training
    def train_run(self, name: str, method: str, seed: int, stages: tuple[int, int, int],
                  init_from: Path | None = None, data=None, data_tag: str = "all",
                  **train_overrides: Any) -> Path:
        """One training run on the cached features; returns its run folder. Its ``done`` file holds
        the run's settings (and those of the run it starts from): a run whose settings changed
        since is trained again, so the table never mixes recipes."""
        from train.featcache import CachedLoader, enable_cached_inputs
        from train.evaluation import constant_frame_gmacs
        from train.trainer import RunConfig, Trainer
        run_dir = self.out / name
        d = self.cfg.to_dict()
        d["name"], d["out_dir"] = name, str(self.out)
        d["model"]["method"] = method
        w, j, f = stages
        d["train"].update(seed=seed, warmup_epochs=w, joint_epochs=j, finetune_epochs=f, workers=0)
        d["train"].update(train_overrides)
        cfg = RunConfig.from_dict(d, f"results run {name}")
        settings = {"run": cfg.to_dict(), "cache": dataclasses.asdict(self.fs["train"].spec),
                    "data": data_tag,
                    "init_from": (init_from.parent / "done").read_text() if init_from else None}
        settings = json.loads(json.dumps(settings))
        done = run_dir / "done"
        if done.is_file():
            if json.loads(done.read_text()) == settings:
                return run_dir
            self.log(f"   {name}: its settings changed since it was trained; training it again")
            shutil.rmtree(run_dir)
        elif (run_dir / "last.pt").is_file() and (run_dir / "settings.json").is_file() and \
                json.loads((run_dir / "settings.json").read_text()) != settings:
            shutil.rmtree(run_dir)   # a killed run of other settings: do not resume it
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "settings.json").write_text(json.dumps(settings))
        bs = cfg.train.batch_size

        train_fs = self.fs["train"] if data is None else data

        def loader_fn(epoch: int, s: int):
            return CachedLoader(train_fs, bs, shuffle=True, seed=s)

        def prepare(model):
            if method not in POLICY_FAMILY:
                model._arnet_constant_gmacs = constant_frame_gmacs(model)
            return enable_cached_inputs(model, self.rc.cache_cut)

        resume = (run_dir / "last.pt").is_file()
        trainer = Trainer(cfg, loader_fn, CachedLoader(self.fs["val"], 64, shuffle=False), self.labels,
                          self.sampling, device="cpu", resume=resume, progress=self.progress,
                          init_from=None if resume else init_from, prepare_model=prepare)
        self.log(f"   {name}: {method}, seed {seed}, epochs {w}+{j}+{f}"
                 + "".join(f", {k} {v}" for k, v in train_overrides.items())
                 + (f", from {init_from.parent.name}" if init_from else "")
                 + (f" (resuming at epoch {trainer.start_epoch})" if resume else ""))
        trainer.fit()
        from edge_runtime.manifest import atomic_write_text
        atomic_write_text(done, json.dumps(settings))
        return run_dir

    def load_cached_model(self, run_dir: Path, which: str = "last.pt"):
        from train.checkpoint import load_checkpoint
        from train.costs import arnet_cost_table
        from train.evaluation import constant_frame_gmacs
        from train.featcache import enable_cached_inputs
        ck = load_checkpoint(run_dir / which)
        model = ck.model
        table = arnet_cost_table(model) if ck.cfg.method in POLICY_FAMILY else None
        if ck.cfg.method not in POLICY_FAMILY:
            model._arnet_constant_gmacs = constant_frame_gmacs(model)
        enable_cached_inputs(model, self.rc.cache_cut)
        return model, table

    def heldout_set(self, seed: int):
        """The training clips with held-out branch predictions (``policy_folds`` warm-ups, each
        without one fold: :func:`train.featcache.heldout_branch_logits`)."""
        from train.featcache import heldout_branch_logits, stratified_folds
        if seed not in self.heldout:
            K, W = self.rc.policy_folds, self.cfg.train.warmup_epochs

            def fit_without(k, sub):
                rd = self.train_run(f"warmup_s{seed}_fold{k}", "arnet", seed, (W, 0, 0), data=sub,
                                    data_tag=f"without fold {k} of {K}")
                return self.load_cached_model(rd)[0]

            fs = self.fs["train"]
            self.heldout[seed] = heldout_branch_logits(fs, stratified_folds(fs.labels, K, seed), fit_without)
        return self.heldout[seed]

    def policy_run(self, name: str, method: str, seed: int, **overrides: Any) -> Path:
        """A policy method (AR-Net and its variants) from the seed's shared warm-up."""
        t = self.cfg.train
        warm = self.out / f"warmup_s{seed}" / "last.pt"
        if self.rc.policy_folds:
            return self.train_run(name, method, seed, (0, t.joint_epochs, t.finetune_epochs), warm,
                                  data=self.heldout_set(seed),
                                  data_tag=f"held-out branch predictions, {self.rc.policy_folds} folds",
                                  **overrides)
        return self.train_run(name, method, seed, (0, t.joint_epochs, t.finetune_epochs), warm, **overrides)

    def evaluate(self, key: str, seed: int, run_dir: Path, random_policy: bool = False) -> dict:
        """Test evaluation of a run, stored beside it (``test_eval.json``) and reused."""
        from train.evaluate import set_random_policy
        from edge_runtime.manifest import atomic_write_text
        path = run_dir / ("test_eval_random.json" if random_policy else "test_eval.json")
        if path.is_file() and not self.force:
            ev = json.loads(path.read_text())
        else:
            model, table = self.load_cached_model(run_dir)
            if random_policy:
                set_random_policy(model, self.rc.random_seed)
            if key == "uniform":
                rows = evaluate_branches(model, self.fs["test"], table)
                ev = {"branches": rows}
            else:
                ev = evaluate_cached(model, self.fs["test"], table)
            atomic_write_text(path, json.dumps(ev))
        if key == "uniform":
            res = self.cfg.model.resolutions
            for i, row in enumerate(ev["branches"]):
                k = "uniform" if i == 0 else f"uniform_{res[i]}"
                self.evals.setdefault(k, {})[seed] = row
        else:
            self.evals.setdefault(key, {})[seed] = ev
        return ev

    def schedule(self) -> list[tuple[str, Callable[[], Any]]]:
        """Every training + evaluation job, in the order that gives one seed of every method first."""
        t = self.cfg.train
        W, J, Fn = t.warmup_epochs, t.joint_epochs, t.finetune_epochs
        jobs: list[tuple[str, Callable[[], Any]]] = []

        def warm(s):
            return self.out / f"warmup_s{s}" / "last.pt"

        def seed_jobs(s: int):
            jobs.append((f"warm-up, seed {s}", lambda: self.train_run(f"warmup_s{s}", "arnet", s, (W, 0, 0))))
            jobs.append((f"uniform (every resolution), seed {s}", lambda: self.evaluate(
                "uniform", s, self.train_run(f"uniform_s{s}", "arnet", s, (J + Fn, 0, 0), warm(s)))))
            jobs.append((f"AR-Net, seed {s}", lambda: self.evaluate(
                "arnet", s, self.policy_run(f"arnet_s{s}", "arnet", s))))

        s0 = self.rc.seeds[0]
        seed_jobs(s0)
        jobs.append(("random policy (AR-Net weights)", lambda: self.evaluate(
            "random", s0, self.out / f"arnet_s{s0}", random_policy=True)))
        for b in self.rc.baselines:
            if b in POLICY_FAMILY:
                jobs.append((b, lambda b=b: self.evaluate(b, s0, self.policy_run(f"{b}_s{s0}", b, s0))))
            else:
                jobs.append((b, lambda b=b: self.evaluate(b, s0, self.train_run(
                    f"{b}_s{s0}", b, s0, (W, J, Fn)))))
        for s in self.rc.seeds[1:]:
            seed_jobs(s)
        for a in self.rc.alphas:
            if a == t.alpha:
                continue
            key = f"arnet_alpha{a:g}"
            jobs.append((f"AR-Net alpha {a:g}, seed {s0}", lambda a=a, key=key: self.evaluate(
                key, s0, self.policy_run(f"{key}_s{s0}", "arnet", s0, alpha=a))))
        return jobs

    # ------------------------------------------------------------------------ output
    def table(self) -> dict:
        methods = {k: summarise(v) for k, v in self.evals.items()}
        res = self.cfg.model.resolutions
        out = {"dataset": f"SynthAct {self.rc.size} (seed {self.rc.data_seed})",
               "hardware": _hardware(), "config": self.cfg.to_dict(),
               "results": dataclasses.asdict(self.rc), "stage_seconds": self.stages.times,
               "methods": methods, "unit": "GMACs = multiply-accumulates (the paper's GFLOPs)"}
        if "arnet" in methods and "uniform" in methods:
            out["arnet_minus_uniform"] = paired_difference(self.evals["arnet"], self.evals["uniform"])
            a, u = methods["arnet"], methods["uniform"]
            out["gmacs_ratio_arnet_over_uniform"] = a["gmacs_per_frame"] / u["gmacs_per_frame"]
            unis = sorted((m["gmacs_per_frame"], k) for k, m in methods.items()
                          if k == "uniform" or k.startswith("uniform_"))
            as_good = [k for g, k in unis if methods[k]["top1"] >= a["top1"]]
            out["cheapest_uniform_as_accurate"] = as_good[0] if as_good else None
            out["above_uniform_curve"] = all(
                methods[k]["top1"] < a["top1"] or methods[k]["gmacs_per_frame"] > a["gmacs_per_frame"]
                for _, k in unis)
            out["resolutions"] = res
        return out


def _hardware() -> str:
    from train.suite import hardware_string
    return hardware_string("cpu") + f" ({torch.get_num_threads()} torch threads)"


LABELS = {"arnet": "AR-Net", "uniform": "Uniform", "lstm": "LSTM", "multiscale": "Multi-Scale",
          "random": "Random policy", "resolution_only": "Resolution-only", "skip_only": "Skip-only"}


def method_label(k: str, res: Sequence[int]) -> str:
    if k == "uniform":
        return f"Uniform {res[0]}"
    if k.startswith("uniform_"):
        return f"Uniform {k.split('_', 1)[1]}"
    if k.startswith("arnet_alpha"):
        return f"AR-Net α={k[len('arnet_alpha'):]}"
    return LABELS.get(k, k)


def format_markdown(table: dict) -> str:
    m = table["methods"]
    res = table.get("resolutions", table["config"]["model"]["resolutions"])
    u = m.get("uniform", {}).get("gmacs_per_frame")
    lines = [f"Test clips: {next(iter(m.values()))['test_clips']}; {table['dataset']}; {table['hardware']}.",
             "", "| method | top-1 % | 95 % CI | seeds (sd) | mAP % | GMACs / frame | vs Uniform |",
             "|---|---:|---:|---|---:|---:|---:|"]
    order = sorted(m, key=lambda k: (not k.startswith("arnet"), -m[k]["gmacs_per_frame"]))
    for k in order:
        r = m[k]
        sd = f" ({r['top1_sd']:.1f})" if "top1_sd" in r else ""
        ratio = f"{r['gmacs_per_frame'] / u:.2f}×" if u else "–"
        lines.append(f"| {method_label(k, res)} | {r['top1']:.1f} | {r['top1_ci'][0]:.1f}–{r['top1_ci'][1]:.1f} "
                     f"| {len(r['seeds'])}{sd} | {r['mAP']:.1f} | {r['gmacs_per_frame']:.4f} | {ratio} |")
    if "arnet_minus_uniform" in table:
        d = table["arnet_minus_uniform"]
        lines += ["", f"AR-Net − Uniform (paired over test clips, seeds {d['seeds']}): "
                      f"{d['mean']:+.1f} points (95 % CI {d['ci'][0]:+.1f} to {d['ci'][1]:+.1f}); per seed "
                      + ", ".join(f"{x:+.1f}" for x in d["per_seed"]) + ".",
                  f"GMACs ratio AR-Net / Uniform: {table['gmacs_ratio_arnet_over_uniform']:.3f}. "
                  f"Cheapest Uniform as accurate as AR-Net: "
                  f"{method_label(table['cheapest_uniform_as_accurate'], res) if table['cheapest_uniform_as_accurate'] else 'none'}. "
                  f"AR-Net above the whole Uniform curve: {'yes' if table['above_uniform_curve'] else 'no'}."]
    return "\n".join(lines) + "\n"


def plot(table: dict, path: Path) -> Path:
    """Fig. 3: top-1 vs GMACs per frame, AR-Net (several α) against Uniform at each resolution."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    m = table["methods"]
    res = table.get("resolutions", [])
    fig, ax = plt.subplots(figsize=(7, 4.6), dpi=110)
    uni = sorted((r["gmacs_per_frame"], r["top1"], k) for k, r in m.items() if k.startswith("uniform"))
    if uni:
        ax.plot([p[0] for p in uni], [p[1] for p in uni], "o-", color="tab:blue", label="Uniform")
        for x, y, k in uni:
            ax.annotate(method_label(k, res), (x, y), textcoords="offset points", xytext=(5, -12), fontsize=8)
    ar = sorted((r["gmacs_per_frame"], r["top1"], k) for k, r in m.items() if k.startswith("arnet"))
    if ar:
        ax.plot([p[0] for p in ar], [p[1] for p in ar], "*-", color="tab:red", ms=12, label="AR-Net (α sweep)")
        for x, y, k in ar:
            ax.annotate(method_label(k, res), (x, y), textcoords="offset points", xytext=(5, 6), fontsize=8)
    others = [k for k in m if not k.startswith(("uniform", "arnet"))]
    for i, k in enumerate(others):
        r = m[k]
        ax.scatter([r["gmacs_per_frame"]], [r["top1"]], marker="sDX^v"[i % 5], s=60, label=method_label(k, res),
                   zorder=3)
    for k, r in m.items():
        ax.plot([r["gmacs_per_frame"]] * 2, r["top1_ci"], "-", color="grey", lw=0.8, alpha=0.6)
    ax.set_xlabel("GMACs per frame (multiply-accumulates)")
    ax.set_ylabel("Top-1 accuracy (%), 95 % CI")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(table["dataset"])
    fig.tight_layout()
    from train.plots import save_figure
    return save_figure(fig, path)


def tiny_overrides(d: dict) -> dict:
    """The whole chain at the smallest size (tests): tiny SynthAct, small resolutions, 1 epoch."""
    d = copy.deepcopy(d)
    root = d["data"]["root"]
    d["model"]["resolutions"] = [96, 80, 64, 48][:len(d["model"]["resolutions"])]
    d["train"].update(warmup_epochs=1, joint_epochs=1, finetune_epochs=1, batch_size=2)
    d.setdefault("results", {}).update(size="tiny", cache_views=2, seeds=[0, 1], alphas=[0.3])
    d["data"]["root"] = root
    return d


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="AR-Net vs Uniform and the baselines, with intervals and seeds")
    ap.add_argument("--config", default="configs/results_synthact.yaml")
    ap.add_argument("--size", default=None, choices=["tiny", "small", "full"],
                    help="SynthAct size (tiny: the whole chain in about a minute, for tests)")
    ap.add_argument("--data-root", default=None, help="where SynthAct is generated / read")
    ap.add_argument("--out", default=None, help="run folder (default: <out_dir>/<name>)")
    ap.add_argument("--json", default=None, help="results JSON (default docs/results/synthact_<size>_cpu.json)")
    ap.add_argument("--seeds", default=None, help="comma-separated seeds for AR-Net and Uniform")
    ap.add_argument("--only-first-seed", action="store_true", help="one seed of every method, then stop")
    ap.add_argument("--force", action="store_true", help="evaluate again (training runs stay)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    try:
        d = load_yaml(args.config)
        if args.size == "tiny":
            d = tiny_overrides(d)
        elif args.size:
            d.setdefault("results", {})["size"] = args.size
        size = d.get("results", {}).get("size", "full")
        root = (args.data_root or (f"data/synthact_{size}" if args.size else d["data"]["root"])).rstrip("/")
        old = d["data"]["root"].rstrip("/")
        d["data"] = json.loads(json.dumps(d["data"]).replace(old, root))
        if args.size and args.size != "full" and not args.out:
            d["name"] = f"synthact_{args.size}"
        rc = from_dict(ResultsConfig, d.pop("results", {}), f"{args.config}: results")
        if args.seeds:
            rc.seeds = [int(s) for s in args.seeds.split(",")]
        rc.validate()
        if rc.threads:
            torch.set_num_threads(rc.threads)
        out = Path(args.out) if args.out else Path(d.get("out_dir", "runs")) / d.get("name", "results")
        json_path = Path(args.json or f"docs/results/synthact_{rc.size}_cpu.json")
        run = ResultsRun(d, rc, out, force=args.force, progress=not args.no_progress)
        st = run.stages
        st.run(f"SynthAct {rc.size} -> {d['data']['root']}", run.data)
        st.run("feature cache (frozen prefixes, train/val/test)", run.cache)
        jobs = run.schedule()
        if args.only_first_seed:
            jobs = [j for j in jobs if "seed" not in j[0] or f"seed {rc.seeds[0]}" in j[0]]
        for i, (name, fn) in enumerate(jobs):
            st.run(f"[{i + 1}/{len(jobs)}] {name}", fn)
        table = run.table()
        from edge_runtime.manifest import atomic_write_text
        json_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(json_path, json.dumps(table, indent=1) + "\n")
        md = format_markdown(table)
        atomic_write_text(out / "results.md", md)
        plot(table, out / "accuracy_vs_gmacs.png")
        print(md)
        print(f"results: {json_path}, {out / 'results.md'}, {out / 'accuracy_vs_gmacs.png'}; "
              f"total {time.time() - st.t0:.0f}s")
        return 0
    except (ConfigError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
