"""The measurements behind the runtime's design choices, on this machine.

``python scripts/bench_design_choices.py --model artifacts/edge_fast [--json PATH]``

* resize: a 1280x720 camera frame's centre square to the policy's size, OpenCV ``INTER_AREA``
  in one call (``area``) against the ``pyramid`` rule (2x2-mean halvings, one linear step).
* call path: one LiteRT call of each network through the runtime's direct path
  (``set_tensor`` / ``invoke`` / ``get_tensor``) against the signature runner's ``__call__``,
  and the engine's ``invoke()`` alone.
* batch interpreters: resizing one interpreter's inputs between 1 and 2 rows and allocating
  again, per change, against keeping one interpreter per row count (what ``run_batch`` does).
* layout (when torch is installed): a depthwise-heavy EfficientNet-Lite0 forward pass on the CPU
  in channels-last (NHWC) against NCHW memory, as the feature cache runs it.

Each number is the median of ``--repeat`` rounds of many calls, the pairs measured alternately.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def per_call_ms(fn: Callable[[], object], calls: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) * 1000.0 / calls


def alternate(fns: dict, calls: int, repeat: int) -> dict:
    """{name: median ms per call}, the functions run in turn each round."""
    got: dict = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            got[k].append(per_call_ms(fn, calls))
    return {k: statistics.median(v) for k, v in got.items()}


def resize_rows(size: int, calls: int, repeat: int) -> dict:
    from edge_runtime.preprocess import center_square, resize_image
    frame = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), np.uint8)
    sq = center_square(frame)
    return alternate({"area": lambda: resize_image(sq, size, "area"),
                      "pyramid": lambda: resize_image(sq, size, "pyramid")}, calls, repeat)


def call_path_rows(model: Path, precision: str, calls: int, repeat: int) -> dict:
    from edge_runtime.backends.litert_backend import import_interpreter
    from edge_runtime.engine import Engines
    Interpreter = import_interpreter()[1]
    e = Engines(model, backend="litert", precision=precision, threads=2)
    m = e.manifest
    out = {"engine": e.policy.engine, "precision": e.precision}
    for aid, net in e.models.items():
        size = e.size_of(aid)
        feed = {"frame": np.zeros((1, size, size, 3), np.uint8)}
        if net is e.policy:
            feed.update(h=np.zeros((1, m.hidden), np.float32), c=np.zeros((1, m.hidden), np.float32))
        art = e.artifacts[aid]
        fns = {"direct": lambda net=net, feed=feed: net.run(feed), "invoke": net._interp.invoke}
        if art.signature:   # on an interpreter of its own: a live runner blocks its interpreter's calls
            twin = Interpreter(model_path=str(m.artifact_path(art)), num_threads=2)
            runner = twin.get_signature_runner(art.signature)
            raw = net._adapt_inputs(feed)
            fns["signature_runner"] = lambda runner=runner, raw=raw: runner(**raw)
        n = calls if aid == "policy" else max(20, calls // 20)
        out[aid] = alternate(fns, n, repeat)
    out["policy_invoke_after"] = policy_after(e, calls, repeat)
    return out


def policy_after(e, calls: int, repeat: int) -> dict:
    """The policy's ``invoke()`` (ms) right after itself (warm caches), right after the cheapest
    backbone, and after that backbone and a read over 32 MB (what decoding a frame and the
    resizes do to the caches in a live loop)."""
    pol = e.policy._interp
    smallest = min((i for i in e.models if i != "policy"), key=e.size_of)
    bb = e.models[smallest]._interp
    junk = np.ones(32 << 20, np.uint8)

    def timed(before: Callable[[], object]) -> float:
        ts = []
        for _ in range(max(50, calls // 4)):
            before()
            t0 = time.perf_counter()
            pol.invoke()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts) * 1000.0

    rounds: dict = {"warm": [], "after_backbone": [], "after_backbone_and_32mb": []}
    for _ in range(repeat):
        rounds["warm"].append(timed(lambda: None))
        rounds["after_backbone"].append(timed(bb.invoke))
        rounds["after_backbone_and_32mb"].append(timed(lambda: (bb.invoke(), junk[::64].sum())))
    return {k: statistics.median(v) for k, v in rounds.items()}



def batch_rows(model: Path, prec: str, repeat: int) -> dict:
    from edge_runtime.backends.litert_backend import import_interpreter
    from edge_runtime.manifest import load_manifest
    m = load_manifest(model)
    mod, Interpreter, _, _ = import_interpreter()
    art = next(a for a in m.artifacts if a.backend == "litert" and a.precision == prec and a.id != "policy")
    it = Interpreter(model_path=str(m.artifact_path(art)), num_threads=2)
    idx = it.get_input_details()[0]["index"]
    shape = [int(s) for s in it.get_input_details()[0]["shape"]]
    it.allocate_tensors()
    rows = [1]

    def change() -> None:
        rows[0] = 3 - rows[0]
        it.resize_tensor_input(idx, [rows[0]] + shape[1:])
        it.allocate_tensors()
    return {"engine": mod, "artifact": art.id, "resize_and_allocate_ms": alternate({"change": change}, 10, repeat)["change"]}


def layout_rows(repeat: int) -> dict | None:
    try:
        import torch
        from train.backbones.registry import create_backbone
    except Exception:   # torch-free venv: no layout row
        return None
    torch.set_num_threads(2)
    net = create_backbone("efficientnet_lite0", pretrained=False).eval()
    x = torch.zeros(8, 3, 128, 128)
    nhwc = create_backbone("efficientnet_lite0", pretrained=False).eval().to(memory_format=torch.channels_last)
    xl = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        r = alternate({"nchw": lambda: net(x), "nhwc": lambda: nhwc(xl)}, 3, repeat)
    return {"batch": 8, "size": 128, "threads": 2, **r}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="an exported model folder with LiteRT files")
    ap.add_argument("--precision", default=None, help="the LiteRT files to run (default int8 when exported, else fp32)")
    ap.add_argument("--size", type=int, default=84, help="the resize target (the policy's size)")
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    model = Path(a.model)
    if not (model / "manifest.json").is_file():
        raise SystemExit(f"--model {model}: no manifest.json there")
    from edge_runtime.manifest import load_manifest
    have = load_manifest(model).precisions("litert")
    prec = a.precision or ("int8" if "int8" in have else "fp32")
    if prec not in have:
        raise SystemExit(f"--precision {prec}: {model} has LiteRT files in {', '.join(have) or 'no precision'}")
    res = {"machine": platform.platform(), "python": platform.python_version(),
           "resize_720p_square_ms": resize_rows(a.size, a.calls // 4, a.repeat),
           "precision": prec,
           "litert_call_ms": call_path_rows(model, prec, a.calls, a.repeat),
           "batch_interpreter": batch_rows(model, prec, a.repeat),
           "layout_ms": layout_rows(a.repeat)}
    r = res["resize_720p_square_ms"]
    print(f"resize 720 -> {a.size}: area {r['area']:.3f} ms, pyramid {r['pyramid']:.3f} ms")
    for aid, row in res["litert_call_ms"].items():
        if aid == "policy_invoke_after":
            print("policy invoke: " + ", ".join(f"{k} {v * 1000:.1f} µs" for k, v in row.items()))
        elif isinstance(row, dict):
            print(f"{aid}: " + ", ".join(f"{k} {v * 1000:.1f} µs" for k, v in row.items()))
    b = res["batch_interpreter"]
    print(f"{b['engine']} {b['artifact']}: resize inputs + allocate {b['resize_and_allocate_ms']:.3f} ms per change")
    if res["layout_ms"]:
        lo = res["layout_ms"]
        print(f"Lite0 forward, 8 x 128 px, 2 threads: NCHW {lo['nchw']:.1f} ms, NHWC {lo['nhwc']:.1f} ms")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
