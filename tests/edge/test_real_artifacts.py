"""The runtime on a real exported tiny model (``--artifacts DIR`` / ``ARNET_TEST_ARTIFACTS``, made by
``python -m convert.export_all --tiny --out DIR``): every backend x precision the folder has and
this venv can run loads (sha256 checked), streams, predicts clips; fp32 engines agree; the CLIs
work end to end; a golden trace recorded from it replays. Skipped without artifacts."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from edge_helpers import json_lines, run_script, write_video

from edge_runtime import golden
from edge_runtime.backends import installed_backends
from edge_runtime.manifest import load_manifest
from edge_runtime.pipeline import AdaptivePipeline
from edge_runtime.sources import open_source


def combos(folder):
    m = load_manifest(folder)
    have = set(installed_backends())
    out = []
    for be in m.backends():
        if be not in have:
            continue
        if be == "executorch" and importlib.util.find_spec("torch") is None:
            continue
        for prec in m.precisions(be):
            out.append((be, prec))
    if not out:
        pytest.skip(f"no backend of {m.backends()} is installed here")
    return out


def frames_of(uri, sps, n=None):
    out = [sf.frame for sf in open_source(uri, sps).frames()]
    return out[:n] if n else out


def test_manifest_verifies(tiny_artifacts):
    m = load_manifest(tiny_artifacts, verify=True)
    assert m.artifacts and m.num_resolutions >= 2


def test_every_backend_and_precision_streams(tiny_artifacts):
    m = load_manifest(tiny_artifacts)
    frames = frames_of("synthetic://bars?size=160x120&frames=240", m.sampling["seconds_per_step"])
    for be, prec in combos(tiny_artifacts):
        p = AdaptivePipeline(tiny_artifacts, backend=be, precision=prec, threads=1, device="cpu")
        evs = [p.step(f if p.needs_frame() else None) for f in frames]
        assert {e.kind for e in evs} <= {"resolution", "skip", "skipped"}
        probs, cevs = p.predict_clip(frames[: m.sampling["frames_per_clip"]])
        assert probs is not None and np.all(np.isfinite(probs)), (be, prec)
        if not m.multi_label:
            assert abs(probs.sum() - 1) < 1e-9
        assert len(cevs) == m.sampling["frames_per_clip"]


def test_fp32_engines_agree(tiny_artifacts):
    fp32 = [be for be, prec in combos(tiny_artifacts) if prec == "fp32"]
    if len(fp32) < 2:
        pytest.skip(f"only {fp32} fp32 engines here")
    m = load_manifest(tiny_artifacts)
    frames = frames_of("synthetic://noise?size=128x128&frames=200", m.sampling["seconds_per_step"],
                       n=m.sampling["frames_per_clip"])
    res = {}
    for be in fp32:
        p = AdaptivePipeline(tiny_artifacts, backend=be, precision="fp32", threads=1, device="cpu")
        probs, evs = p.predict_clip(frames)
        res[be] = ([e.action for e in evs], probs)
    ref_be = fp32[0]
    for be, (acts, probs) in res.items():
        assert acts == res[ref_be][0], (be, ref_be)
        np.testing.assert_allclose(probs, res[ref_be][1], atol=1e-3, err_msg=f"{be} vs {ref_be}")


def test_live_headless_on_the_real_model(tiny_artifacts):
    be, prec = combos(tiny_artifacts)[0]
    r = run_script(["edge_runtime/live.py", "--model", str(tiny_artifacts), "--backend", be, "--precision", prec,
                    "--source", "synthetic://bars?size=160x120", "--headless", "--max-steps", "20",
                    "--threads", "1", "--no-power", "--quiet", "--device", "cpu"])
    assert r.returncode == 0, r.stderr
    recs = json_lines(r.stdout)
    assert len(recs) == 21 and "summary" in recs[-1]
    assert recs[-1]["summary"]["steps"] == 20


def test_bench_on_the_real_model(tiny_artifacts, tmp_path):
    m = load_manifest(tiny_artifacts)
    write_video(tmp_path / m.labels[0] / "a.mp4", frames=24, fps=12)
    be, prec = combos(tiny_artifacts)[0]
    out = tmp_path / "bench.json"
    r = run_script(["edge_runtime/bench.py", "--model", str(tiny_artifacts), "--backend", be, "--precision", prec,
                    "--video", str(tmp_path), "--json", str(out), "--threads", "1", "--device", "cpu"])
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    assert res["methods"]["adaptive"]["labelled_clips"] == 1 and res["speedup"] > 0


def test_golden_trace_from_the_real_model_replays(tiny_artifacts, tmp_path):
    be, prec = combos(tiny_artifacts)[0]
    p = AdaptivePipeline(tiny_artifacts, backend=be, precision=prec, threads=1, device="cpu")
    clips = [open_source("synthetic://bars?size=128x96&frames=160", p.seconds_per_step).frames(p.needs_frame),
             open_source("synthetic://noise?size=96x96&frames=80", p.seconds_per_step).frames(p.needs_frame)]
    tr = golden.record(p, clips, name="real")
    assert golden.replay(tr) == []
    golden.write(tr, tmp_path / "real.json")



def _rows(m, n, seed):
    """n policy input rows of this model."""
    rng = np.random.default_rng(seed)
    s = m.resolutions[-1]
    return {"frame": rng.integers(0, 256, (n, s, s, 3), dtype=np.uint8),
            "h": rng.standard_normal((n, m.hidden)).astype(np.float32) * 0.3,
            "c": rng.standard_normal((n, m.hidden)).astype(np.float32) * 0.3}


def _check_rows(eng, x, n, tol):
    batched = eng.run_batch(x, n)
    for k in range(n):
        for role, v in eng.run({r: a[k:k + 1] for r, a in x.items()}).items():
            np.testing.assert_allclose(batched[role][k], v.reshape(-1), rtol=tol, atol=tol)


def _check_streams(ms, m, single, tol):
    """3 streams of 24 sampled frames through ``ms`` vs ``single()`` one-stream pipelines: same
    actions and labels, scores within ``tol``; the batches mix branches and skips."""
    sps = m.sampling["seconds_per_step"]
    streams = [frames_of(f"synthetic://{pat}?size={160 + 16 * i}x120&frames=400&seed={i}", sps, 24)
               for i, pat in enumerate(("bars", "noise", "bars"))]
    got = {i: [] for i in range(3)}
    for t in range(24):
        for i, e in ms.step({i: streams[i][t] if ms.needs_frame(i) else None for i in range(3)}).items():
            got[i].append(e)
    kinds = {(e.kind, e.resolution) for evs in got.values() for e in evs}
    assert ("resolution", m.resolutions[0]) in kinds and ("skip", None) in kinds, kinds
    for i in range(3):
        p = single()
        ref = [p.step(f if p.needs_frame() else None) for f in streams[i]]
        assert [(e.action, e.label) for e in got[i]] == [(e.action, e.label) for e in ref]
        np.testing.assert_allclose(ms.clip_scores(i), p.clip_scores(), rtol=0, atol=tol)


def _torch_tiny(folder):
    """The tiny model's manifest, or a skip where torch or its pt2 artifacts are missing."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("the torch backend needs torch (not in the device venvs)")
    m = load_manifest(folder)
    if "torch" not in m.backends():
        pytest.skip("no pt2 artifacts in this folder")
    return m


