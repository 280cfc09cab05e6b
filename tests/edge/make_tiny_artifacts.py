"""Write a tiny but real AR-Net model folder (manifest + artifacts) for the backend tests.

    .venv/bin/python tests/edge/make_tiny_artifacts.py --out build/tiny_backends [--formats tflite,onnx,pt2,pte]

This is a stand-in for ``python -m convert.export_all --tiny`` (the real converter) that needs no
training code: one set of numpy weights, written as TFLite (fp32, fp16 and full-integer int8 with
int8 inputs/outputs, via TensorFlow), ONNX (via ``onnx.helper``), ``pt2`` (``torch.export``) and
``pte`` (ExecuTorch), so the same inputs must give the same outputs on every engine. Each format is
optional: what the desktop venv cannot build is left out of the manifest.

Networks (frames are float RGB in [0, 255], normalisation folded in)::

    policy(frame_84, h, c): f = mean_hw(frame)/255 − 0.5 ++ mean of the top-left quarter
                            g = tanh(f·Wx + h·Wh);  h' = g;  c' = 0.9·c + 0.1·g
                            → (g·Wa + ba, g·Wc, h', c')
    backbone_s(frame_s):    same features → f·Wb_s + bb_s
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RES = [64, 48, 32, 24]
SKIPS = [1, 2, 4]
C, H = 5, 16
A = len(RES) + len(SKIPS)
FEAT = 6


def weights(seed: int = 7) -> dict:
    rng = np.random.default_rng(seed)
    w = {"Wx": rng.standard_normal((FEAT, H)) * 2.0, "Wh": rng.standard_normal((H, H)) * 0.4,
         "Wa": rng.standard_normal((H, A)) * 1.5, "ba": rng.standard_normal(A) * 0.3,
         "Wc": rng.standard_normal((H, C)) * 1.5}
    for s in RES[:-1]:
        w[f"Wb{s}"] = rng.standard_normal((FEAT, C)) * 3.0
        w[f"bb{s}"] = rng.standard_normal(C) * 0.2
    return {k: v.astype(np.float32) for k, v in w.items()}


def features_np(frame_nhwc: np.ndarray) -> np.ndarray:
    x = frame_nhwc.astype(np.float32)
    s = x.shape[1]
    g = x.mean(axis=(1, 2)) / 255.0 - 0.5
    q = x[:, : s // 2, : s // 2].mean(axis=(1, 2)) / 255.0 - 0.5
    return np.concatenate([g, q], axis=1)


def policy_np(w: dict, frame: np.ndarray, h: np.ndarray, c: np.ndarray):
    f = features_np(frame)
    g = np.tanh(f @ w["Wx"] + h @ w["Wh"])
    return g @ w["Wa"] + w["ba"], g @ w["Wc"], g, 0.9 * c + 0.1 * g


def backbone_np(w: dict, s: int, frame: np.ndarray):
    return features_np(frame) @ w[f"Wb{s}"] + w[f"bb{s}"]


# ------------------------------------------------------------------------------ TFLite
def build_tflite(w: dict, out: Path) -> list[dict]:
    import tensorflow as tf

    def feats(x):
        s = x.shape[1]
        g = tf.reduce_mean(x, axis=[1, 2]) / 255.0 - 0.5
        q = tf.reduce_mean(x[:, : s // 2, : s // 2, :], axis=[1, 2]) / 255.0 - 0.5
        return tf.concat([g, q], axis=1)

    arts = []
    rng = np.random.default_rng(0)

    def policy_module():
        class P(tf.Module):
            @tf.function(input_signature=[tf.TensorSpec([1, RES[-1], RES[-1], 3], tf.float32, name="frame"),
                                          tf.TensorSpec([1, H], tf.float32, name="h"),
                                          tf.TensorSpec([1, H], tf.float32, name="c")])
            def serve(self, frame, h, c):
                g = tf.tanh(tf.matmul(feats(frame), w["Wx"]) + tf.matmul(h, w["Wh"]))
                return {"action_logits": tf.matmul(g, w["Wa"]) + w["ba"], "class_logits": tf.matmul(g, w["Wc"]),
                        "h_out": g, "c_out": 0.9 * c + 0.1 * g}
        return P()

    def backbone_module(s):
        class B(tf.Module):
            @tf.function(input_signature=[tf.TensorSpec([1, s, s, 3], tf.float32, name="frame")])
            def serve(self, frame):
                return {"class_logits": tf.matmul(feats(frame), w[f"Wb{s}"]) + w[f"bb{s}"]}
        return B()

    def convert(mod, precision, rep):
        conv = tf.lite.TFLiteConverter.from_concrete_functions([mod.serve.get_concrete_function()], mod)
        if precision == "fp16":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.target_spec.supported_types = [tf.float16]
        elif precision == "int8":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = rep
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
        return conv.convert()

    def rep_policy():
        h = np.zeros((1, H), np.float32)
        c = np.zeros((1, H), np.float32)
        for _ in range(64):
            fr = rng.integers(0, 256, (1, RES[-1], RES[-1], 3)).astype(np.float32)
            yield {"frame": fr, "h": h, "c": c}
            _, _, h, c = policy_np(w, fr, h, c)
            h, c = h.astype(np.float32), c.astype(np.float32)

    def rep_backbone(s):
        def gen():
            for _ in range(32):
                yield {"frame": rng.integers(0, 256, (1, s, s, 3)).astype(np.float32)}
        return gen

    for prec in ("fp32", "fp16", "int8"):
        dt = "int8" if prec == "int8" else "float32"
        blob = convert(policy_module(), prec, rep_policy)
        f = out / f"policy_{prec}.tflite"
        f.write_bytes(blob)
        arts.append(artifact_entry("policy", "policy", RES[-1], "tflite", "litert", prec, f, "serving_default",
                                   [("frame", "frame", [1, RES[-1], RES[-1], 3], dt, "NHWC"),
                                    ("h", "h", [1, H], dt, "NC"), ("c", "c", [1, H], dt, "NC")],
                                   [("action_logits", "action_logits", [1, A], dt, "NC"),
                                    ("class_logits", "class_logits", [1, C], dt, "NC"),
                                    ("h_out", "h", [1, H], dt, "NC"), ("c_out", "c", [1, H], dt, "NC")]))
        for s in RES[:-1]:
            blob = convert(backbone_module(s), prec, rep_backbone(s))
            f = out / f"backbone_{s}_{prec}.tflite"
            f.write_bytes(blob)
            arts.append(artifact_entry(f"backbone_{s}", "backbone", s, "tflite", "litert", prec, f, "serving_default",
                                       [("frame", "frame", [1, s, s, 3], dt, "NHWC")],
                                       [("class_logits", "class_logits", [1, C], dt, "NC")]))
    return arts


# ------------------------------------------------------------------------------ ONNX
def build_onnx(w: dict, out: Path) -> list[dict]:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def init(name, arr):
        return numpy_helper.from_array(np.asarray(arr, np.float32), name)

    def feat_nodes(s):
        # frame (1,3,s,s) -> (1,6)
        half = s // 2
        nodes = [
            helper.make_node("ReduceMean", ["frame", "axes_hw"], ["gm"], keepdims=0),
            helper.make_node("Slice", ["frame", "sl_start", "sl_end", "sl_axes"], ["quarter"]),
            helper.make_node("ReduceMean", ["quarter", "axes_hw"], ["qm"], keepdims=0),
            helper.make_node("Concat", ["gm", "qm"], ["cat"], axis=1),
            helper.make_node("Div", ["cat", "k255"], ["cat_s"]),
            helper.make_node("Sub", ["cat_s", "khalf"], ["feat"]),
        ]
        inits = [numpy_helper.from_array(np.array([2, 3], np.int64), "axes_hw"),
                 numpy_helper.from_array(np.array([0, 0], np.int64), "sl_start"),
                 numpy_helper.from_array(np.array([half, half], np.int64), "sl_end"),
                 numpy_helper.from_array(np.array([2, 3], np.int64), "sl_axes"),
                 init("k255", 255.0), init("khalf", 0.5)]
        return nodes, inits

    arts = []
    s = RES[-1]
    fn, fi = feat_nodes(s)
    nodes = fn + [
        helper.make_node("MatMul", ["feat", "Wx"], ["a1"]),
        helper.make_node("MatMul", ["h", "Wh"], ["a2"]),
        helper.make_node("Add", ["a1", "a2"], ["a3"]),
        helper.make_node("Tanh", ["a3"], ["h_out"]),
        helper.make_node("MatMul", ["h_out", "Wa"], ["al0"]),
        helper.make_node("Add", ["al0", "ba"], ["action_logits"]),
        helper.make_node("MatMul", ["h_out", "Wc"], ["class_logits"]),
        helper.make_node("Mul", ["c", "k09"], ["c1"]),
        helper.make_node("Mul", ["h_out", "k01"], ["c2"]),
        helper.make_node("Add", ["c1", "c2"], ["c_out"]),
    ]
    inits = fi + [init("Wx", w["Wx"]), init("Wh", w["Wh"]), init("Wa", w["Wa"]), init("ba", w["ba"]),
                  init("Wc", w["Wc"]), init("k09", 0.9), init("k01", 0.1)]
    g = helper.make_graph(nodes, "policy",
                          [helper.make_tensor_value_info("frame", TensorProto.FLOAT, [1, 3, s, s]),
                           helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, H]),
                           helper.make_tensor_value_info("c", TensorProto.FLOAT, [1, H])],
                          [helper.make_tensor_value_info("action_logits", TensorProto.FLOAT, [1, A]),
                           helper.make_tensor_value_info("class_logits", TensorProto.FLOAT, [1, C]),
                           helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [1, H]),
                           helper.make_tensor_value_info("c_out", TensorProto.FLOAT, [1, H])], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    f = out / "policy_fp32.onnx"
    onnx.save(model, str(f))
    arts.append(artifact_entry("policy", "policy", s, "onnx", "onnxruntime", "fp32", f, None,
                               [("frame", "frame", [1, 3, s, s], "float32", "NCHW"),
                                ("h", "h", [1, H], "float32", "NC"), ("c", "c", [1, H], "float32", "NC")],
                               [("action_logits", "action_logits", [1, A], "float32", "NC"),
                                ("class_logits", "class_logits", [1, C], "float32", "NC"),
                                ("h_out", "h", [1, H], "float32", "NC"), ("c_out", "c", [1, H], "float32", "NC")]))
    for s in RES[:-1]:
        fn, fi = feat_nodes(s)
        nodes = fn + [helper.make_node("MatMul", ["feat", "Wb"], ["b0"]),
                      helper.make_node("Add", ["b0", "bb"], ["class_logits"])]
        g = helper.make_graph(nodes, f"backbone_{s}",
                              [helper.make_tensor_value_info("frame", TensorProto.FLOAT, [1, 3, s, s])],
                              [helper.make_tensor_value_info("class_logits", TensorProto.FLOAT, [1, C])],
                              fi + [init("Wb", w[f"Wb{s}"]), init("bb", w[f"bb{s}"])])
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
        model.ir_version = 9
        f = out / f"backbone_{s}_fp32.onnx"
        onnx.save(model, str(f))
        arts.append(artifact_entry(f"backbone_{s}", "backbone", s, "onnx", "onnxruntime", "fp32", f, None,
                                   [("frame", "frame", [1, 3, s, s], "float32", "NCHW")],
                                   [("class_logits", "class_logits", [1, C], "float32", "NC")]))
    return arts


# ------------------------------------------------------------------------------ torch
def torch_modules(w: dict):
    import torch
    from torch import nn

    def feats(x):
        s = x.shape[-1]
        g = x.mean(dim=(2, 3)) / 255.0 - 0.5
        q = x[:, :, : s // 2, : s // 2].mean(dim=(2, 3)) / 255.0 - 0.5
        return torch.cat([g, q], 1)

    class Policy(nn.Module):
        def __init__(self):
            super().__init__()
            for k in ("Wx", "Wh", "Wa", "ba", "Wc"):
                self.register_buffer(k, torch.from_numpy(w[k].copy()))

        def forward(self, frame, h, c):
            g = torch.tanh(feats(frame) @ self.Wx + h @ self.Wh)
            return g @ self.Wa + self.ba, g @ self.Wc, g, 0.9 * c + 0.1 * g

    class Backbone(nn.Module):
        def __init__(self, s):
            super().__init__()
            self.register_buffer("Wb", torch.from_numpy(w[f"Wb{s}"].copy()))
            self.register_buffer("bb", torch.from_numpy(w[f"bb{s}"].copy()))

        def forward(self, frame):
            return feats(frame) @ self.Wb + self.bb

    return Policy, Backbone


def _torch_specs(s, policy):
    if policy:
        return ([("frame", "frame", [1, 3, s, s], "float32", "NCHW"), ("h", "h", [1, H], "float32", "NC"),
                 ("c", "c", [1, H], "float32", "NC")],
                [("action_logits", "action_logits", [1, A], "float32", "NC"),
                 ("class_logits", "class_logits", [1, C], "float32", "NC"),
                 ("h_out", "h", [1, H], "float32", "NC"), ("c_out", "c", [1, H], "float32", "NC")])
    return ([("frame", "frame", [1, 3, s, s], "float32", "NCHW")],
            [("class_logits", "class_logits", [1, C], "float32", "NC")])


def build_pt2(w: dict, out: Path) -> list[dict]:
    import torch
    Policy, Backbone = torch_modules(w)
    arts = []
    s = RES[-1]
    ep = torch.export.export(Policy().eval(), (torch.zeros(1, 3, s, s), torch.zeros(1, H), torch.zeros(1, H)))
    f = out / "policy_fp32.pt2"
    torch.export.save(ep, str(f))
    arts.append(artifact_entry("policy", "policy", s, "pt2", "torch", "fp32", f, None, *_torch_specs(s, True)))
    for s in RES[:-1]:
        ep = torch.export.export(Backbone(s).eval(), (torch.zeros(1, 3, s, s),))
        f = out / f"backbone_{s}_fp32.pt2"
        torch.export.save(ep, str(f))
        arts.append(artifact_entry(f"backbone_{s}", "backbone", s, "pt2", "torch", "fp32", f, None,
                                   *_torch_specs(s, False)))
    return arts


def build_pte(w: dict, out: Path) -> list[dict]:
    import torch
    from executorch.exir import to_edge
    Policy, Backbone = torch_modules(w)
    arts = []

    def save(mod, args, f):
        prog = to_edge(torch.export.export(mod.eval(), args)).to_executorch()
        f.write_bytes(prog.buffer)

    s = RES[-1]
    f = out / "policy_fp32.pte"
    save(Policy(), (torch.zeros(1, 3, s, s), torch.zeros(1, H), torch.zeros(1, H)), f)
    arts.append(artifact_entry("policy", "policy", s, "pte", "executorch", "fp32", f, None, *_torch_specs(s, True)))
    for s in RES[:-1]:
        f = out / f"backbone_{s}_fp32.pte"
        save(Backbone(s), (torch.zeros(1, 3, s, s),), f)
        arts.append(artifact_entry(f"backbone_{s}", "backbone", s, "pte", "executorch", "fp32", f, None,
                                   *_torch_specs(s, False)))
    return arts


# ------------------------------------------------------------------------------ manifest
def artifact_entry(aid, role, res, fmt, backend, prec, path: Path, signature, ins, outs) -> dict:
    data = path.read_bytes()
    d = {"id": aid, "role": role, "resolution": res, "format": fmt, "backend": backend, "precision": prec,
         "file": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
         "inputs": [{"name": n, "role": r, "shape": sh, "dtype": dt, "layout": lay} for n, r, sh, dt, lay in ins],
         "outputs": [{"name": n, "role": r, "shape": sh, "dtype": dt, "layout": lay} for n, r, sh, dt, lay in outs]}
    if signature:
        d["signature"] = signature
    return d


def build_one(out: Path, fmt: str) -> None:
    """Build one format's artifacts and write their manifest entries to ``.entries_<fmt>.json``."""
    out.mkdir(parents=True, exist_ok=True)
    builders = {"tflite": build_tflite, "onnx": build_onnx, "pt2": build_pt2, "pte": build_pte}
    arts = builders[fmt](weights(), out)
    (out / f".entries_{fmt}.json").write_text(json.dumps(arts))


