"""Soak: 10 000 sampled frames of synthetic:// through the full pipeline (fake engine) with flat
memory — nothing may grow with the stream's length."""

from __future__ import annotations

import gc
import os
import time
import tracemalloc

from edge_runtime.backends.fake import fake_manifest
from edge_runtime.pipeline import AdaptivePipeline
from edge_runtime.sources import open_source


def _rss_kb() -> int | None:
    try:
        with open(f"/proc/{os.getpid()}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def test_soak_10000_steps_flat_memory():
    m = fake_manifest(num_classes=20, hidden=64, frames_per_clip=16)
    p = AdaptivePipeline(m, backend="fake", seed=5)
    src = open_source("synthetic://bars?size=160x120&fps=4", m.sampling["seconds_per_step"])  # endless
    n = 10_000
    kinds: dict = {}
    t0 = time.perf_counter()
    it = p.run(src)
    for _ in range(1_000):
        next(it)
    # tracemalloc sees only what is allocated after start(): run past the 4 096-sample latency
    # rings once so everything still alive was allocated under tracing, then compare
    tracemalloc.start()
    for _ in range(4_500):
        next(it)
    gc.collect()
    base = tracemalloc.take_snapshot()
    start_mem = tracemalloc.get_traced_memory()[0]
    rss0 = _rss_kb()
    for i in range(4_500):
        ev = next(it)
        kinds[ev.kind] = kinds.get(ev.kind, 0) + 1
        if i == 2_250:
            mid = tracemalloc.get_traced_memory()[0]
    gc.collect()
    cur, peak = tracemalloc.get_traced_memory()
    growth = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(base, "filename"))
    tracemalloc.stop()
    rss1 = _rss_kb()
    dt = time.perf_counter() - t0
    print(f"soak: {n} steps in {dt:.1f}s ({n / dt:.0f} steps/s), traced growth {growth / 1024:.1f} KiB "
          f"(traced {start_mem / 1024:.0f} -> {mid / 1024:.0f} -> {cur / 1024:.0f} KiB, peak {peak / 1024:.0f} KiB), "
          f"RSS {rss0} -> {rss1} kB, kinds {kinds}")
    assert p.steps == n and len(kinds) == 3
    assert growth < 32 * 1024                 # 4 500 more steps: (almost) nothing retained
    assert cur - mid < 16 * 1024
    if rss0 and rss1:
        assert rss1 - rss0 < 16 * 1024        # < 16 MB RSS (allocator noise) over 4 500 steps


def test_multistream_soak_flat_memory():
    """3 batched streams for 3 000 ticks (9 000 stream frames): nothing grows with the run."""
    from edge_runtime.multistream import MultiStreamPipeline, next_tick
    m = fake_manifest(num_classes=20, hidden=64, frames_per_clip=16)
    ms = MultiStreamPipeline(m, 3, backend="fake", seed=5)
    sps = m.sampling["seconds_per_step"]
    srcs = [open_source(f"synthetic://{p}?size=160x120&fps=4", sps) for p in ("bars", "noise", "flat")]
    gens = {i: s.frames(lambda i=i: ms.needs_frame(i)) for i, s in enumerate(srcs)}

    def ticks(n):
        for _ in range(n):
            ms.step({i: sf.frame for i, sf in next_tick(gens).items()})

    ticks(500)
    tracemalloc.start()
    ticks(500)
    gc.collect()
    base = tracemalloc.take_snapshot()
    ticks(1_000)
    mid = tracemalloc.get_traced_memory()[0]
    ticks(1_000)
    gc.collect()
    cur = tracemalloc.get_traced_memory()[0]
    growth = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(base, "filename"))
    tracemalloc.stop()
    print(f"multistream soak: 3000 ticks, traced growth {growth / 1024:.1f} KiB, {mid / 1024:.0f} -> "
          f"{cur / 1024:.0f} KiB")
    assert ms.steps == 3_000 and list(ms.t_index) == [3_000] * 3
    assert growth < 32 * 1024 and cur - mid < 16 * 1024
