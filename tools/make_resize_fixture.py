#!/usr/bin/python3
"""make_resize_fixture.py - PIL's bilinear resize outputs for the C resize test.

Writes tests/fixtures/resize_cases.bin (run from the repository root with /usr/bin/python3,
needs PIL + numpy; the committed file was made with Pillow 9.4):

    python3 tools/make_resize_fixture.py [OUT_DIR] [MNIST_M_TAR_GZ]

Each case is an input image and what Image.resize((ow, oh), Image.BILINEAR) makes of it - the
call torchvision's Resize performs on PIL images. Cases: random noise (worst case for
rounding), a 0/255 checkerboard, RGB and grey, shrinking (antialiased path, up to a factor of
~13), growing, one axis only, and - when the MNIST-M tarball is present - two real MNIST-M PNGs
stored as their original file bytes plus PIL's decoded pixels, so the test checks png_decode
too.

Format, all integers uint32 little-endian:
    "RSZ1"  n_cases
    per case: kind (0 raw, 1 png)  c h w oh ow
              [kind 1: png_len, png bytes]
              input  c*h*w bytes planar (c, h, w)
              output c*oh*ow bytes planar (c, oh, ow)
"""
import io
import os
import struct
import sys
import tarfile

import numpy as np
from PIL import Image


def planar(im):
    a = np.asarray(im, dtype=np.uint8)
    if a.ndim == 2:
        a = a[None]
    else:
        a = a.transpose(2, 0, 1)
    return np.ascontiguousarray(a)


def case(out, im, oh, ow, png=None):
    a = planar(im)
    r = planar(im.resize((ow, oh), Image.BILINEAR))
    c, h, w = a.shape
    assert r.shape == (c, oh, ow)
    out.append(struct.pack("<6I", 1 if png is not None else 0, c, h, w, oh, ow))
    if png is not None:
        out.append(struct.pack("<I", len(png)))
        out.append(png)
    out.append(a.tobytes())
    out.append(r.tobytes())


def noise(rng, mode, h, w):
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    tar_path = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/mnist_m/mnist_m.tar.gz"
    rng = np.random.default_rng(20240611)
    parts, n = [], 0
    specs = [  # mode, h, w, oh, ow
        ("RGB", 32, 32, 28, 28),  # MNIST-M -> 28: the reference's Resize(28)
        ("L", 32, 32, 28, 28),
        ("RGB", 17, 23, 28, 28),  # growing
        ("L", 30, 40, 28, 28),    # mixed
        ("L", 40, 30, 28, 28),
        ("RGB", 28, 35, 28, 28),  # horizontal pass only
        ("L", 35, 28, 28, 28),    # vertical pass only
        ("L", 90, 100, 7, 9),     # strong shrink: wide antialiasing support
        ("RGB", 5, 3, 11, 2),     # tiny, mixed
        ("L", 1, 1, 3, 4),
    ]
    for mode, h, w, oh, ow in specs:
        case(parts, noise(rng, mode, h, w), oh, ow)
        n += 1
    board = ((np.indices((32, 32)).sum(0) % 2) * 255).astype(np.uint8)
    case(parts, Image.fromarray(board, "L"), 28, 28)
    case(parts, Image.fromarray(board, "L"), 13, 19)
    n += 2
    if os.path.exists(tar_path):
        with tarfile.open(tar_path, "r:gz") as tf:
            for name in ("mnist_m/mnist_m_test/00000000.png", "mnist_m/mnist_m_test/00000001.png"):
                png = tf.extractfile(name).read()
                im = Image.open(io.BytesIO(png))
                im.load()
                assert im.mode == "RGB" and im.size == (32, 32), (im.mode, im.size)
                case(parts, im, 28, 28, png=png)
                n += 1
    else:
        print("note: %s not found, no real MNIST-M cases" % tar_path, file=sys.stderr)
    blob = b"RSZ1" + struct.pack("<I", n) + b"".join(parts)
    path = os.path.join(out_dir, "resize_cases.bin")
    with open(path, "wb") as f:
        f.write(blob)
    print("wrote %s: %d cases, %d bytes" % (path, n, len(blob)))


if __name__ == "__main__":
    main()
