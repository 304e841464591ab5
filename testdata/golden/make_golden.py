"""Writes the golden cases: one small safetensors file per (op, variant),
computed by PyTorch/torchvision, in the format of GOLDEN.md.

    /usr/bin/python3 testdata/golden/make_golden.py testdata/golden
    /usr/bin/python3 testdata/golden/make_golden.py --resnet DIR

The first form (`make golden`) rewrites the shipped cases. The second writes
the resnet cases, which carry tens of MB of weights and are never committed;
the model package's test runs it into a temporary directory.

Precision: inputs are drawn in float32 and stored as they are; the reference
outputs and gradients are computed from those exact values in float64 and
rounded to float32 when stored, so the stored answer is the float32 rounding of
the exact result and `tol` only has to absorb the backend's own float32 error:
1e-5 for elementwise ops, 1e-4 for ops that reduce (convolution, matmul,
RoI-Align, attention, losses), whose summation order differs between backends.
NMS runs in float32, the precision the backends see, so IoUs near the threshold
decide the same way.

Every case draws from its own generator seeded by the CRC-32 of its name, so
the output does not depend on the order or the set of cases written, and the
same torch version rewrites byte-identical files.
"""
import json
import os
import struct
import sys
import zlib

import torch
import torch.nn.functional as F
import torchvision
from torchvision.ops import batched_nms, roi_align, roi_pool

GENERATOR = f"torch {torch.__version__} / torchvision {torchvision.__version__}"
ELEMENTWISE, REDUCING = 1e-5, 1e-4


def write_safetensors(path, tensors, metadata):
    """Writes the safetensors format by hand (there is no safetensors package
    here): tensors in name order, header padded with spaces to 8 bytes."""
    dtypes = {torch.float32: "F32", torch.int64: "I64"}
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        b = t.numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


class Case:
    """Collects one case: inputs are float32 (or int64) as drawn; fn runs on
    their float64 copies; gradients flow to the inputs named in grads_of."""

    def __init__(self, name):
        self.name = name
        # GOLDEN_SALT reseeds every case: the same ops and shapes on new random
        # inputs, for checking a backend on cases it has never seen.
        salt = os.environ.get("GOLDEN_SALT", "")
        self.gen = torch.Generator().manual_seed(zlib.crc32((salt + name).encode()))

    def randn(self, *shape, scale=1.0):
        return (torch.randn(shape, generator=self.gen, dtype=torch.float64) * scale).float()

    def rand(self, *shape, lo=0.0, hi=1.0):
        return (lo + (hi - lo) * torch.rand(shape, generator=self.gen, dtype=torch.float64)).float()

    def randint(self, hi, *shape):
        return torch.randint(hi, shape, generator=self.gen, dtype=torch.int64)

    def run(self, outdir, op, attrs, tol, inputs, fn, grads_of=()):
        x64 = {}
        for k, v in inputs.items():
            v = v.double() if v.is_floating_point() else v.clone()
            if k in grads_of:
                v.requires_grad_(True)
            x64[k] = v
        outs = fn(**x64)
        tensors = {f"in.{k}": v for k, v in inputs.items()}
        tensors.update({f"out.{k}": v.detach().float() if v.is_floating_point() else v for k, v in outs.items()})
        if grads_of:
            gouts = {k: self.randn(*v.shape) for k, v in outs.items()}
            total = sum((v * gouts[k].double()).sum() for k, v in outs.items())
            grads = torch.autograd.grad(total, [x64[k] for k in grads_of])
            tensors.update({f"grad_out.{k}": v for k, v in gouts.items()})
            tensors.update({f"grad_in.{k}": g.float() for k, g in zip(grads_of, grads)})
        meta = {"op": op, "attrs": json.dumps(attrs, sort_keys=True, separators=(",", ":")),
                "tol": repr(tol), "generator": GENERATOR}
        write_safetensors(os.path.join(outdir, self.name + ".safetensors"), tensors, meta)


