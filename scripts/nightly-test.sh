#!/usr/bin/env bash
# nightly-test.sh: nightly.sh end to end on the CPU (make nightly-test): the
# tiny synthetic plan (testdata/nightly/tiny.yaml) as 1 shot × seeds 0-1,
# regressed against a reported number it meets (exit 0 expected) and one it
# cannot (exit non-zero expected, with regress naming the drop).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
reported() { # reported VALUE FILE
  cat >"$2" <<YAML
name: nightly-test
source: "scripts/nightly-test.sh"
tables:
  - dataset: synth
    protocol: gfsod
    metric: nAP50
    seeds: [0, 1]
    results:
      - split: 0
        shots: {1: $1}
YAML
}
reported 0 "$tmp/low.yaml"
reported 99 "$tmp/high.yaml"
export NIGHTLY_PLAN=testdata/nightly/tiny.yaml NIGHTLY_SHOTS=1 NIGHTLY_SEEDS=0-1 NIGHTLY_BACKEND=cpu NIGHTLY_GPUS= \
  NIGHTLY_OUT=$tmp/run FSODGPU_BIN=${FSODGPU_BIN:-bin/fsodgpu-cpu}
NIGHTLY_REPORTED=$tmp/low.yaml scripts/nightly.sh
n=$(find "$tmp/run" -name results.json | wc -l)
[[ $n == 2 ]] || { echo "nightly-test: $n results.json files, want 2 (1 shot x 2 seeds)" >&2; exit 1; }
# The same run (resumed: nothing to redo) against a number it cannot reach must fail.
if NIGHTLY_REPORTED=$tmp/high.yaml scripts/nightly.sh >"$tmp/high.log" 2>&1; then
  cat "$tmp/high.log"
  echo "nightly-test: a drop from 99 nAP50 passed" >&2
  exit 1
fi
tail -3 "$tmp/high.log"
echo "nightly-test: ok (pass at the low number, non-zero exit at the high one)"
