# Regenerates the PIL BILINEAR resize references the data package's tests
# compare Image.Resize with (detectron2 resizes with PIL BILINEAR):
#   /usr/bin/python3 testdata/data/resize/make_pil_resize.py testdata/data/resize
import sys

import numpy as np
from PIL import Image

out = sys.argv[1]
src = np.random.default_rng(0).integers(0, 256, size=(23, 37, 3), dtype=np.uint8)
Image.fromarray(src).save(f"{out}/src.png")
for w, h in [(61, 40), (15, 9), (37, 50), (20, 23)]:
    Image.fromarray(src).resize((w, h), Image.BILINEAR).save(f"{out}/pil_{w}x{h}.png")
