#!/bin/sh
# make_corpus.sh - (re)writes the committed seed corpus of the fuzz targets, fuzz/corpus/<name>/
# (tiny files; run from the repository root after `make`, or `make fuzz-corpus`). The bytes are
# deterministic: fixed seeds, and the checkpoint/safetensors writers of this build
# (fuzz/make_corpus.c, linked against build/libdann.a).
set -eu
out=fuzz/corpus
for t in png idx mnistm labels ckpt safetensors json args; do
    rm -rf "$out/$t"
    mkdir -p "$out/$t"
done
cc -std=c11 -O1 -fopenmp -Iinclude -Isrc fuzz/make_corpus.c build/libdann.a \
    -L/usr/lib/x86_64-linux-gnu/openblas-openmp -Wl,-rpath,/usr/lib/x86_64-linux-gnu/openblas-openmp \
    -lopenblas -lpng -lz -larchive -lm -o build/make_corpus
build/make_corpus "$out"
/usr/bin/python3 - "$out" <<'PY'
import io, os, struct, sys, tarfile, gzip
import numpy as np
from PIL import Image
out = sys.argv[1]
rng = np.random.default_rng(1)
def w(t, name, data):
    open(os.path.join(out, t, name), "wb").write(data)
def png(mode, size):
    shape = (size[1], size[0]) + (() if mode in ("L", "P") else (len(mode),))
    im = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), "L" if mode == "P" else mode)
    if mode == "P":
        im = im.convert("P")
    b = io.BytesIO(); im.save(b, "PNG"); return b.getvalue()
for i, (m, s) in enumerate([("L", (5, 3)), ("LA", (4, 4)), ("RGB", (8, 8)), ("RGBA", (3, 7)), ("P", (6, 2))]):
    w("png", "%d-%s.png" % (i, m), png(m, s))
im = Image.fromarray(rng.integers(0, 65536, (4, 5), dtype=np.uint16).astype(np.int32), "I")
b = io.BytesIO(); im.save(b, "PNG"); w("png", "5-16bit.png", b.getvalue())
b = io.BytesIO(); Image.fromarray(rng.integers(0, 2, (9, 9), dtype=np.uint8) * 255, "L").convert("1").save(b, "PNG")
w("png", "6-1bit.png", b.getvalue())

img = struct.pack(">4I", 0x803, 2, 3, 3) + bytes(range(18))
lab = struct.pack(">2I", 0x801, 3) + bytes([1, 2, 3])
w("idx", "images", img)
w("idx", "labels", lab)
w("idx", "images.gz", gzip.compress(img, mtime=0))
w("idx", "labels-2members.gz", gzip.compress(lab[:5], mtime=0) + gzip.compress(lab[5:], mtime=0))

def tar(members):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 0
            tf.addfile(ti, io.BytesIO(data))
    return b.getvalue()
p = [png("RGB", (8, 8)), png("L", (8, 8)), png("RGB", (8, 8))]
w("mnistm", "labels-last.tar", tar([
    ("mnist_m/mnist_m_train/00000000.png", p[0]), ("mnist_m/mnist_m_train/00000001.png", p[1]),
    ("mnist_m/mnist_m_train_labels.txt", b"00000001.png 3\r\n00000000.png 7\n"),
    ("mnist_m/mnist_m_test_labels.txt", b"00000000.png 1\n"),
    ("mnist_m/mnist_m_test/00000000.png", p[2])]))
w("mnistm", "labels-first.tar", tar([
    ("mnist_m_train_labels.txt", b"a.png 0\nb.png 9\n"), ("mnist_m_test_labels.txt", b"a.png 1\n"),
    ("mnist_m_train/a.png", p[0]), ("mnist_m_train/b.png", p[2]), ("mnist_m_test/a.png", p[1]),
    ("mnist_m_train/unlisted.png", p[1])]))

w("labels", "crlf", b"00000001.png 3\r\n00000000.png 7\r\n\r\n")
w("labels", "plain", b"00000000.png 5\n00000001.png 0\n00000002.png 4\n")
w("labels", "blanks", b"\n  00000002.png\t9  \n00000000.png 1")

w("json", "run.json", b'{"preset": "py3", "arch": "py3", "mode": "dann", "source": "mnist:data/mnist", '
  b'"target": "mnistm:data/mnist_m", "source_test": "mnist:data/mnist", "target_test": null, '
  b'"epochs": 100, "batch": 128, "seed": 1, "seed_lo": 1, "seed_hi": 0, "max_steps": 0, '
  b'"chunk": 0, "eval_max": 0, "source_val": 0, "lr": 0.001, "patience": 0, "lambda": null, '
  b'"select": "", "select_n": 2000, "average": "ema:0.999", "version": "0.1 \\"q\\" \\u00e9"}\n')
w("json", "run-cwd.json", b'{"preset": "py3", "arch": "py3", "mode": "source-only", '
  b'"source": "mnist:/data/mnist", "target": "", "source_test": "mnist:rel/mnist", '
  b'"target_test": null, "cwd": "/home/u/runs", "threads": 2, "epochs": 3, "batch": 64, '
  b'"seed": 4294967297, "seed_lo": 1, "seed_hi": 1, "max_steps": 100, "chunk": 16, '
  b'"eval_max": 500, "source_val": 1000, "lr": 0.01, "patience": 2, "lambda": 0.1, '
  b'"lambda_max": 1, "gamma": 10, "iters_per_epoch": 50, "source_norm": "auto", '
  b'"target_norm": "auto", "select": "rev", "select_n": 20, "average": "", "version": "0.1"}\n')
w("json", "metrics.jsonl", b'{"epoch": 1, "source_test_acc": 0.9812, "target_test_acc": 0.7012, '
  b'"loss_class": 0.25, "loss_domain": 1.3e-1, "lambda": 0.462, "lr": 0.001, "seconds": 61.5, '
  b'"domain_acc": null, "ok": true}\n{"epoch": 2, "target_test_acc": -1E2, "x": false}\n'
  b'{"epoch": 3, "source_test_acc": 0.5')

def args(*a):
    return b"\0".join(x.encode() for x in a)
w("args", "py3", args("--source", "mnist:data/mnist", "--target", "mnistm:data/mnist_m", "--epochs",
  "3", "--batch=64", "--seed", "18446744073709551615", "--threads", "2", "--out", "run", "--quiet"))
w("args", "paper", args("--preset", "paper", "--mode", "source-only", "--lr", "1e-2", "--lambda", "0.5",
  "--select", "val,rev:100,dev,ent,snd", "--select-n", "500", "--average", "swa:3", "--patience", "4",
  "--source-val", "1000", "--progress", "lines", "--max-steps", "10", "--chunk", "16", "--quiet"))
w("args", "arch", args("--arch", "in 1x12x12; features: conv(4,3,stride=2,pad=1) bn maxpool(2) relu "
  "dropout2d(0.25); class: fc(8) bn relu dropout(0.5) fc(10); domain: fc(8) sigmoid fc(2)",
  "--average=ema:0.99", "--eval-max", "100"))
w("args", "input", args("--arch", "paper-svhn", "--input", "1x32x32", "--resume", "run/last.ckpt",
  "--target-test", "images:x"))
PY
ls -l "$out"/*
