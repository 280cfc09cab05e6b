"""scripts/pip_install.sh: the venv targets' installer retries a failed pip run and stops on success.

A fake "python" stands in for the venv's interpreter: it records each call and fails the first
calls, so the retry loop runs without network or sleeping (PIP_INSTALL_BACKOFF_S=0).
"""
import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "pip_install.sh"


def _fake_python(tmp_path: Path, fail_first: int, help_text: str) -> Path:
    py = tmp_path / "python"
    py.write_text(f"""#!/usr/bin/env bash
# called as: python -m pip install ARGS...
if [ "$4" = "--help" ]; then echo "{help_text}"; exit 0; fi
echo "$*" >> "{tmp_path}/calls"
n=$(wc -l < "{tmp_path}/calls")
[ "$n" -le {fail_first} ] && exit 7
exit 0
""")
    py.chmod(0o755)
    return py


def _run(py: Path, attempts: int, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PIP_INSTALL_ATTEMPTS=str(attempts), PIP_INSTALL_BACKOFF_S="0")
    return subprocess.run(["bash", str(SCRIPT), str(py), *args], env=env, capture_output=True,
                          text=True, timeout=60)


def _calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls").read_text().splitlines()


def test_retries_until_pip_succeeds(tmp_path):
    py = _fake_python(tmp_path, fail_first=2, help_text="  --resume-retries <n>")
    r = _run(py, 4, "-q", "-r", "requirements.txt")
    assert r.returncode == 0, r.stderr
    calls = _calls(tmp_path)
    assert len(calls) == 3                       # two failures, then success; no fourth call
    assert all(c.endswith("-q -r requirements.txt") for c in calls)
    assert all("--resume-retries 30" in c and "--retries 10" in c for c in calls)
    assert "attempt 2 of 4" in r.stderr


def test_gives_up_with_pips_exit_status(tmp_path):
    py = _fake_python(tmp_path, fail_first=99, help_text="(an old pip)")
    r = _run(py, 3, "torch==0")
    assert r.returncode == 7
    assert len(_calls(tmp_path)) == 3
    assert not any("--resume-retries" in c for c in _calls(tmp_path))   # old pip: flag left out
    assert "failed 3 times" in r.stderr and "torch==0" in r.stderr


def test_usage_error_names_the_arguments(tmp_path):
    r = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "usage:" in r.stderr


def test_a_disk_without_room_fails_before_pip_runs(tmp_path):
    """A full disk made pip report 'Connection interrupted' 30 times in a row; the room is
    checked first and named instead."""
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    py = _fake_python(tmp_path, fail_first=0, help_text="")
    py.rename(venv / "python")
    env = dict(os.environ, PIP_INSTALL_NEEDS_GB="900000", PIP_INSTALL_BACKOFF_S="0")
    r = subprocess.run(["bash", str(SCRIPT), str(venv / "python"), "-r", "requirements.txt"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 28
    assert "MB free at" in r.stderr and "needs about" in r.stderr and str(tmp_path / "venv") in r.stderr
    assert not (tmp_path / "calls").exists()          # pip never ran
    env["PIP_INSTALL_NEEDS_GB"] = "0"                 # the default: no check
    r = subprocess.run(["bash", str(SCRIPT), str(venv / "python"), "-r", "requirements.txt"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and len(_calls(tmp_path)) == 1