def conv2d_cases(out):
    variants = [
        # name, N, C, H, W, K, R, S, stride, padding, dilation, bias
        ("1x1", 2, 8, 7, 9, 16, 1, 1, [1, 1], [0, 0], [1, 1], True),
        ("3x3_pad1", 2, 6, 9, 11, 8, 3, 3, [1, 1], [1, 1], [1, 1], True),
        ("7x7_s2_pad3_nobias", 1, 3, 21, 19, 8, 7, 7, [2, 2], [3, 3], [1, 1], False),
        ("3x3_dil2", 1, 5, 12, 10, 6, 3, 3, [1, 1], [2, 2], [2, 2], True),
        ("3x3_s2_bias", 2, 4, 10, 9, 6, 3, 3, [2, 2], [1, 1], [1, 1], True),
        ("1x1_s2_nobias", 2, 8, 9, 8, 12, 1, 1, [2, 2], [0, 0], [1, 1], False),
        ("3x2_asym", 1, 4, 8, 11, 5, 3, 2, [1, 2], [1, 0], [1, 1], True),
        # RFBNet's non-square and dilated taps (BasicRFB_a, BasicRFB; ASPP's rates).
        ("3x1_pad1x0_nobias", 2, 4, 7, 6, 5, 3, 1, [1, 1], [1, 0], [1, 1], False),
        ("1x3_s2_pad0x1_nobias", 1, 4, 9, 8, 3, 1, 3, [2, 2], [0, 1], [1, 1], False),
        ("3x3_dil3_pad3", 1, 3, 10, 9, 4, 3, 3, [1, 1], [3, 3], [3, 3], True),
        ("3x3_dil5_pad5_nobias", 1, 3, 9, 11, 4, 3, 3, [1, 1], [5, 5], [5, 5], False),
    ]
    for name, n, c, h, w, k, r, s, stride, pad, dil, bias in variants:
        cs = Case("conv2d_" + name)
        inputs = {"x": cs.randn(n, c, h, w), "w": cs.randn(k, c, r, s, scale=(c * r * s) ** -0.5)}
        if bias:
            inputs["b"] = cs.randn(k, scale=0.1)

        def fn(x, w, b=None, stride=stride, pad=pad, dil=dil):
            return {"y": F.conv2d(x, w, b, stride=stride, padding=pad, dilation=dil)}
        cs.run(out, "conv2d", {"stride": stride, "padding": pad, "dilation": dil}, REDUCING, inputs, fn,
               grads_of=list(inputs))


def linear_cases(out):
    for name, n, i, o in [("small", 6, 10, 4), ("single_row", 1, 7, 3), ("cls_head", 32, 64, 81)]:
        cs = Case("linear_" + name)
        inputs = {"x": cs.randn(n, i), "w": cs.randn(o, i, scale=i ** -0.5), "b": cs.randn(o, scale=0.1)}
        cs.run(out, "linear", {}, REDUCING, inputs, lambda x, w, b: {"y": F.linear(x, w, b)}, grads_of=["x", "w", "b"])


def roi_align_cases(out):
    # Feature maps at stride 4 of a 48×64 image (two images).
    many = [[0, 4.0, 6.0, 30.0, 40.0],
            [1, 10.5, 3.25, 20.75, 9.5],
            [0, -8.0, -6.0, 12.0, 10.0],     # partly outside, top-left
            [1, 50.0, 30.0, 80.0, 60.0],     # partly outside, bottom-right
            [0, 20.0, 20.0, 20.0, 26.0],     # empty: zero width
            [1, 0.0, 0.0, 63.0, 47.0],       # whole image
            [1, 33.3, 17.7, 35.1, 18.9]]     # smaller than a feature cell
    variants = [
        # name, x shape, rois, output_size, spatial_scale, sampling_ratio, aligned
        ("aligned_adaptive", (2, 4, 12, 16), many, [4, 4], 0.25, 0, True),
        ("aligned_s2", (2, 4, 12, 16), many, [4, 4], 0.25, 2, True),
        ("legacy_adaptive", (2, 4, 12, 16), many, [4, 4], 0.25, 0, False),
        ("legacy_s2", (2, 4, 12, 16), many, [3, 5], 0.25, 2, False),
        ("single_roi", (1, 3, 10, 14), [[0, 16.0, 24.0, 150.0, 120.0]], [7, 7], 1 / 16, 0, True),
    ]
    for name, shape, rois, osize, scale, sr, aligned in variants:
        cs = Case("roi_align_" + name)
        inputs = {"x": cs.randn(*shape), "rois": torch.tensor(rois, dtype=torch.float32)}

        def fn(x, rois, osize=osize, scale=scale, sr=sr, aligned=aligned):
            return {"y": roi_align(x, rois, osize, spatial_scale=scale, sampling_ratio=sr, aligned=aligned)}
        attrs = {"output_size": osize, "spatial_scale": scale, "sampling_ratio": sr, "aligned": aligned}
        cs.run(out, "roi_align", attrs, REDUCING, inputs, fn, grads_of=["x"])


