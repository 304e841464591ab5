# Writes the JPEG fixtures the data package compares its PIL-style decoding
# with: photographs (and, small, every EXIF orientation) (Go's own test photo and x/image's yellow rose, both in
# any Go module cache) encoded by PIL at several subsamplings, and PIL's
# decoding of each (what detectron2's read_image sees) as a lossless PNG.
#   /usr/bin/python3 testdata/data/jpeg/make_pil_jpeg.py testdata/data/jpeg GOROOT ROSE_PNG
# With --decode DIR it only writes DIR/x.pil.png beside each DIR/x.jpg
# (for measuring agreement on other images, e.g. the synthetic set).
import glob
import io
import os
import sys

from PIL import Image, ImageOps


def decode(path):
    # detectron2's read_image: PIL open, EXIF orientation, RGB.
    ImageOps.exif_transpose(Image.open(path)).convert("RGB").save(path.rsplit(".", 1)[0] + ".pil.png")


if sys.argv[1] == "--decode":
    for p in sorted(glob.glob(os.path.join(sys.argv[2], "*.jpg"))):
        decode(p)
    sys.exit(0)

out, goroot, rose = sys.argv[1:4]
video = Image.open(os.path.join(goroot, "src/image/testdata/video-001.png")).convert("RGB")
flower = Image.open(rose).convert("RGB")
# Odd sizes exercise the edge columns and rows of the chroma upsampling.
cases = {
    "video420": (video.crop((0, 0, 149, 101)), dict(quality=90, subsampling=2)),
    "video422": (video.crop((0, 0, 147, 103)), dict(quality=90, subsampling=1)),
    "video444": (video, dict(quality=90, subsampling=0)),
    "rose420": (flower.crop((40, 30, 241, 183)), dict(quality=85, subsampling=2)),
    "rose420prog": (flower.crop((100, 60, 287, 221)), dict(quality=85, subsampling=2, progressive=True)),
    "rose422": (flower.crop((10, 10, 175, 141)), dict(quality=95, subsampling=1)),
    "rosegray": (flower.crop((0, 0, 123, 99)).convert("L"), dict(quality=90)),
    "videocmyk": (video.crop((0, 0, 97, 61)).convert("CMYK"), dict(quality=90)),
}
# EXIF orientations 2..8 on a small odd-sized 4:2:0 crop.
for o in range(2, 9):
    exif = Image.Exif()
    exif[0x0112] = o
    cases[f"exif{o}"] = (video.crop((30, 20, 53, 35)), dict(quality=90, subsampling=2, exif=exif.tobytes()))
for name, (im, opts) in cases.items():
    path = os.path.join(out, name + ".jpg")
    im.save(path, "JPEG", **opts)
    decode(path)
