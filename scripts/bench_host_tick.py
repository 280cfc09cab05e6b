"""The host's share of a multi-stream tick: everything but the networks, adaptive vs uniform.

``python scripts/bench_host_tick.py --model artifacts/edge_fast [--streams 1,8,32]
[--frame 256x256,1280x720] [--workers 1,0] [--mix res128=0.94,skip1=0.06] [--json PATH]``

On a GPU the networks of a batched tick take a few ms
(docs/RESULTS.md, "Runtime on the GPU: torch backend, CUDA graphs (goal: adaptive step ≤ 0.6× uniform)");
the host adds the per-stream resizes (SquareViews), controllers and events. This runs
``MultiStreamPipeline`` with engines that answer instantly (constant outputs; the policy picks
actions in the ``--mix`` shares), so the table is that host work alone, per tick, for each frame
size, stream count and resize thread count (``--workers``; 0 = the default rule). Only the
manifest is read.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from edge_runtime.manifest import load_manifest  # noqa: E402
from edge_runtime.multistream import MultiStreamPipeline, default_resize_workers  # noqa: E402
from edge_runtime.pipeline import action_names  # noqa: E402


def instant(eng, plan: list[int] | None) -> None:
    """Make ``eng.run`` and ``eng.run_batch`` answer at once; a policy's rows take the actions of
    ``plan`` in turn. The answers are made once per row count and plan position, then returned
    as they are (the runtime never writes into an engine's outputs): a call costs a dictionary
    lookup, so the table measures the host's work, not the stand-in's."""
    turn = [0]
    made: dict = {}
    period = len(plan) if plan is not None else 1

    def answer(n: int) -> dict:
        key = (n, turn[0] % period)
        out = made[key] = {t.role: np.zeros((n,) + tuple(t.shape[1:]), np.float32) for t in eng._outputs}
        for r in range(n if plan is not None else 0):
            out["action_logits"][r, plan[(key[1] + r) % period]] = 10.0
        return out

    def run_batch(inputs: dict, n: int) -> dict:
        out = made.get((n, turn[0] % period)) or answer(n)
        turn[0] += n
        return out

    def run(inputs: dict) -> dict:   # run_batch(inputs, 1), as one call like run_batch
        out = made.get((1, turn[0] % period)) or answer(1)
        turn[0] += 1
        return out
    eng.run_batch = run_batch
    eng.run = run


def parse_mix(text: str, names: list[str]) -> list[int]:
    """``res128=0.94,skip1=0.06`` -> a 100-slot plan of action indices in those shares."""
    plan: list[int] = []
    for item in text.split(","):
        name, _, share = item.partition("=")
        if name not in names:
            raise SystemExit(f"--mix: unknown action {name!r}; valid choices: {', '.join(names)}")
        plan += [names.index(name)] * round(100 * float(share))
    rng = np.random.default_rng(0)
    return [int(a) for a in rng.permutation(plan)] if plan else [0]


def tick_ms(man, B: int, mode: str, workers: int | None, frames: list, plan: list[int], ticks: int) -> float:
    ms = MultiStreamPipeline(man, B, backend="fake", mode=mode, resize_workers=workers)
    for eng in ms.pipe.models.values():
        instant(eng, plan if eng is ms.pipe.policy else None)
    times = []
    for t in range(ticks + 3):
        fr = {i: frames[(i + t) % len(frames)] if ms.needs_frame(i) else None for i in range(B)}
        t0 = time.perf_counter()
        ms.step(fr)
        if t >= 3:
            times.append((time.perf_counter() - t0) * 1e3)
    ms.close()
    return float(np.median(times))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="a model folder (its manifest.json) or a manifest file")
    ap.add_argument("--streams", default="1,8,32")
    ap.add_argument("--frame", default="256x256,1280x720", help="WxH of the source frames")
    ap.add_argument("--workers", default="1,0", help="resize threads to compare (0 = the default rule)")
    ap.add_argument("--mix", default="res128=0.94,skip1=0.06",
                    help="the policy's action shares (default: edge_fast's on small SynthAct)")
    ap.add_argument("--ticks", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3, help="rounds over every row; a row's ms is its median")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    man = load_manifest(a.model)
    plan = parse_mix(a.mix, action_names(man))
    rng = np.random.default_rng(0)
    runs: dict[tuple, list] = {}
    for _ in range(a.repeat):   # rounds interleave the rows: a slow spell of the host hits all of them
        for wh in a.frame.split(","):
            w, h = (int(v) for v in wh.lower().split("x"))
            for B in (int(v) for v in a.streams.split(",")):
                # every stream of a tick gets its own frame, and no tick reuses the last one's (a
                # frame resized moments ago would still be in the cache)
                frames = [rng.integers(0, 256, (h, w, 3), np.uint8) for _ in range(2 * B + 1)]
                for wk in (int(v) for v in a.workers.split(",")):
                    ticks = max(20, a.ticks // B)
                    runs.setdefault((wh, B, wk), []).append(
                        [tick_ms(man, B, mode, wk or None, frames, plan, ticks) for mode in ("adaptive", "uniform")])
    rows = []
    print(f"{'frame':>10} {'B':>3} {'workers':>7} {'adaptive ms':>12} {'uniform ms':>11} {'ratio':>6}")
    for (wh, B, wk), r in runs.items():
        ad, un = (float(np.median([x[j] for x in r])) for j in (0, 1))
        got = wk or default_resize_workers(B)
        rows.append({"frame": wh, "streams": B, "resize_workers": got, "adaptive_ms": ad, "uniform_ms": un,
                     "ratio": ad / un, "rounds_ms": r})
        print(f"{wh:>10} {B:>3} {got:>7} {ad:>12.3f} {un:>11.3f} {ad / un:>6.2f}")
    if a.json:
        Path(a.json).write_text(json.dumps({"model": man.name, "mix": a.mix, "repeat": a.repeat,
                                            "cores": os.cpu_count(), "platform": platform.platform(),
                                            "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
