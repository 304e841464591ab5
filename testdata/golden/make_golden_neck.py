"""Writes the golden cases of the `neck` op (GOLDEN.md): one small case per
block type of ../shared/NECKS.md, plus a few attribute variants, computed by
PyTorch from the definitions there (written here for the purpose, BN in eval
mode), in float64 from float32-drawn inputs and weights.

    /usr/bin/python3 testdata/golden/make_golden_neck.py testdata/golden

Each case holds in.x, param.<NECKS.md name> for every weight and BN buffer,
out.y, grad_out.y, grad_in.x and grad_param.<name> for every conv weight and
each ASPP bias. GOLDEN_SALT reseeds every case, as make_golden.py does.
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden import GENERATOR, REDUCING, Case, write_safetensors  # noqa: E402


class ConvBNAct(nn.Module):
    """Conv2d without bias → BatchNorm2d → SiLU / ReLU / nothing: YOLOv5's
    Conv, YOLOv6's ConvBNReLU/ConvBNSiLU, RFBNet's BasicConv."""

    def __init__(self, c1, c2, k=1, s=1, p=None, d=1, act="silu"):
        super().__init__()
        k = (k, k) if isinstance(k, int) else k
        if p is None:
            p = (k[0] // 2, k[1] // 2)
        self.conv = nn.Conv2d(c1, c2, k, s, p, dilation=d, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = act

    def forward(self, x):
        y = self.bn(self.conv(x))
        if self.act == "silu":
            return F.silu(y)
        if self.act == "relu":
            return F.relu(y)
        return y


def mp(x, k):
    return F.max_pool2d(x, k, 1, k // 2)


class SPPNet(nn.Module):
    def __init__(self, levels):
        super().__init__()
        self.levels = levels

    def forward(self, x):
        n = x.shape[0]
        return torch.cat([F.adaptive_max_pool2d(x, l).reshape(n, -1) for l in self.levels], 1)


class SPP(nn.Module):
    def __init__(self, c1, c2, k):
        super().__init__()
        c = c1 // 2
        self.cv1 = ConvBNAct(c1, c, 1)
        self.cv2 = ConvBNAct(c * (len(k) + 1), c2, 1)
        self.k = k

    def forward(self, x):
        a = self.cv1(x)
        return self.cv2(torch.cat([a] + [mp(a, k) for k in self.k], 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k, act="silu"):
        super().__init__()
        c = c1 // 2
        self.cv1 = ConvBNAct(c1, c, 1, act=act)
        self.cv2 = ConvBNAct(4 * c, c2, 1, act=act)
        self.k = k

    def forward(self, x):
        a = self.cv1(x)
        p1 = mp(a, self.k)
        p2 = mp(p1, self.k)
        return self.cv2(torch.cat([a, p1, p2, mp(p2, self.k)], 1))


class ASPP(nn.Module):
    def __init__(self, c1, c2, rates):
        super().__init__()
        for i, r in enumerate(rates):
            setattr(self, f"c{i}", nn.Conv2d(c1, c2, 3, 1, r, dilation=r, bias=True))
        self.n = len(rates)

    def forward(self, x):
        return sum(getattr(self, f"c{i}")(x) for i in range(self.n))


def basic(c1, c2, k, s=1, p=0, d=1, relu=True):
    p = (p, p) if isinstance(p, int) else p
    return ConvBNAct(c1, c2, k, s, p, d, act="relu" if relu else None)


class RFB(nn.Module):
    def __init__(self, c1, c2, stride=1, scale=0.1, visual=1):
        super().__init__()
        i, v = c1 // 8, visual
        self.scale = scale
        self.branch0 = nn.Sequential(basic(c1, 2 * i, 1, stride), basic(2 * i, 2 * i, 3, 1, v, v, relu=False))
        self.branch1 = nn.Sequential(basic(c1, i, 1), basic(i, 2 * i, 3, stride, 1),
                                     basic(2 * i, 2 * i, 3, 1, v + 1, v + 1, relu=False))
        self.branch2 = nn.Sequential(basic(c1, i, 1), basic(i, (i // 2) * 3, 3, 1, 1),
                                     basic((i // 2) * 3, 2 * i, 3, stride, 1),
                                     basic(2 * i, 2 * i, 3, 1, 2 * v + 1, 2 * v + 1, relu=False))
        self.ConvLinear = basic(6 * i, c2, 1, relu=False)
        self.shortcut = basic(c1, c2, 1, stride, relu=False)

    def forward(self, x):
        y = torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)
        return F.relu(self.ConvLinear(y) * self.scale + self.shortcut(x))


class RFBA(nn.Module):
    def __init__(self, c1, c2, stride=1, scale=0.1):
        super().__init__()
        i = c1 // 4
        self.scale = scale
        self.branch0 = nn.Sequential(basic(c1, i, 1), basic(i, i, 3, 1, 1, relu=False))
        self.branch1 = nn.Sequential(basic(c1, i, 1), basic(i, i, (3, 1), 1, (1, 0)),
                                     basic(i, i, 3, 1, 3, 3, relu=False))
        self.branch2 = nn.Sequential(basic(c1, i, 1), basic(i, i, (1, 3), stride, (0, 1)),
                                     basic(i, i, 3, 1, 3, 3, relu=False))
        self.branch3 = nn.Sequential(basic(c1, i // 2, 1), basic(i // 2, (i // 4) * 3, (1, 3), 1, (0, 1)),
                                     basic((i // 4) * 3, i, (3, 1), stride, (1, 0)),
                                     basic(i, i, 3, 1, 5, 5, relu=False))
        self.ConvLinear = basic(4 * i, c2, 1, relu=False)
        self.shortcut = basic(c1, c2, 1, stride, relu=False)

    def forward(self, x):
        y = torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)
        return F.relu(self.ConvLinear(y) * self.scale + self.shortcut(x))


class SPPCSPC(nn.Module):
    def __init__(self, c1, c2, e=0.5, k=(5, 9, 13)):
        super().__init__()
        c = int(2 * c2 * e)
        self.cv1, self.cv2 = ConvBNAct(c1, c, 1), ConvBNAct(c1, c, 1)
        self.cv3, self.cv4 = ConvBNAct(c, c, 3), ConvBNAct(c, c, 1)
        self.cv5, self.cv6 = ConvBNAct(4 * c, c, 1), ConvBNAct(c, c, 3)
        self.cv7 = ConvBNAct(2 * c, c2, 1)
        self.k = k

    def forward(self, x):
        x1 = self.cv4(self.cv3(self.cv1(x)))
        y1 = self.cv6(self.cv5(torch.cat([x1] + [mp(x1, k) for k in self.k], 1)))
        return self.cv7(torch.cat([y1, self.cv2(x)], 1))


class CSPSPPF(nn.Module):
    def __init__(self, c1, c2, k=5, e=0.5, act="silu"):
        super().__init__()
        c = int(c2 * e)
        self.cv1, self.cv2 = ConvBNAct(c1, c, 1, act=act), ConvBNAct(c1, c, 1, act=act)
        self.cv3, self.cv4 = ConvBNAct(c, c, 3, act=act), ConvBNAct(c, c, 1, act=act)
        self.cv5, self.cv6 = ConvBNAct(4 * c, c, 1, act=act), ConvBNAct(c, c, 3, act=act)
        self.cv7 = ConvBNAct(2 * c, c2, 1, act=act)
        self.k = k

    def forward(self, x):
        x1 = self.cv4(self.cv3(self.cv1(x)))
        y0 = self.cv2(x)
        p1 = mp(x1, self.k)
        p2 = mp(p1, self.k)
        y3 = self.cv6(self.cv5(torch.cat([x1, p1, p2, mp(p2, self.k)], 1)))
        return self.cv7(torch.cat([y0, y3], 1))


def build(a):
    t, c1, c2 = a["type"], a["c1"], a.get("c2", a["c1"])
    k = a.get("k")
    if t == "spp_net":
        return SPPNet(a.get("levels", [4, 2, 1]))
    if t == "spp":
        return SPP(c1, c2, k or [5, 9, 13])
    if t in ("sppf", "simsppf"):
        return SPPF(c1, c2, k or 5, act="silu" if t == "sppf" else "relu")
    if t == "aspp":
        return ASPP(c1, c2, a.get("rates", [6, 12, 18, 24]))
    if t == "rfb":
        return RFB(c1, c2, a.get("stride", 1), a.get("scale", 0.1), a.get("visual", 1))
    if t == "rfb_a":
        return RFBA(c1, c2, a.get("stride", 1), a.get("scale", 0.1))
    if t == "sppcspc":
        return SPPCSPC(c1, c2, a.get("e", 0.5), k or [5, 9, 13])
    if t in ("cspsppf", "simcspsppf"):
        return CSPSPPF(c1, c2, k or 5, a.get("e", 0.5), act="silu" if t == "cspsppf" else "relu")
    raise ValueError(t)


# name, attrs, x shape
CASES = [
    ("spp_net_421", {"type": "spp_net", "c1": 6, "levels": [4, 2, 1]}, (2, 6, 9, 7)),
    ("spp_net_small_map", {"type": "spp_net", "c1": 3, "levels": [3, 1]}, (1, 3, 2, 5)),
    ("spp_5_9_13", {"type": "spp", "c1": 8, "c2": 6, "k": [5, 9, 13]}, (2, 8, 11, 9)),
    ("sppf_k5", {"type": "sppf", "c1": 8, "c2": 8, "k": 5}, (2, 8, 10, 12)),
    ("simsppf_k5", {"type": "simsppf", "c1": 8, "c2": 4, "k": 5}, (1, 8, 9, 9)),
    ("aspp_6_12_18_24", {"type": "aspp", "c1": 6, "c2": 5, "rates": [6, 12, 18, 24]}, (1, 6, 14, 13)),
    ("aspp_1_2", {"type": "aspp", "c1": 4, "c2": 3, "rates": [1, 2]}, (2, 4, 7, 6)),
    ("rfb", {"type": "rfb", "c1": 16, "c2": 16, "stride": 1, "scale": 0.1, "visual": 1}, (1, 16, 9, 8)),
    ("rfb_s2_visual2", {"type": "rfb", "c1": 16, "c2": 12, "stride": 2, "scale": 1.0, "visual": 2}, (1, 16, 11, 10)),
    ("rfb_a", {"type": "rfb_a", "c1": 16, "c2": 16, "stride": 1, "scale": 0.1}, (1, 16, 9, 10)),
    ("sppcspc", {"type": "sppcspc", "c1": 8, "c2": 8, "e": 0.5, "k": [5, 9, 13]}, (1, 8, 10, 9)),
    ("cspsppf", {"type": "cspsppf", "c1": 8, "c2": 8, "k": 5, "e": 0.5}, (1, 8, 9, 11)),
    ("simcspsppf_eps1e-3", {"type": "simcspsppf", "c1": 8, "c2": 6, "k": 3, "e": 0.5, "bn_eps": 1e-3}, (2, 8, 7, 8)),
]


def make(out, name, attrs, shape):
    cs = Case("neck_" + name)
    attrs = dict(attrs)
    attrs.setdefault("bn_eps", 1e-5)
    m = build(attrs).double().eval()
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.eps = attrs["bn_eps"]
    x = cs.randn(*shape)
    params = {}
    for key, v in m.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        if key.endswith("running_var") or key.endswith("bn.weight"):
            params[key] = cs.rand(*v.shape, lo=0.5, hi=1.5)
        elif key.endswith("running_mean") or key.endswith("bias"):
            params[key] = cs.randn(*v.shape, scale=0.2)
        else:  # conv weights, fan-in scaled
            params[key] = cs.randn(*v.shape, scale=(v[0].numel()) ** -0.5)
    m.load_state_dict({k: v.double() for k, v in params.items()}, strict=False)
    wanted = {k: p for k, p in m.named_parameters() if k.endswith("conv.weight") or not (".bn." in k or k.startswith("bn."))}
    for k, p in m.named_parameters():
        p.requires_grad_(k in wanted)
    x64 = x.double().requires_grad_(True)
    y = m(x64)
    gy = cs.randn(*y.shape)
    total = (y * gy.double()).sum()
    names = sorted(wanted)
    grads = torch.autograd.grad(total, [x64] + [wanted[k] for k in names])
    tensors = {"in.x": x, "out.y": y.detach().float(), "grad_out.y": gy, "grad_in.x": grads[0].float()}
    tensors.update({f"param.{k}": v for k, v in params.items()})
    tensors.update({f"grad_param.{k}": g.float() for k, g in zip(names, grads[1:])})
    meta = {"op": "neck", "attrs": json.dumps(attrs, sort_keys=True, separators=(",", ":")),
            "tol": repr(REDUCING), "generator": GENERATOR}
    write_safetensors(os.path.join(out, cs.name + ".safetensors"), tensors, meta)


def main(argv):
    if len(argv) != 1:
        sys.exit("usage: make_golden_neck.py OUTDIR")
    os.makedirs(argv[0], exist_ok=True)
    torch.set_grad_enabled(True)
    for name, attrs, shape in CASES:
        make(argv[0], name, attrs, shape)
    print(f"wrote {len(CASES)} neck cases to {argv[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
