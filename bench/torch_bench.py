#!/usr/bin/env python3
"""Times PyTorch/torchvision on the same cases as `fsodgpu bench kernels`.

Writes the same JSON schema (bench/run.go: Report/Result) so that
`fsodgpu bench compare OURS.json THEIRS.json` prints the ratios.

  /usr/bin/python3 bench/torch_bench.py --device cpu --json bench/results/torch-cpu.json
  python3 bench/torch_bench.py --device cuda --json bench/results/torch-h100.json

The shapes must stay in step with bench/suite.go (Cases): names are the key.
On CUDA, timing uses CUDA events and cuDNN/TF32 are configured explicitly
(--tf32 off by default so FP32 is compared with FP32).
"""
import argparse
import datetime
import json
import math
import os
import time

import torch
import torch.nn.functional as F
import torchvision


def sizes(device, images):
    s = dict(Images=16, RoIsPerImg=512, NMSBoxes=12000, ImageH=600, ImageW=1000,
             FeatStride=16, NumClassesA=21, NumClassesB=81)
    if device == "cpu":
        s["Images"] = 1
    if images:
        s["Images"] = images
    return s


def random_boxes(g, n, h, w):
    s = 16 * torch.pow(2.0, 4.7 * torch.rand(n, generator=g, dtype=torch.float64))
    a = torch.pow(2.0, 2 * torch.rand(n, generator=g, dtype=torch.float64) - 1)
    bw, bh = s * a.sqrt(), s / a.sqrt()
    cx, cy = w * torch.rand(n, generator=g, dtype=torch.float64), h * torch.rand(n, generator=g, dtype=torch.float64)
    b = torch.stack([(cx - bw / 2).clamp(min=0), (cy - bh / 2).clamp(min=0),
                     (cx + bw / 2).clamp(max=w), (cy + bh / 2).clamp(max=h)], 1)
    return b.float()


