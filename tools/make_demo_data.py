#!/usr/bin/python3
"""make_demo_data.py - builds data/demo/, the small MNIST -> MNIST-M sample `dann demo` embeds.

Usage: /usr/bin/python3 tools/make_demo_data.py [--data ../shared/data] [--out data/demo]

The selection is fixed (numpy RandomState(SEED)), and the output is byte-for-byte reproducible
(gzip and tar timestamps are zero), so re-running the script changes nothing:
  - MNIST-M train: N_TGT_TRAIN images drawn from the 59001 (used unlabelled by DANN);
  - MNIST train:   N_SRC_TRAIN images drawn from the MNIST train images whose index was NOT
                   drawn for MNIST-M (MNIST-M train image k is made from MNIST train image k,
                   so the two domains never share a digit drawing);
  - MNIST-M test:  N_TGT_TEST of the 9001; MNIST test: N_SRC_TEST of the other MNIST test images.
Indices are kept in increasing order. Output (readable by the ordinary `dann` readers):
  data/demo/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz   mnist:data/demo/mnist
  data/demo/mnist_m.tar.gz                                         mnistm:data/demo/mnist_m.tar.gz
The archive has the distributed layout (mnist_m/mnist_m_train/NAME.png, ..._labels.txt, original
file names), except that each PNG is stored already resized to 28x28 with PIL's bilinear filter
(what the loader would do to the 32x32 originals; resizing 28x28 to 28x28 is the identity), which
makes the files about 20% smaller. Total size is about 3.8 MB.
"""
import argparse
import gzip
import io
import os
import struct
import sys
import tarfile

import numpy as np
from PIL import Image

SEED = 20150601
N_SRC_TRAIN, N_SRC_TEST = 2500, 1000
N_TGT_TRAIN, N_TGT_TEST = 1000, 1000
N_MNIST_TRAIN, N_MNIST_TEST = 60000, 10000
N_MNISTM_TRAIN, N_MNISTM_TEST = 59001, 9001


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)


def write_idx_gz(path, arr, magic):
    head = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
            f.write(head + np.ascontiguousarray(arr, dtype=np.uint8).tobytes())


def pick(rng, pool, n):
    return np.sort(rng.choice(pool, size=n, replace=False))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="data/demo")
    a = ap.parse_args()
    rng = np.random.RandomState(SEED)
    tgt_train = pick(rng, np.arange(N_MNISTM_TRAIN), N_TGT_TRAIN)
    tgt_test = pick(rng, np.arange(N_MNISTM_TEST), N_TGT_TEST)
    src_train = pick(rng, np.setdiff1d(np.arange(N_MNIST_TRAIN), tgt_train), N_SRC_TRAIN)
    src_test = pick(rng, np.setdiff1d(np.arange(N_MNIST_TEST), tgt_test), N_SRC_TEST)

    os.makedirs(os.path.join(a.out, "mnist"), exist_ok=True)
    for split, pre, idx in (("train", "train", src_train), ("test", "t10k", src_test)):
        x = read_idx(os.path.join(a.data, "mnist", f"{pre}-images-idx3-ubyte.gz"))
        y = read_idx(os.path.join(a.data, "mnist", f"{pre}-labels-idx1-ubyte.gz"))
        write_idx_gz(os.path.join(a.out, "mnist", f"{pre}-images-idx3-ubyte.gz"), x[idx], 0x803)
        write_idx_gz(os.path.join(a.out, "mnist", f"{pre}-labels-idx1-ubyte.gz"), y[idx], 0x801)

    want = {"train": {f"{i:08d}.png" for i in tgt_train}, "test": {f"{i:08d}.png" for i in tgt_test}}
    pngs = {"train": {}, "test": {}}
    labels = {}
    with tarfile.open(os.path.join(a.data, "mnist_m", "mnist_m.tar.gz"), "r:gz") as tf:
        for m in tf:
            if not m.isfile():
                continue
            parts = m.name.split("/")
            base, parent = parts[-1], parts[-2]
            if base in ("mnist_m_train_labels.txt", "mnist_m_test_labels.txt"):
                split = "train" if "train" in base else "test"
                labels[split] = dict(ln.split() for ln in tf.extractfile(m).read().decode().splitlines() if ln.strip())
            elif parent in ("mnist_m_train", "mnist_m_test"):
                split = parent[len("mnist_m_"):]
                if base in want[split]:
                    im = Image.open(io.BytesIO(tf.extractfile(m).read())).convert("RGB")
                    if im.size != (28, 28):
                        im = im.resize((28, 28), Image.BILINEAR)
                    bio = io.BytesIO()
                    im.save(bio, "PNG", optimize=True)
                    pngs[split][base] = bio.getvalue()

    def add(tf, name, data):
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime, ti.mode, ti.uid, ti.gid, ti.uname, ti.gname = len(data), 0, 0o644, 0, 0, "", ""
        tf.addfile(ti, io.BytesIO(data))

    out = os.path.join(a.out, "mnist_m.tar.gz")
    with open(out, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tf:
                for split in ("train", "test"):
                    names = sorted(want[split])
                    missing = [n for n in names if n not in pngs[split]]
                    if missing:
                        sys.exit(f"{out}: {len(missing)} {split} images missing in the source archive")
                    text = "".join(f"{n} {labels[split][n]}\n" for n in names)
                    add(tf, f"mnist_m/mnist_m_{split}_labels.txt", text.encode())
                    for n in names:
                        add(tf, f"mnist_m/mnist_m_{split}/{n}", pngs[split][n])
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(a.out) for f in fs)
    print(f"{a.out}: mnist train {N_SRC_TRAIN} test {N_SRC_TEST}, mnist-m train {N_TGT_TRAIN} "
          f"test {N_TGT_TEST}; {total} bytes")


if __name__ == "__main__":
    main()
