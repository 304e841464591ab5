#!/usr/bin/env bash
# gpu-verify.sh: the CUDA build's checks on a lent GPU machine that has no Go.
# Run from a copy of the tree after `make gpu-verify-prep` here (it builds
# bin/fsodgpu with the kernels, the cuda-tagged test binaries and the demo
# plans under bin/gpu/). Every step has its own time limit and the whole run a
# budget (GPU_VERIFY_BUDGET seconds, default 560, inside the device tool's
# 600 s per command), so one hang cannot eat a 15-minute lease. Everything goes
# to $OUT (default ./gpu-verify-out): summary.json (device, driver, commit, each
# step's status and seconds, s/iter on the GPU and the CPU), logs.tar.gz (every
# log and run directory's metrics), and the benchmark JSONs: ours and
# PyTorch's at FP32 over every case, then (the precision steps, last so the
# FP32 steps keep their time) ours at tf32 and bf16 and PyTorch's at tf32,
# its default (cuDNN TF32, matmul FP32) and bf16 autocast, over the matrix
# products only (conv., gemm.), and the golden check at tf32 and bf16. A
# step's failure is recorded and the next step runs; the exit status is 1 if
# any step failed. GPU_VERIFY_PRECISIONS=0 leaves the precision steps out.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-verify-out}
BUDGET=${GPU_VERIFY_BUDGET:-560}
PRECISIONS=${GPU_VERIFY_PRECISIONS:-1}
GPU_ITERS=${GPU_VERIFY_ITERS:-200}
CPU_ITERS=${GPU_VERIFY_CPU_ITERS:-40}
BIN=${FSODGPU_BIN:-bin/fsodgpu}
mkdir -p "$OUT"
work=$(mktemp -d)
logs=$work/logs
mkdir -p "$logs"
start=$(date +%s)
steps_json=""
failed=0

# step NAME LIMIT CMD...: runs CMD under timeout (its limit cut to what is left
# of the budget), log in logs/NAME.log; records status ok/failed/timeout/skipped.
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET - ($(date +%s) - start)))
  local status rc=0 t0 secs
  if ((left < 10)); then
    status=skipped
    echo "budget spent" >"$logs/$name.log"
    secs=0
  else
    ((limit > left)) && limit=$left
    t0=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" >"$logs/$name.log" 2>&1
    rc=$?
    secs=$(($(date +%s) - t0))
    case $rc in
      0) status=ok ;;
      124 | 137) status=timeout ;;
      *) status=failed ;;
    esac
  fi
  [[ $status == ok || $status == skipped && $name == torch-bench* ]] || failed=1
  echo "gpu-verify: $name: $status (rc $rc, ${secs}s, limit ${limit}s)"
  steps_json+="${steps_json:+,}
    {\"name\": \"$name\", \"status\": \"$status\", \"rc\": $rc, \"seconds\": $secs, \"limit\": $limit}"
}