def build(out: Path, formats: list[str]) -> Path:
    """Each format in its own process (TensorFlow and torch/onnx in one process can crash)."""
    import subprocess
    from edge_runtime.manifest import Manifest
    out.mkdir(parents=True, exist_ok=True)
    w = weights()
    np.savez(out / "weights.npz", **w)
    arts: list[dict] = []
    for fmt in formats:
        ent = out / f".entries_{fmt}.json"
        ent.unlink(missing_ok=True)
        r = subprocess.run([sys.executable, __file__, "--out", str(out), "--one", fmt],
                           capture_output=True, text=True)
        if r.returncode != 0 or not ent.exists():
            print(f"skipping {fmt}: builder failed (rc {r.returncode}): {r.stderr.strip()[-400:]}", file=sys.stderr)
            continue
        arts += json.loads(ent.read_text())
        ent.unlink()
    actions = [{"kind": "resolution", "size": s, "backbone": f"backbone_{s}" if i < len(RES) - 1 else "policy"}
               for i, s in enumerate(RES)] + [{"kind": "skip", "frames": f} for f in SKIPS]
    gm = [round(1e-6 * s * s, 6) for s in RES[:-1]] + [0.0] * (1 + len(SKIPS))
    d = {"schema": 1, "name": "tiny_backends", "labels": [f"act{i}" for i in range(C)], "multi_label": False,
         "resolutions": RES, "skip_lengths": SKIPS, "actions": actions,
         "normalization": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "folded": True, "color": "RGB",
                           "resize": "area"},
         "policy": {"resolution": RES[-1], "hidden": H, "state": ["h", "c"]},
         "costs": {"unit": "GMACs (multiply-accumulates)", "policy_step": 0.0006, "actions": gm,
                   "uniform_per_frame": gm[0], "measured_with": "hand-written"},
         "sampling": {"frames_per_clip": 8, "seconds_per_step": 0.25}, "artifacts": arts,
         "training": {"made_by": "tests/edge/make_tiny_artifacts.py"}}
    m = Manifest.from_dict(d, str(out / "manifest.json"))
    return m.save(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--formats", default="tflite,onnx,pt2,pte")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        build_one(Path(a.out), a.one)
        return 0
    p = build(Path(a.out), [f.strip() for f in a.formats.split(",") if f.strip()])
    print(json.dumps({"manifest": str(p)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
