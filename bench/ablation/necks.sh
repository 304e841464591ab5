#!/usr/bin/env bash
# Necks and poolers on the demo's detector, and MFE vs DeFRCN with the
# default sem_relabel, at one reduced iteration budget for every arm (the full
# demo budget does not fit the shared 2-core CI machine for 8 base models):
#
#   bash bench/ablation/necks.sh [OUT] [SEEDS]        # defaults: runs/necks 0-4
#   BASE_ITERS=2400 FT_ITERS=800 bash bench/ablation/necks.sh ...   # the demo's budget
#   python3 bench/ablation/necks_table.py runs/necks   # the tables in results.md
#
# Arms: none (the demo), sppf, spp, aspp, rfb, sppcspc (model.neck on res4,
# each its own base model), ROIAlign (aligned false) and ROIPool in place of
# ROIAlignV2, and the DeFRCN head fine-tuned from the none arm's base model.
# Every arm freezes the neck's BN (*.bn.*) in the fine-tune as the demo
# freezes the backbone's (*.norm.*); the neck's weights train in both stages.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-runs/necks}
SEEDS=${2:-0-4}
BASE_ITERS=${BASE_ITERS:-600}
FT_ITERS=${FT_ITERS:-200}
BIN=${BIN:-bin/fsodgpu-necks}
# ARMS: a subset to (re)run, e.g. ARMS="none rfb ROIPool"; default all.
ARMS=${ARMS:-none defrcn sppf spp aspp rfb sppcspc ROIAlign ROIPool}
want() { case " $ARMS " in *" $1 "*) return 0 ;; esac; return 1; }
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/fsodgpu
mkdir -p "$OUT"

# plan SRC ARM EXTRA_MODEL_LINE: SRC with the reduced budget, the neck BN
# freeze, and one extra line under model: (a neck) or roi_heads: (a pooler).
plan() {
  local src=$1 arm=$2 neckline=$3 poolline=$4
  local b1=$((BASE_ITERS * 3 / 4)) b2=$((BASE_ITERS * 9 / 10)) f1=$((FT_ITERS * 4 / 5))
  mkdir -p "$OUT/$arm"
  sed -e "s/^name: .*/name: necks-$arm/" \
      -e "s/^  max_iter: 2400$/  max_iter: $BASE_ITERS/" \
      -e "s/^  steps: \[1800, 2150\]$/  steps: [$b1, $b2]/" \
      -e "s/^    5: {max_iter: 800, steps: \[640\]}$/    5: {max_iter: $FT_ITERS, steps: [$f1]}/" \
      -e 's/^      freeze: \["\*.norm.\*"\]$/      freeze: ["*.norm.*", "*.bn.*"]/' \
      "$src" | awk -v neck="$neckline" -v pool="$poolline" '
        { print }
        /^  mfe: \{sem: true/ && neck != "" { print "  neck: " neck }
        /^    pooler_resolution: / && pool != "" { print "    pooler_type: " pool }' > "$OUT/$arm/plan.yaml"
}

train() {
  local arm=$1
  want "$arm" || return 0
  echo "== $arm $(date -u +%H:%M:%S)"
  "$BIN" train --config "$OUT/$arm/plan.yaml" --shots 5 --seeds "$SEEDS" --out "$OUT/$arm" --quiet \
    > "$OUT/$arm/train.log" 2>&1 || echo "!! $arm failed: $(tail -3 "$OUT/$arm/train.log")"
}

plan configs/demo.yaml none "" ""
train none
plan bench/ablation/defrcn_synth.yaml defrcn "" ""
want defrcn && [ ! -d "$OUT/defrcn/base" ] && cp -r "$OUT/none/base" "$OUT/defrcn/base"
train defrcn
for n in sppf spp aspp rfb sppcspc; do
  plan configs/demo.yaml "$n" "{type: $n}" ""
  train "$n"
done
for p in ROIAlign ROIPool; do
  plan configs/demo.yaml "$p" "" "$p"
  train "$p"
done
echo "== done $(date -u +%H:%M:%S)"
