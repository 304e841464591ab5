"""Writes a safetensors file from torch tensors by hand (struct + json, no
safetensors package), plus the float32/int64 values torch itself converts them
to, so the Go reader is checked against torch's own dtype conversions.

usage: python3 torch_reference.py OUT.safetensors OUT.json
"""
import json
import struct
import sys

import torch

torch.manual_seed(7)
tensors = {
    "f32": torch.randn(3, 4),
    "f64": torch.randn(2, 3, dtype=torch.float64),
    "f16": torch.tensor([0.0, -0.0, 1.5, -2.25, 65504.0, 6e-8, 1e-4, float("inf")], dtype=torch.float16),
    "bf16": (torch.randn(5) * 100).to(torch.bfloat16),
    "i64": torch.tensor([[0, -1], [2**40, -(2**40)]], dtype=torch.int64),
    "i32": torch.tensor([7, -8, 2**31 - 1], dtype=torch.int32),
    "scalar": torch.tensor(3.25),
}
dtypes = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
          torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32"}


def raw(t):
    # numpy has no bfloat16: reinterpret 2-byte types as int16 first.
    if t.element_size() == 2:
        t = t.view(torch.int16)
    return t.contiguous().numpy().tobytes()


header = {"__metadata__": {"writer": "torch " + torch.__version__}}
blobs = []
offset = 0
for name, t in tensors.items():
    b = raw(t)
    header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
    blobs.append(b)
    offset += len(b)
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(h)))
    f.write(h)
    for b in blobs:
        f.write(b)

want = {}
for name, t in tensors.items():
    if t.is_floating_point():
        v = t.float().flatten().tolist()
        want[name] = {"float": [repr(x) for x in v], "shape": list(t.shape)}
    else:
        want[name] = {"int": t.flatten().tolist(), "shape": list(t.shape)}
with open(sys.argv[2], "w") as f:
    json.dump(want, f)