def roi_pool_cases(out):
    # Stride-16 maps of a 192×256 image pair, and a stride-4 map.
    s16 = [[0, 8.0, 8.0, 120.0, 90.0],
           [1, 30.5, 17.2, 70.4, 60.9],
           [0, -40.0, -20.0, 50.0, 40.0],     # partly outside, top-left
           [1, 230.0, 170.0, 400.0, 300.0],   # partly outside, bottom-right
           [0, 300.0, 250.0, 360.0, 290.0],   # wholly outside: every bin empty, 0
           [1, 60.0, 60.0, 61.0, 61.0],       # smaller than a cell
           [1, 100.0, 80.0, 40.0, 30.0],      # inverted: forced to one cell
           [0, 0.0, 0.0, 255.0, 191.0],       # whole image
           [0, 24.0, 8.0, 40.0, 56.0]]        # corners on .5 after scaling: rounding
    s4 = [[0, 2.0, 6.0, 30.0, 40.0], [1, 10.5, 3.25, 20.75, 9.5], [0, 20.0, 20.0, 20.0, 26.0], [1, 50.0, 30.0, 80.0, 60.0]]
    variants = [
        # name, x shape, rois, output_size, spatial_scale
        ("7x7_s16", (2, 3, 12, 16), s16, [7, 7], 1 / 16),
        ("2x3_s16", (2, 3, 12, 16), s16, [2, 3], 1 / 16),
        ("4x4_s4", (2, 4, 12, 16), s4, [4, 4], 0.25),
    ]
    for name, shape, rois, osize, scale in variants:
        cs = Case("roi_pool_" + name)
        x = cs.randn(*shape)
        # Six more RoIs drawn per case (GOLDEN_SALT moves them too), over and
        # past the image the map covers.
        ih, iw = shape[2] / scale, shape[3] / scale
        xy = cs.rand(6, 2, lo=-0.1, hi=0.9) * torch.tensor([iw, ih])
        wh = cs.rand(6, 2, lo=0.02, hi=0.7) * torch.tensor([iw, ih])
        drawn = torch.cat([cs.randint(shape[0], 6, 1).float(), xy, xy + wh], dim=1)
        inputs = {"x": x, "rois": torch.cat([torch.tensor(rois, dtype=torch.float32), drawn])}

        # torchvision's bin geometry depends on the dtype (floor/ceil of
        # float products), so it runs on the float32 values the backends see;
        # the max itself is exact and the gradient a sum of a few dy terms.
        def fn(x, rois, osize=osize, scale=scale):
            return {"y": roi_pool(x.float(), rois.float(), osize, spatial_scale=scale).double()}
        cs.run(out, "roi_pool", {"output_size": osize, "spatial_scale": scale}, REDUCING, inputs, fn, grads_of=["x"])


