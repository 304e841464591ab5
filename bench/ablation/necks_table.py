#!/usr/bin/env python3
"""Tables of bench/ablation/necks.sh: per arm the base model's AP50, the
fine-tunes' mean ± 95% CI over split seeds, seconds per base-training
iteration, and per arm the paired differences against a reference arm (same
split seed, arm minus reference; mean ± 1.96·s/√n).

    python3 bench/ablation/necks_table.py runs/necks
"""
import json, math, os, sys

root = sys.argv[1]
keys = ["AP50", "bAP50", "nAP50", "AP", "nAP"]
# Arms whose base model finished (the DeFRCN arm shares the none arm's).
arms = [a for a in ["none", "sppf", "spp", "aspp", "rfb", "sppcspc", "ROIAlign", "ROIPool", "defrcn"]
        if os.path.exists(os.path.join(root, a, "base", "eval.json"))]


def load(arm):
    out = {}
    ft = os.path.join(root, arm, "finetune")
    if not os.path.isdir(ft):
        return out
    for job in sorted(os.listdir(ft)):
        p = os.path.join(ft, job, "results.json")
        if os.path.exists(p):
            out[job] = json.load(open(p))["metrics"]
    return out


def mean_ci(v):
    if not v:
        return float("nan"), float("nan")
    m = sum(v) / len(v)
    if len(v) < 2:
        return m, 0.0
    s = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))
    return m, 1.96 * s / math.sqrt(len(v))


def sec_per_iter(path):
    """Mean of the logged per-iteration times, the first window (warm-up,
    allocation) left out."""
    if not os.path.exists(path):
        return float("nan")
    ts = [r["time"] for r in map(json.loads, open(path)) if r.get("eval") is None and r.get("time")]
    ts = ts[1:] or ts
    return sum(ts) / len(ts) if ts else float("nan")


res = {a: load(a) for a in arms}
print("| arm | base AP50 | s/iter base | s/iter fine-tune | jobs | " + " | ".join(keys) + " |")
print("|---|---|---|---|---|" + "---|" * len(keys))
for a in arms:
    ev = os.path.join(root, a, "base", "eval.json")
    b = json.load(open(ev))["AP50"] if os.path.exists(ev) else float("nan")
    fts = [sec_per_iter(os.path.join(root, a, "finetune", j, "metrics.json")) for j in res[a]]
    ft = sum(fts) / len(fts) if fts else float("nan")
    cells = ["%.2f ± %.2f" % mean_ci([r[k] for r in res[a].values()]) for k in keys]
    base_t = sec_per_iter(os.path.join(root, a, "base", "metrics.json"))
    note = " (shared)" if a == "defrcn" else ""
    print(f"| {a} | {b:.2f}{note} | {base_t:.3f}{note} | {ft:.3f} | {len(res[a])} | " + " | ".join(cells) + " |")

print()
print("| paired | jobs | " + " | ".join(f"Δ{k}" for k in keys) + " |")
print("|---|---|" + "---|" * len(keys))
for a in arms:
    if a == "none":
        continue
    ref, arm = ("none", a) if a != "defrcn" else ("defrcn", "none")
    jobs = sorted(set(res[arm]) & set(res[ref]))
    if not jobs:
        continue
    cells = ["%+.2f ± %.2f" % mean_ci([res[arm][j][k] - res[ref][j][k] for j in jobs]) for k in keys]
    label = f"{arm} − {ref}" if a != "defrcn" else "MFE (none) − DeFRCN"
    print(f"| {label} | {len(jobs)} | " + " | ".join(cells) + " |")
