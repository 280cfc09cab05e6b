"""PyTorch backend for GPUs: a ``pt2`` artifact (``torch.export.save``) run eagerly, and on CUDA
replayed from one captured CUDA graph per model with static input/output buffers.

Batches (``run_batch``, the multi-stream runtime): an artifact exported with a dynamic batch
(``extra.max_batch``) takes up to that many rows per call. On CUDA with graphs, one graph per
bucket (2, 4, 8, … rows, captured on first use; one row replays the batch-1 graph of ``load``);
a call pads its rows to the bucket with zeros and keeps the first n outputs. On the CPU it runs the n rows eagerly.

The exported program takes the artifact's inputs positionally in the manifest's ``inputs`` order
and returns a tensor (one output) or a tuple in the manifest's ``outputs`` order. Without CUDA
(or with ``device="cpu"``) it runs on the CPU, no graphs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.backends import BackendError, BackendOptions
from edge_runtime.backends.base import AdaptedModel


class TorchBackend(AdaptedModel):
    name = "torch"

    def __init__(self) -> None:
        self.device = "cpu"
        self.cuda_graph = False
        self._graph = None

    def load(self, path: Any, artifact, options: BackendOptions | None = None) -> None:
        options = options or BackendOptions()
        try:
            import torch
        except ImportError as e:
            raise BackendError(f"the torch backend needs PyTorch: {e}") from None
        self._torch = torch
        path = Path(path)
        self._artifact_id = artifact.id
        dev = options.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dev.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError(f"device {dev!r} requested but torch sees no CUDA device "
                               f"(torch {torch.__version__}); use device 'cpu'")
        self.device = dev
        if dev == "cpu" and options.threads:
            torch.set_num_threads(int(options.threads))
        try:
            ep = torch.export.load(str(path))
        except Exception as e:
            raise BackendError(f"{path}: torch.export.load failed ({type(e).__name__}: {e})") from None
        if dev != "cpu":
            try:   # device constants baked into the graph (torch.export records them on the CPU)
                from torch.export.passes import move_to_device_pass
                ep = move_to_device_pass(ep, dev)
            except ImportError:
                pass
        mod = ep.module()
        try:
            mod = mod.to(dev)
        except Exception as e:
            raise BackendError(f"{path}: cannot move the program to {dev} ({e})") from None
        self._mod = mod
        self._tensors_from_manifest(artifact, f"{path} ({artifact.id})")
        self._build_adapters(options.normalization)
        # static input buffers: every run copies into them (what a captured graph reads)
        self._static_in = [torch.zeros(tuple(t.shape), dtype=_torch_dtype(torch, t.dtype), device=dev)
                           for t in self._inputs]
        self.max_batch = max(1, int((artifact.extra or {}).get("max_batch") or 1))
        self._use_graphs = dev.startswith("cuda") and options.cuda_graphs
        self._batch_graphs: dict[int, tuple] = {}   # bucket rows -> (graph, inputs, outputs)
        if self._use_graphs:
            self._graph, self._static_out = self._capture(self._static_in)
            self.cuda_graph = True

    # ------------------------------------------------------------------ internals
    def _call(self, args):
        out = self._mod(*args)
        if not isinstance(out, (tuple, list)):
            out = (out,)
        if len(out) != len(self._outputs):
            raise BackendError(f"torch {self._artifact_id}: program returned {len(out)} outputs, "
                               f"the manifest lists {len(self._outputs)}")
        return out

    def _capture(self, static_in: list) -> tuple:
        """(graph, outputs) of one call on ``static_in`` (the buffers a replay reads)."""
        torch = self._torch
        with torch.inference_mode():
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3):  # warm-up (cuDNN autotune, lazy init) off the capture
                    self._call(static_in)
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                out = self._call(static_in)
        return g, out

    def run(self, inputs: dict) -> dict:
        torch = self._torch
        feed = self._adapt_inputs(inputs)
        with torch.inference_mode():
            for buf, t in zip(self._static_in, self._inputs):
                buf.copy_(torch.from_numpy(feed[t.name]), non_blocking=False)
            if self._graph is not None:
                self._graph.replay()
                outs = self._static_out
            else:
                outs = self._call(self._static_in)
            res = {}
            for t, o in zip(self._outputs, outs):
                arr = o.detach().to("cpu")
                if arr.dtype == torch.bfloat16:
                    arr = arr.float()
                res[t.role] = self._out_adapt[t.role](arr.numpy())
        return res


    # ------------------------------------------------------------------ batches
    def _batch_feed(self, inputs: dict, n: int) -> list:
        """Stacked role inputs -> contiguous arrays in the program's input order, checked."""
        feed = []
        for t in self._inputs:
            if t.role not in inputs:
                raise BackendError(f"torch {self._artifact_id}: missing input role {t.role!r}; needs "
                                   f"{[u.role for u in self._inputs]}")
            want = (n,) + tuple(t.shape[1:])
            x = np.ascontiguousarray(inputs[t.role], dtype=t.dtype) if t.role != "frame" \
                else np.ascontiguousarray(inputs[t.role])
            if x.dtype != t.dtype or tuple(x.shape) != want:
                raise ValueError(f"torch {self._artifact_id}: input {t.role!r} for {n} rows must be "
                                 f"{t.dtype} {list(want)}, got {x.dtype} {list(x.shape)}")
            feed.append(x)
        return feed

    def _run_rows(self, inputs: dict, n: int) -> dict:
        torch = self._torch
        feed = self._batch_feed(inputs, n)
        with torch.inference_mode():
            if self._use_graphs:
                rows = graph_bucket(n, self.max_batch)
                if rows not in self._batch_graphs:
                    bufs = [torch.zeros((rows,) + tuple(t.shape[1:]), dtype=_torch_dtype(torch, t.dtype),
                                        device=self.device) for t in self._inputs]
                    self._batch_graphs[rows] = (*self._capture(bufs), bufs)
                g, outs, bufs = self._batch_graphs[rows]
                for buf, x in zip(bufs, feed):
                    buf[:n].copy_(torch.from_numpy(x))
                    if n < rows:
                        buf[n:].zero_()
                g.replay()
            else:
                outs = self._call([torch.from_numpy(x).to(self.device) for x in feed])
            res = {}
            for t, o in zip(self._outputs, outs):
                arr = o[:n].detach().to("cpu")
                if arr.dtype == torch.bfloat16:
                    arr = arr.float()
                res[t.role] = self._out_adapt[t.role](arr.numpy())
        return res


def graph_bucket(n: int, max_batch: int) -> int:
    """Rows of the CUDA graph that serves n rows: the next power of two, at most ``max_batch``."""
    if not 1 <= n <= max_batch:
        raise ValueError(f"{n} rows: a graph bucket holds 1 to {max_batch}")
    return min(max_batch, 1 << (n - 1).bit_length())


def _torch_dtype(torch, dt: np.dtype):
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float16): torch.float16,
            np.dtype(np.uint8): torch.uint8, np.dtype(np.int8): torch.int8,
            np.dtype(np.int32): torch.int32, np.dtype(np.int64): torch.int64}[np.dtype(dt)]
