"""The example scripts run as a user would run them (fake engines: no model files)."""

from __future__ import annotations

import re

from edge_helpers import run_script


def test_adaptive_stream_example():
    r = run_script(["examples/adaptive_stream.py", "--fake"])
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\d+ steps, GMACs/frame [\d.]+ vs uniform", r.stdout, re.M), r.stdout[-500:]


def test_multi_stream_example_runs_every_stream_to_its_end():
    r = run_script(["examples/multi_stream.py", "--fake"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    per = {i: [ln for ln in lines if ln.startswith(f"stream {i} t=")] for i in (0, 1)}
    # 200 and 120 frames at 30 fps, one sampled frame per 0.25 s: 27 and 16 sampled frames
    assert (len(per[0]), len(per[1])) == (27, 16), (len(per[0]), len(per[1]))
    assert sum(ln.startswith("stream ") and "final scores [" in ln for ln in lines) == 2
