#!/usr/bin/env python3
"""Compare the losses of two runs of one plan (metrics.json of each job), e.g.
the emulated CUDA backend against the CPU backend (make emu-demo).

usage: compare_losses.py RUN_A RUN_B JOB [JOB ...]

Every loss term of the first STRICT iterations of each job must agree within
relative 1e-4 (absolute floor 1e-4); after that, the total loss within 10%.
Why two bands: the backends sum in different orders, so the last bits differ;
while training follows the same discrete choices (anchor and RoI sampling,
NMS, top-k) the losses stay equal to ~1e-6, but once a near-tie flips one
choice the runs drift apart like any two chaotic trajectories.
"""
import json
import sys

STRICT = {"base": 20}
STRICT_DEFAULT = 5


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                row = json.loads(line)
                if row.get("losses"):
                    rows.append(row)
    return rows


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    a_dir, b_dir, jobs = sys.argv[1], sys.argv[2], sys.argv[3:]
    bad = 0
    for job in jobs:
        a = load(f"{a_dir}/{job}/metrics.json")
        b = load(f"{b_dir}/{job}/metrics.json")
        if not a or len(a) != len(b):
            print(f"{job}: {len(a)} vs {len(b)} logged iterations")
            bad += 1
            continue
        strict = STRICT.get(job, STRICT_DEFAULT)
        worst = 0.0
        for x, y in zip(a, b):
            it = x["iteration"]
            terms = dict(x["losses"], total_loss=x["total_loss"])
            ref = dict(y["losses"], total_loss=y["total_loss"])
            for k, v in terms.items():
                w = ref.get(k)
                if w is None:
                    print(f"{job}: iteration {it}: {k} only in {a_dir}")
                    bad += 1
                    continue
                d = abs(v - w) / max(abs(w), 1e-4)
                if it < strict:
                    worst = max(worst, d)
                    if d > 1e-4:
                        print(f"{job}: iteration {it}: {k} {v} vs {w} (relative {d:.2e} > 1e-4)")
                        bad += 1
                elif k == "total_loss" and d > 0.10:
                    print(f"{job}: iteration {it}: total_loss {v} vs {w} (relative {d:.2e} > 0.10)")
                    bad += 1
        print(f"{job}: {len(a)} iterations; worst relative difference over the first {strict}: {worst:.2e}")
    if bad:
        sys.exit(f"{bad} loss(es) outside the band")


if __name__ == "__main__":
    main()
