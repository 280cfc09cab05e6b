#!/usr/bin/env bash
# The torch-free edge tests on the other Pythons devices run, each in a venv from one device
# requirements file alone:
#   3.8  + requirements-edge-legacy.txt = JetPack 5 (Ubuntu 20.04): numpy 1.24, tflite_runtime 2.13
#          (2.14's aarch64 wheels need glibc 2.34)
#   3.10 + requirements-edge-legacy.txt = JetPack 6 (Ubuntu 22.04): numpy 1.26, tflite_runtime 2.14
#   3.13 + requirements-edge.txt        = Raspberry Pi OS trixie / Debian 13: numpy 2, ai_edge_litert
# (3.11 with either file is `make test-edge` / `make test-edge-litert`.)
#
#   bash scripts/test_edge_pythons.sh [VERSION=REQUIREMENTS ...]
#
# Finds each interpreter under ~/.pyenv/versions/X.Y.* or as pythonX.Y on PATH; a version with
# no interpreter on this machine is reported as SKIP (PyPI has no interpreters to install).
# Needs ARNET_TEST_ARTIFACTS (make test sets it). Exit status: non-zero when any run fails.
set -uo pipefail
cd "$(dirname "$0")/.."
specs=("$@")
[ ${#specs[@]} -eq 0 ] && specs=(3.8=requirements-edge-legacy.txt 3.10=requirements-edge-legacy.txt
                                 3.13=requirements-edge.txt)
rc=0
for spec in "${specs[@]}"; do
    v=${spec%%=*}
    req=${spec#*=}
    if [ "$req" = "$spec" ] || [ ! -f "$req" ]; then
        echo "[edge-pythons] $spec: expected VERSION=REQUIREMENTS-FILE, e.g. 3.8=requirements-edge-legacy.txt" >&2
        rc=1
        continue
    fi
    # pyenv's own build first (its shim on PATH fails unless that version is selected)
    py=$(ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python 2>/dev/null | sort -V | tail -1 || true)
    [ -n "$py" ] || py=$(command -v "python$v" 2>/dev/null || true)
    want="(${v/./, })"
    if [ -z "$py" ] || ! "$py" -c "import sys, venv; assert sys.version_info[:2] == $want" 2>/dev/null; then
        echo "[edge-pythons] SKIP Python $v: no interpreter here (python$v, ~/.pyenv/versions/$v.*)"
        continue
    fi
    venv=".venv-edge-py${v/./}-$(basename "$req" .txt | sed 's/^requirements-//')"
    stamp="$venv/.stamp"
    pytest_pin=$("$py" -c 'import sys; print("pytest==9.2.0" if sys.version_info >= (3, 10) else "pytest==8.3.5")')
    if [ ! -f "$stamp" ] || [ "$req" -nt "$stamp" ] || [ scripts/test_edge_pythons.sh -nt "$stamp" ]; then
        echo "[edge-pythons] Python $v ($py): $venv from $req"
        rm -rf "$venv"
        "$py" -m venv "$venv" || { rc=1; continue; }
        PIP_INSTALL_NEEDS_GB=1 bash scripts/pip_install.sh "$venv/bin/python" --disable-pip-version-check -q \
            -r "$req" "$pytest_pin" || { rc=1; continue; }
        touch "$stamp"
    fi
    "$venv/bin/python" -c 'import sys, numpy, cv2
try:
    import tflite_runtime as e
except ImportError:
    import ai_edge_litert as e
print("[edge-pythons] Python %d.%d.%d: numpy %s, OpenCV %s, %s %s" % (sys.version_info[:3] + (
    numpy.__version__, cv2.__version__, e.__name__, getattr(e, "__version__", "?"))))'
    ARNET_EDGE_VENV=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/edge --edge-venv || rc=1
done
exit $rc
