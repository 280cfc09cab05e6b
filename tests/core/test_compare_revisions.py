"""scripts/compare_revisions.py: one benchmark on an older revision and on this tree, alternating."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("compare_revisions", ROOT / "scripts" / "compare_revisions.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_pick_follows_dotted_paths_and_list_indices():
    mod = _load()
    d = {"rows": [{"a": 1.5}, {"a": 2.5}], "m": {"x": {"y": 3}}}
    assert mod.pick(d, "rows.1.a") == 2.5 and mod.pick(d, "rows.-1.a") == 2.5 and mod.pick(d, "m.x.y") == 3
    assert mod.pick(d, "rows.2.a") is None and mod.pick(d, "m.z") is None and mod.pick(d, "m.x.y.z") is None


@pytest.fixture()
def fake_model_dir(tmp_path) -> Path:
    """A manifest folder without artifacts (the stand-in engines need only the manifest)."""
    from edge_runtime.backends.fake import fake_manifest
    d = tmp_path / "fake_model"
    d.mkdir()
    fake_manifest().save(d)
    return d


def test_compares_a_revision_with_this_tree(tmp_path, fake_model_dir):
    """HEAD against the working tree with the host-tick benchmark (stand-in engines, a fake
    manifest): each round runs both, the summary's medians and ratio come from the runs."""
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    out = tmp_path / "cmp.json"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "compare_revisions.py"), "--old", "HEAD",
                           "--rounds", "2", "--key", "rows.0.adaptive_ms", "--json", str(out), "--",
                           "scripts/bench_host_tick.py", "--model", str(fake_model_dir), "--streams", "1",
                           "--frame", "64x64", "--workers", "1", "--ticks", "20", "--repeat", "1",
                           "--mix", "res64=0.5,skip2=0.5"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())
    assert [r["round"] for r in res["rounds"]] == [1, 2] and res["same_script"] is True
    s = res["summary"]["rows.0.adaptive_ms"]
    assert len(s["old"]) == len(s["new"]) == 2 and s["new_over_old"] == pytest.approx(s["new_median"] / s["old_median"])
    assert "new / old" in proc.stdout


def test_bad_revision_and_missing_script_are_named(tmp_path):
    mod = _load()
    with pytest.raises(SystemExit, match="--old 'no-such-rev': git archive failed"):
        mod.main(["--old", "no-such-rev", "--json", str(tmp_path / "o.json"), "--", "scripts/bench_host_tick.py"])
    with pytest.raises(SystemExit, match="SCRIPT 'scripts/nope.py' is not a file"):
        mod.main(["--old", "HEAD", "--json", str(tmp_path / "o.json"), "--", "scripts/nope.py"])
    with pytest.raises(SystemExit, match="usage"):
        mod.main(["--old", "HEAD", "--json", str(tmp_path / "o.json")])
