"""Evaluate checkpoints side by side (paper Table 1 / Fig. 3 / Fig. 4).

``python train/evaluate.py --checkpoint runs/x_arnet/best.pt --checkpoint runs/x_uniform/best.pt
--random-policy --out runs/x_eval``

For every checkpoint the evaluation data is rebuilt from the run config stored in it
(``run_config.data``: the shared keys plus the ``test`` split's overrides when there is one, else
``val``; ``--split`` picks one, ``--list`` points at another list file or video folder, ``--data PATH
[--format ucf101] [--data-split N]`` at a dataset read as distributed, see train/data/layouts). Each model
is evaluated with :func:`train.evaluation.evaluate_model`; ``--random-policy`` adds the paper's
"Random policy" baseline: the AR-Net checkpoint's weights with actions drawn uniformly at random
from a seeded generator (``--seed``). Written to ``--out`` (atomically):

* ``results.json`` -- ``{"unit", "split", "methods": {key: {top1, mAP, gmacs_per_frame,
  gmacs_per_video, gmacs_ratio_vs_uniform, uniform_gmacs_per_frame, action_hist {"224": share,
  ..., "skip2": share}, num_clips, frames_per_clip, method, label, checkpoint, run, split,
  list}}}``;
* ``results.md`` -- the same as a markdown table (paper Table 1 style);
* ``accuracy_vs_gmacs.png`` (paper Fig. 3) and ``policy_strip.png`` (paper Fig. 4, ``--strip N``
  clips of the first policy model).

Costs are GMACs = multiply-accumulates (the paper's "GFLOPs"; ResNet-50 at 224 = 4.11), counted
on the real networks at their real resolutions by ``torch.utils.flop_counter`` (train/costs.py).
Exit status: 0 ok, 2 for a bad checkpoint / data / argument (the message names it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from train.config import ConfigError  # noqa: E402

UNIT = "GMACs (multiply-accumulates; the paper's \"GFLOPs\": ResNet-50@224 = 4.11)"
SPLIT_KEYS = ("train", "val", "test")
POLICY_FAMILY = ("arnet", "random", "resolution_only", "skip_only")
METHOD_LABELS = {
    "uniform": "Uniform", "lstm": "LSTM", "random_policy": "Random policy", "random": "Random (trained)",
    "multiscale": "Multi-Scale", "resolution_only": "Resolution-only", "skip_only": "Skip-only",
    "arnet": "AR-Net",
}
# display order of the table (paper Table 1: baselines first, AR-Net last)
METHOD_ORDER = ("uniform", "lstm", "random_policy", "random", "multiscale", "resolution_only",
                "skip_only", "arnet")


class EvalError(ValueError):
    """A checkpoint, data set or argument cannot be evaluated; the message says which and why."""


# ---------------------------------------------------------------------------------- data
def action_labels(resolutions: Sequence[int], skip_lengths: Sequence[int]) -> list[str]:
    """``["224", "168", ..., "skip1", "skip2", ...]`` -- one name per action index."""
    return [str(int(s)) for s in resolutions] + [f"skip{int(f)}" for f in skip_lengths]


def eval_data_config(run_config: dict, split: str | None = None, list_path: str | None = None,
                     root: str | None = None, resize: str | None = None, data_path: str | None = None,
                     data_format: str | None = None, data_split: int | None = None):
    """The eval ``DataConfig`` of a stored run config: shared data keys + the split's overrides.

    ``split`` None: ``test`` when the config has one, else ``val``. ``list_path``: a list file
    (paths relative to ``root`` / the split's root) or a ``<class>/*.mp4`` folder. ``data_path``
    (``--data``): the dataset replaced by the one there (layout ``data_format`` or detected,
    official split ``data_split``), sampling kept."""
    from train.data.dataset import DataConfig
    from train.train import apply_data_args
    data = dict(run_config.get("data") or {})
    if data_path is not None or data_format is not None or data_split is not None:
        data = apply_data_args({"data": data}, data_path, data_format, data_split)["data"]
    model = run_config.get("model") or {}
    if split is None:
        split = "test" if data.get("test") else "val"
    if split not in data and list_path is None and root is None:
        have = [k for k in ("train", "val", "test") if k in data]
        raise EvalError(f"the checkpoint's run config has no data.{split} split (it has {have}); "
                        f"pass --split or --list")
    d = {k: v for k, v in data.items() if k not in SPLIT_KEYS}
    d.update(data.get(split) or {})
    if list_path is not None:
        lp = Path(list_path)
        if lp.is_dir():
            d.update(root=str(lp), list_file=None, format="video_folder")
        elif lp.is_file():
            d["list_file"] = str(lp)
            if d.get("format") == "video_folder":
                d["format"] = "auto"
        else:
            raise EvalError(f"--list {lp}: no such list file or folder")
    if root is not None:
        d["root"] = str(root)
    d["resolutions"] = list(model.get("resolutions", d.get("resolutions", [224, 168, 112, 84])))
    d["mode"] = "eval"
    if resize is not None:
        d["resize"] = resize
    return DataConfig.from_dict(d, where=f"data.{split}"), split


# ---------------------------------------------------------------------------------- models
@dataclasses.dataclass
class Entry:
    """One row of the comparison: a model ready to evaluate and where it came from."""
    key: str
    method: str
    label: str
    model: torch.nn.Module
    checkpoint: str
    run_config: dict
    labels: list[str]
    resize: str = "area"   # the preprocessing it was trained with (checkpoint sampling.resize)


def uniform_from_branch(model: torch.nn.Module) -> torch.nn.Module:
    """The Uniform baseline made of an AR-Net model's own top branch (backbone 0 + its head on
    every frame): what the same weights score when nothing adapts."""
    from train.models.baselines import UniformModel
    cfg = dataclasses.replace(model.cfg, method="uniform", pretrained=False)
    uni = UniformModel(cfg)
    uni.backbone.load_state_dict(model.backbones[0].state_dict())
    uni.head.load_state_dict(model.heads[0].state_dict())
    return uni.eval()


def set_random_policy(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Turn an AR-Net model into the paper's random-policy baseline (same weights) in place."""
    model.cfg = dataclasses.replace(model.cfg, method="random")
    model.random_generator = torch.Generator().manual_seed(int(seed))
    return model


