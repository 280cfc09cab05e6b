"""scripts/bench_gpu_batch.py: the action mix it times, and its refusals (the timing needs CUDA)."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_gpu_batch", ROOT / "scripts" / "bench_gpu_batch.py")
gb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gb)


def test_mix_from_a_bench_histogram_counts_skips_as_the_lowest_resolution(tmp_path):
    p = tmp_path / "bench.json"
    p.write_text(json.dumps({"methods": {"adaptive": {"actions": {"res224": 2, "res128": 3, "res48": 4,
                                                                   "skip1": 1}}}}))
    mix = gb.parse_mix(None, str(p), [224, 128, 48])
    assert mix == pytest.approx({224: 0.2, 128: 0.3, 48: 0.5})


def test_mix_argument_errors_name_the_value():
    assert gb.parse_mix("224:0.25,128:0.5", None, [224, 128, 48]) == {224: 0.25, 128: 0.5}
    with pytest.raises(ValueError, match="exactly one"):
        gb.parse_mix(None, None, [224])
    with pytest.raises(ValueError, match="'224-0.3'"):
        gb.parse_mix("224-0.3", None, [224])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU refusal")
def test_without_cuda_it_refuses_cleanly(capsys):
    assert gb.main(["--checkpoint", "x.pt", "--mix", "224:1"]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err
