"""GPTQ weight rounding + bias correction for ExecuTorch int8 (PT2E), the twin of
``convert.weight_rounding`` (which does it on TFLite flatbuffers; the method is explained there).

Where: between calibration and ``convert_pt2e``. In the prepared graph every conv / linear has
its (BN-folded) float weight behind a per-channel min-max observer; the int8 weights
``convert_pt2e`` will make are round(w / s) with s = max|w| / 127 per output channel. Here the
float weights are replaced by q * s with q chosen by GPTQ on the layer's input statistics (the
float inputs of the prepared model on calibration frames, taken with ``torch.nn.functional.
unfold``, so strides, padding and groups are exact), the bias absorbs the mean error, and the
weight observers are re-run: ``convert_pt2e`` then produces exactly q on the same grid.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from convert.weight_rounding import gptq


def _target(gm, node):
    obj = gm
    for part in node.target.split("."):
        obj = getattr(obj, part)
    return obj


def _weight_source(gm, node):
    """(get_attr node of the weight, its observer module or None) for a conv / linear node."""
    w = node.args[1]
    obs = None
    if w.op == "call_module":
        obs = _target(gm, w)
        w = w.args[0]
    return (w if w.op == "get_attr" else None), obs


def round_prepared(gm, samples: Iterable[tuple], max_samples: int = 128) -> dict:
    """Apply GPTQ + bias correction to every conv2d / linear of a prepared (observed, calibrated)
    PT2E GraphModule, in place. ``samples``: positional input tuples. Returns a summary."""
    import torch
    import torch.nn.functional as F
    conv, linear = torch.ops.aten.conv2d.default, torch.ops.aten.linear.default
    layers = [n for n in gm.graph.nodes if n.op == "call_function" and n.target in (conv, linear)]
    stats: dict = {}

    class Recorder(torch.fx.Interpreter):
        def call_function(self, target, args, kwargs):
            if target in (conv, linear):
                node = self.current
                x = args[0].detach().double()
                if target is linear:
                    cols = x.reshape(-1, x.shape[-1])
                    h, s, m = cols.T @ cols, cols.sum(0), cols.shape[0]
                else:
                    w = args[1]
                    a = list(args) + [None] * (7 - len(args))
                    stride = kwargs.get("stride", a[3]) or [1, 1]
                    padding = kwargs.get("padding", a[4]) or [0, 0]
                    dilation = kwargs.get("dilation", a[5]) or [1, 1]
                    groups = kwargs.get("groups", a[6]) or 1
                    k = tuple(w.shape[2:])
                    u = F.unfold(x, k, dilation=dilation, padding=padding, stride=stride)  # N, C*kh*kw, L
                    if groups == 1:
                        cols = u.transpose(1, 2).reshape(-1, u.shape[1])
                        h, s, m = cols.T @ cols, cols.sum(0), cols.shape[0]
                    elif groups == x.shape[1] and w.shape[1] == 1:     # depthwise
                        c, kk = x.shape[1], k[0] * k[1]
                        per = u.reshape(u.shape[0], c, kk, -1).permute(1, 0, 3, 2).reshape(c, -1, kk)
                        h, s, m = torch.einsum("cmk,cml->ckl", per, per), per.sum(1), per.shape[1]
                    else:
                        return super().call_function(target, args, kwargs)
                st = stats.setdefault(node.name, {"h": 0, "s": 0, "n": 0})
                st["h"] = st["h"] + h
                st["s"] = st["s"] + s
                st["n"] += m
            return super().call_function(target, args, kwargs)

        def run_node(self, n):
            self.current = n
            return super().run_node(n)

    rec = Recorder(gm)
    frames = 0
    with torch.no_grad():
        for args in samples:
            if frames >= max_samples:
                break
            rec.run(*args)
            frames += 1
    done = 0
    for node in layers:
        st = stats.get(node.name)
        wnode, obs = _weight_source(gm, node)
        if st is None or wnode is None or obs is None or st["n"] == 0:
            continue
        wparam = _target(gm, wnode)
        w = wparam.detach().double().cpu().numpy()
        o = w.shape[0]
        w2 = w.reshape(o, -1)
        qmax = int(getattr(obs, "quant_max", 127))
        scale = np.maximum(np.abs(w2).max(1), 1e-12) / qmax
        h = (st["h"] / st["n"]).numpy()
        mean_x = (st["s"] / st["n"]).numpy()
        if h.ndim == 3:                                  # depthwise: one problem per channel
            q = np.stack([gptq(w2[c:c + 1], h[c], scale[c:c + 1], qmax, act_order=False)[0] for c in range(o)])
            shift = np.sum((w2 - q * scale[:, None]) * mean_x, axis=1)
        else:
            q = gptq(w2, h, scale, qmax, act_order=False)
            shift = (w2 - q * scale[:, None]) @ mean_x
        # keep each row's grid: its largest weight stays at +-qmax (the observer's scale)
        top = np.abs(w2).argmax(1)
        rows = np.arange(o)
        q[rows, top] = np.sign(w2[rows, top]) * qmax
        new = (q * scale[:, None]).reshape(w.shape)
        with torch.no_grad():
            wparam.copy_(torch.from_numpy(new).to(wparam.dtype))
            if len(node.args) > 2 and node.args[2] is not None and getattr(node.args[2], "op", "") == "get_attr":
                b = _target(gm, node.args[2])
                b.add_(torch.from_numpy(shift).to(b.dtype))
            if hasattr(obs, "reset_min_max_vals"):
                obs.reset_min_max_vals()
            obs(wparam)
        done += 1
    return {"method": "gptq+bias_correction", "layers": done, "of": len(layers), "frames": frames}
