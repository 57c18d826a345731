#!/usr/bin/python3
"""make_jpeg_fixtures.py - tiny JPEGs and PIL's decoding of them, for the C JPEG test.

Writes (run from the repository root with /usr/bin/python3; needs PIL + numpy; the committed
files were made with Debian's Pillow 9.4, linked to libjpeg62-turbo 2.1.5):

    python3 tools/make_jpeg_fixtures.py [OUT_DIR]        (default tests/fixtures)

    OUT_DIR/jpeg/*.jpg     the JPEG files (a few hundred bytes each): RGB with 4:2:0, 4:2:2 and
                           4:4:4 chroma subsampling, greyscale, progressive, odd sizes, and
                           one CMYK file (which dann refuses)
    OUT_DIR/jpeg_pil.bin   per file, what PIL makes of it: Image.open(f).convert(MODE) (MODE
                           "L" for greyscale files, "RGB" otherwise) and that image resized to
                           28x28 with Image.BILINEAR (torchvision's Resize(28) on it)

Format of jpeg_pil.bin, integers uint32 little-endian:
    "JPG1"  n_cases
    per case: name_len, name (no NUL), c h w, decoded c*h*w bytes planar (c, h, w),
              resized c*28*28 bytes planar
The CMYK file has no case (it is only checked to be refused). The test
(tests/test_jpeg.c) reports the largest |dann - PIL| over every pixel.
"""
import io
import os
import struct
import sys

import numpy as np
from PIL import Image


def planar(im):
    a = np.asarray(im, dtype=np.uint8)
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return np.ascontiguousarray(a)


def picture(rng, h, w, mode):
    """A smooth gradient with edges and some noise: what photographs and digits mix."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = 128 + 90 * np.sin(x / max(w, 1) * 5.0) * np.cos(y / max(h, 1) * 3.0)
    base[(x > w / 3) & (x < w / 2)] = 240          # a bright bar: sharp edges
    base += rng.normal(0, 12, size=(h, w))
    if mode == "L":
        return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "L")
    rgb = np.stack([base, 255 - base, np.roll(base, w // 3, axis=1)], axis=2)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    jdir = os.path.join(out, "jpeg")
    os.makedirs(jdir, exist_ok=True)
    rng = np.random.default_rng(7)
    cases = [  # name, mode, h, w, save options
        ("rgb420_q90_17x23", "RGB", 17, 23, dict(quality=90, subsampling=2)),
        ("rgb422_q80_20x31", "RGB", 20, 31, dict(quality=80, subsampling=1)),
        ("rgb444_q75_16x16", "RGB", 16, 16, dict(quality=75, subsampling=0)),
        ("grey_q85_13x20", "L", 13, 20, dict(quality=85)),
        ("rgb_progressive_29x31", "RGB", 29, 31, dict(quality=85, progressive=True)),
        ("rgb_q95_48x64", "RGB", 48, 64, dict(quality=95)),
    ]
    parts = [b"JPG1", struct.pack("<I", len(cases))]
    for name, mode, h, w, opts in cases:
        buf = io.BytesIO()
        picture(rng, h, w, mode).save(buf, "JPEG", **opts)
        data = buf.getvalue()
        with open(os.path.join(jdir, name + ".jpg"), "wb") as f:
            f.write(data)
        im = Image.open(io.BytesIO(data)).convert(mode)
        a = planar(im)
        r = planar(im.resize((28, 28), Image.BILINEAR))
        nb = name.encode()
        parts += [struct.pack("<I", len(nb)), nb, struct.pack("<3I", *a.shape), a.tobytes(),
                  r.tobytes()]
    cmyk = picture(rng, 12, 12, "RGB").convert("CMYK")
    cmyk.save(os.path.join(jdir, "cmyk_12x12.jpg"), "JPEG", quality=80)
    with open(os.path.join(out, "jpeg_pil.bin"), "wb") as f:
        f.write(b"".join(parts))


if __name__ == "__main__":
    main()
