"""Print the end-of-demo summary from the files the demo steps wrote."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load(p: Path) -> dict:
    return json.loads(p.read_text()) if p.is_file() else {}


def fmt(v, spec=".3f") -> str:
    return "-" if v is None else format(v, spec)


def versus(ar: dict, other: dict, label: str) -> str:
    """AR-Net's top-1 and mAP minus another method's, and its GMACs per frame relative to it."""
    ratio = ar["gmacs_per_frame"] / other["gmacs_per_frame"] if other.get("gmacs_per_frame") else None
    return (f"AR-Net vs {other.get('label', label)}: {ar['top1'] - other['top1']:+.1f} points top-1, "
            f"{ar['mAP'] - other['mAP']:+.1f} mAP, at {fmt(ratio, '.2f')}x its GMACs per frame")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--artifacts", type=Path, required=True)
    a = ap.parse_args()
    res = load(a.run / "eval" / "results.json").get("methods", {})
    print("\nAccuracy on held-out SynthAct clips (PyTorch, GMACs = multiply-accumulates)")
    print(f"{'method':<28}{'top-1 %':>9}{'mAP %':>8}{'GMACs/frame':>13}{'vs uniform':>12}")
    for k, r in res.items():
        print(f"{r.get('label', k):<28}{fmt(r['top1'], '.1f'):>9}{fmt(r['mAP'], '.1f'):>8}"
              f"{fmt(r['gmacs_per_frame'], '.4f'):>13}{fmt(r.get('gmacs_ratio_vs_uniform'), '.2f'):>12}")
    if "arnet" in res and "uniform_branch" in res:
        ar = res["arnet"]
        n = ar.get("num_clips") or 1
        print(versus(ar, res["uniform_branch"], "Uniform") + f" ({n} test clips: one clip is {100 / n:.1f} points)")
    if "arnet" in res and "random_policy" in res:
        print(versus(res["arnet"], res["random_policy"], "Random policy"))
    if "arnet" in res:
        print("action usage (share of frames):",
              ", ".join(f"{k}={v:.2f}" for k, v in res["arnet"].get("action_hist", {}).items()))
    man = load(a.artifacts / "manifest.json")
    val = man.get("validation", {})
    pipes = val.get("pipelines") or val.get("pipeline") or {}
    if pipes:
        print("\nExported pipelines vs PyTorch (validation at export)")
        rows = pipes.items() if isinstance(pipes, dict) else ((p.get("name", "?"), p) for p in pipes)
        for name, p in rows:
            print(f"  {name:<22} top-1 {fmt(p.get('top1'), '.1f')}  actions = PyTorch on "
                  f"{fmt(p.get('action_agreement'), '.1%')} of steps  GMACs/frame {fmt(p.get('gmacs_per_frame'), '.4f')}")
    live = load(a.run / "live_summary.json")
    if live:
        lat = live.get("latency_ms", {}).get("step", {})
        print(f"\nLive run ({live.get('backend')} {live.get('precision')}): {live.get('steps')} sampled frames, "
              f"step p50 {fmt(lat.get('p50_ms'), '.2f')} ms / p95 {fmt(lat.get('p95_ms'), '.2f')} ms, "
              f"GMACs/frame {fmt(live.get('gmacs_per_frame'), '.4f')} vs uniform "
              f"{fmt(live.get('uniform_gmacs_per_frame'), '.4f')}")
    bench = load(a.run / "bench.json")
    if bench:
        print(f"\nBenchmark: adaptive vs uniform speedup {fmt(bench.get('speedup'), '.2f')}x "
              f"(GMACs ratio {fmt(bench.get('gmacs_ratio'), '.3f')}); details in {a.run / 'bench.json'}")
        c = bench.get("cheapest_as_accurate")
        if c:
            print(f"  cheapest branch as accurate as adaptive: {c['method']} ({fmt(c.get('accuracy'), '.1%')} "
                  f"vs adaptive's {fmt(bench['methods']['adaptive'].get('accuracy'), '.1%')}): adaptive "
                  f"{fmt(bench.get('speedup_vs_cheapest_as_accurate'), '.2f')}x its fps at "
                  f"{fmt(bench.get('gmacs_ratio_vs_cheapest_as_accurate'), '.3f')}x its GMACs")
        elif bench.get("cheapest_as_accurate_reason"):
            print(f"  cheapest branch as accurate as adaptive: none ({bench['cheapest_as_accurate_reason']})")
    print(f"\nFiles: {a.run}/eval/results.md, {a.run}/eval/*.png, {a.artifacts}/report.md, "
          f"{a.artifacts}/manifest.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
