# A detectron2-style inference pipeline in PyTorch, written from detectron2's
# (v0.3, the version DeFRCN builds on) semantics, to check that
# `fsodgpu detect` gives the detections detectron2 would on the same weights
# and images. Nothing here is fsodgpu's code: it reads our safetensors and a
# JSON of the model config and follows detectron2 step by step:
#   read_image (PIL, EXIF orientation, convert RGB, channel order)
#   ResizeShortestEdge (PIL BILINEAR on uint8), (x - mean) / std,
#   ImageList padding (zeros after normalisation, size_divisibility),
#   ResNet C4 with FrozenBatchNorm, DeFRCN's affine layers,
#   StandardRPNHead + DefaultAnchorGenerator (offset 0) + find_top_rpn_proposals,
#   ROIPooler (ROIAlignV2: aligned=True), Res5ROIHeads (res5, mean pool),
#   FastRCNNOutputLayers + fast_rcnn_inference, detector_postprocess;
#   with the MFE parts (SEM, TEM) as fsodgpu's README defines them.
# usage: d2_reference.py weights.safetensors config.json out.json img...
# config.json: {"model": <model.Config as Go's encoding/json writes it>,
#               "min_size_test": N, "max_size_test": N, "size_divisibility": N}
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torchvision.ops import batched_nms, roi_align

torch.set_grad_enabled(False)
torch.set_num_threads(1)
STRIDE = 16  # res4


def load_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        a, b = v["data_offsets"]
        t = np.frombuffer(raw[8 + n + a : 8 + n + b], dtype="<f4").reshape(v["shape"])
        out[name[len("model.") :] if name.startswith("model.") else name] = torch.from_numpy(t.copy())
    return out


def read_image(path, fmt):
    im = ImageOps.exif_transpose(Image.open(path))
    a = np.asarray(im.convert("RGB"))
    return a[:, :, ::-1] if fmt == "BGR" else a


def resize_shortest_edge(img, short, max_size):
    h, w = img.shape[:2]
    scale = short / min(h, w)
    newh, neww = (short, scale * w) if h < w else (scale * h, short)
    if max(newh, neww) > max_size:
        s = max_size / max(newh, neww)
        newh, neww = newh * s, neww * s
    neww, newh = int(neww + 0.5), int(newh + 0.5)
    return np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize((neww, newh), Image.BILINEAR))


