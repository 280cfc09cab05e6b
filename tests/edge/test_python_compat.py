"""edge_runtime (and the examples) run on the Pythons devices have, not only on this machine's 3.11.

JetPack 5 ships Python 3.8 and JetPack 6 Python 3.10 (the ``tflite_runtime`` path,
requirements-edge-legacy.txt); Raspberry Pi OS bookworm has 3.11. No interpreter older than 3.11
can be installed here (PyPI has none), so the code is checked statically: its grammar by CPython's
own parser at 3.8, and its use of the standard library and builtins by vermin (desktop venv).
Where the machine has them (pyenv), scripts/test_edge_pythons.sh also runs the edge tests under
3.8 and 3.10 for real.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OLDEST = (3, 8)
FILES = sorted([*(ROOT / "edge_runtime").rglob("*.py"), *(ROOT / "examples").glob("*.py")])


def test_there_is_code_to_check():
    assert len(FILES) >= 20


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_grammar_parses_as_python_3_8(path):
    src = path.read_text()
    try:
        ast.parse(src, filename=str(path), feature_version=OLDEST)
    except SyntaxError as e:
        pytest.fail(f"{path.relative_to(ROOT)}:{e.lineno}: needs Python newer than 3.8: {e.msg}")
    if _has_annotations(ast.parse(src)):
        # `int | None` or `list[str]` in an annotation is evaluated at import time (3.10 / 3.9)
        # unless annotations stay strings
        assert "from __future__ import annotations" in src, \
            f"{path.relative_to(ROOT)} has annotations but no `from __future__ import annotations`"


def _has_annotations(tree: ast.AST) -> bool:
    for n in ast.walk(tree):
        if isinstance(n, ast.AnnAssign):
            return True
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = n.args
            args = a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]
            if n.returns is not None or any(x.annotation is not None for x in args):
                return True
    return False


def test_the_checker_catches_newer_syntax():
    with pytest.raises(SyntaxError):             # ("only supported in 3.10", or 3.8's own parser)
        ast.parse("match x:\n    case 1:\n        pass\n", feature_version=OLDEST)


def _vermin() -> Path:
    exe = Path(sys.executable).with_name("vermin")
    if not exe.exists():
        pytest.skip("vermin is installed in the desktop venv only (requirements.txt)")
    return exe


def test_standard_library_use_needs_at_most_python_3_8():
    r = subprocess.run([str(_vermin()), "--no-tips", "-q", "--violations", "-t=3.8-", "edge_runtime", "examples"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"edge_runtime needs a Python newer than 3.8:\n{r.stdout}{r.stderr}"


def test_vermin_flags_a_3_9_method(tmp_path):
    (tmp_path / "new.py").write_text('print("ab".removeprefix("a"))\n')
    r = subprocess.run([str(_vermin()), "--no-tips", "-q", "--violations", "-t=3.8-", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "removeprefix" in r.stdout