# json_str: a string escaped for JSON (backslash, quote, control characters dropped).
json_str() { printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

# s_per_iter RUN_DIR: the mean "time" of the base job's logged iterations.
s_per_iter() {
  local f=$1/base/metrics.json
  [[ -f $f ]] || { echo null; return; }
  grep -o '"time": *[0-9.e+-]*' "$f" | sed 's/.*: *//' |
    awk '{s+=$1; n++} END {if (n) printf "%.6g", s/n; else print "null"}'
}

driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
commit=$(cat bin/gpu/COMMIT 2>/dev/null || git rev-parse HEAD 2>/dev/null || echo unknown)

step devices 30 "$BIN" devices
step check 90 "$BIN" check --backend cuda --golden testdata/golden
# The parity test binaries run in their package directories (testdata paths).
# They travel gzipped (size limit of the carried tree).
for t in bin/gpu/*.test.gz; do
  [[ -e $t ]] || continue
  pkg=$(basename "$t" .test.gz)
  dir=$(cat "bin/gpu/$pkg.dir")
  gunzip -c "$t" >"$work/$pkg.test" && chmod +x "$work/$pkg.test"
  step "test-$pkg" 150 bash -c "cd '$dir' && '$work/$pkg.test' -test.v -test.timeout 140s"
done
step bench-kernels 90 "$BIN" bench kernels --backend cuda --quiet --json "$OUT/kernels-cuda.json"
if python3 -c 'import torch; assert torch.cuda.is_available()' >/dev/null 2>&1; then
  step torch-bench 90 python3 bench/torch_bench.py --device cuda --json "$OUT/torch-cuda.json"
  if [[ -f $OUT/kernels-cuda.json && -f $OUT/torch-cuda.json ]]; then
    step bench-compare 20 "$BIN" bench compare "$OUT/kernels-cuda.json" "$OUT/torch-cuda.json"
  fi
else
  # No PyTorch with CUDA there: the kernel numbers stand alone, marked so.
  steps_json+="${steps_json:+,}
    {\"name\": \"torch-bench\", \"status\": \"skipped\", \"rc\": 0, \"seconds\": 0, \"limit\": 0, \"why\": \"python3 has no torch with CUDA\"}"
  echo "gpu-verify: torch-bench: skipped (python3 has no torch with CUDA)"
fi
step demo-gpu 150 "$BIN" train --config "bin/gpu/plan-$GPU_ITERS.yaml" --backend cuda --quiet --out "$work/runs/gpu"
step demo-cpu 90 "$BIN" train --config "bin/gpu/plan-$CPU_ITERS.yaml" --backend cpu --quiet --out "$work/runs/cpu"
# Reduced precision (README "Precision"): the golden cases at each
# precision's tolerances (the tensor-core kernels on real HMMA), then the
# matrix products' TFLOP/s beside PyTorch's in the same mode. Short: 0.5 s
# per case.
if ((PRECISIONS)); then
  MATRIX=conv.,gemm.
  for p in tf32 bf16; do
    step "check-$p" 40 "$BIN" check --backend cuda --golden testdata/golden --parity=false --precision "$p"
  done
  for p in tf32 bf16; do
    # At bf16 also RoI-Align, whose input and output are then BF16 storage:
    # its time beside the fp32 run's (kernels-cuda.json) is what the storage
    # saves. Its bytes column still counts fp32 traffic: compare times.
    filter=$MATRIX
    [[ $p == bf16 ]] && filter=$MATRIX,roi_align.
    step "bench-kernels-$p" 45 "$BIN" bench kernels --backend cuda --quiet --precision "$p" --filter "$filter" \
      --min-time 500ms --json "$OUT/kernels-cuda-$p.json"
  done
  if python3 -c 'import torch; assert torch.cuda.is_available()' >/dev/null 2>&1; then
    for p in tf32 default bf16; do
      step "torch-bench-$p" 45 python3 bench/torch_bench.py --device cuda --precision "$p" --filter "$MATRIX" \
        --min-time 0.5 --json "$OUT/torch-cuda-$p.json"
    done
    for p in tf32 bf16; do
      if [[ -f $OUT/kernels-cuda-$p.json && -f $OUT/torch-cuda-$p.json ]]; then
        step "bench-compare-$p" 20 "$BIN" bench compare "$OUT/kernels-cuda-$p.json" "$OUT/torch-cuda-$p.json"
      fi
    done
  fi
fi
gpu_s=$(s_per_iter "$work/runs/gpu")
cpu_s=$(s_per_iter "$work/runs/cpu")

mkdir -p "$logs/runs"
for r in gpu cpu; do
  [[ -f $work/runs/$r/base/metrics.json ]] && cp "$work/runs/$r/base/metrics.json" "$logs/runs/$r-metrics.json"
done
tar -czf "$OUT/logs.tar.gz" -C "$work" logs
total=$(($(date +%s) - start))
device=$gpu_name
[[ -n $device ]] || device=$("$BIN" devices --short 2>/dev/null) || device=unknown
cat >"$OUT/summary.json" <<JSON
{
  "device": $(json_str "$device"),
  "driver": $(json_str "${driver:-none}"),
  "commit": $(json_str "$commit"),
  "host": $(json_str "$(uname -n)"),
  "started": $(json_str "$(date -u -d "@$start" +%FT%TZ)"),
  "seconds": $total,
  "budget": $BUDGET,
  "failed": $( ((failed)) && echo true || echo false),
  "demo": {"gpu_iters": $GPU_ITERS, "gpu_s_per_iter": $gpu_s, "cpu_iters": $CPU_ITERS, "cpu_s_per_iter": $cpu_s},
  "steps": [$steps_json
  ]
}
JSON
rm -rf "$work"
echo "gpu-verify: ${total}s; summary in $OUT/summary.json, logs in $OUT/logs.tar.gz"
exit $failed