class Model:
    def __init__(self, W, cfg):
        self.W, self.cfg = W, cfg

    def conv_bn(self, x, name, stride):
        w = self.W[name + ".weight"]
        x = F.conv2d(x, w, self.W.get(name + ".bias"), stride, w.shape[-1] // 2)
        n = name + ".norm"
        scale = self.W[n + ".weight"] * (self.W[n + ".running_var"] + 1e-5).rsqrt()
        bias = self.W[n + ".bias"] - self.W[n + ".running_mean"] * scale
        return x * scale[None, :, None, None] + bias[None, :, None, None]

    def stage(self, x, prefix, first_stride):
        i = 0
        while prefix + f".{i}.conv1.weight" in self.W:
            p = f"{prefix}.{i}"
            stride = first_stride if i == 0 else 1
            bottleneck = p + ".conv3.weight" in self.W
            s1, s2 = (stride, 1) if (bottleneck and self.cfg["Backbone"]["StrideIn1x1"]) or not bottleneck else (1, stride)
            y = F.relu(self.conv_bn(x, p + ".conv1", s1))
            if bottleneck:
                y = F.relu(self.conv_bn(y, p + ".conv2", s2))
                y = self.conv_bn(y, p + ".conv3", 1)
            else:
                y = self.conv_bn(y, p + ".conv2", 1)
            short = self.conv_bn(x, p + ".shortcut", stride) if p + ".shortcut.weight" in self.W else x
            x = F.relu(y + short)
            i += 1
        return x

    def backbone(self, x):
        x = F.relu(self.conv_bn(x, "backbone.stem.conv1", 2))
        x = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
        x = self.stage(x, "backbone.res2", 1)
        x = self.stage(x, "backbone.res3", 2)
        return self.stage(x, "backbone.res4", 2)

    def affine(self, x, name):
        if name + ".weight" not in self.W:
            return x
        return x * self.W[name + ".weight"] + self.W[name + ".bias"]

    def anchors(self, h, w):
        rc = self.cfg["RPN"]
        cell = []
        for size in rc["AnchorSizes"]:
            area = size**2.0
            for ar in rc["AnchorRatios"]:
                aw = math.sqrt(area / ar)
                ah = ar * aw
                cell.append([-aw / 2.0, -ah / 2.0, aw / 2.0, ah / 2.0])
        cell = torch.tensor(cell)
        sx = torch.arange(0, w * STRIDE, step=STRIDE, dtype=torch.float32)
        sy = torch.arange(0, h * STRIDE, step=STRIDE, dtype=torch.float32)
        yy, xx = torch.meshgrid(sy, sx, indexing="ij")
        xx, yy = xx.reshape(-1), yy.reshape(-1)
        shifts = torch.stack((xx, yy, xx, yy), dim=1)
        return (shifts.view(-1, 1, 4) + cell.view(1, -1, 4)).reshape(-1, 4)

    @staticmethod
    def apply_deltas(deltas, boxes, weights):
        widths = boxes[:, 2] - boxes[:, 0]
        heights = boxes[:, 3] - boxes[:, 1]
        cx = boxes[:, 0] + 0.5 * widths
        cy = boxes[:, 1] + 0.5 * heights
        wx, wy, ww, wh = weights
        dx, dy = deltas[:, 0::4] / wx, deltas[:, 1::4] / wy
        clampv = math.log(1000.0 / 16)
        dw = torch.clamp(deltas[:, 2::4] / ww, max=clampv)
        dh = torch.clamp(deltas[:, 3::4] / wh, max=clampv)
        pcx = dx * widths[:, None] + cx[:, None]
        pcy = dy * heights[:, None] + cy[:, None]
        pw = torch.exp(dw) * widths[:, None]
        ph = torch.exp(dh) * heights[:, None]
        out = torch.stack((pcx - 0.5 * pw, pcy - 0.5 * ph, pcx + 0.5 * pw, pcy + 0.5 * ph), dim=2)
        return out.reshape(deltas.shape)

    @staticmethod
    def clip(boxes, h, w):
        b = boxes.reshape(-1, 4)
        b = torch.stack((b[:, 0].clamp(0, w), b[:, 1].clamp(0, h), b[:, 2].clamp(0, w), b[:, 3].clamp(0, h)), 1)
        return b.reshape(boxes.shape)

    def rpn(self, feat, h, w):
        rc, p = self.cfg["RPN"], "proposal_generator.rpn_head"
        x = F.relu(F.conv2d(feat, self.W[p + ".conv.weight"], self.W[p + ".conv.bias"], 1, 1))
        obj = F.conv2d(x, self.W[p + ".objectness_logits.weight"], self.W[p + ".objectness_logits.bias"])
        dl = F.conv2d(x, self.W[p + ".anchor_deltas.weight"], self.W[p + ".anchor_deltas.bias"])
        n, a, fh, fw = obj.shape
        obj = obj.permute(0, 2, 3, 1).reshape(-1)
        dl = dl.view(n, a, 4, fh, fw).permute(0, 3, 4, 1, 2).reshape(-1, 4)
        props = self.apply_deltas(dl, self.anchors(fh, fw), rc["BoxWeights"])
        k = min(rc["PreNMSTest"], obj.numel())
        scores, idx = obj.topk(k)
        boxes = props[idx]
        valid = torch.isfinite(boxes).all(dim=1) & torch.isfinite(scores)
        boxes, scores = self.clip(boxes[valid], h, w), scores[valid]
        ms = rc["MinSize"]
        keep = ((boxes[:, 2] - boxes[:, 0]) > ms) & ((boxes[:, 3] - boxes[:, 1]) > ms)
        boxes, scores = boxes[keep], scores[keep]
        keep = batched_nms(boxes, scores, torch.zeros(len(scores), dtype=torch.int64), rc["NMS"])
        return boxes[keep[: rc["PostNMSTest"]]]

    def box_features(self, feat, boxes):
        rois = torch.cat((torch.zeros(len(boxes), 1), boxes), dim=1)
        p = self.cfg["ROI"]["PoolerResolution"]
        x = roi_align(feat, rois, (p, p), 1.0 / STRIDE, self.cfg["ROI"]["SamplingRatio"], aligned=True)
        return self.stage(x, "roi_heads.res5", 2)

    def tem(self, z, name):
        if name + ".fc1.weight" not in self.W:
            return z
        pooled = z.amax(dim=(2, 3)) if self.cfg["MFE"]["TEMPool"] == "max" else z.mean(dim=(2, 3))
        hid = F.relu(F.linear(pooled, self.W[name + ".fc1.weight"], self.W[name + ".fc1.bias"]))
        gate = torch.sigmoid(F.linear(hid, self.W[name + ".fc2.weight"], self.W[name + ".fc2.bias"]))
        return z * gate[:, :, None, None]

    def predictor(self, f, which):
        p = "roi_heads.box_predictor." + which
        return F.linear(f, self.W[p + ".weight"], self.W[p + ".bias"])

    def heads(self, feat, props, h, w):
        cfg = self.cfg
        rw = cfg["ROI"]["BoxWeights"]
        z = self.box_features(feat, props)
        deltas = self.predictor(self.tem(z, "roi_heads.tem_reg").mean(dim=(2, 3)), "bbox_pred")
        if cfg["MFE"]["SEM"]:
            # SEM: class-agnostic refinement, classification on the refined boxes.
            refined = self.clip(self.apply_deltas(deltas, props, rw), h, w)
            z2 = self.box_features(feat, refined)
            logits = self.predictor(self.tem(z2, "roi_heads.tem_cls").mean(dim=(2, 3)), "cls_score")
            if cfg["MFE"]["SEMR"]:
                d2 = self.predictor(self.tem(z2, "roi_heads.tem_reg").mean(dim=(2, 3)), "bbox_pred")
                refined = self.clip(self.apply_deltas(d2, refined, rw), h, w)
            boxes = refined
        else:
            logits = self.predictor(self.tem(z, "roi_heads.tem_cls").mean(dim=(2, 3)), "cls_score")
            boxes = self.apply_deltas(deltas, props, rw)
        # fast_rcnn_inference_single_image
        scores = F.softmax(logits, dim=-1)[:, :-1]
        k = boxes.shape[1] // 4
        boxes = self.clip(boxes.reshape(-1, 4), h, w).view(-1, k, 4)
        mask = scores > cfg["ROI"]["ScoreThresh"]
        inds = mask.nonzero()
        boxes = boxes[inds[:, 0], 0] if k == 1 else boxes[mask]
        scores = scores[mask]
        keep = batched_nms(boxes, scores, inds[:, 1], cfg["ROI"]["NMS"])[: cfg["ROI"]["DetsPerImage"]]
        return boxes[keep], scores[keep], inds[keep, 1]

    def __call__(self, img, rc):
        cfg = self.cfg
        orig_h, orig_w = img.shape[:2]
        r = resize_shortest_edge(img, rc["min_size_test"], rc["max_size_test"])
        h, w = r.shape[:2]
        x = torch.as_tensor(r.astype("float32").transpose(2, 0, 1))
        mean = torch.tensor(cfg["PixelMean"])[:, None, None]
        std = torch.tensor(cfg["PixelStd"])[:, None, None]
        x = (x - mean) / std
        div = rc["size_divisibility"]
        ph, pw = (h, w) if div <= 1 else (-(-h // div) * div, -(-w // div) * div)
        x = F.pad(x, (0, pw - w, 0, ph - h), value=0.0)[None]
        res4 = self.backbone(x)
        props = self.rpn(self.affine(res4, "affine_rpn"), h, w)
        boxes, scores, classes = self.heads(self.affine(res4, "affine_rcnn"), props, h, w)
        # detector_postprocess: back to the original size, clip, drop empty
        boxes = boxes * torch.tensor([orig_w / w, orig_h / h, orig_w / w, orig_h / h])
        boxes = self.clip(boxes, orig_h, orig_w)
        keep = ((boxes[:, 2] - boxes[:, 0]) > 0) & ((boxes[:, 3] - boxes[:, 1]) > 0)
        return boxes[keep], scores[keep], classes[keep]


def main():
    weights, cfgpath, out = sys.argv[1:4]
    rc = json.load(open(cfgpath))
    model = Model(load_safetensors(weights), rc["model"])
    res = []
    for path in sys.argv[4:]:
        b, s, c = model(read_image(path, rc["model"]["InputFormat"]), rc)
        res.append({"image": path, "boxes": b.tolist(), "scores": s.tolist(), "classes": c.tolist()})
    json.dump(res, open(out, "w"))


main()
