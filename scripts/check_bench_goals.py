"""Check a ``bench.py --json`` result against the runtime's speed targets.

``python scripts/check_bench_goals.py RESULT.json [RESULT2.json ...]`` prints each target with
the measured value and whether it is met, and exits 1 when one is not (0 when every measurable
target is met). ``bench.py`` itself reports measurements only: the targets live here.

Targets: on a CPU (the 2-core x86 with LiteRT they were set for), adaptive fps ≥ 2× uniform's,
wall-time ratio ≤ GMACs ratio + 0.10 and ≥ 60 end-to-end fps; when every engine runs on a GPU
(``device`` cuda), adaptive step time ≤ 0.6× uniform's (wall-time ratio ≤ 0.6).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

GOAL_SPEEDUP = 2.0          # adaptive fps >= 2 x uniform fps
GOAL_WALL_EXCESS = 0.10     # wall-time ratio <= GMACs ratio + 0.10
GOAL_E2E_FPS = 60.0         # end-to-end (decode + policy + backbone) processed fps
GOAL_GPU_STEP_RATIO = 0.6   # GPU: adaptive step time <= 0.6 x uniform step time


def on_gpu(out: dict) -> bool:
    """True when every engine of the run reports a CUDA device."""
    engines = out.get("engines") or {}
    return bool(engines) and all(str((e or {}).get("device") or "").startswith("cuda") for e in engines.values())


def goals(out: dict) -> dict:
    """{goal: {"value", "target", "ok"}} from a bench result (ok is None when not measurable)."""
    sp, wr, gr = out.get("speedup"), out.get("wall_time_ratio"), out.get("gmacs_ratio")
    if on_gpu(out):
        return {"gpu_step_ratio": {"value": wr, "target": f"<= {GOAL_GPU_STEP_RATIO}",
                                   "ok": None if wr is None else wr <= GOAL_GPU_STEP_RATIO}}
    e2e = (out["methods"].get("adaptive") or {}).get("end_to_end_fps")
    excess = wr - gr if wr is not None and gr is not None else None
    return {
        "speedup": {"value": sp, "target": f">= {GOAL_SPEEDUP}",
                    "ok": None if sp is None else sp >= GOAL_SPEEDUP},
        "wall_minus_gmacs_ratio": {"value": excess, "target": f"<= {GOAL_WALL_EXCESS}",
                                   "ok": None if excess is None else excess <= GOAL_WALL_EXCESS},
        "end_to_end_fps": {"value": e2e, "target": f">= {GOAL_E2E_FPS}",
                           "ok": None if e2e is None else e2e >= GOAL_E2E_FPS},
    }


def report(out: dict) -> str:
    verdict = {True: "met", False: "NOT met", None: "n/a"}

    def f(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}"
    where = "GPU" if on_gpu(out) else f"CPU; this run: {out.get('backend')}/{out.get('precision')}"
    return f"goals ({where}): " + "; ".join(f"{k} {f(v['value'])} {v['target']}: {verdict[v['ok']]}"
                                            for k, v in goals(out).items())


def main(argv: Sequence[str] | None = None) -> int:
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: check_bench_goals.py RESULT.json [...]", file=sys.stderr)
        return 2
    rc = 0
    for p in paths:
        try:
            out = json.loads(Path(p).read_text(encoding="utf-8"))
            if "speedup" not in out:
                raise ValueError("no adaptive-vs-uniform comparison in it (run bench.py with both methods)")
        except (OSError, ValueError) as e:
            print(f"{p}: error: {e}", file=sys.stderr)
            return 2
        print(f"{p}: {report(out)}")
        if any(g["ok"] is False for g in goals(out).values()):
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
