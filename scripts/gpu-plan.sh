#!/usr/bin/env bash
# gpu-plan.sh ITERS OUT.yaml: the embedded demo plan (configs/demo.yaml) cut to
# ITERS base iterations, a 2-iteration fine-tune and 20 test images, so
# `fsodgpu train` times the training loop and little else. Used by
# `make gpu-verify-prep` (the GPU machine has no Go to derive it there).
set -euo pipefail
iters=$1 out=$2
sed -e "s/^name: demo$/name: gpu-verify-$iters/" \
    -e "s/^  synth_seed: 0$/  synth_seed: 0\n  max_test_images: 20/" \
    -e "s/^  max_iter: 2400$/  max_iter: $iters/" \
    -e "s/^  steps: \[1800, 2150\]$/  steps: []/" \
    -e "s/^  warmup_iters: 100$/  warmup_iters: 10/" \
    -e "s/^  checkpoint_period: 500$/  checkpoint_period: 100000/" \
    -e "s/^  log_period: 50$/  log_period: 10/" \
    -e "s/^    5: {max_iter: 800, steps: \[640\]}$/    5: {max_iter: 2, steps: []}/" \
    configs/demo.yaml >"$out"
# Every substitution must have applied: a changed demo.yaml fails here, not on the GPU.
for want in "name: gpu-verify-$iters" "max_test_images: 20" "  max_iter: $iters" "5: {max_iter: 2, steps: \[\]}"; do
  grep -q "$want" "$out" || { echo "gpu-plan.sh: configs/demo.yaml changed; '$want' not produced in $out" >&2; exit 1; }
done
