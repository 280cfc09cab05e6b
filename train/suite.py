"""Train AR-Net and its baselines one after another, then compare them (paper Table 1).

``python train/suite.py --config configs/X.yaml [--methods arnet,uniform,...] [--epochs w,j,f]
[--device cuda] [--force] [--results-json docs/results/<dataset>.json] [--data PATH [--format F]]``

For each method ``m`` this runs the training code (``train.train.main``) as
``--method m --name <name>_m``, so its checkpoints land in ``<out_dir>/<name>_m/``; a method
whose ``best.pt`` already exists is not trained again unless ``--force``. Then every checkpoint
is evaluated (``train/evaluate.py``; the "Random policy" baseline is derived from the AR-Net
checkpoint with a seeded generator) and ``results.json``, ``results.md``,
``accuracy_vs_gmacs.png``, ``policy_strip.png`` are written to ``<out_dir>/<name>_suite/``,
together with ``docs_results.json`` (also written to ``--results-json PATH``), the shape of
``docs/results/<dataset>.json``::

    {"dataset": "...", "hardware": "...", "commands": ["python train/train.py ...", ...],
     "methods": {"arnet": {"top1": .., "mAP": .., "gmacs_per_frame": .., "gmacs_per_video": ..}, ...}}

(top1 / mAP in %, costs in GMACs = multiply-accumulates.) Exit status 0 ok, 2 for a bad
config / argument, 1 when a training run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from train.config import METHODS, ConfigError, load_yaml  # noqa: E402

DEFAULT_METHODS = ("arnet", "uniform", "lstm", "multiscale", "resolution_only", "skip_only")


def parse_methods(s: str | None) -> list[str]:
    if not s:
        return list(DEFAULT_METHODS)
    ms = [m.strip() for m in s.split(",") if m.strip()]
    bad = [m for m in ms if m not in METHODS]
    if bad:
        raise ConfigError(f"--methods: {bad} not among {list(METHODS)} (the Random-policy baseline is "
                          f"derived from the arnet checkpoint automatically)")
    if not ms:
        raise ConfigError("--methods: empty")
    return list(dict.fromkeys(ms))


def hardware_string(device: str | None) -> str:
    """A one-line description of where training and evaluation ran."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    n = os.cpu_count() or 0
    parts = [f"{cpu} ({n} logical CPUs)"]
    want = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if want.startswith("cuda") and torch.cuda.is_available():
        parts.insert(0, f"{torch.cuda.device_count()}x {torch.cuda.get_device_name(0)}")
    parts.append(f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
                 f"torch {torch.__version__}")
    return "; ".join(parts)


def _cmd(args: Sequence[str]) -> str:
    return " ".join(shlex.quote(str(a)) for a in args)


