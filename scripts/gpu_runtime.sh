#!/usr/bin/env bash
# The GPU runtime check in one short run: the torch backend (CUDA graphs) at 1, 8 and 32 streams on
# one model, adaptive vs uniform side by side (bench.py --streams B), and 32 streams once more with
# one resize thread (the host's share of a tick). Exports the pt2 artifacts on
# this machine first when the model folder has none (a pt2 file is read by the torch that wrote it).
#
#   bash scripts/gpu_runtime.sh [CHECKPOINT] [VIDEOS]
#       CHECKPOINT  default runs/edge_fast/best.pt        VIDEOS  default data/synthact_small/videos/test
#   env: PY (python), DEVICE (cuda), STREAMS ("1 8 32"), OUTR (docs/results), TAG (h100), MODEL
#        (artifacts/<checkpoint's run>_pt2), REPEAT (2)
set -uo pipefail
PY=${PY:-python}
CKPT=${1:-runs/edge_fast/best.pt}
VIDEOS=${2:-data/synthact_small/videos/test}
RUN=$(basename "$(dirname "$CKPT")")
MODEL=${MODEL:-artifacts/${RUN}_pt2}
DEVICE=${DEVICE:-cuda}
STREAMS=${STREAMS:-1 8 32}
OUTR=${OUTR:-docs/results}
TAG=${TAG:-h100}
REPEAT=${REPEAT:-2}
mkdir -p "$OUTR"
say() { echo "[gpu_runtime] $*"; }

$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
if ! grep -q '"backend": "torch"' "$MODEL/manifest.json" 2>/dev/null; then
  say "export pt2: $CKPT -> $MODEL"
  $PY convert/export_all.py --checkpoint "$CKPT" --out "$MODEL" --formats pt2 --no-latency || exit 1
fi
rc=0
for B in $STREAMS; do
  say "$B stream(s) on $DEVICE"
  $PY edge_runtime/bench.py --model "$MODEL" --backend torch --precision fp32 --device "$DEVICE" \
      --streams "$B" --repeat "$REPEAT" --video "$VIDEOS" \
      --json "$OUTR/gpu_bench_${RUN}_${TAG}_streams${B}.json" || { say "bench at $B streams failed"; rc=1; }
done
# the host's share: the same 32 streams with their frames resized on one thread (the default above
# may use one thread per core, at most 8), side by side
B=32
say "$B streams on $DEVICE, one resize thread"
$PY edge_runtime/bench.py --model "$MODEL" --backend torch --precision fp32 --device "$DEVICE" \
    --streams "$B" --resize-workers 1 --repeat "$REPEAT" --video "$VIDEOS" \
    --json "$OUTR/gpu_bench_${RUN}_${TAG}_streams${B}_resize1.json" || { say "bench (1 resize thread) failed"; rc=1; }
exit $rc
