#!/usr/bin/env python3
"""Paired comparison of ablation arms: per split seed, arm minus the reference
arm, then mean and 95% CI (1.96 s/sqrt(n)) of the differences. The arms share
the base model and the K-shot splits, so pairing removes the split-to-split
spread that dominates the per-arm CIs.

    python3 bench/ablation/paired.py runs/abl defrcn mfe sem tem rc relabel
"""
import json, math, os, sys

root, ref, arms = sys.argv[1], sys.argv[2], sys.argv[3:]
keys = ["AP50", "bAP50", "nAP50", "AP", "nAP"]

def load(arm):
    out = {}
    ft = os.path.join(root, arm, "finetune")
    for job in sorted(os.listdir(ft)):
        p = os.path.join(ft, job, "results.json")
        if os.path.exists(p):
            out[job] = json.load(open(p))["metrics"]
    return out

def mean_ci(v):
    m = sum(v) / len(v)
    if len(v) < 2:
        return m, 0.0
    s = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
    return m, 1.96 * s / math.sqrt(len(v))

base = load(ref)
print(f"| arm | jobs | " + " | ".join(f"Δ{k}" for k in keys) + " |")
print("|---|---|" + "---|" * len(keys))
for arm in arms:
    a = load(arm)
    jobs = sorted(set(a) & set(base))
    cells = []
    for k in keys:
        m, ci = mean_ci([a[j][k] - base[j][k] for j in jobs])
        cells.append(f"{m:+.2f} ± {ci:.2f}")
    print(f"| {arm} − {ref} | {len(jobs)} | " + " | ".join(cells) + " |")
