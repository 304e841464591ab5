"""Writes the bad-input corpus: for every user file fsodgpu reads, truncated,
corrupt, hostile, huge-size and wrong-type versions, and cases.json, which
says for each case the command to run (arguments relative to this directory)
and what its error must say. cmd/fsodgpu/corpus_test.go runs every case with
the real CLI: each must exit non-zero, name the file and the problem, never
panic, and stay far below the memory a stated size would need.

    /usr/bin/python3 testdata/bad/make_bad.py testdata/bad

Needs numpy, PIL and torch (Debian: python3-torch). The outputs are small and
committed; rerun only to change the corpus.
"""
import io
import json
import os
import pickle
import shutil
import struct
import sys
import tarfile
import zipfile
import zlib

import numpy as np
import torch
from PIL import Image

OUT = sys.argv[1]
CASES = []


def write(rel, data):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return rel


def case(name, args, *want):
    CASES.append({"name": name, "args": args, "want": list(want)})


def jpeg(w=32, h=24):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    b = io.BytesIO()
    Image.fromarray(a).save(b, "JPEG", quality=90)
    return b.getvalue()


def png_chunk(kind, data):
    c = struct.pack(">I", len(data)) + kind + data
    return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_huge():
    # A valid PNG signature and header stating 100000 x 100000 RGBA pixels
    # (40 GB decoded) with a few bytes of image data.
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b"")


