#!/bin/sh
# run.sh - builds the data-layer fuzz targets with clang's libFuzzer (+ ASan/UBSan) into
# build-fuzz/ and runs each for SECONDS (default 60) from small generated seeds.
#   fuzz/run.sh [SECONDS] [TARGET...]      TARGET: png jpeg idx mnistm (default: all)
# fuzz/corpus/TARGET, when present, adds committed seeds (jpeg: tiny JPEGs).
# Run from the repository root. Crashes are left as build-fuzz/crash-* files.
set -eu
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-png jpeg idx mnistm}
out=build-fuzz
mkdir -p "$out"
src="src/data/*.c src/core/util.c src/core/rng.c"
flags="-g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Isrc -fsanitize=fuzzer,address,undefined"
# Seeds: tiny PNGs of each colour type, IDX files, an MNIST-M tar (uncompressed, so the fuzzer
# mutates the members' bytes directly).
/usr/bin/python3 - "$out" <<'PY'
import io, os, struct, sys, tarfile, gzip
import numpy as np
from PIL import Image
out = sys.argv[1]
for t in ("png", "jpeg", "idx", "mnistm"):
    os.makedirs(os.path.join(out, "seed-" + t), exist_ok=True)
rng = np.random.default_rng(1)
def png(mode, size):
    shape = (size[1], size[0]) + (() if mode in ("L", "P") else (len(mode),))
    im = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), "L" if mode == "P" else mode)
    if mode == "P":
        im = im.convert("P")
    b = io.BytesIO(); im.save(b, "PNG"); return b.getvalue()
for i, (m, s) in enumerate([("L", (5, 3)), ("LA", (4, 4)), ("RGB", (32, 32)), ("RGBA", (3, 7)), ("P", (6, 2))]):
    open(os.path.join(out, "seed-png", "%d.png" % i), "wb").write(png(m, s))
img = struct.pack(">4I", 0x803, 2, 3, 3) + bytes(range(18))
lab = struct.pack(">2I", 0x801, 3) + bytes([1, 2, 3])
open(os.path.join(out, "seed-idx", "img"), "wb").write(img)
open(os.path.join(out, "seed-idx", "lab"), "wb").write(lab)
open(os.path.join(out, "seed-idx", "img.gz"), "wb").write(gzip.compress(img))
b = io.BytesIO()
with tarfile.open(fileobj=b, mode="w") as tf:
    def add(name, data):
        ti = tarfile.TarInfo(name); ti.size = len(data); tf.addfile(ti, io.BytesIO(data))
    add("mnist_m/mnist_m_train/00000000.png", png("RGB", (32, 32)))
    add("mnist_m/mnist_m_train/00000001.png", png("L", (32, 32)))
    add("mnist_m/mnist_m_train_labels.txt", b"00000001.png 3\r\n00000000.png 7\n")
    add("mnist_m/mnist_m_test_labels.txt", b"00000000.png 1\n")
    add("mnist_m/mnist_m_test/00000000.png", png("RGB", (32, 32)))
open(os.path.join(out, "seed-mnistm", "a.tar"), "wb").write(b.getvalue())
PY
for t in $targets; do
    clang $flags fuzz/fuzz_$t.c $src -lpng -ljpeg -lz -larchive -lm -o "$out/fuzz_$t"
    mkdir -p "$out/corpus-$t"
    seeds="$out/seed-$t"
    [ -d "fuzz/corpus/$t" ] && seeds="$seeds fuzz/corpus/$t"
    "$out/fuzz_$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=1024 \
        -artifact_prefix="$out/" "$out/corpus-$t" $seeds
done