def load_entry(path: str | os.PathLike, key: str | None = None):
    from train.checkpoint import load_checkpoint
    ck = load_checkpoint(path)
    rc = ck.raw.get("run_config")
    if not isinstance(rc, dict) or "data" not in rc:
        raise EvalError(f"{path}: the checkpoint has no stored run_config.data (was it written by "
                        f"train/train.py?); cannot rebuild its evaluation data")
    method = ck.cfg.method
    return Entry(key=key or method, method=method, label=METHOD_LABELS.get(method, method), model=ck.model,
                 checkpoint=str(path), run_config=rc, labels=list(ck.labels),
                 resize=str((ck.sampling or {}).get("resize", "area"))), ck


def cost_table_for(model: torch.nn.Module):
    """The measured AR-Net cost table of a model's config (the action costs and the Uniform
    per-frame cost; for policy models counted on the model itself)."""
    from train.costs import arnet_cost_table, cost_table_from_config
    if model.cfg.method in POLICY_FAMILY:
        return arnet_cost_table(model)
    return cost_table_from_config(model.cfg)


# -------------------------------------------------------------------------------- evaluate
def _unique_key(key: str, taken: dict) -> str:
    if key not in taken:
        return key
    i = 2
    while f"{key}_{i}" in taken:
        i += 1
    return f"{key}_{i}"