XML = """<annotation><filename>a.jpg</filename><size><width>32</width><height>24</height><depth>3</depth></size>
<object><name>car</name><difficult>0</difficult><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>18</ymax></bndbox></object>
</annotation>
"""
LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<annotation><object><name>&lol3;</name></object></annotation>
"""


def devkit(name, xml=XML, imageset="a\n", image=None, dets="a 0.9 2 3 20 18\n"):
    """A one-image VOC tree under voc/NAME with one change."""
    d = "voc/" + name
    write(d + "/ImageSets/Main/test.txt", imageset)
    write(d + "/Annotations/a.xml", xml)
    write(d + "/JPEGImages/a.jpg", jpeg() if image is None else image)
    write(d + "/classes.txt", "car\ndog\n")
    write(d + "/dets/comp4_det_test_car.txt", dets)
    return d


def voc_cases():
    good = devkit("good")
    del good
    for name, xml, want in [
        ("xml_truncated", XML[: len(XML) // 2], "malformed XML"),
        ("xml_binary", bytes(range(256)) * 4, "malformed XML"),
        ("xml_wrongtype", json.dumps({"annotation": {"object": []}}), "malformed XML"),
        ("xml_hostile_entities", LAUGHS, "malformed XML"),
        ("xml_huge_number", XML.replace("<xmax>20</xmax>", "<xmax>1e999</xmax>"), "is not a number"),
        ("xml_reversed_box", XML.replace("<xmax>20</xmax>", "<xmax>1</xmax>"), "xmin 2 > xmax 1"),
    ]:
        d = devkit(name, xml=xml)
        case("eval voc " + name, ["eval", "voc", "--devkit", d, "--dets", d + "/dets"], d + "/Annotations/a.xml", want)
        case("data check voc " + name, ["data", "check", "--dataset", "voc", "--root", d, "--sets", "test"], d + "/Annotations/a.xml")
    d = devkit("imageset_missing_annotation", imageset="a\nb\n")
    case("eval voc imageset_missing_annotation", ["eval", "voc", "--devkit", d, "--dets", d + "/dets"], d + "/Annotations/b.xml", "missing")
    case("data check voc imageset_missing_annotation", ["data", "check", "--dataset", "voc", "--root", d, "--sets", "test"], "b.xml")
    d = devkit("imageset_binary", imageset=b"\x00\xff\xfe\n\x01\x02")
    case("eval voc imageset_binary", ["eval", "voc", "--devkit", d, "--dets", d + "/dets"], d + "/ImageSets/Main/test.txt", "not a valid image id")
    for name, dets, want in [
        ("dets_truncated", "a 0.9 2 3 20 18\na 0.8 2", "line 2: 3 fields, want 6"),
        ("dets_binary", bytes(range(1, 256)), "fields, want 6"),
        ("dets_huge_number", "a 1e999 2 3 20 18\n", "is not a number"),
        ("dets_wrongtype", json.dumps([{"image_id": "a", "score": 0.9}]), "fields, want 6"),
        ("dets_unknown_image", "zzz 0.9 2 3 20 18\n", "image zzz is not in ImageSets/Main/test.txt"),
    ]:
        d = devkit(name, dets=dets)
        case("eval voc " + name, ["eval", "voc", "--devkit", d, "--dets", d + "/dets"], d + "/dets/comp4_det_test_car.txt", want)
    good_jpeg = jpeg()
    for name, image, want in [
        ("image_cut_scan", good_jpeg[: len(good_jpeg) * 2 // 3], "unreadable image"),
        ("image_truncated_header", good_jpeg[:20], "unreadable image"),
        ("image_empty", b"", "unreadable image"),
        ("image_wrongtype", "this is not an image\n", "unreadable image"),
        ("image_huge_dimensions", png_huge(), "100000x100000"),
    ]:
        d = devkit(name, image=image)
        case("data check voc " + name, ["data", "check", "--dataset", "voc", "--root", d, "--sets", "test"], d + "/JPEGImages/a.jpg", want)
    # K-shot split files of the good tree.
    for name, text, want in [
        ("split_missing_image", "JPEGImages/nothere.jpg\n", "nothere"),
        ("split_binary", bytes(range(1, 256)), "box_1shot_car_train.txt"),
        ("split_wrongtype", json.dumps({"images": ["a.jpg"]}), "box_1shot_car_train.txt"),
        ("split_truncated", "JPEGImages/a.j", "box_1shot_car_train.txt"),
    ]:
        d = devkit(name)
        write(d + "/vocsplit/box_1shot_car_train.txt", text)
        case("data check split " + name, ["data", "check", "--dataset", "voc", "--root", d, "--split-dir", d + "/vocsplit",
                                            "--shots", "1", "--seed", "0", "--classes", "car"], d + "/vocsplit/box_1shot_car_train.txt", want)
    d = devkit("split_absent")
    case("data check split absent", ["data", "check", "--dataset", "voc", "--root", d, "--split-dir", d + "/vocsplit",
                                     "--shots", "1", "--seed", "0", "--classes", "car"], "box_1shot_car_train.txt")


GT = {"images": [{"id": 1, "file_name": "a.jpg", "width": 32, "height": 24}],
      "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [2, 3, 18, 15], "area": 270, "iscrowd": 0}],
      "categories": [{"id": 3, "name": "car"}]}
RES = [{"image_id": 1, "category_id": 3, "bbox": [2, 3, 18, 15], "score": 0.9}]


def coco_cases():
    gt = json.dumps(GT)
    write("coco/images/a.jpg", jpeg())
    good_gt = write("coco/good_gt.json", gt)
    good_res = write("coco/good_results.json", json.dumps(RES))
    deep = "[" * 20000 + "]" * 20000
    for name, text, want in [
        ("gt_truncated", gt[: len(gt) // 2], "gt_truncated.json"),
        ("gt_wrongtype", json.dumps([GT]), "gt_wrongtype.json"),
        ("gt_huge_number", gt.replace("[2, 3, 18, 15]", "[2, 3, 1e999, 15]"), "gt_huge_number.json"),
        ("gt_huge_id", gt.replace('"image_id": 1', '"image_id": 123456789012345678901234567890'), "gt_huge_id.json"),
        ("gt_deep_nesting", '{"images": ' + deep + "}", "gt_deep_nesting.json"),
        ("gt_negative_box", gt.replace("[2, 3, 18, 15]", "[2, 3, -18, 15]"), "gt_negative_box.json"),
        ("gt_binary", bytes(range(256)), "gt_binary.json"),
    ]:
        p = write("coco/" + name + ".json", text)
        case("eval coco " + name, ["eval", "coco", "--gt", p, "--results", good_res], want)
        case("data check coco " + name, ["data", "check", "--dataset", "coco", "--root", p, "--images", "coco/images"], want)
    res = json.dumps(RES)
    for name, text, want in [
        ("results_truncated", res[: len(res) // 2], "results_truncated.json"),
        ("results_wrongtype", json.dumps({"results": RES}), "results_wrongtype.json"),
        ("results_nan", res.replace("0.9", "NaN"), "results_nan.json"),
        ("results_huge_number", res.replace("0.9", "1e999"), "results_huge_number.json"),
        ("results_unknown_image", res.replace('"image_id": 1', '"image_id": 7'), "results_unknown_image.json"),
        ("results_deep_nesting", deep, "results_deep_nesting.json"),
    ]:
        p = write("coco/" + name + ".json", text)
        case("eval coco " + name, ["eval", "coco", "--gt", good_gt, "--results", p], want)
    write("coco/images_bad/a.jpg", jpeg()[:200])
    case("data check coco cut image", ["data", "check", "--dataset", "coco", "--root", good_gt, "--images", "coco/images_bad"],
         "coco/images_bad/a.jpg", "unreadable image")


PLAN = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs", "demo.yaml")).read()


def plan_cases():
    for name, text, want in [
        ("empty", "", "empty plan"),
        ("comment_only", "# nothing\n", "empty plan"),
        ("truncated", PLAN[: len(PLAN) // 3] + "\n  max_iter: [", "truncated.yaml"),
        ("wrongtype", "- 1\n- 2\n", "wrongtype.yaml"),
        ("binary", bytes(range(1, 256)), "binary.yaml"),
        ("huge_number", PLAN.replace("max_iter: 2400", "max_iter: 1e400", 1), "huge_number.yaml"),
        ("hostile_aliases", "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
         "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
         "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n", "hostile_aliases.yaml"),
        ("unknown_key", PLAN.replace("finetune:", "finetune:\n  shotz: [1]", 1), "unknown key \"shotz\""),
        ("two_documents", PLAN + "\n---\nname: again\n", "more than one YAML document"),
    ]:
        p = write("plan/" + name + ".yaml", text)
        case("train plan " + name, ["train", "--config", p, "--out", "$TMP/run", "--quiet"], want)
    p = write("plan/shots_zero.yaml", PLAN.replace("shots: [5]", "shots: [0]").replace("    5: {", "    0: {"))
    case("train plan shots_zero", ["train", "--config", p, "--out", "$TMP/run", "--quiet"], "shots_zero.yaml", "finetune.shots: 0 is not a shot count", "synth")
    p = write("plan/missing_weights.yaml", PLAN.replace("base:\n", "base:\n  weights: plan/nothere.safetensors\n", 1))
    case("train plan missing_weights", ["train", "--config", p, "--out", "$TMP/run", "--quiet"], "base.weights", "nothere.safetensors")


def safetensors_file(header, body=b""):
    h = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(h)) + h + body


def weights_cases():
    st_cases = [
        ("st_truncated", safetensors_file('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', b"\0" * 16)[:30], "st_truncated.safetensors"),
        ("st_huge_header", struct.pack("<Q", 1 << 62) + b"{}", "header length"),
        ("st_header_not_json", safetensors_file("not json at all"), "bad JSON header"),
        ("st_offsets_past_end", safetensors_file('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', b"\0" * 8), "st_offsets_past_end.safetensors"),
        ("st_huge_shape", safetensors_file('{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}', b"\0" * 16), "st_huge_shape.safetensors"),
        ("st_wrongtype", png_huge(), "st_wrongtype.safetensors"),
        ("st_empty", b"", "st_empty.safetensors"),
    ]
    for name, data, want in st_cases:
        p = write("weights/" + name + ".safetensors", data)
        case("detect weights " + name, ["detect", "--weights", p, "--config", "$DEMO_CONFIG", "--out", "$TMP/dets", "voc/good/JPEGImages/a.jpg"], want)

    # .pth: a small state dict in both torch.save formats, then damaged.
    sd = {"conv1.weight": torch.arange(12, dtype=torch.float32).reshape(1, 3, 2, 2)}
    b = io.BytesIO()
    torch.save(sd, b)
    zipped = b.getvalue()
    b = io.BytesIO()
    torch.save(sd, b, _use_new_zipfile_serialization=False)
    legacy = b.getvalue()
    # The legacy stream ends with the storage: an 8-byte element count, then 12 floats.
    assert struct.unpack("<Q", legacy[-56:-48])[0] == 12
    legacy_huge = legacy[:-56] + struct.pack("<Q", 1 << 62) + legacy[-48:]

    # A zip whose data.pkl states a storage of 2^62 floats.
    class Storage:
        pass

    zin = zipfile.ZipFile(io.BytesIO(zipped))
    names = zin.namelist()
    pkl_name = [n for n in names if n.endswith("data.pkl")][0]
    pkl = zin.read(pkl_name)
    # The storage numel (12) is pickled as BININT1 12 right after 'cpu'.
    marker = b"X\x03\x00\x00\x00cpuq"
    i = pkl.index(marker)
    j = pkl.index(b"K\x0c", i)
    huge_pkl = pkl[:j] + b"\x8a\x08" + struct.pack("<Q", 1 << 62) + pkl[j + 2:]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for n in names:
            z.writestr(n, huge_pkl if n == pkl_name else zin.read(n))
    zip_huge = out.getvalue()

    # Good files too: seeds for the fuzz targets (not cases).
    write("weights/good.pth", zipped)
    write("weights/good_legacy.pth", legacy)
    write("weights/good.pkl", pickle.dumps({"blobs": {"conv1_w": np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2)}}, protocol=2))
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as t:
        for n, data in [("sys_info", b"x"), ("pickle", legacy), ("storages", b"\0" * 8), ("tensors", b"\0" * 8)]:
            ti = tarfile.TarInfo(n)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > /tmp/fsodgpu-pwned",))

    hostile = pickle.dumps({"conv1.weight": Evil()}, protocol=2)
    for name, data, want in [
        ("pth_tar_legacy", tar.getvalue(), "tar archive"),
        ("pth_zip_huge_storage", zip_huge, "storage"),
        ("pth_zip_truncated", zipped[: len(zipped) * 2 // 3], "truncated or corrupt zip archive"),
        ("pth_legacy_truncated", legacy[: len(legacy) - 20], "truncated"),
        ("pth_legacy_huge_count", legacy_huge, "storage"),
        ("pth_empty", b"", "empty file"),
        ("pth_wrongtype", png_huge(), "not a PyTorch checkpoint"),
        ("pth_hostile_pickle", hostile, "pth_hostile_pickle.pth"),
    ]:
        p = write("weights/" + name + ".pth", data)
        case("weights import " + name, ["weights", "import", "--from", "torchvision", p, "--out", "$TMP/w.safetensors"], p, want)

    blobs = {"conv1_w": np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2)}
    good = pickle.dumps({"blobs": blobs}, protocol=2)
    huge_bytes = b"\x80\x04\x8e" + struct.pack("<Q", 1 << 62) + b"abc."
    # An ndarray whose shape states far more elements than its bytes hold.
    shape_huge = good.replace(pickle.dumps((1, 3, 2, 2), protocol=2)[2:-3], pickle.dumps((1 << 40, 1 << 40, 2, 2), protocol=2)[2:-3])
    assert shape_huge != good
    for name, data, want in [
        ("pkl_truncated", good[: len(good) // 2], "truncated"),
        ("pkl_huge_bytes", huge_bytes, "truncated or corrupt"),
        ("pkl_huge_shape", shape_huge, "pkl_huge_shape.pkl"),
        ("pkl_hostile", hostile, "pkl_hostile.pkl"),
        ("pkl_wrongtype", "just text\n", "pkl_wrongtype.pkl"),
        ("pkl_empty", b"", "empty file"),
    ]:
        p = write("weights/" + name + ".pkl", data)
        case("weights import " + name, ["weights", "import", "--from", "detectron2", p, "--out", "$TMP/w.safetensors"], p, want)


def main():
    for d in ("voc", "coco", "plan", "weights"):
        shutil.rmtree(os.path.join(OUT, d), ignore_errors=True)
    voc_cases()
    coco_cases()
    plan_cases()
    weights_cases()
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"generator": "make_bad.py", "cases": CASES}, f, indent=1)
        f.write("\n")
    print("%d cases" % len(CASES))


if __name__ == "__main__":
    main()
