#!/usr/bin/env bash
# Rescoring the Faster R-CNN demo with the YOLOv1 demo (the YOLO paper's Fast
# R-CNN + YOLO combination) on the synthetic few-shot set, paired by split
# seed: each Faster R-CNN fine-tune (5-shot, seed s) is evaluated as trained
# and rescored by the YOLOv1 fine-tune of the same shot and seed, on the demo
# plan's test set, and the per-seed differences give mean Δ ± 95% CI.
#
#   bash bench/rescore/run.sh [FRCNN] [YOLO] [OUT] [SEEDS]
#   # defaults: runs/rescore/frcnn runs/rescore/yolo runs/rescore/eval "0 1 2 3 4"
#   TRAIN=1 bash bench/rescore/run.sh ...   # also train both arms first (about 20 min on 2 cores)
#   ALPHAS="1" IOUS="0.5" ...               # the rescoring constants (default: α 1, τ 0.5 only)
#
# Every extra (α, τ) pair is evaluated on the test set itself: a sensitivity
# check, not a selection (there is no separate validation split here).
set -euo pipefail
cd "$(dirname "$0")/../.."
FRCNN=${1:-runs/rescore/frcnn}
YOLO=${2:-runs/rescore/yolo}
OUT=${3:-runs/rescore/eval}
SEEDS=${4:-0 1 2 3 4}
ALPHAS=${ALPHAS:-1}
IOUS=${IOUS:-0.5}
BIN=${BIN:-bin/fsodgpu-cpu}
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/fsodgpu

if [ "${TRAIN:-0}" = 1 ]; then
  list=$(echo $SEEDS | tr ' ' ',')
  "$BIN" train --config configs/demo.yaml --seeds "$list" --out "$FRCNN" --quiet
  "$BIN" train --config configs/demo-yolo.yaml --seeds "$list" --out "$YOLO" --quiet
fi

for a in $ALPHAS; do
  for t in $IOUS; do
    for s in $SEEDS; do
      job=5shot_seed$s
      mkdir -p "$OUT/a${a}_t${t}"
      "$BIN" eval model --quiet --plan configs/demo.yaml \
        --weights "$FRCNN/finetune/$job/model_final.safetensors" \
        --rescore-weights "$YOLO/finetune/$job/model_final.safetensors" \
        --rescore-alpha "$a" --rescore-iou "$t" --json "$OUT/a${a}_t${t}/$job.json" > "$OUT/a${a}_t${t}/$job.txt" 2>&1 || { cat "$OUT/a${a}_t${t}/$job.txt"; exit 1; }
    done
  done
done

# The table: per seed before/after, then the paired statistics by
# bench/ablation/paired.py (it reads ARM/finetune/JOB/results.json, so each
# arm's metrics are laid out that way under $OUT/paired).
python3 - "$FRCNN" "$YOLO" "$OUT" "$SEEDS" "$ALPHAS" "$IOUS" <<'PY'
import json, os, subprocess, sys
frcnn, yolo, out, seeds, alphas, ious = sys.argv[1:7]
seeds = seeds.split()
keys = ["AP50", "bAP50", "nAP50", "AP"]
for a in alphas.split():
    for t in ious.split():
        tag = f"a{a}_t{t}"
        root = os.path.join(out, "paired", tag)
        print(f"\n### α {a}, τ {t}\n")
        print("| seed | YOLO AP50 | " + " | ".join(f"{k} before | {k} after" for k in keys) + " | boosted |")
        print("|---|---|" + "---|---|" * len(keys) + "---|")
        for s in seeds:
            job = f"5shot_seed{s}"
            r = json.load(open(os.path.join(out, tag, job + ".json")))
            # eval model must reproduce the training run's own numbers.
            trained = json.load(open(os.path.join(frcnn, "finetune", job, "results.json")))["metrics"]
            for k in keys:
                if abs(trained[k] - r["metrics"][k]) > 1e-6:
                    sys.exit(f"{job}: eval model {k} {r['metrics'][k]} != results.json {trained[k]}")
            y = json.load(open(os.path.join(yolo, "finetune", job, "results.json")))["metrics"]
            for arm, m in (("frcnn", r["metrics"]), ("rescored", r["rescored"])):
                d = os.path.join(root, arm, "finetune", job)
                os.makedirs(d, exist_ok=True)
                json.dump({"metrics": m}, open(os.path.join(d, "results.json"), "w"))
            cells = " | ".join(f"{r['metrics'][k]:.2f} | {r['rescored'][k]:.2f}" for k in keys)
            print(f"| {s} | {y['AP50']:.2f} | {cells} | {r.get('boosted', 0)}/{r['boxes']} |")
        print()
        sys.stdout.flush()
        subprocess.run([sys.executable, "bench/ablation/paired.py", root, "frcnn", "rescored"], check=True)
PY
