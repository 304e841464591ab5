#!/usr/bin/env bash
# nightly.sh: the nightly regression for a GPU machine (make nightly). Trains a
# named subset of a published plan — by default VOC split 1 G-FSOD MFE,
# 1/5/10 shots × seeds 0-2 — on the GPUs given, then `fsodgpu regress` against
# the reported numbers; exits non-zero when a group drops by more than the
# tolerance (or training fails). Settings, all optional, from the environment:
#   NIGHTLY_PLAN      plan YAML             (configs/voc/split1/mfe_gfsod.yaml)
#   NIGHTLY_SHOTS     shot counts           (1,5,10)
#   NIGHTLY_SEEDS     split seeds           (0-2)
#   NIGHTLY_GPUS      GPU indices, e.g. 0,1 (0); empty with NIGHTLY_BACKEND=cpu
#   NIGHTLY_BACKEND   cpu or cuda           (cuda)
#   NIGHTLY_REPORTED  reported numbers      (configs/reported/defrcn.yaml)
#   NIGHTLY_TOLERANCE AP points             (2)
#   NIGHTLY_OUT       run directory         (runs/nightly-YYYYMMDD)
#   FSODGPU_BIN       binary                (bin/fsodgpu)
# A run directory that already holds finished jobs is resumed, not redone.
set -euo pipefail
cd "$(dirname "$0")/.."
plan=${NIGHTLY_PLAN:-configs/voc/split1/mfe_gfsod.yaml}
shots=${NIGHTLY_SHOTS:-1,5,10}
seeds=${NIGHTLY_SEEDS:-0-2}
backend=${NIGHTLY_BACKEND:-cuda}
gpus=${NIGHTLY_GPUS-0}
reported=${NIGHTLY_REPORTED:-configs/reported/defrcn.yaml}
tol=${NIGHTLY_TOLERANCE:-2}
out=${NIGHTLY_OUT:-runs/nightly-$(date -u +%Y%m%d)}
bin=${FSODGPU_BIN:-bin/fsodgpu}
for f in "$plan" "$reported" "$bin"; do
  [[ -e $f ]] || { echo "nightly: $f does not exist" >&2; exit 2; }
done
args=(train --config "$plan" --shots "$shots" --seeds "$seeds" --backend "$backend" --out "$out" --quiet)
[[ $backend == cuda && -n $gpus ]] && args+=(--gpus "$gpus")
[[ -d $out ]] && args+=(--resume)
echo "nightly: $bin ${args[*]}"
"$bin" "${args[@]}"
echo "nightly: $bin regress --reported $reported --tolerance $tol $out"
"$bin" regress --reported "$reported" --tolerance "$tol" "$out"
