#!/usr/bin/env bash
# `make demo`: SynthAct (small) -> short real AR-Net training -> evaluation vs baselines ->
# export (ONNX, TFLite fp32/int8, ExecuTorch) -> live run on a held-out video, headless ->
# side-by-side benchmark -> summary. Everything lands in data/, runs/demo/, artifacts/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=data/synthact_small
RUN=runs/demo
ART=artifacts/demo
FORMATS=${DEMO_FORMATS:-onnx,tflite-fp32,tflite-int8,pte-fp32}
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONUNBUFFERED=1
start=$(date +%s)
stamp() { echo; echo "== [$(( $(date +%s) - start ))s] $*"; }

stamp "1/6 SynthAct (small) -> $DATA"
$PY -m train.synthact --out "$DATA" --size small --seed 0

stamp "2/6 training AR-Net (configs/demo.yaml) -> $RUN"
if [[ "${DEMO_REUSE:-0}" == 1 && -f $RUN/best.pt ]]; then
  echo "reusing $RUN/best.pt (DEMO_REUSE=1)"
else
  rm -rf "$RUN"
  $PY train/train.py --config configs/demo.yaml
fi

stamp "3/6 evaluation on the test split: AR-Net vs Uniform and the Random policy (same weights)"
$PY train/evaluate.py --checkpoint $RUN/best.pt --random-policy --uniform-branch --out $RUN/eval --strip 4

stamp "4/6 export ($FORMATS) -> $ART"
rm -rf "$ART"
$PY convert/export_all.py --checkpoint $RUN/best.pt --out $ART --formats "$FORMATS" \
    --calib "$DATA/videos"

stamp "5/6 live run (headless, LiteRT, --precision auto: int8 where it passed validation) on a held-out video"
video=$(find "$DATA/videos/test" -name '*.mp4' | sort | head -1)
$PY edge_runtime/live.py --model $ART --source "$video" --backend litert --precision auto \
    --headless --json-out $RUN/live_summary.json > $RUN/live_events.jsonl
echo "$(wc -l < $RUN/live_events.jsonl) events -> $RUN/live_events.jsonl; first and last:"
head -1 $RUN/live_events.jsonl | cut -c1-240
tail -1 $RUN/live_events.jsonl | cut -c1-240

stamp "6/6 benchmark: adaptive vs every branch on every frame (LiteRT, precision auto, all test videos x3)"
# every test video, 3 interleaved passes: one 12-clip pass (96 steps) was too short to be stable
$PY edge_runtime/bench.py --model $ART --video "$DATA/videos/test" --backend litert --precision auto \
    --repeat 3 --json $RUN/bench.json

stamp "summary"
$PY scripts/demo_summary.py --run $RUN --artifacts $ART
echo "demo finished in $(( $(date +%s) - start ))s"
