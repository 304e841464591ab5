"""Writes small checkpoints for the weights tests into DIR and prints a JSON
fingerprint of every float tensor: shape and sum(v[i] * (i % 7 + 1)) over the
row-major elements, which catches wrong order, transposition and scaling.

    /usr/bin/python3 make_checkpoints.py DIR
"""
import json
import os
import pickle
import sys

import numpy as np
import torch
from torchvision.models.resnet import BasicBlock, ResNet


def fingerprint(a):
    a = np.ascontiguousarray(np.asarray(a, dtype=np.float64)).reshape(-1)
    return float((a * (np.arange(a.size) % 7 + 1)).sum())


def main(out):
    torch.manual_seed(0)
    model = ResNet(BasicBlock, [1, 1, 1, 1])
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2)
    sd = model.state_dict()
    # A strided view: the reader must follow strides, not copy storage.
    sd["fc.weight"] = sd["fc.weight"].t()
    torch.save(sd, os.path.join(out, "tv.pth"))
    torch.save({"state_dict": sd}, os.path.join(out, "tv_legacy.pth"), _use_new_zipfile_serialization=False)
    ref = {"tv": {k: [list(v.shape), fingerprint(v.numpy())] for k, v in sd.items() if v.is_floating_point()}}

    rng = np.random.default_rng(0)
    blobs = {
        "conv1_w": rng.standard_normal((8, 3, 7, 7)).astype(np.float32),
        "res_conv1_bn_s": rng.standard_normal(8).astype(np.float32),
        "res_conv1_bn_b": rng.standard_normal(8).astype(np.float32),
        "res2_0_branch2a_w": np.asfortranarray(rng.standard_normal((4, 8, 1, 1)).astype(np.float32)),
        "res2_0_branch2a_bn_s": rng.standard_normal(4).astype(np.float64),
        "res5_1_branch1_w": rng.standard_normal((6, 4, 1, 1)).astype(">f4"),
        "res2_0_branch2a_w_momentum": np.zeros((4, 8, 1, 1), np.float32),
        "fc1000_w": rng.standard_normal((10, 8)).astype(np.float32),
        "lr": np.array([7], np.int64),
    }
    for proto in (2, 4):
        with open(os.path.join(out, "c2_p%d.pkl" % proto), "wb") as f:
            pickle.dump({"blobs": blobs}, f, protocol=proto)
    d2 = {"model": {"backbone.res3.0.conv1.weight": blobs["conv1_w"][:, :1]}, "__author__": "test"}
    with open(os.path.join(out, "d2.pkl"), "wb") as f:
        pickle.dump(d2, f, protocol=4)
    # A DeFRCN release: a .pth of detectron2 names, heads included.
    defrcn = {"backbone.stem.conv1.weight": torch.randn(4, 3, 7, 7),
              "roi_heads.res5.0.conv1.norm.running_var": torch.rand(4),
              "roi_heads.box_predictor.cls_score.weight": torch.randn(3, 4),
              "affine_rcnn.weight": torch.ones(1, 4, 1, 1),
              "pixel_mean": torch.zeros(3, 1, 1)}
    torch.save({"model": defrcn, "iteration": 7}, os.path.join(out, "defrcn.pth"))
    ref["defrcn"] = {k: [list(v.shape), fingerprint(v.numpy())] for k, v in defrcn.items()}
    ref["c2"] = {k: [list(v.shape), fingerprint(v)] for k, v in blobs.items() if v.dtype.kind == "f"}
    ref["d2"] = {k: [list(v.shape), fingerprint(v)] for k, v in d2["model"].items()}
    json.dump(ref, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
