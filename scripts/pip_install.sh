#!/usr/bin/env bash
# pip install, robust to a link that drops mid-download, and checked for disk room first.
#   usage: [PIP_INSTALL_NEEDS_GB=N] scripts/pip_install.sh PYTHON [pip install arguments...]
# A fresh venv pulls ~1.5 GB from PyPI (tensorflow alone is 572 MB). CI once failed when the
# connection broke six times at the same byte of that wheel. So: resume a broken download many
# times within one pip run (pip >= 25.1), retry connects, and rerun the whole install with backoff;
# wheels already downloaded are taken from pip's cache on the rerun. A real error (a bad pin, no
# wheel for this platform) fails the same way every attempt and ends with pip's own message.
set -uo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 PYTHON PIP-INSTALL-ARGS..." >&2
    exit 2
fi
py=$1
shift

# Room first: a full disk makes pip report "Connection interrupted while downloading" over and
# over (seen on CI), which no retry cures. PIP_INSTALL_NEEDS_GB is what the finished venv takes;
# what the venv already holds counts toward it.
need_gb=${PIP_INSTALL_NEEDS_GB:-0}
if [ "$need_gb" != 0 ]; then
    venv=$(dirname "$(dirname "$py")")
    have_kb=$(du -sk "$venv" 2>/dev/null | cut -f1)
    need_kb=$(( need_gb * 1024 * 1024 - ${have_kb:-0} ))
    for d in "$venv" "${TMPDIR:-/tmp}"; do
        free_kb=$(df -Pk "$d" 2>/dev/null | awk 'NR == 2 {print $4}')
        if [ -n "$free_kb" ] && [ "$free_kb" -lt "$need_kb" ]; then
            echo "pip install: only $((free_kb / 1024)) MB free at $d, and this install needs about" \
                 "$((need_kb / 1024)) MB more ($venv takes ~$need_gb GB when done); free some space" \
                 "(old clones, build/, runs/, ~/.cache/pip) and run it again" >&2
            exit 28   # ENOSPC
        fi
    done
fi
attempts=${PIP_INSTALL_ATTEMPTS:-4}
backoff=${PIP_INSTALL_BACKOFF_S:-20}   # seconds, times the attempt number
flags=(--retries 10 --timeout 120)
if "$py" -m pip install --help 2>/dev/null | grep -q -- '--resume-retries'; then
    flags+=(--resume-retries 30)
fi
rc=0
for ((i = 1; i <= attempts; i++)); do
    "$py" -m pip install "${flags[@]}" "$@" && exit 0
    rc=$?
    if ((i < attempts)); then
        echo "pip install failed (exit $rc), attempt $i of $attempts; retrying in $((i * backoff)) s" >&2
        sleep $((i * backoff))
    fi
done
echo "pip install failed $attempts times (last exit $rc): $py -m pip install $*" >&2
exit "$rc"