def reference_yolov1_loss(pred, obj, box, cls, S, B, C, lambda_coord, lambda_noobj):
    """GOLDEN.md's yolov1_loss, cell by cell. IoU and the responsible predictor
    are computed without gradient (IoU is a constant target)."""
    n = pred.shape[0]
    loss = pred.new_zeros(())
    for b_ in range(n):
        for i in range(S):
            for j in range(S):
                c = pred[b_, i, j]
                if obj[b_, i, j] == 0:
                    loss = loss + lambda_noobj * sum(c[5 * b + 4] ** 2 for b in range(B))
                    continue
                tx, ty, tw, th = box[b_, i, j]
                with torch.no_grad():
                    tcx, tcy = (j + tx) / S, (i + ty) / S
                    best, r = None, 0
                    for b in range(B):
                        x, y, sw, sh = c[5 * b:5 * b + 4].detach()
                        cx, cy, w, h = (j + x) / S, (i + y) / S, sw * sw, sh * sh
                        iw = (torch.min(cx + w / 2, tcx + tw / 2) - torch.max(cx - w / 2, tcx - tw / 2)).clamp(min=0)
                        ih = (torch.min(cy + h / 2, tcy + th / 2) - torch.max(cy - h / 2, tcy - th / 2)).clamp(min=0)
                        inter = iw * ih
                        union = w * h + tw * th - inter
                        iou = inter / union if union > 0 else torch.zeros(())
                        if best is None or iou > best:
                            best, r = iou, b
                p = c[5 * r:5 * r + 5]
                loss = loss + lambda_coord * ((p[0] - tx) ** 2 + (p[1] - ty) ** 2 + (p[2] - tw.sqrt()) ** 2
                                              + (p[3] - th.sqrt()) ** 2)
                loss = loss + (p[4] - best) ** 2
                loss = loss + lambda_noobj * sum(c[5 * b + 4] ** 2 for b in range(B) if b != r)
                onehot = F.one_hot(cls[b_, i, j], C).to(pred.dtype)
                loss = loss + ((c[5 * B:] - onehot) ** 2).sum()
    return loss / n


def yolov1_loss_cases(out):
    for name, n, S, B, C, lc, ln, ties in [("s7_b2_c20", 2, 7, 2, 20, 5.0, 0.5, False),
                                           ("s3_b3_c4_ties", 2, 3, 3, 4, 2.0, 0.1, True)]:
        cs = Case("yolov1_loss_" + name)
        pred = cs.rand(n, S, S, 5 * B + C)
        obj = (cs.rand(n, S, S) < 0.4).float()
        obj[0, 0, 0] = 1.0
        box = torch.cat([cs.rand(n, S, S, 2), cs.rand(n, S, S, 2, lo=0.05, hi=0.6)], dim=3)
        cls = cs.randint(C, n, S, S)
        if ties:
            pred[..., 5:10] = pred[..., 0:5]        # predictors 0 and 1 equal: the lower index wins
            pred[0, 0, 0, 0:15:5] = 0.0             # cell (0,0,0): no predictor overlaps the target,
            pred[0, 0, 0, 2:15:5] = 0.01            # every IoU 0, predictor 0 responsible
            pred[0, 0, 0, 3:15:5] = 0.01
            box[0, 0, 0] = torch.tensor([0.9, 0.9, 0.1, 0.1])
        inputs = {"pred": pred, "obj": obj, "box": box, "cls": cls}
        attrs = {"S": S, "B": B, "C": C, "lambda_coord": lc, "lambda_noobj": ln}

        def fn(pred, obj, box, cls, S=S, B=B, C=C, lc=lc, ln=ln):
            return {"loss": reference_yolov1_loss(pred, obj, box, cls, S, B, C, lc, ln)}
        cs.run(out, "yolov1_loss", attrs, REDUCING, inputs, fn, grads_of=["pred"])