def test_torch_batches_and_streams_match_one_stream(tiny_artifacts):
    """pt2 artifacts take a dynamic batch: run_batch rows equal batch-1 runs, and B streams through
    MultiStreamPipeline take the actions and labels of B one-stream pipelines."""
    m = _torch_tiny(tiny_artifacts)
    from edge_runtime.multistream import MultiStreamPipeline
    ms = MultiStreamPipeline(tiny_artifacts, streams=3, backend="torch", device="cpu", threads=1)
    pol = ms.pipe.policy
    assert pol.max_batch == 256 and m.find("policy", "torch", "fp32").extra["max_batch"] == 256
    x = _rows(m, 5, 0)
    _check_rows(pol, x, 5, 1e-5)
    with pytest.raises(ValueError, match=r"input 'h' for 5 rows must be float32 \[5, "):
        pol.run_batch({**x, "h": x["h"][:2]}, 5)
    _check_streams(ms, m, lambda: AdaptivePipeline(tiny_artifacts, backend="torch", device="cpu", threads=1),
                   1e-5)


def test_torch_cuda_graph_buckets_equal_rows(tiny_artifacts):
    """On CUDA, run_batch replays one captured graph per bucket (3 rows -> the 4-row graph, padded)."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from edge_runtime.multistream import MultiStreamPipeline
    m = load_manifest(tiny_artifacts)
    ms = MultiStreamPipeline(tiny_artifacts, streams=4, backend="torch", device="cuda")
    ms.warm()
    pol = ms.pipe.policy
    assert sorted(pol._batch_graphs) == [2, 4] and pol.cuda_graph   # one row: the graph of load()
    for n in (1, 3, 4):
        _check_rows(pol, _rows(m, n, n), n, 1e-4)
    _check_streams(MultiStreamPipeline(tiny_artifacts, streams=3, backend="torch", device="cuda"), m,
                   lambda: AdaptivePipeline(tiny_artifacts, backend="torch", device="cuda"), 1e-4)


class _ReplayOnCpu:
    """What a captured CUDA graph is to ``TorchBackend._run_rows``: fixed input buffers, and outputs
    that ``replay()`` rewrites in place. Runs the program eagerly on the CPU."""

    def __init__(self, call, bufs):
        self.call, self.bufs = call, bufs
        self.outs = tuple(o.clone() for o in call(bufs))
        self.replays = 0

    def replay(self):
        for o, new in zip(self.outs, self.call(self.bufs)):
            o.copy_(new)
        self.replays += 1


def _graphs_on_cpu(eng):
    """Give a CPU TorchBackend what load() gives it on CUDA: the one-row graph, and graph capture."""
    def capture(bufs):
        g = _ReplayOnCpu(eng._call, bufs)
        return g, g.outs
    eng._capture, eng._use_graphs = capture, True
    eng._graph, eng._static_out = capture(eng._static_in)


def test_torch_graph_bucket_path_on_the_cpu(tiny_artifacts):
    """The CUDA-graph batch path (buckets, zero padding, first-n outputs, one capture per bucket)
    with the capture replaced by a CPU stand-in: the bookkeeping is checked where no GPU is."""
    m = _torch_tiny(tiny_artifacts)
    from edge_runtime.multistream import MultiStreamPipeline
    ms = MultiStreamPipeline(tiny_artifacts, streams=5, backend="torch", device="cpu", threads=1)
    for eng in ms.pipe.models.values():
        _graphs_on_cpu(eng)
    ms.warm()
    pol = ms.pipe.policy
    # 5 streams: rows 2, 4 and 5 -> 8 are buckets; one row replays the one-row graph of load()
    assert sorted(pol._batch_graphs) == [2, 4, 8]
    replays, one = pol._batch_graphs[8][0].replays, pol._graph.replays
    for n in (5, 4, 3, 1):
        _check_rows(pol, _rows(m, n, n), n, 1e-5)
    assert pol._batch_graphs[8][0].replays == replays + 1         # the 5-row call replayed the 8-row graph
    assert pol._graph.replays == one + 5 + 4 + 3 + 1 + 1            # _check_rows' row-by-row runs, and n=1
    g4, _, bufs4 = pol._batch_graphs[4]
    assert all(int(b[3:].count_nonzero()) == 0 for b in bufs4)     # 3 rows after 4: the 4th row zeroed
    assert all(int(b[:3].count_nonzero()) > 0 for b in bufs4)
    three = MultiStreamPipeline(tiny_artifacts, streams=3, backend="torch", device="cpu", threads=1)
    for eng in three.pipe.models.values():
        _graphs_on_cpu(eng)
    _check_streams(three, m, lambda: AdaptivePipeline(tiny_artifacts, backend="torch", device="cpu", threads=1),
                   1e-5)
    assert sorted(three.pipe.policy._batch_graphs)[-1] == 4        # captured on first use, no warm()


@pytest.mark.parametrize("backend,precision,tol", [("litert", "fp32", 0.0), ("litert", "fp16", 0.0),
                                                   ("litert", "int8", 0.0), ("onnxruntime", "fp32", 1e-5)])
def test_batches_equal_rows_and_streams_equal_one_stream(tiny_artifacts, backend, precision, tol):
    """LiteRT (one interpreter per row count, bit-exact) and ONNX Runtime (a dynamic batch) run_batch
    give each row's batch-1 output, more rows than max_batch are split, and B streams through
    MultiStreamPipeline equal one-stream pipelines."""
    from edge_runtime.multistream import MultiStreamPipeline
    m = load_manifest(tiny_artifacts)
    if backend not in m.backends() or backend not in installed_backends() \
            or precision not in m.precisions(backend):
        pytest.skip(f"no {backend}/{precision} here")
    ms = MultiStreamPipeline(tiny_artifacts, streams=3, backend=backend, precision=precision, threads=1)
    pol = ms.pipe.policy
    assert pol.max_batch > 1
    x = _rows(m, 5, 1)
    _check_rows(pol, x, 5, tol)
    pol.max_batch = 2                                  # 5 rows -> calls of 2, 2 and 1
    _check_rows(pol, x, 5, tol)
    if backend == "litert":
        assert sorted(pol._batch) == [2, 5]            # one interpreter per row count used
    pol.max_batch = 16
    with pytest.raises(ValueError, match="'h' has 2 rows, expected 4"):
        pol.run_batch({**{r: v[:4] for r, v in x.items()}, "h": x["h"][:2]}, 4)
    _check_streams(ms, m, lambda: AdaptivePipeline(tiny_artifacts, backend=backend, precision=precision,
                                                   threads=1), tol)
