"""Run one benchmark on an older revision and on this tree, alternating, on the same machine.

``python scripts/compare_revisions.py --old REV [--rounds 5] [--old-script] [--key PATH ...]
--json OUT -- SCRIPT [ARGS ...]``

The revision is extracted with ``git archive`` into a temporary folder. Each round runs
``python SCRIPT ARGS --json FILE`` there, then here, so a slow spell of a shared machine hits
both. By default the old tree gets this tree's SCRIPT (the same instrument on both codes, for a
script that only drives the runtime); ``--old-script`` runs the old tree's own copy instead
(for a benchmark that is itself part of the code measured). ARGS naming existing files or
folders are passed as absolute paths, so both trees read the same model and data. ``--key``
picks values from each run's JSON by a dotted path (``rows.0.adaptive_ms``,
``methods.adaptive.ms_per_stage_mean.policy``): the table shows them per round with their
median, and new ÷ old. OUT holds every run's whole JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def pick(obj: Any, path: str) -> Any:
    """The value at a dotted path (list indices as numbers); None where the path does not exist."""
    for part in path.split("."):
        if isinstance(obj, list) and part.lstrip("-").isdigit() and -len(obj) <= int(part) < len(obj):
            obj = obj[int(part)]
        elif isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            return None
    return obj


def absolute_args(args: list[str]) -> list[str]:
    return [str(Path(a).resolve()) if not a.startswith("-") and Path(a).exists() else a for a in args]


def extract(rev: str, dest: Path) -> None:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True)
    if archive.returncode != 0:
        raise SystemExit(f"--old {rev!r}: git archive failed: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)


def run(tree: Path, script: str, args: list[str], out: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.run([sys.executable, script, *args, "--json", str(out)], cwd=tree, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        raise SystemExit(f"{script} failed in {tree} (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        raise SystemExit("usage: compare_revisions.py --old REV [options] --json OUT -- SCRIPT [ARGS ...]")
    cut = argv.index("--")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", required=True, help="the older revision (commit, tag or branch)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--old-script", action="store_true", help="run the old tree's own SCRIPT")
    ap.add_argument("--key", action="append", default=[], help="dotted JSON path to tabulate (repeatable)")
    ap.add_argument("--json", required=True, help="where to write every run's result")
    a = ap.parse_args(argv[:cut])
    if not argv[cut + 1:]:
        raise SystemExit("no SCRIPT after --")
    script, args = argv[cut + 1], absolute_args(argv[cut + 2:])
    if a.rounds < 1:
        raise SystemExit(f"--rounds must be >= 1, got {a.rounds}")
    if not (ROOT / script).is_file():
        raise SystemExit(f"SCRIPT {script!r} is not a file of this tree ({ROOT})")
    rounds = []
    with tempfile.TemporaryDirectory(prefix="compare-") as tmp:
        old = Path(tmp) / "old"
        old.mkdir()
        extract(a.old, old)
        if not a.old_script:
            (old / script).parent.mkdir(parents=True, exist_ok=True)
            (old / script).write_bytes((ROOT / script).read_bytes())
        for r in range(1, a.rounds + 1):
            res = {"round": r, "old": run(old, script, args, Path(tmp) / "old.json"),
                   "new": run(ROOT, script, args, Path(tmp) / "new.json")}
            rounds.append(res)
            print(f"round {r}: " + ", ".join(f"{k} old {pick(res['old'], k)} new {pick(res['new'], k)}"
                                             for k in a.key), flush=True)
    summary = {}
    for k in a.key:
        o = [v for v in (pick(x["old"], k) for x in rounds) if isinstance(v, (int, float))]
        n = [v for v in (pick(x["new"], k) for x in rounds) if isinstance(v, (int, float))]
        if o and n:
            mo, mn = statistics.median(o), statistics.median(n)
            summary[k] = {"old_median": mo, "new_median": mn, "new_over_old": mn / mo if mo else None,
                          "old": o, "new": n}
            print(f"{k}: old {mo:.4g} (median of {len(o)}), new {mn:.4g}, new / old "
                  f"{mn / mo:.3f}" if mo else f"{k}: old {mo}, new {mn}")
    Path(a.json).write_text(json.dumps({"old": a.old, "script": script, "args": argv[cut + 2:],
                                        "same_script": not a.old_script, "rounds": rounds,
                                        "summary": summary}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