def channel_attention_cases(out):
    for name, shape, pool, r in [("max_r4", (3, 32, 4, 4), "max", 4), ("max_r16", (3, 32, 4, 4), "max", 16),
                                 ("avg_r4", (2, 32, 5, 3), "avg", 4), ("avg_r16", (2, 32, 5, 3), "avg", 16),
                                 ("max_r16_c64", (2, 64, 7, 7), "max", 16)]:
        cs = Case("channel_attention_" + name)
        c = shape[1]
        inputs = {"x": cs.randn(*shape), "w1": cs.randn(c // r, c, scale=c ** -0.5), "b1": cs.randn(c // r, scale=0.1),
                  "w2": cs.randn(c, c // r, scale=(c // r) ** -0.5), "b2": cs.randn(c, scale=0.1)}

        def fn(x, w1, b1, w2, b2, pool=pool):
            pooled = x.amax(dim=(2, 3)) if pool == "max" else x.mean(dim=(2, 3))
            gate = torch.sigmoid(F.linear(F.relu(F.linear(pooled, w1, b1)), w2, b2))
            return {"y": x * gate[:, :, None, None]}
        cs.run(out, "channel_attention", {"pool": pool, "reduction": r}, REDUCING, inputs, fn,
               grads_of=["x", "w1", "b1", "w2", "b2"])


def rc_loss_cases(out):
    for name, n, k, scale in [("small", 8, 5, 1.0), ("voc", 16, 21, 2.0), ("peaked", 6, 81, 10.0)]:
        cs = Case("rc_loss_" + name)
        a = cs.randn(n, k, scale=scale)
        inputs = {"a": a, "b": a + cs.randn(n, k, scale=0.5 * scale)}

        def fn(a, b):
            la, lb = F.log_softmax(a, dim=1), F.log_softmax(b, dim=1)
            loss = (F.kl_div(lb, la, reduction="batchmean", log_target=True)
                    + F.kl_div(la, lb, reduction="batchmean", log_target=True))
            return {"loss": loss}
        cs.run(out, "rc_loss", {}, REDUCING, inputs, fn, grads_of=["a", "b"])


def dropout_cases(out):
    for name, shape, p in [("p0.5", (4, 10), 0.5), ("p0.8", (3, 64), 0.8), ("p0.2_4d", (2, 3, 4, 5), 0.2)]:
        cs = Case("dropout_" + name)
        mask = (cs.rand(*shape) >= p).float()
        inputs = {"x": cs.randn(*shape), "mask": mask}
        cs.run(out, "dropout", {"p": p}, ELEMENTWISE, inputs, lambda x, mask, p=p: {"y": x * mask / (1 - p)},
               grads_of=["x"])


def reference_nms(boxes, scores, classes, iou):
    """Plain greedy NMS with a stable sort (equal scores: lower index first),
    used to check that torchvision's answer is the well-defined one."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    for i in order:
        ok = True
        for j in keep:
            if classes[i] != classes[j]:
                continue
            w = (torch.min(boxes[i, 2], boxes[j, 2]) - torch.max(boxes[i, 0], boxes[j, 0])).clamp(min=0)
            h = (torch.min(boxes[i, 3], boxes[j, 3]) - torch.max(boxes[i, 1], boxes[j, 1])).clamp(min=0)
            inter = w * h
            if inter / (areas[i] + areas[j] - inter) > iou:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


def nms_cases(out):
    def random_boxes(cs, m, size):
        xy = cs.rand(m, 2, hi=100.0)
        wh = cs.rand(m, 2, lo=2.0, hi=size)
        return torch.cat([xy, xy + wh], dim=1)

    variants = []
    cs = Case("nms_random_3class")
    variants.append((cs, random_boxes(cs, 60, 40.0), cs.rand(60), cs.randint(3, 60), 0.5))
    cs = Case("nms_identical_scores")
    variants.append((cs, random_boxes(cs, 30, 50.0), torch.full((30,), 0.75), cs.randint(2, 30), 0.5))
    cs = Case("nms_clusters_iou0.7")
    centers = cs.rand(5, 2, hi=200.0).repeat_interleave(12, dim=0)
    jitter = cs.randn(60, 4, scale=3.0)
    boxes = torch.cat([centers - 20, centers + 20], dim=1) + jitter
    variants.append((cs, boxes, cs.rand(60), torch.zeros(60, dtype=torch.int64), 0.7))
    cs = Case("nms_zero_boxes")
    variants.append((cs, torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.int64), 0.5))

    for cs, boxes, scores, classes, iou in variants:
        keep = batched_nms(boxes, scores, classes, iou)
        want = reference_nms(boxes, scores, classes, iou)
        if keep.tolist() != want:
            sys.exit(f"{cs.name}: torchvision keeps {keep.tolist()}, the stable greedy reference {want}")
        inputs = {"boxes": boxes, "scores": scores, "classes": classes}
        cs.run(out, "nms", {"iou_threshold": iou}, 0.0, inputs, lambda boxes, scores, classes, keep=keep: {"keep": keep})


def relu_cases(out):
    for name, shape in [("4d", (3, 4, 5, 6)), ("1d", (100,))]:
        cs = Case("relu_" + name)
        cs.run(out, "relu", {}, ELEMENTWISE, {"x": cs.randn(*shape)}, lambda x: {"y": F.relu(x)}, grads_of=["x"])


def silu_cases(out):
    for name, shape, scale in [("4d", (2, 3, 5, 6), 3.0), ("tails", (64,), 30.0)]:
        cs = Case("silu_" + name)
        cs.run(out, "silu", {}, ELEMENTWISE, {"x": cs.randn(*shape, scale=scale)}, lambda x: {"y": F.silu(x)},
               grads_of=["x"])


def leaky_relu_cases(out):
    for name, shape, slope in [("0.1_4d", (2, 3, 5, 6), 0.1), ("0.01", (50,), 0.01), ("0.2_zeros", (4, 6), 0.2)]:
        cs = Case("leaky_relu_" + name)
        x = cs.randn(*shape)
        if name.endswith("zeros"):
            x[::2, ::3] = 0.0  # torch's gradient at 0 is the negative side's
        cs.run(out, "leaky_relu", {"negative_slope": slope}, ELEMENTWISE, {"x": x},
               lambda x, slope=slope: {"y": F.leaky_relu(x, slope)}, grads_of=["x"])


def max_pool2d_cases(out):
    for name, shape, k, s, p in [("stem_k3_s2_p1", (2, 3, 11, 13), [3, 3], [2, 2], [1, 1]),
                                 ("k2_s2", (1, 4, 8, 8), [2, 2], [2, 2], [0, 0]),
                                 ("k3_s1_p1", (1, 2, 6, 7), [3, 3], [1, 1], [1, 1]),
                                 ("k3x2_s2x1_p1x0", (2, 2, 9, 6), [3, 2], [2, 1], [1, 0]),
                                 # The SPP-family necks' pools: stride 1, padding k//2.
                                 ("k5_s1_p2", (2, 3, 9, 7), [5, 5], [1, 1], [2, 2]),
                                 ("k9_s1_p4", (1, 3, 10, 8), [9, 9], [1, 1], [4, 4]),
                                 ("k13_s1_p6", (1, 2, 13, 11), [13, 13], [1, 1], [6, 6])]:
        cs = Case("max_pool2d_" + name)
        cs.run(out, "max_pool2d", {"kernel": k, "stride": s, "padding": p}, ELEMENTWISE, {"x": cs.randn(*shape)},
               lambda x, k=k, s=s, p=p: {"y": F.max_pool2d(x, k, s, p)}, grads_of=["x"])


def frozen_bn_cases(out):
    for name, shape, eps in [("eps1e-5", (2, 8, 5, 6), 1e-5), ("small_var", (1, 16, 3, 3), 1e-5), ("eps0", (2, 4, 3, 2), 0.0)]:
        cs = Case("frozen_bn_" + name)
        c = shape[1]
        var = cs.rand(c, lo=0.5, hi=2.0) if name != "small_var" else cs.rand(c, lo=1e-4, hi=1e-2)
        inputs = {"x": cs.randn(*shape), "weight": cs.randn(c), "bias": cs.randn(c),
                  "running_mean": cs.randn(c, scale=0.5), "running_var": var}

        def fn(x, weight, bias, running_mean, running_var, eps=eps):
            return {"y": F.batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=eps)}
        cs.run(out, "frozen_bn", {"eps": eps}, ELEMENTWISE, inputs, fn, grads_of=["x"])


def cross_entropy_cases(out):
    for name, n, k, scale in [("small", 8, 5, 1.0), ("coco81", 16, 81, 3.0)]:
        cs = Case("cross_entropy_" + name)
        target = cs.randint(k, n)
        target[0] = k - 1  # the background class, last as in detectron2
        inputs = {"logits": cs.randn(n, k, scale=scale), "target": target}
        cs.run(out, "cross_entropy", {}, REDUCING, inputs,
               lambda logits, target: {"loss": F.cross_entropy(logits, target)}, grads_of=["logits"])


def smooth_l1_cases(out):
    for beta in [0.0, 1.0, 1 / 9]:
        for red in ["sum", "mean"]:
            name = f"smooth_l1_beta{beta:.3g}_{red}"
            cs = Case(name)
            # Differences spread over both sides of beta.
            inputs = {"x": cs.randn(12, 4, scale=1.5), "target": cs.randn(12, 4, scale=0.5)}
            cs.run(out, "smooth_l1", {"beta": beta, "reduction": red}, REDUCING, inputs,
                   lambda x, target, beta=beta, red=red: {"loss": F.smooth_l1_loss(x, target, reduction=red, beta=beta)},
                   grads_of=["x"])


def bce_cases(out):
    for red in ["sum", "mean"]:
        for kind in ["binary", "soft"]:
            cs = Case(f"bce_with_logits_{kind}_{red}")
            target = (cs.rand(40) > 0.5).float() if kind == "binary" else cs.rand(40)
            inputs = {"x": cs.randn(40, scale=4.0), "target": target}
            cs.run(out, "bce_with_logits", {"reduction": red}, REDUCING, inputs,
                   lambda x, target, red=red: {"loss": F.binary_cross_entropy_with_logits(x, target, reduction=red)},
                   grads_of=["x"])


def resnet_cases(out):
    """ResNet stem + layer1..layer4 in eval mode with random weights (the
    constructor's init under a fixed seed) and random BN statistics, so frozen
    BN is not the identity. Computed in float64 from the float32 weights."""
    from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet
    for block, cls in [("basic", BasicBlock), ("bottleneck", Bottleneck)]:
        name = "resnet_" + block
        cs = Case(name)
        torch.manual_seed(zlib.crc32(name.encode()))
        model = ResNet(cls, [1, 1, 1, 1]).eval()
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.weight.data = cs.rand(c, lo=0.5, hi=1.5)
                m.bias.data = cs.randn(c, scale=0.1)
                m.running_mean.data = cs.randn(c, scale=0.1)
                m.running_var.data = cs.rand(c, lo=0.5, hi=2.0)
        params = {f"param.{k}": v.detach().clone() for k, v in model.state_dict().items()
                  if not k.startswith("fc.") and not k.endswith("num_batches_tracked")}
        image = cs.randn(1, 3, 96, 128)
        m64 = model.double()
        with torch.no_grad():
            x = image.double()
            x = m64.maxpool(m64.relu(m64.bn1(m64.conv1(x))))
            x = m64.layer2(m64.layer1(x))
            layer3 = m64.layer3(x)
            layer4 = m64.layer4(layer3)
        tensors = {"in.image": image, "out.layer3": layer3.float(), "out.layer4": layer4.float(), **params}
        attrs = {"block": block, "layers": [1, 1, 1, 1], "stride_in_1x1": False}
        meta = {"op": "resnet", "attrs": json.dumps(attrs, sort_keys=True, separators=(",", ":")),
                "tol": repr(REDUCING), "generator": GENERATOR}
        write_safetensors(os.path.join(out, name + ".safetensors"), tensors, meta)


def main(argv):
    torch.set_num_threads(1)  # reductions in a fixed order
    if len(argv) == 2 and argv[0] == "--resnet":
        os.makedirs(argv[1], exist_ok=True)
        resnet_cases(argv[1])
        return
    if len(argv) != 1:
        sys.exit(__doc__)
    out = argv[0]
    os.makedirs(out, exist_ok=True)
    for gen in [conv2d_cases, linear_cases, roi_align_cases, roi_pool_cases, channel_attention_cases, rc_loss_cases,
                dropout_cases, nms_cases, relu_cases, silu_cases, leaky_relu_cases, max_pool2d_cases, frozen_bn_cases,
                cross_entropy_cases, smooth_l1_cases, bce_cases, yolov1_loss_cases]:
        gen(out)


if __name__ == "__main__":
    main(sys.argv[1:])
