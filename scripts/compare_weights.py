#!/usr/bin/env python3
"""Compare two safetensors files tensor by tensor (make emu-nccl).

usage: compare_weights.py A.safetensors B.safetensors [RTOL]

Every tensor must have the same names, dtypes and shapes, and every value
must agree within RTOL relative to the largest magnitude of that tensor
(default 1e-5; 0 means bit-identical). Prints the largest difference and
how many tensors are bit-identical.
"""
import json
import struct
import sys

import numpy as np


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] != "F32":
            sys.exit(f"{path}: {name} is {meta['dtype']}, only F32 is compared")
        lo, hi = meta["data_offsets"]
        out[name] = np.frombuffer(data[lo:hi], dtype="<f4").reshape(meta["shape"])
    return out


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    rtol = float(sys.argv[3]) if len(sys.argv) == 4 else 1e-5
    a, b = load(sys.argv[1]), load(sys.argv[2])
    if sorted(a) != sorted(b):
        sys.exit(f"different tensors: only in A {sorted(set(a) - set(b))}, only in B {sorted(set(b) - set(a))}")
    worst, worst_name, same, bad = 0.0, "", 0, []
    for name in sorted(a):
        x, y = a[name], b[name]
        if x.shape != y.shape:
            bad.append(f"{name}: shape {x.shape} vs {y.shape}")
            continue
        if x.tobytes() == y.tobytes():
            same += 1
            continue
        scale = max(float(np.max(np.abs(x))), float(np.max(np.abs(y))), 1e-30)
        d = float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) / scale
        if d > worst:
            worst, worst_name = d, name
        if d > rtol:
            bad.append(f"{name}: relative difference {d:.3g} > {rtol:g}")
    print(f"{len(a)} tensors: {same} bit-identical; largest relative difference {worst:.3g}" + (f" ({worst_name})" if worst_name else ""))
    if bad:
        sys.exit("\n".join(bad))


if __name__ == "__main__":
    main()
