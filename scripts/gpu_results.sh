#!/usr/bin/env bash
# The GPU results (issues 3 and 5) on one CUDA machine, in the order that matters most when time is
# short: full SynthAct -> training-throughput benchmark -> AR-Net-Lite -> its pt2 export and the
# CUDA-graphs runtime benchmark -> the baselines, each only if it fits the time left -> the table.
#
#   bash scripts/gpu_results.sh                 # PY=python, BUDGET_S=1200 (seconds for the whole run)
#
# Every step is the documented command (docs/RESULTS.md); this script only orders them and, when
# BUDGET_S is set, sizes the schedule: EPOCHS (warmup,joint,finetune; default: what fits a quarter
# of the budget at the measured training rate) and which baselines still fit.
set -uo pipefail
PY=${PY:-python}
BUDGET_S=${BUDGET_S:-1200}
CFG=${CFG:-configs/arnet_lite.yaml}
TAG=${TAG:-h100}
WORKERS=${WORKERS:-$(nproc)}
OUTR=${OUTR:-docs/results}
DATA=${DATA:-data/synthact}      # must match the config's data.root
SIZE=${SIZE:-full}
START=$(date +%s)
left() { echo $(( BUDGET_S - ($(date +%s) - START) )); }
say() { echo "[gpu_results +$(( $(date +%s) - START ))s] $*"; }
mkdir -p "$OUTR" runs

say "hardware: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null)"
$PY -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), sys.version.split()[0])"

say "SynthAct $SIZE -> $DATA"
$PY -m train.synthact --out "$DATA" --size "$SIZE" --workers "$WORKERS" || exit 1

say "training throughput (joint stage, T=16)"
$PY train/bench_throughput.py --config "$CFG" --stage joint --steps 40 --warmup-steps 5 \
    --json "$OUTR/throughput_${TAG}.json" || exit 1

if [ -z "${EPOCHS:-}" ]; then
  EPOCHS=$($PY - "$OUTR/throughput_${TAG}.json" "$BUDGET_S" "$(wc -l < "$DATA/train.txt")" <<'EOF'
import json, math, sys
r = json.load(open(sys.argv[1])); budget = float(sys.argv[2]); clips = int(sys.argv[3])
rate = r["results"]["train"]["clips_per_s"]
epoch_s = clips / max(rate, 1e-6) * 1.25 + 6     # + validation and worker start-up
n = max(6, min(30, int(budget * 0.25 / epoch_s)))
w = max(1, round(n / 6)); f = max(1, round(n / 6)); print(f"{w},{n - w - f},{f}")
EOF
)
fi
say "schedule $EPOCHS (warmup,joint,finetune); $(left) s left"

NAME=$($PY -c "import yaml,sys; print(yaml.safe_load(open('$CFG'))['name'])")
train_one() {   # method -> runs/<name>_<method>, the name suite.py evaluates
  local m=$1 t0; t0=$(date +%s)
  say "train $m"
  $PY train/train.py --config "$CFG" --method "$m" --name "${NAME}_$m" --epochs "$EPOCHS" --no-progress \
    || { say "training $m failed"; return 1; }
  echo $(( $(date +%s) - t0 )) > "runs/${NAME}_$m/train_seconds"
  say "$m trained in $(cat "runs/${NAME}_$m/train_seconds") s"
}

train_one arnet || exit 1
ARNET_S=$(cat "runs/${NAME}_arnet/train_seconds")

say "export pt2 + CUDA-graphs runtime benchmark"
$PY convert/export_all.py --checkpoint "runs/${NAME}_arnet/best.pt" --formats pt2 \
    --calib "$DATA/videos/val" --out "artifacts/${NAME}" \
  && $PY edge_runtime/bench.py --model "artifacts/${NAME}" --backend torch --precision fp32 --device cuda \
    --video "$DATA/videos/test" --repeat 1 --json "$OUTR/gpu_bench_${TAG}.json" \
  && $PY -m edge_runtime.profile --model "artifacts/${NAME}" --backend torch --repeats 200 --json \
  && $PY scripts/bench_gpu_batch.py --checkpoint "runs/${NAME}_arnet/best.pt" \
    --mix-from "$OUTR/gpu_bench_${TAG}.json" --json "$OUTR/gpu_batch_${TAG}.json" \
  || say "export / runtime benchmark failed (continuing with the table)"

# the GPU goal at batch: B streams per tick (edge_runtime.multistream), one CUDA graph per bucket
for B in 8 32; do
  say "multi-stream runtime benchmark, $B streams"
  $PY edge_runtime/bench.py --model "artifacts/${NAME}" --backend torch --precision fp32 --device cuda \
      --streams "$B" --video "$DATA/videos/test" --json "$OUTR/gpu_bench_${TAG}_streams${B}.json" \
    || { say "multi-stream benchmark ($B) failed"; break; }
done

DONE=arnet
for mf in uniform:60 resolution_only:100 skip_only:100 lstm:60 multiscale:100; do
  m=${mf%%:*}                       # a baseline costs about f % of the AR-Net run; 90 s for the table
  need=$(( ARNET_S * ${mf##*:} / 100 + 90 ))
  if [ "$(left)" -lt "$need" ]; then say "skip $m: $(left) s left, needs ~$need"; continue; fi
  train_one "$m" && DONE="$DONE,$m"
done

say "evaluate $DONE"
$PY train/suite.py --config "$CFG" --methods "$DONE" --epochs "$EPOCHS" --dataset synthact \
    --workers "$WORKERS" --no-progress --results-json "$OUTR/synthact.json"
say "done; $(left) s of the budget left"
