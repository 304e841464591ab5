#!/usr/bin/env bash
# MFE vs DeFRCN on the synthetic few-shot set: one base model, then the same
# K-shot G-FSOD fine-tunes with the MFE head (SEM + TEM + RC) and with the
# plain DeFRCN head (dropout before the classifier), seeds 0..S-1.
#
#   bash bench/ablation/run.sh [OUT] [SEEDS] [SHOTS]     # defaults: runs/ablation 0-2 5
#   PARTS=1 bash bench/ablation/run.sh ...                # also SEM, TEM, RC one at a time
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

# PARTS=1: one MFE part at a time on top of the DeFRCN arm (SEM, TEM, RC), to
# see which part helps or hurts. The configs are the DeFRCN arm with one line
# changed, written next to the runs.
if [ "${PARTS:-0}" = 1 ]; then
  for part in sem tem rc; do
    case $part in
      sem) mfe='{sem: true, tem: false, rc: false}'; drop='cls_dropout: true, dropout_ratio: 0.2' ;;
      tem) mfe='{sem: false, tem: true, rc: false}'; drop='cls_dropout: true, dropout_ratio: 0.2' ;;
      rc)  mfe='{sem: false, tem: false, rc: true}'; drop='cls_dropout: false' ;; # RC has its own dropout
    esac
    mkdir -p "$OUT/$part"
    [ -d "$OUT/$part/base" ] || cp -r "$OUT/mfe/base" "$OUT/$part/base"
    sed -e "s/^name: demo-defrcn/name: demo-defrcn-$part/" -e "s/^method: defrcn/method: defrcn+$part/" \
        -e "s/      mfe: {sem: false, tem: false, rc: false}/      mfe: $mfe/" \
        -e "s/cls_dropout: true, dropout_ratio: 0.2}/$drop}/" \
        bench/ablation/defrcn_synth.yaml > "$OUT/$part/plan.yaml"
    "$BIN" train --config "$OUT/$part/plan.yaml" --shots "$SHOTS" --seeds "$SEEDS" --out "$OUT/$part" --quiet
  done
fi
