"""AR-Net Edge runtime in ~40 lines: stream a source through the adaptive pipeline.

    python examples/adaptive_stream.py artifacts/demo [SOURCE] [--backend litert]
    python examples/adaptive_stream.py --fake          # no model needed: numpy stand-in networks
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from edge_runtime.backends.fake import fake_manifest  # noqa: E402
from edge_runtime.pipeline import AdaptivePipeline  # noqa: E402
from edge_runtime.sources import open_source  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("model", nargs="?", help="model folder with manifest.json")
ap.add_argument("source", nargs="?", default="synthetic://bars?frames=300")
ap.add_argument("--backend", default="litert")
ap.add_argument("--precision", default="auto")  # the fastest that passed validation
ap.add_argument("--fake", action="store_true", help="run the fake backend on a fake manifest")
args = ap.parse_args()

if args.fake or not args.model:
    pipe = AdaptivePipeline(fake_manifest(), backend="fake")       # no files at all
else:  # loads every artifact once, sha256 checked
    pipe = AdaptivePipeline(args.model, backend=args.backend, precision=args.precision, threads=2)

source = open_source(args.source, pipe.seconds_per_step)  # camera index, file, rtsp://, csi://, ...
for frame in source.frames(need=pipe.needs_frame):         # frames under a skip are not decoded
    ev = pipe.step(frame.frame, t=frame.t, decode_ms=frame.decode_ms)
    what = f"{ev.resolution}px" if ev.kind == "resolution" else f"{ev.kind} {ev.skip}"
    top = ", ".join(f"{lab} {score:.2f}" for lab, score in ev.top_k)
    print(f"t={ev.t:6.2f}s {what:<10} label={ev.label}  [{top}]  {ev.ms['step']:.2f} ms  {ev.gmacs:.3f} GMACs")

s = pipe.summary()
print(f"\n{s['steps']} steps, GMACs/frame {s['gmacs_per_frame']:.4f} vs uniform "
      f"{s['uniform_gmacs_per_frame']:.4f}; actions {s['actions']}")
