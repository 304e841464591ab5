#!/usr/bin/env python3
"""Times PyTorch/torchvision on the same cases as `fsodgpu bench kernels`.

Writes the same JSON schema (bench/run.go: Report/Result) so that
`fsodgpu bench compare OURS.json THEIRS.json` prints the ratios.

  /usr/bin/python3 bench/torch_bench.py --device cpu --json bench/results/torch-cpu.json
  python3 bench/torch_bench.py --device cuda --json bench/results/torch-h100.json

The shapes must stay in step with bench/suite.go (Cases): names are the key.
On CUDA, timing uses CUDA events. --precision sets the matrix arithmetic of
the convolutions and matmuls, as `fsodgpu bench kernels --precision` does ours:
  fp32     allow_tf32 off for cuDNN and matmul (the default: FP32 vs FP32)
  tf32     allow_tf32 on for both (ours: --precision tf32)
  default  PyTorch's own defaults on Ampere+: cuDNN TF32 on, matmul off
           (ours: the training default, conv tf32 / matmul fp32)
  bf16     torch.autocast(dtype=bfloat16) around each case (ours: --precision bf16)
--tf32 is the old spelling of --precision tf32. On the CPU only bf16 changes
anything (autocast to bfloat16); allow_tf32 is a CUDA setting.
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
    out.extend(neck_cases(sz, r, g, make_rois, fh, fw))
    for n in (1024, 2048):
        def mm(n=n):
            a, b = r(n, n), r(n, n)
            return lambda: a @ b
        out.append(("gemm.%d" % n, "matmul", 2.0 * n ** 3, 0, mm))
    return out


def yolov1_loss(pred, obj, box, cls, S, B, C, lambda_coord, lambda_noobj):
    """GOLDEN.md's yolov1_loss vectorised as a PyTorch user writes it (the
    cell-by-cell reference of testdata/golden/make_golden.py defines it)."""
    n = pred.shape[0]
    p = pred[..., :5 * B].reshape(n, S, S, B, 5)
    ii = torch.arange(S, device=pred.device, dtype=pred.dtype).view(1, S, 1, 1)
    jj = torch.arange(S, device=pred.device, dtype=pred.dtype).view(1, 1, S, 1)
    with torch.no_grad():
        cx, cy = (jj + p[..., 0]) / S, (ii + p[..., 1]) / S
        w, h = p[..., 2] ** 2, p[..., 3] ** 2
        tcx, tcy = ((jj[..., 0] + box[..., 0]) / S)[..., None], ((ii[..., 0] + box[..., 1]) / S)[..., None]
        tw, th = box[..., 2:3], box[..., 3:4]
        iw = (torch.min(cx + w / 2, tcx + tw / 2) - torch.max(cx - w / 2, tcx - tw / 2)).clamp(min=0)
        ih = (torch.min(cy + h / 2, tcy + th / 2) - torch.max(cy - h / 2, tcy - th / 2)).clamp(min=0)
        inter = iw * ih
        union = w * h + tw * th - inter
        iou = torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))
        best, r = iou.max(dim=3)
    resp = F.one_hot(r, B).to(pred.dtype) * obj[..., None]
    conf = p[..., 4]
    noobj = lambda_noobj * ((1 - resp) * conf ** 2).sum()
    pr = (p * resp[..., None]).sum(3)
    coord = ((pr[..., 0] - box[..., 0]) ** 2 + (pr[..., 1] - box[..., 1]) ** 2 +
             (pr[..., 2] - box[..., 2].sqrt()) ** 2 + (pr[..., 3] - box[..., 3].sqrt()) ** 2)
    objl = (lambda_coord * coord + (pr[..., 4] - best) ** 2) * obj
    onehot = F.one_hot(cls, C).to(pred.dtype)
    clsl = (((pred[..., 5 * B:] - onehot) ** 2).sum(-1) * obj).sum()
    return (objl.sum() + noobj + clsl) / n


def neck_cases(sz, r, g, make_rois, fh, fw):
    """bench/suite_neck.go's cases (issue 10): the SPP-family neck ops, RoI
    pooling and the YOLOv1 loss, names and shapes in step with it."""
    n = sz["Images"]
    res4, hidden, c256 = (n, 1024, fh, fw), (n, 512, fh, fw), (n, 256, fh, fw)
    mb = lambda shape: 4.0 * math.prod(shape)
    out = []

    def act(kind):
        def setup():
            x, dy = r(*res4, lo=-4, hi=4).requires_grad_(), r(*res4)
            fn = F.silu if kind == "silu" else (lambda t: F.leaky_relu(t, 0.1))
            return lambda: torch.autograd.grad(fn(x), x, dy)
        return setup
    for kind in ("silu", "leaky_relu"):
        out.append((kind + ".fwd_bwd", kind, 0, 5 * mb(res4), act(kind)))

    def pool():
        x, dy = r(*hidden).requires_grad_(), r(*hidden)
        return lambda: torch.autograd.grad(F.max_pool2d(x, 5, 1, 2), x, dy)
    out.append(("max_pool2d.k5s1.fwd_bwd", "max_pool2d", 0, 3 * mb(hidden) + 4 * mb(hidden), pool))

    def spp():
        x = r(*res4).requires_grad_()
        def run():
            for l in (4, 2, 1):
                y = F.adaptive_max_pool2d(x, l)
                torch.autograd.grad(y, x, y.detach())
        return run
    out.append(("adaptive_max_pool2d.spp421.fwd_bwd", "adaptive_max_pool2d", 0, 6 * mb(res4), spp))

    for name, kh, kw, pad, dil in (("rfb_3x1", 3, 1, (1, 0), 1), ("aspp_3x3d6", 3, 3, (6, 6), 6)):
        flops = 3 * 2.0 * n * 256 * 256 * kh * kw * fh * fw

        def conv(kh=kh, kw=kw, pad=pad, dil=dil):
            x, w, dy = r(*c256).requires_grad_(), r(256, 256, kh, kw, lo=-0.1, hi=0.1).requires_grad_(), r(*c256)
            return lambda: torch.autograd.grad(F.conv2d(x, w, None, 1, pad, dil), (x, w), dy)
        out.append(("conv.%s.fwd_bwd" % name, "conv2d", flops, 0, conv))

    rois = n * sz["RoIsPerImg"]

    def rp():
        x, rr, dy = r(*res4).requires_grad_(), make_rois(), r(rois, 1024, 7, 7)
        return lambda: torch.autograd.grad(torchvision.ops.roi_pool(x, rr, (7, 7), 1.0 / sz["FeatStride"]), x, dy)
    out.append(("roi_pool.fwd_bwd", "roi_pool", 0, 2 * (mb(res4) + rois * 1024 * 49 * 12.0), rp))

    yn, S, B, C = 4 * n, 7, 2, 20
    cells = yn * S * S

    def yolo():
        pred = r(yn, S, S, 30, lo=0, hi=1).requires_grad_()
        obj = (torch.rand(yn, S, S, generator=g) < 0.1).float().to(pred.device)
        cls = torch.randint(C, (yn, S, S), generator=g).to(pred.device)
        box = r(yn, S, S, 4, lo=0.05, hi=0.6)
        return lambda: torch.autograd.grad(yolov1_loss(pred, obj, box, cls, S, B, C, 5.0, 0.5), pred)
    out.append(("yolov1_loss.fwd_bwd", "yolov1_loss", 0, cells * 4.0 * (2 * 30 + 2 * 5 + 2 * 2), yolo))
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
    ap.add_argument("--precision", choices=["fp32", "tf32", "default", "bf16"], default="fp32")
    ap.add_argument("--tf32", action="store_true", help="the same as --precision tf32")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads (default: all, as ours)")
    args = ap.parse_args()
    if args.tf32:
        args.precision = "tf32"
    dev = torch.device(args.device)
    torch.set_num_threads(args.threads)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = args.precision == "tf32"
        torch.backends.cudnn.allow_tf32 = args.precision in ("tf32", "default")
        torch.backends.cudnn.benchmark = True
        device_name = torch.cuda.get_device_name(dev)
    else:
        device_name = "cpu"
    sz = sizes(dev.type, args.images)
    results = []
    torch.set_grad_enabled(True)
    for name, op, flops, nbytes, setup in cases(sz, dev):
        if args.filter and not any(f and f in name for f in args.filter.split(",")):
            continue
        res = dict(name=name, op=op, shape="see bench/suite.go", reps=0, median_ms=0.0, min_ms=0.0)
        try:
            run = setup()
            if args.precision == "bf16":
                # Autocast casts the operands of conv and matmul to bfloat16
                # (FP32 accumulation) and keeps losses, softmax and
                # reductions in FP32: mixed precision as ours.
                inner = run

                def run(inner=inner):
                    with torch.autocast(device_type=dev.type, dtype=torch.bfloat16):
                        inner()
            med, mn, n = time_case(run, dev, args.min_time, args.min_reps, 200)
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
               sizes=sz, timing="cuda events" if dev.type == "cuda" else "host clock", results=results,
               precision=args.precision)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rep, f, indent=2)
        print("wrote", args.json)


if __name__ == "__main__":
    main()