def cases(sz, dev):
    g = torch.Generator().manual_seed(0)
    fh, fw = -(-sz["ImageH"] // sz["FeatStride"]), -(-sz["ImageW"] // sz["FeatStride"])
    rois = sz["Images"] * sz["RoIsPerImg"]
    r = lambda *shape, lo=-1.0, hi=1.0: (lo + (hi - lo) * torch.rand(*shape, generator=g)).to(dev)
    convs = [
        ("stem_7x7s2", sz["Images"], 3, sz["ImageH"], sz["ImageW"], 64, 7, 2, 3),
        ("res4_3x3", sz["Images"], 256, fh, fw, 256, 3, 1, 1),
        ("res4_1x1_expand", sz["Images"], 256, fh, fw, 1024, 1, 1, 0),
        ("res5_1x1s2_reduce", rois, 1024, 7, 7, 512, 1, 2, 0),
        ("res5_3x3", rois, 512, 4, 4, 512, 3, 1, 1),
    ]
    out = []
    for name, n, c, h, w, k, ks, st, pad in convs:
        oh, ow = (h + 2 * pad - ks) // st + 1, (w + 2 * pad - ks) // st + 1
        flops = 2.0 * n * k * c * ks * ks * oh * ow

        def fwd(n=n, c=c, h=h, w=w, k=k, ks=ks, st=st, pad=pad):
            x, wt = r(n, c, h, w), r(k, c, ks, ks, lo=-0.1, hi=0.1)
            return lambda: F.conv2d(x, wt, None, st, pad)

        def bwd(n=n, c=c, h=h, w=w, k=k, ks=ks, st=st, pad=pad, oh=oh, ow=ow):
            x, wt, dy = r(n, c, h, w), r(k, c, ks, ks, lo=-0.1, hi=0.1), r(n, k, oh, ow)
            def run():
                torch.nn.grad.conv2d_input(x.shape, wt, dy, st, pad)
                torch.nn.grad.conv2d_weight(x, wt.shape, dy, st, pad)
            return run

        out.append(("conv.%s.fwd" % name, "conv2d", flops, 0, fwd))
        out.append(("conv.%s.bwd" % name, "conv2d_backward", 2 * flops, 0, bwd))

    def make_rois():
        parts = []
        for img in range(sz["Images"]):
            b = random_boxes(g, sz["RoIsPerImg"], sz["ImageH"], sz["ImageW"])
            parts.append(torch.cat([torch.full((b.shape[0], 1), float(img)), b], 1))
        return torch.cat(parts).to(dev)

    ra_bytes = 4.0 * (sz["Images"] * 1024 * fh * fw + rois * 5 + rois * 1024 * 49)
    scale = 1.0 / sz["FeatStride"]

    def ra_fwd():
        x, rr = r(sz["Images"], 1024, fh, fw), make_rois()
        return lambda: torchvision.ops.roi_align(x, rr, (7, 7), scale, 0, True)

    def ra_fwd_bwd():
        x, rr = r(sz["Images"], 1024, fh, fw).requires_grad_(), make_rois()
        dy = r(rois, 1024, 7, 7)
        def run():
            y = torchvision.ops.roi_align(x, rr, (7, 7), scale, 0, True)
            (gx,) = torch.autograd.grad(y, x, dy)
        return run

    out.append(("roi_align.fwd", "roi_align", 0, ra_bytes, ra_fwd))
    out.append(("roi_align.fwd_bwd", "roi_align", 0, 2 * ra_bytes, ra_fwd_bwd))

    def ca():
        x = r(rois, 2048, 4, 4).requires_grad_()
        w1, b1 = r(128, 2048, lo=-0.05, hi=0.05).requires_grad_(), r(128, lo=-0.05, hi=0.05).requires_grad_()
        w2, b2 = r(2048, 128, lo=-0.05, hi=0.05).requires_grad_(), r(2048, lo=-0.05, hi=0.05).requires_grad_()
        dy = r(rois, 2048, 4, 4)
        def run():
            p = F.adaptive_max_pool2d(x, 1).flatten(1)
            gate = torch.sigmoid(F.linear(F.relu(F.linear(p, w1, b1)), w2, b2))
            y = x * gate[:, :, None, None]
            torch.autograd.grad(y, (x, w1, b1, w2, b2), dy)
        return run

    out.append(("channel_attention.fwd_bwd", "channel_attention", 0, 2 * 4.0 * 2 * rois * 2048 * 16, ca))

    for k in (sz["NumClassesA"], sz["NumClassesB"]):
        def rc(k=k):
            a, b = r(rois, k, lo=-3, hi=3).requires_grad_(), r(rois, k, lo=-3, hi=3).requires_grad_()
            def run():
                la, lb = F.log_softmax(a, 1), F.log_softmax(b, 1)
                loss = F.kl_div(lb, la, reduction="batchmean", log_target=True) + \
                    F.kl_div(la, lb, reduction="batchmean", log_target=True)
                torch.autograd.grad(loss, (a, b))
            return run
        out.append(("rc_loss.k%d.fwd_bwd" % k, "rc_loss", 0, 16.0 * rois * k, rc))

    nb = sz["Images"] * sz["NMSBoxes"]

    def nms():
        boxes = torch.cat([random_boxes(g, sz["NMSBoxes"], sz["ImageH"], sz["ImageW"]) for _ in range(sz["Images"])]).to(dev)
        scores = torch.rand(nb, generator=g).to(dev)
        idx = torch.arange(sz["Images"]).repeat_interleave(sz["NMSBoxes"]).to(dev)
        return lambda: torchvision.ops.batched_nms(boxes, scores, idx, 0.7)

    out.append(("nms.batched", "nms", 0, nb * 28.0, nms))
    for n in (1024, 2048):
        def mm(n=n):
            a, b = r(n, n), r(n, n)
            return lambda: a @ b
        out.append(("gemm.%d" % n, "matmul", 2.0 * n ** 3, 0, mm))
    return out


def time_case(run, dev, min_time, min_reps, max_reps):
    def once():
        if dev.type == "cuda":
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            run()
            e.record()
            torch.cuda.synchronize()
            return s.elapsed_time(e)
        t = time.perf_counter()
        run()
        return (time.perf_counter() - t) * 1e3
    once()
    times, spent = [], 0.0
    while len(times) < max_reps and (len(times) < min_reps or spent < min_time * 1e3):
        ms = once()
        times.append(ms)
        spent += ms
    times.sort()
    n = len(times)
    med = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
    return med, times[0], n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json")
    ap.add_argument("--filter", default="")
    ap.add_argument("--images", type=int, default=0)
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--min-reps", type=int, default=3)
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads (default: all, as ours)")
    args = ap.parse_args()
    dev = torch.device(args.device)
    torch.set_num_threads(args.threads)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
        torch.backends.cudnn.benchmark = True
        device_name = torch.cuda.get_device_name(dev)
    else:
        device_name = "cpu"
    sz = sizes(dev.type, args.images)
    results = []
    torch.set_grad_enabled(True)
    for name, op, flops, nbytes, setup in cases(sz, dev):
        if args.filter and args.filter not in name:
            continue
        res = dict(name=name, op=op, shape="see bench/suite.go", reps=0, median_ms=0.0, min_ms=0.0)
        try:
            med, mn, n = time_case(setup(), dev, args.min_time, args.min_reps, 200)
            res.update(reps=n, median_ms=med, min_ms=mn)
            if flops:
                res["gflops"] = flops / (med * 1e6)
            if nbytes:
                res["gbps"] = nbytes / (med * 1e6)
        except Exception as e:  # record and go on, like the Go runner
            res["error"] = str(e)
        results.append(res)
        print("%-30s %10.3f ms" % (name, res["median_ms"]), flush=True)
    rep = dict(tool="torch", backend=dev.type, device=device_name,
               commit="torch %s / torchvision %s" % (torch.__version__, torchvision.__version__),
               threads=torch.get_num_threads(), date=datetime.datetime.utcnow().isoformat() + "Z",
               sizes=sz, timing="cuda events" if dev.type == "cuda" else "host clock", results=results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rep, f, indent=2)
        print("wrote", args.json)


if __name__ == "__main__":
    main()
