#!/usr/bin/env bash
# MFE vs DeFRCN on the synthetic few-shot set: one base model, then the same
# K-shot G-FSOD fine-tunes with the MFE head (SEM + TEM + RC) and with the
# plain DeFRCN head (dropout before the classifier), seeds 0..S-1.
#
#   bash bench/ablation/run.sh [OUT] [SEEDS] [SHOTS]     # defaults: runs/ablation 0-2 5
#
# The DeFRCN plan is the demo plan with the MFE parts switched off for the
# fine-tune; both start from the demo's base model (trained once, copied).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/ablation}
SEEDS=${2:-0-2}
SHOTS=${3:-5}
BIN=${BIN:-bin/fsodgpu-cpu}
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/fsodgpu

"$BIN" train --config configs/demo.yaml --shots "$SHOTS" --seeds "$SEEDS" --out "$OUT/mfe" --quiet
mkdir -p "$OUT/defrcn"
[ -d "$OUT/defrcn/base" ] || cp -r "$OUT/mfe/base" "$OUT/defrcn/base"
"$BIN" train --config bench/ablation/defrcn_synth.yaml --shots "$SHOTS" --seeds "$SEEDS" --out "$OUT/defrcn" --quiet
