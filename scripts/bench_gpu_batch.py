"""GPU step time of AR-Net vs uniform when B camera streams are batched (multi-stream serving).

``python scripts/bench_gpu_batch.py --checkpoint runs/x/best.pt (--mix 224:0.19,128:0.27,48:0.54 |
--mix-from bench.json) [--batches 1,8,32,128] [--dtype fp32|bf16] [--json PATH]``

One step serves B streams: uniform runs the top branch on all B frames; AR-Net runs the policy on
all B frames, then each resolution branch on the frames whose policy chose it (``--mix``: share of
frames per resolution; ``--mix-from`` reads the adaptive ``actions`` histogram of an
``edge_runtime/bench.py`` JSON; the lowest resolution is the policy's own head, skips count as the
lowest). Every module at every batch size
is one captured CUDA graph; times are medians of CUDA-event timed replays. At B = 1 a GPU is
latency-bound (time follows kernel count, not GMACs); the ratio shows how batching turns AR-Net's
GMACs saving into time.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from train.checkpoint import load_checkpoint  # noqa: E402
from train.models.arnet import BranchModule, PolicyStep  # noqa: E402


def graph_ms(fn, args, reps: int) -> float:
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn(*args)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn(*args)
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return sorted(times)[len(times) // 2]


def parse_mix(mix: str | None, mix_from: str | None, resolutions: list[int]) -> dict[int, float]:
    """Shares of frames per resolution from ``--mix`` or a bench JSON's adaptive histogram."""
    if (mix is None) == (mix_from is None):
        raise ValueError("give exactly one of --mix and --mix-from")
    if mix is not None:
        try:
            return {int(k): float(v) for k, v in (p.split(":") for p in mix.split(","))}
        except ValueError:
            raise ValueError(f"--mix {mix!r}: expected resolution:share,... e.g. 224:0.2,128:0.3") from None
    hist = json.loads(Path(mix_from).read_text())["methods"]["adaptive"]["actions"]
    total = sum(hist.values()) or 1
    out = {s: 0.0 for s in resolutions}
    for k, n in hist.items():
        s = int(k[3:]) if k.startswith("res") else resolutions[-1]
        out[s] = out.get(s, 0.0) + n / total
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--mix", default=None, help="resolution:share,... (shares of frames)")
    ap.add_argument("--mix-from", default=None, help="a bench.py JSON: its adaptive action histogram")
    ap.add_argument("--batches", default="1,8,32,128")
    ap.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"))
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("error: needs a CUDA GPU", file=sys.stderr)
        return 2
    model = load_checkpoint(a.checkpoint).model.eval().cuda()
    dt = torch.float32 if a.dtype == "fp32" else torch.bfloat16
    model = model.to(dt)
    res = list(model.resolutions)
    try:
        mix = parse_mix(a.mix, a.mix_from, res)
    except (ValueError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    bad = sorted(set(mix) - set(res))
    if bad:
        print(f"error: --mix resolutions {bad} not among the model's {res}", file=sys.stderr)
        return 2
    policy = PolicyStep(model).eval()
    branches = {s: BranchModule(model, i).eval() for i, s in enumerate(res[:-1])}
    hid = model.cfg.hidden
    rows = []
    with torch.inference_mode():
        for B in (int(x) for x in a.batches.split(",")):
            def frames(n, s):
                return torch.rand(max(n, 1), 3, s, s, device="cuda", dtype=dt) * 255

            h = torch.zeros(B, hid, device="cuda", dtype=dt)
            pol = graph_ms(policy, (frames(B, res[-1]), h, h.clone()), a.reps)
            uni = graph_ms(branches[res[0]], (frames(B, res[0]),), a.reps)
            parts = {}
            for s, mod in branches.items():
                n = math.ceil(B * mix.get(s, 0.0))
                parts[s] = graph_ms(mod, (frames(n, s),), a.reps) if n else 0.0
            ada = pol + sum(parts.values())
            rows.append({"batch": B, "uniform_ms": uni, "policy_ms": pol,
                         "branch_ms": {str(k): v for k, v in parts.items()}, "adaptive_ms": ada,
                         "ratio": ada / uni})
    gm = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "dtype": a.dtype,
          "checkpoint": a.checkpoint, "mix": mix, "rows": rows}
    print(f"{gm['device']} · {a.dtype} · mix {mix}")
    print(f"{'B':>5} {'uniform ms':>11} {'policy ms':>10} {'adaptive ms':>12} {'ratio':>6} {'ms/frame ada':>13}")
    for r in rows:
        print(f"{r['batch']:>5} {r['uniform_ms']:>11.3f} {r['policy_ms']:>10.3f} {r['adaptive_ms']:>12.3f} "
              f"{r['ratio']:>6.3f} {r['adaptive_ms'] / r['batch']:>13.4f}")
    if a.json:
        Path(a.json).write_text(json.dumps(gm, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