def _finite(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def evaluate_checkpoints(checkpoints: Sequence[str | os.PathLike], *, split: str | None = None,
                         list_path: str | None = None, root: str | None = None,
                         random_policy: bool = False, uniform_branch: bool = False, seed: int = 0,
                         device: str | None = None,
                         batch_size: int = 8, workers: int = 0, max_batches: int = 0,
                         log=print, data: str | None = None, data_format: str | None = None,
                         data_split: int | None = None) -> tuple[dict, dict]:
    """Evaluate every checkpoint (and the random policy). Returns (results dict as written to
    ``results.json``, {key: (Entry, dataset)} for plotting)."""
    from train.data.dataset import build_dataset, build_loader
    from train.evaluation import evaluate_model
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    entries: list[Entry] = []
    keys: dict[str, Entry] = {}
    for p in checkpoints:
        e, _ = load_entry(p)
        e.key = _unique_key(e.key, keys)
        entries.append(e)
        keys[e.key] = e
        if random_policy and e.method == "arnet" and "random_policy" not in keys:
            r, _ = load_entry(p, key="random_policy")
            set_random_policy(r.model, seed)
            r.method, r.label = "random", METHOD_LABELS["random_policy"]
            entries.append(r)
            keys[r.key] = r
        elif e.method == "random":   # a trained random-policy model: seed it too (reproducible)
            set_random_policy(e.model, seed)
        if uniform_branch and e.method == "arnet" and "uniform_branch" not in keys:
            u, _ = load_entry(p, key="uniform_branch")
            u.model = uniform_from_branch(u.model)
            u.method = "uniform"
            u.label = f"Uniform {u.model.cfg.resolutions[0]} (same weights)"
            entries.append(u)
            keys[u.key] = u
    if uniform_branch and "uniform_branch" not in keys:
        raise EvalError("--uniform-branch needs an AR-Net checkpoint (model.method 'arnet') among "
                        "--checkpoint; none was given")
    if random_policy and "random_policy" not in keys:
        raise EvalError("--random-policy needs an AR-Net checkpoint (model.method 'arnet') among "
                        "--checkpoint; none was given")

    datasets: dict[str, Any] = {}
    methods: dict[str, dict] = {}
    used_split = None
    for e in entries:
        dcfg, used_split = eval_data_config(e.run_config, split, list_path, root, e.resize, data,
                                            data_format, data_split)
        dkey = json.dumps(dcfg.to_dict(), sort_keys=True)
        if dkey not in datasets:
            try:
                datasets[dkey] = build_dataset(dcfg)
            except (OSError, ValueError) as err:
                raise EvalError(f"{e.checkpoint}: cannot build the {used_split} data "
                                f"({dcfg.list_file or dcfg.root}): {err}") from None
        ds = datasets[dkey]
        if ds.num_classes != e.model.cfg.num_classes:
            raise EvalError(f"{e.checkpoint}: the model has {e.model.cfg.num_classes} classes but the "
                            f"{used_split} data ({dcfg.list_file or dcfg.root}) has {ds.num_classes}")
        if e.labels and list(ds.labels) != list(e.labels):
            log(f"warning: {e.checkpoint}: class names of the {used_split} data differ from the "
                f"checkpoint's labels (evaluating by class index)")
        model = e.model.to(dev).eval()
        table = cost_table_for(model)
        loader = build_loader(ds, batch_size, shuffle=False, num_workers=workers, drop_last=False)
        t0 = time.time()
        r = evaluate_model(model, loader, dev, table if e.method in POLICY_FAMILY else None,
                           max_batches=max_batches)
        names = action_labels(model.cfg.resolutions, model.cfg.skip_lengths)
        u = float(table.uniform_per_frame)
        methods[e.key] = {
            "label": e.label, "method": e.method,
            "top1": _finite(r["top1"]), "mAP": _finite(r["mAP"]),
            "gmacs_per_frame": float(r["gmacs_per_frame"]), "gmacs_per_video": float(r["gmacs_per_video"]),
            "gmacs_ratio_vs_uniform": float(r["gmacs_per_frame"]) / u if u > 0 else None,
            "uniform_gmacs_per_frame": u,
            "action_hist": {n: float(v) for n, v in zip(names, r["action_hist"])},
            "num_clips": int(r["num_clips"]), "frames_per_clip": int(r["frames_per_clip"]),
            "checkpoint": e.checkpoint, "run": e.run_config.get("name"), "split": used_split,
            "data": dcfg.list_file or dcfg.root, "seconds": round(time.time() - t0, 3),
        }
        if e.key == "random_policy" or e.method == "random":
            methods[e.key]["seed"] = int(seed)
        log(f"{e.label:<18} top1 {r['top1']:6.2f}  mAP {r['mAP']:6.2f}  "
            f"{r['gmacs_per_frame']:.4g} GMACs/frame  ({r['num_clips']} clips, {e.checkpoint})")
        e.model = model
        e._dataset = ds  # type: ignore[attr-defined]
    results = {"unit": UNIT, "measured_with": "torch.utils.flop_counter", "split": used_split,
               "device": str(dev), "methods": methods}
    return results, {e.key: e for e in entries}


# --------------------------------------------------------------------------------- output
def _fmt(x: float | None, nd: int = 2) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def _gm(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if x >= 0.1 else f"{x:.4g}"


def ordered_keys(methods: dict) -> list[str]:
    rank = {m: i for i, m in enumerate(METHOD_ORDER)}
    return sorted(methods, key=lambda k: (rank.get(k.rsplit("_", 1)[0] if k not in rank else k,
                                                   len(rank)), list(methods).index(k)))


def format_table(results: dict) -> str:
    """Plain-text table for the terminal."""
    m = results["methods"]
    head = f"{'Method':<20} {'Top-1 %':>8} {'mAP %':>8} {'GMACs/frame':>12} {'GMACs/video':>12} {'vs Uniform':>10} {'clips':>6}"
    lines = [head, "-" * len(head)]
    for k in ordered_keys(m):
        r = m[k]
        ratio = "-" if r["gmacs_ratio_vs_uniform"] is None else f"{r['gmacs_ratio_vs_uniform']:.2f}x"
        lines.append(f"{r['label']:<20} {_fmt(r['top1']):>8} {_fmt(r['mAP']):>8} {_gm(r['gmacs_per_frame']):>12} "
                     f"{_gm(r['gmacs_per_video']):>12} {ratio:>10} {r['num_clips']:>6}")
    lines.append(f"unit: {UNIT}")
    return "\n".join(lines)


def format_markdown(results: dict, title: str = "Evaluation") -> str:
    """Markdown table in the style of the paper's Table 1 (+ action usage per method)."""
    m = results["methods"]
    lines = [f"# {title}", "",
             f"Split: `{results.get('split')}`. Costs are **GMACs = multiply-accumulates** (the paper "
             f"reports them as \"GFLOPs\"; ResNet-50 at 224 = 4.11), counted on the real networks at "
             f"their real resolutions with `torch.utils.flop_counter`. \"vs Uniform\" = GMACs per frame "
             f"relative to the Uniform baseline (biggest backbone on every frame).", "",
             "| Method | Top-1 (%) | mAP (%) | GMACs / frame | GMACs / video | vs Uniform | Clips |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for k in ordered_keys(m):
        r = m[k]
        ratio = "-" if r["gmacs_ratio_vs_uniform"] is None else f"{r['gmacs_ratio_vs_uniform']:.2f}x"
        lines.append(f"| {r['label']} | {_fmt(r['top1'])} | {_fmt(r['mAP'])} | {_gm(r['gmacs_per_frame'])} | "
                     f"{_gm(r['gmacs_per_video'])} | {ratio} | {r['num_clips']} |")
    pol = [k for k in ordered_keys(m) if m[k]["method"] in POLICY_FAMILY]
    if pol:
        names = list(m[pol[0]]["action_hist"])
        lines += ["", "Action usage (share of frames; skipped frames counted under the skip that covers them):",
                  "", "| Method | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        for k in pol:
            h = m[k]["action_hist"]
            lines.append(f"| {m[k]['label']} | " + " | ".join(f"{100 * h.get(n, 0.0):.1f}%" for n in names) + " |")
    lines += ["", "Checkpoints:", ""]
    for k in ordered_keys(m):
        extra = f" (seed {m[k]['seed']})" if "seed" in m[k] else ""
        lines.append(f"- {m[k]['label']}: `{m[k]['checkpoint']}`{extra}")
    return "\n".join(lines) + "\n"


def write_outputs(results: dict, entries: dict, out: str | os.PathLike, strip: int = 6,
                  title: str = "Evaluation", log=print) -> dict[str, Path]:
    """results.json, results.md, accuracy_vs_gmacs.png, policy_strip.png (atomically)."""
    from edge_runtime.manifest import atomic_write_text
    from train import plots
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": out / "results.json", "md": out / "results.md"}
    atomic_write_text(files["json"], json.dumps(results, indent=2) + "\n")
    atomic_write_text(files["md"], format_markdown(results, title))
    files["plot"] = plots.accuracy_vs_gmacs(results, out / "accuracy_vs_gmacs.png")
    if strip > 0:
        pol = [k for k in ordered_keys(results["methods"])
               if entries[k].method in ("arnet", "resolution_only", "skip_only")]
        pol = [k for k in pol if entries[k].method == "arnet"] + [k for k in pol if entries[k].method != "arnet"]
        if pol:
            e = entries[pol[0]]
            files["strip"] = plots.policy_strip(e.model, e._dataset, out / "policy_strip.png", n=strip,
                                                title=f"{e.label}: {e.checkpoint}")
        else:
            log("note: no policy checkpoint (arnet / resolution_only / skip_only): no policy_strip.png")
    return files


# ----------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python train/evaluate.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", action="append", required=True, metavar="PT",
                    help="a checkpoint (best.pt / last.pt); repeat to compare methods")
    ap.add_argument("--split", choices=("test", "val", "train"), default=None,
                    help="data split of the stored run config (default: test if present, else val)")
    ap.add_argument("--list", default=None, metavar="PATH",
                    help="evaluate on this list file or <class>/*.mp4 folder instead")
    ap.add_argument("--root", default=None, help="root the --list paths are relative to")
    from train.train import add_data_args
    add_data_args(ap)
    ap.add_argument("--out", default=None, help="output folder (default: beside the first checkpoint, eval/)")
    ap.add_argument("--random-policy", action="store_true",
                    help="add the Random-policy baseline (AR-Net checkpoint weights, seeded random actions)")
    ap.add_argument("--uniform-branch", action="store_true",
                    help="add Uniform made of the AR-Net checkpoint's own top branch (every frame at "
                         "the top resolution, same weights)")
    ap.add_argument("--seed", type=int, default=0, help="random-policy seed (default 0)")
    ap.add_argument("--strip", type=int, default=6, metavar="N", help="clips in policy_strip.png (0: none)")
    ap.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers (default 0)")
    ap.add_argument("--max-batches", type=int, default=0, help="evaluate only this many batches (0: all)")
    ap.add_argument("--title", default="Evaluation", help="heading of results.md")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.batch_size < 1:
            raise EvalError(f"--batch-size {args.batch_size}: must be >= 1")
        if args.strip < 0:
            raise EvalError(f"--strip {args.strip}: must be >= 0")
        for p in args.checkpoint:
            if not Path(p).is_file():
                raise EvalError(f"--checkpoint {p}: checkpoint not found")
        results, entries = evaluate_checkpoints(
            args.checkpoint, split=args.split, list_path=args.list, root=args.root,
            random_policy=args.random_policy, uniform_branch=args.uniform_branch, seed=args.seed,
            device=args.device, batch_size=args.batch_size, workers=args.workers,
            max_batches=args.max_batches, data=args.data, data_format=args.format, data_split=args.data_split)
        out = Path(args.out) if args.out else Path(args.checkpoint[0]).resolve().parent / "eval"
        files = write_outputs(results, entries, out, strip=args.strip, title=args.title)
        print()
        print(format_table(results))
        print("wrote " + ", ".join(str(p) for p in files.values()))
        return 0
    except (EvalError, ConfigError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
