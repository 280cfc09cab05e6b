"""Several cameras through one batched AR-Net in ~40 lines (the GPU's way: one policy call per tick).

    python examples/multi_stream.py artifacts/demo SOURCE [SOURCE ...] [--backend torch]
    python examples/multi_stream.py --fake          # no model needed: numpy stand-in networks
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from edge_runtime.backends.fake import fake_manifest  # noqa: E402
from edge_runtime.multistream import MultiStreamPipeline, next_tick  # noqa: E402
from edge_runtime.sources import open_source  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("model", nargs="?", help="model folder with manifest.json")
ap.add_argument("sources", nargs="*", default=["synthetic://bars?frames=200", "synthetic://noise?frames=120"])
ap.add_argument("--backend", default="litert", help="litert, onnxruntime and torch batch the streams")
ap.add_argument("--fake", action="store_true", help="run the fake backend on a fake manifest")
args = ap.parse_args()

B = len(args.sources)
if args.fake or not args.model:
    ms = MultiStreamPipeline(fake_manifest(), B, backend="fake")
else:  # engines load once for every stream; pt2 artifacts take all B frames in one call
    ms = MultiStreamPipeline(args.model, B, backend=args.backend)

srcs = [open_source(u, ms.pipe.seconds_per_step) for u in args.sources]
frames = {i: s.frames(need=lambda i=i: ms.needs_frame(i)) for i, s in enumerate(srcs)}
while tick := next_tick(frames):                    # a source that ends drops out; the others go on
    for i, ev in ms.step({i: sf.frame for i, sf in tick.items()}).items():  # frame None: inside a skip
        what = f"{ev.resolution}px" if ev.kind == "resolution" else f"{ev.kind} {ev.skip}"
        print(f"stream {i} t={ev.t:6.2f}s {what:<10} label={ev.label}  tick {ev.ms['step']:.2f} ms")
for i, u in enumerate(args.sources):
    print(f"stream {i} ({u}): final scores {ms.clip_scores(i)}")
