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
    out = tmp_path_factory.mktemp("convert") / "tiny"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-m", "convert.export_all", "--tiny", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    return TinyExport(out, proc.returncode, proc.stdout + "\n" + proc.stderr)
