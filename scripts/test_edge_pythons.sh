#!/usr/bin/env bash
# The torch-free edge tests on the older Pythons devices run, in venvs from
# requirements-edge-legacy.txt alone:
#   3.8  = JetPack 5 (Ubuntu 20.04): numpy 1.24, tflite_runtime 2.13 (2.14's aarch64 wheels need glibc 2.34)
#   3.10 = JetPack 6 (Ubuntu 22.04): numpy 1.26, tflite_runtime 2.14
# (3.11 with the same file is `make test-edge`; 3.11 with LiteRT is `make test-edge-litert`.)
#
#   bash scripts/test_edge_pythons.sh [VERSION ...]        default: 3.8 3.10
#
# Finds each interpreter as python3.X on PATH or under ~/.pyenv/versions/3.X.*; a version with
# no interpreter on this machine is reported as SKIP (PyPI has no interpreters to install).
# Needs ARNET_TEST_ARTIFACTS (make test sets it). Exit status: non-zero when any run fails.
set -uo pipefail
cd "$(dirname "$0")/.."
versions=("$@")
[ ${#versions[@]} -eq 0 ] && versions=(3.8 3.10)
rc=0
for v in "${versions[@]}"; do
    # pyenv's own build first (its shim on PATH fails unless that version is selected)
    py=$(ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python 2>/dev/null | sort -V | tail -1 || true)
    [ -n "$py" ] || py=$(command -v "python$v" 2>/dev/null || true)
    want="(${v/./, })"
    if [ -z "$py" ] || ! "$py" -c "import sys, venv; assert sys.version_info[:2] == $want" 2>/dev/null; then
        echo "[edge-pythons] SKIP Python $v: no interpreter here (python$v, ~/.pyenv/versions/$v.*)"
        continue
    fi
    venv=".venv-edge-py${v/./}"
    stamp="$venv/.stamp"
    pytest_pin=$("$py" -c 'import sys; print("pytest==9.2.0" if sys.version_info >= (3, 10) else "pytest==8.3.5")')
    if [ ! -f "$stamp" ] || [ requirements-edge-legacy.txt -nt "$stamp" ] || [ scripts/test_edge_pythons.sh -nt "$stamp" ]; then
        echo "[edge-pythons] Python $v ($py): $venv from requirements-edge-legacy.txt"
        rm -rf "$venv"
        "$py" -m venv "$venv" || { rc=1; continue; }
        PIP_INSTALL_NEEDS_GB=1 bash scripts/pip_install.sh "$venv/bin/python" --disable-pip-version-check -q \
            -r requirements-edge-legacy.txt "$pytest_pin" || { rc=1; continue; }
        touch "$stamp"
    fi
    "$venv/bin/python" -c 'import sys, numpy, cv2, tflite_runtime
print("[edge-pythons] Python %d.%d.%d: numpy %s, OpenCV %s, tflite_runtime %s" % (
    sys.version_info[:3] + (numpy.__version__, cv2.__version__, tflite_runtime.__version__)))'
    ARNET_EDGE_VENV=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/edge --edge-venv || rc=1
done
exit $rc