def docs_results(results: dict, dataset: str, hardware: str, commands: list[str]) -> dict:
    """The ``docs/results/<dataset>.json`` shape from an evaluation's results dict."""
    return {"dataset": dataset, "hardware": hardware, "commands": list(commands),
            "methods": {k: {f: r[f] for f in ("top1", "mAP", "gmacs_per_frame", "gmacs_per_video")}
                        for k, r in results["methods"].items()}}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python train/suite.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="YAML run config (as for train/train.py)")
    ap.add_argument("--methods", default=None,
                    help=f"comma-separated methods to train (default: {','.join(DEFAULT_METHODS)})")
    ap.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    ap.add_argument("--epochs", default=None, help="override warmup,joint,finetune epochs, e.g. 1,2,1")
    ap.add_argument("--force", action="store_true", help="retrain methods that already have best.pt")
    ap.add_argument("--no-random-policy", action="store_true", help="do not add the Random-policy baseline")
    ap.add_argument("--seed", type=int, default=0, help="random-policy seed")
    ap.add_argument("--split", choices=("test", "val", "train"), default=None,
                    help="evaluation split (default: test if the config has one, else val)")
    ap.add_argument("--dataset", default=None, help="dataset name for the docs JSON (default: the run name)")
    ap.add_argument("--results-json", default=None, metavar="PATH",
                    help="also write the docs/results/<dataset>.json-shaped summary here")
    ap.add_argument("--strip", type=int, default=6, help="clips in policy_strip.png (0: none)")
    ap.add_argument("--batch-size", type=int, default=None, help="eval batch size (default: train.batch_size)")
    ap.add_argument("--workers", type=int, default=0, help="eval DataLoader workers")
    ap.add_argument("--no-progress", action="store_true")
    from train.train import add_data_args
    add_data_args(ap)   # --data PATH [--format F] [--data-split N]: every method trains on it
    args = ap.parse_args(argv)

    from train.evaluate import EvalError, evaluate_checkpoints, format_table, write_outputs
    try:
        methods = parse_methods(args.methods)
        d = load_yaml(args.config)
        if args.epochs is not None:
            try:
                w, j, f = (int(x) for x in args.epochs.split(","))
            except ValueError:
                raise ConfigError(f"--epochs {args.epochs!r}: expected three integers w,j,f, e.g. 1,2,1") from None
        name = str(d.get("name", "arnet"))
        out_dir = Path(str(d.get("out_dir", "runs")))
        suite_dir = out_dir / f"{name}_suite"
        commands: list[str] = [_cmd(["python", "train/suite.py"] + list(argv if argv is not None else sys.argv[1:]))]
        checkpoints: list[Path] = []
        from train.train import main as train_main
        for m in methods:
            run_name = f"{name}_{m}"
            run_dir = out_dir / run_name
            targs = ["--config", str(args.config), "--method", m, "--name", run_name]
            if args.epochs:
                targs += ["--epochs", args.epochs]
            if args.device:
                targs += ["--device", args.device]
            for flag, v in (("--data", args.data), ("--format", args.format),
                            ("--data-split", args.data_split)):
                targs += [flag, str(v)] if v is not None else []
            commands.append(_cmd(["python", "train/train.py"] + targs))
            best = run_dir / "best.pt"
            if best.is_file() and not args.force:
                print(f"[{m}] {best} exists: not retraining (--force to retrain)", flush=True)
            else:
                if args.force:
                    for f in ("best.pt", "last.pt", "metrics.csv"):
                        (run_dir / f).unlink(missing_ok=True)
                print(f"[{m}] training -> {run_dir}", flush=True)
                t0 = time.time()
                rc = train_main(targs + (["--no-progress"] if args.no_progress else []))
                if rc != 0:
                    print(f"error: training {m} failed (exit {rc}); command: python train/train.py "
                          f"{_cmd(targs)}", file=sys.stderr)
                    return 1 if rc != 2 else 2
                print(f"[{m}] trained in {time.time() - t0:.1f} s", flush=True)
            ck = best if best.is_file() else run_dir / "last.pt"
            if not ck.is_file():
                print(f"error: {run_dir}: training finished without best.pt / last.pt", file=sys.stderr)
                return 1
            if ck.name != "best.pt":
                print(f"[{m}] warning: no best.pt (no joint/fine-tune epoch?); evaluating {ck}", flush=True)
            checkpoints.append(ck)

        bs = args.batch_size or int((d.get("train") or {}).get("batch_size", 8))
        rp = "arnet" in methods and not args.no_random_policy
        results, entries = evaluate_checkpoints(checkpoints, split=args.split, random_policy=rp,
                                                seed=args.seed, device=args.device, batch_size=bs,
                                                workers=args.workers)
        eargs = sum((["--checkpoint", str(c)] for c in checkpoints), [])
        eargs += (["--random-policy", "--seed", str(args.seed)] if rp else []) + ["--out", str(suite_dir)]
        if args.split:
            eargs += ["--split", args.split]
        if args.device:
            eargs += ["--device", args.device]
        commands.append(_cmd(["python", "train/evaluate.py"] + eargs))
        results["config"] = str(args.config)
        results["commands"] = commands
        files = write_outputs(results, entries, suite_dir, strip=args.strip,
                              title=f"{name}: AR-Net and baselines")
        from edge_runtime.manifest import atomic_write_text
        doc = docs_results(results, args.dataset or name, hardware_string(args.device), commands)
        text = json.dumps(doc, indent=2) + "\n"
        atomic_write_text(suite_dir / "docs_results.json", text)
        files["docs"] = suite_dir / "docs_results.json"
        if args.results_json:
            atomic_write_text(args.results_json, text)
            files["results_json"] = Path(args.results_json)
        print()
        print(format_table(results))
        print("wrote " + ", ".join(str(p) for p in files.values()))
        return 0
    except (EvalError, ConfigError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
