"""GPTQ weight rounding + bias correction for ExecuTorch int8 (PT2E), the twin of
``convert.weight_rounding`` (which does it on TFLite flatbuffers; the method is explained there).

Where: between calibration and ``convert_pt2e``. In the prepared graph every quantised conv /
linear has its (BN-folded) float weight behind a per-channel weight observer that holds the
weight's min / max, hence the grid ``s`` ``convert_pt2e`` will use. Here the float weight is
replaced by ``q * s`` with the integers ``q`` chosen by GPTQ on the layer's input statistics
(the float inputs of the prepared graph on calibration frames, windows taken with
``torch.nn.functional.unfold`` so strides, padding and groups are exact); the observer is not
touched, so ``s`` stays the same and ``convert_pt2e`` stores exactly ``q``. The bias absorbs the
mean error (W - q s) E[x].

Cost: the statistics pass skips the observers (a histogram observer per activation is what made
a straightforward pass slow) and keeps at most ``ROWS_PER_FRAME`` input windows per frame and
layer; depthwise layers, one small problem per channel, are solved for all channels at once.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from convert.weight_rounding import DAMP, gptq

ROWS_PER_FRAME = 1024     # input windows per frame and layer kept for E[x xᵀ] (a fixed random subset)


def _target(gm, node):
    """The attribute of ``gm`` that a get_attr / call_module node (or a dotted name) points at."""
    obj = gm
    for part in str(node if isinstance(node, str) else node.target).split("."):
        if part:
            obj = getattr(obj, part)
    return obj


def _replace(gm, target: str, value) -> None:
    """Point ``gm``'s attribute ``target`` at a new tensor. Never write into the old one: the
    exported graph shares its parameters with the model it was exported from (layers without a
    folded BN keep the model's own tensors), which must stay the float model."""
    import torch
    path, _, leaf = str(target).rpartition(".")
    owner = _target(gm, path)
    old = getattr(owner, leaf)
    if isinstance(old, torch.nn.Parameter):
        value = torch.nn.Parameter(value, requires_grad=False)
    if leaf in getattr(owner, "_parameters", {}):
        owner._parameters[leaf] = value
    elif leaf in getattr(owner, "_buffers", {}):
        owner._buffers[leaf] = value
    else:
        setattr(owner, leaf, value)


def _is_observer(mod) -> bool:
    return hasattr(mod, "calculate_qparams")


def _weight_source(gm, node):
    """(get_attr node of the weight, its observer module) for a conv / linear node, else (None, None)."""
    w = node.args[1] if len(node.args) > 1 else None
    if getattr(w, "op", None) != "call_module" or not _is_observer(_target(gm, w)):
        return None, None
    obs = _target(gm, w)
    src = w.args[0]
    return (src if src.op == "get_attr" else None), obs


def gptq_depthwise(w: np.ndarray, h: np.ndarray, scale: np.ndarray, qmax: int = 127) -> np.ndarray:
    """GPTQ for C independent rows at once: w (C, k), h (C, k, k), scale (C,). Same algorithm as
    ``convert.weight_rounding.gptq`` without column reordering (k is 9 or 25)."""
    w = np.array(w, np.float64)
    h = np.array(h, np.float64)
    c, k = w.shape
    diag = np.diagonal(h, axis1=1, axis2=2).copy()
    dead = diag <= 0
    ci, ki = np.nonzero(dead)
    h[ci, ki, ki] = 1.0
    w[dead] = 0.0
    eye = np.eye(k)[None]
    mean = np.diagonal(h, axis1=1, axis2=2).mean(1)[:, None, None]
    h = h + eye * DAMP * mean
    try:
        u = np.swapaxes(np.linalg.cholesky(np.linalg.inv(h)), 1, 2)
    except np.linalg.LinAlgError:
        h = h + eye * mean
        u = np.swapaxes(np.linalg.cholesky(np.linalg.inv(h)), 1, 2)
    s = np.asarray(scale, np.float64).reshape(-1)
    s = np.where(s > 0, s, 1.0)
    q = np.zeros(w.shape, np.int64)
    for i in range(k):
        qi = np.clip(np.round(w[:, i] / s), -qmax, qmax)
        q[:, i] = qi
        err = (w[:, i] - qi * s) / u[:, i, i]
        if i + 1 < k:
            w[:, i + 1:] -= err[:, None] * u[:, i, i + 1:]
    return q


def _conv_args(args, kwargs):
    a = list(args) + [None] * (7 - len(args))
    stride = kwargs.get("stride", a[3]) or [1, 1]
    padding = kwargs.get("padding", a[4]) or [0, 0]
    dilation = kwargs.get("dilation", a[5]) or [1, 1]
    groups = kwargs.get("groups", a[6]) or 1
    return list(stride), list(padding), list(dilation), int(groups)


def round_prepared(gm, samples: Iterable[tuple], max_samples: int = 128, seed: int = 0) -> dict:
    """Apply GPTQ + bias correction to every quantised conv2d / linear of a prepared, calibrated
    PT2E GraphModule, in place. ``samples``: positional input tuples. Returns a summary."""
    import torch
    import torch.nn.functional as F
    conv, linear = torch.ops.aten.conv2d.default, torch.ops.aten.linear.default
    layers = {}
    for n in gm.graph.nodes:
        if n.op == "call_function" and n.target in (conv, linear):
            wnode, obs = _weight_source(gm, n)
            if wnode is not None and int(getattr(obs, "ch_axis", 0)) == 0:
                layers[n.name] = (n, wnode, obs)
    stats: dict = {}
    gen = torch.Generator().manual_seed(seed)

    def keep(cols):
        if cols.shape[0] > ROWS_PER_FRAME:
            cols = cols[torch.randperm(cols.shape[0], generator=gen)[:ROWS_PER_FRAME]]
        return cols

    def record(name, target, args, kwargs):
        x = args[0].detach().float()
        if target is linear:
            cols = keep(x.reshape(-1, x.shape[-1]))
            h, s, m = cols.T @ cols, cols.sum(0), cols.shape[0]
        else:
            w = args[1]
            stride, padding, dilation, groups = _conv_args(args, kwargs)
            k = tuple(w.shape[2:])
            if k == (1, 1) and padding == [0, 0] and groups == 1:
                cols = keep(x[:, :, ::stride[0], ::stride[1]].permute(0, 2, 3, 1).reshape(-1, x.shape[1]))
                h, s, m = cols.T @ cols, cols.sum(0), cols.shape[0]
            else:
                u = F.unfold(x, k, dilation=dilation, padding=padding, stride=stride)   # N, C*kh*kw, L
                if groups == 1:
                    cols = keep(u.transpose(1, 2).reshape(-1, u.shape[1]))
                    h, s, m = cols.T @ cols, cols.sum(0), cols.shape[0]
                elif groups == x.shape[1] and w.shape[1] == 1 and w.shape[0] == x.shape[1]:   # depthwise
                    c, kk = x.shape[1], k[0] * k[1]
                    per = u.reshape(u.shape[0], c, kk, -1).permute(1, 0, 3, 2).reshape(c, -1, kk)
                    if per.shape[1] > ROWS_PER_FRAME:
                        per = per[:, torch.randperm(per.shape[1], generator=gen)[:ROWS_PER_FRAME]]
                    h, s, m = torch.bmm(per.transpose(1, 2), per), per.sum(1), per.shape[1]
                else:
                    return
        st = stats.setdefault(name, {"h": 0.0, "s": 0.0, "n": 0})
        st["h"] = st["h"] + h.double()
        st["s"] = st["s"] + s.double()
        st["n"] += m

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):
            self.current = n
            return super().run_node(n)

        def call_module(self, target, args, kwargs):
            mod = self.fetch_attr(target)
            if _is_observer(mod):
                return args[0]           # observers pass the value through; skip their statistics
            return super().call_module(target, args, kwargs)

        def call_function(self, target, args, kwargs):
            if self.current.name in layers:
                record(self.current.name, target, args, kwargs)
            return super().call_function(target, args, kwargs)

    rec = Recorder(gm)
    frames = 0
    with torch.no_grad():
        for args in samples:
            if frames >= max_samples:
                break
            rec.run(*args)
            frames += 1
    done, skipped = 0, []
    for name, (node, wnode, obs) in layers.items():
        st = stats.get(name)
        if st is None or st["n"] == 0:
            skipped.append(name)
            continue
        wparam = _target(gm, wnode)
        w = wparam.detach().double().cpu().numpy()
        o = w.shape[0]
        w2 = w.reshape(o, -1)
        scale, _ = obs.calculate_qparams()
        scale = np.broadcast_to(scale.detach().double().cpu().numpy().reshape(-1), (o,)).copy()
        qmax = int(obs.quant_max)
        h = (st["h"] / st["n"]).numpy()
        mean_x = (st["s"] / st["n"]).numpy()
        if h.ndim == 3:                                  # depthwise: one k x k problem per channel
            q = gptq_depthwise(w2, h, scale, qmax)
            shift = np.sum((w2 - q * scale[:, None]) * mean_x, axis=1)
        else:
            q = gptq(w2, h, scale, qmax)
            shift = (w2 - q * scale[:, None]) @ mean_x
        new = torch.from_numpy((q * scale[:, None]).reshape(w.shape)).to(wparam.dtype)
        _replace(gm, wnode.target, new)
        b = node.args[2] if len(node.args) > 2 else None
        if getattr(b, "op", "") == "get_attr":
            bt = _target(gm, b)
            _replace(gm, b.target, bt.detach() + torch.from_numpy(shift).to(bt.dtype))
        done += 1
    return {"method": "gptq+bias_correction", "layers": done, "of": len(layers), "frames": frames,
            "skipped": skipped}
