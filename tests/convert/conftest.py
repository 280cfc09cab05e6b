"""One tiny export per test session (all formats), shared by the tests in this folder."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class TinyExport:
    out: Path
    returncode: int
    log: str


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory) -> TinyExport:
    work = tmp_path_factory.mktemp("convert")
    out = work / "tiny"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    # a relative --out from another working directory (onnx2tf runs with its own cwd)
    proc = subprocess.run([sys.executable, "-m", "convert.export_all", "--tiny", "--out", "tiny"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=900)
    return TinyExport(out, proc.returncode, proc.stdout + "\n" + proc.stderr)
